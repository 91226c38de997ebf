//! Query plans: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL,
//! with full scans of large tables flagged.

use anyhow::Result;
use sqlx::Row;

use super::Value;
use crate::sql::Compiled;
use crate::store::Store;

/// Tables with at least this many rows are "large": a full scan of one is worth a warning.
pub const LARGE: i64 = 100_000;

/// The plan of `c` with `binds`, and warnings about full scans of large tables.
pub async fn explain(
    store: &Store,
    c: &Compiled,
    binds: &[Value],
    sizes: &[(&str, i64)],
) -> Result<(Option<String>, Vec<String>)> {
    let mut warnings = Vec::new();
    let large = |t: &str| sizes.iter().find(|(n, _)| *n == t).map(|(_, n)| *n).filter(|n| *n >= LARGE);
    let plan = match store {
        Store::Sqlite(p) => {
            let mut conn = p.acquire().await?;
            let sql = crate::store::views::prepare_sqlite(&mut conn, c).await?.sql;
            drop(conn);
            let q = super::execute::sqlite_query(format!("EXPLAIN QUERY PLAN {sql}"), c, binds)?;
            let lines: Vec<String> = q.fetch_all(p).await?.iter().map(|r| r.get::<String, _>(3)).collect();
            for l in &lines {
                // "SCAN raw_events" reads every row; "SCAN t USING INDEX" or "SEARCH" does not.
                if let Some(t) = l.strip_prefix("SCAN ").map(|r| r.split_whitespace().next().unwrap_or("")) {
                    if !l.contains("USING") {
                        if let Some(n) = large(t) {
                            warnings.push(format!("full scan of {t} ({n} rows)"));
                        }
                    }
                }
            }
            lines.join("\n")
        }
        Store::Postgres(p) => {
            let mut conn = p.acquire().await?;
            let sql = crate::store::views::prepare_pg(&mut conn, c).await?.sql;
            let q = super::execute::pg_query(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), c, binds);
            let lines: Vec<String> = q.fetch_all(&mut *conn).await?.iter().map(|r| r.get::<String, _>(0)).collect();
            for l in &lines {
                if let Some(rest) = l.split("Seq Scan on ").nth(1) {
                    let t = rest.split_whitespace().next().unwrap_or("");
                    if let Some(n) = large(t) {
                        warnings.push(format!("full scan of {t} ({n} rows)"));
                    }
                }
            }
            lines.join("\n")
        }
    };
    Ok((Some(plan), warnings))
}
