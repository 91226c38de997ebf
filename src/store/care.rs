//! Database care: health facts, optimize, backup.

use std::path::Path;

use anyhow::{bail, Result};

use super::engine::Engine;
use super::{migrate, tables, Store};
use crate::{in_tx, on_engine};

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

pub async fn health(store: &Store) -> Result<Health> {
    let status = migrate::status(store).await?;
    let pending: Vec<String> = status.iter().filter(|s| s.applied_at.is_none()).map(|s| s.name.clone()).collect();
    let applied = status.len() - pending.len();
    let server_version = on_engine!(store, p => p.server_version().await?);
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
        disk: on_engine!(store, p => p.disk().await),
    };
    if applied == 0 {
        return Ok(h);
    }
    for (t, n) in tables::row_counts(store).await? {
        let bytes = on_engine!(store, p => p.table_bytes(t).await?);
        if t == "dead_letters" {
            h.dead_letters = n;
        }
        h.tables.push((t.to_string(), n, bytes));
    }
    h.unfinished_migration = match on_engine!(store, p => p.unfinished_migration().await?) {
        Some(e) => Some(e.to_string()),
        None => on_engine!(store, p, E => sqlx::raw_sql(E::UNMOVED_ROWS).fetch_optional(p).await?.is_some())
            .then(|| super::errors::StoreError::UnfinishedPartitioning.to_string()),
    };
    h.stale_views = super::views::list(store).await?.into_iter().filter(|v| v.stale).map(|v| v.name).collect();
    h.dead_letter_reasons = super::dead_letters::reasons(store).await?.into_iter().take(5).collect();
    h.newest_dead_letter = super::dead_letters::list(store, Some(1))
        .await?
        .first()
        .map(|d| format!("{}:{} {}", d.source_file, d.source_offset, d.reason));
    let per_sensor = "SELECT sensor, MAX(last_event_at) FROM sessions GROUP BY sensor ORDER BY sensor";
    let files = "SELECT source_file, byte_offset, updated_at FROM ingest_checkpoints ORDER BY updated_at DESC, source_file LIMIT 20";
    on_engine!(store, p, E => {
        h.last_event_per_sensor = in_tx!(p, c => sqlx::query_as::<_, (String, <E as Engine>::Time)>(per_sensor)
            .persistent(E::KEEP_STATEMENTS)
            .fetch_all(c)
            .await?)
            .into_iter()
            .map(|(s, t)| (s, E::time_text(t)))
            .collect();
        h.files = in_tx!(p, c => sqlx::query_as::<_, (String, i64, <E as Engine>::Time)>(files)
            .persistent(E::KEEP_STATEMENTS)
            .fetch_all(c)
            .await?)
            .into_iter()
            .map(|(f, n, t)| (f, n, E::time_text(t)))
            .collect();
        h.integrity = p.integrity().await?;
        h.database_bytes = Some(p.database_bytes().await?);
    });
    Ok(h)
}

/// Refreshes planner statistics (and with `vacuum`, reclaims space).
pub async fn optimize(store: &Store, vacuum: bool) -> Result<()> {
    on_engine!(store, p => p.optimize(vacuum).await)
}

/// A consistent copy of the database in `out`: SQLite's `VACUUM INTO` (online), or pg_dump.
pub async fn backup(store: &Store, url: &str, out: &Path) -> Result<()> {
    if out.exists() {
        bail!("{} exists: refusing to overwrite it", out.display());
    }
    on_engine!(store, p => p.backup(url, out).await)
}

/// Seconds a standby is behind in replaying its primary's changes (0: caught up); None when
/// `store` is not a standby.
pub async fn replay_lag(store: &Store) -> Result<Option<f64>> {
    Ok(on_engine!(store, p, E => <E as crate::store::engine::Engine>::replay_lag(p).await?))
}
