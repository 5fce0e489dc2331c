//! JSONPath as `$input.path` / `$input.json` evaluate it (API Gateway uses Jayway
//! JsonPath; aws-behavior.md §3.10).
//!
//! Supported: `$`, `.name`, `['name']` (and unions `['a','b']`), `[n]`, `[-1]`, `[*]`,
//! `.*`, `..name` / `..*` / `..[n]`, slices `[a:b:c]`, and filters `[?(@.x > 1)]` with
//! `== != < <= > >=`, `&&`, `||` and bare existence tests. A path without a leading `$`
//! is taken relative to the root, as Jayway does. Paths are parsed once (at template
//! compile time when the argument is a literal) and evaluated over [`Value`] trees.
//! A definite path (names and indexes only) yields one value or null; any other path
//! yields a list of matches, as in Jayway.

use super::json_doc::{self, Doc};
use super::value::{Value, compare, loose_eq};

/// Longest path accepted, and most segments or filter terms in it.
const MAX_PATH_LEN: usize = 4096;
const MAX_SEGMENTS: usize = 256;
/// Most nodes a recursive descent or wildcard may collect.
const MAX_MATCHES: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    segs: Vec<Seg>,
    definite: bool,
    /// Per segment, the signature of its first name ([`json_doc::signature`]; 0 for other
    /// segments), so a definite path's lookups do not sign the same names each request.
    sigs: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Names(Vec<String>),
    Indexes(Vec<i64>),
    Wildcard,
    Slice(Option<i64>, Option<i64>, i64),
    Descendants,
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Cmp(Operand, &'static str, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `@.a.b` relative to the current node (or `$...` absolute).
    Path {
        absolute: bool,
        path: JsonPath,
    },
    Lit(LitVal),
}

#[derive(Debug, Clone, PartialEq)]
enum LitVal {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

struct P<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

impl JsonPath {
    pub fn parse(path: &str) -> Result<JsonPath, String> {
        if path.len() > MAX_PATH_LEN {
            return Err("JSONPath too long".into());
        }
        let mut p = P {
            b: path.trim().as_bytes(),
            s: path.trim(),
            i: 0,
        };
        if p.peek() == Some(b'$') || p.peek() == Some(b'@') {
            p.i += 1;
        } else if p.peek().is_some_and(|c| c != b'.' && c != b'[') {
            // Jayway: `a.b` means `$.a.b`.
            return Ok(JsonPath::new(p.segments(0, true)?));
        }
        let segs = p.segments(0, false)?;
        if p.i < p.b.len() {
            return Err(format!("unexpected '{}' in JSONPath", &p.s[p.i..]));
        }
        Ok(JsonPath::new(segs))
    }

    fn new(segs: Vec<Seg>) -> JsonPath {
        let definite = is_definite(&segs);
        let sigs = segs
            .iter()
            .map(|s| match s {
                Seg::Names(n) => n.first().map_or(0, |n| json_doc::signature(n.as_bytes())),
                _ => 0,
            })
            .collect();
        JsonPath {
            segs,
            definite,
            sigs,
        }
    }

    /// [`Self::eval`] of a root the caller hands over: a definite path starts from it
    /// without a copy (`$input.path('$')` is the root itself).
    pub fn eval_owned(&self, root: Value) -> Value {
        if !self.definite {
            return self.eval(&root);
        }
        // A document nothing has converted: straight down its tape, one node in and one
        // out, and a value made only for the node found (what `step` gives, without a
        // value and a signature per step).
        if let Value::Json(j) = &root
            && j.doc.unconverted()
        {
            return match self.node_in(&j.doc, j.node) {
                None => Value::Null,
                Some(node) if node == j.node => root,
                Some(node) => Doc::value(&j.doc, node),
            };
        }
        // One value in, one value out: no intermediate lists.
        let mut cur = root;
        for (seg, &sig) in self.segs.iter().zip(&self.sigs) {
            cur = step(seg, sig, &cur);
            if cur.is_null() {
                break;
            }
        }
        cur
    }

    /// Whether the path names one node at most (no wildcards, slices, unions or `..`).
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// The node this definite path leads to from `node` of a document nothing has
    /// converted (straight down its tape); `None` when a step is absent or the path is
    /// not definite.
    pub fn node_in(&self, doc: &Doc, node: u32) -> Option<u32> {
        if !self.definite {
            return None;
        }
        let mut node = node;
        for (seg, &sig) in self.segs.iter().zip(&self.sigs) {
            node = child(doc, node, seg, sig)?;
        }
        Some(node)
    }

    /// Evaluates against `root`. Definite paths give the value or `Null`; others a JSON list.
    pub fn eval(&self, root: &Value) -> Value {
        if self.definite {
            return self.eval_owned(root.clone());
        }
        let mut cur = vec![root.clone()];
        for seg in &self.segs {
            let mut next = Vec::new();
            for v in &cur {
                apply(seg, v, root, &mut next);
                if next.len() > MAX_MATCHES {
                    break;
                }
            }
            cur = next;
        }
        Value::new_list(cur, true)
    }
}

fn is_definite(segs: &[Seg]) -> bool {
    segs.iter().all(|s| match s {
        Seg::Names(n) => n.len() == 1,
        Seg::Indexes(i) => i.len() == 1,
        _ => false,
    })
}

/// The node one definite segment (`.name`, whose signature is `sig`, or `[n]`, negative
/// from the end) leads to from `node`; `None` when absent.
fn child(doc: &Doc, node: u32, seg: &Seg, sig: u64) -> Option<u32> {
    match seg {
        Seg::Names(n) if doc.is_object(node) => n.first().and_then(|n| doc.get_sig(node, n, sig)),
        Seg::Indexes(i) if doc.is_array(node) => i.first().and_then(|&i| {
            let len = doc.len(node) as i64;
            let i = if i < 0 { len + i } else { i };
            usize::try_from(i).ok().and_then(|i| doc.item(node, i))
        }),
        _ => None,
    }
}

/// One definite segment (`.name`, whose signature is `sig`, or `[n]`) applied to one
/// value; `Null` when absent.
fn step(seg: &Seg, sig: u64, v: &Value) -> Value {
    let v = &*v.live();
    if let Value::Json(j) = v {
        let doc = &j.doc;
        return child(doc, j.node, seg, sig).map_or(Value::Null, |c| Doc::value(doc, c));
    }
    let mut out = Vec::new();
    apply(seg, v, v, &mut out);
    out.into_iter().next().unwrap_or_default()
}

fn apply(seg: &Seg, v: &Value, root: &Value, out: &mut Vec<Value>) {
    let v = &*v.live();
    if let Value::Json(j) = v {
        let (doc, node) = (&j.doc, j.node);
        match seg {
            Seg::Names(names) => {
                for n in names {
                    if let Some(c) = doc.get(node, n) {
                        out.push(Doc::value(doc, c));
                    }
                }
                return;
            }
            Seg::Wildcard if doc.is_array(node) => {
                out.extend(doc.items(node).map(|c| Doc::value(doc, c)));
                return;
            }
            Seg::Wildcard if doc.is_object(node) => {
                out.extend(doc.members(node).map(|(_, c)| Doc::value(doc, c)));
                return;
            }
            Seg::Wildcard => return,
            _ => {}
        }
        let v = v.norm();
        return apply(seg, &v, root, out);
    }
    match seg {
        Seg::Names(names) => {
            if let Value::Map(m) = v {
                let e = m.entries.borrow();
                for n in names {
                    if let Some(x) = e.get(n.as_str()) {
                        out.push(x.clone());
                    }
                }
            }
        }
        Seg::Indexes(idx) => {
            if let Value::List(l) = v {
                let items = l.items.borrow();
                for &i in idx {
                    let len = items.len() as i64;
                    let i = if i < 0 { len + i } else { i };
                    if (0..len).contains(&i) {
                        out.push(items[i as usize].clone());
                    }
                }
            }
        }
        Seg::Wildcard => match v {
            Value::List(l) => out.extend(l.items.borrow().iter().cloned()),
            Value::Map(m) => out.extend(m.entries.borrow().values().cloned()),
            _ => {}
        },
        Seg::Slice(start, end, step) => {
            if let Value::List(l) = v {
                let items = l.items.borrow();
                let len = items.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map_or(0, norm);
                let e = end.map_or(len, norm);
                let step = (*step).max(1);
                let mut i = s;
                while i < e {
                    out.push(items[i as usize].clone());
                    i += step;
                }
            }
        }
        Seg::Descendants => descend(v, out, 0),
        Seg::Filter(f) => match &*v.norm() {
            Value::List(l) => {
                for item in l.items.borrow().iter() {
                    if test(f, item, root) {
                        out.push(item.clone());
                    }
                }
            }
            m @ Value::Map(_) if test(f, m, root) => out.push(m.clone()),
            _ => {}
        },
    }
}

fn descend(v: &Value, out: &mut Vec<Value>, depth: u32) {
    if out.len() > MAX_MATCHES || depth > super::value::MAX_RENDER_DEPTH {
        return;
    }
    out.push(v.clone());
    match &*v.norm() {
        Value::List(l) => {
            for x in l.items.borrow().iter() {
                descend(x, out, depth + 1);
            }
        }
        Value::Map(m) => {
            for x in m.entries.borrow().values() {
                descend(x, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn operand(o: &Operand, cur: &Value, root: &Value) -> Option<Value> {
    match o {
        Operand::Path { absolute, path } => {
            let base = if *absolute { root } else { cur };
            let v = path.eval(base);
            match (&v, path.definite) {
                (Value::Null, true) => {
                    // Distinguish a missing member from an explicit null.
                    exists(path, base).then_some(Value::Null)
                }
                _ => Some(v),
            }
        }
        Operand::Lit(l) => Some(match l {
            LitVal::Null => Value::Null,
            LitVal::Bool(b) => Value::Bool(*b),
            LitVal::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 9e15 {
                    Value::Int(*n as i64)
                } else {
                    Value::Float(*n)
                }
            }
            LitVal::Str(s) => Value::str(s),
        }),
    }
}

fn exists(path: &JsonPath, base: &Value) -> bool {
    let mut cur = vec![base.clone()];
    for seg in &path.segs {
        let mut next = Vec::new();
        for v in &cur {
            apply(seg, v, base, &mut next);
        }
        cur = next;
    }
    !cur.is_empty()
}

fn test(f: &Filter, cur: &Value, root: &Value) -> bool {
    match f {
        Filter::Or(a, b) => test(a, cur, root) || test(b, cur, root),
        Filter::And(a, b) => test(a, cur, root) && test(b, cur, root),
        Filter::Not(a) => !test(a, cur, root),
        Filter::Exists(o) => operand(o, cur, root).is_some(),
        Filter::Cmp(a, op, b) => {
            let (Some(x), Some(y)) = (operand(a, cur, root), operand(b, cur, root)) else {
                return false;
            };
            match *op {
                "==" => json_eq(&x, &y),
                "!=" => !json_eq(&x, &y),
                _ => {
                    let ord = match (&*x.norm(), &*y.norm()) {
                        (Value::Str(p), Value::Str(q)) => Some(p.cmp(q)),
                        _ => compare(&x, &y),
                    };
                    match (ord, *op) {
                        (Some(o), "<") => o.is_lt(),
                        (Some(o), "<=") => o.is_le(),
                        (Some(o), ">") => o.is_gt(),
                        (Some(o), ">=") => o.is_ge(),
                        _ => false,
                    }
                }
            }
        }
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (&*a.norm(), &*b.norm()) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Str(_), Value::Int(_) | Value::Float(_))
        | (Value::Int(_) | Value::Float(_), Value::Str(_)) => false,
        _ => loose_eq(a, b),
    }
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn name(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'.'
                || c == b'['
                || c == b' '
                || c == b')'
                || c == b'='
                || c == b'!'
                || c == b'<'
                || c == b'>'
                || c == b'&'
                || c == b'|'
            {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| self.s[start..self.i].to_owned())
    }

    /// Segments until the end of the path (or, inside a filter, the end of an operand).
    fn segments(&mut self, depth: u32, bare_first: bool) -> Result<Vec<Seg>, String> {
        if depth > 8 {
            return Err("JSONPath filters nested too deeply".into());
        }
        let mut segs = Vec::new();
        if bare_first {
            match self.name() {
                Some(n) if n == "*" => segs.push(Seg::Wildcard),
                Some(n) => segs.push(Seg::Names(vec![n])),
                None => return Err("empty JSONPath".into()),
            }
        }
        while let Some(c) = self.peek() {
            if segs.len() > MAX_SEGMENTS {
                return Err("JSONPath has too many segments".into());
            }
            match c {
                b'.' => {
                    self.i += 1;
                    if self.peek() == Some(b'.') {
                        self.i += 1;
                        segs.push(Seg::Descendants);
                        if self.peek() == Some(b'[') {
                            continue;
                        }
                    }
                    match self.name() {
                        Some(n) if n == "*" => segs.push(Seg::Wildcard),
                        Some(n) => segs.push(Seg::Names(vec![n])),
                        None => return Err("expected a name after '.' in JSONPath".into()),
                    }
                }
                b'[' => {
                    self.i += 1;
                    self.ws();
                    segs.push(self.bracket(depth)?);
                    self.ws();
                    if self.peek() != Some(b']') {
                        return Err("expected ']' in JSONPath".into());
                    }
                    self.i += 1;
                }
                _ => break,
            }
        }
        Ok(segs)
    }

    fn quoted(&mut self) -> Result<String, String> {
        let q = self.peek().unwrap_or(b'\'');
        self.i += 1;
        let mut s = String::new();
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'\\' {
                self.i += 1;
                if let Some(ch) = self.s.get(self.i..).and_then(|r| r.chars().next()) {
                    s.push(ch);
                    self.i += ch.len_utf8();
                }
                continue;
            }
            if c == q {
                self.i += 1;
                return Ok(s);
            }
            let ch = self
                .s
                .get(self.i..)
                .and_then(|r| r.chars().next())
                .unwrap_or('?');
            s.push(ch);
            self.i += ch.len_utf8();
        }
        let _ = start;
        Err("unterminated quoted name in JSONPath".into())
    }

    fn int(&mut self) -> Option<i64> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let r = self.s.get(start..self.i).and_then(|t| t.parse().ok());
        if r.is_none() {
            self.i = start;
        }
        r
    }

    fn bracket(&mut self, depth: u32) -> Result<Seg, String> {
        match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Ok(Seg::Wildcard)
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.ws();
                    if self.peek() != Some(b',') {
                        return Ok(Seg::Names(names));
                    }
                    self.i += 1;
                    self.ws();
                    if names.len() > MAX_SEGMENTS {
                        return Err("too many names in JSONPath union".into());
                    }
                    names.push(self.quoted()?);
                }
            }
            Some(b'?') => {
                self.i += 1;
                self.ws();
                if self.peek() != Some(b'(') {
                    return Err("expected '(' after '?' in JSONPath filter".into());
                }
                self.i += 1;
                let f = self.filter_or(depth + 1)?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err("expected ')' to close JSONPath filter".into());
                }
                self.i += 1;
                Ok(Seg::Filter(f))
            }
            _ => {
                let first = self.int();
                self.ws();
                if self.peek() == Some(b':') {
                    self.i += 1;
                    self.ws();
                    let end = self.int();
                    self.ws();
                    let mut step = 1;
                    if self.peek() == Some(b':') {
                        self.i += 1;
                        step = self.int().unwrap_or(1);
                    }
                    return Ok(Seg::Slice(first, end, step));
                }
                let Some(first) = first else {
                    return Err("expected an index in JSONPath".into());
                };
                let mut idx = vec![first];
                loop {
                    self.ws();
                    if self.peek() != Some(b',') {
                        return Ok(Seg::Indexes(idx));
                    }
                    self.i += 1;
                    self.ws();
                    if idx.len() > MAX_SEGMENTS {
                        return Err("too many indexes in JSONPath union".into());
                    }
                    idx.push(self.int().ok_or("expected an index in JSONPath union")?);
                }
            }
        }
    }

    fn filter_or(&mut self, depth: u32) -> Result<Filter, String> {
        let mut l = self.filter_and(depth)?;
        for _ in 0..MAX_SEGMENTS {
            self.ws();
            if self.b[self.i..].starts_with(b"||") {
                self.i += 2;
                l = Filter::Or(Box::new(l), Box::new(self.filter_and(depth)?));
            } else {
                return Ok(l);
            }
        }
        Err("JSONPath filter too long".into())
    }

    fn filter_and(&mut self, depth: u32) -> Result<Filter, String> {
        let mut l = self.filter_term(depth)?;
        for _ in 0..MAX_SEGMENTS {
            self.ws();
            if self.b[self.i..].starts_with(b"&&") {
                self.i += 2;
                l = Filter::And(Box::new(l), Box::new(self.filter_term(depth)?));
            } else {
                return Ok(l);
            }
        }
        Err("JSONPath filter too long".into())
    }

    fn filter_term(&mut self, depth: u32) -> Result<Filter, String> {
        if depth > 8 {
            return Err("JSONPath filter nested too deeply".into());
        }
        self.ws();
        if self.peek() == Some(b'!') && self.b.get(self.i + 1) != Some(&b'=') {
            self.i += 1;
            return Ok(Filter::Not(Box::new(self.filter_term(depth + 1)?)));
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let f = self.filter_or(depth + 1)?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err("expected ')' in JSONPath filter".into());
            }
            self.i += 1;
            return Ok(f);
        }
        let a = self.operand(depth)?;
        self.ws();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.b[self.i..].starts_with(op.as_bytes()) {
                self.i += op.len();
                self.ws();
                let b = self.operand(depth)?;
                return Ok(Filter::Cmp(a, op, b));
            }
        }
        Ok(Filter::Exists(a))
    }

    fn operand(&mut self, depth: u32) -> Result<Operand, String> {
        match self.peek() {
            Some(c @ (b'@' | b'$')) => {
                self.i += 1;
                Ok(Operand::Path {
                    absolute: c == b'$',
                    path: JsonPath::new(self.segments(depth + 1, false)?),
                })
            }
            Some(b'\'' | b'"') => Ok(Operand::Lit(LitVal::Str(self.quoted()?))),
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'+'
                }) {
                    self.i += 1;
                }
                let t = &self.s[start..self.i];
                match t {
                    "true" => Ok(Operand::Lit(LitVal::Bool(true))),
                    "false" => Ok(Operand::Lit(LitVal::Bool(false))),
                    "null" => Ok(Operand::Lit(LitVal::Null)),
                    _ => t
                        .parse()
                        .map(|n| Operand::Lit(LitVal::Num(n)))
                        .map_err(|_| format!("bad filter operand '{t}'")),
                }
            }
        }
    }
}

/// Parses and evaluates in one go (dynamic path strings).
pub fn eval_str(path: &str, root: &Value) -> Value {
    match JsonPath::parse(path) {
        Ok(p) => p.eval(root),
        Err(_) => Value::Null,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn doc() -> Value {
        Value::from_json(&serde_json::json!({
            "store": {"book": [
                {"title": "A", "price": 8, "tags": ["x"]},
                {"title": "B", "price": 12.5},
                {"title": "C", "price": 30, "isbn": "1"}
            ], "name": "s"},
            "a b": 1
        }))
    }

    fn j(path: &str) -> String {
        let mut s = String::new();
        eval_str(path, &doc()).write_json(&mut s, 0);
        s
    }

    #[test]
    fn definite_paths() {
        assert_eq!(j("$.store.name"), r#""s""#);
        assert_eq!(j("$['store']['book'][0].title"), r#""A""#);
        assert_eq!(j("$.store.book[-1].title"), r#""C""#);
        assert_eq!(j("$.missing"), "null");
        assert_eq!(j("store.name"), r#""s""#);
        assert_eq!(j("$['a b']"), "1");
    }

    #[test]
    fn indefinite_paths() {
        assert_eq!(j("$.store.book[*].title"), r#"["A","B","C"]"#);
        assert_eq!(j("$..title"), r#"["A","B","C"]"#);
        assert_eq!(j("$.store.book[0:2].price"), "[8,12.5]");
        assert_eq!(j("$.store.book[-2:].title"), r#"["B","C"]"#);
        assert_eq!(j("$.store.book[?(@.price > 10)].title"), r#"["B","C"]"#);
        assert_eq!(j("$.store.book[?(@.isbn)].title"), r#"["C"]"#);
        assert_eq!(
            j("$.store.book[?(@.price < 20 && @.title != 'A')].title"),
            r#"["B"]"#
        );
        assert_eq!(j("$.store.book[0,2].title"), r#"["A","C"]"#);
    }

    #[test]
    fn definite_paths_on_the_tape_agree_with_the_tree() {
        let text = r#"{"store": {"book": [{"title": "A", "price": 8}, {"title": "B"}],
            "name": "s", "names": [1, [2, 3]], "namesake": {"x": null}},
            "a b": 1, "longer_key_1": "p", "longer_key_2": "q", "e": {}, "l": []}"#;
        let paths = [
            "$",
            "$.store",
            "$.store.name",
            "$.store.names",
            "$.store.names[1][0]",
            "$.store.names[-1]",
            "$.store.names[-3]",
            "$.store.names[2]",
            "$.store.namesake.x",
            "$.store.book[0].title",
            "$.store.book[1].price",
            "$['a b']",
            "$.longer_key_2",
            "$.longer_key_3",
            "$.longer_key_1.x",
            "$.e",
            "$.e.x",
            "$.l[0]",
            "$[0]",
            "$.name",
            "store.name",
            "$.store.book[0].title.x",
        ];
        for p in paths {
            let path = JsonPath::parse(p).unwrap();
            let tape = crate::template::json_doc::parse_value(text.as_bytes()).unwrap();
            assert!(matches!(tape, Value::Json(_)), "{p}");
            let tree = Value::from_json(&serde_json::from_str(text).unwrap());
            let (mut a, mut b) = (String::new(), String::new());
            path.eval_owned(tape).write_json(&mut a, 0);
            path.eval_owned(tree).write_json(&mut b, 0);
            assert_eq!(a, b, "{p}");
        }
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(JsonPath::parse("$.a[").is_err());
        assert!(JsonPath::parse("$.a[?(@.x >)]").is_err());
        assert!(JsonPath::parse(&"[0]".repeat(5000)).is_err());
    }
}
