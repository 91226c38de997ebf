//! Port forwards (`direct-tcpip.*`, `tunnelproxy-tcpip.data`): what one event tells about a
//! forwarded target of its session, and what the forwarded bytes say (HTTP request line and
//! Host, TLS SNI, SMTP HELO and MAIL FROM).

use chrono::{DateTime, Utc};

use super::text::printable;
use super::{max_opt, min_opt};

/// Longest summary value kept (an HTTP path, a host name): attacker text is unbounded.
pub const MAX_SUMMARY: usize = 512;

/// One event's piece of a `tunnels` row; pieces of one (sensor, session, target) are merged
/// as [`TunnelDelta::merge`] says, in memory and in the upsert alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TunnelDelta {
    /// The requested target. None on `tunnelproxy-tcpip.data` until the ingest names the
    /// session's tunnelled target (its `dst_ip` there is the honeypot's own listener).
    pub dst_ip: Option<String>,
    pub dst_port: i64,
    pub src_ip: Option<String>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub requests: i64,
    pub data_events: i64,
    pub bytes: i64,
    pub orig_ip: Option<String>,
    pub orig_port: Option<i64>,
    pub route: Option<&'static str>,
    pub new_ip: Option<String>,
    pub new_port: Option<i64>,
    pub ja4: Option<String>,
    pub ja4h: Option<String>,
    pub summary: Summary,
}

/// What forwarded bytes say, where they say it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub http_method: Option<String>,
    pub http_host: Option<String>,
    pub http_path: Option<String>,
    pub tls_sni: Option<String>,
    pub smtp_helo: Option<String>,
    pub smtp_mail_from: Option<String>,
}

impl TunnelDelta {
    /// Counters add; first/last seen take min/max; every other field is the earliest piece's
    /// value where it has one (as in `session_merge_sql`'s earliest-wins columns).
    pub fn merge(&mut self, other: &TunnelDelta) {
        let other_earlier = match (other.first_seen, self.first_seen) {
            (Some(o), Some(s)) => o < s,
            (Some(_), None) => true,
            _ => false,
        };
        fn pick<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>, other_earlier: bool) {
            if theirs.is_some() && (mine.is_none() || other_earlier) {
                *mine = theirs.clone();
            }
        }
        pick(&mut self.src_ip, &other.src_ip, other_earlier);
        pick(&mut self.orig_ip, &other.orig_ip, other_earlier);
        pick(&mut self.orig_port, &other.orig_port, other_earlier);
        pick(&mut self.route, &other.route, other_earlier);
        pick(&mut self.new_ip, &other.new_ip, other_earlier);
        pick(&mut self.new_port, &other.new_port, other_earlier);
        pick(&mut self.ja4, &other.ja4, other_earlier);
        pick(&mut self.ja4h, &other.ja4h, other_earlier);
        let (s, o) = (&mut self.summary, &other.summary);
        pick(&mut s.http_method, &o.http_method, other_earlier);
        pick(&mut s.http_host, &o.http_host, other_earlier);
        pick(&mut s.http_path, &o.http_path, other_earlier);
        pick(&mut s.tls_sni, &o.tls_sni, other_earlier);
        pick(&mut s.smtp_helo, &o.smtp_helo, other_earlier);
        pick(&mut s.smtp_mail_from, &o.smtp_mail_from, other_earlier);
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = max_opt(self.last_seen, other.last_seen);
        self.requests += other.requests;
        self.data_events += other.data_events;
        self.bytes += other.bytes;
    }
}

/// The columns of `tunnels` merged earliest-wins, in `TUNNEL_COLUMNS` order.
pub const EARLIEST_WINS: [&str; 14] = [
    "src_ip",
    "orig_ip",
    "orig_port",
    "route",
    "new_ip",
    "new_port",
    "ja4",
    "ja4h",
    "http_method",
    "http_host",
    "http_path",
    "tls_sni",
    "smtp_helo",
    "smtp_mail_from",
];

/// What the first bytes a client sent through a forward say.
pub fn summarise(data: &[u8]) -> Summary {
    let mut s = Summary::default();
    if let Some(sni) = tls_sni(data) {
        s.tls_sni = Some(printable(sni, MAX_SUMMARY));
        return s;
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(16 << 10)]);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next().unwrap_or("");
    let mut words = first.splitn(3, ' ');
    let (method, path, version) = (words.next().unwrap_or(""), words.next(), words.next());
    const METHODS: [&str; 9] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"];
    if METHODS.contains(&method) && version.is_some_and(|v| v.starts_with("HTTP/")) {
        s.http_method = Some(method.to_string());
        s.http_path = path.map(|p| printable(p.as_bytes(), MAX_SUMMARY));
        for l in text.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
            if let Some((name, value)) = l.split_once(':') {
                if name.trim().eq_ignore_ascii_case("host") {
                    s.http_host = Some(printable(value.trim().as_bytes(), MAX_SUMMARY));
                    break;
                }
            }
        }
        return s;
    }
    for l in text.split("\r\n").flat_map(|l| l.split('\n')) {
        let upper: String = l.chars().take(10).collect::<String>().to_ascii_uppercase();
        if (upper.starts_with("HELO ") || upper.starts_with("EHLO ")) && s.smtp_helo.is_none() {
            s.smtp_helo = Some(printable(l[5..].trim().as_bytes(), MAX_SUMMARY));
        } else if upper.starts_with("MAIL FROM:") && s.smtp_mail_from.is_none() {
            s.smtp_mail_from = Some(printable(l[10..].trim().as_bytes(), MAX_SUMMARY));
        }
    }
    s
}

/// The server name of a TLS ClientHello record, if `data` starts with one that has it.
fn tls_sni(data: &[u8]) -> Option<&[u8]> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = b;
            Some(a)
        }
        fn u8(&mut self) -> Option<usize> {
            Some(self.take(1)?[0] as usize)
        }
        fn u16(&mut self) -> Option<usize> {
            let b = self.take(2)?;
            Some((b[0] as usize) << 8 | b[1] as usize)
        }
        fn u24(&mut self) -> Option<usize> {
            let b = self.take(3)?;
            Some((b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize)
        }
    }
    let mut r = R(data);
    // Record: handshake (22), version, length; handshake: ClientHello (1), length.
    if r.u8()? != 22 {
        return None;
    }
    r.take(2)?;
    let len = r.u16()?;
    let mut r = R(r.0.get(..len.min(r.0.len()))?);
    if r.u8()? != 1 {
        return None;
    }
    r.u24()?;
    r.take(2 + 32)?; // client version, random
    let n = r.u8()?;
    r.take(n)?; // session id
    let n = r.u16()?;
    r.take(n)?; // cipher suites
    let n = r.u8()?;
    r.take(n)?; // compression methods
    let n = r.u16()?;
    let mut ext = R(r.take(n.min(r.0.len()))?);
    while !ext.0.is_empty() {
        let (kind, n) = (ext.u16()?, ext.u16()?);
        let body = ext.take(n)?;
        if kind == 0 {
            // server_name_list: length, then (type, name length, name)...
            let mut b = R(body);
            b.u16()?;
            if b.u8()? == 0 {
                let n = b.u16()?;
                return b.take(n);
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_give_method_host_and_path() {
        let s = summarise(b"GET /index.php?id=1 HTTP/1.1\r\nUser-Agent: x\r\nhost: www.example.com\r\n\r\n");
        assert_eq!(s.http_method.as_deref(), Some("GET"));
        assert_eq!(s.http_path.as_deref(), Some("/index.php?id=1"));
        assert_eq!(s.http_host.as_deref(), Some("www.example.com"));
        assert_eq!(s.smtp_helo, None);
        // Not HTTP without a version.
        assert_eq!(summarise(b"GET /x\r\n").http_method, None);
    }

    #[test]
    fn smtp_gives_helo_and_mail_from() {
        let s = summarise(b"EHLO spam.example\r\nMAIL FROM:<offers@spam.example>\r\nRCPT TO:<v@e.net>\r\n");
        assert_eq!(s.smtp_helo.as_deref(), Some("spam.example"));
        assert_eq!(s.smtp_mail_from.as_deref(), Some("<offers@spam.example>"));
        let s = summarise(b"helo x\nmail from: <a\x00b>\n");
        assert_eq!(s.smtp_mail_from.as_deref(), Some(r"<a\x00b>"));
    }

    #[test]
    fn tls_client_hellos_give_their_server_name() {
        // A real ClientHello (Python's ssl, SNI shop.example.org), as Cowrie logged it.
        let line = include_str!("../../../../fixtures/cowrie3/cowrie.json")
            .lines()
            .find(|l| l.contains("cowrie.direct-tcpip.data") && l.contains(":443,"))
            .expect("the fixture forwards TLS");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let data = super::super::text::py_bytes(v["data"].as_str().unwrap());
        assert_eq!(summarise(&data).tls_sni.as_deref(), Some("shop.example.org"));
        // Cut anywhere, it is no hello and no panic.
        for n in 0..data.len() {
            let _ = summarise(&data[..n]);
        }
        assert_eq!(tls_sni(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03"), None);
    }
}
