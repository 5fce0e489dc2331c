//! `tollgate render`: render one template against a request description, as the gateway would.

use std::path::Path;
use std::process::ExitCode;

/// Renders `template` with the request described in `request` (the conformance-case shape),
/// printing exactly the rendered text to stdout.
pub fn run(template: &Path, request: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "tollgate render is not available yet ({} with {})",
        template.display(),
        request.display()
    )
}
