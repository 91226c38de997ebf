//! SQL emission: one generic emitter over the `Dialect` trait; each dialect is a small set
//! of methods plus a function table. Statements are printed readably and checked by
//! sqlparser with the matching dialect before they leave the compiler.

pub mod functions;
pub mod postgres;
pub mod sqlite;
pub mod validate;

use crate::check::ir::*;
use crate::diag::Diagnostic;
use crate::dsl::ast::{BinOp, Lit, Seg};

pub use functions::{FnTemplate, Lowering};

pub trait Dialect: Sync {
    fn name(&self) -> &'static str;
    /// This dialect's entries over [`functions::BASE`]: its own forms, and what it cannot do.
    fn functions(&self) -> &'static [FnTemplate];
    /// The same over [`functions::BASE_WINDOW`], for window functions and windowed
    /// aggregates (`{over}` is the window).
    fn window_functions(&self) -> &'static [FnTemplate];
    fn placeholder(&self, n: usize, ty: Ty) -> String;
    fn bool_lit(&self, b: bool) -> &'static str;
    fn timestamp_lit(&self, canonical: &str) -> String;
    fn int_lit(&self, i: i64) -> String;
    fn float_lit(&self, f: f64) -> String;
    fn json_text(&self, base: &str, path: &[Seg]) -> String;
    fn json_has(&self, base: &str, path: &[Seg]) -> String;
    /// A condition an index on the whole JSON column can answer, implied by "the text at
    /// `path` equals `value` and the JSON value there is a string" (None: the dialect has
    /// no such index). It is only ever added beside the exact comparison, in WHERE.
    fn json_contains(&self, _base: &str, _path: &[Seg], _value: &str) -> Option<String> {
        None
    }
    fn cast(&self, e: &str, from: Ty, to: Ty) -> String;
    fn bucket(&self, ts: &str, unit: Unit) -> String;
    fn ts_shift(&self, ts: &str, secs: &str, negative: bool) -> String;
    /// Case-insensitive pattern match with `\` as the escape character.
    fn like(&self, a: &str, b: &str) -> String;
    /// `e [NOT] IN` a bound list of text.
    fn in_list_param(&self, e: &str, placeholder: &str, negated: bool) -> String;
    /// A sort key: text sorts bytewise on every dialect.
    fn order_key(&self, e: &str, ty: Ty) -> String;
    /// Statements that create a materialized view (a table, where the dialect has none)
    /// before the query runs.
    fn create_view(&self, view: &View, body: &str) -> Vec<String>;
    /// Statements that bring a view up to date (`concurrently`: without blocking readers,
    /// where the dialect can).
    fn refresh_view(&self, name: &str, body: &str, concurrently: bool) -> Vec<String>;
    fn drop_view(&self, name: &str) -> String;
    fn sqlparser(&self) -> Box<dyn sqlparser::dialect::Dialect>;
}

pub static SQLITE: sqlite::Sqlite = sqlite::Sqlite;
pub static POSTGRES: postgres::Postgres = postgres::Postgres;

pub fn dialect(name: &str) -> Option<&'static dyn Dialect> {
    match name {
        "sqlite" => Some(&SQLITE),
        "postgres" | "postgresql" => Some(&POSTGRES),
        _ => None,
    }
}

pub fn all_dialects() -> [&'static dyn Dialect; 2] {
    [&SQLITE, &POSTGRES]
}

/// A materialized view's name and the statements that create it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ViewSql {
    pub name: String,
    /// The SELECT the view holds, for reading it inline where it cannot be built.
    pub body: String,
    pub statements: Vec<String>,
    pub refresh: Vec<String>,
    pub refresh_concurrently: Vec<String>,
    pub drop: String,
}

impl ViewSql {
    /// Identifies the definition: a changed prefix gives a different hash.
    pub fn definition_hash(&self) -> String {
        blake3::hash(self.statements.join(";\n").as_bytes()).to_hex().to_string()
    }
}

impl Compiled {
    /// Every statement to run before `sql`.
    pub fn setup(&self) -> impl Iterator<Item = &String> {
        self.views.iter().flat_map(|v| v.statements.iter())
    }

    /// `sql` reading the `inline` views from common table expressions of the same name
    /// instead of their tables: the same rows, computed by this query (a connection that may
    /// not create a view still runs the report).
    pub fn sql_inlining(&self, inline: &[&str]) -> String {
        let mut ctes = self.views.iter().filter(|v| inline.contains(&v.name.as_str())).peekable();
        if ctes.peek().is_none() {
            return self.sql.clone();
        }
        let mut out = String::from("WITH ");
        for (i, v) in ctes.enumerate() {
            if i > 0 {
                out.push_str(",\n");
            }
            push_ident(&mut out, &v.name);
            out.push_str(" AS (\n");
            out.push_str(&v.body);
            out.push_str("\n)");
        }
        // A query with `let` opens with its own WITH: the views join that list (they never
        // read a `let`, so they may come first).
        match self.sql.strip_prefix("WITH ") {
            Some(rest) => {
                out.push_str(",\n");
                out.push_str(rest);
            }
            None => {
                out.push('\n');
                out.push_str(&self.sql);
            }
        }
        out
    }
}

/// The SQL for one plan on one dialect.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Compiled {
    pub dialect: &'static str,
    /// Materialized views `sql` reads, with the statements that create, refresh and drop them.
    pub views: Vec<ViewSql>,
    pub sql: String,
    /// Bind order: placeholder N takes `params[N-1]`.
    pub params: Vec<ParamInfo>,
    pub output: Vec<(String, Ty)>,
}

pub fn quote_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_ident(&mut out, s);
    out
}

/// Appends `s` as a quoted identifier (the emitter writes into one buffer: allocations were
/// a sixth of compile time).
fn push_ident(out: &mut String, s: &str) {
    out.push('"');
    if s.contains('"') {
        out.push_str(&s.replace('"', "\"\""));
    } else {
        out.push_str(s);
    }
    out.push('"');
}

pub fn quote_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A JSON path in SQLite/MySQL form: `$.a."odd-key"[0]`.
pub fn json_path_text(path: &[Seg]) -> String {
    let mut p = String::from("$");
    for s in path {
        match s {
            Seg::Key(k)
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !k.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                p.push('.');
                p.push_str(k);
            }
            Seg::Key(k) => {
                p.push_str(".\"");
                p.push_str(k);
                p.push('"');
            }
            Seg::Index(i) => p.push_str(&format!("[{i}]")),
        }
    }
    p
}

struct Emitter<'a> {
    d: &'a dyn Dialect,
    params: &'a [ParamInfo],
    /// Expression nesting so far: only deep expressions pay for the stack check.
    depth: std::cell::Cell<usize>,
}

/// A view's rows are written in the order of its keys (the first is the day, for the per-day
/// views), so that a report reading a few days of it reads a few pages, not a page per row:
/// at 10M events a month of `sessions_per_day` was 5,350 heap pages in hash order and 458 in
/// key order (PostgreSQL; on SQLite the rowid order).
fn stored_in_key_order(body: &str, v: &View) -> String {
    if v.keys.is_empty() || !v.select.order.is_empty() || v.select.limit.is_some() {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len() + 64);
    out.push_str(body);
    out.push_str("\nORDER BY ");
    for (i, k) in v.keys.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_ident(&mut out, k);
    }
    out
}

pub fn emit(plan: &Plan, d: &dyn Dialect) -> Result<Compiled, Vec<Diagnostic>> {
    let em = Emitter { d, params: &plan.params, depth: std::cell::Cell::new(0) };
    let mut views = Vec::new();
    let mut errors = Vec::new();
    for v in &plan.views {
        let mut body = String::with_capacity(512);
        match em.select(&v.select, 0, &mut body) {
            Ok(()) => {
                let stored = stored_in_key_order(&body, v);
                views.push(ViewSql {
                    name: v.name.clone(),
                    body: body.clone(),
                    statements: d.create_view(v, &stored),
                    refresh: d.refresh_view(&v.name, &stored, false),
                    refresh_concurrently: d.refresh_view(&v.name, &stored, true),
                    drop: d.drop_view(&v.name),
                })
            }
            Err(e) => errors.push(e),
        }
    }
    let mut sql = String::with_capacity(1024);
    for (i, c) in plan.ctes.iter().enumerate() {
        sql.push_str(if i == 0 { "WITH " } else { ",\n" });
        push_ident(&mut sql, &c.name);
        sql.push_str(" AS (\n");
        if let Err(e) = em.select(&c.select, 1, &mut sql) {
            errors.push(e);
        }
        sql.push_str("\n)");
    }
    if !plan.ctes.is_empty() {
        sql.push('\n');
    }
    if let Err(e) = em.select(&plan.main, 0, &mut sql) {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Compiled { dialect: d.name(), views, sql, params: plan.params.clone(), output: plan.output.clone() })
}

type Emitted = Result<(), Diagnostic>;

/// Nulls sort last on every dialect (their defaults differ). A key that cannot be null says
/// only its direction, which an index on it can answer.
fn direction(o: &OrderItem) -> &'static str {
    match (o.desc, o.maybe_null) {
        (true, true) => " DESC NULLS LAST",
        (false, true) => " ASC NULLS LAST",
        (true, false) => " DESC",
        (false, false) => " ASC",
    }
}

fn pad(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

impl Emitter<'_> {
    /// Writes `items` separated by `sep`, each by `each`.
    fn list<T>(
        &self,
        out: &mut String,
        items: &[T],
        sep: &str,
        mut each: impl FnMut(&T, &mut String) -> Emitted,
    ) -> Emitted {
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            each(x, out)?;
        }
        Ok(())
    }

    fn select(&self, s: &Select, depth: usize, out: &mut String) -> Emitted {
        let line = |out: &mut String, kw: &str| {
            out.push('\n');
            pad(out, depth);
            out.push_str(kw);
        };
        pad(out, depth);
        out.push_str(if s.distinct { "SELECT DISTINCT\n" } else { "SELECT\n" });
        self.list(out, &s.columns, ",\n", |(n, e), out| {
            pad(out, depth + 1);
            self.expr(e, out)?;
            out.push_str(" AS ");
            push_ident(out, n);
            Ok(())
        })?;
        line(out, "FROM ");
        self.source(&s.from, depth, out)?;
        for j in &s.joins {
            line(out, if j.left { "LEFT JOIN " } else { "JOIN " });
            self.source(&j.item, depth, out)?;
            out.push_str(" ON ");
            self.expr(&j.on, out)?;
        }
        if !s.filter.is_empty() {
            line(out, "WHERE ");
            self.filter(&s.filter, out)?;
        }
        if let Some(keys) = &s.group {
            if !keys.is_empty() {
                line(out, "GROUP BY ");
                self.list(out, keys, ", ", |k, out| self.expr(k, out))?;
            }
        }
        if !s.having.is_empty() {
            line(out, "HAVING ");
            self.list(out, &s.having, " AND ", |x, out| self.operand(x, AND, true, out))?;
        }
        if !s.order.is_empty() {
            line(out, "ORDER BY ");
            self.list(out, &s.order, ", ", |o, out| {
                out.push_str(&self.d.order_key(&self.text(&o.expr)?, o.expr.ty));
                out.push_str(direction(o));
                Ok(())
            })?;
        }
        if let Some(l) = &s.limit {
            line(out, "LIMIT ");
            self.expr(l, out)?;
        }
        Ok(())
    }

    /// WHERE conditions; an equality between a JSON path and text also gets the dialect's
    /// index-friendly containment test (PostgreSQL's GIN index on payload answers it).
    fn filter(&self, xs: &[TExpr], out: &mut String) -> Emitted {
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push_str(" AND ");
            }
        };
        for x in xs {
            for c in conjuncts(x) {
                if let Some(c) = self.containment(c)? {
                    sep(out);
                    out.push_str(&c);
                }
            }
            sep(out);
            self.operand(x, AND, true, out)?;
        }
        Ok(())
    }

    fn containment(&self, x: &TExpr) -> Result<Option<String>, Diagnostic> {
        let IrExpr::Binary { op: BinOp::Eq, lhs, rhs } = &x.e else { return Ok(None) };
        let (path, value) = match (&lhs.e, &rhs.e) {
            (IrExpr::JsonText { .. }, _) => (lhs, rhs),
            (_, IrExpr::JsonText { .. }) => (rhs, lhs),
            _ => return Ok(None),
        };
        let IrExpr::JsonText { base, path } = &path.e else { return Ok(None) };
        let textual = matches!(value.e, IrExpr::Lit(Lit::Text(_)) | IrExpr::Param(_)) && value.ty == Ty::Text;
        if !textual || !matches!(base.e, IrExpr::Col { .. }) {
            return Ok(None);
        }
        Ok(self.d.json_contains(&self.text(base)?, path, &self.text(value)?))
    }

    fn source(&self, f: &FromItem, depth: usize, out: &mut String) -> Emitted {
        let alias = match f {
            FromItem::Table { name, alias } | FromItem::View { name, alias } => {
                push_ident(out, name);
                alias
            }
            FromItem::Sub { select, alias } => {
                out.push_str("(\n");
                self.select(select, depth + 1, out)?;
                out.push('\n');
                pad(out, depth);
                out.push(')');
                alias
            }
            FromItem::Union { parts, alias } => {
                out.push_str("(\n");
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        pad(out, depth + 1);
                        out.push_str("UNION ALL\n");
                    }
                    // SQLite takes ORDER BY and LIMIT only at the end of a compound SELECT:
                    // a part that has them is read as a subquery.
                    if part.order.is_empty() && part.limit.is_none() {
                        self.select(part, depth + 1, out)?;
                    } else {
                        pad(out, depth + 1);
                        out.push_str("SELECT * FROM (\n");
                        self.select(part, depth + 2, out)?;
                        out.push('\n');
                        pad(out, depth + 1);
                        out.push_str(&format!(") AS \"_part{i}\""));
                    }
                }
                out.push('\n');
                pad(out, depth);
                out.push(')');
                alias
            }
        };
        out.push_str(" AS ");
        push_ident(out, alias);
        Ok(())
    }

    /// `t` as a string of its own, for the dialect methods that wrap their arguments.
    fn text(&self, t: &TExpr) -> Result<String, Diagnostic> {
        let mut s = String::new();
        self.expr(t, &mut s)?;
        Ok(s)
    }

    /// `t` as an operand of an operator of precedence `parent`, parenthesised only where
    /// needed: lower precedence, a comparison inside a comparison (SQLite and PostgreSQL
    /// rank comparisons differently), or a right operand of `-`, `/`, `%` and friends.
    fn operand(&self, t: &TExpr, parent: u8, right: bool, out: &mut String) -> Emitted {
        let p = prec(t);
        if p < parent || (p == parent && (parent == CMP || (right && parent >= ADD))) {
            out.push('(');
            self.expr(t, out)?;
            out.push(')');
            Ok(())
        } else {
            self.expr(t, out)
        }
    }

    /// As the checker's: the stack grows on demand for deep expressions.
    fn expr(&self, t: &TExpr, out: &mut String) -> Emitted {
        let depth = self.depth.get();
        self.depth.set(depth + 1);
        let out = if depth > 0 && depth.is_multiple_of(STACK_CHECK_EVERY) {
            stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.expr_here(t, out))
        } else {
            self.expr_here(t, out)
        };
        self.depth.set(depth);
        out
    }

    fn expr_here(&self, t: &TExpr, out: &mut String) -> Emitted {
        let d = self.d;
        match &t.e {
            IrExpr::Binary { op, lhs, rhs } => match op {
                BinOp::Coalesce => {
                    out.push_str("COALESCE(");
                    self.expr(lhs, out)?;
                    out.push_str(", ");
                    self.expr(rhs, out)?;
                    out.push(')');
                }
                BinOp::Like => out.push_str(&d.like(&self.text(lhs)?, &self.text(rhs)?)),
                // Dividing by zero is NULL on both: SQLite gives NULL, PostgreSQL an error that
                // would fail the whole report on one backend only.
                BinOp::Div | BinOp::Mod => {
                    self.operand(lhs, bin_prec(*op), false, out)?;
                    out.push(' ');
                    out.push_str(op.symbol());
                    out.push_str(" NULLIF(");
                    self.expr(rhs, out)?;
                    out.push_str(", 0)");
                }
                _ => {
                    let p = bin_prec(*op);
                    self.operand(lhs, p, false, out)?;
                    out.push(' ');
                    out.push_str(match op {
                        BinOp::Eq => "=",
                        BinOp::Ne => "<>",
                        BinOp::Or => "OR",
                        BinOp::And => "AND",
                        op => op.symbol(),
                    });
                    out.push(' ');
                    self.operand(rhs, p, true, out)?;
                }
            },
            IrExpr::Not(x) => {
                out.push_str("NOT ");
                self.operand(x, NOT, false, out)?;
            }
            // Always parenthesise the operand of a minus: `--x` would start a comment.
            IrExpr::Neg(x) => {
                out.push('-');
                self.operand(x, ATOM, false, out)?;
            }
            IrExpr::IsNull { expr, negated } => {
                self.operand(expr, CMP, false, out)?;
                out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            IrExpr::InList { expr, list, negated } => {
                self.operand(expr, CMP, false, out)?;
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                self.list(out, list, ", ", |x, out| self.expr(x, out))?;
                out.push(')');
            }
            IrExpr::InParam { expr, param, negated } => {
                let ph = d.placeholder(*param, Ty::List);
                let mut e = String::new();
                self.operand(expr, CMP, false, &mut e)?;
                out.push_str(&d.in_list_param(&e, &ph, *negated));
            }
            IrExpr::Col { rel, name } => {
                push_ident(out, rel);
                out.push('.');
                push_ident(out, name);
            }
            IrExpr::JsonText { base, path } => out.push_str(&d.json_text(&self.text(base)?, path)),
            IrExpr::JsonHas { base, path } => out.push_str(&d.json_has(&self.text(base)?, path)),
            IrExpr::Lit(l) => match l {
                Lit::Int(i) => out.push_str(&d.int_lit(*i)),
                Lit::Float(f) => out.push_str(&d.float_lit(*f)),
                Lit::Text(s) => out.push_str(&quote_text(s)),
                Lit::Bool(b) => out.push_str(d.bool_lit(*b)),
                Lit::Null => out.push_str("NULL"),
                Lit::Timestamp(ts) => out.push_str(&d.timestamp_lit(ts)),
                Lit::Duration(secs) => out.push_str(&d.int_lit(*secs)),
            },
            IrExpr::Param(n) => out.push_str(&d.placeholder(*n, self.params[n - 1].ty)),
            IrExpr::TsShift { ts, secs, negative } => {
                let mut s = String::new();
                self.operand(secs, MUL, false, &mut s)?;
                out.push_str(&d.ts_shift(&self.text(ts)?, &s, *negative));
            }
            IrExpr::Cast { expr, ty } => out.push_str(&d.cast(&self.text(expr)?, expr.ty, *ty)),
            IrExpr::Bucket { ts, unit } => out.push_str(&d.bucket(&self.text(ts)?, *unit)),
            IrExpr::Exists { from, on, negated } => self.exists(from, on, *negated, out)?,
            IrExpr::Case { whens, otherwise } => self.case(whens, otherwise.as_deref(), out)?,
            IrExpr::Func { name, args, span } => {
                let lowering = functions::lookup(d.functions(), name, args.len(), t.ty).map(|f| f.lowering);
                let Some(Lowering::Sql(template)) = lowering else {
                    return Err(Diagnostic::new(
                        "E0501",
                        span.clone(),
                        format!("`{name}` is not available on {}", d.name()),
                    )
                    .hint("this report must run on every dialect: use a function both databases have"));
                };
                self.fill(template, args, None, out)?;
            }
            IrExpr::Window { name, args, over, span } => {
                let lowering =
                    functions::lookup_in(d.window_functions(), functions::BASE_WINDOW, name, args.len(), t.ty)
                        .map(|f| f.lowering);
                let Some(Lowering::Sql(template)) = lowering else {
                    return Err(Diagnostic::new(
                        "E0501",
                        span.clone(),
                        format!("`{name}` over a window is not available on {}", d.name()),
                    ));
                };
                let over = self.over(over)?;
                self.fill(template, args, Some(&over), out)?;
            }
        }
        Ok(())
    }

    /// `(PARTITION BY … ORDER BY … ROWS BETWEEN … AND …)`.
    #[inline(never)]
    fn over(&self, o: &Over) -> Result<String, Diagnostic> {
        let mut out = String::from("(");
        if !o.partition.is_empty() {
            out.push_str("PARTITION BY ");
            self.list(&mut out, &o.partition, ", ", |e, out| self.expr(e, out))?;
        }
        if !o.order.is_empty() {
            if !o.partition.is_empty() {
                out.push(' ');
            }
            out.push_str("ORDER BY ");
            self.list(&mut out, &o.order, ", ", |i, out| {
                out.push_str(&self.d.order_key(&self.text(&i.expr)?, i.expr.ty));
                out.push_str(direction(i));
                Ok(())
            })?;
        }
        if let Some(f) = &o.frame {
            let bound = |b: Option<i64>, unbounded: &str| match b {
                None => format!("UNBOUNDED {unbounded}"),
                Some(0) => "CURRENT ROW".to_string(),
                Some(n) if n < 0 => format!("{} PRECEDING", n.unsigned_abs()),
                Some(n) => format!("{n} FOLLOWING"),
            };
            if out.len() > 1 {
                out.push(' ');
            }
            out.push_str(&format!("ROWS BETWEEN {} AND {}", bound(f.start, "PRECEDING"), bound(f.end, "FOLLOWING")));
        }
        out.push(')');
        Ok(out)
    }

    /// `[NOT] EXISTS (…)`. Apart from `expr` (as `case`), so that its recursive frames stay small.
    #[inline(never)]
    fn exists(&self, from: &FromItem, on: &TExpr, negated: bool, out: &mut String) -> Emitted {
        out.push_str(if negated { "NOT EXISTS (SELECT 1 FROM " } else { "EXISTS (SELECT 1 FROM " });
        self.source(from, 0, out)?;
        out.push_str(" WHERE ");
        self.expr(on, out)?;
        out.push(')');
        Ok(())
    }

    #[inline(never)]
    fn case(&self, whens: &[(TExpr, TExpr)], otherwise: Option<&TExpr>, out: &mut String) -> Emitted {
        out.push_str("CASE");
        for (c, v) in whens {
            out.push_str(" WHEN ");
            self.expr(c, out)?;
            out.push_str(" THEN ");
            self.expr(v, out)?;
        }
        if let Some(e) = otherwise {
            out.push_str(" ELSE ");
            self.expr(e, out)?;
        }
        out.push_str(" END");
        Ok(())
    }

    /// Substitutes `{N}`, `{keyN}`, `{*}` and `{over}` in one pass, so argument text is never rescanned.
    fn fill(&self, template: &str, args: &[TExpr], over: Option<&str>, out: &mut String) -> Emitted {
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after.find('}').map(|close| &after[..close]);
            // What the placeholder names: `{over}`, `{*}`, `{keyN}` (argument N as a sort key:
            // text bytewise on every dialect) or `{N}`; anything else is literal text.
            let arg = |digits: &str| digits.parse::<usize>().ok().and_then(|i| args.get(i));
            let part = match name {
                Some("over") => over.map(Part::Over),
                Some("*") => Some(Part::All),
                Some(n) => match n.strip_prefix("key") {
                    Some(k) => arg(k).map(Part::Key),
                    None => arg(n).map(Part::Arg),
                },
                None => None,
            };
            match part {
                Some(Part::Over(w)) => out.push_str(w),
                Some(Part::All) => self.list(out, args, ", ", |x, out| self.expr(x, out))?,
                Some(Part::Key(a)) => out.push_str(&self.d.order_key(&self.text(a)?, a.ty)),
                Some(Part::Arg(a)) => self.expr(a, out)?,
                None => {
                    out.push('{');
                    rest = after;
                    continue;
                }
            }
            rest = &after[name.map_or(0, str::len) + 1..];
        }
        out.push_str(rest);
        Ok(())
    }
}

/// A function template's placeholder (`Emitter::fill`).
enum Part<'a> {
    Over(&'a str),
    All,
    Key(&'a TExpr),
    Arg(&'a TExpr),
}

/// Every this many levels of expression the emitter and the checker make sure the stack has
/// [`STACK_RED_ZONE`] left, else continue on a new segment of [`STACK_GROWTH`] (`stacker`): a
/// check per level cost a tenth of the compile time.
pub(crate) const STACK_CHECK_EVERY: usize = 8;
pub(crate) const STACK_RED_ZONE: usize = 256 * 1024;
pub(crate) const STACK_GROWTH: usize = 2 * 1024 * 1024;

/// The precedence `t` is printed at (ATOM: never needs parentheses).
fn prec(t: &TExpr) -> u8 {
    match &t.e {
        IrExpr::Binary { op: BinOp::Coalesce | BinOp::Like, .. } => ATOM,
        IrExpr::Binary { op, .. } => bin_prec(*op),
        IrExpr::Not(_) | IrExpr::Exists { negated: true, .. } => NOT,
        IrExpr::Neg(_) => NEG,
        IrExpr::IsNull { .. } | IrExpr::InList { .. } | IrExpr::InParam { .. } => CMP,
        _ => ATOM,
    }
}

// Operator precedence, low to high, shared by both dialects' output.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const NEG: u8 = 7;
const ATOM: u8 = 10;

/// The terms of `a AND b AND …`.
fn conjuncts(x: &TExpr) -> Vec<&TExpr> {
    match &x.e {
        IrExpr::Binary { op: BinOp::And, lhs, rhs } => {
            let mut v = conjuncts(lhs);
            v.extend(conjuncts(rhs));
            v
        }
        _ => vec![x],
    }
}

fn bin_prec(op: BinOp) -> u8 {
    match op {
        BinOp::Or => OR,
        BinOp::And => AND,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Like => CMP,
        BinOp::Add | BinOp::Sub => ADD,
        BinOp::Mul | BinOp::Div | BinOp::Mod => MUL,
        BinOp::Coalesce => ATOM,
    }
}
