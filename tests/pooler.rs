//! Through PgBouncer in transaction pooling mode (Debian's pgbouncer, started by the harness
//! in front of its PostgreSQL): concurrent ingests, every built-in report, ad-hoc queries,
//! health, views, retention, rederive and migrate-to-postgres work, and give what the same
//! work gives on a direct connection. The pooler hands each transaction to the next server
//! session round robin, so anything that leans on a server session (a named prepared
//! statement, a statement prepared in one round trip and run in the next, a session setting,
//! a temporary table, a session lock) fails here; the first test proves the pooler does that.

mod common;

use std::collections::HashSet;
use std::process::Stdio;

use common::*;
use cowrieql::report::builtin;
use cowrieql::store::ingest::ingest;
use sqlx::{Connection, Row};

/// The pooler of these tests is strict: a client's transactions go to different server
/// sessions, and sqlx's default (a named statement, prepared once and reused) breaks.
#[tokio::test(flavor = "multi_thread")]
async fn the_pooler_hands_each_transaction_to_another_server_session() {
    let db = fresh_pg().await;
    let Some(url) = pooler_url(&database_name(&db.url)) else {
        eprintln!("skipped the pooler: the tests use an outside server (COWRIEQL_TEST_PG)");
        return;
    };
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    // min_pool_size opens the second server session in the background: wait for it.
    let mut pids = HashSet::new();
    let t0 = std::time::Instant::now();
    while pids.len() < 2 {
        let pid: i32 = sqlx::raw_sql("SELECT pg_backend_pid()").fetch_one(&mut c).await.unwrap().get(0);
        pids.insert(pid);
        assert!(t0.elapsed() < std::time::Duration::from_secs(120), "one server session only: {pids:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A named statement prepared on one server session is not on the next one.
    let mut failed = None;
    for _ in 0..4 {
        if let Err(e) = sqlx::query("SELECT $1::int").bind(1).fetch_one(&mut c).await {
            failed = Some(e.to_string());
            break;
        }
    }
    let failed = failed.expect("a named statement survived every transaction: the pooler is not strict");
    assert!(failed.contains("prepared statement"), "{failed}");
}

/// Four ingests at once through the pooler equal one direct ingest, and every report, a
/// query, health, views refresh, prune and rederive run through it with the direct answers.
#[tokio::test(flavor = "multi_thread")]
async fn ingest_reports_and_upkeep_through_the_pooler_equal_a_direct_connection() {
    let direct = fresh_pg().await;
    let target = fresh_pg().await;
    let Some(pooled) = through_pooler(&target).await else {
        eprintln!("skipped the pooler: the tests use an outside server (COWRIEQL_TEST_PG)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    cowrieql::gen::generate(6_000, 5, &mut data).unwrap();
    let text = String::from_utf8(data).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut files: Vec<std::path::PathBuf> = lines
        .chunks(lines.len().div_ceil(3))
        .enumerate()
        .map(|(i, part)| {
            let f = tmp.path().join(format!("cowrie.json.{}", 3 - i));
            std::fs::write(&f, part.join("\n") + "\n").unwrap();
            f
        })
        .collect();
    files.push(fixture("sample"));
    files.push(fixture("cowrie3"));
    ingest(&direct.store, &files, &Default::default()).await.unwrap();

    // Writer i reads files i and i+1; nobody has migrated the database yet.
    let children: Vec<_> = (0..4)
        .map(|i| {
            cowrieql_cmd()
                .args(["--db", &pooled.url, "ingest", "--quiet", "--batch-size", "300"])
                .arg(&files[i])
                .arg(&files[(i + 1) % files.len()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "writer {i}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Compared over a direct connection: the harness's helpers are plain sqlx.
    assert_same_data(&target, &direct).await;

    for report in builtin::builtin_names() {
        let args = report_run_args(report);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, want, err) = run_cli(&[&["--db", &direct.url], &a[..]].concat());
        assert!(ok, "{report} direct: {err}");
        let (ok, got, err) = run_cli(&[&["--db", &pooled.url], &a[..]].concat());
        assert!(ok, "{report} through the pooler: {err}");
        assert!(report_rows(&got) == report_rows(&want), "{report}: through the pooler and direct disagree");
    }

    let q = "from sessions | aggregate n = count()";
    let (_, want, _) = run_cli(&["--db", &direct.url, "query", "-f", "csv", q]);
    let (ok, got, err) = run_cli(&["--db", &pooled.url, "query", "-f", "csv", q]);
    assert!(ok, "{err}");
    assert_eq!(got, want);
    for args in [
        &["health", "--format", "json"][..],
        &["views", "refresh"],
        &["bench", "daily", "--runs", "1"],
        &["db", "prune", "--before", "2020-01-01", "--dry-run"],
        &["db", "rederive"],
        &["db", "status"],
        &["dead-letters", "list"],
    ] {
        let (ok, out, err) = run_cli(&[&["--db", &pooled.url][..], args].concat());
        assert!(ok, "{args:?} through the pooler: {err}{out}");
    }
    // rederive through the pooler changed nothing.
    assert_same_data(&target, &direct).await;
}

/// migrate-to-postgres into a target behind the pooler: copied, indexed, validated, and the
/// target equals the source.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_to_postgres_through_the_pooler() {
    let src = fresh_sqlite().await;
    let target = fresh_pg().await;
    let Some(pooled) = through_pooler(&target).await else {
        eprintln!("skipped the pooler: the tests use an outside server (COWRIEQL_TEST_PG)");
        return;
    };
    ingest(&src.store, &[fixture("sample"), fixture("cowrie3")], &Default::default()).await.unwrap();
    src.store.checkpoint_wal().await.unwrap();
    let (ok, out, err) = run_cli(&["migrate-to-postgres", "--from", &src.url, "--to", &pooled.url]);
    assert!(ok, "{err}{out}");
    assert!(out.contains("validation passed"), "{out}");
    assert_same_data(&target, &src).await;
    let (ok, out, err) = run_cli(&["migrate-to-postgres", "--from", &src.url, "--to", &pooled.url, "--validate-only"]);
    assert!(ok && out.contains("validation passed"), "{err}{out}");
}

/// A report's queries share one snapshot over several connections; through a pooler whose
/// servers are all taken but the one the report began on, the helpers cannot join, and the
/// report runs on that one alone instead of waiting for them forever.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_whose_helpers_find_no_free_server_runs_alone() {
    let db = fresh_pg().await;
    let Some(TestDb { store, url, .. }) = through_pooler(&db).await else {
        eprintln!("skipped the pooler: the tests use an outside server (COWRIEQL_TEST_PG)");
        return;
    };
    ingest(&db.store, &[fixture("sample")], &Default::default()).await.unwrap();
    let q = cowrieql::compile::compile("from sessions | aggregate n = count()", store.dialect(), &Default::default())
        .unwrap();
    let (queries, binds) = (vec![q; 6], vec![Vec::new(); 6]);
    let free = cowrieql::store::query::run_all(&store, &queries, &binds).await.unwrap();
    // Three of the pooler's four servers for this database held in open transactions.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN; SELECT 1").execute(&mut c).await.unwrap();
        held.push(c);
    }
    let alone = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        cowrieql::store::query::run_all(&store, &queries, &binds),
    )
    .await
    .expect("the report waited for helpers that could not join")
    .unwrap();
    assert_eq!(alone.rows, free.rows);
    assert_eq!(alone.connections, 1, "a helper joined with every server taken");
    for mut c in held {
        sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
    }
}
