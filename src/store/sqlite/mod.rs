//! SQLite: opening a file, and everything the store does SQLite's way ([`Engine`]).

pub mod facts;
pub mod percentile;
mod values;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::connect::ConnectOptions;
use super::disk::{free_at, Disk};
use super::engine::{BoundQuery, Engine};
use super::errors::StoreError;
use super::migrate::Migration;
use crate::report::Value;
use crate::sql::Compiled;

/// Opens the SQLite database `url` names (`sqlite://PATH`, `sqlite::memory:`, a path).
pub async fn open(url: &str, opts: &ConnectOptions) -> Result<SqlitePool> {
    let mut sq = options(url)?.create_if_missing(opts.create);
    let path = sq.get_filename().display().to_string();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !opts.create && !in_memory && !sq.get_filename().exists() {
        return Err(StoreError::NoDatabase(path).into());
    }
    // A file this process may only read opens read-only (reports run; writes fail
    // with SQLite's "readonly database", and materialized views are computed inline).
    let asked_read_only = url.contains("mode=ro") || url.contains("immutable=1");
    let read_only = asked_read_only || (!opts.create && !in_memory && not_writable(sq.get_filename()));
    sq = if read_only { sq.read_only(true) } else { writer(sq) };
    let pool_options = pool_options().max_connections(opts.pool_size.max(1)).acquire_timeout(opts.connect_timeout);
    match pool_options.clone().connect_with(sq.clone()).await {
        // A WAL database read by a process that may create neither its -shm nor its
        // -wal file (a read-only folder): SQLite opens it only as immutable, which
        // does not see changes a writer makes while this command runs.
        Err(e) if read_only && is_read_only(&e) => {
            tracing::info!("{path}: opened immutable (its folder is read-only)");
            pool_options.connect_with(sq.immutable(true)).await
        }
        other => other,
    }
    .map_err(|e| anyhow!("cannot open SQLite database {path}: {}", super::errors::words(&e)))
}

/// A pool whose every connection has the functions the language's SQL calls that SQLite
/// lacks (`regexp` comes from the connect options: `with_regexp`).
pub fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().after_connect(|conn, _meta| Box::pin(async move { percentile::register_sqlx(conn).await }))
}

/// How long a statement waits for another connection's write lock before SQLite says busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn options(url: &str) -> Result<SqliteConnectOptions> {
    let opts = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).with_context(|| format!("invalid SQLite URL {url}"))?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    Ok(opts
        .create_if_missing(true)
        .busy_timeout(BUSY_TIMEOUT)
        // 64 MiB page cache: ingest updates random-order indexes (content hash, session),
        // and the 2 MiB default sends most page reads to the kernel.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        // The language's `regexp` (the `regex` crate, as SQLite has none of its own).
        .with_regexp()
        .foreign_keys(false))
}

/// Settings that write to the file: a read-only open leaves them to the file.
fn writer(opts: SqliteConnectOptions) -> SqliteConnectOptions {
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

fn is_read_only(e: &sqlx::Error) -> bool {
    // SQLITE_READONLY, SQLITE_CANTOPEN
    matches!(super::errors::sqlite_primary_code(e), Some(8 | 14))
}

/// This process may not write `path` (file mode, owner, a read-only mount): probed by
/// opening it for writing, which changes nothing.
fn not_writable(path: &Path) -> bool {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => false,
        Err(e) => matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem),
    }
}

macro_rules! migration {
    ($v:expr, $file:literal) => {
        Migration::new($v, $file, include_str!(concat!("../../../migrations/sqlite/", $file)))
    };
}

impl Engine for SqlitePool {
    type DB = sqlx::Sqlite;
    type Time = String;
    type Lane = facts::Lane;

    fn migrations() -> Vec<Migration> {
        vec![
            migration!(1, "0001_core.sql"),
            migration!(2, "0002_view_registry.sql"),
            migration!(3, "0003_sensor_time_index.sql"),
            migration!(4, "0004_data_changes.sql"),
            migration!(5, "0005_cowrie3_facts.sql"),
            migration!(6, "0006_session_value_times.sql"),
        ]
    }

    const TABLE_NAMES: &'static str =
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
    const TABLE_COLUMNS: &'static str = "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, c.cid";
    // Deferred: the snapshot starts at the first read, and a WAL reader never blocks a writer.
    const READ_SNAPSHOT: &'static str = "BEGIN";
    const RULES_MIGRATION: i64 = 6;
    const EXPLAIN: (&'static str, usize) = ("EXPLAIN QUERY PLAN ", 3);
    const KEEP_STATEMENTS: bool = true;
    const UNMOVED_ROWS: &'static str = "SELECT 1 WHERE 0";
    // Each connection reads its own snapshot, and sqlx cannot hand one to another.
    const EXPORT_SNAPSHOT: Option<&'static str> = None;

    fn join_snapshot(_: &str) -> Option<String> {
        None
    }

    fn time(t: DateTime<Utc>) -> String {
        crate::time::canonical_text(&t)
    }
    fn time_text(t: String) -> String {
        t
    }
    fn full_scan(l: &str) -> Option<&str> {
        // "SCAN raw_events" reads every row; "SCAN t USING INDEX" or "SEARCH" does not.
        let t = l.strip_prefix("SCAN ")?.split_whitespace().next()?;
        (!l.contains("USING")).then_some(t)
    }

    fn bind(sql: String, c: &Compiled, binds: &[Value]) -> Result<BoundQuery<sqlx::Sqlite>> {
        values::bind(sql, c, binds)
    }
    fn decode(row: &sqlx::sqlite::SqliteRow, out: &[(String, crate::check::ir::Ty)]) -> Result<Vec<Value>> {
        values::decode(row, out)
    }

    async fn begin_locked(conn: &mut sqlx::SqliteConnection, _key: i64) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>> {
        // IMMEDIATE takes the write lock at once (waiting out the busy timeout), where a
        // deferred transaction that read first could fail with "database is locked" when it
        // came to write.
        Ok(conn.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn refresh_view(&self, name: &str, statements: &[String], now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.acquire().await?;
        let mut tx = Self::begin_locked(&mut conn, 0).await?;
        for s in statements {
            sqlx::raw_sql(AssertSqlSafe(s.clone()))
                .execute(&mut *tx)
                .await
                .with_context(|| format!("refreshing {name}"))?;
        }
        sqlx::query(super::views::TOUCH).bind(name).bind(Self::time(now)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn server_version(&self) -> Result<String> {
        let v: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(self).await?;
        Ok(format!("SQLite {v}"))
    }
    async fn table_bytes(&self, _table: &str) -> Result<Option<i64>> {
        Ok(None)
    }
    async fn replay_lag(&self) -> Result<Option<f64>> {
        Ok(None)
    }
    async fn drop_months_before(&self, _before: DateTime<Utc>) -> Result<()> {
        Ok(())
    }
    async fn database_bytes(&self) -> Result<i64> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(self).await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(self).await?;
        Ok(pages * size)
    }
    async fn integrity(&self) -> Result<Option<String>> {
        let rows = sqlx::query("PRAGMA quick_check").fetch_all(self).await?;
        Ok(Some(rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>().join("; ")))
    }
    async fn move_into_partitions(&self, _: &crate::progress::Reporter) -> Result<Vec<(&'static str, u64)>> {
        Ok(Vec::new())
    }
    async fn unfinished_migration(&self) -> Result<Option<StoreError>> {
        Ok(None)
    }

    /// The SQLite file's folder, and its `-wal` file.
    async fn disk(&self) -> Option<Disk> {
        let file = self.connect_options().get_filename().to_path_buf();
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).ok();
        Some(Disk { path: file.display().to_string(), free_bytes: free_at(&dir)?, wal_bytes })
    }

    async fn optimize(&self, vacuum: bool) -> Result<()> {
        sqlx::query("ANALYZE").execute(self).await?;
        sqlx::query("PRAGMA optimize").execute(self).await?;
        if vacuum {
            sqlx::query("VACUUM").execute(self).await?;
        }
        Ok(())
    }

    /// `VACUUM INTO`: online, and consistent.
    async fn backup(&self, _url: &str, out: &Path) -> Result<()> {
        sqlx::query("VACUUM INTO ?1")
            .bind(out.display().to_string())
            .execute(self)
            .await
            .context("SQLite backup failed")?;
        Ok(())
    }

    /// Moves the write-ahead log into the database file and empties it, so the `.sqlite`
    /// file is whole by itself (copied alone, it holds everything).
    async fn checkpoint_wal(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(self).await.context("checkpointing the SQLite WAL")?;
        Ok(())
    }

    async fn lane(&self) -> Result<facts::Lane> {
        Ok(facts::Lane(self.acquire().await?))
    }

    async fn lanes(&self) -> Result<Vec<facts::Lane>> {
        Ok(vec![self.lane().await?])
    }
}
