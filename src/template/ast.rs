//! The syntax tree the parser builds and the compiler lowers to bytecode.
//!
//! Spans are byte offsets into the template source, so static text is emitted as slices
//! of the source at render time and errors can point at a column.

/// A byte range of the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// One template-level node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text, emitted as-is.
    Text(Span),
    /// Literal text that does not appear verbatim in the source (escape results).
    Literal(String),
    /// `$x.y`, `$!x`, `${x}`: evaluate and emit. `escapes` = backslashes written before it.
    Ref {
        reference: Reference,
        escapes: u32,
        source: Span,
    },
    /// `#set($lhs = rhs)`.
    Set { target: Reference, value: Expr },
    /// `#if`/`#elseif` branches and the optional `#else`.
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Option<Vec<Node>>,
    },
    /// `#foreach($var in iterable) body #end`.
    Foreach {
        var: String,
        iterable: Expr,
        body: Vec<Node>,
    },
    /// `#break`: leave the innermost `#foreach`.
    Break,
    /// `#stop`: end rendering, keeping the output so far.
    Stop,
    /// A call of a macro defined earlier with `#macro`.
    MacroCall {
        name: String,
        args: Vec<Expr>,
        span: Span,
    },
}

/// `$root` followed by `.prop`, `.method(args)` and `[index]` accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub root: String,
    pub accessors: Vec<Accessor>,
    pub quiet: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    Property(String),
    Method(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Ref(Reference),
    /// A string literal with no interpolation (single-quoted, or double-quoted without `$`/`#`).
    Str(String),
    /// A double-quoted string whose content is itself a template.
    Interpolated(Vec<Node>),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Expr>),
    Range(Box<Expr>, Box<Expr>),
    Map(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// A `#macro` definition: parameter names (without `$`) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    pub params: Vec<String>,
    pub body: Vec<Node>,
}
