//! `cowrieql site`: every report (built-in, and those in the reports folder) for one window,
//! written as self-contained HTML pages that link to each other, with an index page: a
//! dashboard of each report's headline figures and first chart, linking to the report. Plain
//! files: it works from the file system, offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::builtin;
use super::escape;
use super::render::{render_site_page, section_chart, session_page};
use super::run::{run, QueryResult, ReportResult};
use crate::store::Store;

/// A report the site has a page for, or the reason it has none.
pub struct Page {
    pub name: String,
    pub title: String,
    pub outcome: Result<PathBuf, String>,
}

/// The reports a site shows: every one with a window (the `session` report takes a session,
/// not a window).
/// In the built-ins' order (daily, weekly, monthly first), then the folder's own reports.
fn names(dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = builtin::builtin_names().into_iter().map(str::to_string).collect();
    for (n, _) in builtin::all(dir) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Runs every report for `window` (and `sensor`) on `store` and writes the pages and
/// `index.html` into `out`.
pub async fn build(
    store: &Store,
    window: &str,
    sensor: Option<&str>,
    dir: Option<&Path>,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<Page>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut pages = Vec::new();
    let mut cards = Vec::new();
    let mut sessions: Vec<(String, String)> = Vec::new();
    for name in names(dir) {
        let report = builtin::find(&name, dir)?;
        let Some(w) = &report.def.window else { continue };
        let mut params = vec![(w.param.clone(), window.to_string())];
        if let Some(s) = sensor.filter(|_| report.def.parameters.contains_key("sensor")) {
            params.push(("sensor".into(), s.to_string()));
        }
        let title = report.def.title.clone();
        if let Err(e) = super::run::resolve_params(&report, &params, now) {
            pages.push(Page { name, title, outcome: Err(format!("{e:#}")) });
            continue;
        }
        let result = run(store, &report, &params, now).await.with_context(|| format!("running {name}"))?;
        let html = render_site_page(&result, report.templates.get("html").map(String::as_str))?;
        let file = out.join(format!("{name}.html"));
        std::fs::write(&file, with_nav(&html)).with_context(|| format!("writing {}", file.display()))?;
        for key in session_keys(&result) {
            if !sessions.contains(&key) {
                sessions.push(key);
            }
        }
        cards.push(card(&name, &result));
        pages.push(Page { name, title, outcome: Ok(file) });
    }
    // A drill-down page for every session a page links to.
    let session_report = builtin::find("session", dir)?;
    for (sensor, id) in sessions.iter().take(MAX_SESSIONS) {
        let params = vec![("session".to_string(), id.clone()), ("sensor".to_string(), sensor.clone())];
        let result = run(store, &session_report, &params, now).await.with_context(|| format!("session {id}"))?;
        let html = render_site_page(&result, session_report.templates.get("html").map(String::as_str))?;
        let file = out.join(session_page(sensor, id));
        std::fs::write(&file, with_nav(&html)).with_context(|| format!("writing {}", file.display()))?;
    }
    let index = index(window, &cards, &pages, now);
    std::fs::write(out.join("index.html"), index).with_context(|| format!("writing {}/index.html", out.display()))?;
    Ok(pages)
}

/// Session pages a site writes at most (each page lists at most its `top` sessions).
const MAX_SESSIONS: usize = 2_000;

/// The (sensor, session id) of every row of a section that has both columns.
fn session_keys(r: &ReportResult) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for q in &r.results {
        let col = |n: &str| q.columns.iter().position(|(c, _)| c == n);
        let (Some(s), Some(i)) = (col("sensor"), col("session_id")) else { continue };
        for row in &q.rows {
            if let (super::value::Value::Text(sensor), super::value::Value::Text(id)) = (&row[s], &row[i]) {
                out.push((sensor.clone(), id.clone()));
            }
        }
    }
    out
}

/// A report page with a link back to the index at its top.
fn with_nav(html: &str) -> String {
    html.replacen("<body>", r#"<body><nav><a href="index.html">&#8592; all reports</a></nav>"#, 1)
}

/// The first section's first row's numbers (at most four), and the first chart.
fn card(name: &str, r: &ReportResult) -> String {
    let mut out = format!(
        r#"<article><div class="info"><h2><a href="{0}.html">{1}</a></h2><p>{2}</p>"#,
        escape::html(name),
        escape::html(&r.title),
        escape::html(&r.description)
    );
    if let Some(q) = r.results.first() {
        out.push_str(&figures(q));
    }
    out.push_str(&format!(r#"<p><a href="{}.html">the whole report &#8594;</a></p></div>"#, escape::html(name)));
    if let Some(q) = r.results.iter().find(|q| q.chart.is_some() && !q.rows.is_empty()) {
        out.push_str(&format!(
            r#"<figure><figcaption>{}</figcaption>{}</figure>"#,
            escape::html(q.title.as_deref().unwrap_or(&q.name)),
            section_chart(q)
        ));
    }
    out.push_str("</article>");
    out
}

fn figures(q: &QueryResult) -> String {
    let Some(row) = q.rows.first() else { return r#"<p class="none">no rows in this window</p>"#.into() };
    let mut out = String::from(r#"<dl class="figures">"#);
    let numbers = q
        .columns
        .iter()
        .zip(row)
        .filter(|((_, t), _)| matches!(t, crate::check::ir::Ty::Int | crate::check::ir::Ty::Float));
    for ((n, _), v) in numbers.take(4) {
        let shown = match v {
            super::value::Value::Int(i) => super::render::thousands(*i as f64),
            super::value::Value::Float(f) => super::render::thousands((f * 100.0).round() / 100.0),
            other => escape::html(&escape::text(&other.display())),
        };
        out.push_str(&format!("<div><dt>{}</dt><dd>{shown}</dd></div>", escape::html(&n.replace('_', " "))));
    }
    out.push_str("</dl>");
    out
}

fn index(window: &str, cards: &[String], pages: &[Page], now: DateTime<Utc>) -> String {
    let skipped: Vec<String> = pages
        .iter()
        .filter_map(|p| {
            p.outcome.as_ref().err().map(|e| format!("<li>{}: {}</li>", escape::html(&p.title), escape::html(e)))
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cowrieql: {w}</title>
<style>
body{{font-family:system-ui,sans-serif;font-size:15px;line-height:1.4;margin:2em auto;max-width:75em;padding:0 1em;color:#222;background:#fff}}
main{{display:grid;gap:1em}}
article{{border:1px solid #ddd;border-radius:6px;padding:.8em 1em;display:flex;flex-wrap:wrap;gap:0 1.5em;align-items:flex-start}}
.info{{flex:1 1 18em;min-width:0}}figure{{flex:0 1 720px;min-width:0}}
article h2{{margin:.2em 0;font-size:1.2em}}article p{{margin:.4em 0}}
dl.figures{{display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin:.5em 0}}dl.figures dt{{font-size:.8em;color:#666}}dl.figures dd{{margin:0;font-size:1.3em;font-variant-numeric:tabular-nums}}
figure{{margin:.5em 0}}figcaption{{font-size:.85em;color:#666}}svg.chart{{display:block;max-width:100%;height:auto}}
small,.none{{color:#666}}
@media (prefers-color-scheme:dark){{body{{background:#16181d;color:#ddd}}article{{border-color:#444}}small,.none,figcaption,dl.figures dt{{color:#aaa}}a{{color:#8ab4f8}}}}
@media print{{main{{display:block}}article{{break-inside:avoid;margin-bottom:1em}}}}
</style></head><body>
<h1>Honeypot reports <small>{w}</small></h1>
<p><small>generated {now} by cowrieql</small></p>
<main>
{cards}
</main>
{skipped}</body></html>
"#,
        w = escape::html(window),
        now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cards = cards.join("\n"),
        skipped = if skipped.is_empty() {
            String::new()
        } else {
            format!("<h2>Not for this window</h2><ul>{}</ul>\n", skipped.join(""))
        },
    )
}
