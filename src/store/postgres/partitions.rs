//! The monthly partitions of raw_events and the fact tables (migration 9): listing them,
//! dropping whole months for retention, and going back to the months a new database has.
//! Partitions are made by `cowrieql_ensure_month` (the migration's SQL function), called by
//! the ingest lanes and the SQLite→PostgreSQL transfer before they write a month.

use anyhow::Result;
use chrono::{DateTime, Months, TimeZone, Utc};
use sqlx::{AssertSqlSafe, PgPool};

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

/// Every month partition (not the `_other` ones), oldest first.
pub async fn months(pool: &PgPool) -> Result<Vec<MonthPartition>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.relname::text, c.relname::text FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
         WHERE p.relnamespace = to_regnamespace(current_schema()) AND p.relname = ANY($1) \
         ORDER BY c.relname",
    )
    .bind(&PARTITIONED[..])
    .fetch_all(pool)
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

/// Drops every month partition that ends at or before `before`, each in its own short
/// transaction; returns the rows each parent table lost.
pub async fn drop_months_before(pool: &PgPool, before: DateTime<Utc>) -> Result<Vec<(String, u64)>> {
    let mut lost: Vec<(String, u64)> = Vec::new();
    for p in months(pool).await?.into_iter().filter(|p| p.end() <= before) {
        let mut tx = pool.begin().await?;
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", quote_ident(&p.name))))
            .fetch_one(&mut *tx)
            .await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {}", quote_ident(&p.name)))).execute(&mut *tx).await?;
        tx.commit().await?;
        match lost.iter_mut().find(|(t, _)| *t == p.parent) {
            Some(e) => e.1 += n as u64,
            None => lost.push((p.parent, n as u64)),
        }
    }
    Ok(lost)
}

/// Drops every month partition of the (emptied) tables and makes this month's and the next
/// again: the layout of a newly migrated database.
pub async fn reset(pool: &PgPool) -> Result<()> {
    for p in months(pool).await? {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {}", quote_ident(&p.name)))).execute(pool).await?;
    }
    sqlx::query("SELECT cowrieql_ensure_month(now())").execute(pool).await?;
    Ok(())
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
    .fetch_all(pool)
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
