//! VTL source → [`ast`](super::ast) nodes.
//!
//! A recursive-descent parser over the [`Cursor`]. Template text and expressions are two
//! modes of one scanner; the parser switches between them. Whitespace handling follows
//! Velocity 1.7 exactly (checked against velocity-1.7.jar, see `docs/compatibility.md`):
//! blanks before `#set` vanish when they start a token, and `)` of a directive, `#else`
//! and `#end` swallow the blanks and the newline that end their line.
//! Recursion is bounded by [`MAX_DEPTH`] so a hostile template cannot overflow the stack.

use std::collections::HashMap;

use super::ast::{Accessor, BinOp, Expr, Macro, Node, Reference, Span};
use super::error::{ErrorKind, TemplateError};
use super::lexer::{Cursor, Tok, is_ident_start};

/// Deepest nesting of blocks, expressions and string interpolations together.
pub const MAX_DEPTH: u32 = 64;

/// Most parameters a `#macro` may declare or a call may pass.
const MAX_MACRO_ARGS: usize = 32;

/// The parse result: top-level nodes and the macros the template defines.
#[derive(Debug, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    pub macros: HashMap<String, Macro>,
}

/// How a block ended.
enum End {
    Eof,
    Close,
    Else,
    ElseIf(Expr),
}

pub struct Parser<'s> {
    c: Cursor<'s>,
    full: &'s str,
    macros: HashMap<String, Macro>,
}

type PResult<T> = Result<T, TemplateError>;

/// Parses a whole template.
pub fn parse(src: &str) -> PResult<Parsed> {
    let mut p = Parser {
        c: Cursor::new(src),
        full: src,
        macros: HashMap::new(),
    };
    let (nodes, end) = p.block(0)?;
    match end {
        End::Eof => Ok(Parsed {
            nodes,
            macros: p.macros,
        }),
        _ => Err(p.err(
            "#end, #else or #elseif without an open #if or #foreach",
            p.c.pos,
        )),
    }
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: u32::try_from(start).unwrap_or(u32::MAX),
        end: u32::try_from(end).unwrap_or(u32::MAX),
    }
}

impl<'s> Parser<'s> {
    fn err(&self, msg: impl Into<String>, at: usize) -> TemplateError {
        TemplateError::at(ErrorKind::Syntax, msg, self.full, at)
    }

    fn deeper(&self, depth: u32) -> PResult<u32> {
        if depth >= MAX_DEPTH {
            Err(TemplateError::at(
                ErrorKind::TooDeep,
                format!("nesting deeper than {MAX_DEPTH}"),
                self.full,
                self.c.pos,
            ))
        } else {
            Ok(depth + 1)
        }
    }

    /// Parses template text until EOF or a block terminator.
    fn block(&mut self, depth: u32) -> PResult<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        let mut text_start = self.c.pos;
        // Whether `text_start` is a token boundary (so blanks there belong to a `#set`).
        let mut boundary = true;
        macro_rules! flush {
            ($upto:expr) => {
                if $upto > text_start {
                    nodes.push(Node::Text(span(text_start, $upto)));
                }
            };
        }
        while let Some(b) = self.c.peek() {
            match b {
                b'\\' => {
                    let start = self.c.pos;
                    let mut n = 0usize;
                    while self.c.peek_at(n) == Some(b'\\') {
                        n += 1;
                    }
                    let after = start + n;
                    let next = self.c.src.as_bytes().get(after).copied();
                    let next2 = self.c.src.as_bytes().get(after + 1).copied();
                    let escapes_ref = next == Some(b'$')
                        && (next2.is_some_and(is_ident_start)
                            || matches!(next2, Some(b'!' | b'{')));
                    let escapes_directive = next == Some(b'#')
                        && next2.is_some_and(|c| c.is_ascii_alphabetic() || c == b'{');
                    if escapes_ref {
                        flush!(start);
                        self.c.pos = after;
                        let save = self.c.pos;
                        match self.try_reference(depth)? {
                            Some(r) => {
                                let end = self.c.pos;
                                nodes.push(Node::Ref {
                                    reference: r,
                                    escapes: n as u32,
                                    source: span(save, end),
                                });
                            }
                            None => {
                                self.c.pos = after + 1;
                                nodes.push(Node::Text(span(start, after + 1)));
                            }
                        }
                        text_start = self.c.pos;
                        boundary = true;
                    } else if escapes_directive && self.directive_word_at(after).is_some() {
                        flush!(start);
                        nodes.push(Node::Literal("\\".repeat(n / 2)));
                        if n % 2 == 1 {
                            // `\#set` prints `#set` literally; the rest is plain text.
                            self.c.pos = after + 1;
                            nodes.push(Node::Literal("#".to_owned()));
                            text_start = self.c.pos;
                            boundary = false;
                        } else {
                            self.c.pos = after;
                            text_start = self.c.pos;
                            boundary = true;
                        }
                    } else {
                        self.c.pos = after;
                    }
                }
                b'$' => {
                    let start = self.c.pos;
                    self.c.pos += 1;
                    let save = self.c.pos;
                    self.c.pos = start;
                    match self.try_reference(depth)? {
                        Some(r) => {
                            flush!(start);
                            let end = self.c.pos;
                            nodes.push(Node::Ref {
                                reference: r,
                                escapes: 0,
                                source: span(start, end),
                            });
                            text_start = end;
                            boundary = true;
                        }
                        None => {
                            // A lone `$` is text, but ends a token (velocity-1.7: `a$  #set` loses the blanks).
                            self.c.pos = save;
                            flush!(self.c.pos);
                            text_start = self.c.pos;
                            boundary = true;
                        }
                    }
                }
                b'#' => {
                    let start = self.c.pos;
                    if self.c.starts_with("##") {
                        flush!(start);
                        match self.c.rest().find('\n') {
                            Some(i) => self.c.pos += i + 1,
                            None => self.c.pos = self.c.src.len(),
                        }
                        text_start = self.c.pos;
                        boundary = true;
                        continue;
                    }
                    if self.c.starts_with("#*") {
                        flush!(start);
                        match self.c.rest()[2..].find("*#") {
                            Some(i) => self.c.pos += 2 + i + 2,
                            None => return Err(self.err("unterminated #* comment", start)),
                        }
                        text_start = self.c.pos;
                        boundary = true;
                        continue;
                    }
                    if self.c.starts_with("#[[") {
                        flush!(start);
                        let body = start + 3;
                        match self.c.rest()[3..].find("]]#") {
                            Some(i) => {
                                nodes.push(Node::Text(span(body, body + i)));
                                self.c.pos = body + i + 3;
                            }
                            None => return Err(self.err("unterminated #[[ block", start)),
                        }
                        text_start = self.c.pos;
                        boundary = true;
                        continue;
                    }
                    let Some((word, braced, word_end)) = self.directive_word_at(start) else {
                        self.c.pos += 1;
                        flush!(self.c.pos);
                        text_start = self.c.pos;
                        boundary = true;
                        continue;
                    };
                    let word = word.to_owned();
                    match word.as_str() {
                        "set" => {
                            // Blanks that begin a token belong to the #set (velocity-1.7 SET_DIRECTIVE).
                            let mut keep_to = start;
                            if boundary {
                                let pre = &self.c.src[text_start..start];
                                if pre.bytes().all(|b| b == b' ' || b == b'\t') {
                                    keep_to = text_start;
                                }
                            }
                            flush!(keep_to);
                            self.c.pos = word_end;
                            let node = self.set_directive(depth, start)?;
                            nodes.push(node);
                        }
                        "if" => {
                            flush!(start);
                            self.c.pos = word_end;
                            let node = self.if_directive(depth, start)?;
                            nodes.push(node);
                        }
                        "foreach" => {
                            flush!(start);
                            self.c.pos = word_end;
                            let node = self.foreach_directive(depth, start)?;
                            nodes.push(node);
                        }
                        "elseif" => {
                            flush!(start);
                            self.c.pos = word_end;
                            let cond = self.paren_expr(depth, start)?;
                            self.c.eat_blank_line_end();
                            return Ok((nodes, End::ElseIf(cond)));
                        }
                        "else" | "end" => {
                            flush!(start);
                            self.c.pos = word_end;
                            let _ = braced;
                            self.c.eat_blank_line_end();
                            return Ok((
                                nodes,
                                if word == "else" {
                                    End::Else
                                } else {
                                    End::Close
                                },
                            ));
                        }
                        "break" => {
                            flush!(start);
                            self.c.pos = word_end;
                            nodes.push(Node::Break);
                        }
                        "stop" => {
                            flush!(start);
                            self.c.pos = word_end;
                            nodes.push(Node::Stop);
                        }
                        "macro" => {
                            flush!(start);
                            self.c.pos = word_end;
                            self.macro_directive(depth, start)?;
                        }
                        name if self.macros.contains_key(name) && self.paren_follows(word_end) => {
                            flush!(start);
                            self.c.pos = word_end;
                            let args = self.macro_args(depth, start)?;
                            self.c.eat_blank_line_end();
                            nodes.push(Node::MacroCall {
                                name: word.clone(),
                                args,
                                span: span(start, self.c.pos),
                            });
                        }
                        _ => {
                            // Unknown directive: the `#` is text (Velocity prints it as written).
                            self.c.pos += 1;
                            flush!(self.c.pos);
                            text_start = self.c.pos;
                            boundary = true;
                            continue;
                        }
                    }
                    text_start = self.c.pos;
                    boundary = true;
                }
                _ => {
                    // Plain text up to the next special character.
                    let rest = self.c.rest().as_bytes();
                    let n = rest
                        .iter()
                        .position(|&c| matches!(c, b'$' | b'#' | b'\\'))
                        .unwrap_or(rest.len());
                    self.c.pos += n.max(1);
                    if boundary && !rest[..n].iter().all(|&c| c == b' ' || c == b'\t') {
                        boundary = false;
                    }
                }
            }
        }
        flush!(self.c.pos);
        Ok((nodes, End::Eof))
    }

    /// `#word` or `#{word}` at `at`: the word, whether braced, and the offset after it.
    fn directive_word_at(&self, at: usize) -> Option<(&'s str, bool, usize)> {
        let mut c = Cursor {
            src: self.c.src,
            pos: at + 1,
        };
        let braced = c.eat("{");
        let b = c.src.as_bytes();
        let start = c.pos;
        let mut p = c.pos;
        while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_') {
            p += 1;
        }
        if p == start || !b[start].is_ascii_alphabetic() {
            return None;
        }
        let word = c.src.get(start..p)?;
        c.pos = p;
        if braced && !c.eat("}") {
            return None;
        }
        Some((word, braced, c.pos))
    }

    fn paren_follows(&self, at: usize) -> bool {
        let rest = self.c.src.get(at..).unwrap_or("");
        rest.trim_start_matches([' ', '\t']).starts_with('(')
    }

    fn expect_punct(&mut self, p: &'static str, what: &str) -> PResult<()> {
        let at = self.c.pos;
        match self.c.token().map_err(|(m, a)| self.err(m, a))? {
            Tok::Punct(q) if q == p => Ok(()),
            _ => Err(self.err(format!("expected '{p}' {what}"), at)),
        }
    }

    /// `( expr )` after a directive name.
    fn paren_expr(&mut self, depth: u32, directive: usize) -> PResult<Expr> {
        while let Some(b' ' | b'\t') = self.c.peek() {
            self.c.pos += 1;
        }
        if !self.c.eat("(") {
            return Err(self.err("expected '(' after directive", directive));
        }
        let e = self.expr(depth)?;
        self.expect_punct(")", "to close the directive")?;
        Ok(e)
    }

    fn set_directive(&mut self, depth: u32, start: usize) -> PResult<Node> {
        while let Some(b' ' | b'\t') = self.c.peek() {
            self.c.pos += 1;
        }
        if !self.c.eat("(") {
            return Err(self.err("expected '(' after #set", start));
        }
        self.c.skip_ws();
        let at = self.c.pos;
        if !self.c.eat("$") {
            return Err(self.err("expected a reference to assign to", at));
        }
        self.c.pos = at;
        let target = match self.try_reference(depth)? {
            Some(r) => r,
            None => return Err(self.err("expected a reference to assign to", at)),
        };
        self.expect_punct("=", "in #set")?;
        let value = self.expr(depth)?;
        self.expect_punct(")", "to close #set")?;
        self.c.eat_blank_line_end();
        Ok(Node::Set { target, value })
    }

    fn if_directive(&mut self, depth: u32, start: usize) -> PResult<Node> {
        let depth = self.deeper(depth)?;
        let mut cond = self.paren_expr(depth, start)?;
        self.c.eat_blank_line_end();
        let mut branches = Vec::new();
        loop {
            let (body, end) = self.block(depth)?;
            match end {
                End::Eof => return Err(self.err("#if without #end", start)),
                End::Close => {
                    branches.push((cond, body));
                    return Ok(Node::If {
                        branches,
                        otherwise: None,
                    });
                }
                End::ElseIf(next) => {
                    branches.push((cond, body));
                    cond = next;
                }
                End::Else => {
                    branches.push((cond, body));
                    let (other, end) = self.block(depth)?;
                    return match end {
                        End::Close => Ok(Node::If {
                            branches,
                            otherwise: Some(other),
                        }),
                        _ => Err(self.err("#else must be followed by #end", start)),
                    };
                }
            }
        }
    }

    fn foreach_directive(&mut self, depth: u32, start: usize) -> PResult<Node> {
        let depth = self.deeper(depth)?;
        while let Some(b' ' | b'\t') = self.c.peek() {
            self.c.pos += 1;
        }
        if !self.c.eat("(") {
            return Err(self.err("expected '(' after #foreach", start));
        }
        self.c.skip_ws();
        let at = self.c.pos;
        let var = match self.try_reference(depth)? {
            Some(r) if r.accessors.is_empty() => r.root,
            _ => return Err(self.err("expected a plain $variable in #foreach", at)),
        };
        let at = self.c.pos;
        match self.c.token().map_err(|(m, a)| self.err(m, a))? {
            Tok::Word(w) if w == "in" => {}
            _ => return Err(self.err("expected 'in' in #foreach", at)),
        }
        let iterable = self.expr(depth)?;
        self.expect_punct(")", "to close #foreach")?;
        self.c.eat_blank_line_end();
        let (body, end) = self.block(depth)?;
        match end {
            End::Close => Ok(Node::Foreach {
                var,
                iterable,
                body,
            }),
            _ => Err(self.err("#foreach without #end", start)),
        }
    }

    fn macro_directive(&mut self, depth: u32, start: usize) -> PResult<()> {
        let depth = self.deeper(depth)?;
        while let Some(b' ' | b'\t') = self.c.peek() {
            self.c.pos += 1;
        }
        if !self.c.eat("(") {
            return Err(self.err("expected '(' after #macro", start));
        }
        self.c.skip_ws();
        let name = match self.c.ident() {
            Some(n) => n.to_owned(),
            None => return Err(self.err("expected a macro name", self.c.pos)),
        };
        let mut params = Vec::new();
        loop {
            self.c.skip_ws();
            if self.c.eat(")") {
                break;
            }
            if self.c.eat(",") {
                continue;
            }
            let at = self.c.pos;
            if !self.c.eat("$") {
                return Err(self.err("expected a $parameter or ')' in #macro", at));
            }
            match self.c.ident() {
                Some(p) if params.len() < MAX_MACRO_ARGS => params.push(p.to_owned()),
                Some(_) => return Err(self.err("too many macro parameters", at)),
                None => return Err(self.err("expected a parameter name", at)),
            }
        }
        self.c.eat_blank_line_end();
        let (body, end) = self.block(depth)?;
        match end {
            End::Close => {
                self.macros.insert(name, Macro { params, body });
                Ok(())
            }
            _ => Err(self.err("#macro without #end", start)),
        }
    }

    fn macro_args(&mut self, depth: u32, start: usize) -> PResult<Vec<Expr>> {
        while let Some(b' ' | b'\t') = self.c.peek() {
            self.c.pos += 1;
        }
        if !self.c.eat("(") {
            return Err(self.err("expected '(' in macro call", start));
        }
        let mut args = Vec::new();
        loop {
            self.c.skip_ws();
            if self.c.eat(")") {
                return Ok(args);
            }
            if self.c.eat(",") {
                continue;
            }
            if self.c.at_end() {
                return Err(self.err("unclosed macro call", start));
            }
            if args.len() >= MAX_MACRO_ARGS {
                return Err(self.err("too many macro arguments", self.c.pos));
            }
            args.push(self.unary(depth)?);
        }
    }

    /// A reference at the cursor (`$x`, `$!x`, `${x}`, `$!{x.y}`), or `None` (cursor
    /// unchanged) if the text there is not a reference.
    fn try_reference(&mut self, depth: u32) -> PResult<Option<Reference>> {
        let start = self.c.pos;
        if !self.c.eat("$") {
            return Ok(None);
        }
        let quiet = self.c.eat("!");
        let braced = self.c.eat("{");
        let Some(root) = self.c.ident() else {
            self.c.pos = start;
            return Ok(None);
        };
        let root = root.to_owned();
        let mut accessors = Vec::new();
        loop {
            let save = self.c.pos;
            if self.c.peek() == Some(b'.') && self.c.peek_at(1).is_some_and(is_ident_start) {
                self.c.pos += 1;
                let name = self.c.ident().unwrap_or("").to_owned();
                if self.c.peek() == Some(b'(') {
                    self.c.pos += 1;
                    match self.call_args(depth) {
                        Ok(args) => accessors.push(Accessor::Method(name, args)),
                        Err(e) => {
                            // In text, `$a.b(` that is not a call is text from the `.` on.
                            if braced {
                                return Err(e);
                            }
                            self.c.pos = save;
                            break;
                        }
                    }
                } else {
                    accessors.push(Accessor::Property(name));
                }
            } else if self.c.peek() == Some(b'[') {
                self.c.pos += 1;
                let d = self.deeper(depth)?;
                match self
                    .expr(d)
                    .and_then(|e| self.expect_punct("]", "to close the index").map(|()| e))
                {
                    Ok(e) => accessors.push(Accessor::Index(e)),
                    Err(e) => {
                        if braced {
                            return Err(e);
                        }
                        self.c.pos = save;
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if braced && !self.c.eat("}") {
            self.c.pos = start;
            return Ok(None);
        }
        Ok(Some(Reference {
            root,
            accessors,
            quiet,
            span: span(start, self.c.pos),
        }))
    }

    fn call_args(&mut self, depth: u32) -> PResult<Vec<Expr>> {
        let depth = self.deeper(depth)?;
        let mut args = Vec::new();
        self.c.skip_ws();
        if self.c.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr(depth)?);
            let at = self.c.pos;
            match self.c.token().map_err(|(m, a)| self.err(m, a))? {
                Tok::Punct(",") => {}
                Tok::Punct(")") => return Ok(args),
                _ => return Err(self.err("expected ',' or ')' in method arguments", at)),
            }
        }
    }

    // ---- expressions ----

    fn expr(&mut self, depth: u32) -> PResult<Expr> {
        let depth = self.deeper(depth)?;
        self.or(depth)
    }

    fn binary_level(
        &mut self,
        depth: u32,
        ops: &[(&str, BinOp)],
        next: fn(&mut Self, u32) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self, depth)?;
        // Bounded: each round consumes an operator token.
        loop {
            let save = self.c.pos;
            let tok = self.c.token().map_err(|(m, a)| self.err(m, a))?;
            let name = match &tok {
                Tok::Punct(p) => *p,
                Tok::Word(w) => w.as_str(),
                _ => "",
            };
            let Some(&(_, op)) = ops.iter().find(|(s, _)| *s == name) else {
                self.c.pos = save;
                return Ok(lhs);
            };
            let rhs = next(self, depth)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn or(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(depth, &[("||", BinOp::Or), ("or", BinOp::Or)], Self::and)
    }

    fn and(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(
            depth,
            &[("&&", BinOp::And), ("and", BinOp::And)],
            Self::equality,
        )
    }

    fn equality(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(
            depth,
            &[
                ("==", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("eq", BinOp::Eq),
                ("ne", BinOp::Ne),
            ],
            Self::relational,
        )
    }

    fn relational(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(
            depth,
            &[
                ("<", BinOp::Lt),
                ("<=", BinOp::Le),
                (">", BinOp::Gt),
                (">=", BinOp::Ge),
                ("lt", BinOp::Lt),
                ("le", BinOp::Le),
                ("gt", BinOp::Gt),
                ("ge", BinOp::Ge),
            ],
            Self::additive,
        )
    }

    fn additive(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(
            depth,
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self, depth: u32) -> PResult<Expr> {
        self.binary_level(
            depth,
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
            Self::unary,
        )
    }

    fn unary(&mut self, depth: u32) -> PResult<Expr> {
        let depth = self.deeper(depth)?;
        let save = self.c.pos;
        match self.c.token().map_err(|(m, a)| self.err(m, a))? {
            Tok::Punct("!") => Ok(Expr::Not(Box::new(self.unary(depth)?))),
            Tok::Word(w) if w == "not" => Ok(Expr::Not(Box::new(self.unary(depth)?))),
            Tok::Punct("-") => match self.unary(depth)? {
                Expr::Int(i) => Ok(Expr::Int(-i)),
                Expr::Float(f) => Ok(Expr::Float(-f)),
                e => Ok(Expr::Neg(Box::new(e))),
            },
            _ => {
                self.c.pos = save;
                self.primary(depth)
            }
        }
    }

    fn primary(&mut self, depth: u32) -> PResult<Expr> {
        let at = self.c.pos;
        let tok = self.c.token().map_err(|(m, a)| self.err(m, a))?;
        match tok {
            Tok::Dollar => {
                self.c.pos -= 1;
                match self.try_reference(depth)? {
                    Some(r) => Ok(Expr::Ref(r)),
                    None => Err(self.err("expected a reference after '$'", at)),
                }
            }
            Tok::Str {
                text,
                double,
                start,
            } => {
                if double && (text.contains('$') || text.contains('#')) {
                    let end = start + text.len();
                    let sub = Cursor {
                        src: &self.full[..end],
                        pos: start,
                    };
                    let outer = std::mem::replace(&mut self.c, sub);
                    let d = self.deeper(depth);
                    let res = d.and_then(|d| self.block(d));
                    self.c = outer;
                    match res? {
                        // `"$.json"`: nothing to interpolate (a `$` not starting a reference is text).
                        (nodes, End::Eof)
                            if nodes
                                .iter()
                                .all(|n| matches!(n, Node::Text(_) | Node::Literal(_))) =>
                        {
                            let mut s = String::new();
                            for n in &nodes {
                                match n {
                                    Node::Text(sp) => s.push_str(
                                        self.full
                                            .get(sp.start as usize..sp.end as usize)
                                            .unwrap_or(""),
                                    ),
                                    Node::Literal(l) => s.push_str(l),
                                    _ => {}
                                }
                            }
                            Ok(Expr::Str(s))
                        }
                        (nodes, End::Eof) => Ok(Expr::Interpolated(nodes)),
                        _ => Err(self.err("unbalanced #end inside a string", start)),
                    }
                } else {
                    Ok(Expr::Str(text))
                }
            }
            Tok::Int(i) => Ok(Expr::Int(i)),
            Tok::Float(f) => Ok(Expr::Float(f)),
            Tok::Word(w) if w == "true" => Ok(Expr::Bool(true)),
            Tok::Word(w) if w == "false" => Ok(Expr::Bool(false)),
            Tok::Punct("(") => {
                let e = self.expr(depth)?;
                self.expect_punct(")", "to close the parenthesis")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                if matches!(
                    self.c.peek_token().map_err(|(m, a)| self.err(m, a))?,
                    Tok::Punct("]")
                ) {
                    self.c.token().map_err(|(m, a)| self.err(m, a))?;
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr(depth)?;
                if matches!(
                    self.c.peek_token().map_err(|(m, a)| self.err(m, a))?,
                    Tok::Punct("..")
                ) {
                    self.c.token().map_err(|(m, a)| self.err(m, a))?;
                    let last = self.expr(depth)?;
                    self.expect_punct("]", "to close the range")?;
                    return Ok(Expr::Range(Box::new(first), Box::new(last)));
                }
                let mut items = vec![first];
                loop {
                    let at = self.c.pos;
                    match self.c.token().map_err(|(m, a)| self.err(m, a))? {
                        Tok::Punct(",") => items.push(self.expr(depth)?),
                        Tok::Punct("]") => return Ok(Expr::List(items)),
                        _ => return Err(self.err("expected ',' or ']' in list", at)),
                    }
                }
            }
            Tok::Punct("{") => {
                let mut entries = Vec::new();
                if matches!(
                    self.c.peek_token().map_err(|(m, a)| self.err(m, a))?,
                    Tok::Punct("}")
                ) {
                    self.c.token().map_err(|(m, a)| self.err(m, a))?;
                    return Ok(Expr::Map(entries));
                }
                loop {
                    let k = self.expr(depth)?;
                    self.expect_punct(":", "in map literal")?;
                    let v = self.expr(depth)?;
                    entries.push((k, v));
                    let at = self.c.pos;
                    match self.c.token().map_err(|(m, a)| self.err(m, a))? {
                        Tok::Punct(",") => {}
                        Tok::Punct("}") => return Ok(Expr::Map(entries)),
                        _ => return Err(self.err("expected ',' or '}' in map literal", at)),
                    }
                }
            }
            Tok::Eof => Err(self.err("unexpected end of template in expression", at)),
            _ => Err(self.err("expected an expression", at)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        parse(src)
            .unwrap()
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Text(s) => Some(src[s.start as usize..s.end as usize].to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn set_eats_blanks_only_at_token_start() {
        assert_eq!(texts("a\n  #set($x = 1)  \nb"), vec!["a\n  ", "b"]);
        assert_eq!(texts("\t#set($a=1)\n\t#set($b=2)\nq"), vec!["q"]);
        assert_eq!(texts("x  #set($x = 1)  y"), vec!["x  ", "  y"]);
    }

    #[test]
    fn end_and_else_eat_line_end() {
        // Top-level text only: the branch bodies are inside the `If` node.
        assert_eq!(texts("#if(true)  \nc\n  #end  \nd"), vec!["d"]);
        assert_eq!(texts("#if(true) e #end f"), vec![" f"]);
    }

    #[test]
    fn unclosed_if_is_located() {
        let e = parse("ab\n#if($x)\nno end").unwrap_err();
        assert_eq!((e.kind, e.line, e.column), (ErrorKind::Syntax, 2, 1));
    }

    #[test]
    fn bad_expression_is_located() {
        let e = parse("#set($x = 1 +)").unwrap_err();
        assert_eq!((e.line, e.column), (1, 14));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let src = "#if(true)".repeat(100) + &"#end".repeat(100);
        assert_eq!(parse(&src).unwrap_err().kind, ErrorKind::TooDeep);
        let src = "#set($x = ".to_owned() + &"(".repeat(200) + "1" + &")".repeat(200) + ")";
        assert_eq!(parse(&src).unwrap_err().kind, ErrorKind::TooDeep);
    }

    #[test]
    fn reference_forms() {
        let p = parse("$a.b.c($x, 'y')[0] $!{d} ${e.f}").unwrap();
        let Node::Ref { reference, .. } = &p.nodes[0] else {
            panic!()
        };
        assert_eq!(reference.root, "a");
        assert_eq!(reference.accessors.len(), 3);
        let Node::Ref { reference, .. } = &p.nodes[2] else {
            panic!()
        };
        assert!(reference.quiet);
    }
}
