//! The bytecode interpreter: one render of one template.
//!
//! Static text is copied from the template source straight into the output; values are
//! rendered in place (integers and strings without temporary allocation). Every
//! instruction spends fuel and the output is capped, so every render ends.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::rc::Rc;

use super::bytecode::{
    CHAIN_INDEX, ChainKey, Const, Instr, LOOP_PROPS, Program, RunItem, SLOT_CONTEXT, SLOT_FOREACH,
    SLOT_INPUT, SLOT_STAGE_VARIABLES, SLOT_UTIL, SLOT_VELOCITY_COUNT, TEXT_SLACK, UtilFn,
};
use super::copy::{append, copy_short};
use super::error::{ErrorKind, TemplateError};
use super::scratch;
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

/// A thread's render buffers (see `scratch` for why they are kept): the variable slots,
/// the stack, the member hints and the rest ([`Tools`]). A render takes the workspace in
/// one thread-local access, works in its buffers where they are (borrowed, [`run`]), and
/// leaves them as the next render expects them: the slots `$input`, `$util`, then `Null`s;
/// the other buffers empty.
///
/// Why in place: a render used to move each buffer out of the workspace and back, and
/// fill and empty the slots, and that was a third of the fixed cost of a small template's
/// render, more in time than in instructions (each move's loads waited on the one before).
#[derive(Default)]
struct Workspace {
    slots: Vec<Value>,
    stack: Vec<Value>,
    /// Member hints by program (its address: a program at a reused address only gets
    /// wrong guesses, which the lookup checks anyway), most recently used last, at most
    /// [`HINT_PROGRAMS`].
    hints: Vec<(usize, Vec<u32>)>,
    tools: Tools,
}

/// The less used buffers of a [`Workspace`].
#[derive(Default)]
struct Tools {
    loops: Vec<Loop>,
    saved_args: Vec<Value>,
    scratch: String,
    /// At most [`scratch::MAX_SPARES`].
    items: Vec<Vec<Value>>,
}

thread_local! {
    /// `None` while a render has it (a render inside a render makes its own).
    static WORKSPACE: Cell<Option<Box<Workspace>>> = const { Cell::new(None) };
}

impl Drop for Vm<'_, '_, '_, '_, '_> {
    fn drop(&mut self) {
        drop(std::mem::take(&mut *self.env.regexes));
        scratch::empty(self.stack);
        let ws = &mut *self.ws;
        // Loops left open by `#stop`, `#break` or an error give their items back too.
        while let Some(l) = ws.loops.pop() {
            spare_items(&mut ws.items, l.items);
        }
        scratch::empty(&mut ws.loops);
        scratch::empty(&mut ws.saved_args);
        scratch::empty(&mut ws.scratch);
    }
}

/// Keeps a closed loop's item list for the next loop, emptied (unless there are enough).
fn spare_items(spares: &mut Vec<Vec<Value>>, items: Items) {
    if let Items::List(items) = items
        && spares.len() < scratch::MAX_SPARES
        && items.capacity() > 0
    {
        spares.push(scratch::emptied(items));
    }
}

/// Programs whose member hints a thread keeps (most recently used last).
const HINT_PROGRAMS: usize = 16;

/// Program `p`'s member hints in `table`, moved to its end (the most recently used),
/// with a new entry (the oldest one going) the first time.
fn hints_of<'t>(table: &'t mut Vec<(usize, Vec<u32>)>, p: &Program) -> &'t mut [u32] {
    if p.chains.is_empty() {
        return &mut [];
    }
    let key = std::ptr::from_ref(p) as usize;
    // Most often the program rendered last, at the end.
    if !matches!(table.last(), Some((k, _)) if *k == key) {
        // `remove`, not `swap_remove`: the order is the recency that eviction reads.
        let entry = match table.iter().rposition(|(k, _)| *k == key) {
            Some(at) => table.remove(at),
            None => {
                if table.len() >= HINT_PROGRAMS {
                    table.remove(0);
                }
                (key, Vec::new())
            }
        };
        table.push(entry);
    }
    match table.last_mut() {
        Some((_, hints)) => {
            if hints.len() != p.chains.len() {
                *hints = vec![0; p.chains.len()];
            }
            hints
        }
        None => &mut [],
    }
}

/// What a `#foreach` walks.
enum Items {
    /// The items, copied when the loop opened (lists, maps, converted JSON).
    List(Vec<Value>),
    /// A JSON array or object nothing had converted when the loop opened, walked straight
    /// off its tape: the document, the container's node and the tape position of the next
    /// item (of an object, of the next member's key). Why: a list of the items cost a value
    /// and a reference count for each item before the body ran once.
    Tape {
        doc: Rc<json_doc::Doc>,
        container: u32,
        cursor: u32,
    },
}

struct Loop {
    items: Items,
    /// How many items there are.
    len: u32,
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
    /// Regexes compiled in this render, by pattern (a few: a list costs nothing to create,
    /// unlike a map with its random seed).
    /// Dropped by the VM (`ManuallyDrop`: see its buffers).
    pub regexes: ManuallyDrop<Vec<(String, Option<Rc<fancy_regex::Regex>>)>>,
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
        self.parse_body();
        self.body_json.clone().flatten().unwrap_or_default()
    }

    /// Parses the body into `body_json`, the first time.
    fn parse_body(&mut self) {
        if self.body_json.is_none() {
            let body = self.body();
            let parsed = if body.iter().all(u8::is_ascii_whitespace) {
                Some(Value::empty_map(MapKind::Plain))
            } else {
                json_doc::parse_value(body)
            };
            self.body_json = Some(parsed);
        }
    }
}

/// Where rendered text goes: the output, or the innermost open string capture
/// (an interpolated string literal being built).
struct Sink<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    captures: Vec<Vec<u8>>,
}

impl Sink<'_> {
    /// Its own body rather than `write_with(|out| append(out, b))`: through the closure,
    /// with `append` in one place, the VM loop compiled worse (052 +46, 066 +47
    /// instructions per render).
    #[inline(always)]
    fn write(&mut self, b: &[u8]) -> Result<(), TemplateError> {
        let len = match self.captures.last_mut() {
            None => {
                append(self.out, b);
                self.out.len() - self.start
            }
            Some(c) => {
                append(c, b);
                c.len()
            }
        };
        if len > MAX_OUTPUT_BYTES {
            return Err(too_large());
        }
        Ok(())
    }

    /// Has `w` append to where the text goes, then checks the output's size.
    #[inline(always)]
    fn write_with(&mut self, w: impl FnOnce(&mut Vec<u8>)) -> Result<(), TemplateError> {
        let (to, start) = match self.captures.last_mut() {
            None => (&mut *self.out, self.start),
            Some(c) => (c, 0),
        };
        w(to);
        if to.len() - start > MAX_OUTPUT_BYTES {
            return Err(too_large());
        }
        Ok(())
    }

    /// Writes `text[s..e]`, where `text` has [`TEXT_SLACK`] readable bytes past `e`: a
    /// span of up to that many bytes goes into the output as one fixed-size block (only
    /// its own bytes are kept), without a branch on its length.
    #[inline(always)]
    fn write_text(&mut self, text: &[u8], s: usize, e: usize) -> Result<(), TemplateError> {
        let n = e.saturating_sub(s);
        let out = &mut *self.out;
        if self.captures.is_empty()
            && n <= TEXT_SLACK
            && out.capacity() - out.len() >= TEXT_SLACK
            && let Some(block) = text.get(s..s + TEXT_SLACK)
        {
            let len = out.len();
            // SAFETY: `TEXT_SLACK` bytes fit the spare capacity checked above and are read
            // from within `text`; the `n` bytes kept were just written.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    block.as_ptr(),
                    out.as_mut_ptr().add(len),
                    TEXT_SLACK,
                );
                out.set_len(len + n);
            }
            if out.len() - self.start > MAX_OUTPUT_BYTES {
                return Err(too_large());
            }
            return Ok(());
        }
        self.write(text.get(s..e).unwrap_or(&[]))
    }

    /// [`Self::write_text`] of `text[s..e]`, then `b`: the text block and a short `b`
    /// (most printed members) in one step, with one check of the room and of the size.
    /// `write_text` keeps its own body: as this with an empty `b`, it cost 052, 055 and
    /// 056 about 70 instructions a render more.
    #[inline(always)]
    fn write_text_then(
        &mut self,
        text: &[u8],
        s: usize,
        e: usize,
        b: &[u8],
    ) -> Result<(), TemplateError> {
        let n = e.saturating_sub(s);
        let out = &mut *self.out;
        if self.captures.is_empty()
            && n <= TEXT_SLACK
            && b.len() <= 32
            && out.capacity() - out.len() >= TEXT_SLACK + 32
            && let Some(block) = text.get(s..s + TEXT_SLACK)
        {
            let len = out.len();
            // SAFETY: `TEXT_SLACK` bytes, then `b` (at most 32) from `n <= TEXT_SLACK` on,
            // fit the spare capacity checked above; the block is read from within `text`,
            // and neither source overlaps the output's spare capacity. The `n + b.len()`
            // bytes kept were just written.
            unsafe {
                let dst = out.as_mut_ptr().add(len);
                std::ptr::copy_nonoverlapping(block.as_ptr(), dst, TEXT_SLACK);
                copy_short(b, dst.add(n));
                out.set_len(len + n + b.len());
            }
            if out.len() - self.start > MAX_OUTPUT_BYTES {
                return Err(too_large());
            }
            return Ok(());
        }
        self.write_text(text, s, e)?;
        self.write(b)
    }
}

/// The state of one render besides the program counter and the output. The loop in
/// [`run`] keeps only the instruction fetch and the hottest arms inline; everything else
/// is a method here, so the loop's own state stays in registers.
struct Vm<'p, 'r, 'a, 's, 'w> {
    p: &'p Program,
    env: Env<'r, 'a>,
    state: &'s mut RenderState,
    /// The buffers of the thread's [`Workspace`], borrowed for the render.
    slots: &'w mut [Value],
    stack: &'w mut Vec<Value>,
    ws: &'w mut Tools,
    chain_cache: ChainCache,
    /// Per element of `p.chains`: where its member was found last time (see
    /// [`json_doc::Doc::get_hinted`]), kept per thread across renders of this program.
    hints: &'w mut [u32],
    context_loaded: bool,
    stage_vars_loaded: bool,
    fuel: u64,
}

pub fn run(
    p: &Program,
    source: &str,
    request: &RequestData<'_>,
    response: Option<&IntegrationResponse<'_>>,
    state: &mut RenderState,
    out: &mut Vec<u8>,
) -> Result<(), TemplateError> {
    let mut ws = WORKSPACE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_default();
    let Workspace {
        slots,
        stack,
        hints,
        tools,
    } = &mut *ws;
    // As many variable slots as the program has. Between renders the workspace's slots
    // hold `$input` and `$util`, then `Null`s (see below), so a render starts with them
    // as they are (a fixed array on the stack cost a write and a drop for each of its
    // entries, used or not; filling a list, a write for each).
    let n = p.slot_count as usize;
    debug_assert!(n > SLOT_UTIL as usize);
    const _: () = assert!(SLOT_INPUT == 0 && SLOT_UTIL == 1);
    if slots.len() < n {
        if slots.is_empty() {
            slots.push(Value::Builtin(Builtin::Input));
            slots.push(Value::Builtin(Builtin::Util));
        }
        slots.resize(n, Value::Null);
    }
    let slots = slots.get_mut(..n).unwrap_or_default();
    // Before the state is built, so that it is built in place.
    let hints = hints_of(hints, p);
    let result = run_in(
        Vm {
            p,
            env: Env {
                request,
                response,
                body_json: None,
                regexes: ManuallyDrop::new(Vec::new()),
            },
            state,
            slots: &mut *slots,
            stack,
            ws: tools,
            chain_cache: ChainCache::default(),
            hints,
            context_loaded: false,
            stage_vars_loaded: false,
            fuel: MAX_FUEL,
        },
        source,
        out,
    );
    // Left as the next render expects them (a template may have set `$input` itself).
    if let [input, util, rest @ ..] = slots {
        input.set(Value::Builtin(Builtin::Input));
        util.set(Value::Builtin(Builtin::Util));
        // Most slots of a short template were never set: a test each.
        for v in rest {
            if !matches!(v, Value::Null) {
                Value::discard(std::mem::take(v));
            }
        }
    }
    // Kept sized for the largest program, but no larger than any other kept buffer
    // (give or take the list's growth: `n`, in a register, is what is tested).
    if n * size_of::<Value>() > scratch::MAX_KEPT_BYTES {
        ws.slots = Vec::new();
    }
    // A workspace given back by a render inside this one is replaced (one is enough). A
    // render that panics drops its workspace, so one left mid-render is never reused.
    let _ = WORKSPACE.try_with(|w| w.set(Some(ws)));
    result
}

/// The instruction loop of a render.
#[inline(always)]
fn run_in(
    mut vm: Vm<'_, '_, '_, '_, '_>,
    source: &str,
    out: &mut Vec<u8>,
) -> Result<(), TemplateError> {
    let p = vm.p;
    let mut sink = Sink {
        start: out.len(),
        out,
        captures: Vec::new(),
    };
    let code = &p.code[..];
    let text = &p.text[..];
    let mut pc = 0usize;
    // Fuel and the stack bound are checked once per loop iteration (in `ForNext`): without
    // a loop the code runs straight through, and its length is bounded at compile time.
    while let Some(ins) = code.get(pc) {
        pc += 1;
        // Instructions that produce a value printed right away print it themselves and
        // skip the `Emit`, so strings go from the request or the body to the output
        // without becoming values (looked up only by those instructions).
        let emit_next = || matches!(code.get(pc), Some(Instr::Emit));
        match *ins {
            // Spans end at ASCII delimiters, so they are whole UTF-8 sequences.
            Instr::Text(s, e) => sink.write_text(text, s as usize, e as usize)?,
            Instr::Emit => {
                let v = vm.pop();
                vm.emit(&v, &mut sink)?;
            }
            Instr::Path { slot, start, len } => {
                let emit = emit_next();
                vm.path(slot, start, len, emit, &mut sink)?;
                pc += usize::from(emit);
            }
            Instr::TextPath {
                text: k,
                start,
                slot,
                len,
                emit,
            } => {
                let (s, e) = p.texts.get(k as usize).copied().unwrap_or((0, 0));
                // A one-name member printed from the body: with its text, in one write.
                if emit
                    && len == 1
                    && let Some(t) = vm.member_text(slot.into(), start)
                {
                    sink.write_text_then(text, s as usize, e as usize, t)?;
                    continue;
                }
                sink.write_text(text, s as usize, e as usize)?;
                vm.path(slot.into(), start, len.into(), emit, &mut sink)?;
            }
            Instr::PathRun { slot, first, count } => {
                vm.path_run(slot.into(), first, count, text, &mut sink)?;
            }
            Instr::Attr(n) => {
                let next_attr = matches!(code.get(pc), Some(Instr::Attr(_)));
                let emit = emit_next();
                vm.attr(n, next_attr, emit, &mut sink)?;
                pc += usize::from(emit);
            }
            Instr::Load(slot) => {
                let next_attr = matches!(code.get(pc), Some(Instr::Attr(_)));
                vm.load(slot, next_attr);
            }
            Instr::LoopProp(k) => {
                let emit = emit_next();
                vm.loop_prop(k, emit, &mut sink)?;
                pc += usize::from(emit);
            }
            Instr::ForNext => {
                if let Some(exit) = vm.for_next(pc)? {
                    pc = exit;
                }
            }
            Instr::Jump(t) => pc = t as usize,
            Instr::LoopPropText { k, s, e } => {
                if vm.loop_prop_value(k).truthy() {
                    sink.write_text(text, s as usize, e as usize)?;
                }
            }
            Instr::UnlessLoopProp { k, target } => {
                if !vm.loop_prop_value(k).truthy() {
                    pc = target as usize;
                }
            }
            Instr::JumpIfFalse(t) => {
                let v = vm.pop();
                if !v.truthy() {
                    pc = t as usize;
                }
                Value::discard(v);
            }
            Instr::Store(slot) => {
                let v = vm.pop();
                // Velocity 1.7 (directive.set.null.allowed=false): #set to null is a no-op.
                if !v.is_null() {
                    if let Some(s) = vm.slots.get_mut(slot as usize) {
                        *s = v;
                    }
                }
            }
            Instr::Literal(k) => {
                if let Some(Const::Str(s)) = p.consts.get(k as usize) {
                    sink.write(s.as_bytes())?;
                }
            }
            Instr::ContextField {
                field,
                name,
                identity,
            } => {
                let emit = emit_next();
                vm.context_field(field, name, identity, emit, &mut sink)?;
                pc += usize::from(emit);
            }
            Instr::InputParam(k) => {
                let emit = emit_next();
                vm.input_param(k, emit, &mut sink)?;
                pc += usize::from(emit);
            }
            Instr::InputPath(i) => vm.input_path(i),
            Instr::InputJson(i) => {
                // `$util.escapeJavaScript($input.json(..))` printed (the way AWS's examples
                // put JSON into a string): the JSON goes to the output escaped, in one step.
                let escaped = matches!(
                    code.get(pc),
                    Some(Instr::Util {
                        f: UtilFn::EscapeJavaScript,
                        argc: 1,
                        ..
                    })
                ) && matches!(code.get(pc + 1), Some(Instr::Emit));
                let emit = escaped || emit_next();
                vm.input_json(i, emit, escaped, &mut sink)?;
                pc += usize::from(emit) + usize::from(escaped);
            }
            Instr::Util { f, argc } => {
                let emit = emit_next();
                if vm.util(f, argc, emit, &mut sink)? {
                    pc += 1;
                }
            }
            Instr::Call { name, argc } => vm.call(name, argc)?,
            Instr::Const(k) => vm.constant(k),
            Instr::EmitEscaped {
                escapes,
                start,
                end,
            } => {
                let v = vm.pop();
                let src = source.get(start as usize..end as usize).unwrap_or("");
                emit_escaped(&v, escapes, src, &mut sink)?;
            }
            Instr::Index => {
                let key = vm.pop();
                let recv = vm.pop();
                vm.stack.push(builtins::index(&recv, &key));
            }
            Instr::MakeList(n) => vm.make_list(n),
            Instr::MakeMap(n) => vm.make_map(n),
            Instr::MakeRange => vm.make_range()?,
            Instr::Bin(op) => vm.bin(op)?,
            Instr::Not => {
                let v = vm.pop();
                vm.stack.push(Value::Bool(!v.truthy()));
            }
            Instr::Neg => {
                let v = vm.pop();
                vm.stack.push(match v {
                    Value::Int(i) => i
                        .checked_neg()
                        .map_or(Value::Float(-(i as f64)), Value::Int),
                    Value::Float(f) => Value::Float(-f),
                    _ => Value::Null,
                });
            }
            Instr::ToBool => {
                let v = vm.pop();
                vm.stack.push(Value::Bool(v.truthy()));
            }
            Instr::Pop => {
                vm.stack.pop();
            }
            Instr::AndJump(t) => {
                if vm.stack.last().is_some_and(|v| !v.truthy()) {
                    pc = t as usize;
                } else {
                    vm.stack.pop();
                }
            }
            Instr::OrJump(t) => {
                if vm.stack.last().is_some_and(Value::truthy) {
                    pc = t as usize;
                } else {
                    vm.stack.pop();
                }
            }
            Instr::SetAttr(n) => vm.set_attr(n),
            Instr::SetResponseStatus { skip } => {
                if vm.pend_response_status() {
                    pc = skip as usize;
                }
            }
            Instr::SetIndex => {
                let v = vm.pop();
                let key = vm.pop();
                let recv = vm.pop();
                if !v.is_null() {
                    builtins::set_index(&recv, &key, v);
                }
            }
            Instr::ForStart { slot, exit } => vm.for_start(slot, exit)?,
            Instr::Break => {
                if !vm.ws.loops.is_empty() {
                    pc = close_loop(vm.ws, vm.slots);
                }
            }
            Instr::Stop => break,
            Instr::CaptureStart => sink.captures.push(Vec::new()),
            Instr::CaptureEnd => {
                let s = sink.captures.pop().unwrap_or_default();
                // Everything written is `str` or whole UTF-8 sequences of the source.
                let s = String::from_utf8(s)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                vm.stack.push(Value::string(s));
            }
            Instr::BindArg(slot) => {
                let v = vm.pop();
                if let Some(s) = vm.slots.get_mut(slot as usize) {
                    vm.ws.saved_args.push(std::mem::replace(s, v));
                }
            }
            Instr::UnbindArg(slot) => {
                let v = vm.ws.saved_args.pop().unwrap_or_default();
                if let Some(s) = vm.slots.get_mut(slot as usize) {
                    *s = v;
                }
            }
        }
    }
    // `#stop` inside a string literal drops what that string captured, as Velocity does.
    Ok(())
}

/// `\$x` / `\\$x`: Velocity 1.7 prints `$x` for a defined reference; an undefined one
/// keeps all its backslashes (checked against velocity-1.7.jar).
#[cold]
fn emit_escaped(
    v: &Value,
    escapes: u32,
    text: &str,
    sink: &mut Sink<'_>,
) -> Result<(), TemplateError> {
    let mut s = String::new();
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
    sink.write(s.as_bytes())
}

impl Vm<'_, '_, '_, '_, '_> {
    #[inline]
    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or_default()
    }

    /// Prints a value (`null` prints nothing, as in API Gateway).
    #[inline]
    fn emit(&mut self, v: &Value, sink: &mut Sink<'_>) -> Result<(), TemplateError> {
        match v {
            Value::Null => Ok(()),
            Value::Str(s) => sink.write(s.as_bytes()),
            Value::Json(j) if j.doc.is_str(j.node) => sink.write(j.doc.str(j.node).as_bytes()),
            Value::Int(i) => {
                let mut b = itoa::Buffer::new();
                sink.write(b.format(*i).as_bytes())
            }
            Value::Bool(b) => sink.write(if *b { b"true" } else { b"false" }),
            other => {
                self.ws.scratch.clear();
                self.ws.scratch.reserve(other.size_hint());
                other.write_display(&mut self.ws.scratch);
                sink.write(self.ws.scratch.as_bytes())
            }
        }
    }

    /// Pushes `v`, or prints it when the next instruction is the `Emit` that would.
    #[inline]
    fn give(&mut self, v: Value, emit: bool, sink: &mut Sink<'_>) -> Result<(), TemplateError> {
        if emit {
            self.emit(&v, sink)
        } else {
            self.stack.push(v);
            Ok(())
        }
    }

    /// Puts `$context` in its slot on first use in a render: the map if a template already
    /// built it, otherwise the lazy builtin whose fields are read straight from the request.
    #[inline]
    fn load_context(&mut self) {
        if !self.context_loaded {
            self.context_loaded = true;
            self.slots[SLOT_CONTEXT as usize] = match &self.state.context {
                Some(ctx) => ctx.clone(),
                None => Value::Builtin(Builtin::Context),
            };
        }
    }

    /// The request's `$context` map, built on first need and kept in `state` for the
    /// response template; also put in its slot.
    fn context_map(&mut self) -> Value {
        let request = self.env.request;
        let state = &mut *self.state;
        let ctx = match &state.context {
            Some(ctx) => ctx.clone(),
            None => {
                let response_override = state.take_response_override();
                let ctx = super::build_context(
                    &request.context,
                    state.request_override.take(),
                    response_override,
                );
                state.context = Some(ctx.clone());
                ctx
            }
        };
        self.slots[SLOT_CONTEXT as usize] = ctx.clone();
        ctx
    }

    fn load(&mut self, slot: u32, next_attr: bool) {
        if slot == SLOT_CONTEXT {
            // The map is built only when something needs more than a field read (a
            // mutation, an override object, the map itself).
            self.load_context();
            if matches!(
                self.slots[SLOT_CONTEXT as usize],
                Value::Builtin(Builtin::Context)
            ) && !next_attr
            {
                self.context_map();
            }
        } else if slot == SLOT_STAGE_VARIABLES && !self.stage_vars_loaded {
            self.stage_vars_loaded = true;
            let mut e = Entries::default();
            for (k, v) in self.env.request.stage_variables {
                e.insert((*k).into(), Value::str(v));
            }
            self.slots[SLOT_STAGE_VARIABLES as usize] = Value::new_map(e, MapKind::Plain);
        }
        let v = self.slots.get(slot as usize).cloned().unwrap_or_default();
        self.stack.push(v);
    }

    /// `$foreach.<LOOP_PROPS[k]>`, computed from the loop's position without a lookup by
    /// name (unless `$foreach` holds something else, which is asked by name).
    #[inline]
    fn loop_prop(&mut self, k: u32, emit: bool, sink: &mut Sink<'_>) -> Result<(), TemplateError> {
        let v = self.loop_prop_value(k);
        self.give(v, emit, sink)
    }

    #[inline]
    fn loop_prop_value(&mut self, k: u32) -> Value {
        match &self.slots[SLOT_FOREACH as usize] {
            Value::Loop(l) => builtins::loop_prop(l, k as usize),
            _ => self.loop_prop_by_name(k),
        }
    }

    /// `$foreach.<LOOP_PROPS[k]>` when `$foreach` is not a loop's position (set by the
    /// template, or outside a loop): a property lookup by name. Out of line, so the loop
    /// case stays small where it is inlined.
    #[inline(never)]
    fn loop_prop_by_name(&mut self, k: u32) -> Value {
        let recv = self.slots[SLOT_FOREACH as usize].clone();
        let name = LOOP_PROPS.get(k as usize).copied().unwrap_or("");
        builtins::property(&mut self.env, &recv, name)
    }

    fn constant(&mut self, k: u32) {
        let v = match self.p.consts.get(k as usize) {
            Some(Const::Str(s)) => Value::str(s),
            Some(Const::Int(i)) => Value::Int(*i),
            Some(Const::Float(f)) => Value::Float(*f),
            Some(Const::Bool(b)) => Value::Bool(*b),
            None => Value::Null,
        };
        self.stack.push(v);
    }

    fn attr(
        &mut self,
        n: u32,
        next_attr: bool,
        emit: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        let recv = self.pop();
        let p = self.p;
        let name = name_of(p, n);
        let request = self.env.request;
        let field = match recv {
            Value::Builtin(Builtin::Context) => super::context_field(&request.context, name)
                .map_err(|()| {
                    if name == "identity" && self.state.context.is_none() && next_attr {
                        Value::Builtin(Builtin::Identity)
                    } else if let Some(o) = self.state.override_object(name) {
                        o
                    } else {
                        let ctx = self.context_map();
                        builtins::property(&mut self.env, &ctx, name)
                    }
                }),
            Value::Builtin(Builtin::Identity) => {
                super::identity_field(&request.context.identity, name).map_err(|()| {
                    let ctx = self.context_map();
                    let id = builtins::property(&mut self.env, &ctx, "identity");
                    builtins::property(&mut self.env, &id, name)
                })
            }
            other => Err(builtins::property(&mut self.env, &other, name)),
        };
        match field {
            // A field printed right away goes to the output without a copy.
            Ok(Some(text)) if emit => sink.write(text.as_bytes()),
            Ok(None) if emit => Ok(()),
            Ok(text) => {
                self.stack.push(text.map_or(Value::Null, Value::str));
                Ok(())
            }
            Err(v) => self.give(v, emit, sink),
        }
    }

    /// What `$var.name` prints when `$var` is a JSON object (read-only so far) whose member
    /// `name` prints as its text, or `None` to take the general [`Self::path`]. The common
    /// reference of a loop body (`$elem.id`), so it skips the chain cache: one name shares
    /// no prefix with the reference before it.
    ///
    /// The lookup the hint answers is inline; a miss is a call in tail position, so the
    /// common case keeps nothing in callee-saved registers across a call (their saving and
    /// restoring was a fifth of the function).
    #[inline]
    fn member_text(&mut self, slot: u32, at: u32) -> Option<&[u8]> {
        let Value::Json(j) = self.slots.get(slot as usize)? else {
            return None;
        };
        let doc = &*j.doc;
        if !doc.unconverted() {
            return None;
        }
        let k = self.p.chain_keys.get(at as usize)?;
        let hint = self.hints.get_mut(at as usize)?;
        printed_member(doc, j.node, k, hint)
    }

    /// A [`Instr::PathRun`]: each item as its `TextPath` would print it, with the object
    /// its last name is looked up in found once, from the first item's chain. An item
    /// whose member is missing or does not print as it is written (a container, `null`,
    /// a converted document) goes the way of its `TextPath`.
    #[inline(never)]
    fn path_run(
        &mut self,
        slot: u32,
        first: u32,
        count: u32,
        text: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        let p = self.p;
        let items = p
            .runs
            .get(first as usize..first as usize + count as usize)
            .unwrap_or(&[]);
        // The document held here rather than borrowed from the slot for each item (which
        // cost more than the reference count).
        let base = items.first().and_then(|it| self.run_base(slot, it));
        for it in items {
            let (s, e) = (it.s as usize, it.e as usize);
            // The last name's key and hint, as the item's own walk would use them.
            let at = (it.start as usize + usize::from(it.len)).wrapping_sub(1);
            if let Some((doc, obj)) = &base
                && doc.unconverted()
                && let (Some(k), Some(hint)) = (p.chain_keys.get(at), self.hints.get_mut(at))
                && let Some(t) = printed_member(doc, *obj, k, hint)
            {
                sink.write_text_then(text, s, e, t)?;
                continue;
            }
            self.run_item_walked(slot, it, text, sink)?;
        }
        Ok(())
    }

    /// A [`Instr::PathRun`] item that does not print from the run's object: its
    /// `TextPath`. Out of line, so the run's loop keeps its state in registers.
    #[cold]
    #[inline(never)]
    fn run_item_walked(
        &mut self,
        slot: u32,
        it: &RunItem,
        text: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        sink.write_text(text, it.s as usize, it.e as usize)?;
        self.path(slot, it.start, it.len.into(), true, sink)
    }

    /// The document of `slot`'s value and the node its chain `it` but the last name
    /// reaches, while nothing in that document was converted.
    fn run_base(&mut self, slot: u32, it: &RunItem) -> Option<(Rc<json_doc::Doc>, u32)> {
        let p = self.p;
        let Value::Json(j) = self.slots.get(slot as usize)? else {
            return None;
        };
        if !j.doc.unconverted() {
            return None;
        }
        let start = it.start as usize;
        let chain = p
            .chains
            .get(start..start + usize::from(it.len).checked_sub(1)?)?;
        if chain.is_empty() {
            return Some((j.doc.clone(), j.node));
        }
        // Through the chain cache, so a run after a reference that shares its prefix
        // (`$e.detail.a.x` after `$e.detail.b.y`) resumes after it, and a reference after
        // the run resumes after the run's object.
        let cache = &mut self.chain_cache;
        let (node, depth) = walk_tape(p, cache, self.hints, &j.doc, j.node, chain, start);
        (depth == chain.len()).then(|| (j.doc.clone(), node))
    }

    /// `$var.a.b.c` in one step: straight down the JSON tape while members exist and
    /// nothing was converted (the tape is then immutable, so earlier lookups stay true).
    #[inline(always)]
    fn path(
        &mut self,
        slot: u32,
        start: u32,
        len: u32,
        emit: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        if emit
            && len == 1
            && let Some(t) = self.member_text(slot, start)
        {
            return sink.write(t);
        }
        let p = self.p;
        let chain = p
            .chains
            .get(start as usize..start as usize + len as usize)
            .unwrap_or(&[]);
        let name = |n: u32| name_of(p, n);
        let root = self.slots.get(slot as usize).unwrap_or(&Value::Null);
        let mut rest = chain;
        let mut v = match root {
            Value::Json(j) if j.doc.unconverted() => {
                let doc = &j.doc;
                let (node, depth) = walk_tape(
                    p,
                    &mut self.chain_cache,
                    self.hints,
                    doc,
                    j.node,
                    chain,
                    start as usize,
                );
                // What a miss left (or an index on anything but an array: an object's
                // member "0") goes to `builtins::index` or `property` below, as an
                // `Index` or `Attr` would.
                rest = chain.get(depth..).unwrap_or(&[]);
                if rest.is_empty() && emit {
                    // A string or a number printed right away goes to the output from the
                    // body's text, without a value.
                    if let Some(t) = doc.printed_bytes(node) {
                        return sink.write(t);
                    }
                }
                json_doc::Doc::value(doc, node)
            }
            other => other.clone(),
        };
        for &n in rest {
            v = if n & CHAIN_INDEX != 0 {
                builtins::index(&v, &Value::Int(i64::from(n & !CHAIN_INDEX)))
            } else {
                builtins::property(&mut self.env, &v, name(n))
            };
        }
        self.give(v, emit, sink)
    }

    fn call(&mut self, name: u32, argc: u32) -> Result<(), TemplateError> {
        let at = self.stack.len().saturating_sub(argc as usize);
        let name = name_of(self.p, name);
        // Receiver and arguments are read in place on the stack, then dropped.
        let v = {
            let (head, args) = self.stack.split_at(at);
            builtins::call(
                &mut self.env,
                head.last().unwrap_or(&Value::Null),
                name,
                args,
            )
        };
        self.stack.truncate(at.saturating_sub(1));
        self.stack.push(within_cap(v)?);
        Ok(())
    }

    /// `$util.<f>` of the top `argc` values. Returns whether it printed the result (only
    /// when `emit`, the result being printed right away).
    fn util(
        &mut self,
        f: UtilFn,
        argc: u16,
        emit: bool,
        sink: &mut Sink<'_>,
    ) -> Result<bool, TemplateError> {
        let at = self.stack.len().saturating_sub(argc.into());
        let args = self.stack.get(at..).unwrap_or(&[]);
        if emit && f == UtilFn::EscapeJavaScript {
            sink.write_with(|out| builtins::escape_javascript_arg(args, out))?;
            self.stack.truncate(at);
            return Ok(true);
        }
        let v = builtins::util_call(f, args);
        self.stack.truncate(at);
        self.stack.push(within_cap(v)?);
        Ok(false)
    }

    /// JSONPath `i` of the program over the body (`$input.path` / `$input.json`).
    fn eval_path(&mut self, i: u32) -> Value {
        let root = self.env.json_root();
        self.p
            .paths
            .get(i as usize)
            .map_or(Value::Null, |path| path.eval_owned(root))
    }

    fn input_path(&mut self, i: u32) {
        let v = self.eval_path(i);
        self.stack.push(v);
    }

    /// `$input.json(path i)`; `emit`: printed right away (`escaped`: as
    /// `$util.escapeJavaScript` prints it).
    fn input_json(
        &mut self,
        i: u32,
        emit: bool,
        escaped: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        if emit && self.input_json_from_tape(i, escaped, sink)? {
            return Ok(());
        }
        let v = self.eval_path(i);
        if emit {
            // Printed right away: written once, without a string value.
            if v.is_null() {
                return Ok(());
            }
            print_json(&mut self.ws.scratch, v.size_hint(), escaped, sink, |json| {
                v.write_json(json, 0)
            })
        } else {
            self.stack.push(builtins::to_json_string(&v));
            Ok(())
        }
    }

    /// `$input.json(path i)` printed straight from the body's tape, without a value for
    /// the node found (a handle to make and drop, and a dispatch on it): what a definite
    /// path over a body nothing has converted does. `false` when it is not that case.
    fn input_json_from_tape(
        &mut self,
        i: u32,
        escaped: bool,
        sink: &mut Sink<'_>,
    ) -> Result<bool, TemplateError> {
        self.env.parse_body();
        let (Some(Some(Value::Json(root))), Some(path)) =
            (&self.env.body_json, self.p.paths.get(i as usize))
        else {
            return Ok(false);
        };
        if !path.is_definite() || !root.doc.unconverted() {
            return Ok(false);
        }
        // Absent, or `null`: prints nothing, as a null value does.
        let Some(node) = path
            .node_in(&root.doc, root.node)
            .filter(|&n| !root.doc.is_null(n))
        else {
            return Ok(true);
        };
        // Room for the node's text as written (compact JSON is no longer, escapes aside)
        // and a block more: short pieces are then copied inline, not with `memcpy`.
        let room = root.doc.text_len(node) + 32;
        print_json(&mut self.ws.scratch, room, escaped, sink, |json| {
            json_doc::Doc::write_json(&root.doc, node, json, 0)
        })?;
        Ok(true)
    }

    /// Exactly `Load($context)` then `.identity` and/or `.name`.
    fn context_field(
        &mut self,
        field: u32,
        name: u32,
        identity: bool,
        emit: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        self.load_context();
        if matches!(
            self.slots[SLOT_CONTEXT as usize],
            Value::Builtin(Builtin::Context)
        ) {
            let c = &self.env.request.context;
            let text = if identity {
                super::identity_field_at(&c.identity, field)
            } else {
                super::context_field_at(c, field)
            };
            if emit {
                return text.map_or(Ok(()), |t| sink.write(t.as_bytes()));
            }
            self.stack.push(text.map_or(Value::Null, Value::str));
            return Ok(());
        }
        let ctx = self.slots[SLOT_CONTEXT as usize].clone();
        let name = name_of(self.p, name);
        let v = if identity {
            let id = builtins::property(&mut self.env, &ctx, "identity");
            builtins::property(&mut self.env, &id, name)
        } else {
            builtins::property(&mut self.env, &ctx, name)
        };
        self.give(v, emit, sink)
    }

    fn input_param(
        &mut self,
        k: u32,
        emit: bool,
        sink: &mut Sink<'_>,
    ) -> Result<(), TemplateError> {
        let name = match self.p.consts.get(k as usize) {
            Some(Const::Str(s)) => s,
            _ => "",
        };
        let value = builtins::param(&self.env, name).unwrap_or("");
        // Printed right away: straight from the request, without a string value.
        if emit {
            sink.write(value.as_bytes())
        } else {
            self.stack.push(Value::str(value));
            Ok(())
        }
    }

    fn make_list(&mut self, n: u32) {
        let at = self.stack.len().saturating_sub(n as usize);
        let items: Vec<Value> = self.stack.drain(at..).collect();
        self.stack.push(Value::new_list(items, false));
    }

    fn make_map(&mut self, n: u32) {
        let at = self.stack.len().saturating_sub(2 * n as usize);
        let items: Vec<Value> = self.stack.drain(at..).collect();
        let mut e = Entries::default();
        for kv in items.chunks(2) {
            if let [k, v] = kv {
                e.insert(k.to_display(), v.clone());
            }
        }
        self.stack.push(Value::new_map(e, MapKind::Plain));
    }

    fn make_range(&mut self) -> Result<(), TemplateError> {
        let b = self.pop();
        let a = self.pop();
        let v = match (a.as_i64(), b.as_i64()) {
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
        };
        self.stack.push(v);
        Ok(())
    }

    fn bin(&mut self, op: super::ast::BinOp) -> Result<(), TemplateError> {
        use super::ast::BinOp;
        let b = self.pop();
        let a = self.pop();
        let ord = || compare(&a, &b);
        let v = match op {
            BinOp::Eq => Value::Bool(loose_eq(&a, &b)),
            BinOp::Ne => Value::Bool(!loose_eq(&a, &b)),
            BinOp::Lt => Value::Bool(ord().is_some_and(|o| o.is_lt())),
            BinOp::Le => Value::Bool(ord().is_some_and(|o| o.is_le())),
            BinOp::Gt => Value::Bool(ord().is_some_and(|o| o.is_gt())),
            BinOp::Ge => Value::Bool(ord().is_some_and(|o| o.is_ge())),
            BinOp::And => Value::Bool(a.truthy() && b.truthy()),
            BinOp::Or => Value::Bool(a.truthy() || b.truthy()),
            _ => within_cap(arith(op, &a, &b))?,
        };
        self.stack.push(v);
        Ok(())
    }

    fn set_attr(&mut self, n: u32) {
        let v = self.pop();
        let recv = self.pop();
        if !v.is_null() {
            if let Value::Map(m) = &*recv.norm() {
                let name = name_of(self.p, n);
                m.entries.borrow_mut().insert(name.into(), v);
            }
        }
    }

    /// `#set($context.responseOverride.status = v)` with `v` on the stack: while `$context`
    /// is the request's and neither it nor the override object was built, pops `v` into
    /// the render state as the pending status (folded into the object if one is built
    /// later) and returns true; otherwise leaves `v` for the general code that follows.
    fn pend_response_status(&mut self) -> bool {
        self.load_context();
        let state = &mut *self.state;
        if state.context.is_some()
            || state.response_override.is_some()
            || !matches!(
                self.slots[SLOT_CONTEXT as usize],
                Value::Builtin(Builtin::Context)
            )
        {
            return false;
        }
        let v = self.stack.pop().unwrap_or_default();
        // Velocity 1.7: `#set` to null leaves the property as it was.
        if !v.is_null() {
            state.pending_status = Some(v);
        }
        true
    }

    fn for_start(&mut self, slot: u32, exit: u32) -> Result<(), TemplateError> {
        let iterable = self.pop();
        if self.ws.loops.len() >= MAX_LOOP_DEPTH {
            return Err(TemplateError::new(
                ErrorKind::FuelExhausted,
                "too many nested #foreach loops",
            ));
        }
        let (items, len) = match &iterable {
            Value::Json(j) if j.doc.is_container(j.node) && j.doc.converted(j.node).is_none() => {
                let items = Items::Tape {
                    doc: j.doc.clone(),
                    container: j.node,
                    cursor: j.node + 1,
                };
                (items, j.doc.len(j.node))
            }
            _ => {
                let mut items = self.ws.items.pop().unwrap_or_default();
                builtins::iterate(&iterable, &mut items);
                let len = items.len();
                (Items::List(items), len)
            }
        };
        let saved_var = self.slots.get(slot as usize).cloned().unwrap_or_default();
        self.ws.loops.push(Loop {
            items,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            next: 0,
            slot,
            exit,
            saved_var,
            saved_foreach: self.slots[SLOT_FOREACH as usize].clone(),
            saved_count: self.slots[SLOT_VELOCITY_COUNT as usize].clone(),
        });
        Ok(())
    }

    /// Binds the next item of the innermost loop, or closes it and returns its exit.
    /// Each iteration spends fuel for the whole body (at most what it can run).
    fn for_next(&mut self, pc: usize) -> Result<Option<usize>, TemplateError> {
        let Some(l) = self.ws.loops.last_mut() else {
            return Ok(None);
        };
        let body = (l.exit as usize).saturating_sub(pc) as u64 + 1;
        self.fuel = self.fuel.saturating_sub(body);
        if self.fuel == 0 {
            return Err(TemplateError::new(
                ErrorKind::FuelExhausted,
                format!("rendering took more than {MAX_FUEL} instructions"),
            ));
        }
        if self.stack.len() > MAX_STACK {
            return Err(TemplateError::new(
                ErrorKind::FuelExhausted,
                "expression stack overflow",
            ));
        }
        let len = l.len;
        let item = if l.next >= len || l.next >= MAX_FOREACH_ITERATIONS {
            None
        } else {
            match &mut l.items {
                Items::Tape {
                    doc,
                    container,
                    cursor,
                } => doc.next_item(*container, *cursor).map(|(value, next)| {
                    *cursor = next;
                    json_doc::Doc::value(doc, value)
                }),
                Items::List(items) => items.get_mut(l.next as usize).map(std::mem::take),
            }
        };
        if let Some(item) = item {
            let i = l.next;
            l.next += 1;
            if let Some(s) = self.slots.get_mut(l.slot as usize) {
                s.set(item);
            }
            self.slots[SLOT_FOREACH as usize].set(Value::Loop(LoopInfo { index: i, len }));
            self.slots[SLOT_VELOCITY_COUNT as usize].set(Value::Int(i64::from(i) + 1));
            Ok(None)
        } else {
            Ok(Some(close_loop(self.ws, self.slots)))
        }
    }
}

/// Pops the innermost loop, restoring `$var`, `$foreach` and `$velocityCount` as
/// Velocity 1.7 does after a `#foreach`, and returns the loop's exit address.
fn close_loop(ws: &mut Tools, slots: &mut [Value]) -> usize {
    let Some(l) = ws.loops.pop() else {
        return usize::MAX;
    };
    spare_items(&mut ws.items, l.items);
    if let Some(s) = slots.get_mut(l.slot as usize) {
        s.set(l.saved_var);
    }
    slots[SLOT_FOREACH as usize].set(l.saved_foreach);
    slots[SLOT_VELOCITY_COUNT as usize].set(l.saved_count);
    l.exit as usize
}

/// One step of a chain down the tape: from `node`, element `at` of the program's chains
/// (`n`, a name or a constant index), looked up where its hint says first. `None` when the
/// tape cannot answer: a missing member, or an index on anything but an array.
#[inline(always)]
fn tape_step(
    p: &Program,
    hints: &mut [u32],
    doc: &json_doc::Doc,
    node: u32,
    n: u32,
    at: usize,
) -> Option<u32> {
    if n & CHAIN_INDEX != 0 {
        return doc.item(node, (n & !CHAIN_INDEX) as usize);
    }
    let (k, hint) = (p.chain_keys.get(at)?, hints.get_mut(at)?);
    doc.get_hinted(node, &k.name, k.sig, hint)
}

/// Prints the JSON `write` makes (`$input.json`'s), through `scratch` with `room` reserved
/// in it; `escaped`: as `$util.escapeJavaScript` prints it.
#[inline(always)]
fn print_json(
    scratch: &mut String,
    room: usize,
    escaped: bool,
    sink: &mut Sink<'_>,
    write: impl FnOnce(&mut String),
) -> Result<(), TemplateError> {
    scratch.clear();
    scratch.reserve(room);
    write(scratch);
    if escaped {
        sink.write_with(|out| builtins::escape_javascript(scratch, out))
    } else {
        sink.write(scratch.as_bytes())
    }
}

/// Walks `chain` (the program's chain elements from index `start`) down the tape of `doc`
/// from `node`, first through the prefix the previous walk from the same node resolved
/// (`cache`), then by hinted lookups, recording the walk for the next one. Returns the
/// node reached and how many elements it resolved (a miss ends the walk early). The
/// document must be unconverted: its tape, and so every earlier walk, then holds.
#[inline(always)]
fn walk_tape(
    p: &Program,
    cache: &mut ChainCache,
    hints: &mut [u32],
    doc: &Rc<json_doc::Doc>,
    mut node: u32,
    chain: &[u32],
    start: usize,
) -> (u32, usize) {
    let mut rest = chain;
    let mut depth = 0;
    let same_doc = cache.doc.as_ref().is_some_and(|d| Rc::ptr_eq(d, doc));
    if same_doc && cache.root == node {
        // Resume after the prefix the previous chain resolved.
        while let Some((&n, tail)) = rest.split_first() {
            if depth >= cache.depth || cache.names[depth] != n {
                break;
            }
            node = cache.nodes[depth];
            depth += 1;
            rest = tail;
        }
    } else {
        // Another root in the same document (the next item of a loop) keeps the
        // document's reference as it is.
        if !same_doc {
            cache.doc = Some(doc.clone());
        }
        cache.root = node;
    }
    while let Some((&n, tail)) = rest.split_first() {
        match tape_step(p, hints, doc, node, n, start + depth) {
            Some(c) => node = c,
            None => break,
        }
        if depth < CHAIN_CACHE {
            cache.names[depth] = n;
            cache.nodes[depth] = node;
        }
        depth += 1;
        rest = tail;
    }
    cache.depth = depth.min(CHAIN_CACHE);
    (node, depth)
}

/// The text of member `k` of object `obj` as printed (`None` when it is missing or does not
/// print as written), looked up where `hint` says first; a miss is out of line.
#[inline(always)]
fn printed_member<'d>(
    doc: &'d json_doc::Doc,
    obj: u32,
    k: &ChainKey,
    hint: &mut u32,
) -> Option<&'d [u8]> {
    match doc.at_hint(obj, &k.name, k.sig, *hint) {
        Some(node) => doc.printed_bytes(node),
        None => printed_member_missed(doc, obj, k, hint),
    }
}

/// [`printed_member`] when the hint did not hold: the lookup, which updates the hint.
#[cold]
#[inline(never)]
fn printed_member_missed<'d>(
    doc: &'d json_doc::Doc,
    obj: u32,
    k: &ChainKey,
    hint: &mut u32,
) -> Option<&'d [u8]> {
    let node = doc.get_and_hint(obj, &k.name, k.sig, hint)?;
    doc.printed_bytes(node)
}

/// Name `n` of the program's name table.
fn name_of(p: &Program, n: u32) -> &str {
    p.names.get(n as usize).map_or("", |s| s)
}

/// A string value a template built (call result, `+` of strings) past the output cap is an
/// error, like output past it.
fn within_cap(v: Value) -> Result<Value, TemplateError> {
    match &v {
        Value::Str(s) if s.len() > MAX_OUTPUT_BYTES => Err(too_large()),
        _ => Ok(v),
    }
}

fn too_large() -> TemplateError {
    TemplateError::new(
        ErrorKind::OutputTooLarge,
        format!("rendered output passed {MAX_OUTPUT_BYTES} bytes"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        crate::template::tests::render(src).unwrap()
    }

    fn kept_slots() -> usize {
        WORKSPACE.with(|w| {
            let ws = w.take();
            let n = ws.as_ref().map_or(0, |ws| ws.slots.capacity());
            w.set(ws);
            n
        })
    }

    #[test]
    fn the_workspace_keeps_slots_for_a_usual_program_but_not_a_huge_one() {
        assert_eq!(render("#set($a = 1)$a"), "1");
        assert!(kept_slots() > 0, "slots kept for the next render");
        // More variables than a kept buffer may hold.
        let n = scratch::MAX_KEPT_BYTES / size_of::<Value>() + 10;
        let src: String = (0..n).map(|k| format!("#set($v{k} = {k})")).collect();
        assert_eq!(render(&format!("{src}$v7")), "7");
        assert_eq!(kept_slots(), 0, "a huge program's slots are not kept");
        assert_eq!(render("[$!v7]$input.path('$')"), "[]{}");
    }
}
