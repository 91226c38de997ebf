//! One row encoder per fact table: the values of a row, in the order of the table's column
//! list (`batch.rs`), written into a [`RowSink`]. SQLite's writer binds them to a prepared
//! statement, PostgreSQL's writes them as COPY text; neither lists a table's values itself.

use chrono::{DateTime, Utc};

use super::batch::SessionKey;
use super::event::{Event, Fact, SessionDelta};

/// Where a row's values go, one after another. `'a`: values borrowed from the batch.
pub trait RowSink<'a> {
    fn int(&mut self, v: i64);
    fn text(&mut self, v: Option<&'a str>);
    fn float(&mut self, v: Option<f64>);
    fn boolean(&mut self, v: bool);
    fn time(&mut self, v: Option<&DateTime<Utc>>);
    /// A time already in the stored text form (the reader thread formats event times).
    fn time_text(&mut self, v: &'a str);
    fn bytes(&mut self, v: &'a [u8]);
}

/// `raw_events` (RAW_COLUMNS), the line of `source` at `e.offset`.
pub fn raw_event<'a>(s: &mut impl RowSink<'a>, source: &'a str, e: &'a Event) {
    s.text(e.session_id.as_deref());
    s.text(Some(&e.event_type));
    s.time_text(&e.ts_text);
    s.text(e.src_ip.as_deref());
    s.text(Some(&e.sensor));
    s.text(Some(&e.payload));
    s.text(Some(source));
    s.int(e.offset as i64);
    s.bytes(&e.hash);
}

/// The columns every fact table starts with: the event's id and where and when it was.
fn fact_head<'a>(s: &mut impl RowSink<'a>, id: i64, e: &'a Event) {
    s.int(id);
    s.text(e.session_id.as_deref());
    s.time_text(&e.ts_text);
    s.text(Some(&e.sensor));
    s.text(e.src_ip.as_deref());
}

/// The fact row of event `id` (LOGIN_COLUMNS, COMMAND_COLUMNS or TRANSFER_COLUMNS, by its
/// kind); false, writing nothing, for an event that holds no fact.
pub fn fact<'a>(s: &mut impl RowSink<'a>, id: i64, e: &'a Event) -> bool {
    match &e.fact {
        None => return false,
        Some(Fact::Login { username, password, success }) => {
            fact_head(s, id, e);
            s.text(username.as_deref());
            s.text(password.as_deref());
            s.boolean(*success);
        }
        Some(Fact::Command { input, failed }) => {
            fact_head(s, id, e);
            s.text(Some(input));
            s.boolean(*failed);
        }
        Some(Fact::Transfer { url, shasum, outfile, direction }) => {
            fact_head(s, id, e);
            s.text(url.as_deref());
            s.text(shasum.as_deref());
            s.text(outfile.as_deref());
            s.text(Some(direction.as_str()));
        }
    }
    true
}

/// A session piece (SESSION_COLUMNS), merged into the stored summary by the upsert.
pub fn session<'a>(s: &mut impl RowSink<'a>, (sensor, sid): &'a SessionKey, d: &'a SessionDelta) {
    s.text(Some(sensor));
    s.text(Some(sid));
    s.text(d.src_ip.as_deref());
    s.text(d.protocol.as_deref());
    s.time(d.first_event_at.as_ref());
    s.time(d.last_event_at.as_ref());
    s.float(d.duration_s);
    s.int(d.event_count);
    s.int(d.command_count);
    s.int(d.failed_command_count);
    s.int(d.login_attempts);
    s.int(d.login_failures);
    s.boolean(d.login_success);
    s.text(d.username.as_deref());
    s.int(d.download_count);
    s.int(d.upload_count);
    s.text(d.client_version.as_deref());
    s.text(d.hassh.as_deref());
    s.boolean(d.closed);
    s.boolean(d.vt_flagged);
    s.boolean(d.dshield_flagged);
}

#[cfg(test)]
mod tests {
    use super::super::batch::{COMMAND_COLUMNS, LOGIN_COLUMNS, RAW_COLUMNS, SESSION_COLUMNS, TRANSFER_COLUMNS};
    use super::super::event::parse_line;
    use super::*;

    /// Counts the values of a row.
    #[derive(Default)]
    struct Count(usize);
    impl<'a> RowSink<'a> for Count {
        fn int(&mut self, _: i64) {
            self.0 += 1
        }
        fn text(&mut self, _: Option<&'a str>) {
            self.0 += 1
        }
        fn float(&mut self, _: Option<f64>) {
            self.0 += 1
        }
        fn boolean(&mut self, _: bool) {
            self.0 += 1
        }
        fn time(&mut self, _: Option<&DateTime<Utc>>) {
            self.0 += 1
        }
        fn time_text(&mut self, _: &'a str) {
            self.0 += 1
        }
        fn bytes(&mut self, _: &'a [u8]) {
            self.0 += 1
        }
    }

    fn columns(list: &str) -> usize {
        list.split(',').count()
    }

    #[test]
    fn every_encoder_gives_one_value_per_column_of_its_table() {
        let line = |id: &str, extra: &str| {
            format!(
                r#"{{"eventid":"{id}","timestamp":"2025-01-01T00:00:00Z","session":"s1","src_ip":"1.2.3.4","sensor":"h"{extra}}}"#
            )
        };
        let cases = [
            (line("cowrie.login.failed", r#","username":"root","password":"x""#), LOGIN_COLUMNS),
            (line("cowrie.command.input", r#","input":"ls""#), COMMAND_COLUMNS),
            (line("cowrie.session.file_download", r#","url":"http://a/b","shasum":"ab""#), TRANSFER_COLUMNS),
        ];
        for (text, list) in &cases {
            let e = parse_line(text.as_bytes(), 0).unwrap();
            let mut n = Count::default();
            assert!(fact(&mut n, 1, &e), "{text}");
            assert_eq!(n.0, columns(list), "{text}");
            let mut n = Count::default();
            raw_event(&mut n, "f", &e);
            assert_eq!(n.0, columns(RAW_COLUMNS));
            let mut n = Count::default();
            let key = (e.sensor.clone(), "s1".to_string());
            session(&mut n, &key, e.delta.as_ref().unwrap());
            assert_eq!(n.0, SESSION_COLUMNS.len());
        }
        let plain = parse_line(line("cowrie.session.connect", "").as_bytes(), 0).unwrap();
        let mut n = Count::default();
        assert!(!fact(&mut n, 1, &plain));
        assert_eq!(n.0, 0);
    }
}
