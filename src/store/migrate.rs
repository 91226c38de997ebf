//! Numbered SQL migrations, recorded with a checksum in `schema_migrations`.
//!
//! The SQL files are compiled into the binary. Each migration runs in its own transaction
//! together with its `schema_migrations` row, so a failed migration leaves nothing behind.
//! An applied migration whose text has since changed is refused: the database would no longer
//! match what the files say it is.

use anyhow::{bail, Context, Result};
use sqlx::AssertSqlSafe;

use super::engine::Engine;
use super::errors::StoreError;
use super::{Backend, Store};
use crate::progress::Reporter;
use crate::{in_tx, on_engine};

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: String,
    /// Checksums of earlier texts of this migration that left the same schema (a database
    /// migrated by one of them is not refused).
    pub earlier: &'static [&'static str],
}

impl Migration {
    pub fn checksum(&self) -> String {
        blake3::hash(self.sql.as_bytes()).to_hex().to_string()
    }
}

impl Migration {
    pub(crate) fn new(version: i64, name: &'static str, sql: &str) -> Self {
        Migration { version, name, sql: sql.to_string(), earlier: &[] }
    }

    /// The same migration, which also had the texts of these checksums.
    pub(crate) fn was(self, earlier: &'static [&'static str]) -> Self {
        Migration { earlier, ..self }
    }
}

/// The migrations shipped for a backend, in order.
pub fn builtin(backend: Backend) -> Vec<Migration> {
    backend.migrations()
}

/// State of one migration in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    pub applied_at: Option<String>,
}

const APPLIED: &str = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
const RECORD: &str = "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    checksum   TEXT   NOT NULL,
    applied_at TEXT   NOT NULL
)";

/// The migrations recorded (none before the bookkeeping table exists). Reads only.
async fn applied(store: &Store) -> Result<Vec<(i64, String, String, String)>> {
    if !has_schema(store).await {
        return Ok(Vec::new());
    }
    let q = APPLIED;
    Ok(on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as(q).persistent(E::KEEP_STATEMENTS).fetch_all(c).await?)))
}

/// Refuses a database whose applied migrations disagree with `set`.
fn verify(applied: &[(i64, String, String, String)], set: &[Migration]) -> Result<()> {
    for (version, name, checksum, _) in applied {
        match set.iter().find(|m| m.version == *version) {
            None => bail!(
                "database has migration {version} ({name}) that this cowrieql does not know: it was migrated by a newer version"
            ),
            Some(m) if m.checksum() != *checksum && !m.earlier.contains(&checksum.as_str()) => bail!(
                "migration {version} ({name}) was changed after it was applied (checksum {} in the database, {} in the file); \
                 restore the original file and add a new numbered migration instead",
                &checksum[..12.min(checksum.len())],
                &m.checksum()[..12]
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Lists every migration in `set` with when it was applied (None = pending).
pub async fn status_with(store: &Store, set: &[Migration]) -> Result<Vec<MigrationStatus>> {
    let done = applied(store).await?;
    verify(&done, set)?;
    Ok(set
        .iter()
        .map(|m| MigrationStatus {
            version: m.version,
            name: m.name.to_string(),
            applied_at: done.iter().find(|d| d.0 == m.version).map(|d| d.3.clone()),
        })
        .collect())
}

pub async fn status(store: &Store) -> Result<Vec<MigrationStatus>> {
    status_with(store, &builtin(store.backend())).await
}

/// The PostgreSQL advisory lock migrations take (any constant no other lock of ours uses).
const MIGRATION_LOCK: i64 = 0x636f_7772_6965_716c; // "cowrieql"

/// Applies the pending migrations of `set`; returns the versions applied.
pub async fn migrate_with(store: &Store, set: &[Migration]) -> Result<Vec<i64>> {
    // Up to date (the common case, on every ingest): no write lock taken.
    let done = applied(store).await?;
    verify(&done, set)?;
    if set.iter().all(|m| done.iter().any(|d| d.0 == m.version)) {
        return Ok(Vec::new());
    }
    let mut ran = Vec::new();
    for m in set {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // Each migration under the database's write lock, its state read again inside it: of
        // several commands migrating at once, one applies it and the others wait, then skip it.
        let applied_here = on_engine!(store, p, E => {
            let mut conn = p.acquire().await?;
            let mut tx = E::begin_locked(&mut conn, MIGRATION_LOCK).await?;
            sqlx::raw_sql(CREATE_TABLE).execute(&mut *tx).await?;
            let done: Vec<(i64, String, String, String)> =
                sqlx::query_as(APPLIED).persistent(E::KEEP_STATEMENTS).fetch_all(&mut *tx).await?;
            verify(&done, set)?;
            let pending = !done.iter().any(|d| d.0 == m.version);
            if pending {
                let ctx = || format!("migration {} ({}) failed", m.version, m.name);
                sqlx::raw_sql(AssertSqlSafe(m.sql.clone())).execute(&mut *tx).await.with_context(ctx)?;
                sqlx::query(RECORD)
                    .persistent(E::KEEP_STATEMENTS)
                    .bind(m.version)
                    .bind(m.name)
                    .bind(m.checksum())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            pending
        });
        if applied_here {
            ran.push(m.version);
        }
    }
    Ok(ran)
}

/// Applies the built-in migrations that are pending.
/// Refuses another application's database: one that holds tables but no cowrieql schema.
pub async fn migrate(store: &Store) -> Result<Vec<i64>> {
    migrate_reporting(store, &Reporter::default()).await
}

/// [`migrate`], with the progress of moving rows into partitions (migration 9).
pub async fn migrate_reporting(store: &Store, progress: &Reporter) -> Result<Vec<i64>> {
    // One read of the table list: a migration committing meanwhile creates its tables and
    // schema_migrations in one transaction, so the list has both or neither.
    let tables = table_names(store).await?;
    if !tables.iter().any(|t| t == "schema_migrations") {
        let foreign: Vec<&String> = tables.iter().filter(|n| !n.starts_with("cowrieql_")).collect();
        if !foreign.is_empty() {
            let shown: Vec<&str> = foreign.iter().take(5).map(|s| s.as_str()).collect();
            let more = if foreign.len() > 5 { ", …" } else { "" };
            return Err(StoreError::ForeignDatabase(format!("{}{more}", shown.join(", "))).into());
        }
    }
    migrate_adopting_reporting(store, progress).await
}

/// Applies the built-in migrations to any database, another application's included (`--init`).
/// The one that applies a migration changing the derivation rules recomputes the stored
/// events' facts (`ingest::rederive`): a database ingested by an older cowrieql gets the
/// same facts as one ingested now.
pub async fn migrate_adopting(store: &Store) -> Result<Vec<i64>> {
    migrate_adopting_reporting(store, &Reporter::default()).await
}

/// [`migrate_adopting`], with the progress of moving rows into partitions (migration 9).
pub async fn migrate_adopting_reporting(store: &Store, progress: &Reporter) -> Result<Vec<i64>> {
    let ran = migrate_with(store, &builtin(store.backend())).await?;
    // Before anything reads the tables (the rederive below included): their rows are in the
    // old tables until moved.
    on_engine!(store, p => p.move_into_partitions(progress).await?);
    let rules = on_engine!(store, _p, E => <E as Engine>::RULES_MIGRATION);
    if ran.contains(&rules) {
        let any: Option<i64> = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar("SELECT id FROM raw_events LIMIT 1")
                .persistent(E::KEEP_STATEMENTS)
                .fetch_optional(c)
                .await?));
        if any.is_some() {
            crate::store::ingest::rederive::rederive(store, &Default::default()).await.context(
                "recomputing stored events' facts after the migration (run `cowrieql db rederive` to try again)",
            )?;
        }
    }
    Ok(ran)
}

/// Every table in the database (the current schema on PostgreSQL).
async fn table_names(store: &Store) -> Result<Vec<String>> {
    Ok(on_engine!(store, p, E => in_tx!(p, c => sqlx::query_scalar(E::TABLE_NAMES)
        .persistent(E::KEEP_STATEMENTS)
        .fetch_all(c)
        .await?)))
}

/// Whether `store` holds a cowrieql schema (its migrations table).
pub async fn has_schema(store: &Store) -> bool {
    let q = "SELECT count(*) FROM schema_migrations";
    // Simple protocol, no transaction needed: one round trip whatever the pooler.
    on_engine!(store, p => sqlx::raw_sql(q).fetch_optional(p).await.is_ok())
}
