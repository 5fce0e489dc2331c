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
            // serde_json's text ends in " at line L column C"; the location says that already.
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            ConfigError::new(
                path,
                format!("line {}, column {}", e.line(), e.column()),
                format!("invalid JSON: {msg}"),
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
    let first = strip_position_prefix(msg.lines().next().unwrap_or("invalid YAML")).to_string();
    ConfigError::new(path, location, first)
        .hint("fix the YAML at that position (see docs/configuration.md)")
}

/// serde-saphyr's message starts `error: line L column C: `, which the location already says;
/// without it a problem reads `line 7, column 4: did not find ...` instead of naming the
/// position twice.
fn strip_position_prefix(msg: &str) -> &str {
    let m = msg.strip_prefix("error: ").unwrap_or(msg);
    let Some(rest) = m.strip_prefix("line ") else {
        return m;
    };
    let Some((pos, tail)) = rest.split_once(": ") else {
        return m;
    };
    let positional = pos.split_once(" column ").is_some_and(|(l, c)| {
        !l.is_empty() && !c.is_empty() && l.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit())
    });
    if positional { tail } else { m }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn yaml_position_prefix_is_stripped_once() {
        assert_eq!(
            strip_position_prefix("error: line 7 column 4: did not find '-'"),
            "did not find '-'"
        );
        assert_eq!(
            strip_position_prefix("line 2 column 1: unknown field `x`"),
            "unknown field `x`"
        );
        assert_eq!(
            strip_position_prefix("error: line of text: kept"),
            "line of text: kept"
        );
        assert_eq!(strip_position_prefix("no position"), "no position");
    }

    #[test]
    fn json_errors_name_the_position_once() {
        let e = parse_value(Path::new("x.json"), "{\"a\": 1,}").unwrap_err();
        assert_eq!(e.location, "line 1, column 9");
        assert_eq!(e.message, "invalid JSON: trailing comma");
    }
}
