//! One log line → one accepted event (with the facts it implies) or a dead-letter reason.
//!
//! Pure: no I/O. Parsing is lenient per field (Cowrie changed field types across versions)
//! and strict only about what an event cannot do without: a JSON object with `eventid` and a
//! parseable `timestamp`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::time::parse_cowrie_ts;

mod memory;
pub mod text;
pub mod tunnel;

pub use memory::SessionMemory;

pub use tunnel::TunnelDelta;

/// 128-bit content hash of the raw line: the idempotency key of `raw_events`.
pub type ContentHash = [u8; 16];

pub fn content_hash(line: &[u8]) -> ContentHash {
    let h = blake3::hash(line);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.as_bytes()[..16]);
    out
}

/// What a session-scoped event tells about its session; merged per batch, then into `sessions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionDelta {
    pub src_ip: Option<String>,
    pub protocol: Option<String>,
    pub first_event_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
    pub event_count: i64,
    pub command_count: i64,
    pub failed_command_count: i64,
    pub login_attempts: i64,
    pub login_failures: i64,
    pub login_success: bool,
    pub username: Option<String>,
    pub download_count: i64,
    pub upload_count: i64,
    pub client_version: Option<String>,
    pub hassh: Option<String>,
    pub closed: bool,
    pub vt_flagged: bool,
    pub dshield_flagged: bool,
    /// The first public key the client offered (`client.fingerprint`, or a key login).
    pub key_fingerprint: Option<String>,
    /// The last terminal size the client reported, and how many times it reported one.
    pub term_width: Option<i64>,
    pub term_height: Option<i64>,
    pub term_size_events: i64,
    /// Environment variables the client sent (`client.var`); a later value of a name wins.
    pub env: Option<BTreeMap<String, String>>,
    pub arch: Option<String>,
    /// The session's first TTY log and its size in bytes.
    pub ttylog: Option<String>,
    pub ttylog_size: Option<i64>,
    pub probe_count: i64,
    pub tunnel_count: i64,
    /// When the event that gave `username`, `key_fingerprint`, `arch`, `ttylog` (with its
    /// size) and the terminal size happened: several events of a session can give each, and
    /// pieces of a session reach the database in any order (many writers), so the merge keeps
    /// the earliest value (the latest terminal size) by these times, not by the pieces'.
    pub username_at: Option<DateTime<Utc>>,
    pub key_fingerprint_at: Option<DateTime<Utc>>,
    pub arch_at: Option<DateTime<Utc>>,
    pub ttylog_at: Option<DateTime<Utc>>,
    pub term_at: Option<DateTime<Utc>>,
}

/// Whether a value stamped `theirs` replaces one stamped `mine`: the earlier (`later`: the
/// later) wins; on a tie, the smaller key. As `session_merge_sql`'s `by_time` says.
fn stamped_wins<K: PartialOrd>(
    theirs: Option<DateTime<Utc>>,
    mine: Option<DateTime<Utc>>,
    theirs_key: Option<K>,
    mine_key: Option<K>,
    later: bool,
) -> bool {
    match (theirs, mine) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(t), Some(m)) => {
            (if later { t > m } else { t < m })
                || (t == m && matches!((theirs_key, mine_key), (Some(a), Some(b)) if a < b))
        }
    }
}

impl SessionDelta {
    /// Folds `other` (a later or earlier piece of the same session) into `self`.
    /// Counters add; first/last take min/max; "first value seen" fields prefer the piece that
    /// started earlier, so the result does not depend on the order pieces arrive in.
    pub fn merge(&mut self, other: &SessionDelta) {
        let other_earlier = match (other.first_event_at, self.first_event_at) {
            (Some(o), Some(s)) => o < s,
            (Some(_), None) => true,
            _ => false,
        };
        let pick = |mine: &mut Option<String>, theirs: &Option<String>| {
            if theirs.is_some() && (mine.is_none() || other_earlier) {
                *mine = theirs.clone();
            }
        };
        pick(&mut self.src_ip, &other.src_ip);
        pick(&mut self.protocol, &other.protocol);
        pick(&mut self.client_version, &other.client_version);
        pick(&mut self.hassh, &other.hassh);
        if other.duration_s.is_some() && (self.duration_s.is_none() || other_earlier) {
            self.duration_s = other.duration_s;
        }
        if stamped_wins(other.username_at, self.username_at, other.username.as_ref(), self.username.as_ref(), false) {
            (self.username, self.username_at) = (other.username.clone(), other.username_at);
        }
        if stamped_wins(
            other.key_fingerprint_at,
            self.key_fingerprint_at,
            other.key_fingerprint.as_ref(),
            self.key_fingerprint.as_ref(),
            false,
        ) {
            (self.key_fingerprint, self.key_fingerprint_at) = (other.key_fingerprint.clone(), other.key_fingerprint_at);
        }
        if stamped_wins(other.arch_at, self.arch_at, other.arch.as_ref(), self.arch.as_ref(), false) {
            (self.arch, self.arch_at) = (other.arch.clone(), other.arch_at);
        }
        if stamped_wins(other.ttylog_at, self.ttylog_at, other.ttylog.as_ref(), self.ttylog.as_ref(), false) {
            (self.ttylog, self.ttylog_size, self.ttylog_at) =
                (other.ttylog.clone(), other.ttylog_size, other.ttylog_at);
        }
        if stamped_wins(other.term_at, self.term_at, other.term_width, self.term_width, true) {
            (self.term_width, self.term_height, self.term_at) = (other.term_width, other.term_height, other.term_at);
        }
        // Latest wins: the piece whose last event is later (as `session_merge_sql` says).
        let other_later = match (other.last_event_at, self.last_event_at) {
            (Some(o), Some(s)) => o > s,
            (Some(_), None) => true,
            _ => false,
        };
        if let Some(theirs) = &other.env {
            let mine = self.env.get_or_insert_with(BTreeMap::new);
            for (k, v) in theirs {
                if other_later || !mine.contains_key(k) {
                    mine.insert(k.clone(), v.clone());
                }
            }
        }
        self.term_size_events += other.term_size_events;
        self.probe_count += other.probe_count;
        self.tunnel_count += other.tunnel_count;
        self.first_event_at = min_opt(self.first_event_at, other.first_event_at);
        self.last_event_at = max_opt(self.last_event_at, other.last_event_at);
        self.event_count += other.event_count;
        self.command_count += other.command_count;
        self.failed_command_count += other.failed_command_count;
        self.login_attempts += other.login_attempts;
        self.login_failures += other.login_failures;
        self.login_success |= other.login_success;
        self.download_count += other.download_count;
        self.upload_count += other.upload_count;
        self.closed |= other.closed;
        self.vt_flagged |= other.vt_flagged;
        self.dshield_flagged |= other.dshield_flagged;
    }
}

pub(crate) fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A row of one of the fact tables.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Login {
        username: Option<String>,
        password: Option<String>,
        success: bool,
        method: LoginMethod,
        key_type: Option<String>,
        fingerprint: Option<String>,
    },
    Command {
        input: String,
        failed: bool,
        /// `shell`, or the program that read the line (Cowrie's `realm`; `sh` for a script body).
        realm: String,
    },
    Transfer {
        url: Option<String>,
        shasum: Option<String>,
        outfile: Option<String>,
        direction: Direction,
        kind: TransferKind,
        destfile: Option<String>,
        error: Option<String>,
    },
    Probe {
        kind: ProbeKind,
        cve: Option<String>,
        username: Option<String>,
        name: Option<String>,
        value: Option<String>,
        detail: Option<String>,
    },
}

/// Names stored in a text column, one per variant.
macro_rules! named {
    ($(#[$m:meta])* $name:ident { $($v:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($v),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }
        }
    };
}

named!(
    /// How a login was attempted. Keyboard-interactive cannot be told from password in Cowrie's
    /// log (one checker, one event), so it counts as `password`.
    LoginMethod { Password => "password", PublicKey => "publickey", None => "none", Exploit => "exploit" }
);
named!(Direction { Download => "download", Upload => "upload" });
named!(
    /// What a `downloads` row is.
    TransferKind {
        Url => "url", Redirect => "redirect", UploadSftp => "upload-sftp", UploadScp => "upload-scp", Failed => "failed",
    }
);
named!(
    /// What a `probes` row is.
    ProbeKind {
        ExploitAttempt => "exploit_attempt", ExploitSuccess => "exploit_success", TelnetError => "telnet_error",
        MalformedPacket => "malformed_packet", Chpasswd => "chpasswd",
    }
);

/// An accepted line.
#[derive(Debug, Clone)]
pub struct Event {
    /// Byte offset of the line's first byte in its (decompressed) source.
    pub offset: u64,
    pub hash: ContentHash,
    /// The line as stored: the original text, except that `\u0000` escapes are written as
    /// `\\u0000` (PostgreSQL's jsonb and text cannot hold NUL; both backends store the same).
    pub payload: String,
    pub event_type: String,
    pub ts: DateTime<Utc>,
    /// `ts` as stored text (SQLite's form; also what COPY sends PostgreSQL), formatted by
    /// the reader thread so the writer, the slower of the two, does not.
    pub ts_text: String,
    pub session_id: Option<String>,
    pub src_ip: Option<String>,
    pub sensor: String,
    pub fact: Option<Fact>,
    pub delta: Option<SessionDelta>,
    pub tunnel: Option<TunnelDelta>,
}

/// Why a line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    NotUtf8,
    NotJson(String),
    NotObject,
    MissingEventId,
    MissingTimestamp,
    BadTimestamp(String),
    /// Parses, but outside the range both databases store alike.
    TimestampOutOfRange(String),
    BadUnicode(String),
    TooDeep,
    FieldTooLong(&'static str, usize),
    /// Longer than the reader keeps (its length in bytes).
    TooLong(u64),
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::NotUtf8 => write!(f, "not valid UTF-8"),
            Reject::NotJson(e) => write!(f, "not valid JSON: {e}"),
            Reject::NotObject => write!(f, "not a JSON object"),
            Reject::MissingEventId => write!(f, "missing eventid"),
            Reject::MissingTimestamp => write!(f, "missing timestamp"),
            Reject::BadTimestamp(t) => write!(f, "unparsable timestamp {t:?}"),
            Reject::TimestampOutOfRange(t) => {
                write!(f, "timestamp {t:?} outside the stored range (years 1970 to 9999)")
            }
            Reject::BadUnicode(e) => write!(f, "invalid unicode escape: {e}"),
            Reject::TooDeep => write!(f, "JSON nested deeper than {MAX_DEPTH} levels"),
            Reject::TooLong(n) => write!(
                f,
                "line of {n} bytes, longer than the maximum of {} (its first {} bytes are kept)",
                crate::store::ingest::source::MAX_LINE,
                crate::store::ingest::source::DEAD_PREFIX
            ),
            Reject::FieldTooLong(field, n) => {
                write!(f, "field {field} is {n} bytes, longer than the {MAX_INDEXED_BYTES} an index can hold")
            }
        }
    }
}

/// A string field that tolerates any JSON scalar (numbers and booleans are written as text)
/// and treats null, arrays and objects as absent.
#[derive(Debug, Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Text, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Text, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl Text {
    /// A number, or a string holding one (Cowrie 2.7-3.0.3 wrote `duration` as `"120.0"`).
    fn number(&self) -> Option<f64> {
        self.0.as_deref().and_then(|s| s.trim().parse::<f64>().ok()).filter(|f| f.is_finite())
    }
    /// A whole number within i64 (ports, sizes); anything else is absent.
    fn int(&self) -> Option<i64> {
        self.0.as_deref().and_then(|s| s.trim().parse::<i64>().ok())
    }
    /// The text, unless it is empty or only blanks.
    fn non_blank(&self) -> Option<String> {
        self.0.as_deref().filter(|s| !s.trim().is_empty()).map(str::to_owned)
    }
}

/// The SSH client version as the client sent it. Cowrie versions logged it with Python's
/// quoting: `'SSH-2.0-libssh2_1.7.0'`, `b'SSH-2.0-PUTTY'`, sometimes with an escaped
/// `\r\n` inside. The stored column holds the bare string (the payload keeps the raw one);
/// what is left empty is no version.
pub fn clean_client_version(raw: &str) -> Option<String> {
    let mut v = raw.trim();
    const QUOTES: [(&str, &str); 4] = [("b'", "'"), ("b\"", "\""), ("'", "'"), ("\"", "\"")];
    loop {
        let before = v;
        if let Some(inner) = QUOTES.iter().find_map(|(open, close)| v.strip_prefix(open)?.strip_suffix(close)) {
            v = inner;
        }
        v = v.trim_end_matches("\\n").trim_end_matches("\\r").trim();
        if v == before {
            break;
        }
    }
    (!v.is_empty()).then(|| v.to_string())
}

/// The fields cowrieql extracts; everything else stays in the payload.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields {
    eventid: Text,
    timestamp: Text,
    session: Text,
    src_ip: Text,
    sensor: Text,
    protocol: Text,
    version: Text,
    hassh: Text,
    dst_ip: Text,
    duration: Text,
    duration_ms: Text,
    username: Text,
    password: Text,
    input: Text,
    url: Text,
    shasum: Text,
    outfile: Text,
    positives: Text,
    realm: Text,
    fingerprint: Text,
    #[serde(rename = "type")]
    key_type: Text,
    width: Text,
    height: Text,
    name: Text,
    value: Text,
    arch: Text,
    ttylog: Text,
    size: Text,
    destfile: Text,
    filename: Text,
    error: Text,
    cve: Text,
    attempted_command: Text,
    original_username: Text,
    messagenum: Text,
    datalen: Text,
    data: Text,
    dst_port: Text,
    orig_ip: Text,
    orig_port: Text,
    new_ip: Text,
    new_port: Text,
    ja4: Text,
    ja4h: Text,
}

/// Deepest JSON nesting accepted. Cowrie's events nest two or three levels; PostgreSQL's
/// jsonb runs out of stack somewhere past a few thousand and SQLite's JSON functions refuse
/// more than 1,000, so a deeper line would be stored on one backend and fail on the other.
pub const MAX_DEPTH: usize = 64;

/// Longest value accepted in a field that an index holds (eventid, session, src_ip, sensor,
/// and the payload's dst_ip and hassh): two of them fit one PostgreSQL index row (at most
/// 2,704 bytes) with room to spare. Cowrie writes a few dozen bytes.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// Whether `json` nests `[`/`{` deeper than [`MAX_DEPTH`] outside strings (a cheap scan
/// before parsing). A line with no more opening brackets than the limit cannot pass it:
/// counting them (memchr, vectorised) spares nearly every line the byte-by-byte walk.
fn too_deep(json: &str) -> bool {
    if memchr::memchr2_iter(b'{', b'[', json.as_bytes()).count() <= MAX_DEPTH {
        return false;
    }
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for &b in json.as_bytes() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses one line (without its newline). `offset` is where the line starts.
pub fn parse_line(line: &[u8], offset: u64) -> Result<Event, Reject> {
    let text = std::str::from_utf8(line).map_err(|_| Reject::NotUtf8)?;
    // A UTF-8 byte order mark (editors and some shippers write one) is not part of the JSON.
    let trimmed = text.strip_prefix('\u{feff}').unwrap_or(text).trim_end_matches('\r');
    if !trimmed.trim_start().starts_with('{') {
        // serde would also read a JSON array into a struct, positionally.
        return match serde_json::from_str::<serde::de::IgnoredAny>(trimmed) {
            Ok(_) => Err(Reject::NotObject),
            Err(e) => Err(Reject::NotJson(e.to_string())),
        };
    }
    if too_deep(trimmed) {
        return Err(Reject::TooDeep);
    }
    // Parse the stored form, so extracted columns carry no NUL either.
    let stored = escape_nul(trimmed);
    let mut f: Fields = serde_json::from_str(&stored).map_err(|e| Reject::NotJson(e.to_string()))?;
    if has_surrogate_escape(trimmed) {
        // Lone surrogates pass when a field is skipped, but PostgreSQL's jsonb refuses them:
        // validate the whole line so both backends accept exactly the same lines.
        serde_json::from_str::<serde_json::Value>(trimmed).map_err(|e| Reject::BadUnicode(e.to_string()))?;
    }
    let event_type = f.eventid.0.take().filter(|s| !s.is_empty()).ok_or(Reject::MissingEventId)?;
    let ts_text = f.timestamp.0.take().filter(|s| !s.is_empty()).ok_or(Reject::MissingTimestamp)?;
    let parsed = parse_cowrie_ts(&ts_text).ok_or_else(|| Reject::BadTimestamp(ts_text.clone()))?;
    let ts = crate::time::normalise(parsed).ok_or(Reject::TimestampOutOfRange(ts_text))?;
    let session_id = f.session.0.clone().filter(|s| !s.is_empty());
    let src_ip = f.src_ip.0.clone();
    let sensor = f.sensor.0.clone().unwrap_or_default();
    // Values that land in a B-tree index: PostgreSQL refuses an index row over ~2.7 KB,
    // which would stop every batch holding the line; both backends refuse the line instead.
    for (field, value) in [
        ("eventid", Some(&event_type)),
        ("session", session_id.as_ref()),
        ("src_ip", src_ip.as_ref()),
        ("sensor", Some(&sensor)),
        ("dst_ip", f.dst_ip.0.as_ref()),
        ("hassh", f.hassh.0.as_ref()),
    ] {
        if let Some(v) = value.filter(|v| v.len() > MAX_INDEXED_BYTES) {
            return Err(Reject::FieldTooLong(field, v.len()));
        }
    }

    let et = event_type.as_str();
    let fact = fact_of(et, &f);
    let tunnel = tunnel_of(et, &f, ts, &src_ip);
    let delta = session_id.as_ref().map(|_| session_delta(et, &f, ts, &src_ip, fact.as_ref()));
    Ok(Event {
        offset,
        hash: content_hash(line),
        payload: stored,
        event_type,
        ts_text: crate::time::canonical_text(&ts),
        ts,
        session_id,
        src_ip,
        sensor,
        fact,
        delta,
        tunnel,
    })
}

/// The fact row an event is (docs/schema.md, "Where each event id lands").
fn fact_of(et: &str, f: &Fields) -> Option<Fact> {
    let text = |t: &Text| t.0.clone();
    Some(match et {
        "cowrie.login.success" | "cowrie.login.failed" => {
            let key = f.fingerprint.0.is_some() || f.key_type.0.is_some();
            let method = if key {
                LoginMethod::PublicKey
            } else if f.password.0.is_none() && et == "cowrie.login.success" {
                // Cowrie's "none" checker (auth_none_enabled) logs a success with no password.
                LoginMethod::None
            } else {
                LoginMethod::Password
            };
            Fact::Login {
                username: f.username.0.clone().map(text::credential),
                password: f.password.0.clone().map(text::credential),
                success: et == "cowrie.login.success",
                method,
                key_type: text(&f.key_type),
                fingerprint: text(&f.fingerprint),
            }
        }
        // Blank lines (telnet logs one after every CRLF) are no command.
        "cowrie.command.input" | "cowrie.command.failed" | "cowrie.session.input" => {
            let input = f.input.non_blank()?;
            let realm = match f.realm.0.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => r.to_string(),
                None if et == "cowrie.session.input" => "stdin".to_string(),
                // A line typed at the shell holds no newline: this is a script body run by sh.
                None if input.contains('\n') => "sh".to_string(),
                None => "shell".to_string(),
            };
            Fact::Command { input, failed: et == "cowrie.command.failed", realm }
        }
        "cowrie.session.file_download"
        | "cowrie.session.file_upload"
        | "cowrie.session.file_download.failed"
        | "cowrie.session.file_download_failed" => {
            let mut url = f.url.non_blank();
            let mut destfile = f.destfile.non_blank();
            // 1.x logged a shell redirect's target path as its `url` ("Saved redir contents"):
            // a path is where the capture went, not where it came from.
            if et == "cowrie.session.file_download" && url.as_deref().is_some_and(|u| u.starts_with('/')) {
                destfile = destfile.or(url.take());
            }
            let (kind, direction) = match et {
                "cowrie.session.file_download.failed" | "cowrie.session.file_download_failed" => {
                    (TransferKind::Failed, Direction::Download)
                }
                "cowrie.session.file_download" if url.is_some() => (TransferKind::Url, Direction::Download),
                "cowrie.session.file_download" => (TransferKind::Redirect, Direction::Download),
                // SCP names where it wrote the file (`destfile`, and `url` holding the same path).
                _ if destfile.is_some() || url.is_some() => (TransferKind::UploadScp, Direction::Upload),
                _ => (TransferKind::UploadSftp, Direction::Upload),
            };
            let (url, destfile) = match kind {
                TransferKind::UploadScp => (None, destfile.or(url)),
                TransferKind::UploadSftp => (None, destfile.or_else(|| f.filename.non_blank())),
                _ => (url, destfile),
            };
            Fact::Transfer {
                url,
                shasum: text(&f.shasum),
                outfile: f.outfile.0.as_deref().map(normalise_outfile),
                direction,
                kind,
                destfile,
                error: text(&f.error),
            }
        }
        "cowrie.telnet.exploit_attempt" => Fact::Probe {
            kind: ProbeKind::ExploitAttempt,
            cve: text(&f.cve),
            username: None,
            name: text(&f.name),
            value: text(&f.value),
            detail: None,
        },
        "cowrie.telnet.exploit_success" => Fact::Probe {
            kind: ProbeKind::ExploitSuccess,
            cve: text(&f.cve),
            username: text(&f.username),
            name: None,
            value: text(&f.original_username),
            detail: text(&f.attempted_command),
        },
        "cowrie.telnet.error" => Fact::Probe {
            kind: ProbeKind::TelnetError,
            cve: None,
            username: None,
            name: None,
            value: None,
            detail: text(&f.error),
        },
        "cowrie.client.malformed_packet" => Fact::Probe {
            kind: ProbeKind::MalformedPacket,
            cve: None,
            username: None,
            name: text(&f.messagenum),
            value: text(&f.datalen),
            detail: text(&f.data),
        },
        "cowrie.command.chpasswd" => Fact::Probe {
            kind: ProbeKind::Chpasswd,
            cve: None,
            username: f.username.0.clone().map(text::credential),
            name: None,
            value: None,
            detail: None,
        },
        _ => return None,
    })
}

/// `var/lib/cowrie/downloads/<sha>` and `dl/<sha>` as the bare sha, as SCP writes it; any
/// other path as written.
fn normalise_outfile(p: &str) -> String {
    let last = p.rsplit('/').next().unwrap_or(p);
    if last.len() == 64 && last.bytes().all(|b| b.is_ascii_hexdigit()) {
        last.to_string()
    } else {
        p.to_string()
    }
}

/// A port-forward event's piece of its `tunnels` row.
fn tunnel_of(et: &str, f: &Fields, ts: DateTime<Utc>, src_ip: &Option<String>) -> Option<TunnelDelta> {
    let mut t = TunnelDelta {
        dst_ip: f.dst_ip.0.clone(),
        dst_port: f.dst_port.int().unwrap_or(0),
        src_ip: src_ip.clone(),
        first_seen: Some(ts),
        last_seen: Some(ts),
        ..Default::default()
    };
    let forwarded = |t: &mut TunnelDelta| {
        let bytes = text::py_bytes(f.data.0.as_deref().unwrap_or(""));
        t.data_events = 1;
        t.bytes = bytes.len() as i64;
        t.summary = tunnel::summarise(&bytes);
    };
    match et {
        "cowrie.direct-tcpip.request" => {
            t.requests = 1;
            t.orig_ip = f.orig_ip.0.clone();
            t.orig_port = f.orig_port.int();
        }
        "cowrie.direct-tcpip.redirect" | "cowrie.direct-tcpip.tunnel" => {
            t.route = Some(if et.ends_with("redirect") { "redirect" } else { "tunnel" });
            t.new_ip = f.new_ip.0.clone();
            t.new_port = f.new_port.int();
            t.orig_ip = f.orig_ip.0.clone();
            t.orig_port = f.orig_port.int();
        }
        "cowrie.direct-tcpip.ja4" => t.ja4 = f.ja4.0.clone(),
        "cowrie.direct-tcpip.ja4h" => t.ja4h = f.ja4h.0.clone(),
        "cowrie.direct-tcpip.data" => forwarded(&mut t),
        "cowrie.tunnelproxy-tcpip.data" => {
            // `dst_ip:dst_port` here is the honeypot's listener: the ingest names the target.
            t.dst_ip = None;
            t.dst_port = 0;
            forwarded(&mut t);
        }
        _ => return None,
    }
    Some(t)
}

/// What an event tells about its session.
fn session_delta(
    et: &str,
    f: &Fields,
    ts: DateTime<Utc>,
    src_ip: &Option<String>,
    fact: Option<&Fact>,
) -> SessionDelta {
    let mut d = SessionDelta {
        src_ip: src_ip.clone(),
        protocol: f.protocol.0.clone(),
        first_event_at: Some(ts),
        last_event_at: Some(ts),
        event_count: 1,
        ..Default::default()
    };
    match (et, fact) {
        (_, Some(Fact::Command { failed: false, realm, .. })) if realm == "shell" => d.command_count = 1,
        (_, Some(Fact::Command { failed: true, .. })) => d.failed_command_count = 1,
        (_, Some(Fact::Login { success, username, fingerprint, .. })) => {
            d.login_attempts = 1;
            d.login_failures = i64::from(!success);
            d.login_success = *success;
            if *success {
                d.username = username.clone();
            }
            d.key_fingerprint = fingerprint.clone();
        }
        (_, Some(Fact::Transfer { kind: TransferKind::Url, .. })) => d.download_count = 1,
        (_, Some(Fact::Transfer { direction: Direction::Upload, .. })) => d.upload_count = 1,
        (_, Some(Fact::Probe { .. })) => d.probe_count = 1,
        ("cowrie.client.version", _) => d.client_version = f.version.0.as_deref().and_then(clean_client_version),
        ("cowrie.client.kex", _) => d.hassh = f.hassh.0.clone(),
        ("cowrie.client.fingerprint", _) => d.key_fingerprint = f.fingerprint.0.clone(),
        ("cowrie.client.size", _) => {
            d.term_width = f.width.int();
            d.term_height = f.height.int();
            d.term_size_events = 1;
        }
        ("cowrie.client.var", _) => {
            if let Some(name) = f.name.0.clone() {
                d.env = Some(BTreeMap::from([(name, f.value.0.clone().unwrap_or_default())]));
            }
        }
        ("cowrie.session.params", _) => d.arch = f.arch.0.clone(),
        ("cowrie.log.closed", _) => {
            d.ttylog = f.ttylog.0.clone();
            d.ttylog_size = f.size.int();
        }
        ("cowrie.direct-tcpip.request", _) => d.tunnel_count = 1,
        ("cowrie.session.closed", _) => {
            d.closed = true;
            d.duration_s = f.duration_ms.number().map(|ms| ms / 1000.0).or_else(|| f.duration.number());
        }
        ("cowrie.virustotal.scanfile" | "cowrie.virustotal.scanurl", _) => {
            d.vt_flagged = f.positives.number().is_some_and(|p| p > 0.0)
        }
        _ => {}
    }
    let at = |set: bool| set.then_some(ts);
    d.username_at = at(d.username.is_some());
    d.key_fingerprint_at = at(d.key_fingerprint.is_some());
    d.arch_at = at(d.arch.is_some());
    d.ttylog_at = at(d.ttylog.is_some() || d.ttylog_size.is_some());
    d.term_at = at(d.term_width.is_some() || d.term_height.is_some());
    d
}

fn has_surrogate_escape(s: &str) -> bool {
    s.contains("\\ud") || s.contains("\\uD")
}

/// Rewrites the JSON escape `\u0000` as `\\u0000` (the literal text), leaving `\\u0000`
/// (an escaped backslash followed by `u0000`) alone.
pub fn escape_nul(s: &str) -> String {
    if !s.contains("u0000") {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1..].starts_with(b"u0000") {
                out.push_str("\\\\u0000");
                i += 6;
            } else {
                // Keep the escaped character whole: it may be multi-byte (found by fuzzing).
                let next = s[i + 1..].chars().next().unwrap_or('\u{fffd}');
                out.push('\\');
                out.push(next);
                i += 1 + next.len_utf8();
            }
        } else {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Event {
        parse_line(s.as_bytes(), 0).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Pieces of a session merged in any grouping and order give one summary: the first TTY
    /// log, key, arch and user by their events' times, the last terminal size (pieces that
    /// lack a value but start earlier once made the later piece's value win, so the result
    /// depended on which writer committed first).
    #[test]
    fn session_pieces_merge_alike_in_any_order() {
        let line = |sec: u32, id: &str, extra: &str| {
            ok(&format!(
                r#"{{"eventid":"{id}","session":"s","src_ip":"1.2.3.4","sensor":"h","timestamp":"2026-01-01T00:00:{sec:02}Z"{extra}}}"#
            ))
            .delta
            .unwrap()
        };
        let deltas = vec![
            line(1, "cowrie.session.connect", r#","protocol":"ssh""#),
            line(2, "cowrie.client.fingerprint", r#","fingerprint":"bb""#),
            line(3, "cowrie.login.success", r#","username":"root","password":"x""#),
            line(4, "cowrie.client.size", r#","width":80,"height":24"#),
            line(5, "cowrie.session.params", r#","arch":"arm""#),
            line(6, "cowrie.log.closed", r#","ttylog":"t/1","size":10"#),
            line(7, "cowrie.client.fingerprint", r#","fingerprint":"aa""#),
            line(8, "cowrie.client.size", r#","width":120,"height":40"#),
            line(9, "cowrie.session.params", r#","arch":"mips""#),
            line(10, "cowrie.log.closed", r#","ttylog":"t/2","size":20"#),
            line(10, "cowrie.log.closed", r#","ttylog":"t/0","size":30"#),
            line(11, "cowrie.session.closed", ""),
        ];
        let fold = |order: &[usize], cut: usize| {
            // Pieces of `cut` consecutive events (in `order`), each merged in order, then the
            // pieces merged in reverse.
            let pieces: Vec<SessionDelta> = order
                .chunks(cut)
                .map(|c| {
                    let mut p = deltas[c[0]].clone();
                    c[1..].iter().for_each(|&i| p.merge(&deltas[i]));
                    p
                })
                .collect();
            let mut all = pieces.last().unwrap().clone();
            pieces.iter().rev().skip(1).for_each(|p| all.merge(p));
            all
        };
        let forward: Vec<usize> = (0..deltas.len()).collect();
        let want = fold(&forward, 1);
        assert_eq!(want.ttylog.as_deref(), Some("t/1"));
        assert_eq!(want.ttylog_size, Some(10));
        assert_eq!(want.key_fingerprint.as_deref(), Some("bb"));
        assert_eq!(want.arch.as_deref(), Some("arm"));
        assert_eq!((want.term_width, want.term_height), (Some(120), Some(40)));
        let mut order = forward.clone();
        for round in 0..200usize {
            // A fixed shuffle per round (no randomness: the test is the same every run).
            order.rotate_left(round % 7 + 1);
            let n = order.len();
            order.swap(round % n, (round * 5 + 3) % n);
            for cut in [1, 2, 3, 5] {
                assert_eq!(fold(&order, cut), want, "order {order:?}, pieces of {cut}");
            }
        }
        // Two TTY logs closed in the same instant: the smaller name, whichever comes first.
        let mut a = deltas[9].clone();
        a.merge(&deltas[10]);
        let mut b = deltas[10].clone();
        b.merge(&deltas[9]);
        assert_eq!((a.ttylog.as_deref(), b.ttylog.as_deref()), (Some("t/0"), Some("t/0")));
    }

    #[test]
    fn login_success_fills_fact_and_session() {
        let e = ok(
            r#"{"eventid":"cowrie.login.success","username":"root","password":"x","session":"ab12","src_ip":"1.2.3.4","sensor":"s1","timestamp":"2020-01-01T00:00:00.5Z"}"#,
        );
        assert_eq!(
            e.fact,
            Some(Fact::Login {
                username: Some("root".into()),
                password: Some("x".into()),
                success: true,
                method: LoginMethod::Password,
                key_type: None,
                fingerprint: None
            })
        );
        let d = e.delta.unwrap();
        assert_eq!((d.login_attempts, d.login_failures, d.login_success), (1, 0, true));
        assert_eq!(d.username.as_deref(), Some("root"));
    }

    #[test]
    fn a_1x_redirect_whose_url_is_a_path_is_a_capture_not_a_download() {
        let e = ok(
            r#"{"eventid":"cowrie.session.file_download","shasum":"f8","url":"/dev/null","outfile":"dl/f8","session":"a","timestamp":"2018-05-19T18:01:46Z","message":"Saved redir contents with SHA-256 f8 to dl/f8"}"#,
        );
        match e.fact {
            Some(Fact::Transfer { url, kind, destfile, .. }) => {
                assert_eq!((url, kind, destfile.as_deref()), (None, TransferKind::Redirect, Some("/dev/null")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.delta.unwrap().download_count, 0, "a capture is no URL download");
        let e = ok(
            r#"{"eventid":"cowrie.session.file_download","shasum":"f8","url":"http://a/x","outfile":"dl/f8","session":"a","timestamp":"2018-05-19T18:01:46Z"}"#,
        );
        assert!(matches!(e.fact, Some(Fact::Transfer { kind: TransferKind::Url, .. })));
    }

    #[test]
    fn duration_variants() {
        for (line, want) in [
            (
                r#"{"eventid":"cowrie.session.closed","duration":30.5,"session":"a","timestamp":"2020-01-01T00:00:00Z"}"#,
                30.5,
            ),
            (
                r#"{"eventid":"cowrie.session.closed","duration":"120.0","session":"a","timestamp":"2020-01-01T00:00:00Z"}"#,
                120.0,
            ),
            (
                r#"{"eventid":"cowrie.session.closed","duration_ms":1500,"session":"a","timestamp":"2020-01-01T00:00:00Z"}"#,
                1.5,
            ),
        ] {
            let d = ok(line).delta.unwrap();
            assert!(d.closed);
            assert_eq!(d.duration_s, Some(want), "{line}");
        }
    }

    #[test]
    fn rejects_say_why() {
        let cases: [(&[u8], &str); 7] = [
            (b"not json", "not valid JSON"),
            (b"[1,2]", "not a JSON object"),
            (br#"{"timestamp":"2020-01-01T00:00:00Z"}"#, "missing eventid"),
            (br#"{"eventid":"x"}"#, "missing timestamp"),
            (br#"{"eventid":"x","timestamp":"soon"}"#, "unparsable timestamp"),
            (b"{\"eventid\":\"x\",\xff}", "not valid UTF-8"),
            (br#"{"eventid":"x","timestamp":"2020-01-01T00:00:00Z","u":"\udc00"}"#, "invalid unicode"),
        ];
        for (line, want) in cases {
            let err = parse_line(line, 0).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn odd_field_types_are_tolerated() {
        let e = ok(
            r#"{"eventid":"cowrie.login.failed","username":123,"password":null,"session":"a","timestamp":"2020-01-01T00:00:00+0000","message":[]}"#,
        );
        assert_eq!(
            e.fact,
            Some(Fact::Login {
                username: Some("123".into()),
                password: None,
                success: false,
                method: LoginMethod::Password,
                key_type: None,
                fingerprint: None
            })
        );
    }

    #[test]
    fn nul_escapes_are_neutralised_but_escaped_backslashes_kept() {
        assert_eq!(escape_nul(r#"{"a":"x\u0000y"}"#), r#"{"a":"x\\u0000y"}"#);
        assert_eq!(escape_nul(r#"{"a":"x\\u0000y"}"#), r#"{"a":"x\\u0000y"}"#);
        assert_eq!(escape_nul(r#"{"a":"é\u0000"}"#), r#"{"a":"é\\u0000"}"#);
        // A backslash before a multi-byte character (a fuzzing find).
        assert_eq!(escape_nul("\\ު u0000"), "\\ު u0000");
    }

    #[test]
    fn merge_is_order_independent() {
        let a = ok(r#"{"eventid":"cowrie.session.connect","protocol":"ssh","src_ip":"1.1.1.1","session":"a","timestamp":"2020-01-01T00:00:00Z"}"#).delta.unwrap();
        let b = ok(r#"{"eventid":"cowrie.login.success","username":"u","session":"a","src_ip":"1.1.1.1","timestamp":"2020-01-01T00:00:05Z"}"#).delta.unwrap();
        let c =
            ok(r#"{"eventid":"cowrie.session.closed","duration":9,"session":"a","timestamp":"2020-01-01T00:00:09Z"}"#)
                .delta
                .unwrap();
        let mut x = a.clone();
        x.merge(&b);
        x.merge(&c);
        let mut y = c.clone();
        y.merge(&b);
        y.merge(&a);
        assert_eq!(x, y);
        assert_eq!(x.event_count, 3);
        assert_eq!(x.protocol.as_deref(), Some("ssh"));
        assert_eq!(x.duration_s, Some(9.0));
    }

    #[test]
    fn client_versions_lose_pythons_quoting() {
        for raw in [
            "SSH-2.0-libssh2_1.7.0",
            "'SSH-2.0-libssh2_1.7.0'",
            "b'SSH-2.0-libssh2_1.7.0'",
            "b\"SSH-2.0-libssh2_1.7.0\"",
            "\"'SSH-2.0-libssh2_1.7.0'\"",
            " SSH-2.0-libssh2_1.7.0\\r\\n ",
            "b'SSH-2.0-libssh2_1.7.0\\r\\n'",
        ] {
            assert_eq!(clean_client_version(raw).as_deref(), Some("SSH-2.0-libssh2_1.7.0"), "{raw:?}");
        }
        assert_eq!(clean_client_version("b''"), None);
        assert_eq!(clean_client_version("  "), None);
        // Quotes inside a version are the client's own.
        assert_eq!(clean_client_version("SSH-2.0-it's").as_deref(), Some("SSH-2.0-it's"));
    }
}
