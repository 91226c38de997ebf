//! What migrate-to-postgres copies: every table's physical columns and key (here), the
//! conversion of SQLite's values into PostgreSQL's types (`cells`), and the digests that
//! validate the copy (`digest`).

mod cells;
mod digest;

pub use cells::*;
pub use digest::*;

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
            ("method", Text),
            ("key_type", Text),
            ("fingerprint", Text),
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
            ("realm", Text),
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
            ("kind", Text),
            ("destfile", Text),
            ("error", Text),
        ],
        identity: true,
    },
    TableSpec {
        name: "probes",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("event_id", Int),
            ("session_id", Text),
            ("ts", Ts),
            ("sensor", Text),
            ("src_ip", Text),
            ("kind", Text),
            ("cve", Text),
            ("username", Text),
            ("name", Text),
            ("value", Text),
            ("detail", Text),
        ],
        identity: true,
    },
    TableSpec {
        name: "tunnels",
        key: &["sensor", "session_id", "dst_ip", "dst_port"],
        columns: &[
            ("sensor", Text),
            ("session_id", Text),
            ("dst_ip", Text),
            ("dst_port", Int),
            ("src_ip", Text),
            ("first_seen", Ts),
            ("last_seen", Ts),
            ("requests", Int),
            ("data_events", Int),
            ("bytes", Int),
            ("orig_ip", Text),
            ("orig_port", Int),
            ("route", Text),
            ("new_ip", Text),
            ("new_port", Int),
            ("ja4", Text),
            ("ja4h", Text),
            ("http_method", Text),
            ("http_host", Text),
            ("http_path", Text),
            ("tls_sni", Text),
            ("smtp_helo", Text),
            ("smtp_mail_from", Text),
        ],
        identity: false,
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
            ("key_fingerprint", Text),
            ("term_width", Int),
            ("term_height", Int),
            ("term_size_events", Int),
            ("env", Json),
            ("arch", Text),
            ("ttylog", Text),
            ("ttylog_size", Int),
            ("probe_count", Int),
            ("tunnel_count", Int),
            ("username_at", Ts),
            ("key_fingerprint_at", Ts),
            ("arch_at", Ts),
            ("ttylog_at", Ts),
            ("term_at", Ts),
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
}
