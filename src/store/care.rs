//! Database care: health facts, optimize, backup.

use std::path::Path;

use anyhow::{bail, Context, Result};
use sqlx::Row;

use super::{migrate, tables, Store};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub backend: &'static str,
    pub server_version: String,
    pub migrations_applied: usize,
    pub migrations_pending: Vec<String>,
    /// (table, rows, bytes if known)
    pub tables: Vec<(String, i64, Option<i64>)>,
    pub database_bytes: Option<i64>,
    pub dead_letters: i64,
    pub dead_letter_reasons: Vec<(String, i64)>,
    pub newest_dead_letter: Option<String>,
    /// (sensor, newest event)
    pub last_event_per_sensor: Vec<(String, String)>,
    /// (file, bytes read, last ingest)
    pub files: Vec<(String, i64, String)>,
    /// SQLite `PRAGMA quick_check` ("ok" when sound); None on PostgreSQL.
    pub integrity: Option<String>,
    /// Materialized views not refreshed since the last ingest.
    pub stale_views: Vec<String>,
    /// This database is the target of a migrate-to-postgres that has not finished.
    pub unfinished_migration: Option<String>,
    /// Free space under the database, where this machine can see it.
    pub disk: Option<super::disk::Disk>,
}

impl Health {
    /// 0 ok, 1 warning (pending migrations, dead letters, stale views), 2 critical (integrity
    /// failure, an unfinished migrate-to-postgres).
    pub fn exit_code(&self) -> i32 {
        let disk_full = self.disk_problem().is_some_and(|(critical, _)| critical);
        if self.integrity.as_deref().is_some_and(|s| s != "ok") || self.unfinished_migration.is_some() || disk_full {
            2
        } else if !self.migrations_pending.is_empty()
            || self.dead_letters > 0
            || !self.stale_views.is_empty()
            || self.disk_problem().is_some()
        {
            1
        } else {
            0
        }
    }

    fn disk_problem(&self) -> Option<(bool, String)> {
        super::disk::problem(self.disk.as_ref()?, self.database_bytes)
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some((_, line)) = self.disk_problem() {
            p.push(line);
        }
        if let Some(i) = self.integrity.as_deref().filter(|s| *s != "ok") {
            p.push(format!("critical: integrity check failed: {i}"));
        }
        if let Some(m) = &self.unfinished_migration {
            p.push(format!("critical: {m}"));
        }
        if !self.migrations_pending.is_empty() {
            p.push(format!(
                "warning: {} pending migration(s): run `cowrieql db migrate`",
                self.migrations_pending.len()
            ));
        }
        if !self.stale_views.is_empty() {
            p.push(format!(
                "warning: stale materialized view(s) {}: run `cowrieql views refresh`",
                self.stale_views.join(", ")
            ));
        }
        if self.dead_letters > 0 {
            p.push(format!("warning: {} dead letter(s): see `cowrieql dead-letters list`", self.dead_letters));
        }
        p
    }
}

async fn one_text(store: &Store, sql: &'static str) -> Result<String> {
    Ok(match store {
        Store::Sqlite(p) => sqlx::query(sql).fetch_one(p).await?.get(0),
        Store::Postgres(p) => sqlx::query(sql).fetch_one(p).await?.get(0),
    })
}

pub async fn health(store: &Store) -> Result<Health> {
    let status = migrate::status(store).await?;
    let pending: Vec<String> = status.iter().filter(|s| s.applied_at.is_none()).map(|s| s.name.clone()).collect();
    let applied = status.len() - pending.len();
    let server_version = match store {
        Store::Sqlite(_) => format!("SQLite {}", one_text(store, "SELECT sqlite_version()").await?),
        Store::Postgres(_) => format!("PostgreSQL {}", one_text(store, "SHOW server_version").await?),
    };
    let mut h = Health {
        backend: store.backend().name(),
        server_version,
        migrations_applied: applied,
        migrations_pending: pending,
        tables: Vec::new(),
        database_bytes: None,
        dead_letters: 0,
        dead_letter_reasons: Vec::new(),
        newest_dead_letter: None,
        last_event_per_sensor: Vec::new(),
        files: Vec::new(),
        integrity: None,
        stale_views: Vec::new(),
        unfinished_migration: None,
        disk: super::disk::disk(store).await,
    };
    if applied == 0 {
        return Ok(h);
    }
    for (t, n) in tables::row_counts(store).await? {
        let bytes = match store {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(
                sqlx::query("SELECT pg_total_relation_size($1::regclass)").bind(t).fetch_one(p).await?.get::<i64, _>(0),
            ),
        };
        if t == "dead_letters" {
            h.dead_letters = n;
        }
        h.tables.push((t.to_string(), n, bytes));
    }
    if let Store::Postgres(p) = store {
        h.unfinished_migration = super::transfer::unfinished(p).await?;
    }
    h.stale_views = super::views::list(store).await?.into_iter().filter(|v| v.stale).map(|v| v.name).collect();
    h.dead_letter_reasons = super::dead_letters::reasons(store).await?.into_iter().take(5).collect();
    h.newest_dead_letter = super::dead_letters::list(store, Some(1))
        .await?
        .first()
        .map(|d| format!("{}:{} {}", d.source_file, d.source_offset, d.reason));
    let per_sensor = "SELECT sensor, MAX(last_event_at) FROM sessions GROUP BY sensor ORDER BY sensor";
    let files = "SELECT source_file, byte_offset, updated_at FROM ingest_checkpoints ORDER BY updated_at DESC, source_file LIMIT 20";
    match store {
        Store::Sqlite(p) => {
            h.last_event_per_sensor =
                sqlx::query(per_sensor).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
            h.files = sqlx::query(files).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
            h.integrity = Some(
                sqlx::query("PRAGMA quick_check")
                    .fetch_all(p)
                    .await?
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            let pages: i64 = sqlx::query("PRAGMA page_count").fetch_one(p).await?.get(0);
            let size: i64 = sqlx::query("PRAGMA page_size").fetch_one(p).await?.get(0);
            h.database_bytes = Some(pages * size);
        }
        Store::Postgres(p) => {
            let ts = |t: chrono::DateTime<chrono::Utc>| crate::time::canonical_text(&t);
            h.last_event_per_sensor =
                sqlx::query(per_sensor).fetch_all(p).await?.iter().map(|r| (r.get(0), ts(r.get(1)))).collect();
            h.files =
                sqlx::query(files).fetch_all(p).await?.iter().map(|r| (r.get(0), r.get(1), ts(r.get(2)))).collect();
            h.database_bytes =
                Some(sqlx::query("SELECT pg_database_size(current_database())").fetch_one(p).await?.get(0));
        }
    }
    Ok(h)
}

/// Refreshes planner statistics (and with `vacuum`, reclaims space).
pub async fn optimize(store: &Store, vacuum: bool) -> Result<()> {
    match store {
        Store::Sqlite(p) => {
            sqlx::query("ANALYZE").execute(p).await?;
            sqlx::query("PRAGMA optimize").execute(p).await?;
            if vacuum {
                sqlx::query("VACUUM").execute(p).await?;
            }
        }
        Store::Postgres(p) => {
            let sql = if vacuum { "VACUUM ANALYZE" } else { "ANALYZE" };
            sqlx::raw_sql(sql).execute(p).await?;
        }
    }
    Ok(())
}

/// A consistent copy of the database in `out`: SQLite's `VACUUM INTO` (online), or pg_dump.
pub async fn backup(store: &Store, url: &str, out: &Path) -> Result<()> {
    if out.exists() {
        bail!("{} exists: refusing to overwrite it", out.display());
    }
    match store {
        Store::Sqlite(p) => {
            sqlx::query("VACUUM INTO ?1")
                .bind(out.display().to_string())
                .execute(p)
                .await
                .context("SQLite backup failed")?;
        }
        Store::Postgres(_) => {
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
                Ok(_) => {}
            }
        }
    }
    Ok(())
}
