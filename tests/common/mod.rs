//! Test harness: both backends, for real.
//!
//! SQLite: a fresh file in a temp dir per test. PostgreSQL: the server named by
//! `COWRIEQL_TEST_PG` (an admin URL), or else a throwaway cluster this harness starts itself
//! (initdb + pg_ctl on a temp dir, listening only on a private unix socket), shared by the
//! tests of one binary and stopped by a watchdog when the test process exits. Every test gets
//! its own database. A PostgreSQL that cannot be started fails the test: never a skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use cowrieql::store::{ConnectOptions, Store};
use sqlx::{AssertSqlSafe, Connection, Row};

pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
}

struct PgServer {
    /// URL with `{db}` where the database name goes.
    url_template: String,
    /// The socket folder and port of a server this process started (None: COWRIEQL_TEST_PG).
    local: Option<(PathBuf, u16)>,
}

static PG: OnceLock<PgServer> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql or set COWRIEQL_TEST_PG")
}

/// This test process runs as root (as CI does).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root (PostgreSQL refuses root).
fn pg_cmd(bin: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    }
}

fn start_cluster() -> PgServer {
    let base = tempfile::Builder::new().prefix("cowrieql-pg-").tempdir().expect("temp dir").keep();
    start_cluster_in(&base)
}

/// A PostgreSQL server of its own whose files live under `base` (a small file system, say);
/// stopped when dropped.
pub struct OwnCluster {
    data: PathBuf,
    server: PgServer,
}

impl OwnCluster {
    pub fn start(base: &Path) -> OwnCluster {
        OwnCluster { data: base.join("data"), server: start_cluster_in(base) }
    }
    /// The URL of database `db` on it.
    pub fn url(&self, db: &str) -> String {
        self.server.url_template.replace("{db}", db)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = pg_cmd(&pg_bindir().join("pg_ctl"), &["-D", self.data.to_str().unwrap(), "stop", "-m", "immediate"])
            .output();
    }
}

fn start_cluster_in(base: &Path) -> PgServer {
    let bindir = pg_bindir();
    let base = base.to_path_buf();
    let data = base.join("data");
    let sock = base.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    if is_root() {
        let st = Command::new("chown").args(["-R", "postgres:"]).arg(&base).status().expect("chown");
        assert!(st.success(), "chown of {} to postgres failed", base.display());
    }
    let out = pg_cmd(
        &bindir.join("initdb"),
        &["-D", data.to_str().unwrap(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"],
    )
    .output()
    .expect("run initdb");
    assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    let port = 5432 + (std::process::id() % 20000) as u16;
    let opts = format!(
        "-p {port} -k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        sock.display()
    );
    start_and_watch(&bindir, &base, &opts);
    PgServer {
        url_template: format!("postgres://postgres@localhost/{{db}}?host={}&port={port}", sock.display()),
        local: Some((sock, port)),
    }
}

fn pg_server() -> &'static PgServer {
    PG.get_or_init(|| match std::env::var("COWRIEQL_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            // Replace the database part of the admin URL with a placeholder.
            let (head, tail) = url
                .split_once('?')
                .map(|(h, t)| (h.to_string(), format!("?{t}")))
                .unwrap_or((url.clone(), String::new()));
            let base = head.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(head);
            PgServer { url_template: format!("{base}/{{db}}{tail}"), local: None }
        }
        _ => start_cluster(),
    })
}

/// A fresh, empty PostgreSQL database on the test server.
pub async fn fresh_pg() -> TestDb {
    let server = pg_server();
    let name = format!("cq_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    let admin_url = server.url_template.replace("{db}", "postgres");
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to test PostgreSQL");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create database");
    admin.close().await.ok();
    let url = server.url_template.replace("{db}", &name);
    let store = Store::connect(&url, &ConnectOptions::default()).await.expect("connect to test database");
    TestDb { store, url, label: "postgres", _dir: None }
}

/// A fresh SQLite file.
pub async fn fresh_sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("test.sqlite").display().to_string();
    let store = Store::connect(&url, &ConnectOptions::default()).await.expect("open SQLite");
    TestDb { store, url, label: "sqlite", _dir: Some(dir) }
}

/// One fresh database per backend.
pub async fn both() -> Vec<TestDb> {
    vec![fresh_sqlite().await, fresh_pg().await]
}

/// `../shared/data/real`, or `COWRIEQL_SHARED/data/real`, when it is there. Absent, the
/// caller skips and says so on stderr; with `COWRIEQL_REQUIRE_SHARED=1` (set by `.ci/run`)
/// absence fails the test instead, so CI can never skip the real logs silently.
pub fn shared_real() -> Option<PathBuf> {
    let base = std::env::var("COWRIEQL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let p = base.join("data/real");
    if p.is_dir() {
        return Some(p);
    }
    let required = std::env::var("COWRIEQL_REQUIRE_SHARED").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "shared real logs not found at {} and COWRIEQL_REQUIRE_SHARED is set", p.display());
    // Straight to the process's stderr: the test harness captures eprintln! of passing tests.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped the real logs: {} not found (set COWRIEQL_SHARED to a copy of shared/)",
        p.display()
    );
    None
}

/// Data a test runs over: the project's own (the generated week in fixtures/sample plus the
/// quirks of every Cowrie version), and the real logs when they are there.
pub struct Corpus {
    pub name: &'static str,
    pub paths: Vec<PathBuf>,
}

pub fn own_corpus() -> Corpus {
    Corpus { name: "own", paths: vec![fixture("sample"), fixture("quirks.json"), fixture("cowrie3")] }
}

/// Every corpus with a fresh database of each backend.
pub async fn corpora_on_both() -> Vec<(Corpus, TestDb)> {
    let mut v = Vec::new();
    for c in corpora() {
        for db in both().await {
            v.push((Corpus { name: c.name, paths: c.paths.clone() }, db));
        }
    }
    v
}

pub fn corpora() -> Vec<Corpus> {
    let mut v = vec![own_corpus()];
    if let Some(real) = shared_real() {
        // With the real Cowrie 3.1.4 log recorded by scripts/real-cowrie: the shared logs
        // predate 3.x's event families (tunnels' summaries, probes, keys).
        v.push(Corpus { name: "real", paths: vec![real, fixture("cowrie3")] });
    }
    v
}

/// Writes a log file `name` holding `text` in `dir`.
pub fn log_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let f = dir.path().join(name);
    std::fs::write(&f, text).unwrap();
    f
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

pub const TABLES: &[&str] = &[
    "raw_events",
    "logins",
    "commands",
    "downloads",
    "tunnels",
    "probes",
    "sessions",
    "dead_letters",
    "ingest_checkpoints",
];

pub async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match store {
        Store::Sqlite(p) => sqlx::query(AssertSqlSafe(sql)).fetch_one(p).await.unwrap().get(0),
        Store::Postgres(p) => sqlx::query(AssertSqlSafe(sql)).fetch_one(p).await.unwrap().get(0),
    }
}

pub async fn counts(store: &Store) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push((*t, count(store, t).await));
    }
    out
}

/// Every session row, in key order, with values in one backend-neutral text form.
pub async fn session_rows(store: &Store) -> Vec<String> {
    let sql = "SELECT sensor, session_id, src_ip, protocol, first_event_at, last_event_at, duration_s, event_count, \
               command_count, failed_command_count, login_attempts, login_failures, login_success, username, download_count, \
               upload_count, client_version, hassh, closed, vt_flagged, dshield_flagged, key_fingerprint, CAST(term_width AS TEXT), \
               CAST(term_height AS TEXT), CAST(term_size_events AS TEXT), CAST(env AS TEXT), arch, ttylog, \
               CAST(ttylog_size AS TEXT), CAST(probe_count AS TEXT), CAST(tunnel_count AS TEXT) \
               FROM sessions ORDER BY sensor, session_id";
    // The columns past the 21st, as text; env as its JSON value (jsonb and SQLite's JSON
    // functions spell the same object differently).
    macro_rules! rest {
        ($r:expr) => {
            (21..31)
                .map(|i| {
                    let v: Option<String> = $r.get(i);
                    match (i, v) {
                        (25, Some(j)) => serde_json::from_str::<serde_json::Value>(&j).unwrap().to_string(),
                        (_, v) => format!("{v:?}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        };
    }
    match store {
        Store::Sqlite(p) => sqlx::query(sql)
            .fetch_all(p)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}|{}|{}|{}|{}|{}|{}|{:?}|{}|{}|{:?}|{:?}|{}|{}|{}",
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<Option<String>, _>(2),
                    r.get::<Option<String>, _>(3),
                    r.get::<String, _>(4),
                    r.get::<String, _>(5),
                    r.get::<Option<f64>, _>(6),
                    r.get::<i64, _>(7),
                    r.get::<i64, _>(8),
                    r.get::<i64, _>(9),
                    r.get::<i64, _>(10),
                    r.get::<i64, _>(11),
                    r.get::<bool, _>(12),
                    r.get::<Option<String>, _>(13),
                    r.get::<i64, _>(14),
                    r.get::<i64, _>(15),
                    r.get::<Option<String>, _>(16),
                    r.get::<Option<String>, _>(17),
                    r.get::<bool, _>(18),
                    r.get::<bool, _>(19),
                    r.get::<bool, _>(20),
                ) + "|"
                    + &rest!(r)
            })
            .collect(),
        Store::Postgres(p) => {
            let ts = |t: chrono::DateTime<chrono::Utc>| cowrieql::time::canonical_text(&t);
            sqlx::query(sql)
                .fetch_all(p)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}|{}|{}|{}|{}|{}|{}|{:?}|{}|{}|{:?}|{:?}|{}|{}|{}",
                        r.get::<String, _>(0),
                        r.get::<String, _>(1),
                        r.get::<Option<String>, _>(2),
                        r.get::<Option<String>, _>(3),
                        ts(r.get(4)),
                        ts(r.get(5)),
                        r.get::<Option<f64>, _>(6),
                        r.get::<i64, _>(7),
                        r.get::<i64, _>(8),
                        r.get::<i64, _>(9),
                        r.get::<i64, _>(10),
                        r.get::<i64, _>(11),
                        r.get::<bool, _>(12),
                        r.get::<Option<String>, _>(13),
                        r.get::<i64, _>(14),
                        r.get::<i64, _>(15),
                        r.get::<Option<String>, _>(16),
                        r.get::<Option<String>, _>(17),
                        r.get::<bool, _>(18),
                        r.get::<bool, _>(19),
                        r.get::<bool, _>(20),
                    ) + "|"
                        + &rest!(r)
                })
                .collect()
        }
    }
}

/// Fact rows as text (without surrogate ids), in a stable order.
pub async fn fact_rows(store: &Store) -> Vec<String> {
    // Eleven text columns each.
    let queries = [
        "SELECT 'L', session_id, sensor, src_ip, username, password, CASE WHEN success THEN 't' ELSE 'f' END, method, \
         key_type, fingerprint, NULL FROM logins",
        "SELECT 'C', session_id, sensor, src_ip, input, NULL, CASE WHEN failed THEN 't' ELSE 'f' END, realm, NULL, NULL, \
         NULL FROM commands",
        "SELECT 'D', session_id, sensor, src_ip, url, shasum, direction, kind, destfile, error, outfile FROM downloads",
        "SELECT 'P', session_id, sensor, src_ip, kind, cve, username, name, value, detail, NULL FROM probes",
        "SELECT 'T', session_id, sensor, dst_ip, CAST(dst_port AS TEXT), src_ip, CAST(requests AS TEXT), \
         CAST(data_events AS TEXT) || ' ' || CAST(bytes AS TEXT), COALESCE(orig_ip, '-') || ':' || COALESCE(CAST(orig_port AS TEXT), '-'), \
         COALESCE(route, '-') || ' ' || COALESCE(new_ip, '-') || ':' || COALESCE(CAST(new_port AS TEXT), '-') || ' ' || \
         COALESCE(ja4, '-') || ' ' || COALESCE(ja4h, '-'), COALESCE(http_method, '-') || ' ' || COALESCE(http_host, '-') || ' ' || \
         COALESCE(http_path, '-') || ' ' || COALESCE(tls_sni, '-') || ' ' || COALESCE(smtp_helo, '-') || ' ' || \
         COALESCE(smtp_mail_from, '-') FROM tunnels",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<Vec<Option<String>>> = match store {
            Store::Sqlite(p) => {
                sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| (0..11).map(|i| r.get(i)).collect()).collect()
            }
            Store::Postgres(p) => {
                sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| (0..11).map(|i| r.get(i)).collect()).collect()
            }
        };
        out.extend(rows.into_iter().map(|r| format!("{r:?}")));
    }
    out.sort();
    out
}

/// Benchmark size: `COWRIEQL_BENCH_EVENTS`, else 1,000,000 under `cargo bench` (which passes
/// `--bench`) and a 2,000-event smoke run under `cargo test --all-targets`.
pub fn bench_events() -> u64 {
    let default = if std::env::args().any(|a| a == "--bench") { 1_000_000 } else { 2_000 };
    std::env::var("COWRIEQL_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Parameters that put each built-in over a corpus: the real logs (2017-2020) or the
/// project's own generated week (2025-09-15..21).
pub fn params_for(name: &str, corpus: &Corpus) -> Vec<(String, String)> {
    let real = corpus.name == "real";
    match name {
        "daily" => p(&[("date", if real { "2018-06-30" } else { "2025-09-18" })]),
        "weekly" => p(&[("week", if real { "2018-W26" } else { "2025-W38" })]),
        "monthly" => p(&[("month", if real { "2018-06" } else { "2025-09" })]),
        "session" => p(&[("session", if real { "6161e0875959" } else { "2bf46884a99e" })]),
        _ => p(&[("window", "last 4000d")]),
    }
}

pub fn without_volatile(mut j: serde_json::Value) -> serde_json::Value {
    if let Some(o) = j.as_object_mut() {
        for k in ["@timestamp", "generated_at", "backend", "views"] {
            o.remove(k);
        }
    }
    j
}

/// A role on `db`'s PostgreSQL database that may only read (USAGE and SELECT, also on tables
/// the owner creates later, as docs/postgres.md advises); returns its URL.
pub async fn pg_reader(db: &TestDb) -> String {
    let Store::Postgres(pool) = &db.store else { panic!("pg_reader needs a PostgreSQL database") };
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.unwrap();
    let role = format!("reader_{database}");
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await.unwrap();
    }
    db.url.replacen("postgres@", &format!("{role}@"), 1)
}

static STANDBY: OnceLock<Option<PgServer>> = OnceLock::new();

/// A streaming standby of the test server (pg_basebackup -R, on loopback's unix socket),
/// started once per test process and stopped with it: `url(db)` reads database `db` as the
/// standby replays it. None when the tests use an outside server (COWRIEQL_TEST_PG).
pub fn standby_url(db: &str) -> Option<String> {
    STANDBY.get_or_init(start_standby).as_ref().map(|s| s.url_template.replace("{db}", db))
}

fn start_standby() -> Option<PgServer> {
    let (primary_sock, primary_port) = pg_server().local.clone()?;
    let bindir = pg_bindir();
    let base = tempfile::Builder::new().prefix("cowrieql-standby-").tempdir().expect("temp dir").keep();
    let data = base.join("data");
    let sock = base.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    if is_root() {
        let st = Command::new("chown").args(["-R", "postgres:"]).arg(&base).status().expect("chown");
        assert!(st.success());
    }
    let out = pg_cmd(
        &bindir.join("pg_basebackup"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-h",
            primary_sock.to_str().unwrap(),
            "-p",
            &primary_port.to_string(),
            "-U",
            "postgres",
        ],
    )
    .output()
    .expect("run pg_basebackup");
    assert!(out.status.success(), "pg_basebackup failed: {}", String::from_utf8_lossy(&out.stderr));
    let port = if primary_port < 65000 { primary_port + 1 } else { primary_port - 1 };
    let opts =
        format!("-p {port} -k {} -c listen_addresses='' -c hot_standby=on -c max_connections=200", sock.display());
    start_and_watch(&bindir, &base, &opts);
    Some(PgServer {
        url_template: format!("postgres://postgres@localhost/{{db}}?host={}&port={port}", sock.display()),
        local: Some((sock, port)),
    })
}

/// Waits until the standby at `standby` has replayed everything `primary` has written so far
/// (failing after a generous bound rather than hanging).
pub async fn until_replayed(primary: &str, standby: &str) {
    let mut p = sqlx::PgConnection::connect(primary).await.unwrap();
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&mut p).await.unwrap();
    let t0 = std::time::Instant::now();
    loop {
        if let Ok(mut s) = sqlx::PgConnection::connect(standby).await {
            let done: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
                .bind(&lsn)
                .fetch_one(&mut s)
                .await
                .unwrap();
            if done {
                return;
            }
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(300), "the standby has not replayed {lsn} in 300 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Starts the server whose files are in `base` (data, server.log) with `opts`, and a
/// watchdog that stops it and removes `base` once this test process is gone, even after a
/// panic.
fn start_and_watch(bindir: &Path, base: &Path, opts: &str) {
    let (data, log) = (base.join("data"), base.join("server.log"));
    let out = pg_cmd(
        &bindir.join("pg_ctl"),
        &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", opts, "-w", "start"],
    )
    .output()
    .expect("run pg_ctl");
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runas} {pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {base}",
        pid = std::process::id(),
        runas = if is_root() { "runuser -u postgres --" } else { "" },
        pg_ctl = bindir.join("pg_ctl").display(),
        data = data.display(),
        base = base.display(),
    );
    watchdog(&stop);
}

/// `got` holds what `want` holds: every table's count (checkpoints aside: they name the files
/// read), every session and every fact.
pub async fn assert_same_data(got: &TestDb, want: &TestDb) {
    let without_checkpoints =
        |c: Vec<(&'static str, i64)>| c.into_iter().filter(|(t, _)| *t != "ingest_checkpoints").collect::<Vec<_>>();
    assert_eq!(
        without_checkpoints(counts(&got.store).await),
        without_checkpoints(counts(&want.store).await),
        "{}",
        got.label
    );
    assert_eq!(session_rows(&got.store).await, session_rows(&want.store).await, "{}: sessions", got.label);
    assert_eq!(fact_rows(&got.store).await, fact_rows(&want.store).await, "{}: facts", got.label);
}

static POOLER: OnceLock<Option<PgServer>> = OnceLock::new();

/// The URL of database `db` through a PgBouncer in transaction pooling mode in front of the
/// test server, started once per test process and stopped with it. It is strict on purpose:
/// server sessions are handed out round robin and at least two are kept open, so a client's
/// next transaction (or the second round trip of a statement outside one) lands on another
/// server session. None when the tests use an outside server (COWRIEQL_TEST_PG).
pub fn pooler_url(db: &str) -> Option<String> {
    POOLER.get_or_init(start_pooler).as_ref().map(|s| s.url_template.replace("{db}", db))
}

/// `db` (a PostgreSQL test database) opened through the pooler.
pub async fn through_pooler(db: &TestDb) -> Option<TestDb> {
    let url = pooler_url(&database_name(&db.url))?;
    let store = Store::connect(&url, &ConnectOptions::default()).await.expect("connect through PgBouncer");
    Some(TestDb { store, url, label: "postgres via pgbouncer", _dir: None })
}

/// The database name in a test URL.
pub fn database_name(url: &str) -> String {
    url.split('/').nth(3).and_then(|s| s.split('?').next()).unwrap_or_default().to_string()
}

fn pgbouncer_bin() -> PathBuf {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("pgbouncer not found: install Debian's pgbouncer package (.ci/run does)")
}

fn start_pooler() -> Option<PgServer> {
    let (server_sock, server_port) = pg_server().local.clone()?;
    let bin = pgbouncer_bin();
    let base = tempfile::Builder::new().prefix("cowrieql-pgbouncer-").tempdir().expect("temp dir").keep();
    let sock = base.join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    let port = if server_port < 65000 { server_port + 2 } else { server_port - 2 };
    // No listen_addr: the unix socket only. extra_float_digits is a startup parameter sqlx
    // sends that PgBouncer does not track.
    let ini = format!(
        "[databases]\n* = host={server} port={server_port}\n\n[pgbouncer]\nlisten_port = {port}\n\
         unix_socket_dir = {sock}\nauth_type = trust\nauth_file = {base}/users.txt\npool_mode = transaction\n\
         server_round_robin = 1\ndefault_pool_size = 4\nmin_pool_size = 2\nmax_client_conn = 500\n\
         ignore_startup_parameters = extra_float_digits\nlogfile = {base}/pgbouncer.log\n\
         pidfile = {base}/pgbouncer.pid\n",
        server = server_sock.display(),
        sock = sock.display(),
        base = base.display(),
    );
    std::fs::write(base.join("pgbouncer.ini"), ini).unwrap();
    std::fs::write(base.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    if is_root() {
        let st = Command::new("chown").args(["-R", "postgres:"]).arg(&base).status().expect("chown");
        assert!(st.success());
    }
    let ini = base.join("pgbouncer.ini");
    let out = pg_cmd(&bin, &["-d", ini.to_str().unwrap()]).output().expect("run pgbouncer");
    let log = || std::fs::read_to_string(base.join("pgbouncer.log")).unwrap_or_default();
    assert!(out.status.success(), "pgbouncer failed to start: {}\n{}", String::from_utf8_lossy(&out.stderr), log());
    let t0 = std::time::Instant::now();
    while !sock.join(format!(".s.PGSQL.{port}")).exists() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(60), "pgbouncer did not open its socket:\n{}", log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; kill $(cat {base}/pgbouncer.pid) 2>/dev/null; sleep 1; rm -rf {base}",
        pid = std::process::id(),
        base = base.display(),
    );
    watchdog(&stop);
    Some(PgServer {
        url_template: format!("postgres://postgres@localhost/{{db}}?host={}&port={port}", sock.display()),
        local: Some((sock, port)),
    })
}

/// Runs the shell command `stop` in a session of its own, never waited for: it must outlive
/// this process (it waits for the process to end, then stops a server and removes its files).
fn watchdog(stop: &str) {
    #[allow(clippy::zombie_processes)]
    Command::new("setsid")
        .args(["sh", "-c", stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start watchdog");
}

/// The cowrieql binary, without the database settings of the environment.
pub fn cowrieql_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cowrieql"));
    c.env_remove("COWRIEQL_DB").env_remove("COWRIEQL_READ_DB").env_remove("COWRIEQL_LOG");
    c
}

/// Runs cowrieql with `args`: whether it succeeded, its stdout and its stderr.
pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = cowrieql_cmd().args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A report's JSON document without what differs between two runs of it (times, backend and
/// replica notes, the window's wording).
pub fn report_rows(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    if let Some(o) = v.as_object_mut() {
        for k in ["@timestamp", "generated_at", "backend", "views", "replica", "window"] {
            o.remove(k);
        }
    }
    v
}

/// `run REPORT -f json` with the parameters the fixtures need (own corpus).
pub fn report_run_args(report: &str) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into(), report.to_string(), "-f".into(), "json".into()];
    for (k, v) in params_for(report, &own_corpus()) {
        args.push("-p".into());
        args.push(format!("{k}={v}"));
    }
    args
}
