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
    /// The sum of the query medians: each query timed alone, in a snapshot of its own.
    pub execute_ms: f64,
    /// The median of the whole report's queries run as `run` runs them: one after the other
    /// in one read snapshot, so a database's per-transaction cost is paid once.
    pub report_ms: f64,
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

/// The order the stores take their turn in on run `run`: the first one alternates.
fn turns(run: usize, stores: usize) -> impl Iterator<Item = usize> {
    (0..stores).map(move |k| if run.is_multiple_of(2) { k } else { stores - 1 - k })
}

/// One store's compiled report, binds, timings so far, and what `--explain` and the stale-view
/// warnings need.
struct Prepared {
    compiled: Vec<crate::sql::Compiled>,
    binds: Vec<Vec<Value>>,
    timing: ReportTiming,
    sizes: Vec<(&'static str, i64)>,
    stale: Vec<String>,
}

/// Benchmarks `report` on every store, `runs` times per query and then `runs` times whole. The stores take turns run by
/// run, the first one alternating, so a shared machine's load falls on each alike (running
/// one database's whole set and then the other's let minutes of drift into the ratio).
pub async fn bench_report(
    stores: &[Store],
    report: &Report,
    given: &[(String, String)],
    runs: usize,
    explain: bool,
) -> Result<Vec<ReportTiming>> {
    let runs = runs.max(1);
    let now = chrono::Utc::now();
    let (values, _, _) = resolve_params(report, given, now)?;
    let mut prepared = Vec::with_capacity(stores.len());
    for store in stores {
        let t = Instant::now();
        let compiled = compile_report(report, store.dialect())
            .map_err(|e| anyhow!("{} does not compile:\n{}", report.def.name, e.join("\n")))?;
        let compile = t.elapsed();
        let binds: Vec<Vec<Value>> = compiled
            .iter()
            .map(|c| c.params.iter().map(|p| values.get(&p.name).cloned().unwrap_or(Value::Null)).collect())
            .collect();
        let timing = ReportTiming {
            report: report.def.name.clone(),
            compile_ms: ms(compile),
            execute_ms: 0.0,
            report_ms: 0.0,
            render_ms: 0.0,
            queries: Vec::new(),
        };
        // Once per store: row counts of a large database take seconds.
        let sizes = if explain { table_sizes(store).await? } else { Vec::new() };
        let stale: Vec<String> =
            crate::store::views::list(store).await?.into_iter().filter(|v| v.stale).map(|v| v.name).collect();
        prepared.push(Prepared { compiled, binds, timing, sizes, stale });
    }
    for (i, q) in report.queries.iter().enumerate() {
        let mut times = vec![Vec::with_capacity(runs); stores.len()];
        let mut rows = vec![0; stores.len()];
        for run in 0..runs {
            for s in turns(run, stores.len()) {
                let p = &prepared[s];
                let t = Instant::now();
                let r =
                    execute_all(&stores[s], std::slice::from_ref(&p.compiled[i]), std::slice::from_ref(&p.binds[i]))
                        .await?;
                times[s].push(t.elapsed());
                rows[s] = r.rows.first().map(Vec::len).unwrap_or(0);
            }
        }
        for (s, store) in stores.iter().enumerate() {
            let p = &mut prepared[s];
            let (min_ms, median_ms, p95_ms) = stats(std::mem::take(&mut times[s]));
            p.timing.execute_ms += median_ms;
            let (plan, mut warnings) = if explain {
                super::explain::explain(store, &p.compiled[i], &p.binds[i], &p.sizes).await?
            } else {
                (None, Vec::new())
            };
            for v in p.compiled[i].views.iter().filter(|v| p.stale.contains(&v.name)) {
                warnings.push(format!("reads stale materialized view {} (run `cowrieql views refresh`)", v.name));
            }
            p.timing.queries.push(QueryTiming {
                report: report.def.name.clone(),
                query: q.name.clone(),
                rows: rows[s],
                min_ms,
                median_ms,
                p95_ms,
                plan,
                warnings,
            });
        }
    }
    let mut whole = vec![Vec::with_capacity(runs); stores.len()];
    for run in 0..runs {
        for s in turns(run, stores.len()) {
            let t = Instant::now();
            execute_all(&stores[s], &prepared[s].compiled, &prepared[s].binds).await?;
            whole[s].push(t.elapsed());
        }
    }
    for (p, times) in prepared.iter_mut().zip(whole) {
        p.timing.report_ms = stats(times).1;
    }
    let mut out = Vec::with_capacity(stores.len());
    for (store, Prepared { mut timing, .. }) in stores.iter().zip(prepared) {
        // Render time: one whole run rendered in every format.
        let result = run(store, report, given, now).await?;
        let t = Instant::now();
        for f in [Format::Text, Format::Markdown, Format::Html, Format::Json] {
            render(&result, f, report.templates.get(f.name()).map(String::as_str), None)?;
        }
        timing.render_ms = ms(t.elapsed()) / 4.0;
        out.push(timing);
    }
    Ok(out)
}

async fn table_sizes(store: &Store) -> Result<Vec<(&'static str, i64)>> {
    crate::store::tables::row_counts(store).await
}
