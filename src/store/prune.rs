//! Retention: `cowrieql db prune --before DATE` removes every stored event before the
//! boundary and everything derived from them, and leaves the rest as if the old events had
//! never been loaded:
//! - events and fact rows before the boundary go: whole months at once where the database
//!   keeps them apart (PostgreSQL's monthly partitions), the rest in batches (each its own
//!   transaction, with progress), so a prune of years holds no lock for long and an interrupted one
//!   continues where it stopped when run again;
//! - a session whose events are all before the boundary goes, with its tunnels;
//! - a session that spans the boundary is recomputed from the events that remain (one
//!   transaction, the same rules as an ingest), so it starts at its first remaining event;
//! - the materialized views are stale afterwards (`data_changes`), and the caller refreshes
//!   them.
//!
//! Dead letters and checkpoints stay: dead letters have their own `purge`, and a checkpoint
//! keeps a re-run of `ingest` over the old files from loading the pruned lines again.

use std::collections::HashSet;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::ingest::batch::SessionKey;
use super::ingest::rederive::{rebuild, Scope};
use super::Store;
use crate::progress::{Reporter, Unit};
use crate::store::engine::Engine;
use crate::{in_tx, on_engine};

/// The tables whose rows are one event each, pruned by their time: `raw_events` last, so
/// that an interrupted prune leaves no fact whose event is gone.
const BY_EVENT_TIME: [&str; 5] = ["logins", "commands", "downloads", "probes", "raw_events"];

/// Rows deleted per statement: small enough that a batch commits in well under a second.
const BATCH: i64 = 20_000;

#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Events strictly before this instant go.
    pub before: DateTime<Utc>,
    /// Count what would go; change nothing.
    pub dry_run: bool,
    pub progress: Reporter,
}

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows per table.
    pub rows: Vec<(&'static str, u64)>,
    /// Sessions across the boundary, recomputed from what remains.
    pub sessions_recomputed: u64,
}

impl Pruned {
    pub fn summary(&self, dry_run: bool) -> String {
        let rows: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        format!(
            "{}: {}; {} sessions across the boundary {}",
            if dry_run { "would delete" } else { "deleted" },
            rows.join(", "),
            self.sessions_recomputed,
            if dry_run {
                "would be recomputed from their remaining events"
            } else {
                "recomputed from their remaining events"
            }
        )
    }
}

pub async fn prune(store: &Store, o: &PruneOptions) -> Result<Pruned> {
    let before = o.before;
    let (spanning, span_end) = spanning_sessions(store, before).await?;
    let mut out = Pruned { sessions_recomputed: spanning.len() as u64, ..Default::default() };
    if o.dry_run {
        for t in BY_EVENT_TIME {
            out.rows.push((t, count(store, &format!("SELECT COUNT(*) FROM {t} WHERE ts < $1"), &[before]).await?));
        }
        out.rows.push(("tunnels", count(store, "SELECT COUNT(*) FROM tunnels WHERE last_seen < $1", &[before]).await?));
        out.rows.push((
            "sessions",
            count(store, "SELECT COUNT(*) FROM sessions WHERE last_event_at < $1", &[before]).await?,
        ));
        return Ok(out);
    }
    // What goes, counted before whole months go at once where the database stores them
    // apart (instant at any size): every row before the boundary goes either way.
    let mut totals = Vec::with_capacity(BY_EVENT_TIME.len());
    for t in BY_EVENT_TIME {
        totals.push(count(store, &format!("SELECT COUNT(*) FROM {t} WHERE ts < $1"), &[before]).await?);
    }
    on_engine!(store, p, E => <E as Engine>::drop_months_before(p, before).await?);
    for (t, total) in BY_EVENT_TIME.into_iter().zip(totals) {
        // The dropped months count as done; the boundary month (and all of SQLite's) is left.
        let left = count(store, &format!("SELECT COUNT(*) FROM {t} WHERE ts < $1"), &[before]).await?;
        let task = o.progress.start(t, Unit::Rows, total, total - left);
        let sql = format!("DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE ts < $1 LIMIT $2)");
        loop {
            let n = on_engine!(store, p, E => in_tx!(p, c => sqlx::query(AssertSqlSafe(sql.clone()))
                .persistent(E::KEEP_STATEMENTS)
                .bind(E::time(before))
                .bind(BATCH)
                .execute(c)
                .await?
                .rows_affected()));
            if n == 0 {
                break;
            }
            task.advance(n);
        }
        task.finish();
        out.rows.push((t, total));
    }
    for (t, sql) in [
        ("tunnels", "DELETE FROM tunnels WHERE last_seen < $1"),
        ("sessions", "DELETE FROM sessions WHERE last_event_at < $1"),
    ] {
        let n = on_engine!(store, p, E => in_tx!(p, c => sqlx::query(sql)
            .persistent(E::KEEP_STATEMENTS)
            .bind(E::time(before))
            .execute(c)
            .await?
            .rows_affected()));
        out.rows.push((t, n));
    }
    // Also when no session spans the boundary: the rebuild marks the data changed, which
    // makes the views stale.
    let to = span_end.unwrap_or(before);
    let remaining = count(store, "SELECT COUNT(*) FROM raw_events WHERE ts >= $1 AND ts <= $2", &[before, to]).await?;
    let scope = Scope::Sessions { keys: spanning, from: before, to };
    rebuild(store, &scope, remaining, &o.progress)
        .await
        .context("recomputing the sessions across the boundary (run the same prune again to finish it)")?;
    Ok(out)
}

/// The sessions with events on both sides of `before`, and the last event time of any.
async fn spanning_sessions(
    store: &Store,
    before: DateTime<Utc>,
) -> Result<(HashSet<SessionKey>, Option<DateTime<Utc>>)> {
    let sql =
        "SELECT sensor, session_id, last_event_at FROM sessions WHERE first_event_at < $1 AND last_event_at >= $1";
    let rows: Vec<(String, String, String)> = on_engine!(store, p, E => {
        in_tx!(p, c => sqlx::query(sql).persistent(E::KEEP_STATEMENTS).bind(E::time(before)).fetch_all(c).await?)
            .iter()
            .map(|r| (r.get(0), r.get(1), E::time_text(r.get(2))))
            .collect()
    });
    let mut end: Option<DateTime<Utc>> = None;
    let mut keys = HashSet::with_capacity(rows.len());
    for (sensor, id, last) in rows {
        let t =
            DateTime::parse_from_rfc3339(&last).with_context(|| format!("a stored time: {last}"))?.with_timezone(&Utc);
        end = Some(end.map_or(t, |e| e.max(t)));
        keys.insert((sensor, id));
    }
    Ok((keys, end))
}

/// `sql`'s count with the times bound in order.
async fn count(store: &Store, sql: &str, times: &[DateTime<Utc>]) -> Result<u64> {
    let n: i64 = on_engine!(store, p, E => {
        let mut q = sqlx::query_scalar(AssertSqlSafe(sql.to_string())).persistent(E::KEEP_STATEMENTS);
        for t in times {
            q = q.bind(E::time(*t));
        }
        in_tx!(p, c => q.fetch_one(c).await?)
    });
    Ok(n as u64)
}
