//! The syntax tree of a query, with byte spans into the source.

use std::ops::Range;

pub type Span = Range<usize>;

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `let name = (…)`, in order: each may read the ones before it.
    pub lets: Vec<Let>,
    pub stages: Vec<Spanned<Stage>>,
}

/// `let name = (stages)`: a named pipeline, emitted as a common table expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Spanned<String>,
    pub stages: Vec<Spanned<Stage>>,
    pub span: Span,
}

/// The rows `append` adds: a name (a `let`, a table) or a pipeline in brackets.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Name(Spanned<String>),
    Pipeline(Vec<Spanned<Stage>>),
}

/// A window's frame, `rows start..end`: row offsets from the current row (negative before
/// it), `None` unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    From {
        table: Spanned<String>,
        alias: Option<Spanned<String>>,
    },
    /// `exists`: `join semi` (Some(true): the rows with a match) or `join anti` (Some(false):
    /// those without), which add no columns.
    Join {
        left: bool,
        exists: Option<bool>,
        table: Spanned<String>,
        alias: Option<Spanned<String>>,
        on: Expr,
    },
    Where(Expr),
    Derive(Vec<Assign>),
    Group {
        keys: Vec<Item>,
        aggregates: Option<Vec<Assign>>,
    },
    Aggregate(Vec<Assign>),
    Select(Vec<Item>),
    Sort(Vec<SortItem>),
    Take(Expr),
    Materialize(Spanned<String>),
    /// One of each identical row.
    Distinct,
    /// `window by … sort … rows … derive …`: values over each row's partition.
    Window {
        by: Vec<Expr>,
        sort: Vec<SortItem>,
        rows: Option<Spanned<Frame>>,
        items: Vec<Assign>,
    },
    /// The rows of another pipeline after these (UNION ALL).
    Append(Source),
}

impl Stage {
    pub fn keyword(&self) -> &'static str {
        match self {
            Stage::From { .. } => "from",
            Stage::Join { .. } => "join",
            Stage::Where(_) => "where",
            Stage::Derive(_) => "derive",
            Stage::Group { .. } => "group",
            Stage::Aggregate(_) => "aggregate",
            Stage::Select(_) => "select",
            Stage::Sort(_) => "sort",
            Stage::Take(_) => "take",
            Stage::Materialize(_) => "materialize",
            Stage::Distinct => "distinct",
            Stage::Window { .. } => "window",
            Stage::Append(_) => "append",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    pub name: Spanned<String>,
    pub expr: Expr,
}

/// A `group`/`select` item: `name = expr` or a bare expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: Option<Spanned<String>>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortItem {
    pub expr: Expr,
    pub desc: bool,
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
    Like,
    Coalesce,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Like => "like",
            BinOp::Coalesce => "??",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeName {
    Int,
    Float,
    Text,
    Bool,
    Timestamp,
}

/// One step of a path after its first name.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Null,
    /// Normalised to `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    Timestamp(String),
    /// Seconds.
    Duration(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Lit),
    Param(String),
    /// `name`, `t.name`, `payload.a.b`, `payload["odd-key"]`, `payload.args[0]`.
    Path(Vec<Spanned<Seg>>),
    Call {
        name: Spanned<String>,
        args: Vec<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Cast {
        expr: Box<Expr>,
        ty: TypeName,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `e in $list`: membership in a list parameter.
    InParam {
        expr: Box<Expr>,
        param: String,
        negated: bool,
    },
    /// `case when c then e … [else e] end`.
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}
