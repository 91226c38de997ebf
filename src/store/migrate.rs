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

async fn applied(store: &Store) -> Result<Vec<(i64, String, String, String)>> {
    let q = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
    let rows = match store {
        Store::Sqlite(p) => {
            sqlx::query(CREATE_TABLE).execute(p).await?;
            sqlx::query(q).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
        }
        Store::Postgres(p) => {
            sqlx::query(CREATE_TABLE).execute(p).await?;
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

/// Applies the pending migrations of `set`; returns the versions applied.
pub async fn migrate_with(store: &Store, set: &[Migration]) -> Result<Vec<i64>> {
    let done = applied(store).await?;
    verify(&done, set)?;
    let mut ran = Vec::new();
    for m in set.iter().filter(|m| !done.iter().any(|d| d.0 == m.version)) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let record = "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ";
        let ctx = || format!("migration {} ({}) failed", m.version, m.name);
        match store {
            Store::Sqlite(p) => {
                let mut tx = p.begin().await?;
                sqlx::raw_sql(AssertSqlSafe(m.sql.clone())).execute(&mut *tx).await.with_context(ctx)?;
                sqlx::query(AssertSqlSafe(format!("{record}(?1, ?2, ?3, ?4)")))
                    .bind(m.version)
                    .bind(m.name)
                    .bind(m.checksum())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Store::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::raw_sql(AssertSqlSafe(m.sql.clone())).execute(&mut *tx).await.with_context(ctx)?;
                sqlx::query(AssertSqlSafe(format!("{record}($1, $2, $3, $4)")))
                    .bind(m.version)
                    .bind(m.name)
                    .bind(m.checksum())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        ran.push(m.version);
    }
    Ok(ran)
}

/// Applies the built-in migrations that are pending.
/// Refuses another application's database: one that holds tables but no cowrieql schema.
pub async fn migrate(store: &Store) -> Result<Vec<i64>> {
    if !has_schema(store).await {
        let foreign = foreign_tables(store).await?;
        if !foreign.is_empty() {
            let shown: Vec<&str> = foreign.iter().take(5).map(String::as_str).collect();
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

/// Tables in the database that cowrieql did not make (its own state tables start `cowrieql_`).
async fn foreign_tables(store: &Store) -> Result<Vec<String>> {
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
    Ok(names.into_iter().filter(|n| !n.starts_with("cowrieql_") && n != "schema_migrations").collect())
}

/// Whether `store` holds a cowrieql schema (its migrations table).
pub async fn has_schema(store: &Store) -> bool {
    let q = "SELECT count(*) FROM schema_migrations";
    match store {
        Store::Sqlite(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
        Store::Postgres(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
    }
}
