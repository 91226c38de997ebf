//! The daily report over 1,000,000 generated events, on SQLite and PostgreSQL, next to the
//! same three queries written by hand in SQL and run directly, in the same run.
//! `cargo bench --bench report` (COWRIEQL_BENCH_EVENTS=N to change the size).

// The allocator the `cowrieql` binary uses (src/main.rs), so the figures are the tool's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cowrieql::report::builtin;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::store::Store;
use sqlx::Row;

const SQLITE_HAND: [&str; 3] = [
    "SELECT COUNT(*), COALESCE(round(AVG(command_count), 2), 0.0), COALESCE(MAX(command_count), 0), COALESCE(MIN(command_count), 0),
            COALESCE(SUM(download_count), 0), COALESCE(SUM(login_attempts), 0), COALESCE(SUM(vt_flagged), 0),
            COALESCE(SUM(dshield_flagged), 0), COUNT(DISTINCT src_ip)
     FROM sessions WHERE first_event_at >= ?1 AND first_event_at < ?2 AND (?3 IS NULL OR sensor = ?3)",
    "SELECT input, COUNT(*) AS n FROM commands WHERE ts >= ?1 AND ts < ?2 AND NOT failed AND realm = 'shell' AND (?3 IS NULL OR sensor = ?3)
     GROUP BY input ORDER BY n DESC, input LIMIT 10",
    "SELECT url, COUNT(*) AS n FROM downloads WHERE ts >= ?1 AND ts < ?2 AND kind = 'url'
     AND (?3 IS NULL OR sensor = ?3) GROUP BY url ORDER BY n DESC, url LIMIT 10",
];

const PG_HAND: [&str; 3] = [
    "SELECT COUNT(*), COALESCE(round(AVG(command_count), 2)::float8, 0.0), COALESCE(MAX(command_count), 0), COALESCE(MIN(command_count), 0),
            COALESCE(SUM(download_count), 0)::bigint, COALESCE(SUM(login_attempts), 0)::bigint, COALESCE(SUM(vt_flagged::int), 0)::bigint,
            COALESCE(SUM(dshield_flagged::int), 0)::bigint, COUNT(DISTINCT src_ip)
     FROM sessions WHERE first_event_at >= $1 AND first_event_at < $2 AND ($3::text IS NULL OR sensor = $3)",
    "SELECT input, COUNT(*) AS n FROM commands WHERE ts >= $1 AND ts < $2 AND NOT failed AND realm = 'shell' AND ($3::text IS NULL OR sensor = $3)
     GROUP BY input ORDER BY n DESC, input COLLATE \"C\" LIMIT 10",
    "SELECT url, COUNT(*) AS n FROM downloads WHERE ts >= $1 AND ts < $2 AND kind = 'url'
     AND ($3::text IS NULL OR sensor = $3) GROUP BY url ORDER BY n DESC, url COLLATE \"C\" LIMIT 10",
];

async fn hand(store: &Store, start: chrono::DateTime<Utc>, end: chrono::DateTime<Utc>) -> usize {
    let mut rows = 0;
    match store {
        Store::Sqlite(p) => {
            let (s, e) = (cowrieql::time::canonical_text(&start), cowrieql::time::canonical_text(&end));
            let mut tx = p.begin().await.unwrap();
            for q in SQLITE_HAND {
                let r = sqlx::query(q).bind(&s).bind(&e).bind(None::<String>).fetch_all(&mut *tx).await.unwrap();
                rows += r.len();
                std::hint::black_box(r.first().map(|x| x.len()));
            }
            tx.commit().await.unwrap();
        }
        Store::Postgres(p) => {
            let mut tx = p.begin().await.unwrap();
            for q in PG_HAND {
                let r = sqlx::query(q).bind(start).bind(end).bind(None::<String>).fetch_all(&mut *tx).await.unwrap();
                rows += r.len();
                std::hint::black_box(r.first().map(|x| x.len()));
            }
            tx.commit().await.unwrap();
        }
    }
    rows
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let events = common::bench_events();
    let runs = 9;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cowrie.json");
    cowrieql::gen::generate(events, 2025, &mut std::fs::File::create(&path).unwrap()).unwrap();
    let report = builtin::builtin("daily").unwrap().unwrap();
    let params = vec![("date".to_string(), "2025-09-22".to_string())];
    let (start, end) =
        (Utc.with_ymd_and_hms(2025, 9, 22, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2025, 9, 23, 0, 0, 0).unwrap());
    println!("report bench: daily over {events} generated events, median of {runs} runs after one warm-up");
    println!("{:<10} {:>12} {:>12} {:>12} {:>7}", "backend", "report ms", "render ms", "hand SQL ms", "ratio");
    for db in [common::fresh_sqlite().await, common::fresh_pg().await] {
        cowrieql::store::ingest::ingest(&db.store, std::slice::from_ref(&path), &Default::default()).await.unwrap();
        if let Store::Postgres(p) = &db.store {
            sqlx::query("ANALYZE").execute(p).await.unwrap();
        } else if let Store::Sqlite(p) = &db.store {
            sqlx::query("ANALYZE").execute(p).await.unwrap();
        }
        let now = Utc::now();
        // Warm-up, and the two must agree on the data they return.
        let r = run(&db.store, &report, &params, now).await.unwrap();
        let hand_rows = hand(&db.store, start, end).await;
        // The hand-written SQL is the report's first three sections (cowrieprocessor's document).
        let first_three = ["sessions", "top_commands", "top_files"];
        assert_eq!(
            r.results.iter().filter(|q| first_three.contains(&q.name.as_str())).map(|q| q.rows.len()).sum::<usize>(),
            hand_rows
        );
        let (mut tr, mut tren, mut th) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let r = run(&db.store, &report, &params, now).await.unwrap();
            let t1 = t.elapsed();
            let out = render(&r, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
            std::hint::black_box(out);
            tr.push(t.elapsed());
            tren.push(t.elapsed() - t1);
            let t = Instant::now();
            hand(&db.store, start, end).await;
            th.push(t.elapsed());
        }
        let (r, ren, h) = (median(tr), median(tren), median(th));
        println!(
            "{:<10} {:>12.1} {:>12.2} {:>12.1} {:>7.2}",
            db.label,
            r.as_secs_f64() * 1e3,
            ren.as_secs_f64() * 1e3,
            h.as_secs_f64() * 1e3,
            r.as_secs_f64() / h.as_secs_f64()
        );
    }
}
