//! Parse errors in words: what was expected, named as a reader would, with a hint where
//! a near stage keyword or a common slip (`=` for `==`, an unterminated string) explains it.

use super::*;
// Errors come from the strict parser (see `parser::strict`).
use super::strict::Rule;

/// Words for what the parser expected, never a rule name.
pub(super) fn describe(rule: &Rule) -> &'static str {
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
        Rule::distinct_stage | Rule::kw_distinct => "`distinct`",
        Rule::window_stage | Rule::kw_window => "`window`",
        Rule::window_by | Rule::kw_by => "`by`",
        Rule::window_sort => "`sort`",
        Rule::window_rows | Rule::kw_rows => "`rows`",
        Rule::frame_start | Rule::frame_end => "a row offset",
        Rule::append_stage | Rule::kw_append => "`append`",
        Rule::let_def | Rule::kw_let => "`let`",
        Rule::kw_on => "`on`",
        Rule::semi_anti | Rule::kw_semi | Rule::kw_anti => "`semi` or `anti`",
        Rule::kw_as | Rule::cast => "`as`",
        Rule::order | Rule::kw_asc | Rule::kw_desc => "`asc` or `desc`",
        Rule::ident => "a name",
        Rule::assign => "`name = expression`",
        Rule::expr
        | Rule::item
        | Rule::sort_item
        | Rule::call
        | Rule::path
        | Rule::neg
        | Rule::not
        | Rule::kw_not
        | Rule::case_expr
        | Rule::kw_case => "an expression",
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
        | Rule::modulo => "an operator",
        Rule::is_null | Rule::is_not_null | Rule::kw_is => "`is null`",
        Rule::in_list | Rule::not_in_list | Rule::kw_in => "`in (…)`",
        Rule::case_when | Rule::kw_when => "`when`",
        Rule::kw_then => "`then`",
        Rule::case_else | Rule::kw_else => "`else`",
        Rule::kw_end => "`end`",
        _ => "something else",
    }
}

/// The stage keywords, in pipeline order.
pub(super) const STAGES: &[&str] = &[
    "from",
    "join",
    "where",
    "derive",
    "group",
    "aggregate",
    "select",
    "distinct",
    "window",
    "append",
    "sort",
    "take",
    "materialize",
];

pub(super) fn parse_error(e: pest::error::Error<Rule>, src: &str) -> Diagnostic {
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
            // A call's `(` may follow any name: not worth naming after one.
            let mut words: Vec<&str> = positives.iter().filter(|r| **r != Rule::call).map(describe).collect();
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
