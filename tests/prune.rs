//! `db prune --before`: on both backends, pruning leaves exactly what an ingest of the
//! events after the boundary gives (sessions across it recomputed from what remains), a day
//! after the boundary reports the same before and after, the views follow, and a dry run
//! changes nothing and says what the prune then does.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use cowrieql::report::builtin;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::store::ingest::ingest;
use cowrieql::store::prune::{prune, PruneOptions};
use cowrieql::store::Store;

/// A boundary that cuts sessions in two: the middle of the sample's longest session on
/// 2025-09-17 (read from the file, independently of the loader).
fn boundary(lines: &[serde_json::Value]) -> DateTime<Utc> {
    let mut spans: std::collections::HashMap<(String, String), Vec<DateTime<Utc>>> = Default::default();
    for o in lines {
        let (Some(s), Some(t)) = (o["session"].as_str(), o["timestamp"].as_str()) else { continue };
        let t = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        if t.format("%F").to_string() == "2025-09-17" {
            spans.entry((o["sensor"].as_str().unwrap_or("").into(), s.into())).or_default().push(t);
        }
    }
    let (_, ts) = spans.into_iter().max_by_key(|(k, ts)| (ts.len(), k.clone())).unwrap();
    let (a, b) = (ts.iter().min().unwrap(), ts.iter().max().unwrap());
    *a + (*b - *a) / 2
}

async fn daily(store: &Store, date: &str) -> String {
    let report = builtin::builtin("daily").unwrap().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let r = run(store, &report, &[("date".into(), date.into())], now).await.unwrap();
    let json = render(&r, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
    without_volatile(serde_json::from_str(&json).unwrap()).to_string()
}

#[tokio::test]
async fn prune_leaves_what_an_ingest_of_the_later_events_gives() {
    let text = std::fs::read_to_string(fixture("sample/cowrie.json")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let before = boundary(&lines);
    let tmp = tempfile::tempdir().unwrap();
    let later = log_file(
        &tmp,
        "cowrie.json",
        &text
            .lines()
            .zip(&lines)
            .filter(|(_, o)| DateTime::parse_from_rfc3339(o["timestamp"].as_str().unwrap()).unwrap() >= before)
            .map(|(l, _)| format!("{l}\n"))
            .collect::<String>(),
    );

    let mut seen = Vec::new();
    for (db, want) in both().await.into_iter().zip(both().await) {
        ingest(&db.store, &[fixture("sample")], &Default::default()).await.unwrap();
        ingest(&want.store, std::slice::from_ref(&later), &Default::default()).await.unwrap();
        // The views exist, built before the prune.
        let day_after = (before + chrono::Duration::days(1)).format("%F").to_string();
        let report_before = daily(&db.store, &day_after).await;
        let boundary_day_before = daily(&db.store, &before.format("%F").to_string()).await;
        let state_before = (counts(&db.store).await, session_rows(&db.store).await, fact_rows(&db.store).await);

        let opts = |dry_run| PruneOptions { before, dry_run, progress: Default::default() };
        let dry = prune(&db.store, &opts(true)).await.unwrap();
        assert_eq!(
            (counts(&db.store).await, session_rows(&db.store).await, fact_rows(&db.store).await),
            state_before,
            "{}: a dry run changes nothing",
            db.label
        );
        assert!(dry.sessions_recomputed >= 1, "{}: the boundary cuts a session: {dry:?}", db.label);
        let done = prune(&db.store, &opts(false)).await.unwrap();
        assert_eq!(done, dry, "{}: the dry run said what the prune did", db.label);
        cowrieql::store::views::refresh(&db.store, &[], true, true).await.unwrap();

        // What remains is what the later events alone give (the checkpoints aside).
        assert_same_data(&db, &want).await;

        // A day after the boundary reports the same; the boundary's own day does not (its
        // sessions before the boundary are gone).
        assert_eq!(daily(&db.store, &day_after).await, report_before, "{}: {day_after}", db.label);
        let boundary_day = daily(&db.store, &before.format("%F").to_string()).await;
        assert_ne!(boundary_day, boundary_day_before, "{}", db.label);
        assert_eq!(boundary_day, daily(&want.store, &before.format("%F").to_string()).await, "{}", db.label);

        // Pruning again removes nothing more.
        let again = prune(&db.store, &opts(false)).await.unwrap();
        assert!(again.rows.iter().all(|(_, n)| *n == 0) && again.sessions_recomputed == 0, "{}: {again:?}", db.label);
        seen.push((session_rows(&db.store).await, fact_rows(&db.store).await));
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL disagree after the prune");
}

/// The command line: a dry run prints what would go; the prune says what went.
#[tokio::test]
async fn the_prune_command_says_what_it_does() {
    for db in both().await {
        ingest(&db.store, &[fixture("sample")], &Default::default()).await.unwrap();
        let events = count(&db.store, "raw_events").await;
        let cli = |dry: bool| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cowrieql"));
            c.env_remove("COWRIEQL_DB").args(["--db", &db.url, "db", "prune", "--before", "2025-09-18"]);
            if dry {
                c.arg("--dry-run");
            }
            c.output().unwrap()
        };
        let out = cli(true);
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains("would delete: "), "{said}");
        assert_eq!(count(&db.store, "raw_events").await, events, "{}", db.label);
        let out = cli(false);
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains("deleted: "), "{said}");
        let left = count(&db.store, "raw_events").await;
        assert!(left < events && left > 0, "{}: {said}", db.label);
    }
}
