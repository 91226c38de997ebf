//! Name resolution against the catalog, types, grouping rules → the typed IR.
//!
//! The checker walks the pipeline keeping one SELECT under construction and the columns the
//! next stage can see. A stage that cannot extend that SELECT (a `where` after `take`, a
//! `join` after `group`, …) first wraps it as a subquery, so every pipeline lowers to
//! correct nested SQL. Errors are collected, not thrown: one run reports all it can.

pub mod functions;
pub mod ir;

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
}

struct Checker<'a> {
    diags: Vec<Diagnostic>,
    params: Vec<ParamInfo>,
    declared: &'a HashMap<String, Ty>,
    params_seen_at: Vec<Span>,
    views: Vec<View>,
    subqueries: usize,
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

    fn pipeline(&mut self, q: &Query) -> Option<Plan> {
        let mut stages = q.stages.iter();
        let first = stages.next()?;
        let Stage::From { table, alias } = &first.node else {
            self.err(
                Diagnostic::new(
                    "E0002",
                    first.span.clone(),
                    format!("a query starts with `from`, not `{}`", first.node.keyword()),
                )
                .hint("start with `from <table>`, e.g. `from sessions`"),
            );
            return None;
        };
        let mut st = self.start_at(table, alias)?;
        for s in stages {
            st = self.stage(st, s)?;
        }
        let columns = output_of(&st.scope);
        let output = columns.iter().map(|(n, e)| (n.clone(), e.ty)).collect();
        st.sel.columns = columns;
        Some(Plan { views: std::mem::take(&mut self.views), main: st.sel, params: self.params.clone(), output })
    }

    fn table_scope(
        &mut self,
        table: &Spanned<String>,
        alias: &Option<Spanned<String>>,
    ) -> Option<(FromItem, Vec<ScopeCol>)> {
        let alias_name = alias.as_ref().map(|a| a.node.clone()).unwrap_or_else(|| table.node.clone());
        if let Some(v) = self.views.iter().find(|v| v.name == table.node) {
            let scope = v
                .select
                .columns
                .iter()
                .map(|(n, e)| ScopeCol {
                    qual: Some(alias_name.clone()),
                    name: n.clone(),
                    expr: TExpr { e: IrExpr::Col { rel: alias_name.clone(), name: n.clone() }, ty: e.ty },
                })
                .collect();
            return Some((FromItem::View { name: v.name.clone(), alias: alias_name }, scope));
        }
        let Some(t) = catalog::table(&table.node) else {
            let names: Vec<&str> = catalog::TABLES.iter().map(|t| t.name).collect();
            let near = near_names(&table.node, names.iter().copied());
            let hint = if near.is_empty() {
                format!("tables are: {}", names.join(", "))
            } else {
                format!("did you mean `{}`? tables are: {}", near[0], names.join(", "))
            };
            self.err(
                Diagnostic::new("E0200", table.span.clone(), format!("unknown table `{}`", table.node)).hint(hint),
            );
            return None;
        };
        let scope = t
            .columns
            .iter()
            .map(|c| ScopeCol {
                qual: Some(alias_name.clone()),
                name: c.name.to_string(),
                expr: TExpr { e: IrExpr::Col { rel: alias_name.clone(), name: c.name.to_string() }, ty: col_ty(c.ty) },
            })
            .collect();
        Some((FromItem::Table { name: t.name.to_string(), alias: alias_name }, scope))
    }

    fn start_at(&mut self, table: &Spanned<String>, alias: &Option<Spanned<String>>) -> Option<State> {
        let (item, scope) = self.table_scope(table, alias)?;
        Some(State { sel: new_select(item), scope, projected: false })
    }

    /// Closes the SELECT under construction and continues from it as a subquery.
    fn wrap(&mut self, mut st: State) -> State {
        self.subqueries += 1;
        let alias = format!("_q{}", self.subqueries);
        let columns = output_of(&st.scope);
        let scope = columns
            .iter()
            .zip(&st.scope)
            .map(|((name, e), old)| ScopeCol {
                qual: old.qual.clone(),
                name: name.clone(),
                expr: TExpr { e: IrExpr::Col { rel: alias.clone(), name: name.clone() }, ty: e.ty },
            })
            .collect();
        st.sel.columns = columns;
        State { sel: new_select(FromItem::Sub { select: Box::new(st.sel), alias }), scope, projected: false }
    }

    fn stage(&mut self, mut st: State, s: &Spanned<Stage>) -> Option<State> {
        match &s.node {
            Stage::From { .. } => {
                self.err(
                    Diagnostic::new("E0003", s.span.clone(), "a second `from` in one query")
                        .hint("use `join <table> on …` to combine tables"),
                );
                return Some(st);
            }
            Stage::Join { left, table, alias, on } => {
                if st.sel.group.is_some() || st.sel.limit.is_some() || !st.sel.order.is_empty() || st.projected {
                    st = self.wrap(st);
                }
                let (item, cols) = self.table_scope(table, alias)?;
                let alias_name = match &item {
                    FromItem::Table { alias, .. } | FromItem::View { alias, .. } | FromItem::Sub { alias, .. } => {
                        alias.clone()
                    }
                };
                if st.scope.iter().any(|c| c.qual.as_deref() == Some(alias_name.as_str())) {
                    let span = alias.as_ref().map(|a| a.span.clone()).unwrap_or(table.span.clone());
                    self.err(
                        Diagnostic::new("E0206", span, format!("`{alias_name}` is already used in this query"))
                            .hint(format!("give it another name: `join {} as x on …`", table.node)),
                    );
                    return Some(st);
                }
                st.scope.extend(cols);
                let on = self.expect_bool(on, &st, "join condition");
                st.sel.joins.push(Join { left: *left, item, on });
            }
            Stage::Where(e) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let cond = self.expect_bool(e, &st, "`where` condition");
                if st.sel.group.is_some() {
                    st.sel.having.push(cond);
                } else {
                    st.sel.filter.push(cond);
                }
            }
            Stage::Derive(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                for a in items {
                    let e = self.expr(&a.expr, &st, Mode::Plain);
                    self.define(&mut st.scope, &a.name, e);
                }
            }
            Stage::Group { keys, aggregates } => {
                st = self.group(st, keys, aggregates.as_deref().unwrap_or(&[]), s);
            }
            Stage::Aggregate(items) => {
                st = self.group(st, &[], items, s);
            }
            Stage::Select(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let mut scope = Vec::new();
                for it in items {
                    let e = self.expr(&it.expr, &st, Mode::Plain);
                    let (qual, name) = match (&it.name, &it.expr.kind) {
                        (Some(n), _) => (None, n.clone()),
                        (None, ExprKind::Path(segs)) => {
                            let Some(Seg::Key(last)) = segs.last().map(|s| &s.node) else {
                                self.err(
                                    Diagnostic::new("E0204", it.expr.span.clone(), "this column needs a name")
                                        .hint("write `name = …`"),
                                );
                                continue;
                            };
                            let qual = (segs.len() == 2).then(|| match &segs[0].node {
                                Seg::Key(k) => k.clone(),
                                Seg::Index(_) => String::new(),
                            });
                            (qual, Spanned { node: last.clone(), span: it.expr.span.clone() })
                        }
                        (None, _) => {
                            self.err(
                                Diagnostic::new("E0204", it.expr.span.clone(), "this column needs a name")
                                    .hint("write `name = …` for anything that is not a plain column"),
                            );
                            continue;
                        }
                    };
                    if scope.iter().any(|c: &ScopeCol| c.name == name.node) {
                        self.err(
                            Diagnostic::new(
                                "E0207",
                                name.span.clone(),
                                format!("column `{}` is selected twice", name.node),
                            )
                            .hint("give one of them another name: `other = …`"),
                        );
                        continue;
                    }
                    scope.push(ScopeCol { qual, name: name.node, expr: e });
                }
                st.scope = scope;
                st.projected = true;
            }
            Stage::Sort(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                st.sel.order = items
                    .iter()
                    .map(|i| OrderItem { expr: self.expr(&i.expr, &st, Mode::Plain), desc: i.desc })
                    .collect();
            }
            Stage::Take(e) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let n = self.expr(e, &st, Mode::Plain);
                let ok = match &n.e {
                    IrExpr::Lit(Lit::Int(_)) => true,
                    IrExpr::Param(i) => self.unify_param(*i, Ty::Int, &e.span),
                    _ => false,
                };
                if !ok {
                    self.err(
                        Diagnostic::new("E0311", e.span.clone(), "`take` needs a whole number")
                            .hint("e.g. `take 10` or `take $top`"),
                    );
                }
                st.sel.limit = Some(n);
            }
            Stage::Materialize(name) => {
                for span in std::mem::take(&mut self.params_seen_at) {
                    self.err(Diagnostic::new("E0401", span, "a parameter before `materialize`").hint(
                        "a materialized view is shared by every run: move parameter filters after `materialize`",
                    ));
                }
                let Some(keys) = st.sel.group.as_ref().map(|_| {
                    st.scope.iter().filter(|c| !is_aggregate(&c.expr)).map(|c| c.name.clone()).collect::<Vec<_>>()
                }) else {
                    self.err(
                        Diagnostic::new("E0402", name.span.clone(), "`materialize` needs a `group` stage before it")
                            .hint("a materialized view needs a unique key to refresh concurrently: its group keys"),
                    );
                    return Some(st);
                };
                if catalog::table(&name.node).is_some() || self.views.iter().any(|v| v.name == name.node) {
                    self.err(Diagnostic::new(
                        "E0403",
                        name.span.clone(),
                        format!("`{}` is already a table or view", name.node),
                    ));
                    return Some(st);
                }
                let columns = output_of(&st.scope);
                let mut sel = st.sel;
                sel.columns = columns.clone();
                self.views.push(View { name: name.node.clone(), select: sel, keys });
                let alias = name.node.clone();
                let scope = columns
                    .iter()
                    .map(|(n, e)| ScopeCol {
                        qual: Some(alias.clone()),
                        name: n.clone(),
                        expr: TExpr { e: IrExpr::Col { rel: alias.clone(), name: n.clone() }, ty: e.ty },
                    })
                    .collect();
                st = State {
                    sel: new_select(FromItem::View { name: name.node.clone(), alias }),
                    scope,
                    projected: false,
                };
            }
        }
        Some(st)
    }

    fn group(&mut self, mut st: State, keys: &[Item], aggs: &[Assign], s: &Spanned<Stage>) -> State {
        if st.sel.group.is_some() || st.sel.limit.is_some() || !st.sel.order.is_empty() {
            st = self.wrap(st);
        }
        let mut scope = Vec::new();
        let mut key_exprs = Vec::new();
        for k in keys {
            let e = self.expr(&k.expr, &st, Mode::Plain);
            let name = match (&k.name, &k.expr.kind) {
                (Some(n), _) => n.node.clone(),
                (None, ExprKind::Path(segs)) if matches!(segs.last().map(|x| &x.node), Some(Seg::Key(_))) => {
                    let Some(Seg::Key(k)) = segs.last().map(|x| &x.node) else { unreachable!() };
                    k.clone()
                }
                _ => {
                    self.err(
                        Diagnostic::new("E0204", k.expr.span.clone(), "this group key needs a name")
                            .hint("write `name = …`, e.g. `group day = bucket(ts, day)`"),
                    );
                    continue;
                }
            };
            let qual = match &k.expr.kind {
                ExprKind::Path(segs) if segs.len() == 2 && k.name.is_none() => match &segs[0].node {
                    Seg::Key(q) => Some(q.clone()),
                    Seg::Index(_) => None,
                },
                _ => None,
            };
            key_exprs.push(e.clone());
            scope.push(ScopeCol { qual, name, expr: e });
        }
        for a in aggs {
            let before = self.diags.len();
            let e = self.expr(&a.expr, &st, Mode::Aggregate { inside: false });
            if self.diags.len() == before && !is_aggregate(&e) && !matches!(e.e, IrExpr::Lit(_)) {
                self.err(
                    Diagnostic::new("E0301", a.expr.span.clone(), format!("`{}` is not an aggregate", a.name.node))
                        .hint("use count(), sum(…), min(…), max(…), avg(…), count_distinct(…) or string_agg(…)"),
                );
            }
            self.define(&mut scope, &a.name, e);
        }
        if keys.is_empty() && aggs.is_empty() {
            self.err(
                Diagnostic::new("E0306", s.span.clone(), "nothing to aggregate")
                    .hint("e.g. `aggregate total = count()`"),
            );
        }
        st.sel.group = Some(key_exprs);
        st.scope = scope;
        st
    }

    fn define(&mut self, scope: &mut Vec<ScopeCol>, name: &Spanned<String>, e: TExpr) {
        // A new definition shadows an unqualified one of the same name.
        scope.retain(|c| !(c.name == name.node && c.qual.is_none()));
        scope.push(ScopeCol { qual: None, name: name.node.clone(), expr: e });
    }

    fn expect_bool(&mut self, e: &Expr, st: &State, what: &str) -> TExpr {
        let t = self.expr(e, st, Mode::Plain);
        if !matches!(t.ty, Ty::Bool | Ty::Null) {
            self.err(
                Diagnostic::new(
                    "E0310",
                    e.span.clone(),
                    format!("the {what} must be true or false, not {}", t.ty.name()),
                )
                .hint("compare it with something, e.g. `x == …`"),
            );
        }
        t
    }

    fn param(&mut self, name: &str, span: &Span) -> TExpr {
        self.params_seen_at.push(span.clone());
        let idx = match self.params.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                let ty = self.declared.get(name).copied().unwrap_or(Ty::Null);
                self.params.push(ParamInfo { name: name.to_string(), ty, first_use: span.clone() });
                self.params.len() - 1
            }
        };
        TExpr { e: IrExpr::Param(idx + 1), ty: self.params[idx].ty }
    }

    /// Records that parameter `idx` (1-based) is used as `ty`; false if that contradicts.
    fn unify_param(&mut self, idx: usize, ty: Ty, span: &Span) -> bool {
        let p = &mut self.params[idx - 1];
        if p.ty == Ty::Null {
            p.ty = ty;
            true
        } else if p.ty == ty || (p.ty.is_numeric() && ty.is_numeric() && ty != Ty::Null) {
            true
        } else {
            let d = Diagnostic::new(
                "E0304",
                span.clone(),
                format!("`${}` is used as {} here but is {}", p.name, ty.name(), p.ty.name()),
            )
            .hint("a parameter has one type everywhere it is used");
            self.err(d);
            false
        }
    }

    /// If `t` is a parameter of unknown type, gives it type `other`.
    fn infer(&mut self, t: &mut TExpr, other: Ty, span: &Span) {
        if let IrExpr::Param(i) = t.e {
            if other != Ty::Null {
                self.unify_param(i, other, span);
                t.ty = self.params[i - 1].ty;
            }
        }
    }

    fn resolve(&mut self, segs: &[Spanned<Seg>], span: &Span, st: &State) -> TExpr {
        let bad = TExpr { e: IrExpr::Lit(Lit::Null), ty: Ty::Null };
        let Seg::Key(first) = &segs[0].node else { return bad };
        // `q.col…` when `q` names a table in scope, else `col…`.
        let (col, rest) = match segs.get(1).map(|s| &s.node) {
            Some(Seg::Key(second)) if st.scope.iter().any(|c| c.qual.as_deref() == Some(first.as_str())) => {
                match st.scope.iter().find(|c| c.qual.as_deref() == Some(first.as_str()) && c.name == *second) {
                    Some(c) => (c.clone(), &segs[2..]),
                    None => {
                        let names: Vec<&str> = st
                            .scope
                            .iter()
                            .filter(|c| c.qual.as_deref() == Some(first.as_str()))
                            .map(|c| c.name.as_str())
                            .collect();
                        let near = near_names(second, names.iter().copied());
                        let mut d = Diagnostic::new(
                            "E0201",
                            segs[1].span.clone(),
                            format!("`{first}` has no column `{second}`"),
                        );
                        if let Some(n) = near.first() {
                            d = d.hint(format!("did you mean `{first}.{n}`?"));
                        }
                        self.err(d);
                        return bad;
                    }
                }
            }
            _ => {
                let mut found: Vec<&ScopeCol> = st.scope.iter().filter(|c| c.name == *first).collect();
                // A name the pipeline defined itself (derive, group, aggregate) wins over a
                // joined table's column of the same name; two tables' columns stay ambiguous.
                if found.len() > 1 && found.iter().filter(|c| c.qual.is_none()).count() == 1 {
                    found.retain(|c| c.qual.is_none());
                }
                match found.len() {
                    0 => {
                        let near = near_names(first, st.scope.iter().map(|c| c.name.as_str()));
                        let mut d = Diagnostic::new("E0201", segs[0].span.clone(), format!("unknown column `{first}`"));
                        d = if !near.is_empty() {
                            d.hint(format!(
                                "did you mean {}?",
                                near.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
                            ))
                        } else if st.sel.group.is_some() {
                            d.hint("after `group`/`aggregate` only the group keys and aggregates are available")
                        } else {
                            let mut names: Vec<&str> = st.scope.iter().map(|c| c.name.as_str()).collect();
                            names.dedup();
                            d.hint(format!("columns here: {}", names.join(", ")))
                        };
                        self.err(d);
                        return bad;
                    }
                    1 => (found[0].clone(), &segs[1..]),
                    _ => {
                        let quals: Vec<String> = found
                            .iter()
                            .map(|c| format!("`{}.{}`", c.qual.clone().unwrap_or_default(), c.name))
                            .collect();
                        self.err(
                            Diagnostic::new("E0203", segs[0].span.clone(), format!("`{first}` is ambiguous"))
                                .hint(format!("say which: {}", quals.join(" or "))),
                        );
                        return bad;
                    }
                }
            }
        };
        if rest.is_empty() {
            return col.expr;
        }
        if col.expr.ty != Ty::Json {
            self.err(
                Diagnostic::new(
                    "E0205",
                    span.clone(),
                    format!("`{}` is {}, not JSON: it has no fields", col.name, col.expr.ty.name()),
                )
                .hint("only JSON columns such as `payload` have fields"),
            );
            return bad;
        }
        let mut path = Vec::new();
        for s in rest {
            if let Seg::Key(k) = &s.node {
                if k.contains('"') || k.contains('\'') || k.is_empty() {
                    self.err(Diagnostic::new(
                        "E0208",
                        s.span.clone(),
                        "JSON keys with quotes (or empty keys) are not supported",
                    ));
                    return bad;
                }
            }
            path.push(s.node.clone());
        }
        TExpr { e: IrExpr::JsonText { base: Box::new(col.expr), path }, ty: Ty::Text }
    }

    fn expr(&mut self, e: &Expr, st: &State, mode: Mode) -> TExpr {
        match &e.kind {
            ExprKind::Lit(l) => {
                let ty = match l {
                    Lit::Int(_) => Ty::Int,
                    Lit::Float(_) => Ty::Float,
                    Lit::Text(_) => Ty::Text,
                    Lit::Bool(_) => Ty::Bool,
                    Lit::Null => Ty::Null,
                    Lit::Timestamp(_) => Ty::Timestamp,
                    Lit::Duration(_) => Ty::Duration,
                };
                TExpr { e: IrExpr::Lit(l.clone()), ty }
            }
            ExprKind::Param(name) => self.param(name, &e.span),
            ExprKind::Path(segs) => {
                if let Mode::Aggregate { inside: false } = mode {
                    let t = self.resolve(segs, &e.span, st);
                    if !is_aggregate(&t) && t.ty != Ty::Null {
                        self.err(
                            Diagnostic::new(
                                "E0302",
                                e.span.clone(),
                                "a column in `aggregate` must be inside an aggregate function",
                            )
                            .hint("wrap it, e.g. `max(…)` or `count_distinct(…)`, or add it to `group`"),
                        );
                    }
                    return t;
                }
                self.resolve(segs, &e.span, st)
            }
            ExprKind::Not(x) => {
                let t = self.expr(x, st, mode);
                self.want(&t, Ty::Bool, &x.span, "`not`");
                TExpr { e: IrExpr::Not(Box::new(t)), ty: Ty::Bool }
            }
            ExprKind::Neg(x) => {
                let t = self.expr(x, st, mode);
                if !t.ty.is_numeric() {
                    self.type_err(&x.span, format!("cannot negate {}", t.ty.name()));
                }
                let ty = t.ty;
                TExpr { e: IrExpr::Neg(Box::new(t)), ty }
            }
            ExprKind::Cast { expr, ty } => {
                let t = self.expr(expr, st, mode);
                let ty = Ty::from_name(*ty);
                if t.ty == Ty::Json {
                    self.type_err(
                        &expr.span,
                        "cast a field of the JSON column, e.g. `payload.duration as float`".into(),
                    );
                }
                TExpr { e: IrExpr::Cast { expr: Box::new(t), ty }, ty }
            }
            ExprKind::IsNull { expr, negated } => {
                let t = self.expr(expr, st, mode);
                TExpr { e: IrExpr::IsNull { expr: Box::new(t), negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::InList { expr, list, negated } => {
                let mut t = self.expr(expr, st, mode);
                let mut items = Vec::new();
                for x in list {
                    let mut i = self.expr(x, st, mode);
                    self.infer(&mut i, t.ty, &x.span);
                    self.infer(&mut t, i.ty, &expr.span);
                    if !i.ty.compatible(t.ty) {
                        self.type_err(&x.span, format!("cannot compare {} with {}", t.ty.name(), i.ty.name()));
                    }
                    items.push(i);
                }
                TExpr { e: IrExpr::InList { expr: Box::new(t), list: items, negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::InParam { expr, param, negated } => {
                let t = self.expr(expr, st, mode);
                if !matches!(t.ty, Ty::Text | Ty::Null) {
                    self.type_err(&expr.span, format!("`in $list` needs text on the left, not {}", t.ty.name()));
                }
                let p = self.param(param, &e.span);
                let IrExpr::Param(i) = p.e else { unreachable!("param") };
                self.unify_param(i, Ty::List, &e.span);
                TExpr { e: IrExpr::InParam { expr: Box::new(t), param: i, negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, st, mode, &e.span),
            ExprKind::Call { name, args } => self.call(name, args, st, mode, &e.span),
        }
    }

    fn want(&mut self, t: &TExpr, ty: Ty, span: &Span, ctx: &str) {
        if let IrExpr::Param(i) = t.e {
            self.unify_param(i, ty, span);
        } else if t.ty != ty && t.ty != Ty::Null {
            self.type_err(span, format!("{ctx} needs {}, not {}", ty.name(), t.ty.name()));
        }
    }

    fn type_err(&mut self, span: &Span, msg: String) {
        self.err(Diagnostic::new("E0310", span.clone(), msg));
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, st: &State, mode: Mode, span: &Span) -> TExpr {
        let mut a = self.expr(l, st, mode);
        let mut b = self.expr(r, st, mode);
        if matches!(op, BinOp::Add | BinOp::Sub) && (a.ty == Ty::Duration || b.ty == Ty::Duration) {
            // `$since - 1d`: a parameter shifted by a duration is a timestamp.
            if b.ty == Ty::Duration {
                self.infer(&mut a, Ty::Timestamp, &l.span);
            } else {
                self.infer(&mut b, Ty::Timestamp, &r.span);
            }
        } else {
            self.infer(&mut a, b.ty, &l.span);
            self.infer(&mut b, a.ty, &r.span);
        }
        let mk = |ty| TExpr { e: IrExpr::Binary { op, lhs: Box::new(a.clone()), rhs: Box::new(b.clone()) }, ty };
        match op {
            BinOp::And | BinOp::Or => {
                self.want(&a, Ty::Bool, &l.span, &format!("`{}`", op.symbol()));
                self.want(&b, Ty::Bool, &r.span, &format!("`{}`", op.symbol()));
                mk(Ty::Bool)
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !a.ty.compatible(b.ty) {
                    let mut d = Diagnostic::new(
                        "E0310",
                        span.clone(),
                        format!("cannot compare {} with {}", a.ty.name(), b.ty.name()),
                    );
                    if matches!((a.ty, b.ty), (Ty::Timestamp, Ty::Text) | (Ty::Text, Ty::Timestamp)) {
                        d = d.hint("write timestamps as @2025-09-22 or @2025-09-22T13:45:00Z");
                    }
                    self.err(d);
                }
                mk(Ty::Bool)
            }
            BinOp::Like => {
                self.want(&a, Ty::Text, &l.span, "`like`");
                self.want(&b, Ty::Text, &r.span, "`like`");
                mk(Ty::Bool)
            }
            BinOp::Coalesce => {
                if !a.ty.compatible(b.ty) {
                    self.type_err(
                        span,
                        format!("`??` needs both sides of one type, not {} and {}", a.ty.name(), b.ty.name()),
                    );
                }
                mk(if a.ty == Ty::Null { b.ty } else { a.ty })
            }
            BinOp::Add | BinOp::Sub if a.ty == Ty::Timestamp || b.ty == Ty::Timestamp => {
                let (ts, dur) = if a.ty == Ty::Timestamp { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
                if dur.ty == Ty::Timestamp {
                    self.err(
                        Diagnostic::new("E0310", span.clone(), "cannot subtract timestamps")
                            .hint("use seconds_between(start, end)"),
                    );
                } else if dur.ty != Ty::Duration {
                    self.err(
                        Diagnostic::new("E0310", span.clone(), format!("cannot add {} to a timestamp", dur.ty.name()))
                            .hint("add a duration such as 7d, 24h, 90m or 30s"),
                    );
                } else if op == BinOp::Sub && b.ty == Ty::Timestamp {
                    self.type_err(span, "cannot subtract a timestamp from a duration".into());
                }
                TExpr {
                    e: IrExpr::TsShift { ts: Box::new(ts), secs: Box::new(dur), negative: op == BinOp::Sub },
                    ty: Ty::Timestamp,
                }
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                for (t, s) in [(&a, &l.span), (&b, &r.span)] {
                    if !t.ty.is_numeric() {
                        self.type_err(s, format!("`{}` needs numbers, not {}", op.symbol(), t.ty.name()));
                    }
                }
                mk(if a.ty == Ty::Float || b.ty == Ty::Float { Ty::Float } else { Ty::Int })
            }
        }
    }

    fn call(&mut self, name: &Spanned<String>, args: &[Expr], st: &State, mode: Mode, span: &Span) -> TExpr {
        let bad = TExpr { e: IrExpr::Lit(Lit::Null), ty: Ty::Null };
        match name.node.as_str() {
            "bucket" => {
                let unit = match args.get(1).map(|a| &a.kind) {
                    Some(ExprKind::Path(p)) if p.len() == 1 => match &p[0].node {
                        Seg::Key(k) if k == "hour" => Some(Unit::Hour),
                        Seg::Key(k) if k == "day" => Some(Unit::Day),
                        Seg::Key(k) if k == "week" => Some(Unit::Week),
                        Seg::Key(k) if k == "month" => Some(Unit::Month),
                        _ => None,
                    },
                    _ => None,
                };
                let (Some(ts), Some(unit), 2) = (args.first(), unit, args.len()) else {
                    self.err(
                        Diagnostic::new("E0312", span.clone(), "bucket takes a timestamp and a unit")
                            .hint("bucket(ts, hour|day|week|month)"),
                    );
                    return bad;
                };
                let t = self.expr(ts, st, mode);
                self.want(&t, Ty::Timestamp, &ts.span, "bucket");
                return TExpr { e: IrExpr::Bucket { ts: Box::new(t), unit }, ty: Ty::Timestamp };
            }
            "has" => {
                let t = match args {
                    [a] => self.expr(a, st, Mode::Plain),
                    _ => bad.clone(),
                };
                let IrExpr::JsonText { base, path } = t.e else {
                    self.err(
                        Diagnostic::new("E0312", span.clone(), "has takes one JSON field")
                            .hint("e.g. has(payload.client.hassh)"),
                    );
                    return bad;
                };
                return TExpr { e: IrExpr::JsonHas { base, path }, ty: Ty::Bool };
            }
            _ => {}
        }
        let Some(sig) = functions::lookup(&name.node) else {
            let all = functions::FUNCTIONS.iter().map(|f| f.name).chain(functions::SPECIAL.iter().copied());
            let near = near_names(&name.node, all);
            let mut d = Diagnostic::new("E0209", name.span.clone(), format!("unknown function `{}`", name.node));
            if let Some(n) = near.first() {
                d = d.hint(format!("did you mean `{n}`?"));
            }
            self.err(d);
            return bad;
        };
        let agg = sig.kind == Kind::Aggregate;
        let inner_mode = match (mode, agg) {
            (Mode::Aggregate { inside: false }, true) => Mode::Aggregate { inside: true },
            (Mode::Aggregate { inside: true }, true) => {
                self.err(Diagnostic::new(
                    "E0303",
                    name.span.clone(),
                    format!("aggregate `{}` inside another aggregate", name.node),
                ));
                mode
            }
            (Mode::Plain, true) => {
                self.err(
                    Diagnostic::new(
                        "E0300",
                        name.span.clone(),
                        format!("aggregate function `{}` outside `aggregate`", name.node),
                    )
                    .hint("aggregates go in `group … aggregate …` or `aggregate …`"),
                );
                Mode::Plain
            }
            (m, false) => m,
        };
        let targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, st, inner_mode)).collect();
        let tys: Vec<Ty> = targs.iter().map(|t| t.ty).collect();
        let ty = match (sig.ret)(&tys) {
            Ok(t) => t,
            Err(msg) => {
                self.err(
                    Diagnostic::new("E0312", span.clone(), format!("`{}` {msg}", sig.name))
                        .hint(format!("usage: {}", sig.usage)),
                );
                Ty::Null
            }
        };
        TExpr { e: IrExpr::Func { name: sig.name, args: targs, span: span.clone() }, ty }
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
        IrExpr::JsonText { base, .. } | IrExpr::JsonHas { base, .. } => is_aggregate(base),
        IrExpr::Col { .. } | IrExpr::Lit(_) | IrExpr::Param(_) => false,
    }
}
