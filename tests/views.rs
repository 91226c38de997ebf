//! Materialized views: created from a report's `materialize` prefix on PostgreSQL, rebuilt
//! when the prefix changes, refreshed after ingest, reported stale otherwise; the same rows as
//! the inline query and as SQLite's CTE.

mod common;

use std::process::Command;

use chrono::Utc;
use common::*;
use cowrieql::report::def::Report;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::report::Value;
use cowrieql::store::ingest::ingest;
use cowrieql::store::views;

const PREFIX: &str = "from sessions\n      group sensor, day = bucket(first_event_at, day)\n      aggregate sessions = count(), logins = sum(login_attempts)";

fn report_yaml(prefix: &str, materialize: bool) -> String {
    let mat = if materialize { "\n      materialize per_sensor_day" } else { "" };
    format!(
        "name: perday\ntitle: Per day\nparameters:\n  sensor:\n    type: text\nqueries:\n  days: |\n      {prefix}{mat}\n      where $sensor is null or sensor == $sensor\n      sort day, sensor\n"
    )
}

fn load(yaml: &str) -> Report {
    Report::parse(yaml, "test.yaml", &cowrieql::report::def::DiskFiles(std::env::temp_dir())).unwrap()
}

fn rows(r: &cowrieql::report::run::ReportResult) -> Vec<Vec<String>> {
    r.results[0].rows.iter().map(|row| row.iter().map(Value::display).collect()).collect()
}

#[tokio::test]
async fn views_are_created_rebuilt_refreshed_and_match_the_inline_query() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("a.json");
    let second = tmp.path().join("b.json");
    let mut a = Vec::new();
    cowrieql::gen::generate(3000, 1, &mut a).unwrap();
    std::fs::write(&first, &a).unwrap();
    let mut b = Vec::new();
    cowrieql::gen::generate(3000, 2, &mut b).unwrap();
    std::fs::write(&second, &b).unwrap();
    let third = tmp.path().join("c.json");
    let mut c = Vec::new();
    cowrieql::gen::generate(500, 3, &mut c).unwrap();
    std::fs::write(&third, &c).unwrap();
    let materialized = load(&report_yaml(PREFIX, true));
    let inline = load(&report_yaml(PREFIX, false));
    let now = Utc::now();
    let mut per_backend = Vec::new();
    for db in both().await {
        let label = db.label;
        ingest(&db.store, std::slice::from_ref(&first), &Default::default()).await.unwrap();
        let first_run = run(&db.store, &materialized, &[], now).await.unwrap();
        assert_eq!(first_run.views.len(), 1, "{label}: the report says which view it read");
        assert_eq!(
            rows(&first_run),
            rows(&run(&db.store, &inline, &[], now).await.unwrap()),
            "{label}: view vs inline"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&first_run, Format::Json, None, None).unwrap()).unwrap();
        assert_eq!(json["views"][0]["name"], "per_sensor_day");
        assert!(json["views"][0]["age_seconds"].as_i64().unwrap() >= 0);
        for f in [Format::Text, Format::Markdown, Format::Html] {
            let out = render(&first_run, f, None, None).unwrap();
            assert!(out.contains("refreshed") && out.contains("s before"), "{label} {}: {out}", f.name());
        }
        let listed = views::list(&db.store).await.unwrap();
        assert_eq!(listed.len(), 1);
        let hash = listed[0].definition_hash.clone();

        // New data without a refresh: the view is stale, and health says so.
        ingest(&db.store, std::slice::from_ref(&second), &Default::default()).await.unwrap();
        assert!(views::list(&db.store).await.unwrap()[0].stale, "{label}");
        assert_ne!(
            rows(&run(&db.store, &materialized, &[], now).await.unwrap()),
            rows(&run(&db.store, &inline, &[], now).await.unwrap()),
            "{label}: a stale view must actually lag, or this test proves nothing"
        );
        // bench warns that the query read a stale view.
        let timed =
            cowrieql::report::bench::bench_report(std::slice::from_ref(&db.store), &materialized, &[], 1, false)
                .await
                .unwrap();
        let warnings = &timed[0].queries[0].warnings;
        assert!(
            warnings.iter().any(|w| w.contains("reads stale materialized view per_sensor_day")),
            "{label}: {warnings:?}"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).args(["--db", &db.url, "health"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{label}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("stale materialized view(s) per_sensor_day"));
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
            .args(["--db", &db.url, "views", "refresh", "--concurrently"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("refreshed 1 view(s): per_sensor_day"),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!views::list(&db.store).await.unwrap()[0].stale, "{label}");
        // Ingests that add nothing (the same file again, a file of duplicates, garbage) leave
        // the view fresh, and health at ok.
        let dups = tmp.path().join("dups.json");
        std::fs::copy(&second, &dups).unwrap();
        let junk = tmp.path().join("junk.json");
        std::fs::write(&junk, "{not json\n").unwrap();
        for again in [&second, &dups, &junk] {
            ingest(&db.store, std::slice::from_ref(again), &Default::default()).await.unwrap();
            assert!(!views::list(&db.store).await.unwrap()[0].stale, "{label}: {} added nothing", again.display());
        }
        cowrieql::store::dead_letters::purge(&db.store, &Default::default(), true).await.unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql")).args(["--db", &db.url, "health"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{label}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(
            rows(&run(&db.store, &materialized, &[], now).await.unwrap()),
            rows(&run(&db.store, &inline, &[], now).await.unwrap()),
            "{label}"
        );

        // `cowrieql ingest` refreshes the views itself.
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
            .args(["--db", &db.url, "ingest", "--quiet"])
            .arg(&third)
            .output()
            .unwrap();
        // On stderr: piped stdout holds only the summary.
        assert!(String::from_utf8_lossy(&out.stderr).contains("refreshed materialized views: per_sensor_day"));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("refreshed"));
        let after = rows(&run(&db.store, &materialized, &[], now).await.unwrap());
        assert_eq!(after, rows(&run(&db.store, &inline, &[], now).await.unwrap()), "{label}");

        // A changed prefix rebuilds the view, never reads the old one.
        let changed_prefix = format!("{PREFIX}, failures = sum(login_failures)");
        let changed = load(&report_yaml(&changed_prefix, true));
        let r = run(&db.store, &changed, &[], now).await.unwrap();
        assert!(r.results[0].columns.iter().any(|(n, _)| n == "failures"));
        assert_eq!(
            rows(&r),
            rows(&run(&db.store, &load(&report_yaml(&changed_prefix, false)), &[], now).await.unwrap()),
            "{label}"
        );
        assert_ne!(views::list(&db.store).await.unwrap()[0].definition_hash, hash);
        per_backend.push(after);
    }
    assert_eq!(per_backend[0], per_backend[1], "SQLite and PostgreSQL views disagree");
}

/// A connection to `db` that may only read: a SELECT-only role on PostgreSQL, the file
/// opened read-only on SQLite.
async fn read_only(db: &TestDb) -> cowrieql::store::Store {
    use cowrieql::store::{ConnectOptions, Store};
    let opts = ConnectOptions { create: false, ..Default::default() };
    if db.label == "sqlite" {
        return Store::connect(&format!("sqlite://{}?mode=ro", db.url), &opts).await.unwrap();
    }
    Store::connect(&pg_reader(db).await, &opts).await.unwrap()
}

fn all_rows(r: &cowrieql::report::run::ReportResult) -> Vec<Vec<Vec<String>>> {
    r.results.iter().map(|q| q.rows.iter().map(|row| row.iter().map(Value::display).collect()).collect()).collect()
}

/// Every built-in report, run first by a connection that may only read, before any view
/// exists: it succeeds, names the views it computed inline, writes nothing, and gives the
/// owner's rows; once the owner has built the views the reader uses them.
#[tokio::test]
async fn a_read_only_connection_runs_every_report_before_its_views_exist() {
    use cowrieql::report::builtin;
    let corpus = own_corpus();
    let now = Utc::now();
    for db in both().await {
        let label = db.label;
        ingest(&db.store, &corpus.paths, &Default::default()).await.unwrap();
        let reader = read_only(&db).await;
        let before = counts(&db.store).await;
        let reports: Vec<_> = builtin::builtin_names()
            .into_iter()
            .map(|name| (name, builtin::builtin(name).unwrap().unwrap(), params_for(name, &corpus)))
            .collect();
        let mut first = Vec::new();
        for (name, report, params) in &reports {
            let r = run(&reader, report, params, now).await.unwrap_or_else(|e| panic!("{label} {name}: {e:#}"));
            let materializes = report.queries.iter().any(|q| q.text.contains("materialize"));
            assert_eq!(!r.inlined.is_empty(), materializes, "{label} {name}: {:?}", r.inlined);
            first.push(r);
        }
        assert!(first.iter().any(|r| !r.inlined.is_empty()), "some built-in report materializes a view");
        // Reading wrote nothing: no view was registered, no row changed.
        assert!(views::list(&db.store).await.unwrap().is_empty(), "{label}");
        assert_eq!(counts(&db.store).await, before, "{label}");
        for ((name, report, params), as_reader) in reports.iter().zip(&first) {
            let as_owner = run(&db.store, report, params, now).await.unwrap();
            assert!(as_owner.inlined.is_empty(), "{label} {name}: the owner builds its views");
            assert_eq!(all_rows(as_reader), all_rows(&as_owner), "{label} {name}: inline vs view");
            let again = run(&reader, report, params, now).await.unwrap();
            assert!(again.inlined.is_empty(), "{label} {name}: the reader reads the built views");
            assert_eq!(all_rows(&again), all_rows(&as_owner), "{label} {name}");
        }
        reader.close().await;
    }
}
