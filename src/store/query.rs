//! Running compiled queries: views prepared, parameters bound and rows decoded by the
//! engine, every query of a report in one read snapshot. One text for both databases.

use anyhow::{Context, Result};
use sqlx::Row;

use super::engine::Engine;
use super::{views, Store};
use crate::on_engine;
use crate::report::Value;
use crate::sql::Compiled;

/// Each query's rows, and the views computed inline because this connection could not
/// build them.
pub struct Executed {
    pub rows: Vec<Vec<Vec<Value>>>,
    pub inlined: Vec<String>,
}

/// Runs `queries` with their `binds` in one read snapshot (one transaction), so a report's
/// sections agree with each other even while an ingest is writing. Materialized views are
/// created (or rebuilt, if their definition changed) before the snapshot.
pub async fn run_all(store: &Store, queries: &[Compiled], binds: &[Vec<Value>]) -> Result<Executed> {
    let mut rows = Vec::with_capacity(queries.len());
    let mut inlined = Vec::new();
    on_engine!(store, p, E => {
        let mut conn = p.acquire().await?;
        let mut prepared = Vec::with_capacity(queries.len());
        for c in queries {
            prepared.push(views::prepare::<E>(&mut conn, c).await?);
        }
        sqlx::raw_sql(E::READ_SNAPSHOT).execute(&mut *conn).await?;
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
        let found = E::bind(format!("{prefix}{sql}"), c, binds)?.fetch_all(&mut *conn).await?;
        let lines: Vec<String> = found.iter().map(|r| r.get::<String, _>(column)).collect();
        let scans = lines.iter().filter_map(|l| E::full_scan(l)).map(str::to_string).collect();
        Ok((lines, scans))
    })
}
