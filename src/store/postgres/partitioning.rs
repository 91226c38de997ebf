//! Moving the rows of a database that migration 9 partitioned: each old table
//! (`<table>_unpartitioned`) is copied into its partitioned table in chunks of ids, each chunk
//! one transaction with its progress row in `cowrieql_partitioning`, so a kill loses at most
//! the chunk in flight and a rerun goes on from there. A table is checked (row count and an
//! order-independent checksum of every row, taken before its first chunk and again after its
//! last) before its old table is dropped. Every command that migrates runs this; reports refuse
//! to read until it is done.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, PgPool};

use super::partitions::{ensure_span, PARTITIONED};
use crate::progress::{Reporter, Unit};
use crate::store::errors::StoreError;

/// Rows copied per transaction.
pub const CHUNK: i64 = 50_000;

/// One advisory lock for the copy ("cowrieql" + 2): two commands migrating at once, one copies.
const LOCK: i64 = 0x636f_7772_6965_716e;

/// A table whose rows this call finished moving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub table: &'static str,
    pub rows: u64,
}

/// A row while there are rows to move (`Engine::UNMOVED_ROWS`).
pub const UNMOVED: &str = "SELECT 1 WHERE to_regclass('cowrieql_partitioning') IS NOT NULL";

/// One round trip (simple protocol, no transaction needed).
async fn bookkeeping_exists(pool: &PgPool) -> Result<bool> {
    Ok(sqlx::raw_sql(UNMOVED).fetch_optional(pool).await?.is_some())
}

/// Why reports may not read yet: the rows are still being moved.
pub async fn refusal(pool: &PgPool) -> Result<Option<StoreError>> {
    Ok(bookkeeping_exists(pool).await?.then_some(StoreError::UnfinishedPartitioning))
}

/// The row count and checksum of every row of `table` (the row's text, hashed and summed).
async fn figures(conn: &mut PgConnection, table: &str) -> Result<(i64, String)> {
    // Names come from the constant list of partitioned tables.
    let sql = format!("SELECT count(*), COALESCE(sum(hashtextextended(x::text, 0)::numeric), 0)::text FROM {table} x");
    let mut tx = conn.begin().await?;
    let f = sqlx::query_as(AssertSqlSafe(sql)).persistent(false).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(f)
}

/// Moves what is left of every table's rows; returns the tables finished here (none when
/// there was nothing to move, or another command moved it meanwhile).
pub async fn finish(pool: &PgPool, progress: &Reporter) -> Result<Vec<Moved>> {
    finish_with(pool, progress, CHUNK).await
}

/// [`finish`] in chunks of `chunk` rows.
pub async fn finish_with(pool: &PgPool, progress: &Reporter, chunk: i64) -> Result<Vec<Moved>> {
    if !bookkeeping_exists(pool).await? {
        return Ok(Vec::new());
    }
    // Held in a transaction of its own connection (a pooler-safe lock), released when the
    // connection closes, also when this process dies.
    let mut lock = pool.acquire().await?.detach();
    sqlx::raw_sql("BEGIN").execute(&mut lock).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").persistent(false).bind(LOCK).execute(&mut lock).await?;
    let out = finish_locked(pool, progress, chunk.max(1)).await;
    lock.close().await?;
    out
}

async fn finish_locked(pool: &PgPool, progress: &Reporter, chunk: i64) -> Result<Vec<Moved>> {
    let mut done = Vec::new();
    if !bookkeeping_exists(pool).await? {
        return Ok(done);
    }
    let mut conn = pool.acquire().await?;
    for table in PARTITIONED {
        let state: Option<(i64, i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT last_id, rows_copied, rows_before, checksum_before::text FROM cowrieql_partitioning \
             WHERE table_name = $1",
        )
        .persistent(false)
        .bind(table)
        .fetch_optional(&mut *conn.begin().await?)
        .await?;
        let Some((mut last_id, copied, before, sum)) = state else { continue };
        let old = format!("{table}_unpartitioned");
        // The figures before the first chunk, once: a resumed copy compares with them too.
        let (rows_before, sum_before) = match (before, sum) {
            (Some(n), Some(sum)) => (n, sum),
            _ => {
                let (n, sum) = figures(&mut conn, &old).await?;
                let mut tx = conn.begin().await?;
                sqlx::query("UPDATE cowrieql_partitioning SET rows_before = $2, checksum_before = $3::numeric WHERE table_name = $1")
                    .persistent(false)
                    .bind(table)
                    .bind(n)
                    .bind(&sum)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                (n, sum)
            }
        };
        let span: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT min(ts), max(ts) FROM {old}")))
                .persistent(false)
                .fetch_one(&mut *conn.begin().await?)
                .await?;
        if let (Some(lo), Some(hi)) = span {
            ensure_span(&mut conn, lo, hi).await?;
        }
        let task = progress.0.start(table, Unit::Rows, rows_before.max(0) as u64, copied.max(0) as u64);
        let step = format!(
            "WITH moved AS (INSERT INTO {table} SELECT * FROM {old} WHERE id > $1 ORDER BY id LIMIT $2 RETURNING id) \
             SELECT max(id), count(*) FROM moved"
        );
        loop {
            let mut tx = conn.begin().await?;
            let (upto, n): (Option<i64>, i64) = sqlx::query_as(AssertSqlSafe(step.clone()))
                .persistent(false)
                .bind(last_id)
                .bind(chunk)
                .fetch_one(&mut *tx)
                .await?;
            let Some(upto) = upto else { break };
            sqlx::query(
                "UPDATE cowrieql_partitioning SET last_id = $2, rows_copied = rows_copied + $3 WHERE table_name = $1",
            )
            .persistent(false)
            .bind(table)
            .bind(upto)
            .bind(n)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            last_id = upto;
            task.advance(n as u64);
        }
        task.finish();
        let (rows_after, sum_after) = figures(&mut conn, table).await?;
        if rows_after != rows_before || sum_after != sum_before {
            bail!(
                "moving {table} into monthly partitions: {rows_before} rows (checksum {sum_before}) became \
                 {rows_after} rows (checksum {sum_after}); {old} is kept, nothing was dropped"
            );
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {old}"))).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM cowrieql_partitioning WHERE table_name = $1")
            .persistent(false)
            .bind(table)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done.push(Moved { table, rows: rows_after as u64 });
    }
    let mut tx = conn.begin().await?;
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cowrieql_partitioning").persistent(false).fetch_one(&mut *tx).await?;
    if left == 0 {
        sqlx::raw_sql("DROP TABLE cowrieql_partitioning").execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(done)
}
