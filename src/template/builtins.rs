//! What templates can call: the AWS variables (`$input`, `$util`) and the Java methods
//! of strings, lists and maps that API Gateway templates use (aws-behavior.md §3.3-3.7).
//!
//! Velocity reports a failing Java call (bad index, bad regex) as an error; here such
//! calls evaluate to `null`, which renders empty (documented in docs/compatibility.md).

use std::rc::Rc;

use base64::Engine as _;

use super::bytecode::{LOOP_PROPS, UtilFn};
use super::json_doc::{Doc, JsonRef};
use super::json_path;
use super::value::{Builtin, Entries, LoopInfo, MapKind, Value, loose_eq, strict_eq};
use super::vm::Env;

/// Headers `$input.params()` never shows, even when the client sent them
/// (conformance case 050, AWS-validated on a REGIONAL API).
const HIDDEN_HEADERS: [&str; 12] = [
    "connection",
    "content-length",
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "te",
    "transfer-encoding",
    "trailer",
    "upgrade",
    "www-authenticate",
];

/// Most regexes cached per render (patterns built from data could otherwise grow it).
const MAX_CACHED_REGEXES: usize = 64;

fn hidden(name: &str) -> bool {
    HIDDEN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `recv.name` (Velocity property lookup: map key, then bean getter).
pub fn property(env: &mut Env<'_, '_>, recv: &Value, name: &str) -> Value {
    let recv = &*recv.live();
    if let Value::Json(j) = recv {
        let (doc, node) = (&j.doc, j.node);
        if let Some(c) = doc.get(node, name) {
            return Doc::value(doc, c);
        }
        // What `property` gives a map, list or string for a missing name.
        return match name {
            "empty" if doc.is_str(node) => Value::Bool(doc.str(node).is_empty()),
            "empty" => Value::Bool(doc.len(node) == 0),
            _ => Value::Null,
        };
    }
    match recv {
        Value::Map(m) => {
            if let Some(v) = m.entries.borrow().get(name) {
                return v.clone();
            }
            // `$context.authorizer` is an empty map even when it is not a key (case 051).
            if m.kind == MapKind::Opaque && name == "authorizer" {
                return Value::empty_map(MapKind::Plain);
            }
            match name {
                "empty" => Value::Bool(m.entries.borrow().is_empty()),
                _ => Value::Null,
            }
        }
        Value::Builtin(Builtin::Input) => match name {
            "body" => input_body(env),
            _ => Value::Null,
        },
        Value::Loop(l) => LOOP_PROPS
            .iter()
            .position(|p| *p == name)
            .map_or(Value::Null, |k| loop_prop(l, k)),
        Value::List(l) if name == "empty" => Value::Bool(l.items.borrow().is_empty()),
        Value::Str(s) if name == "empty" => Value::Bool(s.is_empty()),
        _ => Value::Null,
    }
}

/// `$foreach.<LOOP_PROPS[k]>` of a loop at `l`.
pub fn loop_prop(l: &LoopInfo, k: usize) -> Value {
    match k {
        0 => Value::Bool(l.index + 1 < l.len),
        1 => Value::Int(i64::from(l.index)),
        2 => Value::Int(i64::from(l.index) + 1),
        3 => Value::Bool(l.index == 0),
        4 => Value::Bool(l.index + 1 == l.len),
        _ => Value::Null,
    }
}

/// `recv[key]`.
pub fn index(recv: &Value, key: &Value) -> Value {
    let recv = &*recv.live();
    if let Value::Json(j) = recv {
        let (doc, node) = (&j.doc, j.node);
        let child = if doc.is_array(node) {
            key.as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| doc.item(node, i))
        } else if doc.is_object(node) {
            doc.get(node, &key.to_display())
        } else {
            None
        };
        return child.map_or(Value::Null, |c| Doc::value(doc, c));
    }
    match recv {
        Value::List(l) => match key.as_i64() {
            Some(i) if i >= 0 => l
                .items
                .borrow()
                .get(i as usize)
                .cloned()
                .unwrap_or_default(),
            _ => Value::Null,
        },
        Value::Map(m) => m
            .entries
            .borrow()
            .get(&*key.to_display())
            .cloned()
            .unwrap_or_default(),
        _ => Value::Null,
    }
}

/// `#set($recv[key] = v)`.
pub fn set_index(recv: &Value, key: &Value, v: Value) {
    match &*recv.norm() {
        Value::Map(m) => {
            m.entries.borrow_mut().insert(key.to_display(), v);
        }
        Value::List(l) => {
            if let Some(i) = key.as_i64().and_then(|i| usize::try_from(i).ok()) {
                if let Some(slot) = l.items.borrow_mut().get_mut(i) {
                    *slot = v;
                }
            }
        }
        _ => {}
    }
}

/// What `#foreach` iterates, appended to `items`: list items, map values (Velocity
/// iterates `Map.values()`).
pub fn iterate(v: &Value, items: &mut Vec<Value>) {
    let v = &*v.live();
    if let Value::Json(j) = v {
        let doc = &j.doc;
        if doc.is_array(j.node) {
            items.extend(doc.items(j.node).map(|c| Doc::value(doc, c)));
        } else {
            items.extend(doc.members(j.node).map(|(_, c)| Doc::value(doc, c)));
        }
        return;
    }
    match v {
        Value::List(l) => items.extend(l.items.borrow().iter().cloned()),
        Value::Map(m) => items.extend(m.entries.borrow().values().cloned()),
        _ => {}
    }
}

/// `$input.json`: the value as compact JSON text (a missing path gives "").
pub fn to_json_string(v: &Value) -> Value {
    if v.is_null() {
        return Value::str("");
    }
    Value::string_with(|s| {
        s.reserve(v.size_hint());
        v.write_json(s, 0);
    })
}

fn input_body(env: &Env<'_, '_>) -> Value {
    let b = env.body();
    // An empty body reads as `{}` (aws-behavior.md §3.3, AWS-validated).
    if b.is_empty() {
        return Value::str("{}");
    }
    Value::str(&String::from_utf8_lossy(b))
}

/// Argument `i` as text, borrowed where it already is text (a string, or a string in the
/// body), printed otherwise.
fn arg_text(args: &[Value], i: usize) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match args.get(i) {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) => Some(Cow::Borrowed(s)),
        Some(Value::Json(j)) if j.doc.is_str(j.node) => Some(Cow::Borrowed(j.doc.str(j.node))),
        Some(v) => {
            let mut s = String::with_capacity(v.size_hint());
            v.write_display(&mut s);
            Some(Cow::Owned(s))
        }
    }
}

fn arg_str(args: &[Value], i: usize) -> Option<Rc<str>> {
    match args.get(i) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_display()),
    }
}

fn arg_int(args: &[Value], i: usize) -> Option<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Some(*n),
        Some(Value::Float(f)) if f.fract() == 0.0 => Some(*f as i64),
        Some(v) => v.as_str().and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
}

/// `recv.name(args)`.
pub fn call(env: &mut Env<'_, '_>, recv: &Value, name: &str, args: &[Value]) -> Value {
    let recv = &*recv.live();
    if let Value::Json(j) = recv {
        if let Some(v) = json_method(j, name, args) {
            return v;
        }
    }
    // `$util` reads its argument as text: a string from the body is read in place.
    if let Value::Builtin(Builtin::Util) = recv {
        return util_method(name, args);
    }
    let recv = &*recv.norm();
    // Methods match on plain variants; JSON handles among the arguments are converted
    // (a container argument becomes the shared converted one, as a Java reference would).
    let converted: Vec<Value>;
    let args = if args.iter().any(|a| matches!(a, Value::Json(_))) {
        converted = args.iter().map(|a| a.norm().into_owned()).collect();
        &converted
    } else {
        args
    };
    match recv {
        Value::Builtin(Builtin::Input) => input_method(env, name, args),
        Value::Builtin(Builtin::Util) => util_method(name, args),
        Value::Str(s) => string_method(env, s, name, args),
        Value::List(_) => list_method(recv, name, args),
        Value::Map(_) => map_method(recv, name, args),
        Value::Null => Value::Null,
        Value::Loop(_) => match name {
            "hasNext" | "getHasNext" => property(env, recv, "hasNext"),
            "getIndex" => property(env, recv, "index"),
            "getCount" => property(env, recv, "count"),
            "isFirst" | "getFirst" => property(env, recv, "first"),
            "isLast" | "getLast" => property(env, recv, "last"),
            _ => Value::Null,
        },
        scalar => match name {
            "toString" => Value::Str(scalar.to_display()),
            "equals" => Value::Bool(args.first().is_some_and(|a| strict_eq(scalar, a, 0))),
            "intValue" | "longValue" => scalar.as_i64().map_or(Value::Null, Value::Int),
            "doubleValue" | "floatValue" => scalar.as_f64().map_or(Value::Null, Value::Float),
            "booleanValue" => match scalar {
                Value::Bool(b) => Value::Bool(*b),
                _ => Value::Null,
            },
            _ => Value::Null,
        },
    }
}

/// Read-only methods answered from the JSON tape without converting the container.
fn json_method(j: &JsonRef, name: &str, args: &[Value]) -> Option<Value> {
    let (doc, node) = (&j.doc, j.node);
    let container = doc.is_array(node) || doc.is_object(node);
    Some(match (name, args) {
        ("size", []) if container => Value::Int(doc.len(node) as i64),
        ("isEmpty", []) if container => Value::Bool(doc.len(node) == 0),
        ("toString", []) => Value::Str(Value::Json(j.clone()).to_display()),
        ("get", [k]) if doc.is_object(node) && !k.is_null() => doc
            .get(node, &k.to_display())
            .map_or(Value::Null, |c| Doc::value(doc, c)),
        ("containsKey", [k]) if doc.is_object(node) && !k.is_null() => {
            Value::Bool(doc.get(node, &k.to_display()).is_some())
        }
        _ => return None,
    })
}

fn input_method(env: &mut Env<'_, '_>, name: &str, args: &[Value]) -> Value {
    match name {
        "path" => {
            let Some(p) = arg_str(args, 0) else {
                return Value::Null;
            };
            let root = env.json_root();
            json_path::eval_str(&p, &root)
        }
        "json" => {
            let Some(p) = arg_str(args, 0) else {
                return Value::Null;
            };
            let root = env.json_root();
            to_json_string(&json_path::eval_str(&p, &root))
        }
        "params" => match arg_str(args, 0) {
            None if args.is_empty() => all_params(env),
            None => Value::str(""),
            Some(n) => Value::str(param(env, &n).unwrap_or("")),
        },
        "getBody" => input_body(env),
        _ => Value::Null,
    }
}

/// `$input.params(name)`: path, then query string, then header; missing → "".
/// A repeated query parameter gives its last value; header names match case-insensitively.
pub(crate) fn param<'e>(env: &Env<'e, '_>, name: &str) -> Option<&'e str> {
    let r = env.request;
    if let Some((_, v)) = r.path_params.iter().find(|(k, _)| *k == name) {
        return Some(v);
    }
    if let Some((_, v)) = r.query.iter().rev().find(|(k, _)| *k == name) {
        return Some(v);
    }
    if hidden(name) {
        return None;
    }
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

fn all_params(env: &Env<'_, '_>) -> Value {
    let r = env.request;
    let mut path = Entries::default();
    for (k, v) in r.path_params {
        path.insert((*k).into(), Value::str(v));
    }
    let mut qs = Entries::default();
    for (k, v) in r.query {
        qs.insert((*k).into(), Value::str(v));
    }
    let mut hs = Entries::default();
    for (k, v) in r.headers {
        if !hidden(k) && !hs.contains_key(*k) {
            hs.insert((*k).into(), Value::str(v));
        }
    }
    let mut all = Entries::default();
    all.insert("path".into(), Value::new_map(path, MapKind::Plain));
    all.insert("querystring".into(), Value::new_map(qs, MapKind::Plain));
    all.insert("header".into(), Value::new_map(hs, MapKind::Plain));
    Value::new_map(all, MapKind::Plain)
}

fn util_method(name: &str, args: &[Value]) -> Value {
    UtilFn::from_name(name).map_or(Value::Null, |f| util_call(f, args))
}

/// `$util.<f>(args)`.
pub fn util_call(f: UtilFn, args: &[Value]) -> Value {
    let Some(s) = arg_text(args, 0) else {
        return Value::Null;
    };
    match f {
        UtilFn::EscapeJavaScript => Value::string_with(|out| escape_javascript_string(&s, out)),
        UtilFn::ParseJson => super::json_doc::parse_str_value(&s).unwrap_or_default(),
        UtilFn::UrlEncode => Value::string(url_encode(&s)),
        UtilFn::UrlDecode => url_decode(&s).map_or(Value::Null, Value::string),
        UtilFn::Base64Encode => {
            Value::string(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }
        UtilFn::Base64Decode => {
            match base64::engine::general_purpose::STANDARD.decode(s.trim().as_bytes()) {
                Ok(b) => Value::string(String::from_utf8_lossy(&b).into_owned()),
                Err(_) => Value::Null,
            }
        }
    }
}

/// `$util.escapeJavaScript(args[0])` written straight into `out`: what [`util_call`]
/// returns, as text, without the string value (`null` prints nothing).
pub fn escape_javascript_arg(args: &[Value], out: &mut Vec<u8>) {
    if let Some(s) = arg_text(args, 0) {
        escape_javascript(&s, out);
    }
}

/// What [`escape_javascript`] writes for each byte after a backslash: `0` for a byte
/// copied as it is, `u` for a control character or the first byte of a non-ASCII
/// character (written as `\uXXXX` units), `-` for the other bytes of a non-ASCII
/// character (covered by its first byte).
const JS_ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'"' => b'"',
            b'\'' => b'\'',
            b'\\' => b'\\',
            b'/' => b'/',
            0x08 => b'b',
            b'\n' => b'n',
            b'\t' => b't',
            0x0c => b'f',
            b'\r' => b'r',
            0x80..=0xbf => b'-',
            0..=0x1f | 0xc0..=0xff => b'u',
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Apache Commons Lang 2 `StringEscapeUtils.escapeJavaScript`: escapes `"`, `'`, `\`,
/// `/`, control characters, and every non-ASCII UTF-16 unit as `\uXXXX` (uppercase hex).
/// Appended to `out`. Everything it writes is ASCII.
pub fn escape_javascript(s: &str, out: &mut Vec<u8>) {
    // A chunk of input at a time, written into the output's spare capacity by index: the
    // index stays in a register, where pushing each byte reloaded the length from memory
    // (a byte store may alias it).
    const CHUNK: usize = 64;
    // At most 6 bytes out per byte in (`\u0001`), plus a non-ASCII character starting at
    // the chunk's last byte (two `\uXXXX` units).
    const ROOM: usize = CHUNK * 6 + 12;
    let b = s.as_bytes();
    for (c0, chunk) in b.chunks(CHUNK).enumerate() {
        out.reserve(ROOM);
        let spare = out.spare_capacity_mut();
        let mut k = 0;
        let mut put = |x: u8| {
            if let Some(slot) = spare.get_mut(k) {
                slot.write(x);
                k += 1;
            }
        };
        for (j, &c) in chunk.iter().enumerate() {
            match JS_ESCAPES[usize::from(c)] {
                0 => put(c),
                b'-' => {}
                b'u' => {
                    let i = c0 * CHUNK + j;
                    let ch = s
                        .get(i..)
                        .and_then(|t| t.chars().next())
                        .unwrap_or('\u{fffd}');
                    let mut units = [0u16; 2];
                    for &unit in ch.encode_utf16(&mut units).iter() {
                        let hex = |k: u16| b"0123456789ABCDEF"[usize::from((unit >> k) & 0xf)];
                        for x in [b'\\', b'u', hex(12), hex(8), hex(4), hex(0)] {
                            put(x);
                        }
                    }
                }
                e => {
                    put(b'\\');
                    put(e);
                }
            }
        }
        let len = out.len() + k;
        // SAFETY: `put` wrote the first `k` bytes of the spare capacity (and never more
        // than it has).
        unsafe { out.set_len(len) };
    }
}

/// [`escape_javascript`] onto a string.
pub fn escape_javascript_string(s: &str, out: &mut String) {
    // SAFETY: `escape_javascript` only appends ASCII bytes, so the string stays UTF-8.
    escape_javascript(s, unsafe { out.as_mut_vec() });
}

/// Java `URLEncoder.encode(s, "UTF-8")`: form encoding, space → `+`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Java `URLDecoder.decode(s, "UTF-8")`; a malformed escape is an error (→ null).
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn regex(env: &mut Env<'_, '_>, pattern: &str, whole: bool) -> Option<Rc<fancy_regex::Regex>> {
    let key = if whole {
        format!("\u{0}{pattern}")
    } else {
        pattern.to_owned()
    };
    if let Some((_, r)) = env.regexes.iter().find(|(k, _)| *k == key) {
        return r.clone();
    }
    let src = if whole {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    let r = fancy_regex::RegexBuilder::new(&src)
        .backtrack_limit(100_000)
        .build()
        .ok()
        .map(Rc::new);
    if env.regexes.len() < MAX_CACHED_REGEXES {
        env.regexes.push((key, r.clone()));
    }
    r
}

/// Java replacement syntax (`$1`, `\$`) → fancy-regex's (`${1}`, `$$`).
fn java_replacement(rep: &str, groups: usize) -> String {
    let mut out = String::with_capacity(rep.len() + 4);
    let mut it = rep.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => {}
            },
            '$' => {
                let mut num = String::new();
                while let Some(&d) = it.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    let candidate: usize = format!("{num}{d}").parse().unwrap_or(usize::MAX);
                    if !num.is_empty() && candidate >= groups {
                        break;
                    }
                    num.push(d);
                    it.next();
                }
                if num.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{num}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Substring by character index (Java indexes UTF-16 units; identical for BMP text).
fn char_slice(s: &str, from: usize, to: usize) -> Option<&str> {
    if s.is_ascii() {
        return s.get(from..to);
    }
    let mut idx = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()));
    let start = idx.nth(from)?;
    let end = if to == from {
        start
    } else {
        idx.nth(to - from - 1)?
    };
    s.get(start..end)
}

fn char_index_of(s: &str, byte: usize) -> i64 {
    if s.is_ascii() {
        byte as i64
    } else {
        s[..byte].chars().count() as i64
    }
}

fn byte_index_of(s: &str, chars: usize) -> usize {
    if s.is_ascii() {
        chars.min(s.len())
    } else {
        s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
    }
}

fn string_method(env: &mut Env<'_, '_>, s: &Rc<str>, name: &str, args: &[Value]) -> Value {
    let a0 = || arg_str(args, 0);
    match name {
        "length" => Value::Int(char_len(s) as i64),
        "isEmpty" => Value::Bool(s.is_empty()),
        "toString" | "intern" => Value::Str(s.clone()),
        "toLowerCase" => Value::string(s.to_lowercase()),
        "toUpperCase" => Value::string(s.to_uppercase()),
        "trim" => Value::str(s.trim_matches(|c: char| c <= ' ')),
        "contains" => a0().map_or(Value::Null, |x| Value::Bool(s.contains(&*x))),
        "startsWith" => a0().map_or(Value::Null, |x| Value::Bool(s.starts_with(&*x))),
        "endsWith" => a0().map_or(Value::Null, |x| Value::Bool(s.ends_with(&*x))),
        "equals" => Value::Bool(
            args.first()
                .is_some_and(|a| matches!(a, Value::Str(x) if x == s)),
        ),
        "equalsIgnoreCase" => Value::Bool(
            matches!(args.first(), Some(Value::Str(x)) if x.to_lowercase() == s.to_lowercase()),
        ),
        "concat" => a0().map_or(Value::Null, |x| Value::string(format!("{s}{x}"))),
        "charAt" => arg_int(args, 0)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| s.chars().nth(i))
            .map_or(Value::Null, |c| Value::string(c.to_string())),
        "indexOf" | "lastIndexOf" => {
            let Some(x) = a0() else { return Value::Null };
            let from = arg_int(args, 1);
            let r = if name == "indexOf" {
                let start = byte_index_of(s, from.unwrap_or(0).max(0) as usize);
                s[start..].find(&*x).map(|i| i + start)
            } else {
                let end = from.map_or(s.len(), |f| {
                    (byte_index_of(s, f.max(0) as usize) + x.len()).min(s.len())
                });
                s[..end].rfind(&*x)
            };
            Value::Int(r.map_or(-1, |b| char_index_of(s, b)))
        }
        "substring" => {
            let Some(from) = arg_int(args, 0) else {
                return Value::Null;
            };
            let to = arg_int(args, 1).unwrap_or(char_len(s) as i64);
            if from < 0 || to < from {
                return Value::Null;
            }
            char_slice(s, from as usize, to as usize).map_or(Value::Null, Value::str)
        }
        "replace" => match (a0(), arg_str(args, 1)) {
            (Some(a), Some(b)) => Value::string(s.replace(&*a, &b)),
            _ => Value::Null,
        },
        "replaceAll" | "replaceFirst" => {
            let (Some(p), Some(rep)) = (a0(), arg_str(args, 1)) else {
                return Value::Null;
            };
            let Some(re) = regex(env, &p, false) else {
                return Value::Null;
            };
            let rep = java_replacement(&rep, re.captures_len());
            let limit = if name == "replaceAll" { 0 } else { 1 };
            match re.try_replacen(s, limit, rep.as_str()) {
                Ok(r) => Value::string(r.into_owned()),
                Err(_) => Value::Null,
            }
        }
        "matches" => {
            let Some(p) = a0() else { return Value::Null };
            match regex(env, &p, true) {
                Some(re) => re.is_match(&**s).map_or(Value::Null, Value::Bool),
                None => Value::Null,
            }
        }
        "split" => {
            let Some(p) = a0() else { return Value::Null };
            let Some(re) = regex(env, &p, false) else {
                return Value::Null;
            };
            let mut parts: Vec<Value> = Vec::new();
            let mut last = 0;
            for m in re.find_iter(&**s) {
                let Ok(m) = m else { return Value::Null };
                // Java: a zero-width match at the start never yields a leading "".
                if m.end() == 0 {
                    continue;
                }
                if m.start() == m.end() && m.start() == last && last != 0 {
                    continue;
                }
                parts.push(Value::str(&s[last..m.start()]));
                last = m.end();
            }
            parts.push(Value::str(&s[last..]));
            // Java drops trailing empty strings.
            while parts.len() > 1 && matches!(parts.last(), Some(Value::Str(x)) if x.is_empty()) {
                parts.pop();
            }
            if s.is_empty() {
                parts = vec![Value::str("")];
            }
            Value::new_list(parts, false)
        }
        "compareTo" => a0().map_or(Value::Null, |x| Value::Int(s.cmp(&x) as i64)),
        _ => Value::Null,
    }
}

fn list_method(recv: &Value, name: &str, args: &[Value]) -> Value {
    let Value::List(l) = recv else {
        return Value::Null;
    };
    let idx = |i: usize| arg_int(args, i).and_then(|n| usize::try_from(n).ok());
    match name {
        "size" => Value::Int(l.items.borrow().len() as i64),
        "isEmpty" => Value::Bool(l.items.borrow().is_empty()),
        "get" => idx(0)
            .and_then(|i| l.items.borrow().get(i).cloned())
            .unwrap_or_default(),
        "contains" => Value::Bool(args.first().is_some_and(|a| {
            l.items
                .borrow()
                .iter()
                .any(|x| strict_eq(x, a, 0) || loose_eq_str(x, a))
        })),
        "indexOf" => Value::Int(
            args.first()
                .and_then(|a| l.items.borrow().iter().position(|x| strict_eq(x, a, 0)))
                .map_or(-1, |i| i as i64),
        ),
        "add" => match args {
            [v] => {
                l.items.borrow_mut().push(v.clone());
                Value::Bool(true)
            }
            [_, v] => {
                let len = l.items.borrow().len();
                match idx(0).filter(|&i| i <= len) {
                    Some(i) => {
                        l.items.borrow_mut().insert(i, v.clone());
                        Value::Null
                    }
                    None => Value::Null,
                }
            }
            _ => Value::Null,
        },
        "addAll" => match args.first() {
            Some(Value::List(other)) => {
                let items = other.items.borrow().clone();
                l.items.borrow_mut().extend(items);
                Value::Bool(true)
            }
            _ => Value::Null,
        },
        "set" => match (idx(0), args.get(1)) {
            (Some(i), Some(v)) => l
                .items
                .borrow_mut()
                .get_mut(i)
                .map_or(Value::Null, |slot| std::mem::replace(slot, v.clone())),
            _ => Value::Null,
        },
        "remove" => match args.first() {
            Some(Value::Int(i)) => {
                let len = l.items.borrow().len();
                match usize::try_from(*i).ok().filter(|&i| i < len) {
                    Some(i) => l.items.borrow_mut().remove(i),
                    None => Value::Null,
                }
            }
            Some(v) => {
                let pos = l.items.borrow().iter().position(|x| strict_eq(x, v, 0));
                match pos {
                    Some(p) => {
                        l.items.borrow_mut().remove(p);
                        Value::Bool(true)
                    }
                    None => Value::Bool(false),
                }
            }
            None => Value::Null,
        },
        "clear" => {
            l.items.borrow_mut().clear();
            Value::Null
        }
        "toString" => Value::Str(recv.to_display()),
        "equals" => Value::Bool(args.first().is_some_and(|a| strict_eq(recv, a, 0))),
        _ => Value::Null,
    }
}

fn loose_eq_str(a: &Value, b: &Value) -> bool {
    matches!((a, b), (Value::Str(_), Value::Str(_))) && loose_eq(a, b)
}

fn map_method(recv: &Value, name: &str, args: &[Value]) -> Value {
    let Value::Map(m) = recv else {
        return Value::Null;
    };
    let key = || arg_str(args, 0);
    match name {
        "get" => key()
            .and_then(|k| m.entries.borrow().get(&*k).cloned())
            .unwrap_or_default(),
        "put" => match (key(), args.get(1)) {
            (Some(k), Some(v)) => m
                .entries
                .borrow_mut()
                .insert(k, v.clone())
                .unwrap_or_default(),
            _ => Value::Null,
        },
        "putAll" => {
            if let Some(Value::Map(other)) = args.first() {
                let items: Vec<_> = other
                    .entries
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                m.entries.borrow_mut().extend(items);
            }
            Value::Null
        }
        "remove" => key()
            .and_then(|k| m.entries.borrow_mut().shift_remove(&*k))
            .unwrap_or_default(),
        "containsKey" => Value::Bool(key().is_some_and(|k| m.entries.borrow().contains_key(&*k))),
        "containsValue" => Value::Bool(
            args.first()
                .is_some_and(|a| m.entries.borrow().values().any(|x| strict_eq(x, a, 0))),
        ),
        "keySet" => Value::new_list(
            m.entries
                .borrow()
                .keys()
                .map(|k| Value::Str(k.clone()))
                .collect(),
            false,
        ),
        "values" => Value::new_list(m.entries.borrow().values().cloned().collect(), false),
        "entrySet" => Value::new_list(
            m.entries
                .borrow()
                .iter()
                .map(|(k, v)| {
                    let mut e = Entries::default();
                    e.insert("key".into(), Value::Str(k.clone()));
                    e.insert("value".into(), v.clone());
                    Value::new_map(e, MapKind::Entry)
                })
                .collect(),
            false,
        ),
        "getKey" if m.kind == MapKind::Entry => {
            m.entries.borrow().get("key").cloned().unwrap_or_default()
        }
        "getValue" if m.kind == MapKind::Entry => {
            m.entries.borrow().get("value").cloned().unwrap_or_default()
        }
        "size" => Value::Int(m.entries.borrow().len() as i64),
        "isEmpty" => Value::Bool(m.entries.borrow().is_empty()),
        "clear" => {
            m.entries.borrow_mut().clear();
            Value::Null
        }
        "toString" => Value::Str(recv.to_display()),
        "equals" => Value::Bool(args.first().is_some_and(|a| strict_eq(recv, a, 0))),
        _ => Value::Null,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn escape_javascript_matches_commons_lang_at_every_chunk_boundary() {
        // The rules, one character at a time (what the chunked version must print).
        fn reference(s: &str) -> String {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\'' => out.push_str("\\'"),
                    '\\' => out.push_str("\\\\"),
                    '/' => out.push_str("\\/"),
                    '\u{8}' => out.push_str("\\b"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\u{c}' => out.push_str("\\f"),
                    '\r' => out.push_str("\\r"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04X}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out
        }
        let pieces = [
            "a",
            "\u{1}",
            "\u{7f}",
            "\u{e9}",
            "\u{20ac}",
            "\u{1F600}",
            "\"",
            "'",
            "\\",
            "/",
            "\u{8}",
            "\n",
            "\t",
            "\u{c}",
            "\r",
            "\u{1f}",
            " ",
        ];
        // Each piece placed across the 64-byte chunk boundaries (and the end), in plain
        // text and in text where every byte escapes.
        for piece in pieces {
            for fill in ["x", "\u{1}"] {
                for at in 56..=136 {
                    let mut s = fill.repeat(at);
                    s.push_str(piece);
                    s.push_str(&fill.repeat(70));
                    let mut out = b"kept".to_vec();
                    escape_javascript(&s, &mut out);
                    assert_eq!(out.get(..4), Some(&b"kept"[..]));
                    assert_eq!(std::str::from_utf8(&out[4..]).unwrap(), reference(&s));
                }
            }
        }
        let mut all = String::new();
        for c in (0..0x800u32)
            .chain(0xfff0..0x10010)
            .filter_map(char::from_u32)
        {
            all.push(c);
        }
        let mut out = Vec::new();
        escape_javascript(&all, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), reference(&all));
    }

    #[test]
    fn escapes() {
        let escape_javascript = |s: &str| {
            let mut out = String::from("x");
            super::escape_javascript_string(s, &mut out);
            out.split_off(1)
        };
        assert_eq!(escape_javascript("\"6\""), "\\\"6\\\"");
        assert_eq!(
            escape_javascript("it's a/b\n\u{e9}\u{1F600}"),
            "it\\'s a\\/b\\n\\u00E9\\uD83D\\uDE00"
        );
        assert_eq!(
            url_encode("{\"some\": \"value\"}"),
            "%7B%22some%22%3A+%22value%22%7D"
        );
        assert_eq!(url_encode("a*b-c_d.e~"), "a*b-c_d.e%7E");
        assert_eq!(url_decode("a+b%2B%7B").as_deref(), Some("a b+{"));
        assert_eq!(url_decode("%zz"), None);
    }

    #[test]
    fn java_replacements() {
        assert_eq!(java_replacement("$1-$2", 3), "${1}-${2}");
        assert_eq!(java_replacement("\\$1 $10", 2), "$$1 ${1}0");
    }
}
