//! `cowrieql ingest --follow`: tail live `cowrie.json` files as Cowrie writes them.
//!
//! Each pass is an ordinary ingest of the paths (checkpoints say where each file was left, a
//! partial last line waits for the next pass, a truncated file is read from its start, content
//! hashes make a line read twice a no-op), so a pass commits everything it read. Passes run
//! at least every `commit_every`. Rotation by rename: a followed file whose inode changed
//! was renamed; the old inode is looked for beside it (Cowrie renames `cowrie.json` to
//! `cowrie.json.2025-09-22` in the same folder) and read on from the old name's checkpoint,
//! so lines Cowrie wrote between the last pass and the rename are not lost, and nothing is
//! read twice. A kill at any point loses nothing: a restart resumes from the checkpoints.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::source::{discover, Source};
use super::{ingest, lock, IngestOptions, IngestStats, Memories};
use crate::store::engine::Engine;
use crate::store::Store;
use crate::{in_tx, on_engine};

/// Copies a file's checkpoint to the name it was renamed to, unless that name has one.
const CARRY_CHECKPOINT: &str = "INSERT INTO ingest_checkpoints \
     (source_file, byte_offset, head_hash, head_len, lines_read, updated_at) \
     SELECT $1, byte_offset, head_hash, head_len, lines_read, updated_at FROM ingest_checkpoints \
     WHERE source_file = $2 ON CONFLICT (source_file) DO NOTHING";

#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Each pass's options; `stop` ends the follow (after the pass in flight commits).
    pub ingest: IngestOptions,
    /// The longest a written line waits before it is committed (plus the pass's own time).
    pub commit_every: Duration,
    /// Refresh the materialized views this often, when new events came in.
    pub refresh_every: Option<Duration>,
}

/// What a follow did, summed over its passes.
#[derive(Debug, Clone, Default)]
pub struct Followed {
    pub passes: u64,
    pub lines: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub dead_letters: u64,
    pub rotations: u64,
    pub refreshes: u64,
}

/// Follows `paths` until `opts.ingest.stop` says stop. `on_pass` hears each pass that read
/// something.
pub async fn follow(
    store: &Store,
    paths: &[PathBuf],
    opts: &FollowOptions,
    mut on_pass: impl FnMut(&IngestStats),
) -> Result<Followed> {
    let mut done = Followed::default();
    let mut inodes: HashMap<PathBuf, (u64, u64)> = HashMap::new();
    let mut last_refresh = Instant::now();
    let mut unrefreshed = false;
    let memories: Memories = Default::default();
    let mut pass_opts = opts.ingest.clone();
    pass_opts.memory = Some(memories.clone());
    let poll = opts.commit_every.min(Duration::from_secs(1)).max(Duration::from_millis(10));
    loop {
        let stopping = opts.ingest.stop.as_ref().is_some_and(|s| *s.borrow());
        // A followed file may be missing for a moment (rotated, not yet created again).
        let mut pass_paths: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
        let files = followed_files(paths, opts.ingest.force);
        // Sampled before the pass opens the files: a rename after this moment (even while
        // this pass runs, or the process is stopped) is seen by the next pass, which then
        // reads the renamed file on. Sampled after the pass, a rename during it went unseen
        // and the lines written just before it were lost.
        let current: HashMap<PathBuf, (u64, u64)> = files.iter().filter_map(|f| Some((f.clone(), inode(f)?))).collect();
        for (path, was) in &inodes {
            if current.get(path) == Some(was) {
                continue;
            }
            // Renamed: read on under its new name from where the old name was left.
            if let Some(renamed) = find_inode(path.parent().unwrap_or(Path::new(".")), *was) {
                let (to, from) = (renamed.display().to_string(), path.display().to_string());
                on_engine!(store, p, E => in_tx!(p, c => sqlx::query(CARRY_CHECKPOINT)
                    .persistent(E::KEEP_STATEMENTS)
                    .bind(&to)
                    .bind(&from)
                    .execute(c)
                    .await?
                    .rows_affected()));
                // The renamed file goes on from its sessions' memory, and so does the new
                // file under the old name: Cowrie's sessions continue across its rotation.
                let mut m = lock(&memories);
                if let Some(old) = m.get(&from).cloned() {
                    m.entry(to).or_insert(old);
                }
                if !files.contains(&renamed) {
                    pass_paths.push(renamed);
                }
                done.rotations += 1;
            }
        }
        let stats =
            if pass_paths.is_empty() { IngestStats::default() } else { ingest(store, &pass_paths, &pass_opts).await? };
        inodes = current;
        done.passes += 1;
        done.lines += stats.lines;
        done.accepted += stats.accepted;
        done.duplicates += stats.duplicates;
        done.dead_letters += stats.dead_letters;
        unrefreshed |= stats.accepted > 0;
        if stats.lines > 0 || !stats.restarted.is_empty() || !stats.file_problems.is_empty() {
            on_pass(&stats);
        }
        if let Some(every) = opts.refresh_every {
            if unrefreshed && (last_refresh.elapsed() >= every || stopping || stats.interrupted) {
                if !crate::store::views::refresh(store, &[], true, true).await?.is_empty() {
                    done.refreshes += 1;
                }
                unrefreshed = false;
                last_refresh = Instant::now();
            }
        }
        if stopping || stats.interrupted {
            return Ok(done);
        }
        let mut stop = opts.ingest.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = async { match stop.as_mut() { Some(s) => { let _ = s.wait_for(|v| *v).await; } None => std::future::pending().await } } => {}
        }
    }
}

/// The regular files the paths name or hold now.
fn followed_files(paths: &[PathBuf], force: bool) -> Vec<PathBuf> {
    let Ok(found) = discover(paths, force) else { return Vec::new() };
    found
        .sources
        .into_iter()
        .filter_map(|s| match s {
            Source::File(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn inode(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The file in `dir` with this device and inode.
fn find_inode(dir: &Path, want: (u64, u64)) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| inode(p) == Some(want))
}
