//! Monthly partitions on PostgreSQL (migration 9): ingest makes each month's partitions
//! before writing it; a one-month query reads only that month's; a database loaded before
//! partitioning is converted with every row kept; `db prune` drops whole months. SQLite keeps
//! one table per kind, and gives the same rows.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use cowrieql::store::ingest::ingest;
use cowrieql::store::postgres::partitions;
use cowrieql::store::Store;
use futures_util::TryStreamExt;

/// Events spread over three months (2025-07-01 to 2025-09-28).
fn three_months(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let mut data = Vec::new();
    let spread = cowrieql::gen::Spread { start: Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap(), days: Some(90) };
    cowrieql::gen::generate_spread(6_000, 3, spread, &mut data).unwrap();
    log_file(dir, "cowrie.json", std::str::from_utf8(&data).unwrap())
}

fn pg(db: &TestDb) -> &sqlx::PgPool {
    match &db.store {
        Store::Postgres(p) => p,
        Store::Sqlite(_) => panic!("PostgreSQL expected"),
    }
}

#[tokio::test]
async fn ingest_makes_monthly_partitions_and_a_month_reads_only_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three_months(&tmp);
    let dbs = both().await;
    for db in &dbs {
        ingest(&db.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
    }
    let made: Vec<String> = partitions::months(pg(&dbs[1])).await.unwrap().into_iter().map(|p| p.name).collect();
    for table in partitions::PARTITIONED {
        for month in ["2025_07", "2025_08", "2025_09", "2025_10"] {
            assert!(made.contains(&format!("{table}_{month}")), "{table}_{month} in {made:?}");
        }
    }
    // Nothing of the sane range went to the default partitions.
    for table in partitions::PARTITIONED {
        let n = count(&dbs[1].store, &format!("{table}_other")).await;
        assert_eq!(n, 0, "{table}_other");
    }

    let month = "from raw_events | where ts >= @2025-08-01 and ts < @2025-09-01 | group event_type | aggregate n = count() | sort event_type";
    let plan = cli(&dbs[1].url, &["query", "--explain", month]);
    assert!(plan.contains("raw_events_2025_08"), "{plan}");
    for other in ["raw_events_2025_07", "raw_events_2025_09", "raw_events_2025_10", "raw_events_other"] {
        assert!(!plan.contains(other), "a one-month query reads {other}:\n{plan}");
    }
    // The same rows on both backends, for the month and for the whole.
    for q in [month, "from logins | group d = date(ts) | aggregate n = count() | sort d"] {
        let rows: Vec<String> = dbs.iter().map(|db| cli(&db.url, &["query", "-f", "csv", q])).collect();
        assert_eq!(rows[0], rows[1], "{q}");
        assert!(rows[0].lines().count() > 2, "{q}: {}", rows[0]);
    }
}

fn cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cowrieql"))
        .env_remove("COWRIEQL_DB")
        .args(["--db", url])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A database at migration 8 holding a copy, row for row, of `loaded`'s tables: one filled
/// before partitioning.
async fn filled_before_partitioning(loaded: &TestDb) -> TestDb {
    let old = fresh_pg().await;
    let set = cowrieql::store::migrate::builtin(old.store.backend());
    cowrieql::store::migrate::migrate_with(&old.store, &set[..8]).await.unwrap();
    for t in ["raw_events", "logins", "commands", "downloads", "probes", "sessions", "tunnels", "ingest_checkpoints"] {
        // The columns the table had at migration 8 (later migrations add some).
        let cols: String = sqlx::query_scalar(
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns \
             WHERE table_name = $1 AND table_schema = current_schema()",
        )
        .bind(t)
        .fetch_one(pg(&old))
        .await
        .unwrap();
        let mut from = pg(loaded).acquire().await.unwrap();
        let rows: Vec<u8> = from
            .copy_out_raw(&format!("COPY (SELECT {cols} FROM {t}) TO STDOUT"))
            .await
            .unwrap()
            .try_fold(Vec::new(), |mut v, b| async move {
                v.extend_from_slice(&b);
                Ok(v)
            })
            .await
            .unwrap();
        let mut to = pg(&old).acquire().await.unwrap();
        let mut c = to.copy_in_raw(&format!("COPY {t} ({cols}) FROM STDIN")).await.unwrap();
        c.send(rows).await.unwrap();
        c.finish().await.unwrap();
    }
    assert!(partitions::months(pg(&old)).await.unwrap().is_empty(), "not partitioned yet");
    old
}

/// A database filled before migration 9 is partitioned by the migration with every row,
/// session and fact as it was.
#[tokio::test]
async fn the_migration_partitions_a_loaded_database_keeping_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three_months(&tmp);
    let loaded = fresh_pg().await;
    ingest(&loaded.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
    let old = filled_before_partitioning(&loaded).await;
    let ran = cowrieql::store::migrate::migrate(&old.store).await.unwrap();
    assert_eq!(ran, vec![9, 10, 11]);
    assert!(!partitions::months(pg(&old)).await.unwrap().is_empty());
    assert_eq!(counts(&old.store).await, counts(&loaded.store).await);
    assert_eq!(session_rows(&old.store).await, session_rows(&loaded.store).await);
    assert_eq!(fact_rows(&old.store).await, fact_rows(&loaded.store).await);
    let left: bool = sqlx::query_scalar(
        "SELECT to_regclass('raw_events_unpartitioned') IS NOT NULL \
                                         OR to_regclass('cowrieql_partitioning') IS NOT NULL",
    )
    .fetch_one(pg(&old))
    .await
    .unwrap();
    assert!(!left, "the old tables and the bookkeeping are gone");
    // And it takes new events after it: ids go on from the copied ones.
    let more = log_file(&tmp, "more.json", &generated_text(300, 8));
    ingest(&old.store, &[more], &Default::default()).await.unwrap();
    assert_eq!(count(&old.store, "raw_events").await, count(&loaded.store, "raw_events").await + 300);
}

/// Progress that stops the process (a panic) once `after` rows of raw_events were reported
/// copied: a kill between two committed chunks.
struct KillAfter(u64);

impl cowrieql::progress::Progress for KillAfter {
    fn start(
        &self,
        name: &str,
        _: cowrieql::progress::Unit,
        total: u64,
        done: u64,
    ) -> std::sync::Arc<dyn cowrieql::progress::Task> {
        assert!(total > 0, "{name}: the rows before the copy are counted");
        std::sync::Arc::new(KillTask {
            table: name.to_string(),
            seen: std::sync::atomic::AtomicU64::new(done),
            after: self.0,
        })
    }
}

struct KillTask {
    table: String,
    seen: std::sync::atomic::AtomicU64,
    after: u64,
}

impl cowrieql::progress::Task for KillTask {
    fn advance(&self, n: u64) {
        let seen = self.seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n;
        if self.table == "raw_events" && seen >= self.after {
            panic!("killed after {seen} rows of raw_events");
        }
    }
    fn note(&self, _: String) {}
    fn finish(&self) {}
}

/// Moving the rows is resumable: killed between chunks, the database says it is unfinished
/// (reports refuse, with the way out), and the next migrate goes on from the last committed
/// chunk, checks every table and ends with every row as it was. A row that did not come from
/// the old table fails the check, and nothing is dropped.
#[tokio::test]
async fn moving_rows_into_partitions_resumes_after_a_kill_and_checks_every_row() {
    use cowrieql::store::postgres::partitioning;
    let tmp = tempfile::tempdir().unwrap();
    let log = three_months(&tmp);
    let loaded = fresh_pg().await;
    ingest(&loaded.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
    let old = filled_before_partitioning(&loaded).await;
    // Migration 9 itself: the schema, in moments; the rows wait in the old tables.
    let set = cowrieql::store::migrate::builtin(old.store.backend());
    cowrieql::store::migrate::migrate_with(&old.store, &set).await.unwrap();
    let refusal = partitioning::refusal(pg(&old)).await.unwrap().expect("unfinished").to_string();
    assert!(refusal.contains("cowrieql db migrate"), "{refusal}");

    // Killed after the second chunk of 1,000 rows.
    let other = Store::connect(&old.url, &Default::default()).await.unwrap();
    let Store::Postgres(pool) = other.clone() else { unreachable!() };
    let killed = tokio::spawn(async move {
        let progress = cowrieql::progress::Reporter(std::sync::Arc::new(KillAfter(2_000)));
        partitioning::finish_with(&pool, &progress, 1_000).await
    })
    .await;
    assert!(killed.is_err(), "the copy was not killed: {killed:?}");
    other.close().await;
    let (copied, last): (i64, i64) =
        sqlx::query_as("SELECT rows_copied, last_id FROM cowrieql_partitioning WHERE table_name = 'raw_events'")
            .fetch_one(pg(&old))
            .await
            .unwrap();
    assert_eq!(copied, 2_000, "two chunks committed");
    assert_eq!(count(&old.store, "raw_events").await, 2_000);
    let first_ids: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events_unpartitioned WHERE id <= $1")
        .bind(last)
        .fetch_one(pg(&old))
        .await
        .unwrap();
    assert_eq!(first_ids, 2_000, "the chunks are the lowest ids");
    // Reports refuse while rows are missing.
    let q =
        cowrieql::compile::compile("from raw_events | aggregate n = count()", old.store.dialect(), &Default::default())
            .unwrap();
    let err = cowrieql::store::query::run_all(&old.store, &[q], &[vec![]]).await.err().expect("refused").to_string();
    assert!(err.contains("monthly partitions"), "{err}");

    // A row that did not come from the old table: the check fails and keeps the old table.
    sqlx::query(
        "INSERT INTO raw_events (session_id, event_type, ts, src_ip, sensor, payload, source_file, source_offset, content_hash) \
         VALUES ('x', 'cowrie.session.closed', '2025-07-02T00:00:00Z', '10.0.0.1', 's', '{}', 'f', 0, '\\x00')",
    )
    .execute(pg(&old))
    .await
    .unwrap();
    let err = cowrieql::store::migrate::migrate(&old.store).await.unwrap_err().to_string();
    assert!(err.contains("raw_events") && err.contains("nothing was dropped"), "{err}");
    assert!(partitioning::refusal(pg(&old)).await.unwrap().is_some());
    sqlx::query("DELETE FROM raw_events WHERE session_id = 'x'").execute(pg(&old)).await.unwrap();

    // Resumed: everything as it was.
    cowrieql::store::migrate::migrate(&old.store).await.unwrap();
    assert!(partitioning::refusal(pg(&old)).await.unwrap().is_none());
    assert_eq!(counts(&old.store).await, counts(&loaded.store).await);
    assert_eq!(session_rows(&old.store).await, session_rows(&loaded.store).await);
    assert_eq!(fact_rows(&old.store).await, fact_rows(&loaded.store).await);
}

fn generated_text(events: u64, seed: u64) -> String {
    let mut v = Vec::new();
    cowrieql::gen::generate(events, seed, &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

/// `db prune` drops the months wholly before the boundary as partitions (PostgreSQL) and
/// leaves the same rows as SQLite's batched deletes.
#[tokio::test]
async fn prune_drops_whole_months_on_postgres_and_agrees_with_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three_months(&tmp);
    let before = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let mut seen = Vec::new();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
        if let Store::Postgres(p) = &db.store {
            let had = partitions::months(p).await.unwrap();
            assert!(had.iter().filter(|m| m.end() <= before).count() >= 10, "July and August: {had:?}");
        }
        let opts = cowrieql::store::prune::PruneOptions { before, dry_run: false, progress: Default::default() };
        cowrieql::store::prune::prune(&db.store, &opts).await.unwrap();
        if let Store::Postgres(p) = &db.store {
            let left = partitions::months(p).await.unwrap();
            assert!(left.iter().all(|m| m.month >= before), "{left:?}");
        }
        let early = count(&db.store, "raw_events WHERE ts < (SELECT min(first_event_at) FROM sessions)").await;
        assert_eq!(early, 0, "{}", db.label);
        seen.push((counts(&db.store).await, session_rows(&db.store).await, fact_rows(&db.store).await));
    }
    assert_eq!(seen[0].1, seen[1].1, "sessions");
    assert_eq!(seen[0].2, seen[1].2, "facts");
}
