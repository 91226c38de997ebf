//! Recomputing every fact table and session summary from `raw_events`, under the current
//! rules: after a migration that changed them (the Cowrie 3.x facts), or by hand with
//! `cowrieql db rederive`. Each backend's writer runs it in one transaction (readers see the
//! old facts until the new ones are all in); this file turns stored rows into batches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::batch::{Batch, SessionKey};
use super::event::{parse_line, SessionMemory};
use crate::progress::{Reporter, Task, Unit};
use crate::store::engine::{Engine, FactWriter};
use crate::store::Store;
use crate::{in_tx, on_engine};

/// Stored events read per step.
pub const CHUNK: i64 = 5_000;

/// What a rebuild recomputes.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every fact and session (`db rederive`, the rules migration).
    All,
    /// These sessions only, from their stored events between `from` and `to` (both
    /// included): their facts, summaries and tunnels are replaced (`db prune`, for the
    /// sessions that span the boundary).
    Sessions { keys: HashSet<SessionKey>, from: DateTime<Utc>, to: DateTime<Utc> },
}

impl Scope {
    /// Whether a stored event of session `key` is rebuilt.
    fn holds(&self, key: Option<(&str, &str)>) -> bool {
        match self {
            Scope::All => true,
            Scope::Sessions { keys, .. } => {
                key.is_some_and(|(sensor, id)| keys.contains(&(sensor.to_string(), id.to_string())))
            }
        }
    }
}

/// A scoped rebuild's statements (the same text on both databases). Facts of the scope's
/// sessions: by session, within the time range (facts are indexed by time only).
pub const DELETE_SESSION_FACTS: [&str; 4] = [
    "DELETE FROM logins WHERE ts >= $1 AND ts <= $2 AND sensor = $3 AND session_id = $4",
    "DELETE FROM commands WHERE ts >= $1 AND ts <= $2 AND sensor = $3 AND session_id = $4",
    "DELETE FROM downloads WHERE ts >= $1 AND ts <= $2 AND sensor = $3 AND session_id = $4",
    "DELETE FROM probes WHERE ts >= $1 AND ts <= $2 AND sensor = $3 AND session_id = $4",
];
/// A session's summary and tunnels: by key.
pub const DELETE_SESSION_ROWS: [&str; 2] = [
    "DELETE FROM tunnels WHERE sensor = $1 AND session_id = $2",
    "DELETE FROM sessions WHERE sensor = $1 AND session_id = $2",
];
/// The next chunk of stored events after an id: every one, or those in a time range.
/// (SQLite numbers `$N` by first appearance: each text names them in order.)
pub const NEXT_ALL: &str = "SELECT id, source_file, payload FROM raw_events WHERE id > $1 ORDER BY id LIMIT $2";
pub const NEXT_IN_RANGE: &str =
    "SELECT id, source_file, payload FROM raw_events WHERE ts >= $1 AND ts <= $2 AND id > $3 ORDER BY id LIMIT $4";

/// What a rederive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rederived {
    pub events: u64,
    /// Stored lines that no longer parse (a rule tightened since they were accepted): kept,
    /// with no facts.
    pub unparsable: u64,
}

/// Stored rows (`id`, `source_file`, `payload`), in id order, as batches of events with
/// their ids. Each source has its own session memory (tunnelled targets, exploit logins), as
/// an ingest reads one file at a time with a fresh one. Kept per source, not reset when the
/// source changes: ingests running at once interleave their files' ids, and a reset at each
/// switch forgot what a session's earlier lines said.
#[derive(Default)]
pub struct Rebuild {
    memory: HashMap<String, SessionMemory>,
    pub done: Rederived,
}

impl Rebuild {
    /// The rows' events that `scope` holds, as a batch.
    pub fn batch(&mut self, rows: Vec<(i64, String, String)>, scope: &Scope) -> (Batch, HashMap<u64, i64>) {
        let mut b = Batch::default();
        let mut ids = HashMap::with_capacity(rows.len());
        for (i, (id, source, payload)) in rows.into_iter().enumerate() {
            self.done.events += 1;
            // The batch's own numbering: ids of several sources share no offsets.
            match parse_line(payload.as_bytes(), i as u64) {
                Ok(mut e) => {
                    self.memory.entry(source).or_default().apply(&mut e);
                    if !scope.holds(e.session_id.as_deref().map(|id| (e.sensor.as_str(), id))) {
                        continue;
                    }
                    ids.insert(i as u64, id);
                    b.events.push(e);
                }
                Err(_) => self.done.unparsable += 1,
            }
        }
        (b, ids)
    }
}

/// Recomputes every fact of `store` from its stored events, with progress.
pub async fn rederive(store: &Store, progress: &Reporter) -> Result<Rederived> {
    let total: i64 = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar("SELECT count(*) FROM raw_events")
        .persistent(E::KEEP_STATEMENTS)
        .fetch_one(c)
        .await?));
    rebuild(store, &Scope::All, total as u64, progress).await
}

/// Recomputes what `scope` holds in one transaction; `total` stored events to read.
pub async fn rebuild(store: &Store, scope: &Scope, total: u64, progress: &Reporter) -> Result<Rederived> {
    let task: Arc<dyn Task> = progress.0.start("stored events", Unit::Rows, total, 0);
    let out = on_engine!(store, p, E => {
        let mut lane = <E as Engine>::lane(p).await?;
        lane.rederive(scope, task.as_ref()).await?
    });
    task.finish();
    Ok(out)
}
