//! PostgreSQL: timestamptz (always computed in UTC), real booleans, JSONB with `->`/`->>`.

use super::{quote_ident, quote_text, Dialect, FnTemplate};
use crate::check::ir::{Ty, Unit, View};
use crate::dsl::ast::Seg;
use crate::fn_template as f;

pub struct Postgres;

/// Top-level payload keys left out of the GIN index (migration 0006 builds the index on the
/// payload minus these, in this order): each has a column of its own (`ts`, `session_id`,
/// `sensor`, `src_ip`, `event_type`) or is unique per event (`message`, `src_port`), and
/// indexing them cost a sixth of ingest time.
pub const GIN_UNINDEXED_KEYS: [&str; 7] =
    ["eventid", "message", "sensor", "session", "src_ip", "src_port", "timestamp"];

/// Over [`super::functions::BASE`].
static FUNCTIONS: &[FnTemplate] = &[
    // SUM(bigint) is numeric and AVG is numeric on PostgreSQL: both dialects must return the
    // same kinds of numbers. Ints add up in bigint (cowrieql_sum, migration 11: numeric
    // accumulation and the cast back cost a quarter of a large grouping); AVG is cast back.
    // Text is told apart bytewise ("C"): the same values as under any deterministic collation,
    // but the sort behind DISTINCT then compares bytes with abbreviated keys instead of calling
    // the locale (a week's distinct addresses: 4.1 ms to 2.5 ms, under C.UTF-8).
    f!("count_distinct", Some(1), None, "COUNT(DISTINCT {key0})"),
    // A combination is a row value: counted with nulls among its fields (a row is never null).
    f!("count_distinct", Some(2), None, "COUNT(DISTINCT ROW({*}))"),
    f!("count_distinct", Some(3), None, "COUNT(DISTINCT ROW({*}))"),
    f!("count_distinct", Some(4), None, "COUNT(DISTINCT ROW({*}))"),
    f!("sum", Some(1), Some(Ty::Int), "cowrieql_sum({0})"),
    f!("sum", Some(1), None, "SUM({0})"),
    f!("avg", Some(1), None, "CAST(AVG({0}) AS DOUBLE PRECISION)"),
    f!("string_agg", Some(2), None, "string_agg({0}, {1})"),
    // The parts in the order of the third argument (text bytewise, as `sort`), ties arbitrary.
    f!("string_agg", Some(3), None, "string_agg({0}, {1} ORDER BY {key2} ASC NULLS LAST)"),
    f!("length", Some(1), None, "CAST(length({0}) AS BIGINT)"),
    // substr and round take int4 arguments; the language's ints are bigint.
    f!("substr", Some(2), None, "substr({0}, CAST({1} AS INTEGER))"),
    f!("substr", Some(3), None, "substr({0}, CAST({1} AS INTEGER), CAST({2} AS INTEGER))"),
    f!("contains", Some(2), None, "(strpos({0}, {1}) > 0)"),
    f!("starts_with", Some(2), None, "starts_with({0}, {1})"),
    f!("regexp", Some(2), None, "({0} ~ {1})"),
    f!("round", Some(1), None, "CAST(round(CAST({0} AS NUMERIC)) AS DOUBLE PRECISION)"),
    f!("round", Some(2), None, "CAST(round(CAST({0} AS NUMERIC), CAST({1} AS INTEGER)) AS DOUBLE PRECISION)"),
    f!("now", Some(0), None, "now()"),
    f!("date", Some(1), None, "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    f!("hour", Some(1), None, "CAST(EXTRACT(HOUR FROM {0} AT TIME ZONE 'UTC') AS BIGINT)"),
    f!("weekday", Some(1), None, "CAST(EXTRACT(ISODOW FROM {0} AT TIME ZONE 'UTC') AS BIGINT)"),
    f!("seconds_between", Some(2), None, "CAST(EXTRACT(EPOCH FROM ({1} - {0})) AS DOUBLE PRECISION)"),
    // Continuous percentiles (interpolated between the two nearest values), as SQLite's
    // registered `cowrieql_percentile` computes them.
    f!("median", Some(1), None, "percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST({0} AS DOUBLE PRECISION))"),
    f!("percentile", Some(2), None, "percentile_cont({1}) WITHIN GROUP (ORDER BY CAST({0} AS DOUBLE PRECISION))"),
];

/// Over [`super::functions::BASE_WINDOW`]: numeric results cast back as in [`FUNCTIONS`]; lag
/// and lead take an int4 offset.
static WINDOW_FUNCTIONS: &[FnTemplate] = &[
    f!("sum", Some(1), Some(Ty::Int), "CAST(SUM({0}) OVER {over} AS BIGINT)"),
    f!("avg", Some(1), None, "CAST(AVG({0}) OVER {over} AS DOUBLE PRECISION)"),
    f!("lag", Some(2), None, "lag({0}, CAST({1} AS INTEGER)) OVER {over}"),
    f!("lead", Some(2), None, "lead({0}, CAST({1} AS INTEGER)) OVER {over}"),
];

fn pg_type(ty: Ty) -> &'static str {
    match ty {
        Ty::Int | Ty::Duration => "bigint",
        Ty::Float => "double precision",
        Ty::Bool => "boolean",
        Ty::Timestamp => "timestamptz",
        Ty::Json => "jsonb",
        Ty::Text | Ty::Null => "text",
        Ty::List => "text[]",
    }
}

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn functions(&self) -> &'static [FnTemplate] {
        FUNCTIONS
    }
    fn window_functions(&self) -> &'static [FnTemplate] {
        WINDOW_FUNCTIONS
    }
    fn placeholder(&self, n: usize, ty: Ty) -> String {
        // Explicit types: PostgreSQL cannot infer a parameter's type in `$1 IS NULL`.
        format!("CAST(${n} AS {})", pg_type(ty))
    }
    fn bool_lit(&self, b: bool) -> &'static str {
        if b {
            "TRUE"
        } else {
            "FALSE"
        }
    }
    fn timestamp_lit(&self, canonical: &str) -> String {
        format!("CAST({} AS TIMESTAMPTZ)", quote_text(canonical))
    }
    fn int_lit(&self, i: i64) -> String {
        // A bare literal is int4 (or numeric) on PostgreSQL; the language's ints are 64-bit.
        format!("CAST({i} AS BIGINT)")
    }
    fn float_lit(&self, f: f64) -> String {
        format!("CAST({f:?} AS DOUBLE PRECISION)")
    }
    fn json_text(&self, base: &str, path: &[Seg]) -> String {
        let mut out = format!("({base}");
        for (i, s) in path.iter().enumerate() {
            let op = if i + 1 == path.len() { "->>" } else { "->" };
            match s {
                Seg::Key(k) => out.push_str(&format!(" {op} {}", quote_text(k))),
                Seg::Index(n) => out.push_str(&format!(" {op} {n}")),
            }
        }
        out.push(')');
        out
    }
    fn json_has(&self, base: &str, path: &[Seg]) -> String {
        // `?` only tests top-level keys; following the whole path works at any depth.
        let mut out = format!("({base}");
        for s in path {
            match s {
                Seg::Key(k) => out.push_str(&format!(" -> {}", quote_text(k))),
                Seg::Index(n) => out.push_str(&format!(" -> {n}")),
            }
        }
        out.push_str(" IS NOT NULL)");
        out
    }
    fn json_contains(&self, base: &str, path: &[Seg], value: &str) -> Option<String> {
        // The GIN index covers the payload without the keys in GIN_UNINDEXED_KEYS: a test on
        // one of those has no index to use here (they have columns of their own).
        if matches!(path.first(), Some(Seg::Key(k)) if GIN_UNINDEXED_KEYS.contains(&k.as_str())) {
            return None;
        }
        // Containment cannot say "element N of an array"; keys only.
        let mut obj = value.to_string();
        for s in path.iter().rev() {
            let Seg::Key(k) = s else { return None };
            obj = format!("jsonb_build_object({}, {obj})", quote_text(k));
        }
        // Removing other top-level keys changes no answer about this key's subtree, and this
        // is the expression the index is built on (migration 0006), so the planner can use it.
        Some(format!("({base} - CAST('{{{}}}' AS TEXT[])) @> {obj}", GIN_UNINDEXED_KEYS.join(",")))
    }
    fn cast(&self, e: &str, from: Ty, to: Ty) -> String {
        match (from, to) {
            (Ty::Timestamp, Ty::Text) => {
                format!("to_char({e} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Ty::Bool, Ty::Text) => format!("(CASE WHEN {e} THEN 'true' WHEN NOT {e} THEN 'false' END)"),
            // SQLite truncates a real to an integer; PostgreSQL would round.
            (Ty::Float, Ty::Int) => format!("CAST(trunc({e}) AS BIGINT)"),
            // boolean casts only to and from int4 on PostgreSQL.
            (Ty::Bool, Ty::Int) => format!("CAST(CAST({e} AS INTEGER) AS BIGINT)"),
            (Ty::Bool, Ty::Float) => format!("CAST(CAST({e} AS INTEGER) AS DOUBLE PRECISION)"),
            (Ty::Int | Ty::Float, Ty::Bool) => format!("({e} <> 0)"),
            (_, to) => format!("CAST({e} AS {})", pg_type(to).to_uppercase()),
        }
    }
    fn bucket(&self, ts: &str, unit: Unit) -> String {
        let u = match unit {
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
        };
        format!("date_trunc('{u}', {ts}, 'UTC')")
    }
    fn ts_shift(&self, ts: &str, secs: &str, negative: bool) -> String {
        let sign = if negative { "-" } else { "+" };
        format!("({ts} {sign} {secs} * INTERVAL '1 second')")
    }
    fn like(&self, a: &str, b: &str) -> String {
        format!("({a} ILIKE {b} ESCAPE '\\')")
    }
    fn in_list_param(&self, e: &str, placeholder: &str, negated: bool) -> String {
        if negated {
            format!("NOT ({e} = ANY({placeholder}))")
        } else {
            format!("{e} = ANY({placeholder})")
        }
    }
    fn order_key(&self, e: &str, ty: Ty) -> String {
        // Bytewise order, as SQLite sorts text; the database's locale would differ.
        if ty == Ty::Text {
            format!("{e} COLLATE \"C\"")
        } else {
            e.to_string()
        }
    }
    fn create_view(&self, view: &View, body: &str) -> Vec<String> {
        let keys = if view.keys.is_empty() {
            "((1))".to_string()
        } else {
            format!("({})", view.keys.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", "))
        };
        vec![
            format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {} AS\n{body}", quote_ident(&view.name)),
            // REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index.
            format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} {keys}",
                quote_ident(&format!("{}_key", view.name)),
                quote_ident(&view.name)
            ),
        ]
    }
    fn refresh_view(&self, name: &str, _body: &str, concurrently: bool) -> Vec<String> {
        let kw = if concurrently { "CONCURRENTLY " } else { "" };
        vec![format!("REFRESH MATERIALIZED VIEW {kw}{}", quote_ident(name))]
    }
    fn drop_view(&self, name: &str) -> String {
        format!("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE", quote_ident(name))
    }
    fn sqlparser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }
}

#[cfg(test)]
mod gin_tests {
    use super::GIN_UNINDEXED_KEYS;

    #[test]
    fn the_emitter_and_the_gin_migration_leave_out_the_same_keys() {
        // The planner uses the index only if the query's expression is the index's.
        let sql = include_str!("../../migrations/postgres/0006_narrow_payload_gin.sql");
        assert!(sql.contains(&format!("CAST('{{{}}}' AS TEXT[])", GIN_UNINDEXED_KEYS.join(","))), "{sql}");
    }
}
