//! Runs a compiled query with its bound parameters and decodes rows into `Value`s by the
//! output types the checker proved.

use anyhow::{bail, Context, Result};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Column, Connection, Row, TypeInfo, ValueRef};

use super::value::{parse_ts, Value};
use crate::check::ir::Ty;
use crate::sql::Compiled;
use crate::store::{views, Store};

/// Runs `c` on `store` with `binds` (one per parameter, in bind order).
pub async fn execute(store: &Store, c: &Compiled, binds: &[Value]) -> Result<Vec<Vec<Value>>> {
    let mut out = execute_all(store, std::slice::from_ref(c), &[binds.to_vec()]).await?;
    Ok(out.rows.pop().unwrap_or_default())
}

fn check_binds(c: &Compiled, binds: &[Value], backend: &str) -> Result<()> {
    if c.dialect != backend {
        bail!("this SQL was compiled for {}, not {backend}", c.dialect);
    }
    if binds.len() != c.params.len() {
        bail!("the query has {} parameter(s) but {} value(s) were given", c.params.len(), binds.len());
    }
    for (p, v) in c.params.iter().zip(binds) {
        if !v.fits(p.ty) {
            bail!("parameter ${} is {} but was given {}", p.name, p.ty.name(), v.display());
        }
    }
    Ok(())
}

/// Runs several queries in one read snapshot (one transaction), so a report's sections
/// agree with each other even while an ingest is writing.
pub async fn execute_all(store: &Store, queries: &[Compiled], binds: &[Vec<Value>]) -> Result<Executed> {
    let mut results = Vec::with_capacity(queries.len());
    let mut inlined = Vec::new();
    match store {
        Store::Sqlite(pool) => {
            for (c, b) in queries.iter().zip(binds) {
                check_binds(c, b, "sqlite")?;
            }
            let mut conn = pool.acquire().await?;
            let mut prepared = Vec::with_capacity(queries.len());
            for c in queries {
                prepared.push(views::prepare_sqlite(&mut conn, c).await?);
            }
            let mut tx = conn.begin().await?;
            for ((c, b), p) in queries.iter().zip(binds).zip(prepared) {
                inlined.extend(p.inlined);
                let q = sqlite_query(p.sql, c, b)?;
                let rows = q.fetch_all(&mut *tx).await.context("sqlite query failed")?;
                results.push(rows.iter().map(|r| decode_sqlite(r, &c.output)).collect::<Result<_>>()?);
            }
            tx.commit().await?;
        }
        Store::Postgres(pool) => {
            for (c, b) in queries.iter().zip(binds) {
                check_binds(c, b, "postgres")?;
            }
            let mut conn = pool.acquire().await?;
            // Materialized views are created (or rebuilt, if their definition changed) before
            // the read-only snapshot.
            let mut prepared = Vec::with_capacity(queries.len());
            for c in queries {
                prepared.push(views::prepare_pg(&mut conn, c).await?);
            }
            sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *conn).await?;
            let run = async || -> Result<()> {
                for ((c, b), p) in queries.iter().zip(binds).zip(prepared) {
                    inlined.extend(p.inlined);
                    let q = pg_query(p.sql, c, b);
                    let rows = q.fetch_all(&mut *conn).await.context("postgres query failed")?;
                    results.push(rows.iter().map(|r| decode_pg(r, &c.output)).collect::<Result<_>>()?);
                }
                Ok(())
            };
            let outcome = run().await;
            sqlx::raw_sql(if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" }).execute(&mut *conn).await?;
            outcome?;
        }
    }
    inlined.sort();
    inlined.dedup();
    Ok(Executed { rows: results, inlined })
}

/// Each query's rows, and the views computed inline because this connection could not
/// build them.
pub struct Executed {
    pub rows: Vec<Vec<Vec<Value>>>,
    pub inlined: Vec<String>,
}

type SqliteQuery = sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;
type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// `sql` (the compiled statement, or a statement around it such as EXPLAIN) with `binds`
/// bound in SQLite's forms: timestamps as the stored text, lists as a JSON array.
pub(crate) fn sqlite_query(sql: String, c: &Compiled, binds: &[Value]) -> Result<SqliteQuery> {
    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for (p, v) in c.params.iter().zip(binds) {
        q = match v {
            Value::Null => q.bind(None::<String>),
            Value::Int(i) if p.ty == Ty::Float => q.bind(*i as f64),
            Value::Int(i) => q.bind(*i),
            Value::Float(f) => q.bind(*f),
            Value::Text(s) => q.bind(s.clone()),
            Value::Bool(b) => q.bind(*b),
            Value::Timestamp(t) => q.bind(crate::time::canonical_text(t)),
            Value::Json(j) => q.bind(j.to_string()),
            Value::List(l) => q.bind(serde_json::to_string(l)?),
        };
    }
    Ok(q)
}

/// The same for PostgreSQL: timestamptz, jsonb, text[].
pub(crate) fn pg_query(sql: String, c: &Compiled, binds: &[Value]) -> PgQuery {
    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for (p, v) in c.params.iter().zip(binds) {
        q = match v {
            Value::Null => q.bind(None::<String>),
            Value::Int(i) if p.ty == Ty::Float => q.bind(*i as f64),
            Value::Int(i) => q.bind(*i),
            Value::Float(f) => q.bind(*f),
            Value::Text(s) => q.bind(s.clone()),
            Value::Bool(b) => q.bind(*b),
            Value::Timestamp(t) => q.bind(*t),
            Value::Json(j) => q.bind(j.clone()),
            Value::List(l) => q.bind(l.clone()),
        };
    }
    q
}

fn decode_sqlite(r: &SqliteRow, out: &[(String, Ty)]) -> Result<Vec<Value>> {
    let mut row = Vec::with_capacity(out.len());
    for (i, (_, ty)) in out.iter().enumerate() {
        let raw = r.try_get_raw(i)?;
        if raw.is_null() {
            row.push(Value::Null);
            continue;
        }
        // SQLite values carry their own storage class, which `->>` and arithmetic choose.
        let storage = raw.type_info().name().to_string();
        let v = match (ty, storage.as_str()) {
            (Ty::Bool, _) => Value::Bool(r.try_get::<i64, _>(i)? != 0),
            (Ty::Int | Ty::Duration, "REAL") => Value::Int(r.try_get::<f64, _>(i)? as i64),
            (Ty::Int | Ty::Duration, "TEXT") => Value::Int(r.try_get::<String, _>(i)?.trim().parse().unwrap_or(0)),
            (Ty::Int | Ty::Duration, _) => Value::Int(r.try_get::<i64, _>(i)?),
            (Ty::Float, "TEXT") => Value::Float(r.try_get::<String, _>(i)?.trim().parse().unwrap_or(f64::NAN)),
            (Ty::Float, _) => Value::Float(r.try_get::<f64, _>(i)?),
            (Ty::Timestamp, _) => {
                let s: String = r.try_get(i)?;
                parse_ts(&s).map(Value::Timestamp).unwrap_or(Value::Text(s))
            }
            (Ty::Json, _) => {
                let s: String = r.try_get(i)?;
                Value::Json(serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
            }
            (_, "INTEGER") => Value::Text(r.try_get::<i64, _>(i)?.to_string()),
            (_, "REAL") => Value::Text(super::value::format_float(r.try_get::<f64, _>(i)?)),
            _ => Value::Text(r.try_get::<String, _>(i)?),
        };
        row.push(v);
    }
    Ok(row)
}

fn decode_pg(r: &PgRow, out: &[(String, Ty)]) -> Result<Vec<Value>> {
    let mut row = Vec::with_capacity(out.len());
    for (i, (name, ty)) in out.iter().enumerate() {
        let raw = r.try_get_raw(i)?;
        if raw.is_null() {
            row.push(Value::Null);
            continue;
        }
        let pg_type = r.columns()[i].type_info().name().to_string();
        let v = match pg_type.as_str() {
            "INT8" => Value::Int(r.try_get::<i64, _>(i)?),
            "INT4" => Value::Int(r.try_get::<i32, _>(i)?.into()),
            "INT2" => Value::Int(r.try_get::<i16, _>(i)?.into()),
            "FLOAT8" => Value::Float(r.try_get::<f64, _>(i)?),
            "FLOAT4" => Value::Float(r.try_get::<f32, _>(i)?.into()),
            "BOOL" => Value::Bool(r.try_get::<bool, _>(i)?),
            "TIMESTAMPTZ" => Value::Timestamp(r.try_get(i)?),
            "JSONB" | "JSON" => Value::Json(r.try_get(i)?),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Value::Text(r.try_get(i)?),
            other => bail!("column {name} has PostgreSQL type {other}, which cowrieql does not decode"),
        };
        // The language's type decides: an int-typed text value stays text, and so on.
        row.push(match (ty, v) {
            (Ty::Float, Value::Int(i)) => Value::Float(i as f64),
            (Ty::Int, Value::Float(f)) => Value::Int(f as i64),
            (_, v) => v,
        });
    }
    Ok(row)
}
