//! Operator commands through the binary, on both backends, exit codes included.

mod common;

use std::process::Command;

use common::*;
use cowrieql::store::Store;

fn cq(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
        .env_remove("COWRIEQL_DB")
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `HASH` in the statement becomes a one-byte blob literal of the backend.
async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql.replace("HASH", "X'00'"))).execute(p).await.map(|_| ()).unwrap()
        }
        Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql.replace("HASH", "decode('00', 'hex')")))
            .execute(p)
            .await
            .map(|_| ())
            .unwrap(),
    }
}

#[tokio::test]
async fn health_exit_codes_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let good = fixture("quirks.json");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "not json\n").unwrap();
    for db in both().await {
        let (code, out, err) = cq(&db, &["ingest", "--quiet", good.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("18 accepted"), "{out}");
        let (code, out, _) = cq(&db, &["health"]);
        assert_eq!(code, 0, "{}: {out}", db.label);
        assert!(out.contains("status: ok") && out.contains("raw_events"), "{out}");
        if db.label == "sqlite" {
            assert!(out.contains("integrity: ok"), "{out}");
        }
        // A named file that is not JSON at all is refused, unless forced.
        let (code, _, err) = cq(&db, &["ingest", "--quiet", bad.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("does not look like a Cowrie JSON log") && err.contains("--force"), "{err}");
        let (code, _, err) = cq(&db, &["ingest", "--quiet", "--force", bad.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let (code, out, _) = cq(&db, &["health", "--format", "json"]);
        assert_eq!(code, 1, "{}: a dead letter is a warning: {out}", db.label);
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["status"], "warning");
        assert_eq!(j["dead_letters"], 1);
        assert!(j["dead_letter_reasons"][0][0].as_str().unwrap().starts_with("not valid JSON"), "{j}");
    }
}

#[tokio::test]
async fn optimize_and_backup() {
    let tmp = tempfile::tempdir().unwrap();
    for db in both().await {
        cq(&db, &["ingest", "--quiet", fixture("quirks.json").to_str().unwrap()]);
        let (code, out, err) = cq(&db, &["db", "optimize", "--vacuum"]);
        assert_eq!(code, 0, "{}: {err}", db.label);
        assert!(out.contains("statistics refreshed, space reclaimed"), "{out}");
        let target = tmp.path().join(format!("backup-{}", db.label));
        let (code, _, err) = cq(&db, &["db", "backup", "--out", target.to_str().unwrap()]);
        let has_pg_dump = Command::new("pg_dump").arg("--version").output().is_ok();
        if db.label == "sqlite" || has_pg_dump {
            assert_eq!(code, 0, "{}: {err}", db.label);
            assert!(std::fs::metadata(&target).unwrap().len() > 0);
        } else {
            assert_eq!(code, 2);
            assert!(err.contains("pg_dump was not found"), "{err}");
        }
        if db.label == "sqlite" {
            // The copy is a working database with the same rows.
            let copy = Store::connect(target.to_str().unwrap(), &Default::default()).await.unwrap();
            assert_eq!(counts(&copy).await, counts(&db.store).await);
        }
        // Never overwrites.
        if target.exists() {
            let (code, _, err) = cq(&db, &["db", "backup", "--out", target.to_str().unwrap()]);
            assert_eq!(code, 2);
            assert!(err.contains("refusing to overwrite"), "{err}");
        }
    }
}

#[tokio::test]
async fn dead_letters_list_export_and_retry_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("mixed.json");
    std::fs::write(&f, "garbage line\n{\"eventid\":\"cowrie.session.connect\",\"session\":\"s1\",\"sensor\":\"x\",\"timestamp\":\"2025-09-22T00:00:00Z\"}\n").unwrap();
    for db in both().await {
        cq(&db, &["ingest", "--quiet", f.to_str().unwrap()]);
        // A line an older loader rejected but this one accepts.
        exec(
            &db.store,
            r#"INSERT INTO dead_letters (source_file, source_offset, raw, reason, content_hash, created_at)
               VALUES ('old.json', 7, '{"eventid":"cowrie.login.success","session":"s1","sensor":"x","username":"root","timestamp":"2025-09-22T00:00:01Z"}',
                       'rejected by an older loader', HASH, '2025-09-22T00:00:00Z')"#,
        )
        .await;
        let (code, out, _) = cq(&db, &["dead-letters", "list"]);
        assert_eq!(code, 0);
        assert!(out.contains("garbage line") && out.contains("older loader"), "{out}");
        let (_, out, _) = cq(&db, &["dead-letters", "export"]);
        assert_eq!(out.lines().count(), 2);
        assert!(out.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{out}");
        let before = count(&db.store, "raw_events").await;
        let (code, out, err) = cq(&db, &["dead-letters", "retry"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("2 dead letters examined: 1 accepted into the store, 1 still rejected"),
            "{}: {out}",
            db.label
        );
        assert_eq!(count(&db.store, "raw_events").await, before + 1);
        assert_eq!(count(&db.store, "dead_letters").await, 1);
        assert_eq!(count(&db.store, "logins").await, 1, "{}: the fact row follows", db.label);
        let rows = session_rows(&db.store).await;
        assert!(rows[0].contains("|1|0|true|Some(\"root\")|"), "{}: {}", db.label, rows[0]);
        // Again: nothing moves twice.
        let (_, out, _) = cq(&db, &["dead-letters", "retry"]);
        assert!(out.contains("1 dead letters examined: 0 accepted"), "{out}");
        assert_eq!(count(&db.store, "raw_events").await, before + 1);
    }
}

#[test]
fn completions_and_help_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in ["ingest", "run", "health", "dead-letters"] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in
        ["db", "ingest", "gen", "compile", "check", "run", "query", "reports", "health", "dead-letters", "completions"]
    {
        assert!(help.contains(&format!("  {cmd} ")), "--help lacks {cmd}:\n{help}");
    }
}

#[tokio::test]
async fn bench_times_queries_explains_plans_and_compares_two_databases() {
    let dbs = both().await;
    for db in &dbs {
        cq(db, &["ingest", "--quiet", fixture("sample").to_str().unwrap()]);
    }
    let (code, out, err) = cq(
        &dbs[0],
        &[
            "bench",
            "daily",
            "credentials",
            "-p",
            "date=2025-09-18",
            "-p",
            "window=2025-09-18",
            "--runs",
            "3",
            "--explain",
            "--compare",
            &dbs[1].url,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sqlite min") && out.contains("postgres min") && out.contains("ratio"), "{out}");
    assert!(out.contains("daily/top_commands") && out.contains("credentials/pairs"), "{out}");
    assert!(out.contains("sqlite plan:") && out.contains("postgres plan:"), "{out}");
    assert!(out.contains("Execution Time"), "PostgreSQL plans come from EXPLAIN ANALYZE: {out}");
    assert!(out.contains("compile") && out.contains("render"), "{out}");
    assert!(out.contains("  daily: postgres / sqlite: execute "), "the report's ratio: {out}");
    assert!(
        out.contains(", whole report ") && out.contains("daily on postgres: whole report in one snapshot"),
        "{out}"
    );
    let (code, out, _) = cq(&dbs[1], &["bench", "daily", "-p", "date=2025-09-18", "--runs", "2", "--format", "json"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let q = &j[0]["reports"][0]["queries"][1];
    assert_eq!(q["query"], "top_commands");
    assert_eq!(q["rows"], 10);
    assert!(q["median_ms"].as_f64().unwrap() > 0.0);
    assert!(j[0]["reports"][0]["report_ms"].as_f64().unwrap() > 0.0, "the whole report is timed: {out}");
    // Compared (the two take turns run by run): one entry per database, the same rows on each.
    let (code, out, err) = cq(
        &dbs[0],
        &["bench", "daily", "-p", "date=2025-09-18", "--runs", "3", "--format", "json", "--compare", &dbs[1].url],
    );
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((j[0]["backend"].as_str(), j[1]["backend"].as_str()), (Some("sqlite"), Some("postgres")));
    let rows = |k: usize| -> Vec<(String, i64)> {
        j[k]["reports"][0]["queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["query"].as_str().unwrap().to_string(), q["rows"].as_i64().unwrap()))
            .collect()
    };
    assert!(rows(0).len() >= 4 && rows(0).iter().any(|(_, n)| *n > 0), "{out}");
    assert_eq!(rows(0), rows(1));
}

#[tokio::test]
async fn a_full_scan_of_a_large_table_is_flagged() {
    let db = fresh_sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.json");
    let mut data = Vec::new();
    cowrieql::gen::generate(100_500, 3, &mut data).unwrap();
    std::fs::write(&f, data).unwrap();
    cq(&db, &["ingest", "--quiet", f.to_str().unwrap()]);
    let q = tmp.path().join("scan.yaml");
    std::fs::write(&q, "name: scan\ntitle: Scan\nqueries:\n  by_payload: |\n    from raw_events\n    where payload.input == 'w'\n    aggregate n = count()\n").unwrap();
    let (code, out, err) = cq(&db, &["bench", q.to_str().unwrap(), "--runs", "1", "--explain"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("warning: full scan of raw_events (100500 rows)"), "{out}");
}

/// Every option and argument of every command says what it is for.
#[test]
fn every_option_of_every_command_has_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if a.get_help().is_none() && !["help", "version"].contains(&a.get_id().as_str()) {
                missing.push(format!("{path} --{}", a.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() {
                missing.push(format!("{path} {} (no description)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&cowrieql::cli::Cli::command(), "cowrieql", &mut missing);
    assert!(missing.is_empty(), "options without help: {missing:#?}");

    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let run = help(&["run", "--help"]);
    for form in ["2025-W39", "2025-09-20..2025-09-26", "all", "last 7d", "UTC", "cowrieql reports"] {
        assert!(run.contains(form), "run --help lacks {form}:\n{run}");
    }
    let m = help(&["migrate-to-postgres", "--help"]);
    assert!(m.contains("--from <SQLITE_FILE>") && m.contains("Required, except with --rollback"), "{m}");
}

/// `cowrieql schema` lists what the compiler knows, and its example compiles.
#[test]
fn schema_lists_tables_columns_and_payload_paths() {
    let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).arg("schema").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for t in cowrieql::catalog::TABLES {
        assert!(text.lines().any(|l| l == t.name), "table {} missing", t.name);
        for c in t.columns {
            assert!(text.lines().any(|l| l.trim_start().starts_with(c.name)), "{}.{} missing", t.name, c.name);
        }
    }
    assert!(text.contains("payload.hassh") && text.contains("payload.url"), "{text}");
    let example = text.lines().find_map(|l| l.strip_prefix("Example: ")).expect("an example query");
    let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).args(["compile", "-e", example]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `dead-letters purge` removes what its filters name, says how many first, and asks (or
/// wants --yes when nobody can answer).
#[tokio::test]
async fn dead_letters_purge_by_reason_file_and_time() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, "{not json\n{\"eventid\":\"x\"}\n[1]\n").unwrap();
    std::fs::write(&b, "{broken too\n").unwrap();
    for db in both().await {
        let (code, _, err) = cq(&db, &["ingest", "--quiet", a.to_str().unwrap(), b.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(count(&db.store, "dead_letters").await, 4, "{}", db.label);
        // Nobody at a terminal to ask: refused, nothing deleted.
        let (code, _, err) = cq(&db, &["dead-letters", "purge", "--reason", "not valid JSON"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("2 dead letters match") && err.contains("--yes"), "{}: {err}", db.label);
        assert_eq!(count(&db.store, "dead_letters").await, 4);
        // Stored before 2000: none.
        let (code, out, _) = cq(&db, &["dead-letters", "purge", "--before", "2000-01-01", "--yes"]);
        assert_eq!(code, 0);
        assert!(out.contains("nothing deleted"), "{out}");
        // By reason and file: of the two unparseable lines, b.json's.
        let (code, out, err) =
            cq(&db, &["dead-letters", "purge", "--reason", "not valid JSON", "--file", b.to_str().unwrap(), "--yes"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("deleted 1 dead letters"), "{}: {out}", db.label);
        let (_, out, _) = cq(&db, &["dead-letters", "purge", "--reason", "not valid JSON", "--yes"]);
        assert!(out.contains("deleted 1 dead letters"), "{}: {out}", db.label);
        // Left: the line without a timestamp and the array; stored before tomorrow, they go too.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        let (_, out, _) = cq(&db, &["dead-letters", "purge", "--before", &tomorrow, "--yes"]);
        assert!(out.contains("deleted 2 dead letters"), "{}: {out}", db.label);
        assert_eq!(count(&db.store, "dead_letters").await, 0);
        let (code, _, err) = cq(&db, &["dead-letters", "purge", "--before", "soon", "--yes"]);
        assert_eq!(code, 2);
        assert!(err.contains("invalid time"), "{err}");
    }
}

/// A tmpfs of `mib` MiB mounted on a fresh folder, unmounted when dropped; None (and a line on
/// stderr saying why) where this process may not mount one. Root, as in CI, always may.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        if st.is_ok_and(|s| s.success()) {
            return Some(SmallDisk(dir));
        }
        assert!(!is_root(), "root could not mount a tmpfs for the full-disk test");
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped the full-disk check: mounting a tmpfs needs root");
        None
    }
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// `health` is critical when the disk under the database is nearly full, and says nothing of
/// the disk when there is room: a SQLite file and a PostgreSQL data directory on a small
/// file system, beside the same on a large one.
#[tokio::test]
async fn health_is_critical_on_a_nearly_full_disk() {
    use cowrieql::store::care::health;
    let corpus = own_corpus();
    let Some(small) = SmallDisk::mount(32) else { return };
    let file = small.path().join("c.sqlite");
    let store = Store::connect(file.to_str().unwrap(), &Default::default()).await.unwrap();
    cowrieql::store::ingest::ingest(&store, &corpus.paths, &Default::default()).await.unwrap();
    let h = health(&store).await.unwrap();
    assert_eq!(h.exit_code(), 2, "{:?}", h.problems());
    assert!(
        h.problems().iter().any(|p| p.starts_with("critical: only") && p.contains("c.sqlite")),
        "{:?}",
        h.problems()
    );
    store.close().await;

    let Some(pg_disk) = SmallDisk::mount(100) else { return };
    std::process::Command::new("chown").args(["postgres:"]).arg(pg_disk.path()).status().unwrap();
    let cluster = OwnCluster::start(pg_disk.path());
    let store = Store::connect(&cluster.url("postgres"), &Default::default()).await.unwrap();
    cowrieql::store::migrate::migrate(&store).await.unwrap();
    let h = health(&store).await.unwrap();
    let d = h.disk.as_ref().expect("the local server's data directory is measured");
    assert!(d.path.starts_with(pg_disk.path().to_str().unwrap()), "{}", d.path);
    assert!(d.wal_bytes.is_some_and(|w| w > 0), "the superuser sees pg_wal");
    assert_eq!(h.exit_code(), 2, "{:?}", h.problems());
    assert!(h.problems().iter().any(|p| p.starts_with("critical: only")), "{:?}", h.problems());
    store.close().await;
    drop(cluster);

    // With room: no line about the disk, on either backend.
    for db in both().await {
        cowrieql::store::ingest::ingest(&db.store, &corpus.paths, &Default::default()).await.unwrap();
        let h = health(&db.store).await.unwrap();
        assert!(h.disk.is_some(), "{}", db.label);
        assert!(!h.problems().iter().any(|p| p.contains("free on the disk")), "{}: {:?}", db.label, h.problems());
    }
}
