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
        self.dialect().name()
    }

    /// The SQL dialect the compiler emits for this engine.
    pub fn dialect(self) -> &'static dyn crate::sql::Dialect {
        match self {
            Backend::Sqlite => &crate::sql::SQLITE,
            Backend::Postgres => &crate::sql::POSTGRES,
        }
    }
}

/// Pool settings shared by both backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
    /// Create a missing SQLite file (commands that load or migrate); read commands never do.
    pub create: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { pool_size: 4, connect_timeout: Duration::from_secs(10), create: true }
    }
}

/// The database named does not exist, or holds no cowrieql schema: a usage error (exit 2)
/// with the way out.
#[derive(Debug, thiserror::Error)]
#[error("no cowrieql database at {0}: load logs with `cowrieql ingest`, or choose one with --db")]
pub struct NoDatabase(pub String);

/// `scheme://` of a URL this tool cannot open, instead of taking it for a file name.
fn unsupported_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once("://")?;
    let plausible = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    (plausible && !matches!(scheme, "postgres" | "postgresql" | "sqlite")).then_some(scheme)
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

    /// The dialect to compile queries for this store in.
    pub fn dialect(&self) -> &'static dyn crate::sql::Dialect {
        self.backend().dialect()
    }

    /// Opens `url`: `postgres://…`/`postgresql://…`, `sqlite://PATH`, `sqlite::memory:`,
    /// or a bare file path (taken as SQLite).
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Store> {
        if let Some(scheme) = unsupported_scheme(url) {
            anyhow::bail!(
                "unsupported database URL scheme `{scheme}://`: cowrieql works with PostgreSQL \
                 (postgres://user@host/db) and SQLite (sqlite://file.sqlite or a file path)"
            );
        }
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
                Ok(Err(e)) => return Err(anyhow!("cannot connect to PostgreSQL at {target}: {}", pg_cause(&e, &pg))),
                Ok(Ok(conn)) => drop(conn),
            }
            let pool = PgPoolOptions::new()
                .max_connections(opts.pool_size.max(1))
                .acquire_timeout(opts.connect_timeout)
                .connect_with(pg)
                .await
                .map_err(|e| anyhow!("cannot connect to PostgreSQL at {target}: {}", super::errors::words(&e)))?;
            Ok(Store::Postgres(pool))
        } else {
            let mut sq = sqlite_options(url)?.create_if_missing(opts.create);
            let path = sq.get_filename().display().to_string();
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !opts.create && !in_memory && !sq.get_filename().exists() {
                return Err(NoDatabase(path).into());
            }
            // A file this process may only read opens read-only (reports run; writes fail
            // with SQLite's "readonly database", and materialized views are computed inline).
            let asked_read_only = url.contains("mode=ro") || url.contains("immutable=1");
            let read_only = asked_read_only || (!opts.create && !in_memory && not_writable(sq.get_filename()));
            sq = if read_only { sq.read_only(true) } else { sqlite_writer(sq) };
            let pool_options =
                SqlitePoolOptions::new().max_connections(opts.pool_size.max(1)).acquire_timeout(opts.connect_timeout);
            let pool = match pool_options.clone().connect_with(sq.clone()).await {
                // A WAL database read by a process that may create neither its -shm nor its
                // -wal file (a read-only folder): SQLite opens it only as immutable, which
                // does not see changes a writer makes while this command runs.
                Err(e) if read_only && is_sqlite_read_only(&e) => {
                    tracing::info!("{path}: opened immutable (its folder is read-only)");
                    pool_options.connect_with(sq.immutable(true)).await
                }
                other => other,
            }
            .map_err(|e| anyhow!("cannot open SQLite database {path}: {}", super::errors::words(&e)))?;
            Ok(Store::Sqlite(pool))
        }
    }

    /// SQLite: moves the write-ahead log into the database file and empties it, so the
    /// `.sqlite` file is whole by itself (copied alone, it holds everything). PostgreSQL: nothing.
    pub async fn checkpoint_wal(&self) -> Result<()> {
        if let Store::Sqlite(p) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await.context("checkpointing the SQLite WAL")?;
        }
        Ok(())
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
        .busy_timeout(Duration::from_secs(30))
        // 64 MiB page cache: ingest updates random-order indexes (content hash, session),
        // and the 2 MiB default sends most page reads to the kernel.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        .foreign_keys(false))
}

/// Settings that write to the file: a read-only open leaves them to the file.
fn sqlite_writer(opts: SqliteConnectOptions) -> SqliteConnectOptions {
    opts.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Checkpoint every 64 MiB of WAL instead of 4 MiB: an index page changed by many
        // batches is copied into the database once per checkpoint, not once per 4 MiB (perf
        // showed the write and fsync calls of checkpoints at a fifth of ingest time).
        .pragma("wal_autocheckpoint", "16384")
        // 8 KiB pages for new databases (an existing file keeps its own): rows hold whole log
        // lines, and ingest ran 13% faster than with 4 KiB (cargo bench --bench ingest, three
        // rounds each; 16 KiB was faster still for a bare insert but gained less for ingest).
        .page_size(8192)
}

fn is_sqlite_read_only(e: &sqlx::Error) -> bool {
    // SQLITE_READONLY, SQLITE_CANTOPEN
    matches!(super::errors::sqlite_primary_code(e), Some(8 | 14))
}

/// This process may not write `path` (file mode, owner, a read-only mount): probed by
/// opening it for writing, which changes nothing.
fn not_writable(path: &std::path::Path) -> bool {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => false,
        Err(e) => matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem),
    }
}

fn describe_pg(pg: &PgConnectOptions) -> String {
    match pg.get_socket() {
        Some(sock) => format!("socket {} port {}", sock.display(), pg.get_port()),
        None => format!("{}:{}", pg.get_host(), pg.get_port()),
    }
}

/// Why a PostgreSQL connection failed, with the way out where there is one.
fn pg_cause(e: &sqlx::Error, pg: &PgConnectOptions) -> String {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
            let name = pg.get_database().unwrap_or("cowrie");
            format!("{} (create it with `createdb {name}`, or `CREATE DATABASE {name}` in psql)", db.message())
        }
        // Something answered on the port, but not in PostgreSQL's protocol (an HTTP or SSH
        // server, say).
        // sqlx opens with a TLS request; a server that answers it with anything but PostgreSQL's
        // one-byte reply breaks the handshake or the connection.
        sqlx::Error::Protocol(_) | sqlx::Error::Decode(_) | sqlx::Error::Tls(_) => {
            format!("the server on that port answered, but it is not PostgreSQL ({})", super::errors::words(e))
        }
        sqlx::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset) =>
        {
            format!("the server on that port answered, but it is not PostgreSQL ({io})")
        }
        _ => super::errors::words(e),
    }
}
