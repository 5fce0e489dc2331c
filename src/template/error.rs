//! `TemplateError`: what went wrong in a mapping template, and where.
//!
//! Compile errors carry the line and column of the offending token and the text of that
//! line, so `tollgate render` and config validation can print the line with a caret under
//! the column. Render errors (a budget ran out) carry no location: they are a property of
//! the template and the data together, not of one token.

use std::fmt;

/// What kind of failure a [`TemplateError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source does not follow the VTL grammar (unclosed `#if`, bad expression, ...).
    Syntax,
    /// The source is larger than [`super::MAX_TEMPLATE_BYTES`] (API Gateway's 300 KB limit).
    TooLarge,
    /// Nesting (blocks, expressions, macro expansion) is deeper than the parser allows.
    TooDeep,
    /// Rendering ran out of its instruction budget (a hostile or runaway template).
    FuelExhausted,
    /// The rendered output (or a string built while rendering) passed the output cap.
    OutputTooLarge,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::TooLarge => "template too large",
            ErrorKind::TooDeep => "nesting too deep",
            ErrorKind::FuelExhausted => "instruction budget exhausted",
            ErrorKind::OutputTooLarge => "output too large",
        }
    }
}

/// A compile or render failure. `line` and `column` are 1-based; 0 means "no location".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub kind: ErrorKind,
    pub message: String,
    pub line: u32,
    pub column: u32,
    /// The source line the error points into (without its newline); empty without a location.
    pub source_line: String,
}

impl TemplateError {
    /// An error at byte `offset` of `source`.
    pub(crate) fn at(
        kind: ErrorKind,
        message: impl Into<String>,
        source: &str,
        offset: usize,
    ) -> Self {
        let offset = offset.min(source.len());
        let before = &source.as_bytes()[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |p| line_start + p);
        let column = source
            .get(line_start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        TemplateError {
            kind,
            message: message.into(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            source_line: source[line_start..line_end]
                .trim_end_matches('\r')
                .to_owned(),
        }
    }

    /// An error with no source location (render budgets).
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TemplateError {
            kind,
            message: message.into(),
            line: 0,
            column: 0,
            source_line: String::new(),
        }
    }

    /// The error, then the source line and a caret under the column, as `tollgate render`
    /// prints it.
    pub fn with_caret(&self) -> String {
        if self.line == 0 {
            return self.to_string();
        }
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{self}\n{}\n{pad}^", self.source_line)
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.kind.as_str(), self.message)
        } else {
            write!(
                f,
                "{} at line {}, column {}: {}",
                self.kind.as_str(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for TemplateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_and_caret() {
        let src = "ab\n  #if(\nzz";
        let e = TemplateError::at(ErrorKind::Syntax, "expected ')'", src, 8);
        assert_eq!((e.line, e.column), (2, 6));
        assert_eq!(e.source_line, "  #if(");
        assert_eq!(
            e.with_caret(),
            "syntax error at line 2, column 6: expected ')'\n  #if(\n     ^"
        );
    }
}
