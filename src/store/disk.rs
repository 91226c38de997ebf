//! Free space where the database lives, beside what it will need: a full disk fails an
//! ingest or a checkpoint, so `health` says so before it happens.

use std::path::Path;

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

pub(crate) fn free_at(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
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
