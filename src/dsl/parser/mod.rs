//! Text → AST through pest, with pest's Pratt parser for operator precedence.
//! Parse errors become diagnostics that say in words what was expected.

use std::sync::LazyLock;

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;

mod errors;
mod exprs;
mod limits;

pub(crate) use limits::closing_quote;

use self::errors::*;
use self::exprs::*;
use self::limits::*;
use super::ast::*;
use crate::diag::Diagnostic;

/// Two parsers from one grammar, apart only in `path`. The fast one reads any name as a path,
/// which spares a reserved-word lookahead before every name (a tenth of the parse time); the
/// AST builder rejects a reserved word read that way. The strict one refuses reserved words in
/// the grammar itself, so its errors point where the expression is missing: it reports every
/// parse error, and accepts exactly the inputs the fast one parses without a reserved-word path
/// (`tests::fast_and_strict_grammars_agree`).
mod fast {
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/cowrieql.pest"]
    #[grammar = "../grammar/path.pest"]
    pub(super) struct Grammar;
}
mod strict {
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/cowrieql.pest"]
    #[grammar = "../grammar/path_strict.pest"]
    pub(super) struct Grammar;
}
use fast::{Grammar, Rule};

/// The strict parser's diagnostic for `src`, or `None` when it parses.
fn strict_error(src: &str) -> Option<Diagnostic> {
    strict::Grammar::parse(strict::Rule::query, src).err().map(|e| parse_error(e, src))
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
    let mut pairs = match Grammar::parse(Rule::query, src) {
        Ok(pairs) => pairs,
        // The strict grammar refuses whatever the fast one does (tests::fast_and_strict_*); if
        // it ever did not, the fast parser's position still says where.
        Err(e) => {
            return Err(vec![strict_error(src).unwrap_or_else(|| {
                let at = match e.location {
                    InputLocation::Pos(p) | InputLocation::Span((p, _)) => p,
                };
                Diagnostic::new("E0101", at..at + 1, "syntax error")
            })])
        }
    };
    let query = pairs.next().expect("query rule");
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
    let mut lets = Vec::new();
    let mut errors = Vec::new();
    for p in query.into_inner() {
        match p.as_rule() {
            Rule::EOI => break,
            Rule::let_def => {
                let span = span_of(&p);
                let mut inner = p.into_inner().filter(|x| !is_kw(x));
                let name = spanned_str(&inner.next().expect("let name"));
                match stage_list(inner) {
                    Ok(stages) => lets.push(Let { name, stages, span }),
                    Err(d) => errors.push(d),
                }
            }
            _ => {
                let span = span_of(&p);
                match stage(p) {
                    Ok(node) => stages.push(Spanned { node, span }),
                    Err(d) => errors.push(d),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Query { lets, stages })
    } else if errors.iter().any(|d| d.code == RESERVED_AS_NAME) {
        // A reserved word stood where a name was read: the strict parser says where and why.
        Err(vec![strict_error(src).unwrap_or_else(|| errors.swap_remove(0))])
    } else {
        Err(errors)
    }
}

/// The stages of a pipeline in brackets (`let`, `append`).
fn stage_list<'a>(pairs: impl Iterator<Item = Pair<'a, Rule>>) -> Result<Vec<Spanned<Stage>>, Diagnostic> {
    pairs
        .map(|p| {
            let span = span_of(&p);
            stage(p).map(|node| Spanned { node, span })
        })
        .collect()
}

fn sort_items<'a>(pairs: impl Iterator<Item = Pair<'a, Rule>>) -> Result<Vec<SortItem>, Diagnostic> {
    pairs
        .map(|si| {
            let mut it = si.into_inner();
            let e = expr(it.next().expect("sort expr"))?;
            let desc = it.next().is_some_and(|o| o.into_inner().next().map(|k| k.as_rule()) == Some(Rule::kw_desc));
            Ok(SortItem { expr: e, desc })
        })
        .collect()
}

/// `rows start..end`.
fn frame(p: Pair<Rule>) -> Result<Spanned<Frame>, Diagnostic> {
    let span = span_of(&p);
    let mut bounds = p.into_inner().filter(|x| !is_kw(x)).map(|b| {
        let t = b.as_str().trim();
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse::<i64>().map(Some).map_err(|_| Diagnostic::new("E0102", span_of(&b), "frame offset too large"))
        }
    });
    let start = bounds.next().unwrap_or(Ok(None))?;
    let end = bounds.next().unwrap_or(Ok(None))?;
    Ok(Spanned { node: Frame { start, end }, span })
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
            | Rule::kw_distinct
            | Rule::kw_window
            | Rule::kw_by
            | Rule::kw_rows
            | Rule::kw_append
            | Rule::kw_let
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
            let exists = (inner[0].as_rule() == Rule::semi_anti)
                .then(|| inner.remove(0).into_inner().next().is_some_and(|k| k.as_rule() == Rule::kw_semi));
            let on = expr(inner.pop().expect("join on"))?;
            Stage::Join { left, exists, table: spanned_str(&inner[0]), alias: inner.get(1).map(spanned_str), on }
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
        Rule::sort_stage => Stage::Sort(sort_items(inner.into_iter())?),
        Rule::take_stage => Stage::Take(primary(inner.remove(0))?),
        Rule::materialize_stage => Stage::Materialize(spanned_str(&inner[0])),
        Rule::distinct_stage => Stage::Distinct,
        Rule::window_stage => {
            let (mut by, mut sort, mut rows, mut items) = (Vec::new(), Vec::new(), None, Vec::new());
            for x in inner {
                match x.as_rule() {
                    Rule::window_by => by = x.into_inner().filter(|y| !is_kw(y)).map(expr).collect::<Result<_, _>>()?,
                    Rule::window_sort => sort = sort_items(x.into_inner().filter(|y| !is_kw(y)))?,
                    Rule::window_rows => rows = Some(frame(x)?),
                    Rule::assign => items.push(assign(x)?),
                    r => unreachable!("window child {r:?}"),
                }
            }
            Stage::Window { by, sort, rows, items }
        }
        Rule::append_stage => {
            if inner.len() == 1 && inner[0].as_rule() == Rule::ident {
                Stage::Append(Source::Name(spanned_str(&inner[0])))
            } else {
                Stage::Append(Source::Pipeline(stage_list(inner.into_iter())?))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of a parse as (rule name, start, end): the two parsers' rule types differ,
    /// their names do not.
    fn pairs_of<R: pest::RuleType>(pairs: Pairs<'_, R>) -> Vec<(String, usize, usize)> {
        pairs.flatten().map(|p| (format!("{:?}", p.as_rule()), p.as_span().start(), p.as_span().end())).collect()
    }

    /// The fast parser with the builder's reserved-word check is the strict parser: the same
    /// pairs where the strict one parses, and the strict one's error everywhere else.
    fn assert_agree(src: &str) {
        let strict = strict::Grammar::parse(strict::Rule::query, src);
        let fast = Grammar::parse(Rule::query, src);
        match (strict, fast) {
            (Ok(s), Ok(f)) => assert_eq!(pairs_of(s), pairs_of(f), "{src}"),
            (Ok(_), Err(e)) => panic!("the fast parser refuses what the strict one parses: {src}\n{e}"),
            (Err(e), _) => {
                let want = format!("{:?}", parse_error(e, src));
                match parse(src) {
                    Err(got) => assert_eq!(format!("{:?}", got), format!("[{want}]"), "{src}"),
                    Ok(q) => panic!("parsed what the strict parser refuses: {src}\n{q:?}"),
                }
            }
        }
    }

    #[test]
    fn fast_and_strict_grammars_agree() {
        let fixtures = crate::dsl::query_fixtures();
        for src in &fixtures {
            assert_agree(src);
        }
        assert!(fixtures.len() > 40, "fixtures read: {}", fixtures.len());
        // The language's words, read from the grammar independently of RESERVED: every
        // `kw_` rule's word, and the words of literals and word operators.
        let grammar = include_str!("../../../grammar/cowrieql.pest");
        let mut words: Vec<String> = grammar
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter_map(|t| t.strip_prefix("kw_"))
            .map(str::to_string)
            .chain(["true", "false", "and", "or", "like", "not", "null", "count", "sensor"].map(String::from))
            .collect();
        words.sort();
        words.dedup();
        assert!(words.len() > 30, "{words:?}");
        let reserved = |w: &str| strict::Grammar::parse(strict::Rule::stage_keyword, w).is_ok_and(|p| p.as_str() == w);
        for w in &words {
            assert_eq!(reserved(w), RESERVED.contains(&w.as_str()), "`{w}`: the grammar and RESERVED disagree");
            // Where a name goes, alone and with what a name can carry.
            for tail in ["", ".x", "(1)", "[0]", " + 1", "\ntake 5"] {
                assert_agree(&format!("from sessions\nwhere {w}{tail}"));
                assert_agree(&format!("from sessions\nderive x = 1 + {w}{tail}"));
            }
            // A longer name that starts with a word is a name.
            assert_agree(&format!("from sessions\nwhere {w}_x == {w}s"));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
        #[test]
        fn fast_and_strict_grammars_agree_on_any_tokens(
            tokens in proptest::collection::vec(proptest::sample::select(RESERVED.iter().copied().chain([
                "x", "s.y", "count(", "f()", "(", ")", ",", "+", "==", "=", "1", "'a'", "$p", "\n", "# c\n",
                "[0]", ".z", "int", "by", "rows", "semi", "..", "-",
            ]).collect::<Vec<_>>()), 1..20),
        ) {
            assert_agree(&format!("from sessions\n{}", tokens.join(" ")));
        }
    }

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
        // `case` nests like a bracket, without one.
        let cases =
            format!("from sessions\nderive x = {}1{}", "case when true then ".repeat(5_000), " end".repeat(5_000));
        assert_eq!(parse(&cases).unwrap_err()[0].code, "E0104");
        let near = MAX_DEPTH - 2;
        let cases =
            format!("from sessions\nderive x = {}1{}", "case when true then ".repeat(near), " end".repeat(near));
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || crate::compile::compile_all(&cases, &Default::default()).map_err(|e| format!("{e:?}")))
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
