//! SQL emission: one generic emitter over the `Dialect` trait; each dialect is a small set
//! of methods plus a function table. Statements are printed readably and checked by
//! sqlparser with the matching dialect before they leave the compiler.

pub mod postgres;
pub mod sqlite;
pub mod validate;

use crate::check::ir::*;
use crate::diag::Diagnostic;
use crate::dsl::ast::{BinOp, Lit, Seg};

/// A function-table entry: `f!(name, arity, result type, template)`.
#[macro_export]
#[doc(hidden)]
macro_rules! fn_template {
    ($name:literal, $arity:expr, $ret:expr, $t:literal) => {
        $crate::sql::FnTemplate { name: $name, arity: $arity, ret: $ret, template: $t }
    };
}

/// How a library function is written: `{0}`, `{1}` … are the arguments, `{*}` all of them.
pub struct FnTemplate {
    pub name: &'static str,
    /// Only for this many arguments (None: any).
    pub arity: Option<usize>,
    /// Only when the result has this type (None: any).
    pub ret: Option<Ty>,
    pub template: &'static str,
}

pub trait Dialect: Sync {
    fn name(&self) -> &'static str;
    fn functions(&self) -> &'static [FnTemplate];
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
    format!("\"{}\"", s.replace('"', "\"\""))
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
}

pub fn emit(plan: &Plan, d: &dyn Dialect) -> Result<Compiled, Vec<Diagnostic>> {
    let em = Emitter { d, params: &plan.params };
    let mut views = Vec::new();
    let mut errors = Vec::new();
    for v in &plan.views {
        match em.select(&v.select, 0) {
            Ok(body) => views.push(ViewSql {
                name: v.name.clone(),
                statements: d.create_view(v, &body),
                refresh: d.refresh_view(&v.name, &body, false),
                refresh_concurrently: d.refresh_view(&v.name, &body, true),
                drop: d.drop_view(&v.name),
            }),
            Err(e) => errors.push(e),
        }
    }
    let sql = em.select(&plan.main, 0).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Compiled { dialect: d.name(), views, sql, params: plan.params.clone(), output: plan.output.clone() })
}

impl Emitter<'_> {
    fn select(&self, s: &Select, depth: usize) -> Result<String, Diagnostic> {
        let pad = "    ".repeat(depth);
        let mut out = format!("{pad}SELECT\n");
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|(n, e)| Ok(format!("{pad}    {} AS {}", self.expr(e)?, quote_ident(n))))
            .collect::<Result<_, Diagnostic>>()?;
        out.push_str(&cols.join(",\n"));
        out.push_str(&format!("\n{pad}FROM {}", self.source(&s.from, depth)?));
        for j in &s.joins {
            let kw = if j.left { "LEFT JOIN" } else { "JOIN" };
            out.push_str(&format!("\n{pad}{kw} {} ON {}", self.source(&j.item, depth)?, self.expr(&j.on)?));
        }
        if !s.filter.is_empty() {
            out.push_str(&format!("\n{pad}WHERE {}", self.filter(&s.filter)?));
        }
        if let Some(keys) = &s.group {
            if !keys.is_empty() {
                let k: Vec<String> = keys.iter().map(|k| self.expr(k)).collect::<Result<_, _>>()?;
                out.push_str(&format!("\n{pad}GROUP BY {}", k.join(", ")));
            }
        }
        if !s.having.is_empty() {
            out.push_str(&format!("\n{pad}HAVING {}", self.conj(&s.having)?));
        }
        if !s.order.is_empty() {
            let o: Vec<String> = s
                .order
                .iter()
                .map(|o| {
                    let e = self.d.order_key(&self.expr(&o.expr)?, o.expr.ty);
                    Ok(format!("{e} {} NULLS LAST", if o.desc { "DESC" } else { "ASC" }))
                })
                .collect::<Result<_, Diagnostic>>()?;
            out.push_str(&format!("\n{pad}ORDER BY {}", o.join(", ")));
        }
        if let Some(l) = &s.limit {
            out.push_str(&format!("\n{pad}LIMIT {}", self.expr(l)?));
        }
        Ok(out)
    }

    /// WHERE conditions; an equality between a JSON path and text also gets the dialect's
    /// index-friendly containment test (PostgreSQL's GIN index on payload answers it).
    fn filter(&self, xs: &[TExpr]) -> Result<String, Diagnostic> {
        let mut parts = Vec::with_capacity(xs.len());
        for x in xs {
            for c in conjuncts(x) {
                if let Some(c) = self.containment(c)? {
                    parts.push(c);
                }
            }
            parts.push(self.operand(x, AND, true)?);
        }
        Ok(parts.join(" AND "))
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
        Ok(self.d.json_contains(&self.expr(base)?, path, &self.expr(value)?))
    }

    fn conj(&self, xs: &[TExpr]) -> Result<String, Diagnostic> {
        let parts: Vec<String> = xs.iter().map(|x| self.operand(x, AND, true)).collect::<Result<_, _>>()?;
        Ok(parts.join(" AND "))
    }

    fn source(&self, f: &FromItem, depth: usize) -> Result<String, Diagnostic> {
        Ok(match f {
            FromItem::Table { name, alias } | FromItem::View { name, alias } => {
                format!("{} AS {}", quote_ident(name), quote_ident(alias))
            }
            FromItem::Sub { select, alias } => {
                format!("(\n{}\n{}) AS {}", self.select(select, depth + 1)?, "    ".repeat(depth), quote_ident(alias))
            }
        })
    }

    fn expr(&self, t: &TExpr) -> Result<String, Diagnostic> {
        Ok(self.prec_expr(t)?.0)
    }

    /// `t` as an operand of an operator of precedence `parent`, parenthesised only where
    /// needed: lower precedence, a comparison inside a comparison (SQLite and PostgreSQL
    /// rank comparisons differently), or a right operand of `-`, `/`, `%` and friends.
    fn operand(&self, t: &TExpr, parent: u8, right: bool) -> Result<String, Diagnostic> {
        let (s, p) = self.prec_expr(t)?;
        let need = p < parent || (p == parent && (parent == CMP || (right && parent >= ADD)));
        Ok(if need { format!("({s})") } else { s })
    }

    fn prec_expr(&self, t: &TExpr) -> Result<(String, u8), Diagnostic> {
        let d = self.d;
        Ok(match &t.e {
            IrExpr::Binary { op, lhs, rhs } => {
                let p = bin_prec(*op);
                match op {
                    BinOp::Coalesce => (format!("COALESCE({}, {})", self.expr(lhs)?, self.expr(rhs)?), ATOM),
                    BinOp::Like => (d.like(&self.expr(lhs)?, &self.expr(rhs)?), ATOM),
                    _ => {
                        let sym = match op {
                            BinOp::Eq => "=",
                            BinOp::Ne => "<>",
                            BinOp::Or => "OR",
                            BinOp::And => "AND",
                            op => op.symbol(),
                        };
                        (format!("{} {sym} {}", self.operand(lhs, p, false)?, self.operand(rhs, p, true)?), p)
                    }
                }
            }
            IrExpr::Not(x) => (format!("NOT {}", self.operand(x, NOT, false)?), NOT),
            // Always parenthesise the operand of a minus: `--x` would start a comment.
            IrExpr::Neg(x) => (format!("-{}", self.operand(x, ATOM, false)?), NEG),
            IrExpr::IsNull { expr, negated } => {
                (format!("{} IS {}NULL", self.operand(expr, CMP, false)?, if *negated { "NOT " } else { "" }), CMP)
            }
            IrExpr::InList { expr, list, negated } => {
                let items: Vec<String> = list.iter().map(|x| self.expr(x)).collect::<Result<_, _>>()?;
                let kw = if *negated { "NOT IN" } else { "IN" };
                (format!("{} {kw} ({})", self.operand(expr, CMP, false)?, items.join(", ")), CMP)
            }
            IrExpr::InParam { expr, param, negated } => {
                let ph = d.placeholder(*param, Ty::List);
                (d.in_list_param(&self.operand(expr, CMP, false)?, &ph, *negated), CMP)
            }
            _ => (self.atom(t)?, ATOM),
        })
    }

    fn atom(&self, t: &TExpr) -> Result<String, Diagnostic> {
        let d = self.d;
        Ok(match &t.e {
            IrExpr::Col { rel, name } => format!("{}.{}", quote_ident(rel), quote_ident(name)),
            IrExpr::JsonText { base, path } => d.json_text(&self.expr(base)?, path),
            IrExpr::JsonHas { base, path } => d.json_has(&self.expr(base)?, path),
            IrExpr::Lit(l) => match l {
                Lit::Int(i) => d.int_lit(*i),
                Lit::Float(f) => d.float_lit(*f),
                Lit::Text(s) => quote_text(s),
                Lit::Bool(b) => d.bool_lit(*b).to_string(),
                Lit::Null => "NULL".to_string(),
                Lit::Timestamp(ts) => d.timestamp_lit(ts),
                Lit::Duration(secs) => d.int_lit(*secs),
            },
            IrExpr::Param(n) => d.placeholder(*n, self.params[n - 1].ty),
            IrExpr::TsShift { ts, secs, negative } => {
                d.ts_shift(&self.expr(ts)?, &self.operand(secs, MUL, false)?, *negative)
            }
            IrExpr::Cast { expr, ty } => d.cast(&self.expr(expr)?, expr.ty, *ty),
            IrExpr::Bucket { ts, unit } => d.bucket(&self.expr(ts)?, *unit),
            IrExpr::Func { name, args, span } => {
                let a: Vec<String> = args.iter().map(|x| self.expr(x)).collect::<Result<_, _>>()?;
                let tpl = d
                    .functions()
                    .iter()
                    .find(|f| {
                        f.name == *name && f.arity.is_none_or(|n| n == a.len()) && f.ret.is_none_or(|r| r == t.ty)
                    })
                    .ok_or_else(|| {
                        Diagnostic::new("E0501", span.clone(), format!("`{name}` is not available on {}", d.name()))
                            .hint("this report must run on every dialect: use a function both databases have")
                    })?;
                fill(tpl.template, &a)
            }
            IrExpr::Binary { .. }
            | IrExpr::Not(_)
            | IrExpr::Neg(_)
            | IrExpr::IsNull { .. }
            | IrExpr::InList { .. }
            | IrExpr::InParam { .. } => {
                format!("({})", self.expr(t)?)
            }
        })
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

/// Substitutes `{N}` and `{*}` in one pass, so argument text is never rescanned.
fn fill(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + args.iter().map(String::len).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close] == *"*" => {
                out.push_str(&args.join(", "));
                rest = &after[close + 1..];
            }
            Some(close) if after[..close].parse::<usize>().is_ok_and(|i| i < args.len()) => {
                out.push_str(&args[after[..close].parse::<usize>().unwrap_or(0)]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
