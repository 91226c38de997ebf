//! `cowrieql ingest`: stream log lines into the store.
//!
//! A reader thread turns sources into batches (parsing is pure, see `event`); the writer
//! writes each batch, its fact rows, its session summaries, its dead letters and the
//! source's checkpoint in one transaction. A killed ingest therefore resumes from the last
//! committed batch, and content hashes make any line already stored a no-op.

pub mod batch;
mod commit_order;
pub mod event;
pub mod follow;
pub mod rederive;
pub mod rows;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use self::batch::{Batch, Checkpoint, DeadLetter, SessionKey};
use self::commit_order::CommitOrder;
use self::source::{LineReader, Source};
use crate::store::engine::{Engine, FactWriter};
use crate::store::{migrate, Store};
use crate::{in_tx, on_engine};

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Lines per batch (and per transaction).
    pub batch_lines: usize,
    pub progress: crate::progress::Reporter,
    /// Load named files even when their first lines are not JSON.
    pub force: bool,
    /// Set to true to stop: batches in flight commit, nothing more is read (Ctrl-C).
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// What each source's sessions said that a later line needs (`event::SessionMemory`),
    /// carried from one run to the next by `follow`, whose passes cut files often. None:
    /// each file's reading starts afresh.
    pub memory: Option<Memories>,
}

/// Session memories by source name.
pub type Memories = std::sync::Arc<std::sync::Mutex<HashMap<String, event::SessionMemory>>>;

/// The memories, whatever a panicking holder left (they are only ever whole maps).
pub fn lock(m: &Memories) -> std::sync::MutexGuard<'_, HashMap<String, event::SessionMemory>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { batch_lines: 20_000, progress: Default::default(), force: false, stop: None, memory: None }
    }
}

/// What an ingest did. `lines = accepted + duplicates + dead_letters`, always.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub files: u64,
    pub lines: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub dead_letters: u64,
    pub blank: u64,
    /// Sources that ended in an unterminated line left for the next run.
    pub incomplete: u64,
    pub incomplete_files: Vec<String>,
    /// Files read again from the start because they were rotated or truncated.
    pub restarted: Vec<String>,
    pub sessions_touched: u64,
    /// Files in the folders named that are not JSON logs (Cowrie's text logs, notes, …).
    pub skipped_files: u64,
    /// Files (and folders) that could not be read, or only in part: (name, reason).
    pub file_problems: Vec<(String, String)>,
    /// Stopped early (`IngestOptions::stop`): what is counted here is committed.
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl IngestStats {
    pub fn events_per_sec(&self) -> f64 {
        self.lines as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn summary_line(&self) -> String {
        let mut s = format!(
            "{} files, {} lines: {} accepted, {} duplicates, {} dead letters; {} sessions touched; {:.2}s, {:.0} events/s",
            self.files,
            self.lines,
            self.accepted,
            self.duplicates,
            self.dead_letters,
            self.sessions_touched,
            self.elapsed.as_secs_f64(),
            self.events_per_sec()
        );
        if self.skipped_files > 0 {
            s.push_str(&format!("; {} other files in the folders skipped (not JSON logs)", self.skipped_files));
        }
        if self.blank > 0 {
            s.push_str(&format!("; {} blank lines skipped", self.blank));
        }
        if self.incomplete > 0 {
            s.push_str(&format!(
                "; unfinished last line left for the next run in {}",
                self.incomplete_files.join(", ")
            ));
        }
        if let Some(mib) = peak_rss_mib() {
            s.push_str(&format!("; peak memory {mib} MiB"));
        }
        for (f, why) in &self.file_problems {
            s.push_str(&format!("; PROBLEM {f}: {why}"));
        }
        for r in &self.restarted {
            s.push_str(&format!("; {r} was rotated or truncated and read from its start"));
        }
        s
    }
}

/// Peak resident memory of this process (Linux), for the summary line.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024)
}

/// What the writer reports back for a batch.
pub struct BatchOutcome {
    pub inserted: u64,
    pub sessions: Vec<SessionKey>,
}

enum Msg {
    Batch(Batch),
    Restarted(String),
    Incomplete(String),
    /// A file that could not be read, or only up to some byte: (name, reason).
    FileProblem(String, String),
    FileDone(u64),
}

fn session_digest(k: &SessionKey) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(k.0.as_bytes());
    h.update(&[0]);
    h.update(k.1.as_bytes());
    h.digest()
}

/// Ingests `paths` (files, `.gz`, folders, `-`) into `store`, migrating it first if needed.
pub async fn ingest(store: &Store, paths: &[PathBuf], opts: &IngestOptions) -> Result<IngestStats> {
    let started = Instant::now();
    if let Some(refusal) = on_engine!(store, p => p.unfinished_migration().await?) {
        return Err(refusal.into());
    }
    migrate::migrate_reporting(store, &opts.progress).await?;
    let found = source::discover(paths, opts.force)?;
    let total_bytes: u64 = found.sources.iter().map(Source::disk_len).sum();
    let bar = opts.progress.start("ingest", crate::progress::Unit::Bytes, total_bytes, 0);

    let checkpoints = checkpoints(store).await?;
    on_engine!(store, p => write_all(p.lanes().await?, found, checkpoints, opts, bar, started).await)
}

/// Reads the sources `found` on a thread and writes their batches over `idle`'s connections.
async fn write_all<W: FactWriter>(
    mut idle: Vec<W>,
    found: source::Discovered,
    checkpoints: HashMap<String, Checkpoint>,
    opts: &IngestOptions,
    bar: std::sync::Arc<dyn crate::progress::Task>,
    started: Instant,
) -> Result<IngestStats> {
    let (tx, mut rx) = mpsc::channel::<Msg>(1);
    let batch_lines = opts.batch_lines.max(1);
    let mut stats = IngestStats {
        files: found.sources.len() as u64,
        skipped_files: found.skipped.len() as u64,
        file_problems: found.problems,
        ..Default::default()
    };
    let sources = found.sources;
    let memory = opts.memory.clone();
    let reader = tokio::task::spawn_blocking(move || read_all(&sources, &checkpoints, batch_lines, memory, &tx));
    // A 64-bit digest per session, not the key itself: a long log touches millions of
    // sessions, and their keys would grow the memory with the file (measured at 10M events).
    let mut touched: HashSet<u64> = HashSet::new();
    let mut order = CommitOrder::default();
    let mut inflight = FuturesUnordered::new();
    let mut next_seq = 0u64;
    let mut reading = true;
    let stopped = stop_requested(opts.stop.clone());
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            // Ctrl-C: read no further; the batches in flight still commit.
            _ = &mut stopped, if reading => {
                stats.interrupted = true;
                reading = false;
                rx.close();
            }
            Some::<Written<W>>((w, seq, b, out)) = inflight.next(), if !inflight.is_empty() => {
                let out = out.with_context(|| {
                    format!("writing batch {} of {} (from byte {})", b.number, b.source, b.start_byte)
                })?;
                order.committed(seq);
                idle.push(w);
                stats.lines += b.lines;
                stats.blank += b.blank;
                stats.accepted += out.inserted;
                stats.duplicates += b.events.len() as u64 - out.inserted;
                stats.dead_letters += b.dead.len() as u64;
                touched.extend(out.sessions.iter().map(session_digest));
                bar.advance(b.bytes);
                bar.note(format!("{} events", stats.accepted));
                // Freeing a batch's many small strings cost the writer's thread, the slower
                // of the two, about 4% (perf); another thread can do it.
                drop(tokio::task::spawn_blocking(move || drop(b)));
            }
            // A batch is handed out only while at most one earlier batch is writing (the bound
            // on what a resumed run reads again, commit_order.rs).
            msg = rx.recv(), if reading && !idle.is_empty() && order.may_dispatch(next_seq) => match msg {
                Some(Msg::Batch(b)) => {
                    let seq = next_seq;
                    next_seq += 1;
                    let cps = order.dispatch(seq, b.checkpoint.as_ref());
                    // The branch runs only with an idle writer (its condition).
                    let w = idle.pop().context("no idle writer connection")?;
                    inflight.push(write_on(w, seq, b, cps));
                }
                Some(Msg::Restarted(name)) => {
                    // Stored checkpoints only grow (the upsert keeps the larger offset), so a
                    // file read from its start again drops its old one first. No batch of it
                    // has been handed out yet.
                    let w = idle.last_mut().context("no idle writer connection")?;
                    w.forget_checkpoint(&name).await?;
                    stats.restarted.push(name);
                }
                Some(Msg::FileProblem(name, reason)) => stats.file_problems.push((name, reason)),
                Some(Msg::Incomplete(name)) => {
                    stats.incomplete += 1;
                    stats.incomplete_files.push(name);
                }
                Some(Msg::FileDone(bytes)) => bar.advance(bytes),
                None => reading = false,
            },
            else => break,
        }
    }
    let read = reader.await.context("reader thread failed")?;
    if !stats.interrupted {
        read?;
    }
    // Batches that committed out of order wrote only checkpoints known safe at the time;
    // now that everything is stored, every source's final one.
    let mut w = idle.pop().context("no writer connection left")?;
    w.write(&Batch::default(), &order.finish()).await.context("writing the final checkpoints")?;
    bar.finish();
    stats.sessions_touched = touched.len() as u64;
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// Resolves once `stop` is set to true; never, without one (or once its sender is gone).
async fn stop_requested(stop: Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(mut s) = stop {
        if s.wait_for(|v| *v).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// A written batch: the connection handed back, the batch's number, the batch, the outcome.
type Written<W> = (W, u64, Batch, Result<BatchOutcome>);

/// Writes batch `seq` on `w`.
async fn write_on<W: FactWriter>(mut w: W, seq: u64, b: Batch, cps: Vec<Checkpoint>) -> Written<W> {
    let out = w.write(&b, &cps).await;
    (w, seq, b, out)
}

/// Where every source was read up to, by source name.
async fn checkpoints(store: &Store) -> Result<HashMap<String, Checkpoint>> {
    type Row = (String, i64, Vec<u8>, i64, i64);
    let sql = "SELECT source_file, byte_offset, head_hash, head_len, lines_read FROM ingest_checkpoints";
    let rows: Vec<Row> = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as(sql).persistent(E::KEEP_STATEMENTS).fetch_all(c).await?));
    Ok(rows
        .into_iter()
        .map(|(source_file, offset, head_hash, head_len, lines)| {
            let cp = Checkpoint {
                source_file: source_file.clone(),
                byte_offset: offset as u64,
                head_hash,
                head_len: head_len as u64,
                lines_read: lines as u64,
            };
            (source_file, cp)
        })
        .collect())
}

fn send(tx: &mpsc::Sender<Msg>, m: Msg) -> Result<()> {
    tx.blocking_send(m).map_err(|_| anyhow::anyhow!("ingest writer stopped"))
}

/// Most bytes of a source in one batch (besides the line count): memory stays bounded
/// whatever the lines' lengths.
const BATCH_BYTES: u64 = 32 << 20;

fn read_all(
    sources: &[Source],
    checkpoints: &HashMap<String, Checkpoint>,
    batch_lines: usize,
    memory: Option<Memories>,
    tx: &mpsc::Sender<Msg>,
) -> Result<()> {
    for s in sources {
        // One unreadable or damaged file is reported; the others are still loaded.
        if let Err(ReadError::File(reason)) =
            read_source(s, checkpoints.get(&s.name()), batch_lines, memory.as_ref(), tx)
        {
            send(tx, Msg::FileProblem(s.name(), reason))?;
        }
        // Compressed files advance the bar by their size on disk once they are done.
        send(tx, Msg::FileDone(if s.is_gzip() { s.disk_len() } else { 0 }))?;
    }
    Ok(())
}

/// Where to resume a source: its checkpoint, unless the file's head changed (rotated or
/// replaced) or it is now shorter than what was read (truncated).
fn resume_point(s: &Source, head: &[u8], cp: Option<&Checkpoint>) -> (u64, u64, bool) {
    // Streams are read from their first byte, every time.
    let Some(cp) = cp.filter(|_| s.resumable()) else { return (0, 0, false) };
    let same_head = (cp.head_len as usize) <= head.len()
        && blake3::hash(&head[..cp.head_len as usize]).as_bytes()[..] == cp.head_hash[..];
    let long_enough = !s.may_grow() || s.disk_len() >= cp.byte_offset;
    if same_head && long_enough {
        (cp.byte_offset, cp.lines_read, false)
    } else {
        (0, 0, true)
    }
}

/// Why reading a source stopped early: the file (its reason is reported, the run goes on),
/// or the writer side is gone (the run is over).
enum ReadError {
    File(String),
    Stopped,
}

impl From<anyhow::Error> for ReadError {
    fn from(_: anyhow::Error) -> Self {
        // Only `send` returns anyhow errors here: the writer has stopped.
        ReadError::Stopped
    }
}

fn file_error(e: impl std::fmt::Display) -> ReadError {
    ReadError::File(e.to_string())
}

fn read_source(
    s: &Source,
    cp: Option<&Checkpoint>,
    batch_lines: usize,
    carried: Option<&Memories>,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), ReadError> {
    let name = s.name();
    let head = s.head().map_err(|e| file_error(format!("{e:#}")))?;
    let (mut start, mut lines_before, restarted) = resume_point(s, &head, cp);
    let (mut reader, mut after_newline) =
        LineReader::open_resuming(s, start).map_err(|e| file_error(format!("{e:#}")))?;
    if reader.pos() < start {
        // A compressed file that got shorter: it was replaced.
        reader = LineReader::open(s, 0).map_err(|e| file_error(format!("{e:#}")))?;
        after_newline = true;
        start = 0;
        lines_before = 0;
        send(tx, Msg::Restarted(name.clone()))?;
    } else if restarted {
        send(tx, Msg::Restarted(name.clone()))?;
    }
    let checkpoint = |offset: u64, lines: u64| {
        s.resumable().then(|| {
            let head_len = (offset as usize).min(head.len());
            Checkpoint {
                source_file: name.clone(),
                byte_offset: offset,
                head_hash: blake3::hash(&head[..head_len]).as_bytes().to_vec(),
                head_len: head_len as u64,
                lines_read: lines,
            }
        })
    };
    let mut number = 1;
    let new_batch = |number, start_byte| Batch { source: name.clone(), number, start_byte, ..Default::default() };
    let mut b = new_batch(number, start);
    let mut batch_start = start;
    let mut consumed = start;
    let mut lines_total = lines_before;
    let mut incomplete = false;
    let mut damaged = None;
    let mut memory = carried.and_then(|m| lock(m).remove(&name)).unwrap_or_default();
    loop {
        let at = reader.pos();
        let line = match reader.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            // A cut or corrupt .gz, an I/O error: keep every whole line before it.
            Err(e) => {
                damaged = Some(format!("unreadable after byte {at}: {e}"));
                break;
            }
        };
        let overlong = line.len > source::MAX_LINE as u64;
        let is_blank = !overlong && line.bytes.iter().all(u8::is_ascii_whitespace);
        let parsed = if is_blank {
            None
        } else if overlong {
            Some(Err(event::Reject::TooLong(line.len)))
        } else {
            Some(event::parse_line(line.bytes, line.offset))
        };
        if !line.terminated && s.may_grow() && !matches!(parsed, Some(Ok(_))) {
            // Cowrie may still be writing this line: leave it for the next run.
            incomplete = true;
            break;
        }
        // The newline that completes a line read (unterminated) by the previous run.
        let completes_previous = !after_newline && line.len == 0 && line.terminated;
        after_newline = true;
        match parsed {
            None if completes_previous => {}
            None => b.blank += 1,
            Some(Ok(mut e)) => {
                b.lines += 1;
                memory.apply(&mut e);
                b.events.push(e);
            }
            Some(Err(reason)) => {
                b.lines += 1;
                let kept = if overlong { &line.bytes[..source::DEAD_PREFIX.min(line.bytes.len())] } else { line.bytes };
                b.dead.push(DeadLetter::new(line.offset, kept, reason.to_string()));
            }
        }
        consumed = reader.pos();
        // A batch also ends at BATCH_BYTES, so long lines cannot pile up in memory.
        if b.lines + b.blank >= batch_lines as u64 || consumed - batch_start >= BATCH_BYTES {
            lines_total += b.lines;
            b.checkpoint = checkpoint(consumed, lines_total);
            b.bytes = if s.is_gzip() { 0 } else { consumed - batch_start };
            batch_start = consumed;
            number += 1;
            send(tx, Msg::Batch(std::mem::replace(&mut b, new_batch(number, consumed))))?;
        }
    }
    lines_total += b.lines;
    b.checkpoint = checkpoint(consumed, lines_total);
    b.bytes = if s.is_gzip() { 0 } else { consumed - batch_start };
    send(tx, Msg::Batch(b))?;
    if let Some(m) = carried {
        lock(m).insert(name.clone(), memory);
    }
    if incomplete {
        send(tx, Msg::Incomplete(name))?;
    }
    match damaged {
        Some(reason) => Err(ReadError::File(reason)),
        None => Ok(()),
    }
}
