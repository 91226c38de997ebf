//! Recomputing every fact table and session summary from `raw_events`, under the current
//! rules: after a migration that changed them (the Cowrie 3.x facts), or by hand with
//! `cowrieql db rederive`. Each backend's writer runs it in one transaction (readers see the
//! old facts until the new ones are all in); this file turns stored rows into batches.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;

use super::batch::Batch;
use super::event::{parse_line, SessionMemory};
use crate::on_engine;
use crate::progress::{Reporter, Task, Unit};
use crate::store::engine::{Engine, FactWriter};
use crate::store::Store;

/// Stored events read per step.
pub const CHUNK: i64 = 5_000;

/// What a rederive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rederived {
    pub events: u64,
    /// Stored lines that no longer parse (a rule tightened since they were accepted): kept,
    /// with no facts.
    pub unparsable: u64,
}

/// Stored rows (`id`, `source_file`, `payload`), in id order, as batches of events with
/// their ids. The session memory (tunnelled targets, exploit logins) starts afresh with each
/// source, as an ingest reads one file at a time.
#[derive(Default)]
pub struct Rebuild {
    memory: SessionMemory,
    source: Option<String>,
    pub done: Rederived,
}

impl Rebuild {
    pub fn batch(&mut self, rows: Vec<(i64, String, String)>) -> (Batch, HashMap<u64, i64>) {
        let mut b = Batch::default();
        let mut ids = HashMap::with_capacity(rows.len());
        for (i, (id, source, payload)) in rows.into_iter().enumerate() {
            if self.source.as_deref() != Some(source.as_str()) {
                self.memory = SessionMemory::default();
                self.source = Some(source);
            }
            self.done.events += 1;
            // The batch's own numbering: ids of several sources share no offsets.
            match parse_line(payload.as_bytes(), i as u64) {
                Ok(mut e) => {
                    self.memory.apply(&mut e);
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
    let total: i64 = on_engine!(store, p => sqlx::query_scalar("SELECT count(*) FROM raw_events").fetch_one(p).await?);
    let task: Arc<dyn Task> = progress.0.start("stored events", Unit::Rows, total as u64, 0);
    let out = on_engine!(store, p, E => {
        let mut lane = <E as Engine>::lane(p).await?;
        lane.rederive(task.as_ref()).await?
    });
    task.finish();
    Ok(out)
}
