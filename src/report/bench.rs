//! `cowrieql bench`: how long each query of each report takes on a real database, with the
//! shares of compile, execute and render time, and optionally the query plans, flagging full
//! scans of large tables.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::def::Report;
use super::execute::execute_all;
use super::render::{render, Format};
use super::run::{compile_report, resolve_params, run};
use super::value::Value;
use crate::store::Store;

#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryTiming {
    pub report: String,
    pub query: String,
    pub rows: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub plan: Option<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportTiming {
    pub report: String,
    pub compile_ms: f64,
    pub execute_ms: f64,
    pub render_ms: f64,
    pub queries: Vec<QueryTiming>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let p = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (p(0.0), p(0.5), p(0.95))
}

/// Benchmarks `report` on `store`, `runs` times per query.
pub async fn bench_report(
    store: &Store,
    report: &Report,
    given: &[(String, String)],
    runs: usize,
    explain: bool,
) -> Result<ReportTiming> {
    let runs = runs.max(1);
    let dialect = store.dialect();
    let now = chrono::Utc::now();
    let (values, _, _) = resolve_params(report, given, now)?;
    let t = Instant::now();
    let compiled = compile_report(report, dialect)
        .map_err(|e| anyhow!("{} does not compile:\n{}", report.def.name, e.join("\n")))?;
    let compile = t.elapsed();
    let mut out = ReportTiming {
        report: report.def.name.clone(),
        compile_ms: ms(compile),
        execute_ms: 0.0,
        render_ms: 0.0,
        queries: Vec::new(),
    };
    let sizes = table_sizes(store).await?;
    let stale: Vec<String> =
        crate::store::views::list(store).await?.into_iter().filter(|v| v.stale).map(|v| v.name).collect();
    for (q, c) in report.queries.iter().zip(&compiled) {
        let binds: Vec<Value> = c.params.iter().map(|p| values.get(&p.name).cloned().unwrap_or(Value::Null)).collect();
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r = execute_all(store, std::slice::from_ref(c), std::slice::from_ref(&binds)).await?;
            times.push(t.elapsed());
            rows = r.rows.first().map(Vec::len).unwrap_or(0);
        }
        let (min_ms, median_ms, p95_ms) = stats(times);
        out.execute_ms += median_ms;
        let (plan, mut warnings) =
            if explain { super::explain::explain(store, c, &binds, &sizes).await? } else { (None, Vec::new()) };
        for v in c.views.iter().filter(|v| stale.contains(&v.name)) {
            warnings.push(format!("reads stale materialized view {} (run `cowrieql views refresh`)", v.name));
        }
        out.queries.push(QueryTiming {
            report: report.def.name.clone(),
            query: q.name.clone(),
            rows,
            min_ms,
            median_ms,
            p95_ms,
            plan,
            warnings,
        });
    }
    // Render time: one whole run rendered in every format.
    let result = run(store, report, given, now).await?;
    let t = Instant::now();
    for f in [Format::Text, Format::Markdown, Format::Html, Format::Json] {
        render(&result, f, report.templates.get(f.name()).map(String::as_str), None)?;
    }
    out.render_ms = ms(t.elapsed()) / 4.0;
    Ok(out)
}

async fn table_sizes(store: &Store) -> Result<Vec<(&'static str, i64)>> {
    crate::store::tables::row_counts(store).await
}
