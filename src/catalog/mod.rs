//! The tables and columns that reports may use: one source of truth for the schema.
//! The migrations' tests check that the databases they create match it.

pub mod events;

/// A column's type as the report language sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Float,
    Text,
    Bool,
    Timestamp,
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

macro_rules! cols {
    ($($name:literal : $ty:ident $(? $n:tt)?),* $(,)?) => {
        &[$(Column { name: $name, ty: ColType::$ty, nullable: cols!(@n $($n)?) }),*]
    };
    (@n) => { false };
    (@n $n:tt) => { true };
}

pub const TABLES: &[Table] = &[
    Table {
        name: "raw_events",
        columns: cols!["id": Int, "session_id": Text?1, "event_type": Text, "ts": Timestamp, "src_ip": Text?1,
            "sensor": Text, "payload": Json, "source_file": Text, "source_offset": Int],
    },
    Table {
        name: "sessions",
        columns: cols!["sensor": Text, "session_id": Text, "src_ip": Text?1, "protocol": Text?1,
            "first_event_at": Timestamp, "last_event_at": Timestamp, "duration_s": Float?1, "event_count": Int,
            "command_count": Int, "failed_command_count": Int, "login_attempts": Int, "login_failures": Int,
            "login_success": Bool, "username": Text?1, "download_count": Int, "upload_count": Int,
            "client_version": Text?1, "hassh": Text?1, "closed": Bool, "vt_flagged": Bool, "dshield_flagged": Bool,
            "key_fingerprint": Text?1, "term_width": Int?1, "term_height": Int?1, "term_size_events": Int, "env": Json?1,
            "arch": Text?1, "ttylog": Text?1, "ttylog_size": Int?1, "probe_count": Int, "tunnel_count": Int,
            "username_at": Timestamp?1, "key_fingerprint_at": Timestamp?1, "arch_at": Timestamp?1,
            "ttylog_at": Timestamp?1, "term_at": Timestamp?1],
    },
    Table {
        name: "logins",
        columns: cols!["id": Int, "event_id": Int, "session_id": Text, "ts": Timestamp, "sensor": Text, "src_ip": Text?1,
            "username": Text?1, "password": Text?1, "success": Bool, "method": Text, "key_type": Text?1,
            "fingerprint": Text?1],
    },
    Table {
        name: "commands",
        columns: cols!["id": Int, "event_id": Int, "session_id": Text, "ts": Timestamp, "sensor": Text, "src_ip": Text?1,
            "input": Text, "failed": Bool, "realm": Text],
    },
    Table {
        name: "downloads",
        columns: cols!["id": Int, "event_id": Int, "session_id": Text, "ts": Timestamp, "sensor": Text, "src_ip": Text?1,
            "url": Text?1, "shasum": Text?1, "outfile": Text?1, "direction": Text, "kind": Text, "destfile": Text?1,
            "error": Text?1],
    },
    Table {
        name: "tunnels",
        columns: cols!["sensor": Text, "session_id": Text, "dst_ip": Text, "dst_port": Int, "src_ip": Text?1,
            "first_seen": Timestamp, "last_seen": Timestamp, "requests": Int, "data_events": Int, "bytes": Int,
            "orig_ip": Text?1, "orig_port": Int?1, "route": Text?1, "new_ip": Text?1, "new_port": Int?1, "ja4": Text?1,
            "ja4h": Text?1, "http_method": Text?1, "http_host": Text?1, "http_path": Text?1, "tls_sni": Text?1,
            "smtp_helo": Text?1, "smtp_mail_from": Text?1],
    },
    Table {
        name: "probes",
        columns: cols!["id": Int, "event_id": Int, "session_id": Text, "ts": Timestamp, "sensor": Text, "src_ip": Text?1,
            "kind": Text, "cve": Text?1, "username": Text?1, "name": Text?1, "value": Text?1, "detail": Text?1],
    },
    Table {
        name: "dead_letters",
        columns: cols!["id": Int, "source_file": Text, "source_offset": Int, "raw": Text, "reason": Text, "created_at": Timestamp],
    },
];

/// Columns the report language does not offer, and why (checked against the schema with
/// [`TABLES`]: every column of a catalog table is offered or named here).
pub const HIDDEN: &[(&str, &str, &str)] = &[
    ("raw_events", "content_hash", "dedup key: a hash of the line, not something to report on"),
    ("dead_letters", "content_hash", "dedup key"),
];

/// Tables the report language does not offer: cowrieql's own bookkeeping.
pub const INTERNAL_TABLES: &[&str] = &["schema_migrations", "view_registry", "data_changes", "ingest_checkpoints"];

/// Payload fields commonly found per event id (Cowrie 1.x to 3.x), for `cowrieql schema`:
/// what `raw_events.payload.<path>` reaches beyond the columns. Every event also carries
/// `eventid`, `timestamp`, `session`, `src_ip`, `sensor` and `message`.
pub const PAYLOAD_PATHS: &[(&str, &[&str])] = &[
    ("cowrie.session.connect", &["src_port", "dst_ip", "dst_port", "protocol"]),
    ("cowrie.client.version", &["version"]),
    ("cowrie.client.kex", &["hassh", "hasshAlgorithms", "kexAlgs[0]", "keyAlgs[0]", "encCS[0]", "macCS[0]"]),
    ("cowrie.client.size", &["width", "height"]),
    ("cowrie.client.fingerprint", &["username", "fingerprint", "key", "type"]),
    ("cowrie.login.success / cowrie.login.failed", &["username", "password", "fingerprint", "key", "type"]),
    ("cowrie.session.params", &["arch"]),
    ("cowrie.command.input / cowrie.command.failed", &["input"]),
    ("cowrie.session.file_download", &["url", "shasum", "outfile", "destfile", "duplicate"]),
    ("cowrie.session.file_download.failed", &["url", "error"]),
    ("cowrie.session.file_upload", &["filename", "shasum", "outfile", "url"]),
    ("cowrie.direct-tcpip.request", &["dst_ip", "dst_port", "src_ip", "src_port"]),
    ("cowrie.direct-tcpip.data", &["dst_ip", "dst_port", "data"]),
    ("cowrie.log.closed", &["ttylog", "size", "shasum", "duration"]),
    ("cowrie.session.closed", &["duration"]),
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}
