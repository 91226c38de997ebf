//! Query plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL),
//! with full scans of large tables flagged.

use anyhow::Result;

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
    let (lines, scans) = crate::store::query::plan(store, c, binds).await?;
    let large = |t: &str| sizes.iter().find(|(n, _)| *n == t).map(|(_, n)| *n).filter(|n| *n >= LARGE);
    let warnings = scans.iter().filter_map(|t| large(t).map(|n| format!("full scan of {t} ({n} rows)"))).collect();
    Ok((Some(lines.join("\n")), warnings))
}
