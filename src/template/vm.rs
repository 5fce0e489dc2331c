//! The bytecode interpreter: one render of one template.
//!
//! Static text is copied from the template source straight into the output; values are
//! rendered in place (integers and strings without temporary allocation). Every
//! instruction spends fuel and the output is capped, so every render ends.

use std::collections::HashMap;
use std::rc::Rc;

use super::bytecode::{
    Const, Instr, Program, SLOT_CONTEXT, SLOT_FOREACH, SLOT_INPUT, SLOT_STAGE_VARIABLES, SLOT_UTIL,
    SLOT_VELOCITY_COUNT,
};
use super::error::{ErrorKind, TemplateError};
use super::value::{Builtin, Entries, LoopInfo, MapKind, Value, arith, compare, loose_eq};
use super::{
    IntegrationResponse, MAX_FOREACH_ITERATIONS, MAX_FUEL, MAX_OUTPUT_BYTES, RenderState,
    RequestData, builtins, json_doc,
};

/// Most `#foreach` loops open at once, and most values on the expression stack.
const MAX_LOOP_DEPTH: usize = 256;
const MAX_STACK: usize = 4096;
/// Largest list a range literal `[a..b]` may build.
pub const MAX_RANGE: i64 = 100_000;

/// Variable slots kept in an array on the stack rather than allocated.
const INLINE_SLOTS: usize = 16;

/// Names of a property chain whose tape nodes are remembered.
const CHAIN_CACHE: usize = 8;

/// The tape nodes the last `Path` resolved from a JSON root: `$r.a.b.x` then `$r.a.b.y`
/// look up only `y`. Valid while the document is unconverted (immutable).
#[derive(Default)]
struct ChainCache {
    doc: Option<Rc<json_doc::Doc>>,
    root: u32,
    depth: usize,
    names: [u32; CHAIN_CACHE],
    nodes: [u32; CHAIN_CACHE],
}

struct Loop {
    items: Vec<Value>,
    next: u32,
    slot: u32,
    exit: u32,
    saved_var: Value,
    saved_foreach: Value,
    saved_count: Value,
}

/// What builtins see of the running render.
pub struct Env<'r, 'a> {
    pub request: &'r RequestData<'a>,
    pub response: Option<&'r IntegrationResponse<'a>>,
    /// The body `$input` reads, parsed once on first use (`None` inside = not JSON).
    pub body_json: Option<Option<Value>>,
    pub regexes: HashMap<String, Option<Rc<fancy_regex::Regex>>>,
}

impl Env<'_, '_> {
    /// The raw body `$input` reads: the integration response's in a response template.
    pub fn body(&self) -> &[u8] {
        match self.response {
            Some(r) => r.body,
            None => self.request.body,
        }
    }

    /// The body parsed as JSON (empty body = `{}`, as API Gateway treats it).
    pub fn json_root(&mut self) -> Value {
        if self.body_json.is_none() {
            let body = self.body();
            let parsed = if body.iter().all(u8::is_ascii_whitespace) {
                Some(Value::empty_map(MapKind::Plain))
            } else {
                json_doc::parse_value(body)
            };
            self.body_json = Some(parsed);
        }
        self.body_json.clone().flatten().unwrap_or(Value::Null)
    }
}

pub fn run(
    p: &Program,
    source: &str,
    request: &RequestData<'_>,
    response: Option<&IntegrationResponse<'_>>,
    state: &mut RenderState,
    out: &mut Vec<u8>,
) -> Result<(), TemplateError> {
    let mut env = Env {
        request,
        response,
        body_json: None,
        regexes: HashMap::new(),
    };
    // Most templates have a handful of variables: their slots live on the stack.
    let mut inline_slots: [Value; INLINE_SLOTS] = Default::default();
    let mut heap_slots: Vec<Value>;
    let slots: &mut [Value] = if p.slot_count as usize <= INLINE_SLOTS {
        &mut inline_slots[..p.slot_count as usize]
    } else {
        heap_slots = vec![Value::Null; p.slot_count as usize];
        &mut heap_slots
    };
    slots[SLOT_INPUT as usize] = Value::Builtin(Builtin::Input);
    slots[SLOT_UTIL as usize] = Value::Builtin(Builtin::Util);
    let mut context_loaded = false;
    let mut stage_vars_loaded = false;
    let mut stack: Vec<Value> = Vec::with_capacity(16);
    let mut loops: Vec<Loop> = Vec::new();
    let mut captures: Vec<String> = Vec::new();
    let mut saved_args: Vec<Value> = Vec::new();
    let mut scratch = String::new();
    let mut chain_cache = ChainCache::default();
    let out_start = out.len();
    let mut fuel = MAX_FUEL;
    let mut pc = 0usize;

    macro_rules! pop {
        () => {
            stack.pop().unwrap_or(Value::Null)
        };
    }
    macro_rules! write_str {
        ($s:expr) => {{
            let b: &str = $s;
            match captures.last_mut() {
                Some(c) => {
                    c.push_str(b);
                    if c.len() > MAX_OUTPUT_BYTES {
                        return Err(too_large());
                    }
                }
                None => {
                    out.extend_from_slice(b.as_bytes());
                    if out.len() - out_start > MAX_OUTPUT_BYTES {
                        return Err(too_large());
                    }
                }
            }
        }};
    }

    while let Some(&ins) = p.code.get(pc) {
        fuel -= 1;
        if fuel == 0 {
            return Err(TemplateError::new(
                ErrorKind::FuelExhausted,
                format!("rendering took more than {MAX_FUEL} instructions"),
            ));
        }
        if stack.len() > MAX_STACK {
            return Err(TemplateError::new(
                ErrorKind::FuelExhausted,
                "expression stack overflow",
            ));
        }
        pc += 1;
        match ins {
            Instr::Text(s, e) => match source.get(s as usize..e as usize) {
                Some(text) => write_str!(text),
                // Spans end at ASCII delimiters, so this is not expected; keep the bytes.
                None => {
                    let bytes = source.as_bytes().get(s as usize..e as usize).unwrap_or(&[]);
                    write_str!(&String::from_utf8_lossy(bytes));
                }
            },
            Instr::Literal(k) => {
                if let Some(Const::Str(s)) = p.consts.get(k as usize) {
                    write_str!(s);
                }
            }
            Instr::Emit => {
                let v = pop!();
                match &v {
                    Value::Null => {}
                    Value::Str(s) => write_str!(s),
                    Value::Json(j) if j.doc.is_str(j.node) => {
                        write_str!(j.doc.str(j.node))
                    }
                    Value::Int(i) => {
                        let mut b = itoa::Buffer::new();
                        write_str!(b.format(*i));
                    }
                    other => {
                        scratch.clear();
                        scratch.reserve(other.size_hint());
                        other.write_display(&mut scratch);
                        write_str!(&scratch);
                    }
                }
            }
            Instr::EmitEscaped {
                escapes,
                start,
                end,
            } => {
                let v = pop!();
                let text = source.get(start as usize..end as usize).unwrap_or("");
                let mut s = String::new();
                // Velocity 1.7: `\$x` prints `$x` for a defined reference; an undefined one
                // keeps all its backslashes (checked against velocity-1.7.jar).
                if v.is_null() {
                    s.push_str(&"\\".repeat(escapes as usize));
                    s.push_str(text);
                } else {
                    s.push_str(&"\\".repeat(escapes as usize / 2));
                    if escapes % 2 == 1 {
                        s.push_str(text);
                    } else {
                        v.write_display(&mut s);
                    }
                }
                write_str!(&s);
            }
            Instr::Load(slot) => {
                if slot == SLOT_CONTEXT {
                    // The map is built only when something needs more than a field read (a
                    // mutation, an override object, the map itself).
                    load_context(&mut context_loaded, slots, state);
                    if matches!(
                        slots[SLOT_CONTEXT as usize],
                        Value::Builtin(Builtin::Context)
                    ) && !matches!(p.code.get(pc), Some(Instr::Attr(_)))
                    {
                        slots[SLOT_CONTEXT as usize] = context_map(state, request);
                    }
                } else if slot == SLOT_STAGE_VARIABLES && !stage_vars_loaded {
                    stage_vars_loaded = true;
                    let mut e = Entries::default();
                    for (k, v) in request.stage_variables {
                        e.insert((*k).into(), Value::str(v));
                    }
                    slots[SLOT_STAGE_VARIABLES as usize] = Value::new_map(e, MapKind::Plain);
                }
                stack.push(slots.get(slot as usize).cloned().unwrap_or(Value::Null));
            }
            Instr::Const(k) => stack.push(match p.consts.get(k as usize) {
                Some(Const::Str(s)) => Value::str(s),
                Some(Const::Int(i)) => Value::Int(*i),
                Some(Const::Float(f)) => Value::Float(*f),
                Some(Const::Bool(b)) => Value::Bool(*b),
                None => Value::Null,
            }),
            Instr::Attr(n) => {
                let recv = pop!();
                let name = p.names.get(n as usize).map_or("", |s| s);
                let field = match recv {
                    Value::Builtin(Builtin::Context) => {
                        super::context_field(&request.context, name).map_err(|()| {
                            if name == "identity"
                                && state.context.is_none()
                                && matches!(p.code.get(pc), Some(Instr::Attr(_)))
                            {
                                Value::Builtin(Builtin::Identity)
                            } else if let Some(o) = state.override_object(name) {
                                o
                            } else {
                                let ctx = context_map(state, request);
                                slots[SLOT_CONTEXT as usize] = ctx.clone();
                                builtins::property(&mut env, &ctx, name)
                            }
                        })
                    }
                    Value::Builtin(Builtin::Identity) => {
                        super::identity_field(&request.context.identity, name).map_err(|()| {
                            let ctx = context_map(state, request);
                            slots[SLOT_CONTEXT as usize] = ctx.clone();
                            let id = builtins::property(&mut env, &ctx, "identity");
                            builtins::property(&mut env, &id, name)
                        })
                    }
                    other => Err(builtins::property(&mut env, &other, name)),
                };
                match field {
                    // A field printed right away goes to the output without a copy.
                    Ok(text) if p.code.get(pc) == Some(&Instr::Emit) => {
                        pc += 1;
                        if let Some(t) = text {
                            write_str!(t);
                        }
                    }
                    Ok(text) => stack.push(text.map_or(Value::Null, Value::str)),
                    Err(v) => stack.push(v),
                }
            }
            Instr::Path { slot, start, len } => {
                let chain = p
                    .chains
                    .get(start as usize..start as usize + len as usize)
                    .unwrap_or(&[]);
                let name = |n: u32| p.names.get(n as usize).map_or("", |s| s);
                let root = slots.get(slot as usize).unwrap_or(&Value::Null);
                let mut rest = chain;
                let mut v = match root {
                    // Straight down the tape while members exist and nothing was converted
                    // (the tape is then immutable, so earlier lookups stay true).
                    Value::Json(j) if j.doc.unconverted() => {
                        let (doc, mut node) = (&j.doc, j.node);
                        let mut depth = 0;
                        if chain_cache.doc.as_ref().is_some_and(|d| Rc::ptr_eq(d, doc))
                            && chain_cache.root == node
                        {
                            // Resume after the prefix the previous chain resolved.
                            while let Some((&n, tail)) = rest.split_first() {
                                if depth >= chain_cache.depth || chain_cache.names[depth] != n {
                                    break;
                                }
                                node = chain_cache.nodes[depth];
                                depth += 1;
                                rest = tail;
                            }
                        } else {
                            chain_cache.doc = Some(doc.clone());
                            chain_cache.root = node;
                        }
                        while let Some((&n, tail)) = rest.split_first() {
                            let sig = p.name_sigs.get(n as usize).copied().unwrap_or(0);
                            match doc.get_sig(node, name(n), sig) {
                                Some(c) => node = c,
                                None => break,
                            }
                            if depth < CHAIN_CACHE {
                                chain_cache.names[depth] = n;
                                chain_cache.nodes[depth] = node;
                            }
                            depth += 1;
                            rest = tail;
                        }
                        chain_cache.depth = depth.min(CHAIN_CACHE);
                        // A string printed right away goes to the output without a value.
                        if rest.is_empty()
                            && doc.is_str(node)
                            && p.code.get(pc) == Some(&Instr::Emit)
                        {
                            pc += 1;
                            write_str!(doc.str(node));
                            continue;
                        }
                        json_doc::Doc::value(doc, node)
                    }
                    other => other.clone(),
                };
                for &n in rest {
                    v = builtins::property(&mut env, &v, name(n));
                }
                stack.push(v);
            }
            Instr::Call { name, argc } => {
                let at = stack.len().saturating_sub(argc as usize);
                let name = p.names.get(name as usize).map_or("", |s| s);
                // Receiver and arguments are read in place on the stack, then dropped.
                let v = {
                    let (head, args) = stack.split_at(at);
                    builtins::call(&mut env, head.last().unwrap_or(&Value::Null), name, args)
                };
                stack.truncate(at.saturating_sub(1));
                if let Value::Str(s) = &v {
                    if s.len() > MAX_OUTPUT_BYTES {
                        return Err(too_large());
                    }
                }
                stack.push(v);
            }
            Instr::Index => {
                let key = pop!();
                let recv = pop!();
                stack.push(builtins::index(&recv, &key));
            }
            Instr::InputPath(i) => {
                let root = env.json_root();
                stack.push(
                    p.paths
                        .get(i as usize)
                        .map_or(Value::Null, |path| path.eval(&root)),
                );
            }
            Instr::InputJson(i) => {
                let root = env.json_root();
                let v = p
                    .paths
                    .get(i as usize)
                    .map_or(Value::Null, |path| path.eval(&root));
                if p.code.get(pc) == Some(&Instr::Emit) {
                    // Printed right away: written once, without a string value.
                    pc += 1;
                    if !v.is_null() {
                        scratch.clear();
                        scratch.reserve(v.size_hint());
                        v.write_json(&mut scratch, 0);
                        write_str!(&scratch);
                    }
                } else {
                    stack.push(builtins::to_json_string(&v));
                }
            }
            Instr::ContextField {
                field,
                name,
                identity,
            } => {
                // Exactly `Load($context)` then `.identity` and/or `.name`.
                load_context(&mut context_loaded, slots, state);
                if matches!(
                    slots[SLOT_CONTEXT as usize],
                    Value::Builtin(Builtin::Context)
                ) {
                    let c = &request.context;
                    let text = if identity {
                        super::identity_field_at(&c.identity, field)
                    } else {
                        super::context_field_at(c, field)
                    };
                    if p.code.get(pc) == Some(&Instr::Emit) {
                        pc += 1;
                        if let Some(t) = text {
                            write_str!(t);
                        }
                    } else {
                        stack.push(text.map_or(Value::Null, Value::str));
                    }
                } else {
                    let ctx = slots[SLOT_CONTEXT as usize].clone();
                    let name = p.names.get(name as usize).map_or("", |s| s);
                    let v = if identity {
                        let id = builtins::property(&mut env, &ctx, "identity");
                        builtins::property(&mut env, &id, name)
                    } else {
                        builtins::property(&mut env, &ctx, name)
                    };
                    stack.push(v);
                }
            }
            Instr::InputParam(k) => {
                let name = match p.consts.get(k as usize) {
                    Some(Const::Str(s)) => s,
                    _ => "",
                };
                let value = builtins::param(&env, name).unwrap_or("");
                // Printed right away: straight from the request, without a string value.
                if p.code.get(pc) == Some(&Instr::Emit) {
                    pc += 1;
                    write_str!(value);
                } else {
                    stack.push(Value::str(value));
                }
            }
            Instr::MakeList(n) => {
                let at = stack.len().saturating_sub(n as usize);
                let items: Vec<Value> = stack.drain(at..).collect();
                stack.push(Value::new_list(items, false));
            }
            Instr::MakeMap(n) => {
                let at = stack.len().saturating_sub(2 * n as usize);
                let items: Vec<Value> = stack.drain(at..).collect();
                let mut e = Entries::default();
                for kv in items.chunks(2) {
                    if let [k, v] = kv {
                        e.insert(k.to_display(), v.clone());
                    }
                }
                stack.push(Value::new_map(e, MapKind::Plain));
            }
            Instr::MakeRange => {
                let b = pop!();
                let a = pop!();
                stack.push(match (a.as_i64(), b.as_i64()) {
                    (Some(a), Some(b)) => {
                        if (b - a).abs() >= MAX_RANGE {
                            return Err(TemplateError::new(
                                ErrorKind::OutputTooLarge,
                                format!("range [{a}..{b}] has more than {MAX_RANGE} items"),
                            ));
                        }
                        let items: Vec<Value> = if a <= b {
                            (a..=b).map(Value::Int).collect()
                        } else {
                            (b..=a).rev().map(Value::Int).collect()
                        };
                        Value::new_list(items, false)
                    }
                    _ => Value::Null,
                });
            }
            Instr::Bin(op) => {
                use super::ast::BinOp;
                let b = pop!();
                let a = pop!();
                let ord = || compare(&a, &b);
                stack.push(match op {
                    BinOp::Eq => Value::Bool(loose_eq(&a, &b)),
                    BinOp::Ne => Value::Bool(!loose_eq(&a, &b)),
                    BinOp::Lt => Value::Bool(ord().is_some_and(|o| o.is_lt())),
                    BinOp::Le => Value::Bool(ord().is_some_and(|o| o.is_le())),
                    BinOp::Gt => Value::Bool(ord().is_some_and(|o| o.is_gt())),
                    BinOp::Ge => Value::Bool(ord().is_some_and(|o| o.is_ge())),
                    BinOp::And => Value::Bool(a.truthy() && b.truthy()),
                    BinOp::Or => Value::Bool(a.truthy() || b.truthy()),
                    _ => {
                        let v = arith(op, &a, &b);
                        if let Value::Str(s) = &v {
                            if s.len() > MAX_OUTPUT_BYTES {
                                return Err(too_large());
                            }
                        }
                        v
                    }
                });
            }
            Instr::Not => {
                let v = pop!();
                stack.push(Value::Bool(!v.truthy()));
            }
            Instr::Neg => {
                let v = pop!();
                stack.push(match v {
                    Value::Int(i) => i
                        .checked_neg()
                        .map_or(Value::Float(-(i as f64)), Value::Int),
                    Value::Float(f) => Value::Float(-f),
                    _ => Value::Null,
                });
            }
            Instr::ToBool => {
                let v = pop!();
                stack.push(Value::Bool(v.truthy()));
            }
            Instr::Pop => {
                stack.pop();
            }
            Instr::Jump(t) => pc = t as usize,
            Instr::JumpIfFalse(t) => {
                if !pop!().truthy() {
                    pc = t as usize;
                }
            }
            Instr::AndJump(t) => {
                if stack.last().is_some_and(|v| !v.truthy()) {
                    pc = t as usize;
                } else {
                    stack.pop();
                }
            }
            Instr::OrJump(t) => {
                if stack.last().is_some_and(Value::truthy) {
                    pc = t as usize;
                } else {
                    stack.pop();
                }
            }
            Instr::Store(slot) => {
                let v = pop!();
                // Velocity 1.7 (directive.set.null.allowed=false): #set to null is a no-op.
                if !v.is_null() {
                    if let Some(s) = slots.get_mut(slot as usize) {
                        *s = v;
                    }
                }
            }
            Instr::SetAttr(n) => {
                let v = pop!();
                let recv = pop!();
                if !v.is_null() {
                    if let Value::Map(m) = &*recv.norm() {
                        let name = p.names.get(n as usize).map_or("", |s| s);
                        m.entries.borrow_mut().insert(name.into(), v);
                    }
                }
            }
            Instr::SetIndex => {
                let v = pop!();
                let key = pop!();
                let recv = pop!();
                if !v.is_null() {
                    builtins::set_index(&recv, &key, v);
                }
            }
            Instr::ForStart { slot, exit } => {
                let iterable = pop!();
                if loops.len() >= MAX_LOOP_DEPTH {
                    return Err(TemplateError::new(
                        ErrorKind::FuelExhausted,
                        "too many nested #foreach loops",
                    ));
                }
                let items = builtins::iterate(&iterable);
                let saved_var = slots.get(slot as usize).cloned().unwrap_or_default();
                loops.push(Loop {
                    items,
                    next: 0,
                    slot,
                    exit,
                    saved_var,
                    saved_foreach: slots[SLOT_FOREACH as usize].clone(),
                    saved_count: slots[SLOT_VELOCITY_COUNT as usize].clone(),
                });
            }
            Instr::ForNext => {
                let Some(l) = loops.last_mut() else { continue };
                let len = u32::try_from(l.items.len()).unwrap_or(u32::MAX);
                if l.next < len && l.next < MAX_FOREACH_ITERATIONS {
                    let i = l.next;
                    l.next += 1;
                    let item = std::mem::take(&mut l.items[i as usize]);
                    if let Some(s) = slots.get_mut(l.slot as usize) {
                        *s = item;
                    }
                    slots[SLOT_FOREACH as usize] = Value::Loop(LoopInfo { index: i, len });
                    slots[SLOT_VELOCITY_COUNT as usize] = Value::Int(i64::from(i) + 1);
                } else {
                    pc = close_loop(&mut loops, slots);
                }
            }
            Instr::Break => {
                if !loops.is_empty() {
                    pc = close_loop(&mut loops, slots);
                }
            }
            Instr::Stop => break,
            Instr::CaptureStart => captures.push(String::new()),
            Instr::CaptureEnd => {
                let s = captures.pop().unwrap_or_default();
                stack.push(Value::string(s));
            }
            Instr::BindArg(slot) => {
                let v = pop!();
                if let Some(s) = slots.get_mut(slot as usize) {
                    saved_args.push(std::mem::replace(s, v));
                }
            }
            Instr::UnbindArg(slot) => {
                let v = saved_args.pop().unwrap_or_default();
                if let Some(s) = slots.get_mut(slot as usize) {
                    *s = v;
                }
            }
        }
    }
    // `#stop` inside a string literal drops what that string captured, as Velocity does.
    Ok(())
}

/// The request's `$context` map, built on first need and kept in `state` for the
/// response template.
/// Puts `$context` in its slot on first use in a render: the map if a template already built
/// it, otherwise the lazy builtin whose fields are read straight from the request.
#[inline]
fn load_context(loaded: &mut bool, slots: &mut [Value], state: &RenderState) {
    if !*loaded {
        *loaded = true;
        slots[SLOT_CONTEXT as usize] = match &state.context {
            Some(ctx) => ctx.clone(),
            None => Value::Builtin(Builtin::Context),
        };
    }
}

fn context_map(state: &mut RenderState, request: &RequestData<'_>) -> Value {
    state
        .context
        .get_or_insert_with(|| {
            super::build_context(
                &request.context,
                state.request_override.take(),
                state.response_override.take(),
            )
        })
        .clone()
}

/// Pops the innermost loop, restoring `$var`, `$foreach` and `$velocityCount` as
/// Velocity 1.7 does after a `#foreach`, and returns the loop's exit address.
fn close_loop(loops: &mut Vec<Loop>, slots: &mut [Value]) -> usize {
    let Some(l) = loops.pop() else {
        return usize::MAX;
    };
    if let Some(s) = slots.get_mut(l.slot as usize) {
        *s = l.saved_var;
    }
    slots[SLOT_FOREACH as usize] = l.saved_foreach;
    slots[SLOT_VELOCITY_COUNT as usize] = l.saved_count;
    l.exit as usize
}

fn too_large() -> TemplateError {
    TemplateError::new(
        ErrorKind::OutputTooLarge,
        format!("rendered output passed {MAX_OUTPUT_BYTES} bytes"),
    )
}
