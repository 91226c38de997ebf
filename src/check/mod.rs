//! Name resolution against the catalog, types, grouping rules → the typed IR.
//!
//! The checker walks the pipeline keeping one SELECT under construction and the columns the
//! next stage can see. A stage that cannot extend that SELECT (a `where` after `take`, a
//! `join` after `group`, …) first wraps it as a subquery, so every pipeline lowers to
//! correct nested SQL. Errors are collected, not thrown: one run reports all it can.

mod exprs;
pub mod functions;
pub mod ir;
mod nulls;
mod params;
mod regex;
mod scope;
mod stages;

use std::collections::HashMap;

use crate::catalog;
use crate::diag::{near_names, Diagnostic};
use crate::dsl::ast::*;
use functions::Kind;
use ir::*;

/// A column the next stage can refer to.
#[derive(Debug, Clone)]
struct ScopeCol {
    qual: Option<String>,
    name: String,
    expr: TExpr,
}

/// How aggregate functions may appear in an expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// No aggregates (where, derive before group, sort, …).
    Plain,
    /// An `aggregate` item: columns only inside an aggregate call.
    Aggregate { inside: bool },
    /// A `window` stage's item: window functions and aggregates are computed over the window.
    Window,
}

struct Checker<'a> {
    diags: Vec<Diagnostic>,
    params: Vec<ParamInfo>,
    declared: &'a HashMap<String, Ty>,
    params_seen_at: Vec<Span>,
    views: Vec<View>,
    subqueries: usize,
    /// Aliases of `join semi`/`join anti` tables: their columns are seen in `on` only.
    exists_aliases: Vec<String>,
    /// Expression nesting so far (`expr`'s stack check).
    depth: usize,
    /// The `let` pipelines checked so far.
    ctes: Vec<Cte>,
    /// The window of the `window` stage being checked.
    window: Option<Over>,
}

struct State {
    sel: Select,
    scope: Vec<ScopeCol>,
    /// An explicit `select` has fixed the columns.
    projected: bool,
}

fn new_select(from: FromItem) -> Select {
    Select {
        from,
        joins: Vec::new(),
        filter: Vec::new(),
        group: None,
        having: Vec::new(),
        columns: Vec::new(),
        distinct: false,
        order: Vec::new(),
        limit: None,
    }
}

/// Checks a parsed query. `declared` gives parameter types known in advance (a report's
/// parameter list); others are inferred from how they are used.
pub fn check(q: &Query, declared: &HashMap<String, Ty>) -> Result<Plan, Vec<Diagnostic>> {
    let mut c = Checker {
        diags: Vec::new(),
        params: Vec::new(),
        declared,
        params_seen_at: Vec::new(),
        views: Vec::new(),
        subqueries: 0,
        exists_aliases: Vec::new(),
        depth: 0,
        ctes: Vec::new(),
        window: None,
    };
    let plan = c.pipeline(q);
    for p in &c.params {
        if p.ty == Ty::Null {
            c.diags.push(
                Diagnostic::new("E0305", p.first_use.clone(), format!("cannot tell the type of `${}`", p.name))
                    .hint("declare it in the report's parameters, or compare it with a column"),
            );
        }
    }
    match plan {
        Some(p) if c.diags.is_empty() => Ok(p),
        _ => {
            if c.diags.is_empty() {
                c.diags.push(Diagnostic::new("E0001", 0..0, "empty query").hint("start with `from <table>`"));
            }
            Err(c.diags)
        }
    }
}

/// `columns` (an earlier SELECT's) as read through `alias` (a subquery, view, `let` or union),
/// the column at position i qualified by `qual(i)`.
fn read_through(alias: &str, columns: &[(String, TExpr)], qual: impl Fn(usize) -> Option<String>) -> Vec<ScopeCol> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, e))| ScopeCol {
            qual: qual(i),
            name: name.clone(),
            expr: TExpr { e: IrExpr::Col { rel: alias.to_string(), name: name.clone() }, ty: e.ty },
        })
        .collect()
}

fn output_of(scope: &[ScopeCol]) -> Vec<(String, TExpr)> {
    // Unique output names: a later duplicate gets its qualifier as a prefix.
    let mut out: Vec<(String, TExpr)> = Vec::new();
    for c in scope {
        let mut name = c.name.clone();
        if out.iter().any(|(n, _)| *n == name) {
            name = format!("{}_{}", c.qual.clone().unwrap_or_else(|| "col".into()), c.name);
        }
        out.push((name, c.expr.clone()));
    }
    out
}

impl Checker<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

fn col_ty(t: catalog::ColType) -> Ty {
    match t {
        catalog::ColType::Int => Ty::Int,
        catalog::ColType::Float => Ty::Float,
        catalog::ColType::Text => Ty::Text,
        catalog::ColType::Bool => Ty::Bool,
        catalog::ColType::Timestamp => Ty::Timestamp,
        catalog::ColType::Json => Ty::Json,
    }
}

/// Whether an expression contains an aggregate call.
pub fn is_aggregate(t: &TExpr) -> bool {
    match &t.e {
        IrExpr::Func { name, args, .. } => {
            functions::lookup(name).is_some_and(|s| s.kind == Kind::Aggregate) || args.iter().any(is_aggregate)
        }
        IrExpr::Binary { lhs, rhs, .. } => is_aggregate(lhs) || is_aggregate(rhs),
        IrExpr::TsShift { ts, secs, .. } => is_aggregate(ts) || is_aggregate(secs),
        IrExpr::Not(x) | IrExpr::Neg(x) => is_aggregate(x),
        IrExpr::Cast { expr, .. } | IrExpr::IsNull { expr, .. } => is_aggregate(expr),
        IrExpr::InList { expr, list, .. } => is_aggregate(expr) || list.iter().any(is_aggregate),
        IrExpr::InParam { expr, .. } => is_aggregate(expr),
        IrExpr::Bucket { ts, .. } => is_aggregate(ts),
        IrExpr::Case { whens, otherwise } => {
            whens.iter().any(|(c, v)| is_aggregate(c) || is_aggregate(v))
                || otherwise.as_deref().is_some_and(is_aggregate)
        }
        IrExpr::JsonText { base, .. } | IrExpr::JsonHas { base, .. } => is_aggregate(base),
        IrExpr::Col { .. } | IrExpr::Lit(_) | IrExpr::Param(_) | IrExpr::Exists { .. } | IrExpr::Window { .. } => false,
    }
}
