//! The instruction set the compiler emits and the VM runs.
//!
//! A flat `Vec<Instr>` with absolute jump targets; expressions run on a value stack.
//! Instructions are small `Copy` values (names, constants and JSONPaths live in side
//! tables of the [`Program`]), so the VM loop is a plain `match` over a slice.

use super::ast::BinOp;
use super::json_path::JsonPath;

/// Slots the VM pre-fills: the AWS variables and the loop helpers.
pub const SLOT_INPUT: u32 = 0;
pub const SLOT_UTIL: u32 = 1;
pub const SLOT_CONTEXT: u32 = 2;
pub const SLOT_STAGE_VARIABLES: u32 = 3;
pub const SLOT_FOREACH: u32 = 4;
pub const SLOT_VELOCITY_COUNT: u32 = 5;
pub const PREDEFINED: [&str; 6] = [
    "input",
    "util",
    "context",
    "stageVariables",
    "foreach",
    "velocityCount",
];

/// Marks an element of [`Program::chains`] as a constant index `[i]` (`i` in the bits
/// below) rather than a name: `$o.items[0].id` walks the tape in one `Path`, where an
/// `Index` would first make the array a value and the index a constant.
pub const CHAIN_INDEX: u32 = 1 << 31;

/// Bytes readable past the end of any text span in [`Program::text`].
pub const TEXT_SLACK: usize = 64;

/// The properties of `$foreach` that [`Instr::LoopProp`] reads.
pub const LOOP_PROPS: [&str; 5] = ["hasNext", "index", "count", "first", "last"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    /// Emit `source[start..end]`.
    Text(u32, u32),
    /// Emit string constant `n`.
    Literal(u32),
    /// Pop a value and emit it (`null` emits nothing, as in API Gateway).
    Emit,
    /// Pop a value and emit it as an escaped reference: `escapes` backslashes were written
    /// before the reference whose source text is `source[start..end]`.
    EmitEscaped {
        escapes: u32,
        start: u32,
        end: u32,
    },
    Load(u32),
    Const(u32),
    /// Pop receiver, push receiver.name.
    Attr(u32),
    /// `Load(slot)` then `Attr` for each name of `chains[start..start + len]` (`Const` and
    /// `Index` for each constant index), in one step (walked on the JSON tape without
    /// intermediate values when it can be).
    Path {
        slot: u32,
        start: u32,
        len: u32,
    },
    /// `Text(texts[text])` then `Path { slot, start, len }` (then `Emit` when `emit`), in
    /// one dispatch: most of a JSON mapping template is text followed by a reference.
    TextPath {
        text: u32,
        start: u32,
        slot: u16,
        len: u16,
        emit: bool,
    },
    /// `runs[first..first + count]`, each a printing `TextPath` on `slot` whose chains
    /// differ only in their last name (`"$e.id", "$e.name"`, `"$r.a.b.x", "$r.a.b.y"`), in
    /// one step: the object the last names are looked up in is found once, and each
    /// member is printed from it, without a dispatch or the walk to it.
    PathRun {
        slot: u16,
        first: u32,
        count: u32,
    },
    /// `$foreach.<LOOP_PROPS[n]>`: the property of the innermost loop (or of whatever
    /// `$foreach` was set to).
    LoopProp(u32),
    /// Pop `argc` arguments and a receiver, push the result of method `name`.
    Call {
        name: u32,
        argc: u32,
    },
    /// Pop index and receiver, push receiver[index].
    Index,
    /// `$input.path('<literal>')` / `$input.json('<literal>')` with a pre-parsed path.
    InputPath(u32),
    InputJson(u32),
    /// `$context.<field>` (or `$context.identity.<field>` when `identity`), a string field
    /// the request carries: `field` indexes `CONTEXT_FIELDS` / `IDENTITY_FIELDS`, `name`
    /// is the property name for when `$context` is already a map.
    ContextField {
        field: u32,
        name: u32,
        identity: bool,
    },
    /// `$input.params('<literal>')`: the parameter named by string constant `n`.
    InputParam(u32),
    /// `$util.<f>(args)`: pop `argc` arguments, push what function `f` returns, resolved
    /// when the template was compiled. Only in a program where nothing rebinds `$util`
    /// (no `#set`, macro parameter or `#foreach` variable of that name), so `$util` is the
    /// builtin whenever it runs.
    Util {
        f: UtilFn,
        argc: u16,
    },
    MakeList(u32),
    MakeMap(u32),
    MakeRange,
    Bin(BinOp),
    Not,
    Neg,
    ToBool,
    Pop,
    Jump(u32),
    /// Pop; jump if falsy.
    JumpIfFalse(u32),
    /// `#if($foreach.<LOOP_PROPS[k]>)`: jump to `target` if the property is falsy, in one
    /// step (the test of every `#if($foreach.hasNext),#end`), without a value on the stack.
    UnlessLoopProp {
        k: u32,
        target: u32,
    },
    /// `UnlessLoopProp { k, .. }` over exactly `Text(s, e)`: print the text when the
    /// property is truthy (`#if($foreach.hasNext),#end`), in one step.
    LoopPropText {
        k: u32,
        s: u32,
        e: u32,
    },
    /// Short-circuit `&&`: if top is false keep it and jump, else pop.
    AndJump(u32),
    /// Short-circuit `||`: if top is true keep it and jump, else pop.
    OrJump(u32),
    /// Pop into slot (a `null` value leaves the slot unchanged, as Velocity 1.7's #set).
    Store(u32),
    /// Pop value and receiver; receiver.name = value.
    SetAttr(u32),
    /// `#set($context.responseOverride.status = value)`, value on the stack: while the
    /// override object has not been built, pop the value into the render state as the
    /// pending status and jump to `skip`, past the general code for the `#set` that
    /// follows; otherwise do nothing (that code sets the status on the object).
    SetResponseStatus {
        skip: u32,
    },
    /// Pop value, key and receiver; receiver[key] = value.
    SetIndex,
    /// Pop the iterable and open a loop over it binding `slot`; `exit` follows the loop.
    ForStart {
        slot: u32,
        exit: u32,
    },
    /// Bind the next item or close the loop and jump to its exit.
    ForNext,
    /// Close the innermost loop and jump to its exit.
    Break,
    Stop,
    /// Redirect output into a string (interpolated string literals).
    CaptureStart,
    /// End the capture and push the captured string.
    CaptureEnd,
    /// Pop a value into `slot`, saving the slot's old value (macro arguments).
    BindArg(u32),
    /// Restore a slot saved by `BindArg`.
    UnbindArg(u32),
}

/// One printed reference of an [`Instr::PathRun`]: what its `TextPath { text, start, len,
/// emit: true }` on the run's slot held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunItem {
    /// The span of the text before the reference (`texts[text]` of its `TextPath`, copied
    /// here: one load fewer per item).
    pub s: u32,
    pub e: u32,
    /// The reference's chain: `chains[start..start + len]`.
    pub start: u32,
    pub len: u16,
}

/// The `$util` functions ([`Instr::Util`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UtilFn {
    EscapeJavaScript,
    ParseJson,
    UrlEncode,
    UrlDecode,
    Base64Encode,
    Base64Decode,
}

impl UtilFn {
    pub fn from_name(name: &str) -> Option<UtilFn> {
        Some(match name {
            "escapeJavaScript" => UtilFn::EscapeJavaScript,
            "parseJson" => UtilFn::ParseJson,
            "urlEncode" => UtilFn::UrlEncode,
            "urlDecode" => UtilFn::UrlDecode,
            "base64Encode" => UtilFn::Base64Encode,
            "base64Decode" => UtilFn::Base64Decode,
            _ => return None,
        })
    }
}

/// A property name of a chain, with its [`super::json_doc::signature`].
#[derive(Debug, Clone)]
pub struct ChainKey {
    pub sig: u64,
    pub name: Box<str>,
}

/// Constants referenced by `Const`.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    Str(Box<str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A compiled template: code plus its side tables. Immutable, `Send + Sync`.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub code: Vec<Instr>,
    pub consts: Vec<Const>,
    pub names: Vec<Box<str>>,
    /// Name indexes of `Path` property chains, and constant list indexes (tagged with
    /// [`CHAIN_INDEX`]).
    pub chains: Vec<u32>,
    /// Per element of `chains`: its name and the name's signature, in one place (a chain
    /// step, and a one-name reference in a loop body for every item, read both).
    pub chain_keys: Vec<ChainKey>,
    pub paths: Vec<JsonPath>,
    /// Source spans of the text parts of `TextPath` (a `PathRun` item carries its own).
    pub texts: Vec<(u32, u32)>,
    /// The items of `PathRun`s.
    pub runs: Vec<RunItem>,
    /// The template source followed by [`TEXT_SLACK`] spaces, which the spans of `Text`,
    /// `TextPath` and `PathRun` items index: a short span is copied as one fixed-size
    /// block (see `vm::Sink::write_text`).
    pub text: Box<[u8]>,
    pub slot_count: u32,
}
