//! Writing batches to SQLite: multi-row INSERTs in one transaction per batch.

use std::collections::HashMap;

use anyhow::Result;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Row, Sqlite};

use super::batch::{plan, session_merge_sql, Batch, SESSION_COLUMNS};
use super::event::Fact;
use super::BatchOutcome;
use crate::store::timefmt::to_sqlite_text;

/// SQLite allows 32,766 bound variables per statement; stay well under it.
/// Only full-size statements are kept prepared: every other row count would be one more
/// multi-megabyte statement in the connection's cache.
const MAX_VARS: usize = 30_000;

fn rows_per_stmt(cols: usize) -> usize {
    (MAX_VARS / cols).min(2000)
}

pub async fn write_batch(conn: &mut SqliteConnection, b: &Batch) -> Result<BatchOutcome> {
    let mut tx = conn.begin().await?;
    let mut new_ids: HashMap<u64, i64> = HashMap::with_capacity(b.events.len());
    for chunk in b.events.chunks(rows_per_stmt(9)) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO raw_events (session_id, event_type, ts, src_ip, sensor, payload, source_file, source_offset, content_hash) ",
        );
        qb.push_values(chunk, |mut row, e| {
            row.push_bind(e.session_id.as_deref())
                .push_bind(e.event_type.as_str())
                .push_bind(to_sqlite_text(&e.ts))
                .push_bind(e.src_ip.as_deref())
                .push_bind(e.sensor.as_str())
                .push_bind(e.payload.as_str())
                .push_bind(b.source.as_str())
                .push_bind(e.offset as i64)
                .push_bind(&e.hash[..]);
        });
        qb.push(" ON CONFLICT (ts, content_hash) DO NOTHING");
        let res = qb.build().persistent(chunk.len() == rows_per_stmt(9)).execute(&mut *tx).await?;
        // Rows inserted by one statement get consecutive rowids in VALUES order (one writer,
        // max(rowid)+1 each): with no duplicate the ids are known without asking.
        let (n, last) = (res.rows_affected() as i64, res.last_insert_rowid());
        if n == chunk.len() as i64 {
            for (i, e) in chunk.iter().enumerate() {
                new_ids.insert(e.offset, last - n + 1 + i as i64);
            }
        } else if n > 0 {
            let rows = sqlx::query("SELECT id, source_offset FROM raw_events WHERE id BETWEEN ?1 AND ?2")
                .bind(last - n + 1)
                .bind(last)
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                new_ids.insert(r.get::<i64, _>(1) as u64, r.get(0));
            }
        }
    }
    let p = plan(b, &new_ids);

    for chunk in p.logins.chunks(rows_per_stmt(8)) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO logins (event_id, session_id, ts, sensor, src_ip, username, password, success) ",
        );
        qb.push_values(chunk, |mut row, (id, e)| {
            let Some(Fact::Login { username, password, success }) = &e.fact else { unreachable!() };
            row.push_bind(*id)
                .push_bind(e.session_id.as_deref())
                .push_bind(to_sqlite_text(&e.ts))
                .push_bind(e.sensor.as_str())
                .push_bind(e.src_ip.as_deref())
                .push_bind(username.as_deref())
                .push_bind(password.as_deref())
                .push_bind(*success);
        });
        qb.build().persistent(chunk.len() == rows_per_stmt(8)).execute(&mut *tx).await?;
    }
    for chunk in p.commands.chunks(rows_per_stmt(7)) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO commands (event_id, session_id, ts, sensor, src_ip, input, failed) ",
        );
        qb.push_values(chunk, |mut row, (id, e)| {
            let Some(Fact::Command { input, failed }) = &e.fact else { unreachable!() };
            row.push_bind(*id)
                .push_bind(e.session_id.as_deref())
                .push_bind(to_sqlite_text(&e.ts))
                .push_bind(e.sensor.as_str())
                .push_bind(e.src_ip.as_deref())
                .push_bind(input.as_str())
                .push_bind(*failed);
        });
        qb.build().persistent(chunk.len() == rows_per_stmt(7)).execute(&mut *tx).await?;
    }
    for chunk in p.transfers.chunks(rows_per_stmt(9)) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO downloads (event_id, session_id, ts, sensor, src_ip, url, shasum, outfile, direction) ",
        );
        qb.push_values(chunk, |mut row, (id, e)| {
            let Some(Fact::Transfer { url, shasum, outfile, direction }) = &e.fact else { unreachable!() };
            row.push_bind(*id)
                .push_bind(e.session_id.as_deref())
                .push_bind(to_sqlite_text(&e.ts))
                .push_bind(e.sensor.as_str())
                .push_bind(e.src_ip.as_deref())
                .push_bind(url.as_deref())
                .push_bind(shasum.as_deref())
                .push_bind(outfile.as_deref())
                .push_bind(direction.as_str());
        });
        qb.build().persistent(chunk.len() == rows_per_stmt(9)).execute(&mut *tx).await?;
    }
    let merge = session_merge_sql("MIN", "MAX");
    for chunk in p.sessions.chunks(rows_per_stmt(SESSION_COLUMNS.len())) {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("INSERT INTO sessions ({}) ", SESSION_COLUMNS.join(", ")));
        qb.push_values(chunk, |mut row, ((sensor, sid), d)| {
            row.push_bind(sensor.as_str())
                .push_bind(sid.as_str())
                .push_bind(d.src_ip.as_deref())
                .push_bind(d.protocol.as_deref())
                .push_bind(d.first_event_at.as_ref().map(to_sqlite_text))
                .push_bind(d.last_event_at.as_ref().map(to_sqlite_text))
                .push_bind(d.duration_s)
                .push_bind(d.event_count)
                .push_bind(d.command_count)
                .push_bind(d.failed_command_count)
                .push_bind(d.login_attempts)
                .push_bind(d.login_failures)
                .push_bind(d.login_success)
                .push_bind(d.username.as_deref())
                .push_bind(d.download_count)
                .push_bind(d.upload_count)
                .push_bind(d.client_version.as_deref())
                .push_bind(d.hassh.as_deref())
                .push_bind(d.closed)
                .push_bind(d.vt_flagged)
                .push_bind(d.dshield_flagged);
        });
        qb.push(merge.as_str());
        qb.build().persistent(false).execute(&mut *tx).await?;
    }
    let now = to_sqlite_text(&chrono::Utc::now());
    for chunk in b.dead.chunks(rows_per_stmt(6)) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO dead_letters (source_file, source_offset, raw, reason, content_hash, created_at) ",
        );
        qb.push_values(chunk, |mut row, d| {
            row.push_bind(b.source.as_str())
                .push_bind(d.offset as i64)
                .push_bind(d.raw.as_str())
                .push_bind(d.reason.as_str())
                .push_bind(&d.hash[..])
                .push_bind(now.as_str());
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().persistent(false).execute(&mut *tx).await?;
    }
    if let Some(cp) = &b.checkpoint {
        sqlx::query(
            "INSERT INTO ingest_checkpoints (source_file, byte_offset, head_hash, head_len, lines_read, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source_file) DO UPDATE SET byte_offset = excluded.byte_offset, \
             head_hash = excluded.head_hash, head_len = excluded.head_len, lines_read = excluded.lines_read, updated_at = excluded.updated_at",
        )
        .bind(cp.source_file.as_str())
        .bind(cp.byte_offset as i64)
        .bind(cp.head_hash.as_slice())
        .bind(cp.head_len as i64)
        .bind(cp.lines_read as i64)
        .bind(now.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(BatchOutcome { inserted: new_ids.len() as u64, sessions: p.sessions.into_iter().map(|(k, _)| k).collect() })
}
