//! Writing batches to PostgreSQL: events COPYed straight into raw_events (through a staging
//! table and `INSERT … ON CONFLICT DO NOTHING` when the batch holds stored lines), fact rows
//! COPYed (new by construction), session pieces COPYed into staging and merged.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use anyhow::Result;
use chrono::Utc;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Postgres, QueryBuilder, Row};

use sqlx::pool::PoolConnection;

use super::copy::{copy, CopyRows};
use crate::progress::Task;
use crate::store::engine::{FactWriter, DERIVED_TABLES, FORGET_CHECKPOINT};
use crate::store::ingest::batch::{
    fact_tables, plan, session_merge_sql, tunnel_merge_sql, Batch, Checkpoint, MergeSql, Plan, CHECKPOINT_UPSERT,
    DATA_CHANGED, DEAD_LETTER_COLUMNS, RAW_COLUMNS, SESSION_COLUMNS, TUNNEL_COLUMNS,
};
use crate::store::ingest::rederive::{
    Rebuild, Rederived, Scope, CHUNK, DELETE_SESSION_FACTS, DELETE_SESSION_ROWS, NEXT_ALL, NEXT_IN_RANGE,
};
use crate::store::ingest::rows;
use crate::store::ingest::BatchOutcome;

/// PostgreSQL allows 65,535 bound parameters per statement.
const MAX_PARAMS: usize = 60_000;

/// Made (when missing) at the start of every transaction that stages rows, not once per
/// connection: through a transaction-pooling PgBouncer, each transaction may run on another
/// server session. Emptied at every commit.
pub const STAGE_DDL: &str = "CREATE TEMP TABLE IF NOT EXISTS stage_raw (
    session_id text, event_type text, ts timestamptz, src_ip text, sensor text,
    payload jsonb, source_file text, source_offset bigint, content_hash bytea
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_sessions (LIKE sessions) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_tunnels (LIKE tunnels) ON COMMIT DELETE ROWS";

/// PostgreSQL's spelling of the upserts' merges.
const MERGE: MergeSql = MergeSql {
    least: "LEAST",
    greatest: "GREATEST",
    json_merge: |a, b| format!("{a} || {b}"),
    bytewise: " COLLATE \"C\"",
};

/// Merges the staged session pieces into `sessions`. In key order, so that two writer
/// connections lock session rows in the same order and cannot deadlock on them.
static SESSION_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let cols = SESSION_COLUMNS.join(", ");
    format!(
        "INSERT INTO sessions ({cols}) SELECT {cols} FROM stage_sessions ORDER BY sensor, session_id{}",
        session_merge_sql(&MERGE)
    )
});

/// Merges the staged tunnel pieces into `tunnels`, in key order (as sessions).
static TUNNEL_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let cols = TUNNEL_COLUMNS.join(", ");
    format!(
        "INSERT INTO tunnels ({cols}) SELECT {cols} FROM stage_tunnels ORDER BY sensor, session_id, dst_ip, dst_port{}",
        tunnel_merge_sql(&MERGE)
    )
});

/// A writer connection, with the name of raw_events' id sequence (looked up once: as a
/// function of every row, `pg_get_serial_sequence` cost 5% of ingest time).
pub struct Lane(PoolConnection<sqlx::Postgres>, String, HashSet<(i32, u32)>);

impl Lane {
    /// A connection of `pool`.
    pub async fn open(pool: &sqlx::PgPool) -> Result<Self> {
        let mut conn = pool.acquire().await?;
        let seq: Option<String> = sqlx::raw_sql("SELECT pg_get_serial_sequence('raw_events', 'id')")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        let seq = seq.ok_or_else(|| anyhow::anyhow!("raw_events.id has no sequence"))?;
        Ok(Lane(conn, seq, HashSet::new()))
    }
}

impl FactWriter for Lane {
    /// Two lanes can wait on each other's rows (the same line in both, or the same
    /// session); the server then cancels one transaction, which is rolled back and written
    /// again.
    async fn write(&mut self, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
        super::partitions::ensure_months(&mut self.0, &mut self.2, b.events.iter().map(|e| e.ts)).await?;
        let mut attempt = 1;
        loop {
            match write_batch(&mut self.0, &self.1, b, cps).await {
                Err(e) if attempt < 5 && is_retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn forget_checkpoint(&mut self, source: &str) -> Result<()> {
        let mut tx = self.0.begin().await?;
        sqlx::query(FORGET_CHECKPOINT).persistent(false).bind(source).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rederive(&mut self, scope: &Scope, task: &dyn Task) -> Result<Rederived> {
        rederive(&mut self.0, scope, task).await
    }
}

fn raw_rows(b: &Batch, ids: Option<&[i64]>) -> Vec<u8> {
    let mut out = CopyRows::with_capacity(b.events.iter().map(|e| e.payload.len() + 180).sum());
    for (i, e) in b.events.iter().enumerate() {
        if let Some(ids) = ids {
            rows::RowSink::int(&mut out, ids[i]);
        }
        rows::raw_event(&mut out, &b.source, e);
        out.end();
    }
    out.into_bytes()
}

/// Inserts the batch's events, skipping any already stored; returns the new events' ids
/// by source offset.
///
/// First try: COPY straight into raw_events with ids drawn from its sequence beforehand.
/// COPY inserts rows in bulk; `INSERT … ON CONFLICT` inserts them one at a time and took
/// two thirds of ingest time (server statement log). A batch holding any stored line fails
/// that COPY on the unique index and is rolled back to the savepoint, then goes through a
/// staging table and `INSERT … ON CONFLICT DO NOTHING`, which skips exactly the stored lines.
async fn insert_events(tx: &mut PgConnection, b: &Batch, id_seq: &str) -> Result<HashMap<u64, i64>> {
    let mut new_ids: HashMap<u64, i64> = HashMap::with_capacity(b.events.len());
    if b.events.is_empty() {
        return Ok(new_ids);
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT nextval($1::regclass) FROM generate_series(1, $2)")
        .persistent(false)
        .bind(id_seq)
        .bind(b.events.len() as i64)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::raw_sql("SAVEPOINT fresh_lines").execute(&mut *tx).await?;
    let fast =
        copy(&mut *tx, &format!("COPY raw_events (id, {RAW_COLUMNS}) FROM STDIN"), raw_rows(b, Some(&ids))).await;
    match fast {
        Ok(()) => {
            sqlx::raw_sql("RELEASE SAVEPOINT fresh_lines").execute(&mut *tx).await?;
            new_ids.extend(b.events.iter().zip(ids).map(|(e, id)| (e.offset, id)));
            return Ok(new_ids);
        }
        Err(e) if is_unique_violation(&e) => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT fresh_lines").execute(&mut *tx).await?;
        }
        Err(e) => return Err(e),
    }
    copy(&mut *tx, &format!("COPY stage_raw ({RAW_COLUMNS}) FROM STDIN"), raw_rows(b, None)).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO raw_events ({RAW_COLUMNS}) SELECT {RAW_COLUMNS} FROM stage_raw ORDER BY source_offset \
         ON CONFLICT (ts, content_hash) DO NOTHING RETURNING id, source_offset"
    )))
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    for r in rows {
        new_ids.insert(r.get::<i64, _>(1) as u64, r.get(0));
    }
    Ok(new_ids)
}

fn sqlstate(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<sqlx::Error>().and_then(|e| e.as_database_error()).and_then(|d| d.code()).map(|c| c.into_owned())
}

fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.downcast_ref::<sqlx::Error>().and_then(|e| e.as_database_error()).is_some_and(|d| d.is_unique_violation())
}

/// A deadlock or serialization failure: the transaction was rolled back and may be retried.
fn is_retryable(e: &anyhow::Error) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40P01" | "40001"))
}

/// Writes `b` and the checkpoints `cps` in one transaction.
async fn write_batch(conn: &mut PgConnection, id_seq: &str, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(STAGE_DDL).execute(&mut *tx).await?;
    let new_ids = insert_events(&mut tx, b, id_seq).await?;
    let p = plan(b, &new_ids);
    write_facts(&mut tx, &p).await?;
    let now = Utc::now();
    for chunk in b.dead.chunks(MAX_PARAMS / 6) {
        let mut qb = QueryBuilder::<Postgres>::new(format!("INSERT INTO dead_letters ({DEAD_LETTER_COLUMNS}) "));
        qb.push_values(chunk, |mut row, d| {
            row.push_bind(b.source.as_str())
                .push_bind(d.offset as i64)
                .push_bind(d.raw.as_str())
                .push_bind(d.reason.as_str())
                .push_bind(&d.hash[..])
                .push_bind(now);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().persistent(false).execute(&mut *tx).await?;
    }
    for cp in cps {
        sqlx::query(CHECKPOINT_UPSERT)
            .persistent(false)
            .bind(cp.source_file.as_str())
            .bind(cp.byte_offset as i64)
            .bind(cp.head_hash.as_slice())
            .bind(cp.head_len as i64)
            .bind(cp.lines_read as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    if !new_ids.is_empty() {
        // Last, just before commit: the one row is locked only briefly by either lane.
        sqlx::query(DATA_CHANGED).persistent(false).bind(now).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(BatchOutcome { inserted: new_ids.len() as u64, sessions: p.sessions.into_iter().map(|(k, _)| k).collect() })
}

/// The fact rows, session pieces and tunnel pieces a batch's new events imply.
async fn write_facts(tx: &mut PgConnection, p: &Plan<'_>) -> Result<()> {
    for (facts, table, columns) in fact_tables(p) {
        let mut out = CopyRows::default();
        for (id, e) in facts {
            if rows::fact(&mut out, *id, e) {
                out.end();
            }
        }
        copy(&mut *tx, &format!("COPY {table} ({columns}) FROM STDIN"), out.into_bytes()).await?;
    }
    // Session pieces go through COPY too: as one multi-row INSERT of 21 bound columns,
    // parsing and binding the statement cost the server more than running it (statement log).
    let mut out = CopyRows::default();
    for (key, d) in &p.sessions {
        rows::session(&mut out, key, d);
        out.end();
    }
    let buf = out.into_bytes();
    if !buf.is_empty() {
        copy(&mut *tx, &format!("COPY stage_sessions ({}) FROM STDIN", SESSION_COLUMNS.join(", ")), buf).await?;
        sqlx::query(AssertSqlSafe(SESSION_UPSERT.as_str())).persistent(false).execute(&mut *tx).await?;
    }
    let mut out = CopyRows::default();
    for (key, t) in &p.tunnels {
        rows::tunnel(&mut out, key, t);
        out.end();
    }
    let buf = out.into_bytes();
    if !buf.is_empty() {
        copy(&mut *tx, &format!("COPY stage_tunnels ({}) FROM STDIN", TUNNEL_COLUMNS.join(", ")), buf).await?;
        sqlx::query(AssertSqlSafe(TUNNEL_UPSERT.as_str())).persistent(false).execute(&mut *tx).await?;
    }
    Ok(())
}

/// See [`FactWriter::rederive`]. Sessions and tunnels are written piece by piece through
/// the same upserts as an ingest, so the result is what one ingest of the events gives.
async fn rederive(conn: &mut PgConnection, scope: &Scope, task: &dyn Task) -> Result<Rederived> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(STAGE_DDL).execute(&mut *tx).await?;
    match scope {
        Scope::All => {
            for t in DERIVED_TABLES {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {t}"))).persistent(false).execute(&mut *tx).await?;
            }
        }
        Scope::Sessions { keys, from, to } => {
            for (sensor, id) in keys {
                for q in DELETE_SESSION_FACTS {
                    sqlx::query(q)
                        .persistent(false)
                        .bind(from)
                        .bind(to)
                        .bind(sensor)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                for q in DELETE_SESSION_ROWS {
                    sqlx::query(q).persistent(false).bind(sensor).bind(id).execute(&mut *tx).await?;
                }
            }
        }
    }
    let mut rebuild = Rebuild::default();
    let mut last = 0i64;
    loop {
        // The payload as text: the rules parse the line.
        let next = |q: &str| q.replacen("payload FROM", "payload::text FROM", 1);
        let rows: Vec<(i64, String, String)> = match scope {
            Scope::All => {
                sqlx::query_as(AssertSqlSafe(next(NEXT_ALL)))
                    .persistent(false)
                    .bind(last)
                    .bind(CHUNK)
                    .fetch_all(&mut *tx)
                    .await?
            }
            Scope::Sessions { from, to, .. } => {
                sqlx::query_as(AssertSqlSafe(next(NEXT_IN_RANGE)))
                    .persistent(false)
                    .bind(from)
                    .bind(to)
                    .bind(last)
                    .bind(CHUNK)
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let Some(&(end, _, _)) = rows.last() else { break };
        last = end;
        let n = rows.len() as u64;
        let (b, ids) = rebuild.batch(rows, scope);
        write_facts(&mut tx, &plan(&b, &ids)).await?;
        // The staged pieces are merged: gone before the next chunk's, or that chunk's upsert
        // would meet them again (staging empties itself only at commit).
        sqlx::raw_sql("DELETE FROM stage_sessions; DELETE FROM stage_tunnels").execute(&mut *tx).await?;
        task.advance(n);
    }
    sqlx::query(DATA_CHANGED).persistent(false).bind(Utc::now()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rebuild.done)
}
