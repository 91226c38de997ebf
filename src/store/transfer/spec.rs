//! What migrate-to-postgres copies: every table's physical columns and key, and the
//! conversion of SQLite's loosely typed values into the PostgreSQL column types.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::Xxh3;

use crate::store::ingest::event::escape_nul;
use crate::store::postgres::copy::CopyRows;

/// The PostgreSQL type a column converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Text,
    Bool,
    Ts,
    Json,
    Bytes,
}

#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    /// Key columns, first in `columns`, copied and compared in this order (keyset pagination).
    pub key: &'static [&'static str],
    pub columns: &'static [(&'static str, Kind)],
    /// Has an identity `id` whose sequence must move past the copied ids.
    pub identity: bool,
}

use Kind::*;

/// Every table that holds data, in copy order. `view_registry` is not copied: SQLite keeps
/// no materialized views, and PostgreSQL creates them on a report's first run.
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "raw_events",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("session_id", Text),
            ("event_type", Text),
            ("ts", Ts),
            ("src_ip", Text),
            ("sensor", Text),
            ("payload", Json),
            ("source_file", Text),
            ("source_offset", Int),
            ("content_hash", Bytes),
        ],
        identity: true,
    },
    TableSpec {
        name: "logins",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("event_id", Int),
            ("session_id", Text),
            ("ts", Ts),
            ("sensor", Text),
            ("src_ip", Text),
            ("username", Text),
            ("password", Text),
            ("success", Bool),
        ],
        identity: true,
    },
    TableSpec {
        name: "commands",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("event_id", Int),
            ("session_id", Text),
            ("ts", Ts),
            ("sensor", Text),
            ("src_ip", Text),
            ("input", Text),
            ("failed", Bool),
        ],
        identity: true,
    },
    TableSpec {
        name: "downloads",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("event_id", Int),
            ("session_id", Text),
            ("ts", Ts),
            ("sensor", Text),
            ("src_ip", Text),
            ("url", Text),
            ("shasum", Text),
            ("outfile", Text),
            ("direction", Text),
        ],
        identity: true,
    },
    TableSpec {
        name: "sessions",
        key: &["sensor", "session_id"],
        columns: &[
            ("sensor", Text),
            ("session_id", Text),
            ("src_ip", Text),
            ("protocol", Text),
            ("first_event_at", Ts),
            ("last_event_at", Ts),
            ("duration_s", Float),
            ("event_count", Int),
            ("command_count", Int),
            ("failed_command_count", Int),
            ("login_attempts", Int),
            ("login_failures", Int),
            ("login_success", Bool),
            ("username", Text),
            ("download_count", Int),
            ("upload_count", Int),
            ("client_version", Text),
            ("hassh", Text),
            ("closed", Bool),
            ("vt_flagged", Bool),
            ("dshield_flagged", Bool),
        ],
        identity: false,
    },
    TableSpec {
        name: "dead_letters",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("source_file", Text),
            ("source_offset", Int),
            ("raw", Text),
            ("reason", Text),
            ("content_hash", Bytes),
            ("created_at", Ts),
        ],
        identity: true,
    },
    TableSpec {
        name: "ingest_checkpoints",
        key: &["source_file"],
        columns: &[
            ("source_file", Text),
            ("byte_offset", Int),
            ("head_hash", Bytes),
            ("head_len", Int),
            ("lines_read", Int),
            ("updated_at", Ts),
        ],
        identity: false,
    },
];

/// The tables the transfer leaves out, and why: each is rebuilt on the target by itself.
pub const NOT_COPIED: &[(&str, &str)] = &[
    ("schema_migrations", "the target records its own migrations"),
    ("view_registry", "PostgreSQL builds its materialized views on a report's first run"),
    ("data_changes", "the target's views are built after the copy, so none is stale"),
];

pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

impl TableSpec {
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    }

    /// The key cells of a converted row: every table lists its key columns first.
    pub fn key_of<'r>(&self, row: &'r [Cell]) -> &'r [Cell] {
        &row[..self.key.len()]
    }

    /// `id=42` or `sensor='a', session_id='b'`, for messages.
    pub fn describe_key(&self, key: &[Cell]) -> String {
        self.key.iter().zip(key).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

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

pub fn pg_type(kind: Kind) -> &'static str {
    match kind {
        Int => "bigint",
        Float => "double precision",
        Text => "text",
        Bool => "boolean",
        Ts => "timestamptz",
        Json => "jsonb",
        Bytes => "bytea",
    }
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

/// A digest of JSON text that both sides agree on: object keys in any order (the last of
/// duplicate keys wins, as in jsonb), numbers by value (jsonb keeps `1.50` but turns `1e2`
/// into `100`), whitespace ignored. Computed while parsing, without building a tree.
pub fn json_digest(text: &str) -> Result<u64, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let d = de.deserialize_any(Digest).map_err(|e| format!("not valid JSON ({e})"))?;
    de.end().map_err(|e| format!("not valid JSON ({e})"))?;
    Ok(d)
}

fn tagged(tag: u8, bytes: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&[tag]);
    h.update(bytes);
    h.digest()
}

fn number(x: f64) -> u64 {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        tagged(b'i', &(x as i64).to_le_bytes())
    } else {
        tagged(b'f', &x.to_bits().to_le_bytes())
    }
}

struct Digest;

impl<'de> Visitor<'de> for Digest {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(tagged(b'n', &[]))
    }
    fn visit_bool<E>(self, b: bool) -> Result<u64, E> {
        Ok(tagged(b'b', &[b as u8]))
    }
    fn visit_i64<E>(self, i: i64) -> Result<u64, E> {
        Ok(if i.unsigned_abs() < 9_000_000_000_000_000 / 1000 {
            tagged(b'i', &i.to_le_bytes())
        } else {
            number(i as f64)
        })
    }
    fn visit_u64<E>(self, u: u64) -> Result<u64, E> {
        Ok(if u < 9_000_000_000_000_000 / 1000 { tagged(b'i', &(u as i64).to_le_bytes()) } else { number(u as f64) })
    }
    fn visit_f64<E>(self, x: f64) -> Result<u64, E> {
        Ok(number(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<u64, E> {
        Ok(tagged(b's', s.as_bytes()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut h = Xxh3::new();
        h.update(b"[");
        while let Some(d) = seq.next_element_seed(Digest)? {
            h.update(&d.to_le_bytes());
        }
        Ok(h.digest())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut members: Vec<(Cow<'de, str>, u64)> = Vec::new();
        while let Some(k) = map.next_key_seed(Key)? {
            members.push((k, map.next_value_seed(Digest)?));
        }
        // Stable sort keeps duplicates in input order; the last one wins.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = Xxh3::new();
        h.update(b"{");
        for (i, (k, d)) in members.iter().enumerate() {
            if members.get(i + 1).is_some_and(|n| n.0 == *k) {
                continue;
            }
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update(&d.to_le_bytes());
        }
        Ok(h.digest())
    }
}

impl<'de> DeserializeSeed<'de> for Digest {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

/// A row's 64-bit content hash; tables are summed (wrapping), so the total does not depend
/// on row order.
pub fn row_hash(row: &[Cell]) -> u64 {
    let mut h = Xxh3::new();
    for c in row {
        match c {
            Cell::Null => h.update(&[0]),
            Cell::Int(i) => {
                h.update(&[1]);
                h.update(&i.to_le_bytes())
            }
            Cell::Float(x) => {
                h.update(&[2]);
                h.update(&x.to_bits().to_le_bytes())
            }
            Cell::Text(s) | Cell::Json(s) => {
                h.update(&[3]);
                h.update(&(s.len() as u64).to_le_bytes());
                h.update(s.as_bytes())
            }
            Cell::Bool(b) => h.update(&[4, *b as u8]),
            Cell::Ts(t) => {
                h.update(&[5]);
                h.update(&t.timestamp_micros().to_le_bytes())
            }
            Cell::Digest(d) => {
                h.update(&[6]);
                h.update(&d.to_le_bytes())
            }
            Cell::Bytes(b) => {
                h.update(&[7]);
                h.update(&(b.len() as u64).to_le_bytes());
                h.update(b)
            }
        };
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_digest_agrees_on_what_jsonb_rewrites() {
        // jsonb reorders keys, adds spaces, and prints 1e2 as 100.
        assert_eq!(json_digest(r#"{"b":1e2,"a":[1.50,"x"]}"#), json_digest(r#"{"a": [1.5, "x"], "b": 100}"#));
        assert_eq!(json_digest(r#"{"a":1,"a":2}"#), json_digest(r#"{"a":2}"#));
        assert_eq!(json_digest(r#"{"k\u0065y":"\u00e9"}"#), json_digest(r#"{"key":"é"}"#));
        assert_ne!(json_digest(r#"{"a":"1"}"#), json_digest(r#"{"a":1}"#));
        assert_ne!(json_digest(r#"{"a":[1,2]}"#), json_digest(r#"{"a":[2,1]}"#));
        assert_ne!(json_digest(r#"{"ab":"c"}"#), json_digest(r#"{"a":"bc"}"#));
        assert!(json_digest(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn key_columns_come_first() {
        for t in TABLES {
            let first: Vec<&str> = t.columns.iter().take(t.key.len()).map(|c| c.0).collect();
            assert_eq!(first, t.key, "{}", t.name);
        }
    }

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
