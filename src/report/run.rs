//! Running a report: resolve parameters and window, compile every query for the store's
//! dialect, run them in one snapshot, fill empty buckets.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Duration, Utc};

use super::def::{FillDef, Report};
use super::execute::execute_all;
use super::params::{self, Window};
use super::value::Value;
use crate::check::ir::Ty;
use crate::diag::{render, Diagnostic};
use crate::sql::{Compiled, Dialect};
use crate::store::Store;

/// One query's rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryResult {
    pub name: String,
    pub title: Option<String>,
    /// The chart declared for the query, resolved against its columns (`cowrieql check` says
    /// what is wrong with one that does not resolve; the page then draws none).
    pub chart: Option<crate::report::chart_spec::Chart>,
    pub columns: Vec<(String, Ty)>,
    pub rows: Vec<Vec<Value>>,
}

/// A run report, ready to render.
#[derive(Debug, Clone)]
pub struct ReportResult {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Parameter values as given or defaulted, for display.
    pub params: Vec<(String, Value)>,
    pub window: Option<Window>,
    pub generated_at: DateTime<Utc>,
    pub backend: &'static str,
    pub results: Vec<QueryResult>,
    /// Materialized views the report read, with their last refresh (PostgreSQL).
    pub views: Vec<crate::store::views::ViewInfo>,
    /// Views this connection could not build (read-only), computed inside the queries instead.
    pub inlined: Vec<String>,
    /// Read from a standby this many seconds behind its primary (None: not a standby).
    pub replica_lag: Option<f64>,
}

/// The parameter types a report's queries are compiled with.
pub fn declared_types(r: &Report) -> HashMap<String, Ty> {
    let mut m: HashMap<String, Ty> =
        r.def.parameters.iter().map(|(k, p)| (k.clone(), params::lang_type(p.ty))).collect();
    if r.def.window.is_some() {
        m.insert("start".into(), Ty::Timestamp);
        m.insert("end".into(), Ty::Timestamp);
    }
    m
}

/// Compiles every query of `r` for `d`. Errors are rendered with file, line and column.
pub fn compile_report(r: &Report, d: &dyn Dialect) -> Result<Vec<Compiled>, Vec<String>> {
    compile_report_diags(r, d)
        .map_err(|errs| errs.iter().map(|(i, x)| render(x, &r.queries[*i].text, &r.queries[*i].origin)).collect())
}

/// [`compile_report`] with the diagnostics kept structured: (index of the query, diagnostic).
pub fn compile_report_diags(r: &Report, d: &dyn Dialect) -> Result<Vec<Compiled>, Vec<(usize, Diagnostic)>> {
    let declared = declared_types(r);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, q) in r.queries.iter().enumerate() {
        match crate::compile::compile(&q.text, d, &declared) {
            Ok(c) => {
                for p in &c.params {
                    if !declared.contains_key(&p.name) {
                        let diag = Diagnostic::new(
                            "E0601",
                            p.first_use.clone(),
                            format!("`${}` is not a parameter of this report", p.name),
                        )
                        .hint(format!("declare it under `parameters:` in {}", r.origin));
                        errors.push((i, diag));
                    }
                }
                out.push(c);
            }
            Err(diags) => errors.extend(diags.into_iter().map(|x| (i, x))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parameter values for binding, the same for display (in declaration order), and the window.
pub type Resolved = (HashMap<String, Value>, Vec<(String, Value)>, Option<Window>);

/// Resolves `given` (`name=value` pairs) against the report's parameters and window.
pub fn resolve_params(r: &Report, given: &[(String, String)], now: DateTime<Utc>) -> Result<Resolved> {
    let mut values = HashMap::new();
    let mut shown = Vec::new();
    let mut window = None;
    for (k, _) in given {
        if !r.def.takes(k) {
            let mut names: Vec<String> = r.def.parameters.keys().cloned().collect();
            if let Some(w) = &r.def.window {
                names.insert(0, w.param.clone());
            }
            let near = crate::diag::near_names(k, names.iter().map(String::as_str));
            let guess = near.first().map(|n| format!(" (did you mean {n:?}?)")).unwrap_or_default();
            bail!(
                "report {} has no parameter {k:?}{guess}; its parameters: {}",
                r.def.name,
                if names.is_empty() { "none".into() } else { names.join(", ") }
            );
        }
    }
    let get = |name: &str| given.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(w) = &r.def.window {
        let text = get(&w.param).unwrap_or_else(|| w.default.clone());
        let mut win = params::parse_window(&text, &w.kinds, now).map_err(|e| anyhow!("parameter {}: {e}", w.param))?;
        if let Some(unit) = w.align {
            win = win.aligned(unit);
        }
        values.insert("start".to_string(), Value::Timestamp(win.start));
        values.insert("end".to_string(), Value::Timestamp(win.end));
        shown.push((w.param.clone(), Value::Text(win.label.clone())));
        window = Some(win);
    }
    for (name, def) in &r.def.parameters {
        let v = match get(name) {
            Some(s) => params::parse(&s, def).map_err(|e| anyhow!("parameter {name}: {e}"))?,
            None => match &def.default {
                Some(d) => params::from_yaml(d, def).map_err(|e| anyhow!("parameter {name}: default {e}"))?,
                None if def.required => bail!("report {} needs --param {name}=…", r.def.name),
                None => Value::Null,
            },
        };
        shown.push((name.clone(), v.clone()));
        values.insert(name.clone(), v);
    }
    Ok((values, shown, window))
}

/// Runs report `r` on `store`.
pub async fn run(store: &Store, r: &Report, given: &[(String, String)], now: DateTime<Utc>) -> Result<ReportResult> {
    let dialect = store.dialect();
    let (values, shown, window) = resolve_params(r, given, now)?;
    let compiled = compile_report(r, dialect)
        .map_err(|errs| anyhow!("report {} does not compile:\n{}", r.def.name, errs.join("\n")))?;
    let binds: Vec<Vec<Value>> = compiled
        .iter()
        .map(|c| c.params.iter().map(|p| values.get(&p.name).cloned().unwrap_or(Value::Null)).collect())
        .collect();
    let executed = execute_all(store, &compiled, &binds)
        .await
        .with_context(|| format!("report {} failed on {}", r.def.name, store.backend().name()))?;
    let read: Vec<&str> = compiled.iter().flat_map(|c| c.views.iter().map(|v| v.name.as_str())).collect();
    let views =
        crate::store::views::list(store).await?.into_iter().filter(|v| read.contains(&v.name.as_str())).collect();
    let mut results = Vec::new();
    let mut present: HashMap<String, bool> = HashMap::new();
    for ((q, c), mut rows) in r.queries.iter().zip(&compiled).zip(executed.rows) {
        if let (Some(fill), Some(w)) = (&q.fill, &window) {
            rows = fill_buckets(rows, &c.output, fill, w).map_err(|e| anyhow!("query {}: {e}", q.name))?;
        }
        for (column, source) in &q.enrichment {
            if !present.contains_key(source) {
                present.insert(source.clone(), enrichment_present(store, source).await?);
            }
            let Some(i) = c.output.iter().position(|(n, _)| n == column) else { continue };
            if !present[source] {
                for row in &mut rows {
                    row[i] = Value::Text("n/a".into());
                }
            }
        }
        results.push(QueryResult {
            name: q.name.clone(),
            title: q.title.clone(),
            chart: q.chart.as_ref().and_then(|s| s.resolve(&c.output).ok()),
            columns: c.output.clone(),
            rows,
        });
    }
    Ok(ReportResult {
        name: r.def.name.clone(),
        title: r.def.title.clone(),
        description: r.def.description.clone(),
        params: shown,
        window,
        generated_at: now,
        backend: store.backend().name(),
        results,
        views,
        inlined: executed.inlined,
        replica_lag: crate::store::care::replay_lag(store).await?,
    })
}

/// Builds the materialized views `r` reads on `primary`, so that a standby it streams to has
/// them once it has replayed (`--read-db`). A standby that has not yet computes them inline.
pub async fn build_views(primary: &Store, r: &Report) -> Result<()> {
    let compiled = compile_report(r, primary.dialect())
        .map_err(|errs| anyhow!("report {} does not compile:\n{}", r.def.name, errs.join("\n")))?;
    crate::store::views::build(primary, &compiled).await
}

/// Whether enrichment `source` ever wrote an event into this database.
async fn enrichment_present(store: &Store, source: &str) -> Result<bool> {
    let ids = crate::report::def::ENRICHMENTS.iter().find(|(s, _)| *s == source).map(|(_, ids)| *ids).unwrap_or(&[]);
    crate::store::tables::any_event_of(store, ids).await
}

/// Adds a row for every bucket of the window that the query did not return, with zeros in
/// the `zero` columns, so charts and tables show quiet hours as zero rather than skip them.
pub fn fill_buckets(
    rows: Vec<Vec<Value>>,
    cols: &[(String, Ty)],
    fill: &FillDef,
    w: &Window,
) -> Result<Vec<Vec<Value>>> {
    let idx = cols
        .iter()
        .position(|(n, _)| *n == fill.column)
        .ok_or_else(|| anyhow!("fill column {} is not in the result", fill.column))?;
    if fill.step == "weekday" {
        // ISO weekdays 1 (Monday) to 7.
        let mut out = Vec::new();
        for d in 1..=7 {
            let found = rows.iter().find(|r| r[idx] == Value::Int(d)).cloned();
            out.push(found.unwrap_or_else(|| blank_row(cols, idx, Value::Int(d), fill)));
        }
        return Ok(out);
    }
    let step = match fill.step.as_str() {
        "hour" => Duration::hours(1),
        "day" => Duration::days(1),
        s => bail!("fill step {s:?}: use hour, day or weekday"),
    };
    let mut by_bucket: HashMap<DateTime<Utc>, Vec<Value>> = HashMap::new();
    for r in rows {
        if let Value::Timestamp(t) = r[idx] {
            by_bucket.insert(t, r);
        }
    }
    let mut out = Vec::new();
    // `all` spans from the first bucket with data to the last.
    let (mut t, end) = if w.unbounded {
        match (by_bucket.keys().min(), by_bucket.keys().max()) {
            (Some(&a), Some(&b)) => (a, b + step),
            _ => return Ok(out),
        }
    } else {
        (w.start, w.end)
    };
    while t < end && out.len() < 100_000 {
        out.push(by_bucket.remove(&t).unwrap_or_else(|| blank_row(cols, idx, Value::Timestamp(t), fill)));
        t += step;
    }
    Ok(out)
}

fn blank_row(cols: &[(String, Ty)], idx: usize, key: Value, fill: &FillDef) -> Vec<Value> {
    cols.iter()
        .enumerate()
        .map(|(i, (n, _))| {
            if i == idx {
                key.clone()
            } else if fill.zero.contains(n) {
                Value::Int(0)
            } else {
                Value::Null
            }
        })
        .collect()
}
