//! The character-level scanner under the parser.
//!
//! VTL is lexed in two modes: template text (where only `$`, `#` and `\` are special) and
//! expressions inside directive parentheses, method arguments and index brackets. The
//! parser drives the mode; this module gives it a cursor over the source and the
//! expression tokens. Velocity's whitespace rules live here too, because in Velocity 1.7
//! they are properties of tokens (`#set` swallows the blanks before it when they begin a
//! token, `)` of a directive and `#else`/`#end` swallow blanks and one newline after them).

/// A cursor over the template source (byte offsets; the source is UTF-8 and every
/// special character is ASCII, so byte scanning never splits a character).
#[derive(Debug, Clone)]
pub struct Cursor<'s> {
    pub src: &'s str,
    pub pos: usize,
}

/// An expression-mode token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `$` — the parser reads the reference itself.
    Dollar,
    Str {
        text: String,
        double: bool,
        start: usize,
    },
    Int(i64),
    Float(f64),
    Word(String),
    Punct(&'static str),
    Eof,
}

const PUNCTS: [&str; 25] = [
    "..", "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", "{", "}", ",", ":", "=", "<",
    ">", "+", "-", "*", "/", "%", "!", ".",
];

pub fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Velocity 1.7 identifiers may contain `-` (`$a-b` is one name).
pub fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl<'s> Cursor<'s> {
    pub fn new(src: &'s str) -> Self {
        Cursor { src, pos: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + n).copied()
    }

    pub fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    pub fn eat(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces, tabs and newlines (expression mode).
    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Swallows `[ \t]*` and one newline if a newline follows the blanks; Velocity 1.7 does
    /// this after a directive's `)`, `#else` and `#end` (verified against velocity-1.7.jar).
    pub fn eat_blank_line_end(&mut self) {
        let mut p = self.pos;
        let b = self.src.as_bytes();
        while p < b.len() && (b[p] == b' ' || b[p] == b'\t') {
            p += 1;
        }
        if b.get(p) == Some(&b'\n') {
            self.pos = p + 1;
        } else if b.get(p) == Some(&b'\r') {
            self.pos = if b.get(p + 1) == Some(&b'\n') {
                p + 2
            } else {
                p + 1
            };
        }
    }

    /// An identifier at the cursor (without consuming anything if there is none).
    pub fn ident(&mut self) -> Option<&'s str> {
        let b = self.src.as_bytes();
        if !b.get(self.pos).copied().is_some_and(is_ident_start) {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos + 1;
        while p < b.len() && is_ident_char(b[p]) {
            p += 1;
        }
        self.pos = p;
        self.src.get(start..p)
    }

    /// The next expression token (after skipping whitespace).
    pub fn token(&mut self) -> Result<Tok, (String, usize)> {
        self.skip_ws();
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Ok(Tok::Eof);
        };
        match b {
            b'$' => {
                self.pos += 1;
                Ok(Tok::Dollar)
            }
            b'"' | b'\'' => self.string(b).map(|(text, content)| Tok::Str {
                text,
                double: b == b'"',
                start: content,
            }),
            b'0'..=b'9' => Ok(self.number()),
            _ if is_ident_start(b) => {
                // Words in expressions are keywords (true, in, and, eq ...): no hyphens.
                let b = self.src.as_bytes();
                let mut p = self.pos;
                while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_') {
                    p += 1;
                }
                let w = self.src.get(self.pos..p).unwrap_or("").to_owned();
                self.pos = p;
                Ok(Tok::Word(w))
            }
            _ => {
                for p in PUNCTS {
                    if self.eat(p) {
                        return Ok(Tok::Punct(p));
                    }
                }
                let ch = self.rest().chars().next().unwrap_or('?');
                Err((format!("unexpected character '{ch}'"), start))
            }
        }
    }

    /// Peeks the next token without consuming it.
    pub fn peek_token(&mut self) -> Result<Tok, (String, usize)> {
        let save = self.pos;
        let t = self.token();
        self.pos = save;
        t
    }

    fn number(&mut self) -> Tok {
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut p = self.pos;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        // `1..5` is a range, not the float `1.`.
        let is_float = b.get(p) == Some(&b'.') && b.get(p + 1).is_some_and(u8::is_ascii_digit);
        if is_float {
            p += 1;
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
        }
        // Velocity 1.7 also reads an exponent: `1.0E10`.
        let mut is_float = is_float;
        if matches!(b.get(p), Some(b'e' | b'E')) {
            let mut q = p + 1;
            if matches!(b.get(q), Some(b'+' | b'-')) {
                q += 1;
            }
            if b.get(q).is_some_and(u8::is_ascii_digit) {
                while q < b.len() && b[q].is_ascii_digit() {
                    q += 1;
                }
                p = q;
                is_float = true;
            }
        }
        self.pos = p;
        let text = self.src.get(start..p).unwrap_or("0");
        if is_float {
            Tok::Float(text.parse().unwrap_or(0.0))
        } else {
            match text.parse::<i64>() {
                Ok(i) => Tok::Int(i),
                Err(_) => Tok::Float(text.parse().unwrap_or(f64::MAX)),
            }
        }
    }

    /// A quoted string literal; returns its raw content and the content's start offset.
    /// A backslash keeps the next character in the literal (so `\"` does not end it).
    pub fn string(&mut self, quote: u8) -> Result<(String, usize), (String, usize)> {
        let start = self.pos;
        self.pos += 1;
        let content_start = self.pos;
        let b = self.src.as_bytes();
        let mut p = self.pos;
        while p < b.len() {
            if b[p] == quote {
                let text = self.src.get(content_start..p).unwrap_or("").to_owned();
                self.pos = p + 1;
                return Ok((text, content_start));
            }
            if b[p] == b'\\' {
                p += 1;
            }
            p += 1;
        }
        Err(("unterminated string literal".to_owned(), start))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let mut c = Cursor::new(" $a == 'x' && 1..3 >= 2.5 ");
        let mut toks = Vec::new();
        loop {
            let t = c.token().unwrap();
            if t == Tok::Eof {
                break;
            }
            toks.push(t);
        }
        assert_eq!(
            toks,
            vec![
                Tok::Dollar,
                Tok::Word("a".into()),
                Tok::Punct("=="),
                Tok::Str {
                    text: "x".into(),
                    double: false,
                    start: 8
                },
                Tok::Punct("&&"),
                Tok::Int(1),
                Tok::Punct(".."),
                Tok::Int(3),
                Tok::Punct(">="),
                Tok::Float(2.5),
            ]
        );
    }

    #[test]
    fn blank_line_end() {
        let mut c = Cursor::new("  \t\r\nx");
        c.eat_blank_line_end();
        assert_eq!(c.rest(), "x");
        let mut c = Cursor::new("  x\n");
        c.eat_blank_line_end();
        assert_eq!(c.rest(), "  x\n");
    }

    #[test]
    fn unterminated_string() {
        let mut c = Cursor::new("'abc");
        assert!(c.token().is_err());
    }
}
