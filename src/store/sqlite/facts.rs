//! Writing batches to SQLite: one transaction per batch, prepared single-row statements
//! through rusqlite on the store's own connection.
//!
//! sqlx hands every bound value to its worker thread as an owned copy and builds a
//! multi-row statement per chunk; perf showed its worker thread as the ingest bottleneck,
//! most of it copying and allocating. rusqlite binds borrowed values straight into a
//! statement prepared once per batch.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, Statement, Transaction, TransactionBehavior};
use sqlx::pool::PoolConnection;

use crate::progress::Task;
use crate::store::engine::{FactWriter, DERIVED_TABLES, FORGET_CHECKPOINT};
use crate::store::ingest::batch::{
    fact_tables, plan, session_merge_sql, tunnel_merge_sql, Batch, Checkpoint, MergeSql, Plan, CHECKPOINT_UPSERT,
    DATA_CHANGED, DEAD_LETTER_COLUMNS, RAW_COLUMNS, SESSION_COLUMNS, TUNNEL_COLUMNS,
};
use crate::store::ingest::rederive::{
    Rebuild, Rederived, Scope, CHUNK, DELETE_SESSION_FACTS, DELETE_SESSION_ROWS, NEXT_ALL, NEXT_IN_RANGE,
};
use crate::store::ingest::rows::{self, RowSink};
use crate::store::ingest::BatchOutcome;
use crate::time::canonical_text;

/// SQLite's spelling of the upserts' merges.
const MERGE: MergeSql =
    MergeSql { least: "MIN", greatest: "MAX", json_merge: |a, b| format!("json_patch({a}, {b})"), bytewise: "" };

/// SQLite's one writer connection.
pub struct Lane(pub PoolConnection<sqlx::Sqlite>);

impl FactWriter for Lane {
    /// Writes `b` and the checkpoints `cps` in one transaction.
    async fn write(&mut self, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
        let mut handle = self.0.lock_handle().await?;
        // SAFETY: `handle` keeps sqlx away from this connection until it is dropped, after
        // `db`; `from_handle` borrows the connection and never closes it. Both crates link the
        // same libsqlite3-sys, so the pointer types are one type.
        let db = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr())? };
        // The work is synchronous: the batch is in memory and the database is a local file.
        let out = write(&db, b, cps);
        drop(db);
        out
    }

    async fn forget_checkpoint(&mut self, source: &str) -> Result<()> {
        sqlx::query(FORGET_CHECKPOINT).bind(source).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn rederive(&mut self, scope: &Scope, task: &dyn Task) -> Result<Rederived> {
        let mut handle = self.0.lock_handle().await?;
        // SAFETY: as in `write`.
        let db = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr())? };
        let out = rederive(&db, scope, task);
        drop(db);
        out
    }
}

/// A row's values for a prepared statement, borrowed from the batch where they can be.
struct Params<'a>(Vec<ToSqlOutput<'a>>);

impl<'a> Params<'a> {
    /// Runs `stmt` with the row collected, and empties it for the next; the rows changed.
    fn execute(&mut self, stmt: &mut Statement<'_>) -> rusqlite::Result<usize> {
        let n = stmt.execute(params_from_iter(self.0.iter()));
        self.0.clear();
        n
    }
}

impl<'a> RowSink<'a> for Params<'a> {
    fn int(&mut self, v: i64) {
        self.0.push(ToSqlOutput::Borrowed(ValueRef::Integer(v)));
    }
    fn text(&mut self, v: Option<&'a str>) {
        self.0.push(ToSqlOutput::Borrowed(v.map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes()))));
    }
    fn float(&mut self, v: Option<f64>) {
        self.0.push(ToSqlOutput::Borrowed(v.map_or(ValueRef::Null, ValueRef::Real)));
    }
    fn boolean(&mut self, v: bool) {
        self.int(v.into());
    }
    fn time(&mut self, v: Option<&DateTime<Utc>>) {
        self.0.push(
            v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |t| ToSqlOutput::Owned(SqlValue::Text(canonical_text(t)))),
        );
    }
    fn time_text(&mut self, v: &'a str) {
        self.text(Some(v));
    }
    fn bytes(&mut self, v: &'a [u8]) {
        self.0.push(ToSqlOutput::Borrowed(ValueRef::Blob(v)));
    }
    fn owned_text(&mut self, v: Option<String>) {
        self.0.push(v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |s| ToSqlOutput::Owned(SqlValue::Text(s))));
    }
}

/// Takes the write lock up front (IMMEDIATE), so a concurrent writer makes this wait instead
/// of failing halfway on a lock upgrade. SQLite has one writer at a time: while another
/// process (an ingest of another sensor, a prune) holds the lock, this waits as long as it
/// takes, saying so once and then every busy timeout, and never fails "database is locked".
fn begin_immediate(db: &Connection) -> Result<Transaction<'_>> {
    use super::BUSY_TIMEOUT;
    // The first try does not wait: it tells whether there is anyone to wait for.
    db.busy_timeout(std::time::Duration::ZERO)?;
    for waits in 0u32.. {
        let tried = Transaction::new_unchecked(db, TransactionBehavior::Immediate);
        db.busy_timeout(BUSY_TIMEOUT)?;
        match tried {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => {
                if waits == 0 {
                    tracing::warn!(
                        "another process is writing to this SQLite database: waiting for it (one writer at a time)"
                    );
                } else {
                    tracing::warn!("still waiting for the other writer ({} s)", waits * BUSY_TIMEOUT.as_secs() as u32);
                }
            }
            other => return Ok(other?),
        }
    }
    unreachable!("the loop returns")
}

fn write(db: &Connection, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
    let tx = begin_immediate(db)?;
    let mut new_ids: HashMap<u64, i64> = HashMap::with_capacity(b.events.len());
    {
        let mut row = Params(Vec::with_capacity(SESSION_COLUMNS.len()));
        let mut insert = tx.prepare_cached(&format!(
            "{} ON CONFLICT (ts, content_hash) DO NOTHING",
            insert_sql("raw_events", RAW_COLUMNS)
        ))?;
        for e in &b.events {
            rows::raw_event(&mut row, &b.source, e);
            if row.execute(&mut insert)? == 1 {
                new_ids.insert(e.offset, tx.last_insert_rowid());
            }
        }
    }
    let p = plan(b, &new_ids);
    write_facts(&tx, &p)?;
    let now = canonical_text(&chrono::Utc::now());
    let mut dead =
        tx.prepare_cached(&format!("{} ON CONFLICT DO NOTHING", insert_sql("dead_letters", DEAD_LETTER_COLUMNS)))?;
    for d in &b.dead {
        dead.execute(params![b.source.as_str(), d.offset as i64, d.raw.as_str(), d.reason.as_str(), &d.hash[..], now])?;
    }
    for cp in cps {
        tx.prepare_cached(CHECKPOINT_UPSERT)?.execute(params![
            cp.source_file.as_str(),
            cp.byte_offset as i64,
            cp.head_hash.as_slice(),
            cp.head_len as i64,
            cp.lines_read as i64,
            now
        ])?;
    }
    if !new_ids.is_empty() {
        tx.prepare_cached(DATA_CHANGED)?.execute(params![now])?;
    }
    drop(dead);
    tx.commit()?;
    Ok(BatchOutcome { inserted: new_ids.len() as u64, sessions: p.sessions.into_iter().map(|(k, _)| k).collect() })
}

/// The fact rows, session pieces and tunnel pieces a batch's new events imply.
fn write_facts(tx: &Transaction, p: &Plan) -> Result<()> {
    let mut row = Params(Vec::with_capacity(SESSION_COLUMNS.len()));
    for (facts, table, columns) in fact_tables(p) {
        let mut insert = tx.prepare_cached(&insert_sql(table, columns))?;
        for (id, e) in facts {
            if rows::fact(&mut row, *id, e) {
                row.execute(&mut insert)?;
            }
        }
    }
    {
        let mut session = tx.prepare_cached(&format!(
            "{}{}",
            insert_sql("sessions", &SESSION_COLUMNS.join(", ")),
            session_merge_sql(&MERGE)
        ))?;
        for (key, d) in &p.sessions {
            rows::session(&mut row, key, d);
            row.execute(&mut session)?;
        }
        let mut tunnel = tx.prepare_cached(&format!(
            "{}{}",
            insert_sql("tunnels", &TUNNEL_COLUMNS.join(", ")),
            tunnel_merge_sql(&MERGE)
        ))?;
        for (key, t) in &p.tunnels {
            rows::tunnel(&mut row, key, t);
            row.execute(&mut tunnel)?;
        }
    }
    Ok(())
}

/// See [`FactWriter::rederive`].
fn rederive(db: &Connection, scope: &Scope, task: &dyn Task) -> Result<Rederived> {
    let tx = begin_immediate(db)?;
    match scope {
        Scope::All => {
            for t in DERIVED_TABLES {
                tx.execute(&format!("DELETE FROM {t}"), [])?;
            }
        }
        Scope::Sessions { keys, from, to } => {
            let (from, to) = (canonical_text(from), canonical_text(to));
            for (sensor, id) in keys {
                for q in DELETE_SESSION_FACTS {
                    tx.prepare_cached(q)?.execute(params![from, to, sensor, id])?;
                }
                for q in DELETE_SESSION_ROWS {
                    tx.prepare_cached(q)?.execute(params![sensor, id])?;
                }
            }
        }
    }
    let mut rebuild = Rebuild::default();
    let mut last = 0i64;
    loop {
        let rows: Vec<(i64, String, String)> = match scope {
            Scope::All => tx
                .prepare_cached(NEXT_ALL)?
                .query_map(params![last, CHUNK], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?,
            Scope::Sessions { from, to, .. } => tx
                .prepare_cached(NEXT_IN_RANGE)?
                .query_map(params![canonical_text(from), canonical_text(to), last, CHUNK], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?,
        };
        let Some(&(end, _, _)) = rows.last() else { break };
        last = end;
        let n = rows.len() as u64;
        let (b, ids) = rebuild.batch(rows, scope);
        write_facts(&tx, &plan(&b, &ids))?;
        task.advance(n);
    }
    tx.prepare_cached(DATA_CHANGED)?.execute(params![canonical_text(&chrono::Utc::now())])?;
    tx.commit()?;
    Ok(rebuild.done)
}

/// `INSERT INTO table (columns) VALUES (?1, …)`, one placeholder per column.
fn insert_sql(table: &str, columns: &str) -> String {
    let n = columns.split(',').count();
    let placeholders: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO {table} ({columns}) VALUES ({})", placeholders.join(", "))
}
