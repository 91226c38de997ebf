//! Running compiled queries: views prepared, parameters bound and rows decoded by the
//! engine, every query of a report in one read snapshot. One text for both databases.

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Row};

use super::engine::Engine;
use super::{views, Store};
use crate::report::Value;
use crate::sql::Compiled;
use crate::{in_tx, on_engine};

/// Each query's rows, and the views computed inline because this connection could not
/// build them.
pub struct Executed {
    pub rows: Vec<Vec<Vec<Value>>>,
    pub inlined: Vec<String>,
}

/// Runs `queries` with their `binds` in one read snapshot (one transaction), so a report's
/// sections agree with each other even while an ingest is writing. Materialized views are
/// created (or rebuilt, if their definition changed) before the snapshot. A single query
/// runs in a transaction too: outside one, a pooler in transaction mode may hand sqlx's
/// Bind to another server connection than its Parse (tests/pooler.rs).
pub async fn run_all(store: &Store, queries: &[Compiled], binds: &[Vec<Value>]) -> Result<Executed> {
    let mut rows = Vec::with_capacity(queries.len());
    let mut inlined = Vec::new();
    on_engine!(store, p, E => {
        let mut conn = p.acquire().await?;
        // Usually every view is there and current: the snapshot begins, the partitioning check
        // runs (a one-column row while rows are still being moved) and the registry (two
        // columns) is read in one round trip. Otherwise the views are built (or inlined)
        // first, outside it.
        let start = format!("{}; {}; {}", E::READ_SNAPSHOT, E::UNMOVED_ROWS, views::REGISTRY);
        let registered: Option<Vec<(String, String)>> = match sqlx::raw_sql(AssertSqlSafe(start)).fetch_all(&mut *conn).await {
            Ok(rows) => {
                if rows.iter().any(|r| r.len() == 1) {
                    sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
                    return Err(super::errors::StoreError::UnfinishedPartitioning.into());
                }
                Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            }
            // No registry yet (or not readable): checked again outside the snapshot below.
            Err(_) => None,
        };
        let current = registered.is_some_and(|r| views::all_current(&r, queries));
        let prepared: Vec<views::Prepared> = if current {
            queries.iter().map(|c| views::Prepared { sql: c.sql_inlining(&[]), inlined: Vec::new() }).collect()
        } else {
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
            if sqlx::raw_sql(E::UNMOVED_ROWS).fetch_optional(&mut *conn).await?.is_some() {
                return Err(super::errors::StoreError::UnfinishedPartitioning.into());
            }
            let mut prepared = Vec::with_capacity(queries.len());
            for c in queries {
                prepared.push(views::prepare::<E>(&mut conn, c).await?);
            }
            sqlx::raw_sql(E::READ_SNAPSHOT).execute(&mut *conn).await?;
            prepared
        };
        let run = async || -> Result<()> {
            for ((c, b), p) in queries.iter().zip(binds).zip(prepared) {
                inlined.extend(p.inlined);
                let found = E::bind(p.sql, c, b)?.fetch_all(&mut *conn).await.context("the query failed")?;
                rows.push(found.iter().map(|r| E::decode(r, &c.output)).collect::<Result<_>>()?);
            }
            Ok(())
        };
        let outcome = run().await;
        sqlx::raw_sql(if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" }).execute(&mut *conn).await?;
        outcome?;
    });
    inlined.sort();
    inlined.dedup();
    Ok(Executed { rows, inlined })
}

/// The plan of `c` with `binds` (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN ANALYZE),
/// and the tables it reads whole.
pub async fn plan(store: &Store, c: &Compiled, binds: &[Value]) -> Result<(Vec<String>, Vec<String>)> {
    on_engine!(store, p, E => {
        let mut conn = p.acquire().await?;
        let sql = views::prepare::<E>(&mut conn, c).await?.sql;
        let (prefix, column) = E::EXPLAIN;
        let found = in_tx!(&mut *conn, t => E::bind(format!("{prefix}{sql}"), c, binds)?.fetch_all(t).await?);
        let lines: Vec<String> = found.iter().map(|r| r.get::<String, _>(column)).collect();
        let scans = lines.iter().filter_map(|l| E::full_scan(l)).map(str::to_string).collect();
        Ok((lines, scans))
    })
}
