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
                    self.0.extend_from_slice(&bytes[start..i]);
                    self.0.extend_from_slice(esc);
                    start = i + 1;
                }
                self.0.extend_from_slice(&bytes[start..]);
            }
        }
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        use std::io::Write;
        self.sep();
        let _ = write!(self.0, "{v}");
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
        // The stored text form: UTC with microseconds, which PostgreSQL reads exactly.
        self.0.extend_from_slice(crate::time::canonical_text(t).as_bytes());
        self
    }
    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.sep();
        self.0.extend_from_slice(b"\\\\x");
        for x in b {
            self.0.push(HEX[usize::from(x >> 4)]);
            self.0.push(HEX[usize::from(x & 15)]);
        }
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

#[cfg(test)]
mod tests {
    use super::CopyRow;

    #[test]
    fn text_escapes_what_copy_text_format_treats_specially_and_nothing_else() {
        let mut buf = Vec::new();
        CopyRow::new(&mut buf)
            .text(Some("a\\b\tc\nd\re\u{e9}"))
            .text(None)
            .text(Some(""))
            .int(-42)
            .bytea(&[0, 0xab, 0xff])
            .end();
        assert_eq!(String::from_utf8(buf).unwrap(), "a\\\\b\\tc\\nd\\re\u{e9}\t\\N\t\t-42\t\\\\x00abff\n");
    }
}
