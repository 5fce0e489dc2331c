//! Configuration errors: every problem names the file, the place in it and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// Whether a problem stops the gateway from starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration cannot be served.
    Error,
    /// The configuration is served, but probably does not do what its author meant.
    Warning,
}

/// One problem found in a configuration or OpenAPI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file: a JSON pointer (`/paths/~1pets/get/...`) or `line L, column C`.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    /// A new error at `location` in `file`.
    pub fn new(file: &Path, location: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            severity: Severity::Error,
            file: file.to_path_buf(),
            location: location.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what to do.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Makes it a warning.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{kind}: {}", self.file.display())?;
        if !self.location.is_empty() {
            write!(f, ": {}", self.location)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in one load, errors and warnings.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<ConfigError>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|e| e.severity == Severity::Error)
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Escapes one JSON-pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
