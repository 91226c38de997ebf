//! The monthly partitions of raw_events and the fact tables (migration 9): listing them,
//! dropping whole months for retention, and going back to the months a new database has.
//! Partitions are made by `cowrieql_ensure_month` (the migration's SQL function), called by
//! the ingest lanes and the SQLite→PostgreSQL transfer before they write a month.

use std::collections::HashSet;

use anyhow::Result;
use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, PgPool};

use crate::in_tx;
use crate::sql::quote_ident;

/// The partitioned tables, parents of the monthly partitions.
pub const PARTITIONED: [&str; 5] = ["raw_events", "logins", "commands", "downloads", "probes"];

/// A month's partition of a partitioned table: `raw_events_2025_09`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthPartition {
    pub parent: String,
    pub name: String,
    /// The first instant of the month.
    pub month: DateTime<Utc>,
}

impl MonthPartition {
    pub fn end(&self) -> DateTime<Utc> {
        self.month + Months::new(1)
    }
}

/// Makes the partitions of the month starting at `first` and of the next (`cowrieql_ensure_month`
/// decides which months get their own; the others go to `_other`).
async fn ensure_month(conn: &mut PgConnection, first: DateTime<Utc>) -> Result<()> {
    in_tx!(conn, c => sqlx::query("SELECT cowrieql_ensure_month($1)").persistent(false).bind(first).execute(c).await?);
    Ok(())
}

fn first_of(y: i32, m: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()
}

/// Makes sure the monthly partitions the times fall in exist, before a batch's transaction:
/// partition DDL waits for the writers of the parent table, so inside a batch it could wait
/// on another lane's batch. `known` remembers the months this connection has seen.
pub async fn ensure_months(
    conn: &mut PgConnection,
    known: &mut HashSet<(i32, u32)>,
    times: impl Iterator<Item = DateTime<Utc>>,
) -> Result<()> {
    let mut wanted: Vec<(i32, u32)> = times.map(|t| (t.year(), t.month())).filter(|m| !known.contains(m)).collect();
    wanted.sort_unstable();
    wanted.dedup();
    for (y, m) in wanted {
        if let Some(first) = first_of(y, m) {
            ensure_month(conn, first).await?;
        }
        known.insert((y, m));
    }
    Ok(())
}

/// Makes every month's partitions from `lo` to `hi` (a copy's whole span), walking only the
/// months that can get partitions of their own (2000 to two years ahead, as the function).
pub async fn ensure_span(conn: &mut PgConnection, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Result<()> {
    let floor = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let (lo, hi) = (lo.max(floor), hi.min(Utc::now() + Months::new(25)));
    let mut m = first_of(lo.year(), lo.month());
    while let Some(first) = m.filter(|f| *f <= hi) {
        ensure_month(conn, first).await?;
        m = Some(first + Months::new(1));
    }
    Ok(())
}

/// Every month partition (not the `_other` ones), oldest first.
pub async fn months(pool: &PgPool) -> Result<Vec<MonthPartition>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.relname::text, c.relname::text FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
         WHERE p.relnamespace = to_regnamespace(current_schema()) AND p.relname = ANY($1) \
         ORDER BY c.relname",
    )
    .persistent(false)
    .bind(&PARTITIONED[..])
    .fetch_all(&mut *pool.begin().await?)
    .await?;
    let mut out: Vec<MonthPartition> = rows
        .into_iter()
        .filter_map(|(parent, name)| {
            let suffix = name.strip_prefix(&parent)?.strip_prefix('_')?;
            let (y, m) = suffix.split_once('_')?;
            let month = Utc.with_ymd_and_hms(y.parse().ok()?, m.parse().ok()?, 1, 0, 0, 0).single()?;
            Some(MonthPartition { parent, name, month })
        })
        .collect();
    out.sort_by(|a, b| (a.month, &a.parent).cmp(&(b.month, &b.parent)));
    Ok(out)
}

/// Drops every month partition that ends at or before `before`.
pub async fn drop_months_before(pool: &PgPool, before: DateTime<Utc>) -> Result<()> {
    for p in months(pool).await?.into_iter().filter(|p| p.end() <= before) {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {}", quote_ident(&p.name)))).execute(pool).await?;
    }
    Ok(())
}

/// Drops every month partition of the (emptied) tables and makes this month's and the next
/// again: the layout of a newly migrated database.
pub async fn reset(pool: &PgPool) -> Result<()> {
    for p in months(pool).await? {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {}", quote_ident(&p.name)))).execute(pool).await?;
    }
    ensure_month(&mut *pool.acquire().await?, Utc::now()).await
}

/// Names each month partition's indexes after the parent's index and the month
/// (`raw_events_payload_hassh_2025_09`), as `cowrieql_ensure_month` does: an index built on
/// the partitioned table (after a bulk copy) gives its partitions generated names.
pub async fn name_indexes(pool: &PgPool) -> Result<()> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT ci.relname::text, pi.relname::text, ct.relname::text FROM pg_inherits i \
         JOIN pg_class ci ON ci.oid = i.inhrelid JOIN pg_class pi ON pi.oid = i.inhparent \
         JOIN pg_index x ON x.indexrelid = ci.oid JOIN pg_class ct ON ct.oid = x.indrelid \
         WHERE pi.relkind = 'I' AND NOT x.indisprimary AND pi.relnamespace = to_regnamespace(current_schema())",
    )
    .persistent(false)
    .fetch_all(&mut *pool.begin().await?)
    .await?;
    let parts = months(pool).await?;
    for (child, parent_index, table) in rows {
        let Some(p) = parts.iter().find(|p| p.name == table) else { continue };
        let want = format!("{parent_index}_{}", p.month.format("%Y_%m"));
        if child != want {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "ALTER INDEX {} RENAME TO {}",
                quote_ident(&child),
                quote_ident(&want)
            )))
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}
