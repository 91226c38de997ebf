//! COPY's text format: rows encoded for `COPY … FROM STDIN`, and sending them. Shared by
//! ingest (as a [`RowSink`]) and migrate-to-postgres.

use anyhow::Result;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;

use crate::store::ingest::rows::RowSink;

/// Rows in COPY's text format, one value after another; `end` closes a row.
#[derive(Debug, Default)]
pub struct CopyRows {
    buf: Vec<u8>,
    /// The next value is its row's first (no tab before it).
    in_row: bool,
}

impl CopyRows {
    pub fn with_capacity(bytes: usize) -> Self {
        CopyRows { buf: Vec::with_capacity(bytes), in_row: false }
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    fn sep(&mut self) {
        if self.in_row {
            self.buf.push(b'\t');
        }
        self.in_row = true;
    }
    pub fn text(&mut self, v: Option<&str>) -> &mut Self {
        self.sep();
        match v {
            None => self.buf.extend_from_slice(b"\\N"),
            Some(s) => {
                // Copy runs between special bytes whole (a payload is hundreds of bytes, and
                // this runs in the client while the server waits for the data).
                let bytes = s.as_bytes();
                let mut start = 0;
                for (i, &c) in bytes.iter().enumerate() {
                    let esc: &[u8] = match c {
                        b'\\' => b"\\\\",
                        b'\t' => b"\\t",
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        _ => continue,
                    };
                    self.buf.extend_from_slice(&bytes[start..i]);
                    self.buf.extend_from_slice(esc);
                    start = i + 1;
                }
                self.buf.extend_from_slice(&bytes[start..]);
            }
        }
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        use std::io::Write;
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.sep();
        // `{:?}` prints the shortest text that reads back to the same f64.
        self.buf.extend_from_slice(format!("{v:?}").as_bytes());
        self
    }
    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.push(if v { b't' } else { b'f' });
        self
    }
    pub fn ts(&mut self, t: &DateTime<Utc>) -> &mut Self {
        self.sep();
        // The stored text form: UTC with microseconds, which PostgreSQL reads exactly.
        self.buf.extend_from_slice(crate::time::canonical_text(t).as_bytes());
        self
    }
    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.sep();
        self.buf.extend_from_slice(b"\\\\x");
        for x in b {
            self.buf.push(HEX[usize::from(x >> 4)]);
            self.buf.push(HEX[usize::from(x & 15)]);
        }
        self
    }
    pub fn end(&mut self) {
        self.buf.push(b'\n');
        self.in_row = false;
    }
}

impl<'a> RowSink<'a> for CopyRows {
    fn int(&mut self, v: i64) {
        CopyRows::int(self, v);
    }
    fn text(&mut self, v: Option<&'a str>) {
        CopyRows::text(self, v);
    }
    fn float(&mut self, v: Option<f64>) {
        match v {
            Some(f) => CopyRows::float(self, f),
            None => self.null(),
        };
    }
    fn boolean(&mut self, v: bool) {
        CopyRows::boolean(self, v);
    }
    fn time(&mut self, v: Option<&DateTime<Utc>>) {
        match v {
            Some(t) => self.ts(t),
            None => self.null(),
        };
    }
    fn time_text(&mut self, v: &'a str) {
        CopyRows::text(self, Some(v));
    }
    fn bytes(&mut self, v: &'a [u8]) {
        self.bytea(v);
    }
    fn owned_text(&mut self, v: Option<String>) {
        CopyRows::text(self, v.as_deref());
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

#[cfg(test)]
mod tests {
    use super::CopyRows;

    #[test]
    fn text_escapes_what_copy_text_format_treats_specially_and_nothing_else() {
        let mut rows = CopyRows::default();
        rows.text(Some("a\\b\tc\nd\re\u{e9}")).text(None).text(Some("")).int(-42).bytea(&[0, 0xab, 0xff]).end();
        assert_eq!(
            String::from_utf8(rows.into_bytes()).unwrap(),
            "a\\\\b\\tc\\nd\\re\u{e9}\t\\N\t\t-42\t\\\\x00abff\n"
        );
    }
}
