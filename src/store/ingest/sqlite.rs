//! Writing batches to SQLite: one transaction per batch, prepared single-row statements
//! through rusqlite on the store's own connection.
//!
//! sqlx hands every bound value to its worker thread as an owned copy and builds a
//! multi-row statement per chunk; perf showed its worker thread as the ingest bottleneck,
//! most of it copying and allocating. rusqlite binds borrowed values straight into a
//! statement prepared once per batch.

use std::collections::HashMap;

use anyhow::Result;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use sqlx::sqlite::SqliteConnection;

use super::batch::{
    plan, session_merge_sql, Batch, Checkpoint, CHECKPOINT_UPSERT, COMMAND_COLUMNS, DATA_CHANGED, DEAD_LETTER_COLUMNS,
    LOGIN_COLUMNS, RAW_COLUMNS, SESSION_COLUMNS, TRANSFER_COLUMNS,
};
use super::event::Fact;
use super::BatchOutcome;
use crate::time::canonical_text;

/// Writes `b` and the checkpoints `cps` in one transaction.
pub async fn write_batch(conn: &mut SqliteConnection, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: `handle` keeps sqlx away from this connection until it is dropped, after
    // `db`; `from_handle` borrows the connection and never closes it. Both crates link the
    // same libsqlite3-sys, so the pointer types are one type.
    let db = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr())? };
    // The work is synchronous: the batch is in memory and the database is a local file.
    let out = write(&db, b, cps);
    drop(db);
    out
}

fn write(db: &Connection, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
    // IMMEDIATE: take the write lock up front, so a concurrent writer makes this wait (busy
    // timeout) instead of failing halfway on a lock upgrade.
    let tx = Transaction::new_unchecked(db, TransactionBehavior::Immediate)?;
    let mut new_ids: HashMap<u64, i64> = HashMap::with_capacity(b.events.len());
    {
        let mut insert = tx.prepare_cached(&format!(
            "{} ON CONFLICT (ts, content_hash) DO NOTHING",
            insert_sql("raw_events", RAW_COLUMNS)
        ))?;
        for e in &b.events {
            let n = insert.execute(params![
                e.session_id.as_deref(),
                e.event_type.as_str(),
                e.ts_text.as_str(),
                e.src_ip.as_deref(),
                e.sensor.as_str(),
                e.payload.as_str(),
                b.source.as_str(),
                e.offset as i64,
                &e.hash[..],
            ])?;
            if n == 1 {
                new_ids.insert(e.offset, tx.last_insert_rowid());
            }
        }
    }
    let p = plan(b, &new_ids);

    let mut login = tx.prepare_cached(&insert_sql("logins", LOGIN_COLUMNS))?;
    for (id, e) in &p.logins {
        let Some(Fact::Login { username, password, success }) = &e.fact else { continue };
        login.execute(params![
            id,
            e.session_id.as_deref(),
            e.ts_text.as_str(),
            e.sensor.as_str(),
            e.src_ip.as_deref(),
            username.as_deref(),
            password.as_deref(),
            success,
        ])?;
    }
    let mut command = tx.prepare_cached(&insert_sql("commands", COMMAND_COLUMNS))?;
    for (id, e) in &p.commands {
        let Some(Fact::Command { input, failed }) = &e.fact else { continue };
        command.execute(params![
            id,
            e.session_id.as_deref(),
            e.ts_text.as_str(),
            e.sensor.as_str(),
            e.src_ip.as_deref(),
            input.as_str(),
            failed,
        ])?;
    }
    let mut transfer = tx.prepare_cached(&insert_sql("downloads", TRANSFER_COLUMNS))?;
    for (id, e) in &p.transfers {
        let Some(Fact::Transfer { url, shasum, outfile, direction }) = &e.fact else { continue };
        transfer.execute(params![
            id,
            e.session_id.as_deref(),
            e.ts_text.as_str(),
            e.sensor.as_str(),
            e.src_ip.as_deref(),
            url.as_deref(),
            shasum.as_deref(),
            outfile.as_deref(),
            direction.as_str(),
        ])?;
    }
    let mut session = tx.prepare_cached(&format!(
        "{}{}",
        insert_sql("sessions", &SESSION_COLUMNS.join(", ")),
        session_merge_sql("MIN", "MAX")
    ))?;
    for ((sensor, sid), d) in &p.sessions {
        session.execute(params![
            sensor.as_str(),
            sid.as_str(),
            d.src_ip.as_deref(),
            d.protocol.as_deref(),
            d.first_event_at.as_ref().map(canonical_text),
            d.last_event_at.as_ref().map(canonical_text),
            d.duration_s,
            d.event_count,
            d.command_count,
            d.failed_command_count,
            d.login_attempts,
            d.login_failures,
            d.login_success,
            d.username.as_deref(),
            d.download_count,
            d.upload_count,
            d.client_version.as_deref(),
            d.hassh.as_deref(),
            d.closed,
            d.vt_flagged,
            d.dshield_flagged,
        ])?;
    }
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
    drop((login, command, transfer, session, dead));
    tx.commit()?;
    Ok(BatchOutcome { inserted: new_ids.len() as u64, sessions: p.sessions.into_iter().map(|(k, _)| k).collect() })
}

/// `INSERT INTO table (columns) VALUES (?1, …)`, one placeholder per column.
fn insert_sql(table: &str, columns: &str) -> String {
    let n = columns.split(',').count();
    let placeholders: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO {table} ({columns}) VALUES ({})", placeholders.join(", "))
}
