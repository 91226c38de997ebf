//! Free space where the database lives, beside what it will need: a full disk fails an
//! ingest or a checkpoint, so `health` says so before it happens.

use std::path::{Path, PathBuf};

use sqlx::Row;

use super::Store;

/// Below this much free space an ingest can fail at any batch.
pub const CRITICAL_FREE: u64 = 64 << 20;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Disk {
    /// The file or directory whose file system was measured.
    pub path: String,
    pub free_bytes: u64,
    /// The write-ahead log's size, where it can be read (SQLite's `-wal` file; PostgreSQL's
    /// `pg_wal`, for roles that may list it).
    pub wal_bytes: Option<u64>,
}

fn free_at(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The disk under the database, when this machine can see it: the SQLite file's folder, or
/// the data directory of a PostgreSQL server on this machine (unix socket or loopback, and a
/// role that may read `data_directory`). None otherwise.
pub async fn disk(store: &Store) -> Option<Disk> {
    match store {
        Store::Sqlite(p) => {
            let file = p.connect_options().get_filename().to_path_buf();
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let mut wal = file.clone().into_os_string();
            wal.push("-wal");
            let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).ok();
            Some(Disk { path: file.display().to_string(), free_bytes: free_at(&dir)?, wal_bytes })
        }
        Store::Postgres(p) => {
            let o = p.connect_options();
            let local = o.get_socket().is_some() || matches!(o.get_host(), "localhost" | "127.0.0.1" | "::1");
            if !local {
                return None;
            }
            let data: String = sqlx::query("SHOW data_directory").fetch_one(p).await.ok()?.get(0);
            let data = PathBuf::from(data);
            // pg_wal may be a link to another disk: the lower of the two counts.
            let free = [data.clone(), data.join("pg_wal")].iter().filter_map(|d| free_at(d)).min()?;
            let wal_bytes = sqlx::query("SELECT COALESCE(sum(size), 0)::bigint FROM pg_ls_waldir()")
                .fetch_one(p)
                .await
                .ok()
                .map(|r| r.get::<i64, _>(0).max(0) as u64);
            Some(Disk { path: data.display().to_string(), free_bytes: free, wal_bytes })
        }
    }
}

/// What `health` says of `d` for a database of `database_bytes`: a critical line when an
/// ingest or checkpoint may fail now, a warning when a VACUUM or a migration would not fit.
pub fn problem(d: &Disk, database_bytes: Option<i64>) -> Option<(bool, String)> {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1048576.0);
    let wal = d.wal_bytes.unwrap_or(0);
    if d.free_bytes < CRITICAL_FREE.max(wal) {
        return Some((
            true,
            format!(
                "critical: only {} free on the disk holding {} (write-ahead log {}): ingest and checkpoints will fail; free space there",
                mib(d.free_bytes),
                d.path,
                mib(wal)
            ),
        ));
    }
    let db = database_bytes.unwrap_or(0).max(0) as u64;
    (d.free_bytes < db + wal).then(|| {
        (
            false,
            format!(
                "warning: {} free on the disk holding {}, less than the database and its log ({}): \
                 VACUUM, a migration or a large ingest may not fit",
                mib(d.free_bytes),
                d.path,
                mib(db + wal)
            ),
        )
    })
}
