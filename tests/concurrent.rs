//! Many `cowrieql ingest` processes into one database at once: 8 on PostgreSQL, 3 on
//! SQLite, over one sensor's rotated files with every file read by two of them. Nothing is
//! lost or doubled: every table equals one single-writer ingest of the same files, and no
//! writer fails (PostgreSQL deadlocks are retried inside; SQLite writers wait their turn).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use cowrieql::store::ingest::ingest;
use cowrieql::store::Store;
use sqlx::Row;

fn cowrieql() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cowrieql"));
    c.env_remove("COWRIEQL_DB").env_remove("COWRIEQL_LOG");
    c
}

/// A generated log cut into `parts` rotated files, so that sessions span files (and so
/// writers).
fn rotated_files(dir: &Path, events: u64, parts: usize) -> Vec<PathBuf> {
    let mut data = Vec::new();
    cowrieql::gen::generate(events, 21, &mut data).unwrap();
    let text = String::from_utf8(data).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let per = lines.len().div_ceil(parts);
    lines
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let f = dir.join(format!("cowrie.json.{}", parts - i));
            std::fs::write(&f, chunk.join("\n") + "\n").unwrap();
            f
        })
        .collect()
}

/// The stored lines (by content hash), so a line stored twice or lost shows.
async fn raw_hashes(store: &Store) -> Vec<Vec<u8>> {
    let sql = "SELECT content_hash FROM raw_events ORDER BY content_hash";
    match store {
        Store::Sqlite(p) => sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
        Store::Postgres(p) => sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
    }
}

/// Everything a writer decides: counts of every table, each stored line, every session and
/// fact row. Checkpoints are compared by file and offset (their times differ).
async fn state(
    store: &Store,
) -> (Vec<(&'static str, i64)>, Vec<Vec<u8>>, Vec<String>, Vec<String>, Vec<(String, i64)>) {
    let cps = "SELECT source_file, byte_offset FROM ingest_checkpoints ORDER BY source_file";
    let checkpoints: Vec<(String, i64)> = match store {
        Store::Sqlite(p) => sqlx::query_as(cps).fetch_all(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_as(cps).fetch_all(p).await.unwrap(),
    };
    (counts(store).await, raw_hashes(store).await, session_rows(store).await, fact_rows(store).await, checkpoints)
}

async fn writers_at_once_equal_one_writer(writers: usize, reference: TestDb, shared: TestDb) {
    let tmp = tempfile::tempdir().unwrap();
    let files = rotated_files(tmp.path(), 12_000, writers);
    ingest(&reference.store, &files, &Default::default()).await.unwrap();
    let want = state(&reference.store).await;
    assert!(want.0.iter().all(|(t, n)| *n > 0 || *t == "dead_letters"), "{}: {:?}", reference.label, want.0);

    // Writer i reads files i and i+1: every file is read by two writers at once. Small
    // batches give many transactions to interleave. Nobody has migrated the database yet:
    // the writers race for that too.
    let children: Vec<_> = (0..writers)
        .map(|i| {
            cowrieql()
                .args(["--db", &shared.url, "ingest", "--quiet", "--batch-size", "250"])
                .arg(&files[i])
                .arg(&files[(i + 1) % writers])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{} writer {i}: {err}", shared.label);
        assert!(!err.contains("locked") && !err.contains("deadlock"), "{} writer {i}: {err}", shared.label);
    }
    let got = state(&shared.store).await;
    assert_eq!(got.0, want.0, "{}: table counts", shared.label);
    assert!(got.1 == want.1, "{}: stored lines differ", shared.label);
    assert_eq!(got.2, want.2, "{}: sessions", shared.label);
    assert_eq!(got.3, want.3, "{}: facts", shared.label);
    assert_eq!(got.4, want.4, "{}: checkpoints", shared.label);
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_writers_on_postgres_equal_one_writer() {
    writers_at_once_equal_one_writer(8, fresh_pg().await, fresh_pg().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_writers_on_sqlite_equal_one_writer() {
    writers_at_once_equal_one_writer(3, fresh_sqlite().await, fresh_sqlite().await).await;
}

/// An ingest that meets another process's write lock on SQLite says it is waiting, waits
/// as long as the lock is held (here past the 30 s busy timeout is not needed: it is
/// released once the line is seen), then loads everything.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_ingest_says_it_waits_for_another_writer_and_then_loads() {
    let db = fresh_sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let files = rotated_files(tmp.path(), 2_000, 2);
    ingest(&db.store, &files[..1], &Default::default()).await.unwrap();
    let before = count(&db.store, "raw_events").await;

    let holder = rusqlite::Connection::open(&db.url).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut child = cowrieql()
        .args(["--db", &db.url, "ingest", "--quiet"])
        .arg(&files[1])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "ingest ended without saying it waits: {seen}");
        seen.push_str(&line);
        if line.contains("waiting for it") {
            break;
        }
    }
    // Still waiting, not failed: nothing of the second file is stored yet.
    assert!(child.try_wait().unwrap().is_none(), "{seen}");
    holder.execute_batch("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{seen}");
    assert!(count(&db.store, "raw_events").await > before);
    let text = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(count(&db.store, "raw_events").await, before + text.lines().count() as i64);
}

/// A report's queries read one snapshot while an ingest writes. On PostgreSQL they run at
/// once on several connections that share it (an exported snapshot); on SQLite one after the
/// other in one transaction. Six sections count the same rows: every run gives six equal
/// counts, also the runs that fall mid-ingest.
#[tokio::test(flavor = "multi_thread")]
async fn a_reports_queries_share_one_snapshot_while_an_ingest_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, rest) = (tmp.path().join("first.json"), tmp.path().join("rest.json"));
    let mut data = Vec::new();
    cowrieql::gen::generate(2_000, 5, &mut data).unwrap();
    std::fs::write(&first, &data).unwrap();
    data.clear();
    cowrieql::gen::generate(40_000, 6, &mut data).unwrap();
    std::fs::write(&rest, &data).unwrap();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&first), &Default::default()).await.unwrap();
        db.store.warm_up().await.unwrap();
        let q = cowrieql::compile::compile(
            "from raw_events | aggregate n = count()",
            db.store.dialect(),
            &Default::default(),
        )
        .unwrap();
        let queries = vec![q; 6];
        let binds = vec![Vec::new(); 6];
        let read = async || {
            let done = cowrieql::store::query::run_all(&db.store, &queries, &binds).await.unwrap();
            let counts: Vec<String> = done.rows.iter().map(|r| format!("{:?}", r[0][0])).collect();
            (counts, done.connections)
        };
        let (before, _) = read().await;
        let mut writer = cowrieql()
            .args(["--db", &db.url, "ingest", "--quiet", "--batch-size", "200"])
            .arg(&rest)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = Vec::new();
        let mut most_connections = 0;
        while writer.try_wait().unwrap().is_none() {
            let (counts, connections) = read().await;
            assert!(counts.iter().all(|c| *c == counts[0]), "{}: sections disagree: {counts:?}", db.label);
            most_connections = most_connections.max(connections);
            seen.push(counts[0].clone());
        }
        assert!(writer.wait().unwrap().success(), "{}: the ingest failed", db.label);
        let (after, _) = read().await;
        assert_ne!(before[0], after[0], "{}", db.label);
        let mid = seen.iter().filter(|c| **c != before[0] && **c != after[0]).count();
        assert!(mid > 0, "{}: no read fell mid-ingest ({} reads)", db.label, seen.len());
        if db.label == "postgres" {
            assert!(most_connections > 1, "{}: the queries never ran on more than one connection", db.label);
        } else {
            assert_eq!(most_connections, 1, "{}", db.label);
        }
    }
}
