//! Runtime values: the Java objects a Velocity template sees, modelled for API Gateway.
//!
//! Values are cheap to clone (`Rc` for strings and containers) because templates copy
//! references freely (`#set($a = $b)`, loop variables). Containers are shared and mutable
//! (`$map.put`, `#set($m.k = v)` change the one map every alias sees), as in Java.
//!
//! Rendering follows AWS, not stock Velocity: `null` renders as the empty string; a map
//! renders as Java's `Map.toString()` (`{k=v, k2=v2}`); a list that came from JSON (an
//! `$input.path` result, `$util.parseJson`) renders as compact JSON, also inside a map,
//! while a list built in VTL renders as Java's `List.toString()` (`[a, b]`).
//! Source: aws-behavior.md §3.3 (AWS-validated `test_input_path_template_formatting`).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use indexmap::IndexMap;

use super::json_doc::{Doc, JsonRef};

/// Insertion-ordered string-keyed map (Java's `LinkedHashMap`, what JSON objects become).
pub type Entries = IndexMap<Rc<str>, Value, MapState>;

/// The hash builder of template maps: ahash, with keys drawn once per thread (random, so
/// keys from a request cannot be chosen to collide). Why not `ahash::RandomState::new()`
/// per map: each one takes an atomic increment, and a render may build dozens of maps.
#[derive(Clone, Debug)]
pub struct MapState(ahash::RandomState);

thread_local! {
    static MAP_STATE: ahash::RandomState = ahash::RandomState::new();
    /// The buffer [`Value::string_with`] builds strings in (`None` while one is built).
    static STRING_BUF: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

/// Longest buffer [`Value::string_with`] keeps for the next string.
const MAX_KEPT_STRING_BUF: usize = 64 * 1024;

impl Default for MapState {
    #[inline]
    fn default() -> Self {
        MapState(
            MAP_STATE
                .try_with(ahash::RandomState::clone)
                .unwrap_or_else(|_| ahash::RandomState::new()),
        )
    }
}

impl std::hash::BuildHasher for MapState {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<List>),
    Map(Rc<Map>),
    /// `$input` and `$util`: objects with methods only.
    Builtin(Builtin),
    /// `$foreach` inside a loop.
    Loop(LoopInfo),
    /// A string, array or object of a parsed JSON body, read in place (see
    /// [`super::json_doc`]). [`Value::norm`] turns it into `Str`/`List`/`Map`.
    Json(JsonRef),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Input,
    Util,
    /// `$context` (and `$context.identity`) before anything needs the map: only ever the
    /// receiver of the very next property lookup (see `vm::run`), never stored.
    Context,
    Identity,
}

/// The state `$foreach` exposes (Velocity 1.7 `ForeachScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopInfo {
    pub index: u32,
    pub len: u32,
}

#[derive(Debug, Default)]
pub struct List {
    pub items: RefCell<Vec<Value>>,
    /// Came from JSON: renders as compact JSON.
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// A map from JSON or VTL: renders `{k=v}`.
    Plain,
    /// `$context` sub-objects (`identity`, `requestOverride`...), which AWS renders as ""
    /// (aws-behavior.md §3.3 / conformance case 051).
    Opaque,
    /// A `Map.Entry` from `entrySet()`: renders `k=v`.
    Entry,
}

#[derive(Debug)]
pub struct Map {
    pub entries: RefCell<Entries>,
    pub kind: MapKind,
}

impl Value {
    /// Whether dropping the value does anything: only the variants holding a reference
    /// count do. Every variant is named, so a new one must be placed here ([`Self::discard`]
    /// forgets the others, and would leak one that holds a count).
    #[inline(always)]
    pub fn holds_rc(&self) -> bool {
        match self {
            Value::Str(_) | Value::List(_) | Value::Map(_) | Value::Json(_) => true,
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Builtin(_)
            | Value::Loop(_) => false,
        }
    }

    /// Drops `v`, testing inline whether there is anything to drop. Most values a render
    /// overwrites or pops are numbers, booleans and `$foreach` positions, and the drop glue
    /// is an out-of-line call with a jump on the variant.
    #[inline(always)]
    pub fn discard(v: Value) {
        if v.holds_rc() {
            drop(v);
        } else {
            std::mem::forget(v);
        }
    }

    /// `*self = v`, with the old value [`Self::discard`]ed.
    #[inline(always)]
    pub fn set(&mut self, v: Value) {
        Value::discard(std::mem::replace(self, v));
    }

    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    pub fn string(s: String) -> Value {
        Value::Str(Rc::from(s))
    }

    /// The string `build` writes, as a value. Why not [`Self::string`]: it is built in a
    /// buffer the thread keeps, so the value costs one allocation (its `Rc<str>`), not a
    /// `String` grown, copied into the `Rc<str>` and freed.
    pub fn string_with(build: impl FnOnce(&mut String)) -> Value {
        // A string built inside `build` (a nested call) finds no buffer and makes one.
        let mut buf = STRING_BUF
            .try_with(std::cell::Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default();
        buf.clear();
        build(&mut buf);
        let v = Value::str(&buf);
        if buf.capacity() <= MAX_KEPT_STRING_BUF {
            let _ = STRING_BUF.try_with(|b| b.set(Some(buf)));
        }
        v
    }

    pub fn new_list(items: Vec<Value>, json: bool) -> Value {
        Value::List(Rc::new(List {
            items: RefCell::new(items),
            json,
        }))
    }

    pub fn new_map(entries: Entries, kind: MapKind) -> Value {
        Value::Map(Rc::new(Map {
            entries: RefCell::new(entries),
            kind,
        }))
    }

    pub fn empty_map(kind: MapKind) -> Value {
        Value::new_map(Entries::default(), kind)
    }

    /// The value as one of the ordinary variants: a JSON string becomes `Str`, a JSON
    /// container its shared converted `List`/`Map`. Anything else is borrowed as is.
    pub fn norm(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Value::Json(j) => std::borrow::Cow::Owned(Doc::materialize(&j.doc, j.node)),
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// A JSON handle whose container has been converted (mutated through some alias)
    /// stands for the converted container; everything else is itself.
    pub fn live(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Value::Json(j) => match j.doc.converted(j.node) {
                Some(v) => std::borrow::Cow::Owned(v),
                None => std::borrow::Cow::Borrowed(self),
            },
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// The text of a string value (plain or JSON) without copying it.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Json(j) if j.doc.is_str(j.node) => Some(j.doc.str(j.node)),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Velocity 1.7 truthiness: only `null` and `false` are false.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.is_finite() => Some(*f as i64),
            other => other.as_str().and_then(|s| s.trim().parse().ok()),
        }
    }

    /// The string a template prints for this value (`null` → "").
    pub fn to_display(&self) -> Rc<str> {
        match self {
            Value::Str(s) => s.clone(),
            Value::Json(j) if j.doc.is_str(j.node) => Rc::from(j.doc.str(j.node)),
            other => {
                let mut s = String::with_capacity(other.size_hint());
                other.write_display(&mut s);
                Rc::from(s)
            }
        }
    }

    /// About how many bytes the value prints as (a JSON value: its source text), so the
    /// buffer it is printed into grows at most once or twice.
    pub fn size_hint(&self) -> usize {
        match self {
            Value::Json(j) => j.doc.text_len(j.node).saturating_add(16),
            _ => 32,
        }
    }

    /// Java `toString()` as rendered by API Gateway, appended to `out`.
    pub fn write_display(&self, out: &mut String) {
        self.write_java(out, false, 0);
    }

    pub(crate) fn write_java(&self, out: &mut String, nested: bool, depth: u32) {
        if depth > MAX_RENDER_DEPTH {
            return;
        }
        match self {
            Value::Null => {
                if nested {
                    out.push_str("null");
                }
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Value::Float(f) => java_double(*f, out),
            Value::Str(s) => out.push_str(s),
            Value::List(l) => {
                if l.json {
                    self.write_json(out, depth);
                } else {
                    out.push('[');
                    for (i, v) in l.items.borrow().iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        v.write_java(out, true, depth + 1);
                    }
                    out.push(']');
                }
            }
            Value::Map(m) => match m.kind {
                MapKind::Opaque => {}
                MapKind::Entry => {
                    let e = m.entries.borrow();
                    let k = e.get("key").cloned().unwrap_or_default();
                    let v = e.get("value").cloned().unwrap_or_default();
                    k.write_java(out, true, depth + 1);
                    out.push('=');
                    v.write_java(out, true, depth + 1);
                }
                MapKind::Plain => {
                    out.push('{');
                    for (i, (k, v)) in m.entries.borrow().iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(k);
                        out.push('=');
                        v.write_java(out, true, depth + 1);
                    }
                    out.push('}');
                }
            },
            Value::Builtin(_) | Value::Loop(_) => {}
            Value::Json(j) => Doc::write_java(&j.doc, j.node, out, nested, depth),
        }
    }

    /// Compact JSON, as `$input.json` and JSON-origin lists render.
    pub fn write_json(&self, out: &mut String, depth: u32) {
        if depth > MAX_RENDER_DEPTH {
            out.push_str("null");
            return;
        }
        match self {
            Value::Null | Value::Builtin(_) | Value::Loop(_) => out.push_str("null"),
            Value::Json(j) => Doc::write_json(&j.doc, j.node, out, depth),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Value::Float(f) if f.is_finite() => java_double(*f, out),
            Value::Float(_) => out.push_str("null"),
            Value::Str(s) => json_string(s, out),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.items.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out, depth + 1);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.entries.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(k, out);
                    out.push(':');
                    v.write_json(out, depth + 1);
                }
                out.push('}');
            }
        }
    }

    /// Converts a parsed JSON document (request or response body, `$util.parseJson`).
    pub fn from_json(v: &serde_json::Value) -> Value {
        Self::from_json_depth(v, 0)
    }

    fn from_json_depth(v: &serde_json::Value, depth: u32) -> Value {
        if depth > MAX_RENDER_DEPTH {
            return Value::Null;
        }
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::new_list(
                a.iter()
                    .map(|x| Self::from_json_depth(x, depth + 1))
                    .collect(),
                true,
            ),
            serde_json::Value::Object(o) => {
                let mut e = Entries::with_capacity_and_hasher(o.len(), MapState::default());
                for (k, x) in o {
                    e.insert(Rc::from(k.as_str()), Self::from_json_depth(x, depth + 1));
                }
                Value::new_map(e, MapKind::Plain)
            }
        }
    }
}

/// Nesting beyond which rendering stops descending (self-referencing containers).
pub const MAX_RENDER_DEPTH: u32 = 128;

/// Writes `s` as a JSON string literal.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Java's `Double.toString`: `1.0`, `249.99`, `1.0E7`, `1.0E-4`.
pub fn java_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // Java's plain range: zmij writes the same shortest digits in the same `int.frac`
    // form (with `.0` for whole numbers), without the formatting machinery below.
    if (1e-3..1e7).contains(&f.abs()) {
        out.push_str(zmij::Buffer::new().format_finite(f));
        return;
    }
    java_double_slow(f, out);
}

/// [`java_double`] through `{:e}`: the scientific range, and the reference the fast path
/// is tested against.
fn java_double_slow(f: f64, out: &mut String) {
    // Shortest round-trip digits and the decimal exponent.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if f < 0.0 {
        out.push('-');
    }
    let abs = f.abs();
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let point = (exp + 1) as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    }
}

/// Velocity 1.7 `==` with AWS's twist: `null == ""` is true (aws-behavior.md §3.3).
/// Numbers compare by value, same-kind values structurally, anything else by `toString()`.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    let (a, b) = (&*a.norm(), &*b.norm());
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, Value::Str(s)) | (Value::Str(s), Value::Null) => s.is_empty(),
        (Value::Null, _) | (_, Value::Null) => false,
        _ => match (a.as_num(), b.as_num()) {
            (Some(_), Some(_)) => compare(a, b) == Some(std::cmp::Ordering::Equal),
            _ => match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_)) => {
                    strict_eq(a, b, 0)
                }
                _ => a.to_display() == b.to_display(),
            },
        },
    }
}

/// Java `equals`: numbers of the same kind, strings, structural lists and maps.
pub fn strict_eq(a: &Value, b: &Value, depth: u32) -> bool {
    if depth > MAX_RENDER_DEPTH {
        return false;
    }
    let (a, b) = (&*a.norm(), &*b.norm());
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            Rc::ptr_eq(x, y) || {
                let (x, y) = (x.items.borrow(), y.items.borrow());
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|(p, q)| strict_eq(p, q, depth + 1))
            }
        }
        (Value::Map(x), Value::Map(y)) => {
            Rc::ptr_eq(x, y) || {
                let (x, y) = (x.entries.borrow(), y.entries.borrow());
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| strict_eq(v, w, depth + 1)))
            }
        }
        _ => false,
    }
}

/// A number, for comparison and arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl Value {
    pub fn as_num(&self) -> Option<Num> {
        match self {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

/// `<`, `<=`, ... on numbers (Velocity 1.7 compares only numbers; anything else is false).
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a.as_num()?, b.as_num()?) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (x, y) => x.f().partial_cmp(&y.f()),
    }
}

/// Velocity 1.7 arithmetic: integers stay integers (division truncates), a float operand
/// makes a float, division by zero and non-numbers give `null`, `+` with a string
/// concatenates (verified against velocity-1.7.jar).
pub fn arith(op: super::ast::BinOp, a: &Value, b: &Value) -> Value {
    use super::ast::BinOp;
    let (a, b) = (&*a.norm(), &*b.norm());
    if op == BinOp::Add && (matches!(a, Value::Str(_)) || matches!(b, Value::Str(_))) {
        if a.is_null() || b.is_null() {
            return Value::Null;
        }
        let mut s = a.to_display().to_string();
        s.push_str(&b.to_display());
        return Value::string(s);
    }
    let (Some(x), Some(y)) = (a.as_num(), b.as_num()) else {
        return Value::Null;
    };
    match (x, y) {
        (Num::Int(x), Num::Int(y)) => {
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => {
                    if y == 0 {
                        return Value::Null;
                    }
                    x.checked_div(y)
                }
                BinOp::Rem => {
                    if y == 0 {
                        return Value::Null;
                    }
                    x.checked_rem(y)
                }
                _ => return Value::Null,
            };
            match r {
                Some(r) => Value::Int(r),
                None => arith(op, &Value::Float(x as f64), &Value::Float(y as f64)),
            }
        }
        (x, y) => {
            let (x, y) = (x.f(), y.f());
            match op {
                BinOp::Add => Value::Float(x + y),
                BinOp::Sub => Value::Float(x - y),
                BinOp::Mul => Value::Float(x * y),
                BinOp::Div if y != 0.0 => Value::Float(x / y),
                BinOp::Rem if y != 0.0 => Value::Float(x % y),
                _ => Value::Null,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jd(f: f64) -> String {
        let mut s = String::new();
        java_double(f, &mut s);
        s
    }

    #[test]
    fn java_double_format() {
        assert_eq!(jd(249.99), "249.99");
        assert_eq!(jd(3.0), "3.0");
        assert_eq!(jd(0.99), "0.99");
        assert_eq!(jd(1e7), "1.0E7");
        assert_eq!(jd(1.5e-4), "1.5E-4");
        assert_eq!(jd(0.001), "0.001");
        assert_eq!(jd(-12345.5), "-12345.5");
        assert_eq!(jd(1990.19), "1990.19");
    }

    #[test]
    fn java_double_fast_path_agrees_with_the_reference() {
        // A deterministic spread of bit patterns and short decimals across the plain range.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = if i % 2 == 0 {
                f64::from_bits(x)
            } else {
                (x % 100_000_000) as f64 / [1.0, 10.0, 100.0, 1000.0, 1e5][(i % 5) as usize]
            };
            if !f.is_finite() || !(1e-3..1e7).contains(&f.abs()) {
                continue;
            }
            for f in [f, -f] {
                let (mut a, mut b) = (String::new(), String::new());
                java_double(f, &mut a);
                java_double_slow(f, &mut b);
                assert_eq!(a, b, "{f:e}");
                checked += 1;
            }
        }
        assert!(checked > 100_000);
        for f in [1e-3, 9.999_999_999_999_999e6, 0.1, 0.3, 100.0, 1.0, 5e-3] {
            let (mut a, mut b) = (String::new(), String::new());
            java_double(f, &mut a);
            java_double_slow(f, &mut b);
            assert_eq!(a, b, "{f:e}");
        }
    }

    #[test]
    fn map_and_list_rendering() {
        let v =
            Value::from_json(&serde_json::json!({"foo": [{"nested": "bar"}], "n": null, "x": 1.5}));
        assert_eq!(
            &*v.to_display(),
            r#"{foo=[{"nested":"bar"}], n=null, x=1.5}"#
        );
        let l = Value::new_list(vec![Value::Int(1), Value::str("a"), Value::Null], false);
        assert_eq!(&*l.to_display(), "[1, a, null]");
        assert_eq!(&*Value::Null.to_display(), "");
    }

    #[test]
    fn equality_rules() {
        assert!(loose_eq(&Value::Null, &Value::str("")));
        assert!(!loose_eq(&Value::new_list(vec![], true), &Value::str("")));
        assert!(loose_eq(&Value::Int(1), &Value::str("1")));
        assert!(loose_eq(&Value::Int(1), &Value::Float(1.0)));
        assert!(!loose_eq(&Value::str("x"), &Value::Int(1)));
    }

    #[test]
    fn arithmetic_rules() {
        use crate::template::ast::BinOp;
        assert!(matches!(
            arith(BinOp::Div, &Value::Int(7), &Value::Int(2)),
            Value::Int(3)
        ));
        assert!(matches!(
            arith(BinOp::Div, &Value::Int(7), &Value::Int(0)),
            Value::Null
        ));
        assert!(
            matches!(arith(BinOp::Mul, &Value::Float(1.5), &Value::Int(2)), Value::Float(f) if f == 3.0)
        );
        assert_eq!(
            &*arith(BinOp::Add, &Value::str("a"), &Value::str("b")).to_display(),
            "ab"
        );
        assert!(matches!(
            arith(BinOp::Add, &Value::Int(i64::MAX), &Value::Int(1)),
            Value::Float(_)
        ));
    }
}
