//! PostgreSQL: connecting to a server, and everything the store does PostgreSQL's way
//! ([`Engine`]).

pub mod copy;
pub mod facts;
pub mod partitioning;
pub mod partitions;
mod values;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::in_tx;

use super::connect::ConnectOptions;
use super::disk::{free_at, Disk};
use super::engine::{BoundQuery, Engine};
use super::migrate::Migration;
use crate::report::Value;
use crate::sql::Compiled;

/// Connects to the server `url` names, with the real cause when it cannot.
pub async fn open(url: &str, opts: &ConnectOptions) -> Result<PgPool> {
    let mut pg = PgConnectOptions::from_str(url).map_err(|e| anyhow!("invalid PostgreSQL URL: {e}"))?;
    // Named in pg_stat_activity so an operator can tell cowrieql's sessions apart; the URL's
    // `application_name` or PGAPPNAME wins.
    if pg.get_application_name().is_none() {
        pg = pg.application_name("cowrieql");
    }
    let target = describe(&pg);
    // Probe with one connection first: a pool reports a refused connection only as a
    // time-out, and the operator needs the real cause.
    match tokio::time::timeout(opts.connect_timeout, PgConnection::connect_with(&pg)).await {
        Err(_) => {
            return Err(anyhow!("cannot connect to PostgreSQL at {target}: timed out after {:?}", opts.connect_timeout))
        }
        Ok(Err(e)) => return Err(anyhow!("cannot connect to PostgreSQL at {target}: {}", cause(&e, &pg))),
        Ok(Ok(conn)) => drop(conn),
    }
    PgPoolOptions::new()
        .max_connections(opts.pool_size.max(1))
        .acquire_timeout(opts.connect_timeout)
        // A connection back in the pool a moment ago is alive: pinging it on every acquire
        // was a round trip per report query (bench). One idle for longer is pinged, and
        // dropped for a fresh one if the server has gone away.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < std::time::Duration::from_secs(1) {
                    return Ok(true);
                }
                Ok(sqlx::Connection::ping(conn).await.is_ok())
            })
        })
        .connect_with(pg)
        .await
        .map_err(|e| anyhow!("cannot connect to PostgreSQL at {target}: {}", super::errors::words(&e)))
}

fn describe(pg: &PgConnectOptions) -> String {
    match pg.get_socket() {
        Some(sock) => format!("socket {} port {}", sock.display(), pg.get_port()),
        None => format!("{}:{}", pg.get_host(), pg.get_port()),
    }
}

/// Why a PostgreSQL connection failed, with the way out where there is one.
fn cause(e: &sqlx::Error, pg: &PgConnectOptions) -> String {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
            let name = pg.get_database().unwrap_or("cowrie");
            format!("{} (create it with `createdb {name}`, or `CREATE DATABASE {name}` in psql)", db.message())
        }
        // Something answered on the port, but not in PostgreSQL's protocol (an HTTP or SSH
        // server, say). sqlx opens with a TLS request; a server that answers it with anything
        // but PostgreSQL's one-byte reply breaks the handshake or the connection.
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

macro_rules! migration {
    ($v:expr, $file:literal) => {
        Migration::new($v, $file, include_str!(concat!("../../../migrations/postgres/", $file)))
    };
}

/// PostgreSQL writes batches over this many connections at once: one server backend uses
/// one core, and it was the ingest's bottleneck while the other core idled a third of the
/// time (perf).
const LANES: u32 = 2;

impl Engine for PgPool {
    type DB = sqlx::Postgres;
    type Time = DateTime<Utc>;
    type Lane = facts::Lane;

    fn migrations() -> Vec<Migration> {
        vec![
            migration!(1, "0001_core.sql"),
            migration!(2, "0002_view_registry.sql"),
            migration!(3, "0003_payload_indexes.sql"),
            migration!(4, "0004_sensor_time_index.sql"),
            migration!(5, "0005_partial_payload_indexes.sql"),
            migration!(6, "0006_narrow_payload_gin.sql"),
            migration!(7, "0007_data_changes.sql"),
            migration!(8, "0008_cowrie3_facts.sql"),
            // The first text copied the rows inside the migration's one transaction.
            migration!(9, "0009_monthly_partitions.sql")
                .was(&["2531470fe1e3c84ede54a4987c172f1733997dff826073e6f89aa96f310fd17a"]),
            migration!(10, "0010_session_value_times.sql"),
            migration!(11, "0011_int_sum.sql"),
        ]
    }

    // A partitioned table once; its partitions (raw_events_2025_09, …) are not tables of
    // the schema.
    const TABLE_NAMES: &'static str = "SELECT relname::text FROM pg_class \
         WHERE relnamespace = to_regnamespace(current_schema()) AND relkind IN ('r', 'p') AND NOT relispartition \
         ORDER BY relname";
    const TABLE_COLUMNS: &'static str =
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND NOT EXISTS (SELECT 1 FROM pg_class p WHERE p.relname = c.table_name \
                           AND p.relnamespace = to_regnamespace(current_schema()) AND p.relispartition) \
         ORDER BY c.table_name, c.ordinal_position";
    // Read only: a report never writes, and a standby accepts it.
    const READ_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const RULES_MIGRATION: i64 = 10;
    const EXPLAIN: (&'static str, usize) = ("EXPLAIN (ANALYZE, BUFFERS) ", 0);
    const KEEP_STATEMENTS: bool = false;
    const UNMOVED_ROWS: &'static str = partitioning::UNMOVED;
    const EXPORT_SNAPSHOT: Option<&'static str> = Some("SELECT pg_export_snapshot()");

    fn join_snapshot(name: &str) -> Option<String> {
        // The server's own name (hex digits and dashes), checked before it goes into the
        // statement: SET TRANSACTION SNAPSHOT takes no parameters.
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .then(|| format!("{}; SET TRANSACTION SNAPSHOT '{name}'", Self::READ_SNAPSHOT))
    }

    fn time(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }
    fn time_text(t: DateTime<Utc>) -> String {
        crate::time::canonical_text(&t)
    }
    fn full_scan(l: &str) -> Option<&str> {
        l.split("Seq Scan on ").nth(1)?.split_whitespace().next()
    }

    fn bind(sql: String, c: &Compiled, binds: &[Value]) -> Result<BoundQuery<sqlx::Postgres>> {
        Ok(values::bind(sql, c, binds))
    }
    fn decode(row: &sqlx::postgres::PgRow, out: &[(String, crate::check::ir::Ty)]) -> Result<Vec<Value>> {
        values::decode(row, out)
    }

    async fn begin_locked(conn: &mut PgConnection, key: i64) -> Result<sqlx::Transaction<'_, sqlx::Postgres>> {
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").persistent(false).bind(key).execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn refresh_view(&self, name: &str, statements: &[String], now: DateTime<Utc>) -> Result<()> {
        // REFRESH … CONCURRENTLY cannot run inside a transaction block.
        for s in statements {
            sqlx::raw_sql(AssertSqlSafe(s.clone()))
                .execute(self)
                .await
                .with_context(|| format!("refreshing {name}"))?;
        }
        in_tx!(self, c => sqlx::query(super::views::TOUCH).persistent(false).bind(name).bind(now).execute(c).await?);
        Ok(())
    }

    async fn server_version(&self) -> Result<String> {
        let v: String = sqlx::raw_sql("SHOW server_version").fetch_one(self).await?.try_get(0)?;
        Ok(format!("PostgreSQL {v}"))
    }
    async fn table_bytes(&self, table: &str) -> Result<Option<i64>> {
        // A partitioned table's size is its partitions' (its own is zero).
        let sql = "SELECT COALESCE(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree($1::regclass)";
        Ok(Some(in_tx!(self, c => sqlx::query_scalar(sql).persistent(false).bind(table).fetch_one(c).await?)))
    }
    async fn replay_lag(&self) -> Result<Option<f64>> {
        // Everything received is replayed: no lag, however long ago the last transaction was.
        let sql = "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL \
                   WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 \
                   ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END";
        Ok(sqlx::raw_sql(sql).fetch_one(self).await?.try_get(0)?)
    }
    async fn drop_months_before(&self, before: DateTime<Utc>) -> Result<()> {
        partitions::drop_months_before(self, before).await
    }
    async fn database_bytes(&self) -> Result<i64> {
        Ok(sqlx::raw_sql("SELECT pg_database_size(current_database())").fetch_one(self).await?.try_get(0)?)
    }
    async fn integrity(&self) -> Result<Option<String>> {
        Ok(None)
    }
    async fn unfinished_migration(&self) -> Result<Option<super::errors::StoreError>> {
        super::transfer::unfinished(self).await
    }

    async fn move_into_partitions(&self, progress: &crate::progress::Reporter) -> Result<Vec<(&'static str, u64)>> {
        Ok(partitioning::finish(self, progress).await?.into_iter().map(|m| (m.table, m.rows)).collect())
    }

    /// The data directory of a server on this machine (unix socket or loopback, and a role
    /// that may read `data_directory`), and its `pg_wal`.
    async fn disk(&self) -> Option<Disk> {
        let o = self.connect_options();
        let local = o.get_socket().is_some() || matches!(o.get_host(), "localhost" | "127.0.0.1" | "::1");
        if !local {
            return None;
        }
        let data: String = sqlx::raw_sql("SHOW data_directory").fetch_one(self).await.ok()?.try_get(0).ok()?;
        let data = PathBuf::from(data);
        // pg_wal may be a link to another disk: the lower of the two counts.
        let free = [data.clone(), data.join("pg_wal")].iter().filter_map(|d| free_at(d)).min()?;
        let wal_bytes = sqlx::raw_sql("SELECT COALESCE(sum(size), 0)::bigint FROM pg_ls_waldir()")
            .fetch_one(self)
            .await
            .ok()
            .and_then(|r| r.try_get::<i64, _>(0).ok())
            .map(|n| n.max(0) as u64);
        Some(Disk { path: data.display().to_string(), free_bytes: free, wal_bytes })
    }

    async fn optimize(&self, vacuum: bool) -> Result<()> {
        let sql = if vacuum { "VACUUM ANALYZE" } else { "ANALYZE" };
        sqlx::raw_sql(sql).execute(self).await?;
        Ok(())
    }

    /// pg_dump's custom format.
    async fn backup(&self, url: &str, out: &Path) -> Result<()> {
        let status = std::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(out)
            .arg("--dbname")
            .arg(url)
            .status();
        match status {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("pg_dump was not found: install the PostgreSQL client tools (e.g. apt-get install postgresql-client)")
            }
            Err(e) => bail!("cannot run pg_dump: {e}"),
            Ok(s) if !s.success() => bail!("pg_dump failed ({s})"),
            Ok(_) => Ok(()),
        }
    }

    async fn checkpoint_wal(&self) -> Result<()> {
        Ok(())
    }

    async fn lane(&self) -> Result<facts::Lane> {
        facts::Lane::open(self).await
    }

    async fn lanes(&self) -> Result<Vec<facts::Lane>> {
        // Leave a pool of one usable: never wait for a second connection that cannot come.
        let n = LANES.min(self.options().get_max_connections()).max(1);
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.lane().await?);
        }
        Ok(v)
    }
}
