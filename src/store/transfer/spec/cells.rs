//! Cells: SQLite's loosely typed values converted into the PostgreSQL column types, and
//! encoded for COPY.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::Kind::*;
use super::{pg_type, Kind, TableSpec};
use crate::store::ingest::event::escape_nul;
use crate::store::postgres::copy::CopyRows;

/// A converted value, as PostgreSQL will hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Ts(DateTime<Utc>),
    /// JSON text: as sent to PostgreSQL while copying, replaced by a [`Cell::Digest`]
    /// while validating.
    Json(String),
    /// JSON compared by [`json_digest`] (validation).
    Digest(u64),
    Bytes(Vec<u8>),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Text(s) | Cell::Json(s) => write!(f, "{s:?}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Ts(t) => f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            Cell::Digest(d) => write!(f, "JSON with digest {d:016x}"),
            Cell::Bytes(b) => write!(f, "{} bytes", b.len()),
        }
    }
}

/// Key order as both databases sort it: integers numerically, text bytewise (SQLite's
/// BINARY collation, PostgreSQL's `COLLATE "C"`).
pub fn cmp_key(a: &[Cell], b: &[Cell]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Cell::Int(x), Cell::Int(y)) => x.cmp(y),
            (Cell::Text(x), Cell::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Cell::Null, Cell::Null) => Ordering::Equal,
            (Cell::Null, _) => Ordering::Less,
            (_, Cell::Null) => Ordering::Greater,
            _ => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A value SQLite holds, before conversion.
enum Raw<'r> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'r str),
    Blob(&'r [u8]),
}

impl Raw<'_> {
    fn show(&self) -> String {
        match self {
            Raw::Null => "NULL".into(),
            Raw::Int(i) => i.to_string(),
            Raw::Real(x) => format!("{x:?}"),
            Raw::Text(s) => {
                let cut: String = s.chars().take(60).collect();
                if cut.len() < s.len() {
                    format!("{cut:?}…")
                } else {
                    format!("{cut:?}")
                }
            }
            Raw::Blob(b) => format!("a {}-byte blob", b.len()),
        }
    }
}

fn raw<'r>(row: &'r rusqlite::Row, i: usize) -> Result<Raw<'r>, String> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Null => Raw::Null,
        ValueRef::Integer(i) => Raw::Int(i),
        ValueRef::Real(x) => Raw::Real(x),
        ValueRef::Text(t) => Raw::Text(std::str::from_utf8(t).map_err(|_| "text that is not UTF-8".to_string())?),
        ValueRef::Blob(b) => Raw::Blob(b),
    })
}

/// A source value that has no faithful PostgreSQL form.
#[derive(Debug, Clone)]
pub struct BadValue {
    pub column: &'static str,
    pub value: String,
    pub why: String,
}

/// Reads and converts one source row.
pub fn convert_row(spec: &TableSpec, row: &rusqlite::Row) -> Result<Vec<Cell>, BadValue> {
    let mut out = Vec::with_capacity(spec.columns.len());
    for (i, (name, kind)) in spec.columns.iter().enumerate() {
        let r = raw(row, i).map_err(|why| BadValue { column: name, value: String::new(), why })?;
        let cell = convert(*kind, &r).map_err(|why| BadValue { column: name, value: r.show(), why })?;
        out.push(cell);
    }
    Ok(out)
}

fn convert(kind: Kind, r: &Raw) -> Result<Cell, String> {
    if let Raw::Null = r {
        return Ok(Cell::Null);
    }
    Ok(match (kind, r) {
        (Int, Raw::Int(i)) => Cell::Int(*i),
        (Int, Raw::Real(x)) if x.fract() == 0.0 && x.abs() < 9.2e18 => Cell::Int(*x as i64),
        (Int, Raw::Text(s)) => Cell::Int(s.trim().parse().map_err(|_| "not an integer".to_string())?),
        (Float, Raw::Int(i)) => Cell::Float(*i as f64),
        (Float, Raw::Real(x)) => Cell::Float(*x),
        (Float, Raw::Text(s)) => Cell::Float(s.trim().parse().map_err(|_| "not a number".to_string())?),
        (Text, Raw::Text(s)) => Cell::Text(pg_text(s)?),
        (Text, Raw::Int(i)) => Cell::Text(i.to_string()),
        (Text, Raw::Real(x)) => Cell::Text(x.to_string()),
        (Text, Raw::Blob(b)) => {
            Cell::Text(pg_text(std::str::from_utf8(b).map_err(|_| "a blob that is not UTF-8 text".to_string())?)?)
        }
        (Bool, r) => Cell::Bool(boolean(r)?),
        (Ts, Raw::Text(s)) => Cell::Ts(timestamp(s)?),
        (Json, Raw::Text(s)) => Cell::Json(json_text(s)?),
        (Json, Raw::Blob(b)) => {
            Cell::Json(json_text(std::str::from_utf8(b).map_err(|_| "a blob that is not UTF-8 text".to_string())?)?)
        }
        (Bytes, Raw::Blob(b)) => Cell::Bytes(b.to_vec()),
        (Bytes, Raw::Text(s)) => Cell::Bytes(s.as_bytes().to_vec()),
        (kind, _) => return Err(format!("cannot be converted to {}", pg_type(kind))),
    })
}

/// PostgreSQL text cannot hold NUL characters.
fn pg_text(s: &str) -> Result<String, String> {
    if s.contains('\0') {
        return Err("contains a NUL character, which PostgreSQL text cannot hold".into());
    }
    Ok(s.to_string())
}

/// SQLite stores booleans as 0/1; older or hand-edited rows may hold words.
fn boolean(r: &Raw) -> Result<bool, String> {
    let err = || "not a boolean (expected 0/1, true/false, t/f, yes/no)".to_string();
    match r {
        Raw::Int(0) => Ok(false),
        Raw::Int(1) => Ok(true),
        Raw::Real(x) if *x == 0.0 => Ok(false),
        Raw::Real(x) if *x == 1.0 => Ok(true),
        Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(err()),
        },
        _ => Err(err()),
    }
}

/// cowrieql writes `YYYY-MM-DDTHH:MM:SS.ffffffZ`; also accepted: any RFC 3339 time (offsets
/// are converted to UTC) and `YYYY-MM-DD HH:MM:SS[.f]`, taken as UTC.
fn timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s).or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z")) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    Err("not a timestamp".into())
}

/// JSON text as jsonb accepts it: valid JSON, with `\u0000` escapes made literal text the
/// way ingest stores them (jsonb rejects the NUL character).
fn json_text(s: &str) -> Result<String, String> {
    let s = if s.contains("\\u0000") { escape_nul(s) } else { s.to_string() };
    serde_json::from_str::<serde::de::IgnoredAny>(&s).map_err(|e| format!("not valid JSON ({e})"))?;
    Ok(s)
}

/// Appends a converted row to a COPY buffer.
pub fn encode_row(w: &mut CopyRows, row: &[Cell]) {
    for c in row {
        match c {
            Cell::Null => w.null(),
            Cell::Int(i) => w.int(*i),
            Cell::Float(x) => w.float(*x),
            Cell::Text(s) | Cell::Json(s) => w.text(Some(s)),
            Cell::Bool(b) => w.boolean(*b),
            Cell::Ts(t) => w.ts(t),
            Cell::Bytes(b) => w.bytea(b),
            Cell::Digest(_) => unreachable!("digests are never copied"),
        };
    }
    w.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_words_and_refuse_others() {
        assert!(boolean(&Raw::Text(" TRUE ")).unwrap());
        assert!(!boolean(&Raw::Int(0)).unwrap());
        assert!(boolean(&Raw::Int(2)).is_err());
        assert!(boolean(&Raw::Text("maybe")).is_err());
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        let a = timestamp("2025-09-22T12:00:00.5+02:00").unwrap();
        let b = timestamp("2025-09-22 10:00:00.500").unwrap();
        let c = timestamp("2025-09-22 12:00:00.5+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(timestamp("yesterday").is_err());
    }

    #[test]
    fn json_text_rejects_garbage_and_escapes_nul() {
        assert!(json_text("{not json").is_err());
        assert_eq!(json_text(r#"{"a":"x\u0000"}"#).unwrap(), r#"{"a":"x\\u0000"}"#);
    }
}
