//! Text → AST through pest, with pest's Pratt parser for operator precedence.
//! Parse errors become diagnostics that say in words what was expected.

use std::sync::LazyLock;

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use pest_derive::Parser;

use super::ast::*;
use crate::diag::Diagnostic;

#[derive(Parser)]
#[grammar = "../grammar/cowrieql.pest"]
struct Grammar;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
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

/// Words for what the parser expected, never a rule name.
fn describe(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of query",
        Rule::from_stage | Rule::kw_from => "`from`",
        Rule::join_stage | Rule::kw_join | Rule::left | Rule::kw_left => "`join`",
        Rule::where_stage | Rule::kw_where => "`where`",
        Rule::derive_stage | Rule::kw_derive => "`derive`",
        Rule::group_stage | Rule::kw_group => "`group`",
        Rule::aggregate_stage | Rule::kw_aggregate => "`aggregate`",
        Rule::select_stage | Rule::kw_select => "`select`",
        Rule::sort_stage | Rule::kw_sort => "`sort`",
        Rule::take_stage | Rule::kw_take => "`take`",
        Rule::materialize_stage | Rule::kw_materialize => "`materialize`",
        Rule::kw_on => "`on`",
        Rule::kw_as | Rule::cast => "`as`",
        Rule::order | Rule::kw_asc | Rule::kw_desc => "`asc` or `desc`",
        Rule::ident => "a name",
        Rule::assign => "`name = expression`",
        Rule::expr | Rule::item | Rule::sort_item | Rule::call | Rule::path | Rule::neg | Rule::not | Rule::kw_not => {
            "an expression"
        }
        Rule::param => "a `$parameter`",
        Rule::int => "a whole number",
        Rule::float | Rule::duration | Rule::timestamp | Rule::string | Rule::boolean | Rule::null => "a value",
        Rule::type_name => "a type (int, float, text, bool, timestamp)",
        Rule::or
        | Rule::and
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::like
        | Rule::coalesce
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::modulo
        | Rule::kw_and
        | Rule::kw_or
        | Rule::kw_like => "an operator",
        Rule::is_null | Rule::is_not_null | Rule::kw_is => "`is null`",
        Rule::in_list | Rule::not_in_list | Rule::kw_in => "`in (…)`",
        _ => "something else",
    }
}

/// The stage keywords, in pipeline order.
const STAGES: &[&str] =
    &["from", "join", "where", "derive", "group", "aggregate", "select", "sort", "take", "materialize"];

fn parse_error(e: pest::error::Error<Rule>, src: &str) -> Diagnostic {
    let start = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    // Underline the offending word (at least one character).
    let word = src[start..].find(char::is_whitespace).unwrap_or(src.len() - start);
    let end = start + word.max(1);
    let word_found = src[start..].split_whitespace().next().unwrap_or("");
    let found = if word_found.is_empty() {
        "the end of the query".to_string()
    } else {
        format!("`{}`", word_found.chars().take(20).collect::<String>())
    };
    // The slips a newcomer makes most: SQL's `=`, a string never closed, a misspelt stage.
    let rest = &src[start..];
    let single_eq = rest.starts_with('=') && !rest.starts_with("==");
    let open_quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'').filter(|q| !rest[1..].contains(*q));
    if let Some(q) = open_quote {
        return Diagnostic::new("E0101", start..src.len().max(start + 1), "unterminated string")
            .hint(format!("close the string with {q}"));
    }
    let (message, hint) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = positives.iter().map(describe).collect();
            words.sort();
            words.dedup();
            let expected = match words.len() {
                0 => "something else".to_string(),
                1 => words[0].to_string(),
                n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
            };
            let stage_expected = words.contains(&"end of query") || words.iter().any(|w| w.starts_with("`from`"));
            // Other languages' words for our stages (PRQL, SQL, dplyr), then spelling.
            let alias = match word_found.to_ascii_lowercase().as_str() {
                "filter" | "having" => Some("where"),
                "order" | "order_by" | "arrange" => Some("sort"),
                "limit" | "head" => Some("take"),
                "mutate" | "let" | "extend" => Some("derive"),
                "summarize" | "summarise" => Some("aggregate"),
                "group_by" => Some("group"),
                _ => None,
            };
            let near: Vec<&str> =
                alias.into_iter().chain(crate::diag::near_names(word_found, STAGES.iter().copied())).collect();
            let hint = if single_eq {
                Some("use `==` to compare (`=` names a column in derive and aggregate)".to_string())
            } else if stage_expected && !near.is_empty() {
                Some(format!("did you mean `{}`?", near[0]))
            } else if stage_expected {
                Some(format!("every stage starts with a keyword: {}", STAGES.join(", ")))
            } else {
                None
            };
            (format!("expected {expected}, found {found}"), hint)
        }
        // pest's own guard against running out of stack on deeply nested input.
        ErrorVariant::CustomError { message } if message.contains("stack limit") => {
            ("query nested too deeply".to_string(), Some("name parts with `derive` stages".to_string()))
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let d = Diagnostic::new("E0101", start..end, message);
    match hint {
        Some(h) => d.hint(h),
        None => d,
    }
}

/// Parses a query. On failure returns one diagnostic (pest stops at the first error).
pub fn parse(src: &str) -> Result<Query, Vec<Diagnostic>> {
    // pest recurses once per bracket level; bounding the nesting before it runs keeps any
    // input from exhausting the stack (this is why pest's own per-rule stack probe, which cost
    // a third of the parse time, is not needed).
    if let Some(at) = too_deep(src, MAX_DEPTH) {
        return Err(vec![Diagnostic::new(
            "E0104",
            at..at + 1,
            format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
        )
        .hint("name parts with `derive` stages")]);
    }
    let mut pairs = Grammar::parse(Rule::query, src).map_err(|e| vec![parse_error(e, src)])?;
    let query = pairs.next().expect("query rule");
    // Every wrapping stage nests a subquery: bound the depth the emitter recurses to.
    const MAX_STAGES: usize = 200;
    if let Some(extra) = query.clone().into_inner().nth(MAX_STAGES) {
        if extra.as_rule() != Rule::EOI {
            return Err(vec![Diagnostic::new(
                "E0105",
                span_of(&extra),
                format!("more than {MAX_STAGES} stages in one query"),
            )
            .hint("split the report into several queries")]);
        }
    }
    let mut stages = Vec::new();
    let mut errors = Vec::new();
    for p in query.into_inner() {
        if p.as_rule() == Rule::EOI {
            break;
        }
        let span = span_of(&p);
        match stage(p) {
            Ok(node) => stages.push(Spanned { node, span }),
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(Query { stages })
    } else {
        Err(errors)
    }
}

fn spanned_str(p: &Pair<Rule>) -> Spanned<String> {
    Spanned { node: p.as_str().trim_end().to_string(), span: span_of(p) }
}

fn is_kw(p: &Pair<Rule>) -> bool {
    matches!(
        p.as_rule(),
        Rule::kw_from
            | Rule::kw_join
            | Rule::kw_as
            | Rule::kw_on
            | Rule::kw_where
            | Rule::kw_derive
            | Rule::kw_group
            | Rule::kw_aggregate
            | Rule::kw_select
            | Rule::kw_sort
            | Rule::kw_take
            | Rule::kw_materialize
    )
}

fn stage(p: Pair<Rule>) -> Result<Stage, Diagnostic> {
    let rule = p.as_rule();
    let mut inner: Vec<Pair<Rule>> = p.into_inner().filter(|x| !is_kw(x)).collect();
    Ok(match rule {
        Rule::from_stage => Stage::From { table: spanned_str(&inner[0]), alias: inner.get(1).map(spanned_str) },
        Rule::join_stage => {
            let left = inner[0].as_rule() == Rule::left;
            if left {
                inner.remove(0);
            }
            let on = expr(inner.pop().expect("join on"))?;
            Stage::Join { left, table: spanned_str(&inner[0]), alias: inner.get(1).map(spanned_str), on }
        }
        Rule::where_stage => Stage::Where(expr(inner.remove(0))?),
        Rule::derive_stage => Stage::Derive(inner.into_iter().map(assign).collect::<Result<_, _>>()?),
        Rule::group_stage => {
            let mut keys = Vec::new();
            let mut aggregates = None;
            for x in inner {
                match x.as_rule() {
                    Rule::item => keys.push(item(x)?),
                    Rule::aggregate_stage => {
                        aggregates = Some(x.into_inner().filter(|y| !is_kw(y)).map(assign).collect::<Result<_, _>>()?)
                    }
                    _ => unreachable!("group child {:?}", x.as_rule()),
                }
            }
            Stage::Group { keys, aggregates }
        }
        Rule::aggregate_stage => Stage::Aggregate(inner.into_iter().map(assign).collect::<Result<_, _>>()?),
        Rule::select_stage => Stage::Select(inner.into_iter().map(item).collect::<Result<_, _>>()?),
        Rule::sort_stage => Stage::Sort(
            inner
                .into_iter()
                .map(|si| {
                    let mut it = si.into_inner();
                    let e = expr(it.next().expect("sort expr"))?;
                    let desc =
                        it.next().is_some_and(|o| o.into_inner().next().map(|k| k.as_rule()) == Some(Rule::kw_desc));
                    Ok(SortItem { expr: e, desc })
                })
                .collect::<Result<_, Diagnostic>>()?,
        ),
        Rule::take_stage => Stage::Take(primary(inner.remove(0))?),
        Rule::materialize_stage => Stage::Materialize(spanned_str(&inner[0])),
        r => unreachable!("stage {r:?}"),
    })
}

fn assign(p: Pair<Rule>) -> Result<Assign, Diagnostic> {
    let mut it = p.into_inner();
    let name = spanned_str(&it.next().expect("assign name"));
    Ok(Assign { name, expr: expr(it.next().expect("assign expr"))? })
}

fn item(p: Pair<Rule>) -> Result<Item, Diagnostic> {
    let inner = p.into_inner().next().expect("item");
    Ok(match inner.as_rule() {
        Rule::assign => {
            let a = assign(inner)?;
            Item { name: Some(a.name), expr: a.expr }
        }
        _ => Item { name: None, expr: expr(inner)? },
    })
}

/// A pair's span without the trailing whitespace pest's implicit skipping leaves in it.
fn span_of(p: &Pair<Rule>) -> Span {
    let start = p.as_span().start();
    start..start + p.as_str().trim_end().len()
}

/// Limits that keep every later pass (checker, emitter, drop) far from the stack's end,
/// whatever the input: nesting depth of parentheses and tokens in one expression.
const MAX_DEPTH: usize = 64;

/// The byte offset of the first bracket nested deeper than `limit`, outside strings and
/// comments.
fn too_deep(src: &str, limit: usize) -> Option<usize> {
    let b = src.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}
const MAX_TOKENS: usize = 512;

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn expr(p: Pair<Rule>) -> Result<Expr, Diagnostic> {
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

fn pratt(pairs: Pairs<Rule>) -> Result<Expr, Diagnostic> {
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

fn unescape(s: &str) -> String {
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

fn primary(p: Pair<Rule>) -> Result<Expr, Diagnostic> {
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
        Rule::call => {
            let mut it = p.into_inner();
            let name = spanned_str(&it.next().expect("call name"));
            ExprKind::Call { name, args: it.map(expr).collect::<Result<_, _>>()? }
        }
        Rule::path => {
            let mut segs = Vec::new();
            for x in p.into_inner() {
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
        r => unreachable!("primary {r:?}"),
    };
    Ok(Expr { kind, span })
}

fn normalise_ts(s: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let t = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?
    } else {
        let s = s.trim_end_matches('Z');
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?
    };
    Some(crate::time::canonical_text(&t.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_table() {
        let q = parse("from t where a == 1 or b == 2 and not c ?? false").unwrap();
        let Stage::Where(e) = &q.stages[1].node else { panic!() };
        let ExprKind::Binary { op: BinOp::Or, rhs, .. } = &e.kind else { panic!("{e:?}") };
        let ExprKind::Binary { op: BinOp::And, rhs, .. } = &rhs.kind else { panic!() };
        assert!(matches!(rhs.kind, ExprKind::Not(_)));
    }

    #[test]
    fn huge_or_deep_expressions_are_errors_not_crashes() {
        let long = format!("from sessions\nwhere {}", vec!["event_count"; 20_000].join(" + "));
        assert!(parse(&long).unwrap_err()[0].message.contains("too long"));
        let deep = format!("from sessions\nwhere {}event_count{}", "(".repeat(5_000), ")".repeat(5_000));
        let err = parse(&deep).unwrap_err();
        assert_eq!(err[0].code, "E0104", "{err:?}");
        assert!(err[0].message.contains("nested too deeply"), "{err:?}");
        // Just inside the limit, in a debug build, on a thread with a small stack: compiles,
        // no overflow.
        let near = MAX_DEPTH - 2;
        let at_limit = format!("from sessions\nwhere {}event_count{} > 0", "(".repeat(near), ")".repeat(near));
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || crate::compile::compile_all(&at_limit, &Default::default()).map_err(|e| format!("{e:?}")))
            .unwrap()
            .join()
            .unwrap();
        assert!(ok.is_ok(), "{ok:?}");
        // Brackets inside strings and comments do not count.
        let quoted = format!("from sessions # {}\nwhere sensor == '{}'", "(".repeat(100), "[".repeat(100));
        assert!(parse(&quoted).is_ok());
        let nots = format!("from sessions\nwhere {}login_success", "not ".repeat(1_900));
        let _ = crate::compile::compile_all(&nots, &Default::default());
        let stages = format!("from sessions\n{}", "sort event_count\ntake 5\n".repeat(5_000));
        assert_eq!(parse(&stages).unwrap_err()[0].code, "E0105");
        let ok = format!("from sessions\nwhere {} > 0", vec!["event_count"; 200].join(" + "));
        assert!(crate::compile::compile_all(&ok, &Default::default()).is_ok());
    }

    #[test]
    fn parse_errors_speak_words_not_rules() {
        let err = parse("from sessions\nwhere").unwrap_err();
        assert!(err[0].message.starts_with("expected an expression"), "{}", err[0].message);
        let err = parse("from sessions\nfilter x").unwrap_err();
        assert!(!err[0].message.contains("_stage"), "{}", err[0].message);
        assert_eq!(err[0].hint.as_deref(), Some("did you mean `where`?"), "{err:?}");
        let err = parse("from sessions\nqqqq x").unwrap_err();
        assert!(err[0].hint.as_deref().unwrap_or("").contains("every stage starts"), "{err:?}");
    }
}
