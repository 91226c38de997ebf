//! Expressions: pest's Pratt parser for precedence, primaries, literals, and the depth and
//! size bounds checked while building them.

use super::*;

pub(super) static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left)
            | Op::infix(Rule::like, Assoc::Left)
            | Op::postfix(Rule::is_null)
            | Op::postfix(Rule::is_not_null)
            | Op::postfix(Rule::in_list)
            | Op::postfix(Rule::not_in_list))
        .op(Op::infix(Rule::coalesce, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::modulo, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::postfix(Rule::cast))
});

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(super) fn expr(p: Pair<Rule>) -> Result<Expr, Diagnostic> {
    let span = span_of(&p);
    if p.clone().into_inner().count() > MAX_TOKENS {
        return Err(Diagnostic::new("E0104", span, format!("expression too long (more than {MAX_TOKENS} terms)"))
            .hint("split it with `derive` stages"));
    }
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let out = if depth > MAX_DEPTH {
        Err(Diagnostic::new("E0104", span, format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
            .hint("name parts with `derive` stages"))
    } else {
        pratt(p.into_inner())
    };
    DEPTH.with(|d| d.set(d.get() - 1));
    out
}

pub(super) fn pratt(pairs: Pairs<Rule>) -> Result<Expr, Diagnostic> {
    PRATT
        .map_primary(primary)
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = span_of(&op).start..rhs.span.end;
            let kind = match op.as_rule() {
                Rule::not => ExprKind::Not(Box::new(rhs)),
                _ => ExprKind::Neg(Box::new(rhs)),
            };
            Ok(Expr { kind, span })
        })
        .map_postfix(|lhs, op| {
            let lhs = lhs?;
            let span = lhs.span.start..span_of(&op).end;
            let kind = match op.as_rule() {
                Rule::cast => {
                    let t = op.into_inner().find(|x| x.as_rule() == Rule::type_name).expect("type");
                    let ty = match t.as_str() {
                        "int" => TypeName::Int,
                        "float" => TypeName::Float,
                        "text" => TypeName::Text,
                        "bool" => TypeName::Bool,
                        _ => TypeName::Timestamp,
                    };
                    ExprKind::Cast { expr: Box::new(lhs), ty }
                }
                Rule::is_null => ExprKind::IsNull { expr: Box::new(lhs), negated: false },
                Rule::is_not_null => ExprKind::IsNull { expr: Box::new(lhs), negated: true },
                r => {
                    let negated = r == Rule::not_in_list;
                    if let Some(p) = op.clone().into_inner().find(|x| x.as_rule() == Rule::param) {
                        let param = p.as_str()[1..].to_string();
                        return Ok(Expr { kind: ExprKind::InParam { expr: Box::new(lhs), param, negated }, span });
                    }
                    let list =
                        op.into_inner().filter(|x| x.as_rule() == Rule::expr).map(expr).collect::<Result<_, _>>()?;
                    ExprKind::InList { expr: Box::new(lhs), list, negated: r == Rule::not_in_list }
                }
            };
            Ok(Expr { kind, span })
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op = match op.as_rule() {
                Rule::or => BinOp::Or,
                Rule::and => BinOp::And,
                Rule::eq => BinOp::Eq,
                Rule::ne => BinOp::Ne,
                Rule::lt => BinOp::Lt,
                Rule::le => BinOp::Le,
                Rule::gt => BinOp::Gt,
                Rule::ge => BinOp::Ge,
                Rule::like => BinOp::Like,
                Rule::coalesce => BinOp::Coalesce,
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                Rule::div => BinOp::Div,
                _ => BinOp::Mod,
            };
            let span = lhs.span.start..rhs.span.end;
            Ok(Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span })
        })
        .parse(pairs)
}

/// The words the grammar's `stage_keyword` reserves: never a column or function name.
pub(super) const RESERVED: &[&str] = &[
    "aggregate",
    "and",
    "append",
    "as",
    "asc",
    "case",
    "derive",
    "desc",
    "distinct",
    "else",
    "end",
    "false",
    "from",
    "group",
    "in",
    "is",
    "join",
    "left",
    "let",
    "like",
    "materialize",
    "not",
    "null",
    "on",
    "or",
    "select",
    "sort",
    "take",
    "then",
    "true",
    "when",
    "where",
    "window",
];

/// The builder's code for a reserved word read as a name; `parse` replaces it with the strict
/// parser's error.
pub(super) const RESERVED_AS_NAME: &str = "E0101";

pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn primary(p: Pair<Rule>) -> Result<Expr, Diagnostic> {
    let span = span_of(&p);
    let kind = match p.as_rule() {
        Rule::expr => return expr(p),
        Rule::int => ExprKind::Lit(Lit::Int(
            p.as_str().parse().map_err(|_| Diagnostic::new("E0102", span.clone(), "number too large"))?,
        )),
        Rule::float => ExprKind::Lit(Lit::Float(p.as_str().parse().unwrap_or(0.0))),
        Rule::string => ExprKind::Lit(Lit::Text(unescape(p.into_inner().next().map(|x| x.as_str()).unwrap_or("")))),
        Rule::boolean => ExprKind::Lit(Lit::Bool(p.as_str() == "true")),
        Rule::null => ExprKind::Lit(Lit::Null),
        Rule::param => ExprKind::Param(p.as_str()[1..].to_string()),
        Rule::duration => {
            let s = p.as_str();
            let (n, unit) = s.split_at(s.len() - 1);
            let n: i64 = n.parse().map_err(|_| Diagnostic::new("E0102", span.clone(), "duration too large"))?;
            let mul = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => 604_800,
            };
            ExprKind::Lit(Lit::Duration(
                n.checked_mul(mul).ok_or_else(|| Diagnostic::new("E0102", span.clone(), "duration too large"))?,
            ))
        }
        Rule::timestamp => ExprKind::Lit(Lit::Timestamp(normalise_ts(&p.as_str()[1..]).ok_or_else(|| {
            Diagnostic::new("E0103", span.clone(), format!("`{}` is not a valid date or time", p.as_str()))
                .hint("write timestamps as @2025-09-22 or @2025-09-22T13:45:00Z (UTC)")
        })?)),
        Rule::case_expr => case(p)?,
        Rule::path => {
            let mut it = p.into_inner().peekable();
            let name = it.next().expect("path name");
            if RESERVED.contains(&name.as_str()) {
                return Err(Diagnostic::new(
                    RESERVED_AS_NAME,
                    span_of(&name),
                    format!("expected an expression, found `{}`", name.as_str()),
                ));
            }
            if it.peek().is_some_and(|x| x.as_rule() == Rule::call) {
                let args = it.next().expect("call").into_inner();
                ExprKind::Call { name: spanned_str(&name), args: args.map(expr).collect::<Result<_, _>>()? }
            } else {
                let mut segs = Vec::new();
                for x in std::iter::once(name).chain(it) {
                    let sp = span_of(&x);
                    let seg = match x.as_rule() {
                        Rule::ident => Seg::Key(x.as_str().to_string()),
                        Rule::string => Seg::Key(unescape(x.into_inner().next().map(|y| y.as_str()).unwrap_or(""))),
                        _ => Seg::Index(
                            x.as_str().parse().map_err(|_| Diagnostic::new("E0102", sp.clone(), "index too large"))?,
                        ),
                    };
                    segs.push(Spanned { node: seg, span: sp });
                }
                ExprKind::Path(segs)
            }
        }
        r => unreachable!("primary {r:?}"),
    };
    Ok(Expr { kind, span })
}

/// `case when … then … [else …] end`. Apart from `primary`, so that the frames of its
/// recursion (one per nesting level) stay small.
#[inline(never)]
fn case(p: Pair<Rule>) -> Result<ExprKind, Diagnostic> {
    let mut whens = Vec::new();
    let mut otherwise = None;
    for part in p.into_inner() {
        match part.as_rule() {
            Rule::case_when => {
                let mut e = part.into_inner().filter(|x| x.as_rule() == Rule::expr);
                let (Some(c), Some(v)) = (e.next(), e.next()) else { unreachable!("when … then …") };
                whens.push((expr(c)?, expr(v)?));
            }
            Rule::case_else => {
                let e = part.into_inner().find(|x| x.as_rule() == Rule::expr).expect("else expr");
                otherwise = Some(Box::new(expr(e)?));
            }
            _ => {}
        }
    }
    Ok(ExprKind::Case { whens, otherwise })
}

pub(super) fn normalise_ts(s: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let t = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?
    } else {
        let s = s.trim_end_matches('Z');
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?
    };
    Some(crate::time::canonical_text(&t.and_utc()))
}
