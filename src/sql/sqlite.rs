//! SQLite: timestamps are fixed-width ISO-8601 UTC text, booleans 0/1, JSON is text
//! queried with `->>` and JSON paths.

use super::{json_path_text, quote_ident, quote_text, Dialect, FnTemplate};
use crate::check::ir::{Ty, Unit, View};
use crate::dsl::ast::Seg;
use crate::fn_template as f;

pub struct Sqlite;

/// Over [`super::functions::BASE`].
static FUNCTIONS: &[FnTemplate] = &[
    f!("sum", Some(1), None, "SUM({0})"),
    // SQLite's COUNT(DISTINCT …) takes one argument: a combination is counted as its JSON array
    // (one text per distinct combination; nulls take part, as in PostgreSQL's row values).
    f!("count_distinct", Some(2), None, "COUNT(DISTINCT json_array({*}))"),
    f!("count_distinct", Some(3), None, "COUNT(DISTINCT json_array({*}))"),
    f!("count_distinct", Some(4), None, "COUNT(DISTINCT json_array({*}))"),
    f!("avg", Some(1), None, "AVG({0})"),
    f!("string_agg", Some(2), None, "group_concat({0}, {1})"),
    f!("string_agg", Some(3), None, "group_concat({0}, {1} ORDER BY {key2} ASC NULLS LAST)"),
    f!("length", Some(1), None, "length({0})"),
    f!("substr", None, None, "substr({*})"),
    f!("contains", Some(2), None, "(instr({0}, {1}) > 0)"),
    f!("starts_with", Some(2), None, "(substr({0}, 1, length({1})) = {1})"),
    f!("round", Some(1), None, "round({0})"),
    f!("round", Some(2), None, "round({0}, {1})"),
    f!("now", Some(0), None, "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')"),
    f!("date", Some(1), None, "strftime('%Y-%m-%d', {0})"),
    f!("hour", Some(1), None, "CAST(strftime('%H', {0}) AS INTEGER)"),
    f!("weekday", Some(1), None, "CAST(strftime('%u', {0}) AS INTEGER)"),
    // unixepoch() drops the fraction; the stored form keeps microseconds at characters 20-26.
    f!(
        "seconds_between",
        Some(2),
        None,
        "((unixepoch({1}) - unixepoch({0})) + (CAST(substr({1}, 20, 7) AS REAL) - CAST(substr({0}, 20, 7) AS REAL)))"
    ),
    // The `regex` crate's REGEXP, registered on every connection (store/sqlite: with_regexp);
    // the checker writes literal patterns in the subset both read alike.
    f!("regexp", Some(2), None, "({0} REGEXP {1})"),
    // A Rust aggregate registered on every connection (store/sqlite/percentile.rs), computing
    // PostgreSQL's percentile_cont.
    f!("median", Some(1), None, "cowrieql_percentile({0}, 0.5)"),
    f!("percentile", Some(2), None, "cowrieql_percentile({0}, {1})"),
];

impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn functions(&self) -> &'static [FnTemplate] {
        FUNCTIONS
    }
    fn window_functions(&self) -> &'static [FnTemplate] {
        &[]
    }
    fn placeholder(&self, n: usize, _ty: Ty) -> String {
        format!("?{n}")
    }
    fn bool_lit(&self, b: bool) -> &'static str {
        if b {
            "1"
        } else {
            "0"
        }
    }
    fn timestamp_lit(&self, canonical: &str) -> String {
        quote_text(canonical)
    }
    fn int_lit(&self, i: i64) -> String {
        i.to_string()
    }
    fn float_lit(&self, f: f64) -> String {
        format!("{f:?}")
    }
    fn json_text(&self, base: &str, path: &[Seg]) -> String {
        format!("({base} ->> {})", quote_text(&json_path_text(path)))
    }
    fn json_has(&self, base: &str, path: &[Seg]) -> String {
        format!("(json_type({base}, {}) IS NOT NULL)", quote_text(&json_path_text(path)))
    }
    fn cast(&self, e: &str, from: Ty, to: Ty) -> String {
        match (from, to) {
            (Ty::Bool, Ty::Text) => format!("(CASE WHEN {e} THEN 'true' WHEN NOT {e} THEN 'false' END)"),
            (_, Ty::Int) | (_, Ty::Bool) => format!("CAST({e} AS INTEGER)"),
            (_, Ty::Float) => format!("CAST({e} AS REAL)"),
            (_, Ty::Timestamp) => format!("strftime('%Y-%m-%dT%H:%M:%f000Z', {e})"),
            _ => format!("CAST({e} AS TEXT)"),
        }
    }
    fn bucket(&self, ts: &str, unit: Unit) -> String {
        match unit {
            Unit::Hour => format!("strftime('%Y-%m-%dT%H:00:00.000000Z', {ts})"),
            Unit::Day => format!("strftime('%Y-%m-%dT00:00:00.000000Z', {ts})"),
            // ISO weeks start on Monday: forward to Sunday, back six days.
            Unit::Week => format!("strftime('%Y-%m-%dT00:00:00.000000Z', {ts}, 'weekday 0', '-6 days')"),
            Unit::Month => format!("strftime('%Y-%m-01T00:00:00.000000Z', {ts})"),
        }
    }
    fn ts_shift(&self, ts: &str, secs: &str, negative: bool) -> String {
        // Whole seconds move; the stored fraction (characters 20-27) is kept.
        let sign = if negative { "-" } else { "" };
        format!("(strftime('%Y-%m-%dT%H:%M:%S', {ts}, ({sign}{secs}) || ' seconds') || substr({ts}, 20))")
    }
    fn like(&self, a: &str, b: &str) -> String {
        format!("({a} LIKE {b} ESCAPE '\\')")
    }
    fn in_list_param(&self, e: &str, placeholder: &str, negated: bool) -> String {
        // The list is bound as a JSON array of strings.
        let not = if negated { "NOT " } else { "" };
        format!("{e} {not}IN (SELECT value FROM json_each({placeholder}))")
    }
    fn order_key(&self, e: &str, _ty: Ty) -> String {
        e.to_string()
    }
    // SQLite has no materialized views: a table that refresh rebuilds plays the part, so a
    // report reads a few aggregate rows instead of re-aggregating the whole history.
    fn create_view(&self, view: &View, body: &str) -> Vec<String> {
        let name = quote_ident(&view.name);
        let mut out = vec![format!("CREATE TABLE IF NOT EXISTS {name} AS\n{body}")];
        if !view.keys.is_empty() {
            let keys = view.keys.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ");
            out.push(format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {name} ({keys})",
                quote_ident(&format!("{}_key", view.name))
            ));
        }
        out
    }
    fn refresh_view(&self, name: &str, body: &str, _concurrently: bool) -> Vec<String> {
        // Run in one transaction: readers see the old rows or the new, never none.
        vec![format!("DELETE FROM {}", quote_ident(name)), format!("INSERT INTO {}\n{body}", quote_ident(name))]
    }
    fn drop_view(&self, name: &str) -> String {
        format!("DROP TABLE IF EXISTS {}", quote_ident(name))
    }
    fn sqlparser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::SQLiteDialect {})
    }
}
