//! migrate-to-postgres against a real SQLite source and a real PostgreSQL target: identical
//! reports after the move, a kill -9 resumed, hostile source rows, rollback, refusal of a
//! foreign target, and validation that names what differs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::*;
use cowrieql::report::builtin;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::store::ingest::ingest;
use cowrieql::store::transfer::{self, TransferOptions};
use cowrieql::store::Store;

fn cowrieql() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cowrieql"));
    c.env_remove("COWRIEQL_DB");
    c
}

fn sqlite_path(db: &TestDb) -> PathBuf {
    PathBuf::from(&db.url)
}

fn pg(db: &TestDb) -> &sqlx::PgPool {
    match &db.store {
        Store::Postgres(p) => p,
        _ => panic!("not PostgreSQL"),
    }
}

fn sq(db: &TestDb) -> &sqlx::SqlitePool {
    match &db.store {
        Store::Sqlite(p) => p,
        _ => panic!("not SQLite"),
    }
}

async fn exists(db: &TestDb, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL").bind(table).fetch_one(pg(db)).await.unwrap()
}

/// Runs migrate-to-postgres; returns exit code, stdout, stderr.
fn migrate_cli(from: &Path, to: &str, extra: &[&str]) -> (i32, String, String) {
    let out = cowrieql()
        .args(["migrate-to-postgres", "--quiet", "--from"])
        .arg(from)
        .args(["--to", to])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_built_from_the_logs_reports_identically_after_the_move() {
    for corpus in corpora() {
        moved_database_reports_identically(&corpus).await;
    }
}

async fn moved_database_reports_identically(corpus: &Corpus) {
    let src = fresh_sqlite().await;
    ingest(&src.store, &corpus.paths, &Default::default()).await.unwrap();
    let dst = fresh_pg().await;
    let source = transfer::open_source(&sqlite_path(&src)).await.unwrap();
    // Small batches: every table is copied in many keyset steps, and raw_events in two parts.
    let opts = TransferOptions { batch_size: 997, ..Default::default() };
    let r = transfer::transfer(&source, pg(&dst), &opts).await.unwrap();
    assert!(r.validation.ok(), "{:?}", r.validation.problems());
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);
    assert_eq!(session_rows(&src.store).await, session_rows(&dst.store).await);
    assert_eq!(fact_rows(&src.store).await, fact_rows(&dst.store).await);
    let raw = r.tables.iter().find(|t| t.table == "raw_events").unwrap();
    assert_eq!(raw.rows as i64, count(&src.store, "raw_events").await);

    let now = Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
    for name in builtin::builtin_names() {
        let report = builtin::builtin(name).unwrap().unwrap();
        let mut outputs = Vec::new();
        for db in [&src, &dst] {
            let result = run(&db.store, &report, &params_for(name, corpus), now)
                .await
                .unwrap_or_else(|e| panic!("{name} on {}: {e:#}", db.label));
            let rows: usize = result.results.iter().map(|q| q.rows.len()).sum();
            assert!(rows > 0, "{name}: no rows, the comparison proves nothing");
            let json = render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
            outputs.push(without_volatile(serde_json::from_str(&json).unwrap()));
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{name} over the {} corpus: the source and the migrated target disagree",
            corpus.name
        );
    }

    // New ids on the target continue after the copied ones.
    let max: i64 = sqlx::query_scalar("SELECT max(id) FROM raw_events").fetch_one(pg(&dst)).await.unwrap();
    let extra = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        extra.path(),
        r#"{"eventid":"cowrie.session.connect","session":"zz1","src_ip":"10.9.9.9","sensor":"new","timestamp":"2026-01-01T00:00:00Z"}
"#,
    )
    .unwrap();
    ingest(&dst.store, &[extra.path().to_path_buf()], &Default::default()).await.unwrap();
    let new_id: i64 =
        sqlx::query_scalar("SELECT id FROM raw_events WHERE sensor = 'new'").fetch_one(pg(&dst)).await.unwrap();
    assert!(new_id > max, "new id {new_id} not after {max}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_killed_part_way_resumes_without_losing_or_duplicating_a_row() {
    let src = fresh_sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cowrie.json");
    let mut data = Vec::new();
    cowrieql::gen::generate(40_000, 11, &mut data).unwrap();
    std::fs::write(&log, &data).unwrap();
    ingest(&src.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
    let dst = fresh_pg().await;

    let mut child = cowrieql()
        .args(["migrate-to-postgres", "--quiet", "--batch-size", "200", "--from"])
        .arg(sqlite_path(&src))
        .args(["--to", &dst.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copied: i64 = if exists(&dst, "cowrieql_transfer_tables").await {
            sqlx::query_scalar("SELECT COALESCE(sum(rows_copied), 0)::bigint FROM cowrieql_transfer_tables")
                .fetch_one(pg(&dst))
                .await
                .unwrap()
        } else {
            0
        };
        if copied >= 2_000 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = count(&dst.store, "raw_events").await;
    assert!(partial > 0 && partial < 40_000, "killed too late to test anything ({partial} rows)");
    let status: String = sqlx::query_scalar("SELECT status FROM cowrieql_transfer").fetch_one(pg(&dst)).await.unwrap();
    assert_eq!(status, "copying");

    // An unfinished target is not silently used.
    let out = cowrieql().args(["--db", &dst.url, "ingest", "--quiet"]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unfinished migrate-to-postgres"));

    let out = cowrieql().args(["--db", &dst.url, "health"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "health calls an unfinished migration critical");
    assert!(String::from_utf8_lossy(&out.stdout).contains("unfinished migrate-to-postgres"));

    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("resumed the migration") && stdout.contains("validation passed"), "{stdout}");
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);
    assert_eq!(fact_rows(&src.store).await, fact_rows(&dst.store).await);
    let dupes: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT id) FROM raw_events").fetch_one(pg(&dst)).await.unwrap();
    assert_eq!(dupes, 0);
    // The indexes dropped for the copy are back.
    let idx: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'raw_events_payload'")
        .fetch_one(pg(&dst))
        .await
        .unwrap();
    assert_eq!(idx, 1);

    // A second run finds it complete and only validates.
    let (code, stdout, _) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("already holds a complete migration"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_source_rows_are_converted_or_named_and_the_copy_resumes_after_a_fix() {
    let src = fresh_sqlite().await;
    ingest(&src.store, &[fixture("quirks.json")], &Default::default()).await.unwrap();
    let s = sq(&src);
    // Hand-edited rows: word booleans, a timestamp with an offset, and JSON that is not JSON.
    sqlx::raw_sql(
        "PRAGMA ignore_check_constraints = ON;
         UPDATE logins SET success = 'true' WHERE id = (SELECT min(id) FROM logins);
         UPDATE sessions SET closed = 'no' WHERE rowid = (SELECT min(rowid) FROM sessions);
         UPDATE commands SET ts = '2025-09-22 12:00:00+02:00' WHERE id = (SELECT min(id) FROM commands);
         UPDATE raw_events SET payload = '{\"broken\": ' WHERE id = 3;",
    )
    .execute(s)
    .await
    .unwrap();
    let dst = fresh_pg().await;
    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &["--batch-size", "2"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains("raw_events id=3") && stderr.contains("column payload") && stderr.contains("not valid JSON"),
        "{stderr}"
    );
    // Everything before the bad row is committed; nothing after it.
    let copied = count(&dst.store, "raw_events").await;
    assert_eq!(copied, 2, "rows before the bad one are kept, in whole batches");

    sqlx::query("UPDATE raw_events SET payload = '{\"fixed\": true}' WHERE id = 3").execute(s).await.unwrap();
    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("resumed"), "{stdout}");
    let success: bool =
        sqlx::query_scalar("SELECT success FROM logins ORDER BY id LIMIT 1").fetch_one(pg(&dst)).await.unwrap();
    assert!(success);
    let ts: String =
        sqlx::query_scalar("SELECT ts::text FROM commands ORDER BY id LIMIT 1").fetch_one(pg(&dst)).await.unwrap();
    assert!(ts.starts_with("2025-09-22 10:00:00"), "{ts}");
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);

    // An odd boolean with no meaning stops the copy and names the row.
    let src2 = fresh_sqlite().await;
    ingest(&src2.store, &[fixture("quirks.json")], &Default::default()).await.unwrap();
    sqlx::raw_sql("PRAGMA ignore_check_constraints = ON; UPDATE logins SET success = 7 WHERE id = 1;")
        .execute(sq(&src2))
        .await
        .unwrap();
    let dst2 = fresh_pg().await;
    let (code, _, stderr) = migrate_cli(&sqlite_path(&src2), &dst2.url, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("logins id=1") && stderr.contains("not a boolean"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_removes_what_the_migration_created() {
    let src = fresh_sqlite().await;
    ingest(&src.store, &[fixture("sample")], &Default::default()).await.unwrap();

    // A target the migration created: the whole schema goes.
    let dst = fresh_pg().await;
    assert_eq!(migrate_cli(&sqlite_path(&src), &dst.url, &[]).0, 0);
    let out = cowrieql().args(["migrate-to-postgres", "--rollback", "--to", &dst.url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for t in ["raw_events", "sessions", "schema_migrations", "cowrieql_transfer", "cowrieql_transfer_tables"] {
        assert!(!exists(&dst, t).await, "{t} left behind");
    }
    // Nothing left to roll back: a clear error.
    let out = cowrieql().args(["migrate-to-postgres", "--rollback", "--to", &dst.url]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to roll back"));

    // A target whose (empty) schema existed before, rolled back after a copy that stopped
    // half-way (a bad source row): the rows go; the schema and every index dropped for the
    // copy are back.
    let dst = fresh_pg().await;
    cowrieql::store::migrate::migrate(&dst.store).await.unwrap();
    let indexes = |db: &TestDb| {
        let p = pg(db).clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
            )
            .fetch_all(&p)
            .await
            .unwrap()
        }
    };
    let before = indexes(&dst).await;
    sqlx::query("UPDATE raw_events SET payload = 'not json' WHERE id = 50").execute(sq(&src)).await.unwrap();
    let source = transfer::open_source(&sqlite_path(&src)).await.unwrap();
    let opts = TransferOptions { batch_size: 10, ..Default::default() };
    let err = transfer::transfer(&source, pg(&dst), &opts).await.unwrap_err();
    assert!(format!("{err:#}").contains("raw_events id=50"), "{err:#}");
    assert!(count(&dst.store, "raw_events").await > 0);
    assert!(indexes(&dst).await.len() < before.len(), "the copy runs without its secondary indexes");
    transfer::rollback(pg(&dst)).await.unwrap();
    assert!(exists(&dst, "raw_events").await);
    assert!(!exists(&dst, "cowrieql_transfer").await);
    assert!(counts(&dst.store).await.iter().all(|(_, n)| *n == 0), "{:?}", counts(&dst.store).await);
    assert_eq!(indexes(&dst).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_with_foreign_data_is_refused_unless_replace_is_given() {
    let src = fresh_sqlite().await;
    ingest(&src.store, &[fixture("sample")], &Default::default()).await.unwrap();
    let dst = fresh_pg().await;
    ingest(&dst.store, &[fixture("quirks.json")], &Default::default()).await.unwrap();
    let (code, _, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already holds cowrieql data") && stderr.contains("--replace"), "{stderr}");
    assert!(!exists(&dst, "cowrieql_transfer").await, "a refused run must leave no trace");

    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &["--replace"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);

    // A --replace run killed before it emptied the target, resumed without the flag: the
    // target is still emptied (the flag is remembered), not copied on top of the old rows.
    let p = pg(&dst);
    sqlx::raw_sql(
        "TRUNCATE raw_events, logins, commands, downloads, sessions, dead_letters, ingest_checkpoints;
         UPDATE cowrieql_transfer SET status = 'prepared';
         UPDATE cowrieql_transfer_tables SET last_key = NULL, rows_copied = 0, done = false;",
    )
    .execute(p)
    .await
    .unwrap();
    ingest(&dst.store, &[fixture("quirks.json")], &Default::default()).await.unwrap_err(); // refused: unfinished
    sqlx::query("UPDATE cowrieql_transfer SET status = 'complete'").execute(p).await.unwrap();
    ingest(&dst.store, &[fixture("quirks.json")], &Default::default()).await.unwrap();
    sqlx::query("UPDATE cowrieql_transfer SET status = 'prepared'").execute(p).await.unwrap();
    assert!(count(&dst.store, "raw_events").await > 0);
    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_only_names_the_table_and_key_of_every_difference() {
    let src = fresh_sqlite().await;
    ingest(&src.store, &[fixture("sample")], &Default::default()).await.unwrap();
    let dst = fresh_pg().await;
    assert_eq!(migrate_cli(&sqlite_path(&src), &dst.url, &[]).0, 0);
    let (code, stdout, _) = migrate_cli(&sqlite_path(&src), &dst.url, &["--validate-only"]);
    assert_eq!(code, 0, "{stdout}");

    let p = pg(&dst);
    let victim: i64 = sqlx::query_scalar("SELECT min(id) FROM logins").fetch_one(p).await.unwrap();
    sqlx::query("UPDATE logins SET username = 'tampered' WHERE id = $1").bind(victim).execute(p).await.unwrap();
    let gone: i64 = sqlx::query_scalar("SELECT max(id) FROM commands").fetch_one(p).await.unwrap();
    sqlx::query("DELETE FROM commands WHERE id = $1").bind(gone).execute(p).await.unwrap();
    let (code, stdout, stderr) = migrate_cli(&sqlite_path(&src), &dst.url, &["--validate-only"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains(&format!("logins: id={victim}: column username")), "{stderr}");
    assert!(stderr.contains("\"tampered\" on the target"), "{stderr}");
    assert!(stderr.contains(&format!("commands: id={gone} missing on the target")), "{stderr}");
    assert!(!stderr.contains("raw_events:"), "{stderr}");
    assert!(stdout.contains("raw_events") && stdout.contains("MISMATCH"), "{stdout}");
}

/// A source that grew after a complete migration (more logs, a session that went on, a
/// purged dead letter) is topped up by the same command, then validated; a target that was
/// written to directly is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_grown_source_is_topped_up_by_the_same_command() {
    let tmp = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    cowrieql::gen::generate(6_000, 21, &mut data).unwrap();
    // The second part continues sessions of the first (same generator stream, cut mid-way).
    let cut = data[..data.len() / 2].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let (first, second) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    std::fs::write(&first, &data[..cut]).unwrap();
    std::fs::write(&second, &data[cut..]).unwrap();
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{broken\n{also broken\n").unwrap();

    let src = fresh_sqlite().await;
    ingest(&src.store, &[first.clone(), junk.clone()], &Default::default()).await.unwrap();
    let dst = fresh_pg().await;
    let (code, out, err) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0, "{out}{err}");

    // The switch-over is gradual: SQLite keeps loading.
    ingest(&src.store, std::slice::from_ref(&second), &Default::default()).await.unwrap();
    cowrieql::store::dead_letters::purge(
        &src.store,
        &cowrieql::store::dead_letters::PurgeFilter { reason: None, file: None, before: None },
        true,
    )
    .await
    .unwrap();
    let (code, out, err) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("topped up the target") && out.contains("validation passed"), "{out}");
    assert!(out.contains("raw_events") && out.contains("added"), "{out}");
    assert_eq!(counts(&src.store).await, counts(&dst.store).await);
    assert_eq!(session_rows(&src.store).await, session_rows(&dst.store).await);
    assert_eq!(fact_rows(&src.store).await, fact_rows(&dst.store).await);
    // Nothing changed since: validated again, nothing copied.
    let (code, out, _) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("validated it again"), "{out}");

    // The target then gets its own rows: a top-up would collide, so it is refused.
    let extra = tmp.path().join("c.json");
    std::fs::write(
        &extra,
        r#"{"eventid":"cowrie.session.connect","session":"zz9","src_ip":"10.9.9.9","sensor":"new","timestamp":"2026-01-01T00:00:00Z"}
"#,
    )
    .unwrap();
    ingest(&dst.store, std::slice::from_ref(&extra), &Default::default()).await.unwrap();
    let more = tmp.path().join("d.json");
    std::fs::write(
        &more,
        r#"{"eventid":"cowrie.session.connect","session":"zz8","src_ip":"10.9.9.8","sensor":"old","timestamp":"2026-01-02T00:00:00Z"}
{"eventid":"cowrie.session.connect","session":"zz7","src_ip":"10.9.9.7","sensor":"old","timestamp":"2026-01-02T00:00:01Z"}
"#,
    )
    .unwrap();
    ingest(&src.store, std::slice::from_ref(&more), &Default::default()).await.unwrap();
    let (code, _, err) = migrate_cli(&sqlite_path(&src), &dst.url, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("written to after the migration") && err.contains("--replace"), "{err}");
}

/// Two migrate-to-postgres into one fresh database at once: one copies, the other waits for
/// it and finds the copy complete; both exit 0 and the target holds every row once.
#[tokio::test(flavor = "multi_thread")]
async fn two_migrations_at_once_wait_for_each_other() {
    let corpus = own_corpus();
    let src = fresh_sqlite().await;
    ingest(&src.store, &corpus.paths, &Default::default()).await.unwrap();
    let dst = fresh_pg().await;
    let from = sqlite_path(&src);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (from, to) = (from.clone(), dst.url.clone());
            std::thread::spawn(move || migrate_cli(&from, &to, &[]))
        })
        .collect();
    for r in runs {
        let (code, out, err) = r.join().unwrap();
        assert_eq!(code, 0, "{out}{err}");
    }
    assert_eq!(counts(&dst.store).await, counts(&src.store).await);
    let (code, out, err) = migrate_cli(&from, &dst.url, &["--validate-only"]);
    assert_eq!(code, 0, "{out}{err}");
}
