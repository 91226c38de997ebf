//! The typed IR: what the checker proved about a query, ready for any dialect.

use crate::dsl::ast::{BinOp, Frame, Lit, Seg, Span, TypeName};

/// A value's type in the report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ty {
    Int,
    Float,
    Text,
    Bool,
    Timestamp,
    Duration,
    Json,
    /// The type of `null`: fits anywhere.
    Null,
    /// A list of text values (only as a parameter, in `x in $list`).
    List,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Text => "text",
            Ty::Bool => "bool",
            Ty::Timestamp => "timestamp",
            Ty::Duration => "duration",
            Ty::Json => "json",
            Ty::Null => "null",
            Ty::List => "list",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Null)
    }

    pub fn from_name(t: TypeName) -> Ty {
        match t {
            TypeName::Int => Ty::Int,
            TypeName::Float => Ty::Float,
            TypeName::Text => Ty::Text,
            TypeName::Bool => Ty::Bool,
            TypeName::Timestamp => Ty::Timestamp,
        }
    }

    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "int" => Ty::Int,
            "float" => Ty::Float,
            "text" => Ty::Text,
            "bool" => Ty::Bool,
            "timestamp" => Ty::Timestamp,
            "duration" => Ty::Duration,
            "list" => Ty::List,
            _ => return None,
        })
    }

    /// Whether values of the two types can be compared or combined with `??`.
    pub fn compatible(self, other: Ty) -> bool {
        self == other || self == Ty::Null || other == Ty::Null || (self.is_numeric() && other.is_numeric())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hour,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IrExpr {
    /// `"rel"."name"`
    Col {
        rel: String,
        name: String,
    },
    /// A JSON value as text: `payload.a.b`.
    JsonText {
        base: Box<TExpr>,
        path: Vec<Seg>,
    },
    /// Whether the JSON path exists.
    JsonHas {
        base: Box<TExpr>,
        path: Vec<Seg>,
    },
    Lit(Lit),
    /// 1-based bind position.
    Param(usize),
    Binary {
        op: BinOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
    },
    /// Timestamp ± whole seconds.
    TsShift {
        ts: Box<TExpr>,
        secs: Box<TExpr>,
        negative: bool,
    },
    Not(Box<TExpr>),
    Neg(Box<TExpr>),
    Cast {
        expr: Box<TExpr>,
        ty: Ty,
    },
    IsNull {
        expr: Box<TExpr>,
        negated: bool,
    },
    InList {
        expr: Box<TExpr>,
        list: Vec<TExpr>,
        negated: bool,
    },
    /// `e in $list`; the parameter's 1-based bind position.
    InParam {
        expr: Box<TExpr>,
        param: usize,
        negated: bool,
    },
    /// A library function; the dialect's table says how to write it.
    Func {
        name: &'static str,
        args: Vec<TExpr>,
        span: Span,
    },
    Bucket {
        ts: Box<TExpr>,
        unit: Unit,
    },
    /// `[NOT] EXISTS (SELECT 1 FROM from WHERE on)`: `join semi` / `join anti`.
    Exists {
        from: Box<FromItem>,
        on: Box<TExpr>,
        negated: bool,
    },
    /// A window function (or an aggregate over a window): `f(args) OVER (over)`.
    Window {
        name: &'static str,
        args: Vec<TExpr>,
        over: Box<Over>,
        span: Span,
    },
    /// `CASE WHEN … THEN … ELSE … END`; every value already of the result's type.
    Case {
        whens: Vec<(TExpr, TExpr)>,
        otherwise: Option<Box<TExpr>>,
    },
}

/// A window: `PARTITION BY … ORDER BY … ROWS BETWEEN …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    pub partition: Vec<TExpr>,
    pub order: Vec<OrderItem>,
    pub frame: Option<Frame>,
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TExpr {
    pub e: IrExpr,
    pub ty: Ty,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FromItem {
    Table {
        name: String,
        alias: String,
    },
    Sub {
        select: Box<Select>,
        alias: String,
    },
    /// A materialized view defined earlier in the same plan.
    View {
        name: String,
        alias: String,
    },
    /// The rows of every part, in order (`append`: UNION ALL); the parts' columns agree.
    Union {
        parts: Vec<Select>,
        alias: String,
    },
}

impl FromItem {
    pub fn alias(&self) -> &str {
        match self {
            FromItem::Table { alias, .. }
            | FromItem::Sub { alias, .. }
            | FromItem::View { alias, .. }
            | FromItem::Union { alias, .. } => alias,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub left: bool,
    pub item: FromItem,
    pub on: TExpr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub expr: TExpr,
    pub desc: bool,
    /// Whether the key can be null: only then does the SQL say where nulls go.
    pub maybe_null: bool,
}

/// One SELECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub from: FromItem,
    pub joins: Vec<Join>,
    pub filter: Vec<TExpr>,
    /// `Some(keys)` once grouped; `Some([])` for a whole-table aggregate.
    pub group: Option<Vec<TExpr>>,
    pub having: Vec<TExpr>,
    pub columns: Vec<(String, TExpr)>,
    /// `SELECT DISTINCT`: one of each identical row of `columns`.
    pub distinct: bool,
    pub order: Vec<OrderItem>,
    pub limit: Option<TExpr>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamInfo {
    pub name: String,
    pub ty: Ty,
    /// Where the query first uses it, for diagnostics about the parameter.
    #[serde(skip)]
    pub first_use: crate::dsl::ast::Span,
}

/// A materialized prefix: its query and the key columns that make a row unique.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub name: String,
    pub select: Select,
    pub keys: Vec<String>,
}

/// A `let`: a named pipeline the query reads as a table (a common table expression).
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    pub name: String,
    pub select: Select,
}

/// A checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub views: Vec<View>,
    /// In order: each may read the ones before it.
    pub ctes: Vec<Cte>,
    pub main: Select,
    /// In bind order: parameter N is `params[N-1]`.
    pub params: Vec<ParamInfo>,
    pub output: Vec<(String, Ty)>,
}
