//! The language's values in SQLite: timestamps as the stored text, lists and JSON as JSON
//! text, and results decoded by their storage class.

use anyhow::Result;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use crate::check::ir::Ty;
use crate::report::value::{format_float, parse_ts};
use crate::report::Value;
use crate::sql::Compiled;
use crate::store::engine::BoundQuery;

/// `sql` (the compiled statement, or a statement around it such as EXPLAIN) with `binds`.
pub fn bind(sql: String, c: &Compiled, binds: &[Value]) -> Result<BoundQuery<sqlx::Sqlite>> {
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

pub fn decode(r: &SqliteRow, out: &[(String, Ty)]) -> Result<Vec<Value>> {
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
            (_, "REAL") => Value::Text(format_float(r.try_get::<f64, _>(i)?)),
            _ => Value::Text(r.try_get::<String, _>(i)?),
        };
        row.push(v);
    }
    Ok(row)
}
