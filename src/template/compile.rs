//! AST → [`Program`]: resolves variable names to slots, lowers control flow to jumps,
//! expands macros inline and pre-parses literal JSONPaths.

use std::collections::HashMap;

use super::ast::{Accessor, BinOp, Expr, Macro, Node, Reference, Span};
use super::bytecode::{
    CHAIN_INDEX, ChainKey, Const, Instr, LOOP_PROPS, PREDEFINED, Program, RunItem, SLOT_FOREACH,
    SLOT_UTIL, TEXT_SLACK, UtilFn,
};
use super::error::{ErrorKind, TemplateError};
use super::json_path::JsonPath;

/// Deepest macro expansion (a macro calling a macro ...), and the most instructions a
/// template may compile to, so recursive or fan-out macros cannot blow up compile time.
const MAX_MACRO_DEPTH: u32 = 16;
const MAX_CODE_LEN: usize = 1 << 20;

struct Compiler<'m> {
    p: Program,
    slots: HashMap<String, u32>,
    names: HashMap<String, u32>,
    macros: &'m HashMap<String, Macro>,
    source: &'m str,
    macro_depth: u32,
    /// Whether `$util.<function>(..)` compiles to [`Instr::Util`]: only while nothing in
    /// the template can rebind `$util`.
    util_calls: bool,
}

pub fn compile(
    nodes: &[Node],
    macros: &HashMap<String, Macro>,
    source: &str,
) -> Result<Program, TemplateError> {
    let p = compile_with(nodes, macros, source, true)?;
    // A template that rebinds `$util` (`#set`, a macro parameter, a `#foreach` variable)
    // calls its functions by name, on whatever `$util` is at the time.
    if p.code.iter().any(|i| {
        matches!(
            i,
            Instr::Store(SLOT_UTIL)
                | Instr::BindArg(SLOT_UTIL)
                | Instr::ForStart {
                    slot: SLOT_UTIL,
                    ..
                }
        )
    }) {
        return compile_with(nodes, macros, source, false);
    }
    Ok(p)
}

fn compile_with(
    nodes: &[Node],
    macros: &HashMap<String, Macro>,
    source: &str,
    util_calls: bool,
) -> Result<Program, TemplateError> {
    let mut c = Compiler {
        p: Program::default(),
        slots: HashMap::new(),
        names: HashMap::new(),
        macros,
        source,
        macro_depth: 0,
        util_calls,
    };
    for (i, n) in PREDEFINED.iter().enumerate() {
        c.slots.insert((*n).to_owned(), i as u32);
    }
    c.nodes(nodes)?;
    c.p.slot_count = c.slots.len() as u32;
    fuse_common_sequences(&mut c.p);
    fuse_path_runs(&mut c.p);
    let mut text = Vec::with_capacity(source.len() + TEXT_SLACK);
    text.extend_from_slice(source.as_bytes());
    text.resize(source.len() + TEXT_SLACK, b' ');
    c.p.text = text.into_boxed_slice();
    Ok(c.p)
}

/// Where instruction `i` may jump to (`None` for instructions that do not jump).
fn jump_target(i: &mut Instr) -> Option<&mut u32> {
    match i {
        Instr::Jump(t) | Instr::JumpIfFalse(t) | Instr::AndJump(t) | Instr::OrJump(t) => Some(t),
        Instr::ForStart { exit: t, .. }
        | Instr::UnlessLoopProp { target: t, .. }
        | Instr::SetResponseStatus { skip: t } => Some(t),
        _ => None,
    }
}

/// Replaces each `Text` followed by a `Path` (and the `Emit` after it, if any) with one
/// `TextPath`, and each `UnlessLoopProp` over exactly one `Text` with one `LoopPropText`,
/// unless something jumps into the middle, and moves every jump target to its
/// instruction's new address. Why: a JSON mapping template is mostly text then a
/// reference, with `#if($foreach.hasNext),#end` in its loops, and each instruction costs
/// a dispatch (an indirect jump).
fn fuse_common_sequences(p: &mut Program) {
    let mut code = std::mem::take(&mut p.code);
    let targeted = jump_targets(&mut code);
    let mut new_at = vec![0u32; code.len() + 1];
    let mut out = Vec::with_capacity(code.len());
    let mut k = 0;
    while let Some(&ins) = code.get(k) {
        new_at[k] = out.len() as u32;
        if let (Instr::Text(s, e), Some(&Instr::Path { slot, start, len })) = (ins, code.get(k + 1))
            && !targeted[k + 1]
            && let (Ok(slot), Ok(len)) = (u16::try_from(slot), u16::try_from(len))
        {
            // The reference printed right away (its `Emit` not a jump target) prints in
            // the same step, without looking at the next instruction.
            let emit = matches!(code.get(k + 2), Some(Instr::Emit)) && !targeted[k + 2];
            new_at[k + 1] = out.len() as u32;
            if emit {
                new_at[k + 2] = out.len() as u32;
            }
            out.push(Instr::TextPath {
                text: p.texts.len() as u32,
                start,
                slot,
                len,
                emit,
            });
            p.texts.push((s, e));
            k += 2 + usize::from(emit);
        } else if let (Instr::UnlessLoopProp { k: prop, target }, Some(&Instr::Text(s, e))) =
            (ins, code.get(k + 1))
            && target as usize == k + 2
            && !targeted[k + 1]
        {
            // `#if($foreach.hasNext),#end`: the test and its text in one step.
            new_at[k + 1] = out.len() as u32;
            out.push(Instr::LoopPropText { k: prop, s, e });
            k += 2;
        } else {
            out.push(ins);
            k += 1;
        }
    }
    new_at[code.len()] = out.len() as u32;
    retarget(&mut out, &new_at);
    p.code = out;
}

/// Which instructions something jumps to (one more entry for the end of the code).
fn jump_targets(code: &mut [Instr]) -> Vec<bool> {
    let mut targeted = vec![false; code.len() + 1];
    for i in code {
        if let Some(t) = jump_target(i)
            && let Some(m) = targeted.get_mut(*t as usize)
        {
            *m = true;
        }
    }
    targeted
}

/// Moves every jump target `t` of `code` to `new_at[t]`.
fn retarget(code: &mut [Instr], new_at: &[u32]) {
    for i in code {
        if let Some(t) = jump_target(i) {
            *t = new_at.get(*t as usize).copied().unwrap_or(u32::MAX);
        }
    }
}

/// The fewest one-name references (`$elem.id`) that make a `PathRun` (longer chains
/// make one from two).
const MIN_ONE_NAME_RUN: usize = 4;

/// Replaces each run of two or more printing `TextPath`s on one slot whose chains differ
/// only in their last name (nothing jumping into the run after its first) with one
/// `PathRun`. Why: a mapping template prints the members of one object one after another
/// (`"id": "$elem.id", "title": "$elem.title"`), and each `TextPath` paid a dispatch and
/// the walk to that object again.
fn fuse_path_runs(p: &mut Program) {
    let mut code = std::mem::take(&mut p.code);
    let targeted = jump_targets(&mut code);
    // The run a printing `TextPath` can join: its slot, and its chain but the last name
    // (which must be a name, not an index).
    let key = |i: &Instr| match *i {
        Instr::TextPath {
            slot,
            start,
            len,
            emit: true,
            ..
        } if len > 0 => {
            let (start, len) = (start as usize, usize::from(len));
            let last = *p.chains.get(start + len - 1)?;
            (last & CHAIN_INDEX == 0).then_some((slot, p.chains.get(start..start + len - 1)?))
        }
        _ => None,
    };
    let mut new_at = vec![0u32; code.len() + 1];
    let mut out = Vec::with_capacity(code.len());
    let mut runs = Vec::new();
    let mut k = 0;
    while let Some(&ins) = code.get(k) {
        new_at[k] = out.len() as u32;
        let group = key(&ins);
        let mut end = k + 1;
        if group.is_some() {
            while end < code.len() && !targeted[end] && code.get(end).and_then(key) == group {
                end += 1;
            }
        }
        // One-name references (`$elem.id`) already print straight from the hinted member,
        // so a run of them saves only the dispatches: short ones cost more than that.
        let shortest = match ins {
            Instr::TextPath { len: 1, .. } => MIN_ONE_NAME_RUN,
            _ => 2,
        };
        if end - k < shortest {
            out.push(ins);
            k += 1;
            continue;
        }
        let first = runs.len() as u32;
        for (j, i) in code.iter().enumerate().take(end).skip(k) {
            new_at[j] = out.len() as u32;
            if let Instr::TextPath {
                text, start, len, ..
            } = *i
            {
                let (s, e) = p.texts.get(text as usize).copied().unwrap_or((0, 0));
                runs.push(RunItem { s, e, start, len });
            }
        }
        let slot = group.map_or(0, |(slot, _)| slot);
        out.push(Instr::PathRun {
            slot,
            first,
            count: (end - k) as u32,
        });
        k = end;
    }
    new_at[code.len()] = out.len() as u32;
    retarget(&mut out, &new_at);
    p.code = out;
    p.runs = runs;
}

impl Compiler<'_> {
    fn emit(&mut self, i: Instr) -> Result<u32, TemplateError> {
        if self.p.code.len() >= MAX_CODE_LEN {
            return Err(TemplateError::new(
                ErrorKind::TooLarge,
                "template compiles to too many instructions",
            ));
        }
        self.p.code.push(i);
        Ok((self.p.code.len() - 1) as u32)
    }

    fn here(&self) -> u32 {
        self.p.code.len() as u32
    }

    fn patch(&mut self, at: u32, target: u32) {
        if let Some(t) = self.p.code.get_mut(at as usize).and_then(jump_target) {
            *t = target;
        }
    }

    fn slot(&mut self, name: &str) -> u32 {
        let n = self.slots.len() as u32;
        *self.slots.entry(name.to_owned()).or_insert(n)
    }

    fn name(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.names.get(name) {
            return i;
        }
        let i = self.p.names.len() as u32;
        self.p.names.push(name.into());
        self.names.insert(name.to_owned(), i);
        i
    }

    fn konst(&mut self, c: Const) -> u32 {
        if let Some(i) = self.p.consts.iter().position(|k| *k == c) {
            return i as u32;
        }
        self.p.consts.push(c);
        (self.p.consts.len() - 1) as u32
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), TemplateError> {
        for n in nodes {
            self.node(n)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node) -> Result<(), TemplateError> {
        match n {
            Node::Text(Span { start, end }) => {
                // Adjacent text (split by comments) merges into one slice when contiguous.
                if let Some(Instr::Text(_, e)) = self.p.code.last_mut() {
                    if *e == *start {
                        *e = *end;
                        return Ok(());
                    }
                }
                self.emit(Instr::Text(*start, *end))?;
            }
            Node::Literal(s) => {
                if !s.is_empty() {
                    let k = self.konst(Const::Str(s.as_str().into()));
                    self.emit(Instr::Literal(k))?;
                }
            }
            Node::Ref {
                reference,
                escapes,
                source,
            } => {
                self.reference(reference)?;
                if *escapes == 0 {
                    self.emit(Instr::Emit)?;
                } else {
                    self.emit(Instr::EmitEscaped {
                        escapes: *escapes,
                        start: source.start,
                        end: source.end,
                    })?;
                }
            }
            Node::Set { target, value } => self.set(target, value)?,
            Node::If {
                branches,
                otherwise,
            } => {
                let mut to_end = Vec::new();
                for (at, (cond, body)) in branches.iter().enumerate() {
                    let skip = match loop_prop(cond) {
                        Some(k) => self.emit(Instr::UnlessLoopProp { k, target: 0 })?,
                        None => {
                            self.cond(cond, true)?;
                            self.emit(Instr::JumpIfFalse(0))?
                        }
                    };
                    self.nodes(body)?;
                    // The last branch of an `#if` without `#else` ends where the `#if`
                    // does: no jump to the next instruction (one more dispatch, each time
                    // an `#if($foreach.hasNext),#end` printed its comma).
                    if at + 1 < branches.len() || otherwise.is_some() {
                        to_end.push(self.emit(Instr::Jump(0))?);
                    }
                    let h = self.here();
                    self.patch(skip, h);
                }
                if let Some(body) = otherwise {
                    self.nodes(body)?;
                }
                let h = self.here();
                for j in to_end {
                    self.patch(j, h);
                }
            }
            Node::Foreach {
                var,
                iterable,
                body,
            } => {
                self.expr(iterable)?;
                let slot = self.slot(var);
                let start = self.emit(Instr::ForStart { slot, exit: 0 })?;
                let head = self.emit(Instr::ForNext)?;
                self.nodes(body)?;
                self.emit(Instr::Jump(head))?;
                let h = self.here();
                self.patch(start, h);
            }
            Node::Break => {
                self.emit(Instr::Break)?;
            }
            Node::Stop => {
                self.emit(Instr::Stop)?;
            }
            Node::MacroCall { name, args, span } => {
                let Some(m) = self.macros.get(name) else {
                    return Ok(());
                };
                if self.macro_depth >= MAX_MACRO_DEPTH {
                    return Err(TemplateError::at(
                        ErrorKind::TooDeep,
                        format!(
                            "macro expansion deeper than {MAX_MACRO_DEPTH} (recursive #{name}?)"
                        ),
                        self.source,
                        span.start as usize,
                    ));
                }
                let params: Vec<u32> = m.params.iter().map(|p| self.slot(p)).collect();
                for (i, &slot) in params.iter().enumerate() {
                    match args.get(i) {
                        Some(a) => self.expr(a)?,
                        // A missing argument is null (an unused slot always reads null).
                        None => self.emit(Instr::Load(u32::MAX)).map(|_| ())?,
                    };
                    self.emit(Instr::BindArg(slot))?;
                }
                self.macro_depth += 1;
                let body = &m.body;
                self.nodes(body)?;
                self.macro_depth -= 1;
                for &slot in params.iter().rev() {
                    self.emit(Instr::UnbindArg(slot))?;
                }
            }
        }
        Ok(())
    }

    fn set(&mut self, target: &Reference, value: &Expr) -> Result<(), TemplateError> {
        if target.root == "context"
            && let [Accessor::Property(ro), Accessor::Property(status)] = &target.accessors[..]
            && ro == "responseOverride"
            && status == "status"
        {
            // The value first, then either the pending status or, with the value held in
            // a slot no template can name (bound like a macro argument, so a null value
            // stays null), `$context.responseOverride.status = <slot>` as usual.
            self.expr(value)?;
            let skip = self.emit(Instr::SetResponseStatus { skip: 0 })?;
            let held = self.slot(" response status");
            self.emit(Instr::BindArg(held))?;
            let s = self.slot(&target.root);
            self.emit(Instr::Load(s))?;
            let (ro, status) = (self.name(ro), self.name(status));
            self.emit(Instr::Attr(ro))?;
            self.emit(Instr::Load(held))?;
            self.emit(Instr::SetAttr(status))?;
            self.emit(Instr::UnbindArg(held))?;
            let h = self.here();
            self.patch(skip, h);
            return Ok(());
        }
        match target.accessors.split_last() {
            None => {
                self.expr(value)?;
                let s = self.slot(&target.root);
                self.emit(Instr::Store(s))?;
            }
            Some((last, init)) => {
                let s = self.slot(&target.root);
                self.emit(Instr::Load(s))?;
                for a in init {
                    self.accessor(a)?;
                }
                match last {
                    Accessor::Property(name) => {
                        self.expr(value)?;
                        let n = self.name(name);
                        self.emit(Instr::SetAttr(n))?;
                    }
                    Accessor::Index(k) => {
                        self.expr(k)?;
                        self.expr(value)?;
                        self.emit(Instr::SetIndex)?;
                    }
                    Accessor::Method(..) => {
                        // `#set($a.b() = x)` is not an assignable target; Velocity rejects it.
                        return Err(TemplateError::at(
                            ErrorKind::Syntax,
                            "cannot assign to a method call",
                            self.source,
                            target.span.start as usize,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn reference(&mut self, r: &Reference) -> Result<(), TemplateError> {
        let s = self.slot(&r.root);
        let mut rest = r.accessors.as_slice();
        // `$input.path('lit')` / `$input.json('lit')`: parse the JSONPath once, here.
        if r.root == "input" {
            if let Some((Accessor::Method(m, args), tail)) = rest.split_first() {
                if let ([Expr::Str(name)], "params") = (args.as_slice(), m.as_str()) {
                    let k = self.konst(Const::Str(name.as_str().into()));
                    self.emit(Instr::InputParam(k))?;
                    for a in tail {
                        self.accessor(a)?;
                    }
                    return Ok(());
                }
                if let ([Expr::Str(p)], "path" | "json") = (args.as_slice(), m.as_str()) {
                    if let Ok(path) = JsonPath::parse(p) {
                        self.p.paths.push(path);
                        let i = (self.p.paths.len() - 1) as u32;
                        self.emit(if m == "path" {
                            Instr::InputPath(i)
                        } else {
                            Instr::InputJson(i)
                        })?;
                        rest = tail;
                        for a in rest {
                            self.accessor(a)?;
                        }
                        return Ok(());
                    }
                }
            }
        }
        // `$util.escapeJavaScript(x)` and the other `$util` functions: resolved here, not
        // looked up by name at each call.
        if self.util_calls
            && r.root == "util"
            && let Some((Accessor::Method(m, args), tail)) = rest.split_first()
            && let Some(f) = UtilFn::from_name(m)
            && let Ok(argc) = u16::try_from(args.len())
        {
            for e in args {
                self.expr(e)?;
            }
            self.emit(Instr::Util { f, argc })?;
            for a in tail {
                self.accessor(a)?;
            }
            return Ok(());
        }
        // `$context.stage`, `$context.identity.sourceIp`: a field of the request, by index.
        if r.root == "context" {
            let field = match rest {
                [Accessor::Property(f)] => super::CONTEXT_FIELDS
                    .iter()
                    .position(|x| x == f)
                    .map(|i| (i, f, false)),
                [Accessor::Property(id), Accessor::Property(f)] if id == "identity" => {
                    super::IDENTITY_FIELDS
                        .iter()
                        .position(|x| x == f)
                        .map(|i| (i, f, true))
                }
                _ => None,
            };
            if let Some((i, f, identity)) = field {
                let name = self.name(f);
                self.emit(Instr::ContextField {
                    field: i as u32,
                    name,
                    identity,
                })?;
                return Ok(());
            }
        }
        // `$foreach.hasNext` and the like: read off the innermost loop in one instruction.
        if s == SLOT_FOREACH
            && let Some((Accessor::Property(n), tail)) = rest.split_first()
            && let Some(k) = LOOP_PROPS.iter().position(|p| p == n)
        {
            self.emit(Instr::LoopProp(k as u32))?;
            for a in tail {
                self.accessor(a)?;
            }
            return Ok(());
        }
        // `$var.a.b`, `$var.a[0].b`: a template variable's leading properties (and constant
        // indexes after the first property) resolve in one instruction.
        let props = match rest.first() {
            Some(Accessor::Property(_)) => rest
                .iter()
                .take_while(|a| chain_element(a).is_some())
                .count(),
            _ => 0,
        };
        if s as usize >= PREDEFINED.len() && props > 0 {
            let start = self.p.chains.len() as u32;
            for a in &rest[..props] {
                let (k, key) = match chain_element(a) {
                    Some(Ok(n)) => (
                        self.name(n),
                        ChainKey {
                            sig: super::json_doc::signature(n.as_bytes()),
                            name: n.as_str().into(),
                        },
                    ),
                    Some(Err(i)) => (
                        CHAIN_INDEX | i,
                        ChainKey {
                            sig: 0,
                            name: "".into(),
                        },
                    ),
                    None => continue,
                };
                self.p.chains.push(k);
                self.p.chain_keys.push(key);
            }
            self.emit(Instr::Path {
                slot: s,
                start,
                len: props as u32,
            })?;
            rest = &rest[props..];
        } else {
            self.emit(Instr::Load(s))?;
        }
        for a in rest {
            self.accessor(a)?;
        }
        Ok(())
    }

    fn accessor(&mut self, a: &Accessor) -> Result<(), TemplateError> {
        match a {
            Accessor::Property(n) => {
                let n = self.name(n);
                self.emit(Instr::Attr(n))?;
            }
            Accessor::Method(n, args) => {
                for e in args {
                    self.expr(e)?;
                }
                let n = self.name(n);
                self.emit(Instr::Call {
                    name: n,
                    argc: args.len() as u32,
                })?;
            }
            Accessor::Index(e) => {
                self.expr(e)?;
                self.emit(Instr::Index)?;
            }
        }
        Ok(())
    }

    /// A condition: Velocity 1.7 evaluates a bare non-boolean literal as false
    /// (`#if(1)`, `#if("a")` render nothing; verified against velocity-1.7.jar).
    /// With `tested`, only the truth of the result is used (an `#if`'s `JumpIfFalse`), so
    /// an operand is left as it is rather than made a boolean first: `ToBool` then
    /// `JumpIfFalse` tests the same truth twice.
    fn cond(&mut self, e: &Expr, tested: bool) -> Result<(), TemplateError> {
        match e {
            Expr::Str(_)
            | Expr::Interpolated(_)
            | Expr::Int(_)
            | Expr::Float(_)
            | Expr::List(_)
            | Expr::Range(..)
            | Expr::Map(_) => {
                let k = self.konst(Const::Bool(false));
                self.emit(Instr::Const(k))?;
            }
            Expr::Not(inner) => {
                self.cond(inner, tested)?;
                self.emit(Instr::Not)?;
            }
            Expr::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                self.cond(a, tested)?;
                let j = self.emit(if *op == BinOp::And {
                    Instr::AndJump(0)
                } else {
                    Instr::OrJump(0)
                })?;
                self.cond(b, tested)?;
                let h = self.here();
                self.patch(j, h);
            }
            _ => {
                self.expr(e)?;
                if !tested {
                    self.emit(Instr::ToBool)?;
                }
            }
        }
        Ok(())
    }

    fn expr(&mut self, e: &Expr) -> Result<(), TemplateError> {
        match e {
            Expr::Ref(r) => self.reference(r)?,
            Expr::Str(s) => {
                let k = self.konst(Const::Str(s.as_str().into()));
                self.emit(Instr::Const(k))?;
            }
            Expr::Interpolated(nodes) => {
                self.emit(Instr::CaptureStart)?;
                self.nodes(nodes)?;
                self.emit(Instr::CaptureEnd)?;
            }
            Expr::Int(i) => {
                let k = self.konst(Const::Int(*i));
                self.emit(Instr::Const(k))?;
            }
            Expr::Float(f) => {
                let k = self.konst(Const::Float(*f));
                self.emit(Instr::Const(k))?;
            }
            Expr::Bool(b) => {
                let k = self.konst(Const::Bool(*b));
                self.emit(Instr::Const(k))?;
            }
            Expr::List(items) => {
                for i in items {
                    self.expr(i)?;
                }
                self.emit(Instr::MakeList(items.len() as u32))?;
            }
            Expr::Range(a, b) => {
                self.expr(a)?;
                self.expr(b)?;
                self.emit(Instr::MakeRange)?;
            }
            Expr::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k)?;
                    self.expr(v)?;
                }
                self.emit(Instr::MakeMap(entries.len() as u32))?;
            }
            Expr::Not(_) | Expr::Binary(BinOp::And | BinOp::Or, ..) => self.cond(e, false)?,
            Expr::Neg(inner) => {
                self.expr(inner)?;
                self.emit(Instr::Neg)?;
            }
            Expr::Binary(op, a, b) => {
                self.expr(a)?;
                self.expr(b)?;
                self.emit(Instr::Bin(*op))?;
            }
        }
        Ok(())
    }
}

/// What accessor `a` is as an element of a `Path` chain: a property's name, or a constant
/// index `[i]` (`Err(i)`, with `i` below [`CHAIN_INDEX`]); `None` for anything else.
fn chain_element(a: &Accessor) -> Option<Result<&String, u32>> {
    match a {
        Accessor::Property(n) => Some(Ok(n)),
        Accessor::Index(Expr::Int(i)) => {
            u32::try_from(*i).ok().filter(|&i| i < CHAIN_INDEX).map(Err)
        }
        _ => None,
    }
}

/// `k` when `e` is exactly `$foreach.<LOOP_PROPS[k]>` (not quiet-sensitive: a condition
/// prints nothing).
fn loop_prop(e: &Expr) -> Option<u32> {
    let Expr::Ref(r) = e else { return None };
    match &r.accessors[..] {
        [Accessor::Property(p)] if r.root == "foreach" => {
            LOOP_PROPS.iter().position(|x| x == p).map(|k| k as u32)
        }
        _ => None,
    }
}
