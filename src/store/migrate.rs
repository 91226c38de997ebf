//! Numbered SQL migrations, recorded with a checksum in `schema_migrations`.
//!
//! The SQL files are compiled into the binary. Each migration runs in its own transaction
//! together with its `schema_migrations` row, so a failed migration leaves nothing behind.
//! An applied migration whose text has since changed is refused: the database would no longer
//! match what the files say it is.

use anyhow::{bail, Context, Result};
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store};

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: String,
}

impl Migration {
    pub fn checksum(&self) -> String {
        blake3::hash(self.sql.as_bytes()).to_hex().to_string()
    }
}

macro_rules! migration {
    ($v:expr, $dir:literal, $file:literal) => {
        Migration {
            version: $v,
            name: $file,
            sql: include_str!(concat!("../../migrations/", $dir, "/", $file)).to_string(),
        }
    };
}

/// The migrations shipped for a backend, in order.
pub fn builtin(backend: Backend) -> Vec<Migration> {
    match backend {
        Backend::Sqlite => {
            vec![
                migration!(1, "sqlite", "0001_core.sql"),
                migration!(2, "sqlite", "0002_view_registry.sql"),
                migration!(3, "sqlite", "0003_sensor_time_index.sql"),
                migration!(4, "sqlite", "0004_data_changes.sql"),
            ]
        }
        Backend::Postgres => {
            vec![
                migration!(1, "postgres", "0001_core.sql"),
                migration!(2, "postgres", "0002_view_registry.sql"),
                migration!(3, "postgres", "0003_payload_indexes.sql"),
                migration!(4, "postgres", "0004_sensor_time_index.sql"),
                migration!(5, "postgres", "0005_partial_payload_indexes.sql"),
                migration!(6, "postgres", "0006_narrow_payload_gin.sql"),
                migration!(7, "postgres", "0007_data_changes.sql"),
            ]
        }
    }
}

/// State of one migration in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    pub applied_at: Option<String>,
}

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
    let q = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
    let rows = match store {
        Store::Sqlite(p) => {
            sqlx::query(q).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
        }
        Store::Postgres(p) => {
            sqlx::query(q).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
        }
    };
    Ok(rows)
}

/// Refuses a database whose applied migrations disagree with `set`.
fn verify(applied: &[(i64, String, String, String)], set: &[Migration]) -> Result<()> {
    for (version, name, checksum, _) in applied {
        match set.iter().find(|m| m.version == *version) {
            None => bail!(
                "database has migration {version} ({name}) that this cowrieql does not know: it was migrated by a newer version"
            ),
            Some(m) if m.checksum() != *checksum => bail!(
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

/// In `$tx` (holding the write lock): create the bookkeeping table if need be, and apply `$m`
/// unless it is recorded already; commits; evaluates to whether it was applied here.
macro_rules! apply_locked {
    ($tx:ident, $m:expr, $set:expr, $now:expr, $values:literal) => {{
        sqlx::query(CREATE_TABLE).execute(&mut *$tx).await?;
        let q = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
        let done: Vec<(i64, String, String, String)> = sqlx::query_as(q).fetch_all(&mut *$tx).await?;
        verify(&done, $set)?;
        let pending = !done.iter().any(|d| d.0 == $m.version);
        if pending {
            let ctx = || format!("migration {} ({}) failed", $m.version, $m.name);
            sqlx::raw_sql(AssertSqlSafe($m.sql.clone())).execute(&mut *$tx).await.with_context(ctx)?;
            let record =
                concat!("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ", $values);
            sqlx::query(record)
                .bind($m.version)
                .bind($m.name)
                .bind($m.checksum())
                .bind($now)
                .execute(&mut *$tx)
                .await?;
        }
        $tx.commit().await?;
        pending
    }};
}

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
        let applied_here = match store {
            Store::Sqlite(p) => {
                let mut conn = p.acquire().await?;
                // IMMEDIATE takes the write lock at once (waiting out the busy timeout), where a
                // deferred transaction could fail with "database is locked" when it came to write.
                let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
                apply_locked!(tx, m, set, &now, "(?1, ?2, ?3, ?4)")
            }
            Store::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
                apply_locked!(tx, m, set, &now, "($1, $2, $3, $4)")
            }
        };
        if applied_here {
            ran.push(m.version);
        }
    }
    Ok(ran)
}

/// Applies the built-in migrations that are pending.
/// Refuses another application's database: one that holds tables but no cowrieql schema.
pub async fn migrate(store: &Store) -> Result<Vec<i64>> {
    // One read of the table list: a migration committing meanwhile creates its tables and
    // schema_migrations in one transaction, so the list has both or neither.
    let tables = table_names(store).await?;
    if !tables.iter().any(|t| t == "schema_migrations") {
        let foreign: Vec<&String> = tables.iter().filter(|n| !n.starts_with("cowrieql_")).collect();
        if !foreign.is_empty() {
            let shown: Vec<&str> = foreign.iter().take(5).map(|s| s.as_str()).collect();
            bail!(
                "this database already holds tables of something else ({}{}) and no cowrieql schema: \
                 choose another database with --db, or add cowrieql's tables to it with --init",
                shown.join(", "),
                if foreign.len() > 5 { ", …" } else { "" }
            );
        }
    }
    migrate_with(store, &builtin(store.backend())).await
}

/// Applies the built-in migrations to any database, another application's included (`--init`).
pub async fn migrate_adopting(store: &Store) -> Result<Vec<i64>> {
    migrate_with(store, &builtin(store.backend())).await
}

/// Every table in the database (the current schema on PostgreSQL).
async fn table_names(store: &Store) -> Result<Vec<String>> {
    let names: Vec<String> = match store {
        Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
                .fetch_all(p)
                .await?
        }
        Store::Postgres(p) => {
            sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
            )
            .fetch_all(p)
            .await?
        }
    };
    Ok(names)
}

/// Whether `store` holds a cowrieql schema (its migrations table).
pub async fn has_schema(store: &Store) -> bool {
    let q = "SELECT count(*) FROM schema_migrations";
    match store {
        Store::Sqlite(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
        Store::Postgres(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
    }
}
