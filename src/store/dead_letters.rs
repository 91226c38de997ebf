//! Dead letters: listing, exporting, and retrying them after a loader fix.

use anyhow::Result;
use sqlx::{AssertSqlSafe, Row};

use super::engine::{Engine, FactWriter};
use super::ingest::batch::Batch;
use super::ingest::event::parse_line;
use super::Store;
use crate::{in_tx, on_engine};

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetterRow {
    pub id: i64,
    pub source_file: String,
    pub source_offset: i64,
    pub reason: String,
    pub raw: String,
    pub created_at: String,
}

/// The newest `limit` dead letters (all when None), newest first.
pub async fn list(store: &Store, limit: Option<i64>) -> Result<Vec<DeadLetterRow>> {
    let sql =
        "SELECT id, source_file, source_offset, reason, raw, created_at FROM dead_letters ORDER BY id DESC LIMIT $1";
    // The largest LIMIT is no limit on both (SQLite reads NULL as 0, PostgreSQL -1 as an error).
    let limit = limit.map(|n| n.max(0)).unwrap_or(i64::MAX);
    Ok(
        on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as::<_, (i64, String, i64, String, String, <E as Engine>::Time)>(sql)
        .persistent(E::KEEP_STATEMENTS)
        .bind(limit)
        .fetch_all(c)
        .await?)
        .into_iter()
        .map(|(id, source_file, source_offset, reason, raw, t)| DeadLetterRow {
            id,
            source_file,
            source_offset,
            reason,
            raw,
            created_at: E::time_text(t),
        })
        .collect()),
    )
}

/// Which dead letters `purge` removes; every filter given must match (none: all of them).
#[derive(Debug, Default, Clone)]
pub struct PurgeFilter {
    /// Reasons starting with this text (reasons end in positions, so a prefix names a kind).
    pub reason: Option<String>,
    /// Lines from this source file, as stored (an absolute path, or `-`).
    pub file: Option<String>,
    /// Stored before this time.
    pub before: Option<chrono::DateTime<chrono::Utc>>,
}

// `$N` named once each in order, then reused: SQLite numbers them by first appearance.
const PURGE_WHERE: &str = " WHERE ($1 IS NULL OR substr(reason, 1, length($1)) = $1) \
     AND ($2 IS NULL OR source_file = $2) AND ($3 IS NULL OR created_at < $3)";

/// How many dead letters `purge` with `f` would remove (`delete` false) or removes.
pub async fn purge(store: &Store, f: &PurgeFilter, delete: bool) -> Result<u64> {
    let sql = if delete {
        format!("DELETE FROM dead_letters{PURGE_WHERE}")
    } else {
        format!("SELECT COUNT(*) FROM dead_letters{PURGE_WHERE}")
    };
    let (reason, file) = (f.reason.as_deref(), f.file.as_deref());
    Ok(on_engine!(store, p, E => {
        let q = sqlx::query(AssertSqlSafe(sql))
            .persistent(E::KEEP_STATEMENTS)
            .bind(reason)
            .bind(file)
            .bind(f.before.map(E::time));
        in_tx!(p, c => if delete {
            q.execute(c).await?.rows_affected()
        } else {
            q.fetch_one(c).await?.get::<i64, _>(0) as u64
        })
    }))
}

/// Counts per reason, most frequent first.
pub async fn reasons(store: &Store) -> Result<Vec<(String, i64)>> {
    // Reasons carry positions ("… at line 1 column 5"); group by the text before them.
    let q = "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason ORDER BY COUNT(*) DESC, reason";
    let rows: Vec<(String, i64)> =
        on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as(q).persistent(E::KEEP_STATEMENTS).fetch_all(c).await?));
    let mut merged: Vec<(String, i64)> = Vec::new();
    for (reason, n) in rows {
        let key = reason.split(" at line ").next().unwrap_or(&reason).to_string();
        match merged.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 += n,
            None => merged.push((key, n)),
        }
    }
    merged.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(merged)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetryStats {
    pub examined: u64,
    /// Now accepted: stored as events (or already stored) and removed from the dead letters.
    pub accepted: u64,
    pub still_dead: u64,
}

/// Re-parses every dead letter with the current loader. Accepted lines are written through
/// the ingest path (content hashes make a line already stored a no-op) and their dead
/// letters deleted afterwards, so a retry interrupted anywhere and run again moves each line
/// exactly once.
pub async fn retry(store: &Store) -> Result<RetryStats> {
    let rows = list(store, None).await?;
    let mut stats = RetryStats { examined: rows.len() as u64, ..Default::default() };
    // One batch per source file: offsets identify lines within a batch.
    let mut by_file: Vec<(String, Vec<&DeadLetterRow>)> = Vec::new();
    for r in &rows {
        match by_file.iter_mut().find(|(f, _)| *f == r.source_file) {
            Some((_, v)) => v.push(r),
            None => by_file.push((r.source_file.clone(), vec![r])),
        }
    }
    for (file, letters) in by_file {
        let mut batch = Batch { source: file, ..Default::default() };
        let mut fixed_ids = Vec::new();
        for l in letters {
            match parse_line(l.raw.as_bytes(), l.source_offset as u64) {
                Ok(e) => {
                    batch.events.push(e);
                    fixed_ids.push(l.id);
                }
                Err(_) => stats.still_dead += 1,
            }
        }
        if batch.events.is_empty() {
            continue;
        }
        batch.lines = batch.events.len() as u64;
        on_engine!(store, p => p.lane().await?.write(&batch, &[]).await?);
        for chunk in fixed_ids.chunks(500) {
            let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
            // Ids are integers read from the table itself, not input.
            let sql = format!("DELETE FROM dead_letters WHERE id IN ({})", ids.join(","));
            // Simple protocol: one round trip, no statement to keep.
            on_engine!(store, p => sqlx::raw_sql(AssertSqlSafe(sql)).execute(p).await.map(drop)?);
        }
        stats.accepted += fixed_ids.len() as u64;
    }
    Ok(stats)
}
