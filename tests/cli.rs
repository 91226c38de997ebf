//! The binary, end to end: exit codes, messages, and an ingest killed with SIGKILL.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn cowrieql() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cowrieql"));
    c.env_remove("COWRIEQL_DB");
    c
}

#[test]
fn unreachable_postgres_is_one_clear_line() {
    let out = cowrieql()
        .args(["--db", "postgres://nobody@127.0.0.1:1/none", "--connect-timeout", "3", "db", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect to PostgreSQL at 127.0.0.1:1") && err.contains("refused"), "{err}");
}

#[test]
fn gen_is_deterministic_and_ingest_reads_stdin() {
    let a = cowrieql().args(["gen", "--events", "300", "--seed", "5"]).output().unwrap();
    let b = cowrieql().args(["gen", "--events", "300", "--seed", "5"]).output().unwrap();
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("x.sqlite");
    let mut child = cowrieql()
        .args(["--db", db.to_str().unwrap(), "ingest", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&a.stdout).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 files, 300 lines: 300 accepted, 0 duplicates, 0 dead letters"), "{text}");
}

#[test]
fn db_status_lists_pending_then_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.sqlite");
    let run = |args: &[&str]| {
        let out = cowrieql().arg("--db").arg(&db).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let st = run(&["db", "status"]);
    assert!(st.contains("0001_core.sql") && st.trim_end().ends_with("pending"), "{st}");
    let versions: Vec<i64> =
        cowrieql::store::migrate::builtin(cowrieql::store::Backend::Sqlite).iter().map(|m| m.version).collect();
    let applied = run(&["db", "migrate"]);
    assert!(applied.contains(&format!("applied migrations {versions:?}")), "{applied}");
    assert!(run(&["db", "migrate"]).contains("up to date"));
    assert!(run(&["db", "status"]).contains("applied 20"));
}

/// An ingest killed with SIGKILL part-way, then run again, ends exactly as one clean run.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_ingest_resumes_to_the_state_of_one_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cowrie.json");
    let mut data = Vec::new();
    cowrieql::gen::generate(60_000, 77, &mut data).unwrap();
    std::fs::write(&log, &data).unwrap();
    for (victim, clean) in [(fresh_sqlite().await, fresh_sqlite().await), (fresh_pg().await, fresh_pg().await)] {
        let mut child = cowrieql()
            .args(["--db", &victim.url, "ingest", "--batch-size", "1000", "--quiet"])
            .arg(&log)
            .env("PGAPPNAME", VICTIM)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until some batches are committed, then kill without warning.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let n = if count_if_exists(&victim.store).await >= 5_000 { 1 } else { 0 };
            if n == 1 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let cowrieql::store::Store::Postgres(_) = &victim.store {
            assert!(sessions_named(&victim.store, VICTIM).await > 0, "the ingest's sessions are not named {VICTIM}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A COMMIT the client sent just before it died still completes on the server: count
        // only once the killed client's server sessions are gone.
        wait_for_sessions_to_end(&victim.store).await;
        let partial = count(&victim.store, "raw_events").await;
        assert!(partial > 0 && partial < 60_000, "{}: killed too late to test anything ({partial} rows)", victim.label);

        let out = cowrieql().args(["--db", &victim.url, "ingest", "--quiet"]).arg(&log).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = String::from_utf8_lossy(&out.stdout);
        // Every missing line is added once. PostgreSQL writes over two connections, so its
        // last safe checkpoint may lag up to two batches behind what had committed: those
        // lines are read again and count as duplicates (docs/ingest.md).
        let number_before = |what: &str| -> i64 {
            let at = summary.find(what).unwrap_or_else(|| panic!("no `{what}` in {summary}"));
            summary[..at].rsplit(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
        };
        assert_eq!(number_before(" accepted"), 60_000 - partial, "{}: {summary}", victim.label);
        let reread_allowed = if victim.label.contains("sqlite") { 0 } else { 2 * 1000 };
        assert!(number_before(" duplicates") <= reread_allowed, "{}: {summary}", victim.label);

        cowrieql::store::ingest::ingest(&clean.store, std::slice::from_ref(&log), &Default::default()).await.unwrap();
        assert_eq!(counts(&victim.store).await, counts(&clean.store).await, "{}", victim.label);
        assert_eq!(session_rows(&victim.store).await, session_rows(&clean.store).await, "{}", victim.label);
        assert_eq!(fact_rows(&victim.store).await, fact_rows(&clean.store).await, "{}", victim.label);
    }
}

const VICTIM: &str = "cowrieql_victim";

async fn sessions_named(store: &cowrieql::store::Store, name: &str) -> i64 {
    use sqlx::Row;
    let cowrieql::store::Store::Postgres(p) = store else { return 0 };
    let q = "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1";
    sqlx::query(q).bind(name).fetch_one(p).await.unwrap().get(0)
}

async fn wait_for_sessions_to_end(store: &cowrieql::store::Store) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = sessions_named(store, VICTIM).await;
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the killed ingest's {left} server sessions never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count_if_exists(store: &cowrieql::store::Store) -> i64 {
    use sqlx::Row;
    let q = "SELECT COUNT(*) FROM raw_events";
    let r = match store {
        cowrieql::store::Store::Sqlite(p) => sqlx::query(q).fetch_one(p).await.map(|r| r.get::<i64, _>(0)),
        cowrieql::store::Store::Postgres(p) => sqlx::query(q).fetch_one(p).await.map(|r| r.get::<i64, _>(0)),
    };
    r.unwrap_or(0)
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = cowrieql().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Read commands on a database that is not there say so (exit 2) and create nothing.
#[test]
fn read_commands_never_create_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["run", "daily"][..],
        &["query", "from sessions | take 1"],
        &["views", "list"],
        &["health"],
        &["dead-letters", "list"],
    ] {
        let (code, _, err) = run_in(tmp.path(), args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(
                "no cowrieql database at cowrieql.sqlite: load logs with `cowrieql ingest`, or choose one with --db"
            ),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "{args:?} created a file");
    }
    // A wrong report name is said first, with the nearest name.
    let (code, _, err) = run_in(tmp.path(), &["run", "dailly"]);
    assert_eq!(code, 2);
    assert!(err.contains("no report named \"dailly\" (did you mean \"daily\"?)"), "{err}");
    let (code, _, err) = run_in(tmp.path(), &["run", "daily", "-p", "dat=2025-09-18"]);
    assert_eq!(code, 2);
    assert!(err.contains("has no parameter \"dat\" (did you mean \"date\"?)"), "{err}");
}

/// After `ingest` the .sqlite file alone holds everything (the WAL was checkpointed).
#[test]
fn the_sqlite_file_is_whole_after_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(tmp.path(), &["ingest", "--quiet", fixture("sample").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let wal = tmp.path().join("cowrieql.sqlite-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "the WAL still holds data");
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(tmp.path().join("cowrieql.sqlite"), copy.path().join("cowrieql.sqlite")).unwrap();
    let (code, out, err) = run_in(copy.path(), &["query", "from raw_events | aggregate n = count()", "-f", "csv"]);
    assert_eq!(code, 0, "{err}");
    let n: u64 = out.lines().nth(1).unwrap().trim().parse().unwrap();
    let lines = std::fs::read_to_string(fixture("sample/cowrie.json")).unwrap().lines().count() as u64;
    assert_eq!(n, lines, "the copied file alone holds every event");
}

/// URLs and servers that are not what cowrieql can use are named as such.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_databases_are_named_with_the_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(tmp.path(), &["--db", "mysql://root@localhost/cowrie", "ingest", "-"]);
    assert_eq!(code, 2);
    assert!(err.contains("unsupported database URL scheme `mysql://`"), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no file named after the URL");

    // A port that answers, but not as PostgreSQL (an SSH-like banner, then close).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Not joined: should the client never connect, the test must not hang on accept.
    let _server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        }
    });
    let url = format!("postgres://cowrie@127.0.0.1:{port}/cowrie");
    let (code, _, err) = run_in(tmp.path(), &["--db", &url, "--connect-timeout", "20", "health"]);
    assert_eq!(code, 2);
    assert!(err.contains("not PostgreSQL"), "{err}");

    // A server without the database: createdb is suggested.
    let pg = fresh_pg().await;
    let (head, tail) = pg.url.split_once('?').unwrap();
    let missing = format!("{}/no_such_db?{tail}", head.rsplit_once('/').unwrap().0);
    let (code, _, err) = run_in(tmp.path(), &["--db", &missing, "health"]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist") && err.contains("createdb no_such_db"), "{err}");
}

/// Ctrl-C (SIGINT) during ingest: the batches in flight commit, the command says how much is
/// stored and exits 130, and a re-run adds exactly the rest, reading nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_ingest_says_what_it_committed_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cowrie.json");
    let mut data = Vec::new();
    cowrieql::gen::generate(60_000, 78, &mut data).unwrap();
    std::fs::write(&log, &data).unwrap();
    for db in [fresh_sqlite().await, fresh_pg().await] {
        let child = cowrieql()
            .args(["--db", &db.url, "ingest", "--batch-size", "500", "--quiet"])
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while count_if_exists(&db.store).await < 5_000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Ctrl-C on SQLite, a service manager's SIGTERM on PostgreSQL: handled alike.
        let signal = if db.label == "sqlite" { "-INT" } else { "-TERM" };
        let st = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(st.success());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stored = count(&db.store, "raw_events").await;
        assert!(stored < 60_000, "{}: interrupted too late to test anything", db.label);
        assert_eq!(out.status.code(), Some(130), "{}: {stdout}{}", db.label, String::from_utf8_lossy(&out.stderr));
        assert!(
            stdout.contains(&format!("{stored} accepted")),
            "{}: the summary counts what is stored: {stdout}",
            db.label
        );
        assert!(stdout.contains("run the same command again to resume"), "{stdout}");

        let out = cowrieql().args(["--db", &db.url, "ingest", "--quiet"]).arg(&log).output().unwrap();
        assert!(out.status.success());
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            summary.contains(&format!("{} accepted, 0 duplicates", 60_000 - stored)),
            "{}: the re-run reads only what was not stored: {summary}",
            db.label
        );
        assert_eq!(count(&db.store, "raw_events").await, 60_000);
    }
}

/// A sensor no event came from is warned about, with the sensors there are.
#[test]
fn an_unknown_sensor_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(tmp.path(), &["ingest", "--quiet", fixture("sample").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_in(tmp.path(), &["run", "daily", "-p", "date=2025-09-18", "--sensor", "honeypot-z"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("no event in this database came from sensor \"honeypot-z\"") && err.contains("\"honeypot-a\""),
        "{err}"
    );
    let (_, _, err) = run_in(tmp.path(), &["run", "daily", "-p", "date=2025-09-18", "--sensor", "honeypot-a"]);
    assert!(!err.contains("warning"), "{err}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), text tables fit its width;
/// `--wide` and a pipe print values whole.
#[test]
fn tables_fit_a_real_terminal_unless_wide() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(tmp.path(), &["ingest", "--quiet", fixture("sample").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let bin = env!("CARGO_BIN_EXE_cowrieql");
    let on_terminal = |extra: &str| {
        let cmd = format!("{bin} run commands -p window=all {extra}");
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(tmp.path())
            .env("COLUMNS", "60")
            .env_remove("COWRIEQL_DB")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux) runs a command on a pseudo-terminal");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };
    // Colour escapes (the bar charts') take no columns on a terminal.
    let visible = |l: &str| {
        let mut n = 0;
        let mut esc = false;
        for c in l.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, _) => n += 1,
            }
        }
        n
    };
    let widest = |text: &str| text.lines().map(visible).max().unwrap_or(0);
    let fitted = on_terminal("");
    assert!(fitted.contains("\x1b[34m█"), "a bar chart above the table on a terminal:\n{fitted}");
    assert!(fitted.contains("== Top commands =="), "{fitted}");
    assert!(widest(&fitted) <= 60, "a line wider than the terminal:\n{fitted}");
    assert!(fitted.contains('…'), "long commands are cut on a terminal:\n{fitted}");
    let wide = on_terminal("--wide");
    assert!(widest(&wide) > 60 && !wide.contains('…'), "--wide prints values whole");
    let (_, piped, _) = run_in(tmp.path(), &["run", "commands", "-p", "window=all"]);
    assert!(widest(&piped) > 60 && !piped.contains('…'), "a pipe gets values whole");
}

/// A window no timestamp can hold is a usage error, never a panic.
#[test]
fn an_absurd_window_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(tmp.path(), &["ingest", "--quiet", fixture("quirks.json").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for w in ["window=last 99999999d", "window=last 9223372036854775807s", "window=99999", "window=0000"] {
        let (code, _, err) = run_in(tmp.path(), &["run", "attackers", "-p", w]);
        assert_eq!(code, 2, "{w}: {err}");
        assert!(err.starts_with("error: parameter window:") && !err.contains("panicked"), "{w}: {err}");
    }
}

/// Another application's database is refused, untouched, unless --init says to add
/// cowrieql's tables to it.
#[tokio::test(flavor = "multi_thread")]
async fn another_applications_database_is_refused_unless_init() {
    let sample = fixture("quirks.json");
    for db in both().await {
        let create = "CREATE TABLE users (name TEXT)";
        match &db.store {
            cowrieql::store::Store::Sqlite(p) => drop(sqlx::query(create).execute(p).await.unwrap()),
            cowrieql::store::Store::Postgres(p) => drop(sqlx::query(create).execute(p).await.unwrap()),
        }
        let out = cowrieql().args(["--db", &db.url, "ingest", "--quiet"]).arg(&sample).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", db.label);
        assert!(err.contains("holds tables of something else (users)") && err.contains("--init"), "{err}");
        assert_eq!(count_if_exists(&db.store).await, 0, "{}: nothing added", db.label);
        let q = "SELECT count(*) FROM schema_migrations";
        let has = match &db.store {
            cowrieql::store::Store::Sqlite(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
            cowrieql::store::Store::Postgres(p) => sqlx::query(q).fetch_one(p).await.is_ok(),
        };
        assert!(!has, "{}: no cowrieql table was created", db.label);
        let out = cowrieql().args(["--db", &db.url, "ingest", "--quiet", "--init"]).arg(&sample).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(count(&db.store, "raw_events").await, 18, "{}", db.label);
        // Once cowrieql's schema is there, no flag is needed.
        let out = cowrieql().args(["--db", &db.url, "ingest", "--quiet"]).arg(&sample).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A folder with a damaged file loads the rest, names the file and exits 1.
#[test]
fn a_damaged_file_in_a_folder_is_named_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::copy(fixture("quirks.json"), logs.join("cowrie.json")).unwrap();
    std::fs::write(logs.join("cowrie.json.1.gz"), b"\x1f\x8b\x08\x00 not really gzip").unwrap();
    let (code, out, err) = run_in(tmp.path(), &["ingest", "--quiet", logs.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("18 accepted"), "{out}");
    assert!(err.contains("problem: ") && err.contains("cowrie.json.1.gz"), "{err}");
}

/// First use by several commands at once: four `db migrate` on a new database, then four
/// `run monthly` before its views exist, all succeed (each waits for the lock it needs).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_first_use_waits_instead_of_failing() {
    for db in [fresh_sqlite().await, fresh_pg().await] {
        let all_at_once = |args: Vec<String>| {
            let children: Vec<_> = (0..4)
                .map(|_| {
                    cowrieql()
                        .arg("--db")
                        .arg(&db.url)
                        .args(&args)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            children.into_iter().map(|c| c.wait_with_output().unwrap()).collect::<Vec<_>>()
        };
        for out in all_at_once(vec!["db".into(), "migrate".into()]) {
            assert!(out.status.success(), "{}: {}", db.label, String::from_utf8_lossy(&out.stderr));
        }
        let out = cowrieql().args(["--db", &db.url, "ingest", "--quiet"]).arg(fixture("sample")).output().unwrap();
        assert!(out.status.success());
        // No view exists yet: the first report that reads one makes it.
        assert!(cowrieql::store::views::list(&db.store).await.unwrap().is_empty(), "{}", db.label);
        let reports = all_at_once(vec!["run".into(), "monthly".into(), "-p".into(), "month=2025-09".into()]);
        let texts: Vec<String> = reports
            .iter()
            .map(|o| {
                assert!(o.status.success(), "{}: {}", db.label, String::from_utf8_lossy(&o.stderr));
                let t = String::from_utf8_lossy(&o.stdout).to_string();
                t[t.find("== Sessions ==").unwrap()..].to_string()
            })
            .collect();
        assert!(texts.iter().all(|t| t == &texts[0]), "{}: the four reports agree", db.label);
    }
}

/// Runs the binary in `dir` as an unprivileged user when this process is root (root may
/// write any file, so a read-only file is read-only only to someone else). The binary is
/// copied into `dir` first: the checkout it was built in may be closed to that user.
fn as_reader(dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut c = if is_root() {
        let bin = dir.join("cowrieql-reader");
        if !bin.exists() {
            std::fs::copy(env!("CARGO_BIN_EXE_cowrieql"), &bin).unwrap();
        }
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(bin);
        c
    } else {
        cowrieql()
    };
    c.current_dir(dir).env_remove("COWRIEQL_DB").args(args).output().unwrap()
}

/// A SQLite file this process may only read, in a folder it may not write (so SQLite can
/// create neither `-wal` nor `-shm`): every report runs, with the same output as on a
/// writable copy, and the file is not changed.
#[test]
fn a_read_only_sqlite_file_runs_reports_and_is_not_changed() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("c.sqlite");
    let (code, _, err) = run_in(&dir, &["--db", db.to_str().unwrap(), "ingest", fixture("sample").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let writable = tmp.path().join("copy.sqlite");
    std::fs::copy(&db, &writable).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p != db {
            std::fs::remove_file(p).unwrap();
        }
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::read(&db).unwrap();
    let corpus = own_corpus();
    for name in ["daily", "monthly", "activity"] {
        let mut args: Vec<String> = vec!["run".into(), name.into()];
        for (k, v) in params_for(name, &corpus) {
            args.extend(["-p".into(), format!("{k}={v}")]);
        }
        let os = |db: &std::path::Path| {
            let mut v: Vec<std::ffi::OsString> = vec!["--db".into(), db.into()];
            v.extend(args.iter().map(Into::into));
            v
        };
        let ro_args = os(&db);
        let out = as_reader(tmp.path(), &ro_args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        let rw = cowrieql().current_dir(tmp.path()).args(os(&writable)).output().unwrap();
        assert!(rw.status.success());
        let strip = |b: &[u8]| {
            String::from_utf8_lossy(b).lines().filter(|l| !l.contains("refreshed")).collect::<Vec<_>>().join("\n")
        };
        assert_eq!(strip(&out.stdout), strip(&rw.stdout), "{name}: read-only vs writable");
        assert!(err.contains("computed inside the report's queries"), "{name}: the inline views are named: {err}");
    }
    // Writing to it is refused in one sentence that says the file is read-only, once.
    let sample = tmp.path().join("sample.json");
    std::fs::copy(fixture("sample").join("cowrie.json"), &sample).unwrap();
    let out = as_reader(tmp.path(), &["--db".as_ref(), db.as_os_str(), "ingest".as_ref(), sample.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(line.matches("readonly database").count(), 1, "{line}");
    assert!(line.contains(db.to_str().unwrap()), "{line}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the read-only file is unchanged");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A TCP port in front of the test server's unix socket that cuts each connection once the
/// client has sent `cut_after` bytes on it: the server, as seen by a client, going away.
fn cutting_proxy(pg_url: &str, cut_after: usize) -> u16 {
    let param = |k: &str| {
        pg_url.split(['?', '&']).find_map(|kv| kv.strip_prefix(&format!("{k}="))).map(str::to_string).unwrap()
    };
    let sock = format!("{}/.s.PGSQL.{}", param("host"), param("port"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = std::os::unix::net::UnixStream::connect(&sock) else { return };
            let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut sent = 0;
                let mut buf = [0u8; 8192];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                    if sent > cut_after {
                        break;
                    }
                }
                let _ = c_read.shutdown(std::net::Shutdown::Both);
                let _ = s_write.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

/// PostgreSQL errors read as one sentence: what cowrieql was doing, the server's message
/// once (no line of PostgreSQL's C source), and a hint; a server lost mid-ingest says so.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_errors_say_what_failed_once_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("cowrie.json");
    let mut text = Vec::new();
    cowrieql::gen::generate(20_000, 3, &mut text).unwrap();
    std::fs::write(&log, &text).unwrap();
    let pg = fresh_pg().await;
    cowrieql::store::migrate::migrate(&pg.store).await.unwrap();
    let reader_url = pg_reader(&pg).await;
    let (code, _, err) = run_in(tmp.path(), &["--db", &reader_url, "ingest", log.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(&format!("writing batch 1 of {}", log.display())), "{line}");
    assert_eq!(line.matches("permission denied for").count(), 1, "said once: {line}");
    assert!(line.contains("this role may not do that"), "{line}");
    assert!(!line.contains(" at line "), "no C source line: {line}");

    let port = cutting_proxy(&pg.url, 1 << 20);
    let database = pg.url.split('?').next().unwrap().rsplit('/').next().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{database}");
    let (code, _, err) = run_in(tmp.path(), &["--db", &url, "ingest", "--batch-size", "2000", log.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("writing batch") && line.contains(&log.display().to_string()), "{line}");
    assert!(line.contains("the server closed the connection: is it running?"), "{line}");
}

/// `check --format json` on a report gives the file, line and column of the problem in the
/// YAML that holds the query (and in the `.cql` file a query is read from).
#[test]
fn check_json_points_into_the_report_file() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = "name: t\ntitle: T\nqueries:\n  first: |\n      from sessions\n      select sensor\n  second:\n    title: Second\n    query: |\n      from sessions\n      where nosuch == 1\n  third:\n    file: third.cql\n";
    std::fs::write(tmp.path().join("t.yaml"), yaml).unwrap();
    std::fs::write(tmp.path().join("third.cql"), "from sessions\nselect sensr\n").unwrap();
    let out = cowrieql().args(["check", "--format", "json"]).arg(tmp.path().join("t.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let found: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    let at = |needle: &str, text: &str| {
        let (i, l) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
        (i as u64 + 1, l.find(needle).unwrap() as u64 + 1)
    };
    let second = found.iter().find(|f| f["query"] == "second").unwrap();
    assert!(second["file"].as_str().unwrap().ends_with("t.yaml"), "{second}");
    assert_eq!((second["line"].as_u64().unwrap(), second["column"].as_u64().unwrap()), at("nosuch", yaml), "{second}");
    assert_eq!(second["code"], "E0201");
    let third = found.iter().find(|f| f["query"] == "third").unwrap();
    assert!(third["file"].as_str().unwrap().ends_with("third.cql"), "{third}");
    assert_eq!((third["line"].as_u64().unwrap(), third["column"].as_u64().unwrap()), (2, 8), "{third}");
}

/// A query that does not compile is said, with its diagnostic, before any database is
/// opened: no "no cowrieql database" in its place.
#[test]
fn a_bad_query_is_diagnosed_before_the_database_is_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none.sqlite");
    let (code, _, err) =
        run_in(tmp.path(), &["--db", missing.to_str().unwrap(), "query", "from sessions\nwhere sesion_id == 'a'"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[E0201]") && err.contains("did you mean `session_id`"), "{err}");
    assert!(!err.contains("no cowrieql database"), "{err}");
    assert!(!missing.exists());
    // A good query still needs the database, and says so.
    let (code, _, err) = run_in(tmp.path(), &["--db", missing.to_str().unwrap(), "query", "from sessions"]);
    assert_eq!(code, 2);
    assert!(err.contains("no cowrieql database"), "{err}");
}

/// `fmt`: `--check` lists unformatted files and exits 1 changing nothing; `fmt` rewrites a
/// query file and a report's query (keeping the YAML's comments and the query's), after which
/// `--check` passes and a second `fmt` changes nothing; `-` formats standard input; a query that
/// does not parse is an error naming the file and line, and the file is left alone.
#[test]
fn fmt_checks_rewrites_and_keeps_comments() {
    let tmp = tempfile::tempdir().unwrap();
    let cql = tmp.path().join("q.cql");
    let messy =
        "# top sources\nfrom sessions|where event_count>1 # busy\ngroup src_ip aggregate n=count()\nsort n desc\n";
    std::fs::write(&cql, messy).unwrap();
    let yaml = tmp.path().join("r.yaml");
    let report = "name: r\ntitle: R   # kept\nqueries:\n  a:\n    query: |\n      from logins   |   take 3\n";
    std::fs::write(&yaml, report).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let (ok, out, _) = run_cli(&["fmt", "--check", dir]);
    assert!(!ok, "unformatted files must fail the check");
    assert!(out.contains("q.cql") && out.contains("r.yaml"), "{out}");
    assert_eq!(std::fs::read_to_string(&cql).unwrap(), messy, "--check changed a file");
    let (ok, _, err) = run_cli(&["fmt", dir]);
    assert!(ok, "{err}");
    let formatted = std::fs::read_to_string(&cql).unwrap();
    assert_eq!(
        formatted,
        "# top sources\nfrom sessions\nwhere event_count > 1  # busy\ngroup src_ip\naggregate n = count()\nsort n desc\n"
    );
    let yaml_after = std::fs::read_to_string(&yaml).unwrap();
    assert_eq!(
        yaml_after,
        "name: r\ntitle: R   # kept\nqueries:\n  a:\n    query: |\n      from logins\n      take 3\n"
    );
    let (ok, out, _) = run_cli(&["fmt", "--check", dir]);
    assert!(ok, "{out}");
    let (ok, out, _) = run_cli(&["fmt", dir]);
    assert!(ok && out.trim().is_empty(), "a second fmt changed something: {out}");

    let mut child = cowrieql_cmd().args(["fmt", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"from sessions|take 2").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from sessions\ntake 2\n");

    let bad = tmp.path().join("bad.cql");
    std::fs::write(&bad, "from sessions\nwhere\n").unwrap();
    let (ok, _, err) = run_cli(&["fmt", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.cql:2") || err.contains("bad.cql:3"), "{err}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "from sessions\nwhere\n");
}

/// `check` proves a report's charts against its queries' columns: a line over a text column
/// or a series that is not a column is E0701 at the `chart:` line.
#[test]
fn check_names_the_line_of_a_wrong_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("r.yaml");
    std::fs::write(
        &yaml,
        "name: r\ntitle: R\nqueries:\n  a:\n    title: A\n    chart: {kind: line, x: src_ip, y: [n]}\n    query: |\n      from sessions\n      group src_ip\n      aggregate n = count()\n  b:\n    chart: {kind: bar, x: src_ip, y: [sessions]}\n    query: from sessions | group src_ip aggregate n = count()\n",
    )
    .unwrap();
    let (ok, out, err) = run_cli(&["check", yaml.to_str().unwrap()]);
    assert!(!ok);
    let text = format!("{out}{err}");
    assert!(text.contains("E0701") && text.contains("r.yaml:6") && text.contains("must be a timestamp"), "{text}");
    assert!(text.contains("r.yaml:12") && text.contains("`sessions` is not a column"), "{text}");
}

/// `check` refuses one materialized view name with two definitions across reports, the
/// built-in ones included: each report would rebuild the view whenever the other ran last.
#[test]
fn check_refuses_a_view_name_defined_two_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let report = |name: &str, filter: &str| {
        format!(
            "name: {name}\ntitle: T\nqueries:\n  q: |\n      from commands\n      {filter}\n      group day = bucket(ts, day), sensor\n      aggregate n = count()\n      materialize per_day_mine\n"
        )
    };
    std::fs::write(tmp.path().join("a.yaml"), report("a", "where realm == 'shell'")).unwrap();
    std::fs::write(tmp.path().join("b.yaml"), report("b", "where realm == 'shell'")).unwrap();
    let out = cowrieql().arg("check").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(tmp.path().join("b.yaml"), report("b", "where not failed")).unwrap();
    let out = cowrieql().arg("check").arg(tmp.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`per_day_mine`") && err.contains("a/q") && err.contains("b/q"), "{err}");
    // A report's view against a built-in's of the same name.
    let mut clash = report("c", "where realm == 'shell'");
    clash = clash.replace("per_day_mine", "commands_per_day");
    std::fs::write(tmp.path().join("b.yaml"), &clash).unwrap();
    let out = cowrieql().arg("check").arg(tmp.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`commands_per_day`") && err.contains("daily/top_commands"), "{err}");
}

/// PostgreSQL sessions show up as `cowrieql` in pg_stat_activity, unless the URL names them.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_sessions_are_named_unless_the_url_names_them() {
    use sqlx::Row;
    let db = fresh_pg().await;
    let name = async |store: &cowrieql::store::Store| -> String {
        let cowrieql::store::Store::Postgres(p) = store else { unreachable!() };
        sqlx::query("SELECT current_setting('application_name')").fetch_one(p).await.unwrap().get(0)
    };
    assert_eq!(name(&db.store).await, "cowrieql");
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let named = format!("{}{sep}application_name=sensor-a", db.url);
    let store = cowrieql::store::Store::connect(&named, &Default::default()).await.unwrap();
    assert_eq!(name(&store).await, "sensor-a");
}
