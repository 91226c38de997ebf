//! Database errors in words: the server's message once (sqlx's own text repeats it and adds
//! the line of PostgreSQL's C source that raised it), and a hint where the cause is known.

use sqlx::postgres::PgDatabaseError;

/// The store's refusals that a caller may act on (choose another database, finish a
/// migration), as types to match rather than texts to compare.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database named does not exist, or holds no cowrieql schema: a usage error with
    /// the way out.
    #[error("no cowrieql database at {0}: load logs with `cowrieql ingest`, or choose one with --db")]
    NoDatabase(String),
    /// Another application's tables, and no cowrieql schema.
    #[error(
        "this database already holds tables of something else ({0}) and no cowrieql schema: \
         choose another database with --db, or add cowrieql's tables to it with --init"
    )]
    ForeignDatabase(String),
    /// The target of a migrate-to-postgres that has not finished.
    #[error(
        "this database is the target of an unfinished migrate-to-postgres from {source_file} (status {status}); \
         run migrate-to-postgres again to finish it, or --rollback to remove it"
    )]
    UnfinishedMigration { source_file: String, status: String },
    /// Migration 9's rows are not all in the monthly partitions yet.
    #[error(
        "this database is being converted to monthly partitions and its rows are not all moved yet: \
         run `cowrieql db migrate` (as the schema's owner) to finish it; it goes on from where it stopped"
    )]
    UnfinishedPartitioning,
    /// migrate-to-postgres was given a target that is not a PostgreSQL server.
    #[error("--to must be a PostgreSQL URL (postgres://…), not {0}")]
    NotPostgres(String),
}

/// The first driver error in `e`'s chain.
fn driver_error(e: &anyhow::Error) -> Option<&sqlx::Error> {
    e.chain().find_map(|c| c.downcast_ref::<sqlx::Error>())
}

/// SQLite's primary result code (the low byte of the extended code sqlx reports).
pub(crate) fn sqlite_primary_code(e: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(db) = e else { return None };
    if db.try_downcast_ref::<PgDatabaseError>().is_some() {
        return None;
    }
    db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff)
}

/// The database refused a write because this connection may only read: a SELECT-only
/// PostgreSQL role, a standby server, a read-only SQLite file.
pub fn is_read_only(e: &anyhow::Error) -> bool {
    let Some(err @ sqlx::Error::Database(db)) = driver_error(e) else { return false };
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        // insufficient_privilege, read_only_sql_transaction (a standby, or a read-only session)
        return matches!(pg.code(), "42501" | "25006");
    }
    // SQLITE_READONLY
    sqlite_primary_code(err) == Some(8)
}

/// A connection-level I/O failure that means the server went away mid-conversation.
fn lost_server(io: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(io.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// One driver error as a sentence: the message, PostgreSQL's detail and hint, and ours.
pub fn words(e: &sqlx::Error) -> String {
    const LOST: &str = "the server closed the connection: is it running? (check its log, then run the command again)";
    match e {
        sqlx::Error::Database(db) => {
            let mut out = db.message().to_string();
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                for extra in [pg.detail(), pg.hint()].into_iter().flatten() {
                    out.push_str(" (");
                    out.push_str(extra);
                    out.push(')');
                }
                if let Some(hint) = pg_hint(pg.code()) {
                    out.push_str(": ");
                    out.push_str(hint);
                }
            }
            out
        }
        sqlx::Error::Io(io) if lost_server(io) => format!("{LOST} [{io}]"),
        // sqlx reports a connection that ended inside a message as a protocol error.
        sqlx::Error::Protocol(p) if p.contains("at EOF") || p.contains("unexpected end") => format!("{LOST} [{p}]"),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".into(),
        sqlx::Error::PoolClosed => "the connection pool was closed".into(),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string().lines().next().unwrap_or_default().to_string(),
    }
}

/// What to do about a PostgreSQL error class an operator meets in practice.
fn pg_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "42501" => "this role may not do that; run the command as the database's owner, or grant the privilege",
        "25006" => "this server only reads (a standby, or default_transaction_read_only): write to the primary",
        "53100" => "the server's disk is full: free space there, then run the command again",
        "53200" => "the server ran out of memory",
        "53300" => "the server has no connection slots left: lower --pool-size, or raise max_connections",
        "57P01" | "57P02" | "57P03" => {
            "the server is shutting down or starting up: run the command again when it is up"
        }
        "40P01" => "deadlock with another session: run the command again",
        "40001" => "a concurrent transaction conflicted: run the command again",
        _ => return None,
    })
}

/// `e` and its causes, one clause each, for the user: the chain stops at the driver error,
/// whose own sources would repeat its text.
pub fn describe(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let driver = cause.downcast_ref::<sqlx::Error>();
        let text = driver.map(words).unwrap_or_else(|| cause.to_string());
        // A message that already ends with its cause's text (formatted in by hand) says it once.
        if !parts.last().is_some_and(|p| p.ends_with(&text)) {
            parts.push(text);
        }
        if driver.is_some() {
            break;
        }
    }
    parts.join(": ")
}
