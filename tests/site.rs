//! `cowrieql site`: every report with a window, as linked pages and an index, over the shipped
//! sample on both backends, with the same figures on both.

mod common;

use chrono::{TimeZone, Utc};
use common::*;

fn links(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
}

fn figures(html: &str) -> Vec<String> {
    html.split(r#"<dl class="figures">"#).skip(1).filter_map(|s| s.split("</dl>").next()).map(str::to_string).collect()
}

#[tokio::test]
async fn the_site_links_every_report_and_agrees_on_both_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
    let mut indexes = Vec::new();
    for db in both().await {
        cowrieql::store::ingest::ingest(&db.store, &[fixture("sample")], &Default::default()).await.unwrap();
        let out = tmp.path().join(db.label);
        let pages = cowrieql::report::site::build(&db.store, "all", None, None, &out, now).await.unwrap();
        let windowed: Vec<&str> = cowrieql::report::builtin::builtin_names()
            .into_iter()
            .filter(|n| cowrieql::report::builtin::builtin(n).unwrap().unwrap().def.window.is_some())
            .collect();
        let written: Vec<&str> = pages.iter().filter(|p| p.outcome.is_ok()).map(|p| p.name.as_str()).collect();
        assert_eq!(written, windowed, "{}: a page for every report with a window", db.label);
        let index = std::fs::read_to_string(out.join("index.html")).unwrap();
        for name in &windowed {
            assert!(links(&index).contains(&format!("{name}.html")), "{}: index links {name}", db.label);
            let page = std::fs::read_to_string(out.join(format!("{name}.html"))).unwrap();
            assert!(links(&page).contains(&"index.html".to_string()), "{name} links back to the index");
            assert!(!page.contains("<script"), "{name}: no script on a page");
        }
        // Every link of every page is a file of the site (it works offline, from the folder).
        for f in std::fs::read_dir(&out).unwrap() {
            let html = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for l in links(&html) {
                assert!(out.join(&l).is_file(), "{}: a link to {l}, which is not in the site", db.label);
            }
        }
        // The attackers and downloads pages drill down to session pages (the session report).
        for page in ["attackers.html", "downloads.html"] {
            let html = std::fs::read_to_string(out.join(page)).unwrap();
            let sessions: Vec<String> = links(&html).into_iter().filter(|l| l.starts_with("session-")).collect();
            assert!(!sessions.is_empty(), "{}: {page} links no session", db.label);
            let drill = std::fs::read_to_string(out.join(&sessions[0])).unwrap();
            assert!(drill.contains("<h1>Session timeline"), "{}: {} is a session page", db.label, sessions[0]);
        }
        assert!(index.matches(r#"<svg class="chart""#).count() >= 10, "{}: small charts on the index", db.label);
        assert!(index.contains("<dd>"), "{}: headline figures", db.label);
        indexes.push(figures(&index));
    }
    assert!(!indexes[0].is_empty());
    assert_eq!(indexes[0], indexes[1], "the index's figures differ between SQLite and PostgreSQL");
}
