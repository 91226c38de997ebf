//! Choosing and opening the database: a SQLite file or a PostgreSQL server.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

/// Default database when neither `--db` nor `COWRIEQL_DB` is given.
pub const DEFAULT_DB: &str = "sqlite://cowrieql.sqlite";

/// Which SQL engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool settings shared by both backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { pool_size: 4, connect_timeout: Duration::from_secs(10) }
    }
}

/// An open database.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens `url`: `postgres://…`/`postgresql://…`, `sqlite://PATH`, `sqlite::memory:`,
    /// or a bare file path (taken as SQLite).
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pg = PgConnectOptions::from_str(url).map_err(|e| anyhow!("invalid PostgreSQL URL: {e}"))?;
            let target = describe_pg(&pg);
            // Probe with one connection first: a pool reports a refused connection only as a
            // time-out, and the operator needs the real cause.
            match tokio::time::timeout(opts.connect_timeout, PgConnection::connect_with(&pg)).await {
                Err(_) => {
                    return Err(anyhow!(
                        "cannot connect to PostgreSQL at {target}: timed out after {:?}",
                        opts.connect_timeout
                    ))
                }
                Ok(Err(e)) => return Err(anyhow!("cannot connect to PostgreSQL at {target}: {}", short_cause(&e))),
                Ok(Ok(conn)) => drop(conn),
            }
            let pool = PgPoolOptions::new()
                .max_connections(opts.pool_size.max(1))
                .acquire_timeout(opts.connect_timeout)
                .connect_with(pg)
                .await
                .map_err(|e| anyhow!("cannot connect to PostgreSQL at {target}: {}", short_cause(&e)))?;
            Ok(Store::Postgres(pool))
        } else {
            let sq = sqlite_options(url)?;
            let path = sq.get_filename().display().to_string();
            let pool = SqlitePoolOptions::new()
                // One writer at a time avoids `database is locked` under concurrent writes.
                .max_connections(opts.pool_size.max(1))
                .acquire_timeout(opts.connect_timeout)
                .connect_with(sq)
                .await
                .map_err(|e| anyhow!("cannot open SQLite database {path}: {}", short_cause(&e)))?;
            Ok(Store::Sqlite(pool))
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p) => p.close().await,
            Store::Postgres(p) => p.close().await,
        }
    }
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    let opts = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).with_context(|| format!("invalid SQLite URL {url}"))?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    Ok(opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        // 64 MiB page cache: ingest updates random-order indexes (content hash, session),
        // and the 2 MiB default sends most page reads to the kernel.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        // Checkpoint every 64 MiB of WAL instead of 4 MiB: an index page changed by many
        // batches is copied into the database once per checkpoint, not once per 4 MiB (perf
        // showed the write and fsync calls of checkpoints at a fifth of ingest time).
        .pragma("wal_autocheckpoint", "16384")
        // 8 KiB pages for new databases (an existing file keeps its own): rows hold whole log
        // lines, and ingest ran 13% faster than with 4 KiB (cargo bench --bench ingest, three
        // rounds each; 16 KiB was faster still for a bare insert but gained less for ingest).
        .page_size(8192)
        .foreign_keys(false))
}

fn describe_pg(pg: &PgConnectOptions) -> String {
    match pg.get_socket() {
        Some(sock) => format!("socket {} port {}", sock.display(), pg.get_port()),
        None => format!("{}:{}", pg.get_host(), pg.get_port()),
    }
}

/// The innermost, human-meaningful cause of a driver error, on one line.
pub fn short_cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string().lines().next().unwrap_or_default().to_string(),
    }
}
