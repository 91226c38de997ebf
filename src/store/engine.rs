//! The seam between the store and its two databases.
//!
//! Everything one backend does differently from the other is a member of [`Engine`],
//! implemented once for SQLite (`store/sqlite/`) and once for PostgreSQL (`store/postgres/`),
//! in the shape of sqlx's `impl Migrate for SqliteConnection`. Code above the seam is written
//! once: [`on_engine!`] runs the same text with either pool, and where the SQL is the same on
//! both it names it once. Only `connect.rs` (which opens one or the other) and this macro
//! name the variants of [`Store`](super::Store).

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::ingest::batch::{Batch, Checkpoint};
use super::ingest::BatchOutcome;
use super::migrate::Migration;
use crate::report::Value;
use crate::sql::Compiled;

/// A query with its parameters bound, ready to run on `DB`.
pub(crate) type BoundQuery<DB> = sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>;

/// What one database does its own way. Implemented for `SqlitePool` and `PgPool`.
pub(crate) trait Engine {
    type DB: sqlx::Database;
    /// A point in time as this database binds and reads it (fixed-width UTC text on SQLite,
    /// where text order is time order; timestamptz on PostgreSQL).
    type Time;
    /// A connection that writes batches of facts.
    type Lane: FactWriter;

    /// The shipped migrations, in order.
    fn migrations() -> Vec<Migration>;
    /// Every base table, by name: `SELECT name`.
    const TABLE_NAMES: &'static str;
    /// Every base table's columns in order: `SELECT table, column`.
    const TABLE_COLUMNS: &'static str;
    /// Opens the transaction reports read in: one snapshot for every section.
    const READ_SNAPSHOT: &'static str;
    /// The migration after which stored events' facts must be derived again (it changed
    /// the rules: the Cowrie 3.x facts).
    const RULES_MIGRATION: i64;
    /// Prefix that turns a query into its plan, and the plan row's column holding the text.
    const EXPLAIN: (&'static str, usize);
    /// Whether a prepared statement may outlive its transaction (`Query::persistent`).
    /// SQLite: yes, each connection caches its statements. PostgreSQL: no. Every statement
    /// there is unnamed and runs inside a transaction, because a PgBouncer in transaction
    /// pooling mode may hand each transaction to another server, and sqlx prepares a
    /// statement and runs it in two round trips (docs/postgres.md, "Poolers").
    const KEEP_STATEMENTS: bool;
    /// Exports the open read snapshot, so that other connections can read in it and a report's
    /// queries run at once yet agree: a statement giving the snapshot's name. None where the
    /// database cannot share one (SQLite): the queries then run one after the other.
    const EXPORT_SNAPSHOT: Option<&'static str>;
    /// Begins a read transaction in the exported snapshot `name` (None: not a name this
    /// database gives).
    fn join_snapshot(name: &str) -> Option<String>;
    /// A query giving a row while migration 9's rows wait to move into the partitions
    /// (reports refuse to read then); simple protocol, one round trip.
    const UNMOVED_ROWS: &'static str;

    fn time(t: DateTime<Utc>) -> Self::Time;
    fn time_text(t: Self::Time) -> String;
    /// A plan line that reads every row of a table: the table's name.
    fn full_scan(plan_line: &str) -> Option<&str>;

    /// `sql` with the parameters of `c` bound in this database's forms.
    fn bind(sql: String, c: &Compiled, binds: &[Value]) -> Result<BoundQuery<Self::DB>>;
    /// One result row as the language's values, by the output types the checker proved.
    fn decode(row: &<Self::DB as sqlx::Database>::Row, out: &[(String, crate::check::ir::Ty)]) -> Result<Vec<Value>>;

    /// Begins a transaction holding the write lock named by `key` (SQLite has one write lock,
    /// taken at once; PostgreSQL takes an advisory lock), so that concurrent first runs wait.
    async fn begin_locked(
        conn: &mut <Self::DB as sqlx::Database>::Connection,
        key: i64,
    ) -> Result<sqlx::Transaction<'_, Self::DB>>;

    /// Runs a view's refresh statements and records `now` as its refresh time
    /// (`views::TOUCH`).
    async fn refresh_view(&self, name: &str, statements: &[String], now: DateTime<Utc>) -> Result<()>;

    /// "SQLite 3.x" / "PostgreSQL 15.x".
    async fn server_version(&self) -> Result<String>;
    /// Bytes a table takes, where the database says.
    async fn table_bytes(&self, table: &str) -> Result<Option<i64>>;
    /// The whole database's bytes.
    async fn database_bytes(&self) -> Result<i64>;
    /// SQLite's `quick_check` ("ok" when sound); None where there is none to run.
    async fn integrity(&self) -> Result<Option<String>>;
    /// Why this database may not be used yet (the target of an unfinished migrate-to-postgres).
    async fn unfinished_migration(&self) -> Result<Option<super::errors::StoreError>>;
    /// Moves what is left of migration 9's rows into the monthly partitions, with progress
    /// (PostgreSQL: `postgres::partitioning`); the tables finished, with their rows. SQLite:
    /// nothing to move.
    async fn move_into_partitions(&self, progress: &crate::progress::Reporter) -> Result<Vec<(&'static str, u64)>>;
    /// Free space under the database, when this machine can see it.
    async fn disk(&self) -> Option<super::disk::Disk>;
    async fn optimize(&self, vacuum: bool) -> Result<()>;
    /// A consistent copy of the database in `out`.
    async fn backup(&self, url: &str, out: &std::path::Path) -> Result<()>;
    /// Makes the database file whole by itself after a load (SQLite's WAL); PostgreSQL: nothing.
    async fn checkpoint_wal(&self) -> Result<()>;

    /// Retention's quick part: drops whole stored months that end at or before `before`
    /// (PostgreSQL's monthly partitions; SQLite has none and drops nothing).
    async fn drop_months_before(&self, before: DateTime<Utc>) -> Result<()>;

    /// Seconds a standby's replay is behind what it has received from its primary (0 when it
    /// has replayed everything; None on a primary, or a database that has no standbys).
    async fn replay_lag(&self) -> Result<Option<f64>>;

    /// One connection to write batches through.
    async fn lane(&self) -> Result<Self::Lane>;
    /// The connections an ingest writes through at once (one on SQLite: one writer at a time).
    async fn lanes(&self) -> Result<Vec<Self::Lane>>;
}

/// A connection that writes a batch's events, facts, sessions, dead letters and checkpoints
/// in one transaction.
pub(crate) trait FactWriter {
    async fn write(&mut self, b: &Batch, cps: &[Checkpoint]) -> Result<BatchOutcome>;
    /// Drops `source`'s checkpoint: stored ones only grow, and a file read from its start
    /// again needs its old one gone.
    async fn forget_checkpoint(&mut self, source: &str) -> Result<()>;
    /// Replaces the facts, session summaries and tunnels `scope` holds (every one, or some
    /// sessions') with what the stored events give under the current rules, in one
    /// transaction (`ingest::rederive`).
    async fn rederive(
        &mut self,
        scope: &super::ingest::rederive::Scope,
        progress: &dyn crate::progress::Task,
    ) -> Result<super::ingest::rederive::Rederived>;
}

/// The tables `rederive` rebuilds: everything derived from raw_events.
pub(crate) const DERIVED_TABLES: [&str; 6] = ["logins", "commands", "downloads", "probes", "tunnels", "sessions"];

/// Deletes a source's checkpoint: the same statement on both databases.
pub(crate) const FORGET_CHECKPOINT: &str = "DELETE FROM ingest_checkpoints WHERE source_file = $1";

/// Runs `$body` with `$pool` bound to the store's pool and `$E` naming its type, for code
/// whose text is the same on both databases (the SQL included, or taken from [`Engine`]).
#[macro_export]
#[doc(hidden)]
macro_rules! on_engine {
    ($store:expr, $pool:ident, $E:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => {
                #[allow(dead_code)]
                type $E = sqlx::SqlitePool;
                $body
            }
            $crate::store::Store::Postgres($pool) => {
                #[allow(dead_code)]
                type $E = sqlx::PgPool;
                $body
            }
        }
    };
    ($store:expr, $pool:ident => $body:expr) => {
        $crate::on_engine!($store, $pool, _E => $body)
    };
}

/// Runs `$body` with `$c` a transaction begun on `$pool` (a pool or a connection), and commits
/// it when the body has not returned early. Every statement on PostgreSQL runs in one
/// ([`Engine::KEEP_STATEMENTS`]); on SQLite it is one snapshot for the reads inside.
#[macro_export]
#[doc(hidden)]
macro_rules! in_tx {
    ($pool:expr, $c:ident => $body:expr) => {{
        let mut tx = sqlx::Acquire::begin($pool).await?;
        let $c = &mut *tx;
        let out = $body;
        tx.commit().await?;
        out
    }};
}

/// A stable advisory-lock key for a name (the PostgreSQL lock a view's creator takes).
pub(crate) fn lock_key(name: &str) -> i64 {
    let h = blake3::hash(name.as_bytes());
    i64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}
