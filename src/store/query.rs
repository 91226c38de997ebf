//! Running compiled queries: views prepared, parameters bound and rows decoded by the
//! engine, every query of a report in one read snapshot. One text for both databases.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Row};

use super::engine::Engine;
use super::{views, Store};
use crate::report::Value;
use crate::sql::Compiled;
use crate::{in_tx, on_engine};

/// How long a report runs on its first connection before helpers open connections of their
/// own (an idle one in the pool helps at once). A new server process starts with cold caches
/// and its first queries plan slowly: it pays off on long reports only (measured: weekly, 40 ms
/// in a new process, was slower with helpers opened after 20 ms: 49 ms against 39).
const OPEN_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// One query's rows.
type Rows = Vec<Vec<Value>>;

/// Each query's rows, the views computed inline because this connection could not build
/// them, and how many connections read the snapshot.
pub struct Executed {
    pub rows: Vec<Rows>,
    pub inlined: Vec<String>,
    pub connections: usize,
}

/// Runs `queries` with their `binds` in one read snapshot, so a report's sections agree with
/// each other even while an ingest is writing. Materialized views are created (or rebuilt, if
/// their definition changed) before the snapshot. A single query runs in a transaction too:
/// outside one, a pooler in transaction mode may hand sqlx's Bind to another server
/// connection than its Parse (tests/pooler.rs).
///
/// Where the database can share the snapshot (PostgreSQL's exported snapshots), more
/// connections of the pool join it and take queries from the same list, so the server runs
/// the report's queries at once; the first connection takes queries as well, and never waits
/// for another to join. SQLite runs them one after the other.
pub async fn run_all(store: &Store, queries: &[Compiled], binds: &[Vec<Value>]) -> Result<Executed> {
    let mut inlined = Vec::new();
    let n = queries.len();
    let mut rows: Vec<Rows> = vec![Vec::new(); n];
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let joined = AtomicUsize::new(1);
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
        let sql: Vec<String> = if current {
            queries.iter().map(|c| c.sql_inlining(&[])).collect()
        } else {
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
            if sqlx::raw_sql(E::UNMOVED_ROWS).fetch_optional(&mut *conn).await?.is_some() {
                return Err(super::errors::StoreError::UnfinishedPartitioning.into());
            }
            let mut sql = Vec::with_capacity(n);
            for c in queries {
                let p = views::prepare::<E>(&mut conn, c).await?;
                inlined.extend(p.inlined);
                sql.push(p.sql);
            }
            sqlx::raw_sql(E::READ_SNAPSHOT).execute(&mut *conn).await?;
            sql
        };
        // Takes queries off the list until none is left, or another connection failed: each
        // one's place in the list with its rows.
        let take = async |c: &mut sqlx::pool::PoolConnection<<E as Engine>::DB>| -> Result<Vec<(usize, Rows)>> {
            let mut taken = Vec::new();
            while !failed.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let outcome = async {
                    let found = E::bind(sql[i].clone(), &queries[i], &binds[i])?
                        .fetch_all(&mut **c)
                        .await
                        .context("the query failed")?;
                    found.iter().map(|r| E::decode(r, &queries[i].output)).collect::<Result<Vec<_>>>()
                }
                .await;
                match outcome {
                    Ok(rows) => taken.push((i, rows)),
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
            Ok(taken)
        };
        let max = p.options().get_max_connections() as usize;
        let helpers = if E::EXPORT_SNAPSHOT.is_some() { n.saturating_sub(1).min(max.saturating_sub(1)) } else { 0 };
        let name: Option<String> = match E::EXPORT_SNAPSHOT {
            Some(export) if helpers > 0 => Some(sqlx::raw_sql(export).fetch_one(&mut *conn).await?.get(0)),
            _ => None,
        };
        let (done, _) = tokio::sync::watch::channel(false);
        // A helper that cannot join in time (no free connection, a pooler with no free server,
        // a snapshot already gone) takes nothing; the first connection does the rest.
        let help = async || -> Result<Vec<(usize, Rows)>> {
            let Some(join) = name.as_deref().and_then(E::join_snapshot) else { return Ok(Vec::new()) };
            let mut finished = done.subscribe();
            let mut c = match p.try_acquire() {
                Some(c) => c,
                // Opening a connection costs the server a process: worth it only for a report
                // still running after a while. One begun is not abandoned half-open.
                None if (p.size() as usize) < max => {
                    tokio::select! {
                        _ = tokio::time::sleep(OPEN_AFTER) => {}
                        _ = finished.wait_for(|d| *d) => return Ok(Vec::new()),
                    }
                    match p.acquire().await {
                        Ok(c) => c,
                        Err(_) => return Ok(Vec::new()),
                    }
                }
                // Every connection is in use elsewhere in this process.
                None => return Ok(Vec::new()),
            };
            if *finished.borrow() || sqlx::raw_sql(AssertSqlSafe(join)).execute(&mut *c).await.is_err() {
                sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.ok();
                return Ok(Vec::new());
            }
            joined.fetch_add(1, Ordering::SeqCst);
            let outcome = take(&mut c).await;
            sqlx::raw_sql("ROLLBACK").execute(&mut *c).await?;
            outcome
        };
        let lead = async {
            let outcome = take(&mut conn).await;
            done.send_replace(true);
            // Ending the exported snapshot here (not after the helpers) frees a pooler's
            // server for a helper still waiting on one.
            sqlx::raw_sql(if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" }).execute(&mut *conn).await?;
            outcome
        };
        let (lead, helped) = futures_util::future::join(lead, futures_util::future::join_all((0..helpers).map(|_| help()))).await;
        // Without a failure every query was taken once.
        for (i, found) in lead?.into_iter().chain(helped.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten()) {
            rows[i] = found;
        }
    });
    inlined.sort();
    inlined.dedup();
    Ok(Executed { rows, inlined, connections: joined.into_inner() })
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
