//! The language's values in PostgreSQL: timestamptz, jsonb, text[]; results decoded by the
//! column's type.

use anyhow::{bail, Result};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use crate::check::ir::Ty;
use crate::report::Value;
use crate::sql::Compiled;
use crate::store::engine::BoundQuery;

pub fn bind(sql: String, c: &Compiled, binds: &[Value]) -> BoundQuery<sqlx::Postgres> {
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

pub fn decode(r: &PgRow, out: &[(String, Ty)]) -> Result<Vec<Value>> {
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
