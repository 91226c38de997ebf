//! A batch: the unit of work written in one transaction, and what it implies once the
//! database has said which of its events are new.

use std::collections::HashMap;

use super::event::{ContentHash, Event, Fact, SessionDelta, TunnelDelta};

/// A line that could not be accepted.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub offset: u64,
    pub raw: String,
    pub reason: String,
    pub hash: ContentHash,
}

impl DeadLetter {
    pub fn new(offset: u64, line: &[u8], reason: String) -> Self {
        // Lossy text with NUL replaced: PostgreSQL text cannot hold NUL, and both backends
        // must store the same thing. The hash is over the original bytes.
        let raw = String::from_utf8_lossy(line).replace('\0', "\u{fffd}");
        Self { offset, raw, reason, hash: super::event::content_hash(line) }
    }
}

/// How far a source has been read; written in the same transaction as the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub source_file: String,
    pub byte_offset: u64,
    pub head_hash: Vec<u8>,
    pub head_len: u64,
    pub lines_read: u64,
}

/// Lines of one source, written together.
#[derive(Debug, Default)]
pub struct Batch {
    pub source: String,
    pub events: Vec<Event>,
    pub dead: Vec<DeadLetter>,
    /// Non-blank lines in this batch (= events + dead letters).
    pub lines: u64,
    pub blank: u64,
    /// None for standard input, which cannot be resumed.
    pub checkpoint: Option<Checkpoint>,
    /// Bytes of the source consumed by this batch (progress).
    pub bytes: u64,
    /// This batch's place in its source in this run (1 for the first), and the byte it starts
    /// at (of the decompressed stream, for .gz): named when writing it fails.
    pub number: u64,
    pub start_byte: u64,
}

/// Key of a session: ids are unique only per sensor.
pub type SessionKey = (String, String);

/// Key of a `tunnels` row: (sensor, session, target host, target port).
pub type TunnelKey = (String, String, String, i64);

/// The rows a batch adds beyond `raw_events`, computed from its new events only, so a
/// duplicate line changes no fact and no counter.
pub struct Plan<'a> {
    pub logins: Vec<(i64, &'a Event)>,
    pub commands: Vec<(i64, &'a Event)>,
    pub transfers: Vec<(i64, &'a Event)>,
    pub probes: Vec<(i64, &'a Event)>,
    pub sessions: Vec<(SessionKey, SessionDelta)>,
    pub tunnels: Vec<(TunnelKey, TunnelDelta)>,
}

/// `new_ids` maps the offset of each newly inserted event to its `raw_events.id`.
pub fn plan<'a>(batch: &'a Batch, new_ids: &HashMap<u64, i64>) -> Plan<'a> {
    let mut p = Plan {
        logins: Vec::new(),
        commands: Vec::new(),
        transfers: Vec::new(),
        probes: Vec::new(),
        sessions: Vec::new(),
        tunnels: Vec::new(),
    };
    let mut sessions: HashMap<SessionKey, SessionDelta> = HashMap::new();
    let mut tunnels: HashMap<TunnelKey, TunnelDelta> = HashMap::new();
    for e in &batch.events {
        let Some(&id) = new_ids.get(&e.offset) else { continue };
        if let (Some(sid), Some(delta)) = (&e.session_id, &e.delta) {
            match e.fact {
                Some(Fact::Login { .. }) => p.logins.push((id, e)),
                Some(Fact::Command { .. }) => p.commands.push((id, e)),
                Some(Fact::Transfer { .. }) => p.transfers.push((id, e)),
                Some(Fact::Probe { .. }) => p.probes.push((id, e)),
                None => {}
            }
            // A tunnelled forward's data whose target the reader could not name stays raw.
            if let Some(t) = e.tunnel.as_ref().filter(|t| t.dst_ip.is_some()) {
                let key = (e.sensor.clone(), sid.clone(), t.dst_ip.clone().unwrap_or_default(), t.dst_port);
                match tunnels.get_mut(&key) {
                    Some(d) => d.merge(t),
                    None => {
                        tunnels.insert(key, t.clone());
                    }
                }
            }
            match sessions.get_mut(&(e.sensor.clone(), sid.clone())) {
                Some(d) => d.merge(delta),
                None => {
                    sessions.insert((e.sensor.clone(), sid.clone()), delta.clone());
                }
            }
        }
    }
    p.sessions = sessions.into_iter().collect();
    // Deterministic statement text and lock order.
    p.sessions.sort_by(|a, b| a.0.cmp(&b.0));
    p.tunnels = tunnels.into_iter().collect();
    p.tunnels.sort_by(|a, b| a.0.cmp(&b.0));
    p
}

// The columns each backend writes, in the order its writer supplies them (one list for both,
// so a schema change is made once).
pub const RAW_COLUMNS: &str =
    "session_id, event_type, ts, src_ip, sensor, payload, source_file, source_offset, content_hash";
pub const LOGIN_COLUMNS: &str =
    "event_id, session_id, ts, sensor, src_ip, username, password, success, method, key_type, fingerprint";
pub const COMMAND_COLUMNS: &str = "event_id, session_id, ts, sensor, src_ip, input, failed, realm";
pub const TRANSFER_COLUMNS: &str =
    "event_id, session_id, ts, sensor, src_ip, url, shasum, outfile, direction, kind, destfile, error";
pub const PROBE_COLUMNS: &str = "event_id, session_id, ts, sensor, src_ip, kind, cve, username, name, value, detail";

/// Events with their new `raw_events` ids.
pub type NewFacts<'p, 'a> = &'p [(i64, &'a Event)];

/// The fact tables written one row per event: (Plan field, table, columns).
pub fn fact_tables<'p, 'a>(p: &'p Plan<'a>) -> [(NewFacts<'p, 'a>, &'static str, &'static str); 4] {
    [
        (&p.logins, "logins", LOGIN_COLUMNS),
        (&p.commands, "commands", COMMAND_COLUMNS),
        (&p.transfers, "downloads", TRANSFER_COLUMNS),
        (&p.probes, "probes", PROBE_COLUMNS),
    ]
}
pub const DEAD_LETTER_COLUMNS: &str = "source_file, source_offset, raw, reason, content_hash, created_at";

/// Records that stored data changed (a batch added rows), for views' staleness.
pub const DATA_CHANGED: &str = "INSERT INTO data_changes (id, changed_at) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET changed_at = excluded.changed_at";

/// Records how far a source has been read, never moving a stored checkpoint backwards: with
/// two writers an older checkpoint can commit after a newer one (commit_order.rs). A file read
/// from its start again has its checkpoint deleted first. `$N` placeholders: PostgreSQL's, and on SQLite
/// named parameters numbered in order of appearance, so both bind them by position.
pub const CHECKPOINT_UPSERT: &str =
    "INSERT INTO ingest_checkpoints (source_file, byte_offset, head_hash, head_len, lines_read, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source_file) DO UPDATE SET byte_offset = excluded.byte_offset, \
     head_hash = excluded.head_hash, head_len = excluded.head_len, lines_read = excluded.lines_read, updated_at = excluded.updated_at \
     WHERE excluded.byte_offset >= ingest_checkpoints.byte_offset";

pub const SESSION_COLUMNS: [&str; 36] = [
    "sensor",
    "session_id",
    "src_ip",
    "protocol",
    "first_event_at",
    "last_event_at",
    "duration_s",
    "event_count",
    "command_count",
    "failed_command_count",
    "login_attempts",
    "login_failures",
    "login_success",
    "username",
    "download_count",
    "upload_count",
    "client_version",
    "hassh",
    "closed",
    "vt_flagged",
    "dshield_flagged",
    "key_fingerprint",
    "term_width",
    "term_height",
    "term_size_events",
    "env",
    "arch",
    "ttylog",
    "ttylog_size",
    "probe_count",
    "tunnel_count",
    "username_at",
    "key_fingerprint_at",
    "arch_at",
    "ttylog_at",
    "term_at",
];

pub const TUNNEL_COLUMNS: [&str; 23] = [
    "sensor",
    "session_id",
    "dst_ip",
    "dst_port",
    "src_ip",
    "first_seen",
    "last_seen",
    "requests",
    "data_events",
    "bytes",
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

/// How a dialect writes the SQL the merges need: two-argument min and max, and the JSON
/// object of `a` with `b`'s keys set over it.
pub struct MergeSql {
    pub least: &'static str,
    pub greatest: &'static str,
    pub json_merge: fn(&str, &str) -> String,
    /// After a text operand: compare it byte by byte (as Rust compares strings).
    pub bytewise: &'static str,
}

/// The `ON CONFLICT` tail of the sessions upsert: it merges a stored summary with a new piece
/// exactly as `SessionDelta::merge` does.
pub fn session_merge_sql(m: &MergeSql) -> String {
    let (least, greatest) = (m.least, m.greatest);
    let earliest = "excluded.first_event_at < sessions.first_event_at";
    let later = "excluded.last_event_at > sessions.last_event_at";
    let mut sets: Vec<String> = ["src_ip", "protocol", "client_version", "hassh", "duration_s"]
        .iter()
        .map(|c| wins(c, "sessions", earliest))
        .collect();
    // Values several events can give: by the time of the event that gave each.
    sets.extend(by_time(&["username"], "username_at", "username", false, m.bytewise));
    sets.extend(by_time(&["key_fingerprint"], "key_fingerprint_at", "key_fingerprint", false, m.bytewise));
    sets.extend(by_time(&["arch"], "arch_at", "arch", false, m.bytewise));
    sets.extend(by_time(&["ttylog", "ttylog_size"], "ttylog_at", "ttylog", false, m.bytewise));
    sets.extend(by_time(&["term_width", "term_height"], "term_at", "term_width", true, ""));
    let merged = |a: &str, b: &str| {
        format!("CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} ELSE {} END", (m.json_merge)(a, b))
    };
    sets.push(format!(
        "env = CASE WHEN {later} THEN {} ELSE {} END",
        merged("sessions.env", "excluded.env"),
        merged("excluded.env", "sessions.env")
    ));
    sets.push(format!("first_event_at = {least}(sessions.first_event_at, excluded.first_event_at)"));
    sets.push(format!("last_event_at = {greatest}(sessions.last_event_at, excluded.last_event_at)"));
    for c in [
        "event_count",
        "command_count",
        "failed_command_count",
        "login_attempts",
        "login_failures",
        "download_count",
        "upload_count",
        "term_size_events",
        "probe_count",
        "tunnel_count",
    ] {
        sets.push(format!("{c} = sessions.{c} + excluded.{c}"));
    }
    for c in ["login_success", "closed", "vt_flagged", "dshield_flagged"] {
        sets.push(format!("{c} = sessions.{c} OR excluded.{c}"));
    }
    format!(" ON CONFLICT (sensor, session_id) DO UPDATE SET {}", sets.join(", "))
}

/// The `ON CONFLICT` tail of the tunnels upsert, as `TunnelDelta::merge` does it.
pub fn tunnel_merge_sql(m: &MergeSql) -> String {
    let earliest = "excluded.first_seen < tunnels.first_seen";
    let mut sets: Vec<String> =
        super::event::tunnel::EARLIEST_WINS.iter().map(|c| wins(c, "tunnels", earliest)).collect();
    sets.push(format!("first_seen = {}(tunnels.first_seen, excluded.first_seen)", m.least));
    sets.push(format!("last_seen = {}(tunnels.last_seen, excluded.last_seen)", m.greatest));
    for c in ["requests", "data_events", "bytes"] {
        sets.push(format!("{c} = tunnels.{c} + excluded.{c}"));
    }
    format!(" ON CONFLICT (sensor, session_id, dst_ip, dst_port) DO UPDATE SET {}", sets.join(", "))
}

/// `cols` and their time `at` take the new piece's values when its time is earlier (`later`:
/// later), or the same with a smaller `key` (`key` followed by `bytewise` for text): as
/// `SessionDelta::merge`'s `stamped_wins`.
fn by_time(cols: &[&str], at: &str, key: &str, later: bool, bytewise: &str) -> Vec<String> {
    let cmp = if later { ">" } else { "<" };
    let new_wins = format!(
        "excluded.{at} IS NOT NULL AND (sessions.{at} IS NULL OR excluded.{at} {cmp} sessions.{at} \
         OR (excluded.{at} = sessions.{at} AND excluded.{key}{bytewise} < sessions.{key}))"
    );
    cols.iter()
        .chain([&at])
        .map(|c| format!("{c} = CASE WHEN {new_wins} THEN excluded.{c} ELSE sessions.{c} END"))
        .collect()
}

/// `c` takes the new piece's value when `new_wins` holds and it has one, else keeps the
/// stored value when there is one.
fn wins(c: &str, table: &str, new_wins: &str) -> String {
    format!(
        "{c} = CASE WHEN {new_wins} THEN COALESCE(excluded.{c}, {table}.{c}) ELSE COALESCE({table}.{c}, excluded.{c}) END"
    )
}
