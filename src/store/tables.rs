//! Row counts of the store's tables, for summaries and health checks.

use anyhow::Result;
use sqlx::AssertSqlSafe;

use super::engine::Engine;
use super::Store;
use crate::{in_tx, on_engine};

/// The tables an operator cares about, in display order.
pub const DATA_TABLES: &[&str] =
    &["raw_events", "sessions", "logins", "commands", "downloads", "tunnels", "probes", "dead_letters"];

pub async fn row_counts(store: &Store) -> Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::with_capacity(DATA_TABLES.len());
    for t in DATA_TABLES {
        // Table names come from the constant list above, never from input.
        let sql = format!("SELECT COUNT(*) FROM {t}");
        let n: i64 = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar(AssertSqlSafe(sql))
            .persistent(E::KEEP_STATEMENTS)
            .fetch_one(c)
            .await?));
        out.push((*t, n));
    }
    Ok(out)
}

/// Whether any event came from `sensor` (the (sensor, ts) index answers it); when none did,
/// the sensors that exist, for the warning.
pub async fn unknown_sensor(store: &Store, sensor: &str) -> Result<Option<Vec<String>>> {
    let probe = "SELECT count(*) FROM (SELECT 1 FROM raw_events WHERE sensor = $1 LIMIT 1) AS x";
    let all = "SELECT DISTINCT sensor FROM sessions ORDER BY sensor LIMIT 50";
    let n: i64 = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar(probe)
        .persistent(E::KEEP_STATEMENTS)
        .bind(sensor)
        .fetch_one(c)
        .await?));
    if n > 0 {
        return Ok(None);
    }
    // Only now, for the warning: the sensors there are.
    Ok(Some(on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar(all)
        .persistent(E::KEEP_STATEMENTS)
        .fetch_all(c)
        .await?))))
}

/// Whether any event with one of `event_ids` is stored (an index lookup per id on
/// (event_type, ts)).
pub async fn any_event_of(store: &Store, event_ids: &[&str]) -> Result<bool> {
    let sql = "SELECT count(*) FROM (SELECT 1 FROM raw_events WHERE event_type = $1 LIMIT 1) AS x";
    for id in event_ids {
        let n: i64 = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar(sql)
            .persistent(E::KEEP_STATEMENTS)
            .bind(id)
            .fetch_one(c)
            .await?));
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every base table of the database with its columns in order, as the database itself
/// reports them (`pragma_table_info`, `information_schema.columns`): what the catalog, the
/// ingest writer and the transfer are checked against.
pub async fn schema_columns(store: &Store) -> Result<Vec<(String, Vec<String>)>> {
    let rows: Vec<(String, String)> = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as(E::TABLE_COLUMNS)
        .persistent(E::KEEP_STATEMENTS)
        .fetch_all(c)
        .await?));
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (t, c) in rows {
        match out.last_mut() {
            Some((last, cols)) if *last == t => cols.push(c),
            _ => out.push((t, vec![c])),
        }
    }
    Ok(out)
}
