//! Reading from a streaming standby (`--read-db`): the harness starts a real standby of its
//! PostgreSQL (pg_basebackup -R). Every built-in report read from the standby equals the
//! primary's once replay has caught up; views are built on the primary (the standby cannot),
//! the report says it read a standby and its replay lag, and queries and health read there
//! too.

mod common;

use common::*;
use cowrieql::report::builtin;
use cowrieql::store::ingest::ingest;

#[tokio::test(flavor = "multi_thread")]
async fn reports_read_from_a_standby_equal_the_primarys() {
    let db = fresh_pg().await;
    let name = db.url.split('/').nth(3).unwrap().split('?').next().unwrap().to_string();
    let Some(standby) = standby_url(&name) else {
        eprintln!("skipped the standby: the tests use an outside server (COWRIEQL_TEST_PG), which has none");
        return;
    };
    ingest(&db.store, &[fixture("sample"), fixture("cowrie3")], &Default::default()).await.unwrap();
    until_replayed(&db.url, &standby).await;

    for report in builtin::builtin_names() {
        let args = report_run_args(report);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, primary, err) = run_cli(&[&["--db", &db.url], &a[..]].concat());
        assert!(ok, "{report} on the primary: {err}");
        // Once replay has caught up with what the primary's run wrote (its views).
        until_replayed(&db.url, &standby).await;
        let (ok, replica, err) = run_cli(&[&["--db", &db.url, "--read-db", &standby], &a[..]].concat());
        assert!(ok, "{report} on the standby: {err}");
        assert!(report_rows(&replica) == report_rows(&primary), "{report}: the standby and the primary disagree");
    }
    // The views were built on the primary; once replayed, the standby reads them.
    until_replayed(&db.url, &standby).await;
    let (ok, text, err) = run_cli(&["--db", &db.url, "--read-db", &standby, "run", "daily", "-p", "date=2025-09-18"]);
    assert!(ok, "{err}");
    assert!(!err.contains("computed inside"), "the standby has the primary's views: {err}");
    // The lag itself depends on the machine's load (autovacuum may write on the primary at any
    // time): the report says it read a standby and gives a lag.
    let lag: f64 = text
        .split("read from a standby, replay lag ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no replay lag in:\n{text}"));
    assert!(lag >= 0.0, "{text}");
    assert!(text.contains("view sessions_per_day refreshed"), "{text}");

    // A standby shares a read snapshot among connections as a primary does: a report's
    // queries run there at once too.
    let reader = cowrieql::store::Store::connect(&standby, &Default::default()).await.unwrap();
    reader.warm_up().await.unwrap();
    let q = cowrieql::compile::compile("from sessions | aggregate n = count()", reader.dialect(), &Default::default())
        .unwrap();
    let mut connections = 0;
    for _ in 0..20 {
        let done = cowrieql::store::query::run_all(&reader, &vec![q.clone(); 4], &vec![Vec::new(); 4]).await.unwrap();
        assert!(done.rows.iter().all(|r| *r == done.rows[0]), "{:?}", done.rows);
        connections = connections.max(done.connections);
    }
    assert!(connections > 1, "the standby's reads never ran on more than one connection");

    // Ad-hoc queries and health read the standby.
    let q = "from sessions | aggregate n = count()";
    let (_, on_primary, _) = run_cli(&["--db", &db.url, "query", "-f", "csv", q]);
    let (ok, on_standby, err) = run_cli(&["--read-db", &standby, "query", "-f", "csv", q]);
    assert!(ok, "{err}");
    assert_eq!(on_standby, on_primary);
    let (_, health, err) = run_cli(&["--read-db", &standby, "health", "--format", "json"]);
    let h: serde_json::Value = serde_json::from_str(&health).unwrap_or_else(|e| panic!("{e}: {health}{err}"));
    assert!(h.to_string().contains("raw_events"), "{h}");
}
