//! Reading files: YAML or JSON to a value tree, with line and column on syntax errors.

use std::path::Path;

use super::error::ConfigError;

/// The largest file we read (AWS: an API definition may be at most 6 MB).
pub const MAX_FILE_BYTES: u64 = 6 * 1024 * 1024;

/// Reads a file as text, with a clear error.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::new(path, "", format!("cannot read the file: {e}"))
            .hint("check the path; relative paths in a gateway config are relative to that file")
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ConfigError::new(
            path,
            "",
            format!("the file is {} bytes, over the 6 MB limit", meta.len()),
        )
        .hint("split the API or remove unused definitions"));
    }
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, "", format!("cannot read the file as UTF-8 text: {e}")))
}

/// Whether a file should be parsed as JSON (by extension, else by its first character).
pub fn looks_like_json(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("yaml") | Some("yml") => false,
        _ => text.trim_start().starts_with('{'),
    }
}

/// Parses JSON or YAML text into a value tree.
pub fn parse_value(path: &Path, text: &str) -> Result<serde_json::Value, ConfigError> {
    if looks_like_json(path, text) {
        serde_json::from_str(text).map_err(|e| {
            ConfigError::new(
                path,
                format!("line {}, column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
            .hint("fix the JSON syntax at that position")
        })
    } else {
        serde_saphyr::from_str(text).map_err(|e| yaml_error(path, &e))
    }
}

/// A YAML error with its position.
pub fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> ConfigError {
    let location = e
        .location()
        .map(|l| format!("line {}, column {}", l.line(), l.column()))
        .unwrap_or_default();
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("invalid YAML").to_string();
    ConfigError::new(path, location, first)
        .hint("fix the YAML at that position (see docs/configuration.md)")
}
