//! COPY's text format: rows encoded for `COPY … FROM STDIN`, and sending them. Shared by
//! ingest and migrate-to-postgres.

use anyhow::Result;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;

/// One row of COPY's text format.
pub struct CopyRow<'a>(&'a mut Vec<u8>, bool);

impl<'a> CopyRow<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        CopyRow(buf, true)
    }
    fn sep(&mut self) {
        if !self.1 {
            self.0.push(b'\t');
        }
        self.1 = false;
    }
    pub fn text(&mut self, v: Option<&str>) -> &mut Self {
        self.sep();
        match v {
            None => self.0.extend_from_slice(b"\\N"),
            Some(s) => {
                for &c in s.as_bytes() {
                    match c {
                        b'\\' => self.0.extend_from_slice(b"\\\\"),
                        b'\t' => self.0.extend_from_slice(b"\\t"),
                        b'\n' => self.0.extend_from_slice(b"\\n"),
                        b'\r' => self.0.extend_from_slice(b"\\r"),
                        _ => self.0.push(c),
                    }
                }
            }
        }
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        self.0.extend_from_slice(v.to_string().as_bytes());
        self
    }
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.0.extend_from_slice(b"\\N");
        self
    }
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.sep();
        // `{:?}` prints the shortest text that reads back to the same f64.
        self.0.extend_from_slice(format!("{v:?}").as_bytes());
        self
    }
    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.0.push(if v { b't' } else { b'f' });
        self
    }
    pub fn ts(&mut self, t: &DateTime<Utc>) -> &mut Self {
        self.sep();
        self.0.extend_from_slice(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).as_bytes());
        self
    }
    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        use std::fmt::Write;
        self.sep();
        let mut s = String::with_capacity(3 + b.len() * 2);
        s.push_str("\\\\x");
        for x in b {
            let _ = write!(s, "{x:02x}");
        }
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn end(&mut self) {
        self.0.push(b'\n');
    }
}

pub async fn copy(conn: &mut PgConnection, stmt: &str, data: Vec<u8>) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut c = conn.copy_in_raw(stmt).await?;
    for chunk in data.chunks(1 << 18) {
        c.send(chunk).await?;
    }
    c.finish().await?;
    Ok(())
}
