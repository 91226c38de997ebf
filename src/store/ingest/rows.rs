//! One row encoder per fact table: the values of a row, in the order of the table's column
//! list (`batch.rs`), written into a [`RowSink`]. SQLite's writer binds them to a prepared
//! statement, PostgreSQL's writes them as COPY text; neither lists a table's values itself.

use chrono::{DateTime, Utc};

use super::batch::{SessionKey, TunnelKey};
use super::event::{Event, Fact, SessionDelta, TunnelDelta};

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
    /// Text made for this row (a JSON document), not borrowed from the batch.
    fn owned_text(&mut self, v: Option<String>);
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

/// The fact row of event `id` (the column list of its table in `batch::fact_tables`); false,
/// writing nothing, for an event that holds no fact.
pub fn fact<'a>(s: &mut impl RowSink<'a>, id: i64, e: &'a Event) -> bool {
    let Some(f) = &e.fact else { return false };
    fact_head(s, id, e);
    match f {
        Fact::Login { username, password, success, method, key_type, fingerprint } => {
            s.text(username.as_deref());
            s.text(password.as_deref());
            s.boolean(*success);
            s.text(Some(method.as_str()));
            s.text(key_type.as_deref());
            s.text(fingerprint.as_deref());
        }
        Fact::Command { input, failed, realm } => {
            s.text(Some(input));
            s.boolean(*failed);
            s.text(Some(realm));
        }
        Fact::Transfer { url, shasum, outfile, direction, kind, destfile, error } => {
            s.text(url.as_deref());
            s.text(shasum.as_deref());
            s.text(outfile.as_deref());
            s.text(Some(direction.as_str()));
            s.text(Some(kind.as_str()));
            s.text(destfile.as_deref());
            s.text(error.as_deref());
        }
        Fact::Probe { kind, cve, username, name, value, detail } => {
            s.text(Some(kind.as_str()));
            s.text(cve.as_deref());
            s.text(username.as_deref());
            s.text(name.as_deref());
            s.text(value.as_deref());
            s.text(detail.as_deref());
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
    s.text(d.key_fingerprint.as_deref());
    opt_int(s, d.term_width);
    opt_int(s, d.term_height);
    s.int(d.term_size_events);
    s.owned_text(d.env.as_ref().map(|m| serde_json::to_string(m).unwrap_or_default()));
    s.text(d.arch.as_deref());
    s.text(d.ttylog.as_deref());
    opt_int(s, d.ttylog_size);
    s.int(d.probe_count);
    s.int(d.tunnel_count);
    for at in [&d.username_at, &d.key_fingerprint_at, &d.arch_at, &d.ttylog_at, &d.term_at] {
        s.time(at.as_ref());
    }
}

/// A tunnel piece (TUNNEL_COLUMNS), merged into the stored row by the upsert.
pub fn tunnel<'a>(s: &mut impl RowSink<'a>, (sensor, sid, dst_ip, dst_port): &'a TunnelKey, t: &'a TunnelDelta) {
    s.text(Some(sensor));
    s.text(Some(sid));
    s.text(Some(dst_ip));
    s.int(*dst_port);
    s.text(t.src_ip.as_deref());
    s.time(t.first_seen.as_ref());
    s.time(t.last_seen.as_ref());
    s.int(t.requests);
    s.int(t.data_events);
    s.int(t.bytes);
    s.text(t.orig_ip.as_deref());
    opt_int(s, t.orig_port);
    s.text(t.route);
    s.text(t.new_ip.as_deref());
    opt_int(s, t.new_port);
    s.text(t.ja4.as_deref());
    s.text(t.ja4h.as_deref());
    let m = &t.summary;
    for v in [&m.http_method, &m.http_host, &m.http_path, &m.tls_sni, &m.smtp_helo, &m.smtp_mail_from] {
        s.text(v.as_deref());
    }
}

/// An integer column that may be NULL (SQLite and COPY alike take a NULL float as NULL).
fn opt_int<'a>(s: &mut impl RowSink<'a>, v: Option<i64>) {
    match v {
        Some(i) => s.int(i),
        None => s.text(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch::{
        COMMAND_COLUMNS, LOGIN_COLUMNS, PROBE_COLUMNS, RAW_COLUMNS, SESSION_COLUMNS, TRANSFER_COLUMNS, TUNNEL_COLUMNS,
    };
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
        fn owned_text(&mut self, _: Option<String>) {
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
            (line("cowrie.telnet.exploit_attempt", r#","cve":"CVE-1","name":"USER","value":"-f root""#), PROBE_COLUMNS),
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
        let forward =
            parse_line(line("cowrie.direct-tcpip.request", r#","dst_ip":"a","dst_port":80"#).as_bytes(), 0).unwrap();
        let mut n = Count::default();
        let key = (forward.sensor.clone(), "s1".to_string(), "a".to_string(), 80);
        tunnel(&mut n, &key, forward.tunnel.as_ref().unwrap());
        assert_eq!(n.0, TUNNEL_COLUMNS.len());
        let plain = parse_line(line("cowrie.session.connect", "").as_bytes(), 0).unwrap();
        let mut n = Count::default();
        assert!(!fact(&mut n, 1, &plain));
        assert_eq!(n.0, 0);
    }
}
