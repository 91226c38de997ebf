//! Materialized views on PostgreSQL: created on first use from a report's `materialize`
//! prefix, rebuilt when the definition changes, refreshed on demand and after ingest, and
//! reported stale when an ingest happened since their last refresh.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

use super::Store;
use crate::sql::{quote_ident, ViewSql};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewInfo {
    pub name: String,
    pub definition_hash: String,
    pub refreshed_at: DateTime<Utc>,
    /// An ingest committed after the last refresh.
    pub stale: bool,
}

/// Makes sure `v` exists with its current definition; returns when it was last refreshed.
pub async fn ensure(conn: &mut PgConnection, v: &ViewSql) -> Result<DateTime<Utc>> {
    let hash = v.definition_hash();
    let mut tx = conn.begin().await?;
    // One creator at a time per view name.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&v.name).execute(&mut *tx).await?;
    let row = sqlx::query("SELECT definition_hash, refreshed_at FROM view_registry WHERE name = $1")
        .bind(&v.name)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(r) = &row {
        if r.get::<String, _>(0) == hash {
            let at: DateTime<Utc> = r.get(1);
            tx.commit().await?;
            return Ok(at);
        }
    }
    // New, or its definition changed: (re)build it.
    sqlx::raw_sql(AssertSqlSafe(format!("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE", quote_ident(&v.name))))
        .execute(&mut *tx)
        .await?;
    for s in &v.statements {
        sqlx::raw_sql(AssertSqlSafe(s.clone()))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("creating materialized view {}", v.name))?;
    }
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO view_registry (name, definition_hash, definition, created_at, refreshed_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (name) DO UPDATE SET definition_hash = excluded.definition_hash, definition = excluded.definition, \
         created_at = excluded.created_at, refreshed_at = excluded.refreshed_at",
    )
    .bind(&v.name)
    .bind(&hash)
    .bind(v.statements.join(";\n"))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(now)
}

/// Every registered view (PostgreSQL; empty on SQLite, which inlines views).
pub async fn list(store: &Store) -> Result<Vec<ViewInfo>> {
    let Store::Postgres(p) = store else { return Ok(Vec::new()) };
    let rows = sqlx::query(
        "SELECT name, definition_hash, refreshed_at, \
         refreshed_at < COALESCE((SELECT MAX(updated_at) FROM ingest_checkpoints), refreshed_at) \
         FROM view_registry ORDER BY name",
    )
    .fetch_all(p)
    .await?;
    Ok(rows
        .iter()
        .map(|r| ViewInfo { name: r.get(0), definition_hash: r.get(1), refreshed_at: r.get(2), stale: r.get(3) })
        .collect())
}

/// Refreshes the named views (all when `names` is empty, or only those marked for ingest when
/// `only_on_ingest`). Returns the names refreshed.
pub async fn refresh(store: &Store, names: &[String], concurrently: bool, only_on_ingest: bool) -> Result<Vec<String>> {
    let Store::Postgres(p) = store else { return Ok(Vec::new()) };
    let registered: Vec<(String, bool)> =
        sqlx::query("SELECT name, refresh_on_ingest FROM view_registry ORDER BY name")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let mut done = Vec::new();
    for name in names {
        if !registered.iter().any(|(n, _)| n == name) {
            anyhow::bail!(
                "no materialized view {name:?}; views: {}",
                registered.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    for (name, on_ingest) in registered {
        if (!names.is_empty() && !names.contains(&name)) || (only_on_ingest && !on_ingest) {
            continue;
        }
        let kw = if concurrently { "CONCURRENTLY " } else { "" };
        sqlx::raw_sql(AssertSqlSafe(format!("REFRESH MATERIALIZED VIEW {kw}{}", quote_ident(&name))))
            .execute(p)
            .await
            .with_context(|| format!("refreshing {name}"))?;
        sqlx::query("UPDATE view_registry SET refreshed_at = $2 WHERE name = $1")
            .bind(&name)
            .bind(Utc::now())
            .execute(p)
            .await?;
        done.push(name);
    }
    Ok(done)
}
