use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use crate::report::builtin;
use crate::report::def::{Query, Report, ReportDef};
use crate::report::render::{render_fit, Format};
use crate::report::run::{run, QueryResult, ReportResult};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A report name (built-in or in the reports folder) or a path to a report's YAML.
    pub report: String,
    /// A parameter: NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Only this sensor (same as --param sensor=S).
    #[arg(long)]
    pub sensor: Option<String>,
    /// text, markdown, html, json or csv.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Folder of report definitions that override the built-ins (default ./reports).
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// For csv: which query to write (default the first).
    #[arg(long)]
    pub query: Option<String>,
    /// Text tables at full width on a terminal too (they are cut to fit it otherwise).
    #[arg(long)]
    pub wide: bool,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The query text.
    pub text: String,
    /// A parameter: NAME=VALUE (its type is inferred from the query, or --param-type).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Declare a parameter's type when the query leaves it open:
    /// NAME=int|float|text|bool|timestamp|duration|list (repeatable).
    #[arg(long = "param-type", value_name = "NAME=TYPE")]
    pub param_types: Vec<String>,
    /// text, markdown, html, json or csv.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Print the query plan (EXPLAIN QUERY PLAN; EXPLAIN (ANALYZE, BUFFERS)) instead of rows.
    #[arg(long)]
    pub explain: bool,
    /// Text tables at full width on a terminal too (they are cut to fit it otherwise).
    #[arg(long)]
    pub wide: bool,
}

/// How wide text tables may be: the terminal's width when writing to one, else unlimited.
fn table_width(wide: bool, out: &Option<PathBuf>) -> Option<usize> {
    use std::io::IsTerminal;
    if wide || out.is_some() || !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    from_env.or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize)).or(Some(80))
}

#[derive(Args, Debug)]
pub struct ReportsArgs {
    /// Folder of report definitions besides the built-ins (default ./reports).
    #[arg(long)]
    pub reports: Option<PathBuf>,
}

pub fn split_params(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().trim_start_matches('$').to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--param wants NAME=VALUE, got {p:?}"))
        })
        .collect()
}

fn emit(text: &str, out: &Option<PathBuf>) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            super::say(text.trim_end_matches('\n'));
            Ok(())
        }
    }
}

pub async fn run_report(cli: &super::Cli, args: &RunArgs) -> Result<i32> {
    let format = Format::parse(&args.format)?;
    let report = builtin::find(&args.report, args.reports.as_deref())?;
    let mut params = split_params(&args.params)?;
    if let Some(s) = &args.sensor {
        if !report.def.parameters.contains_key("sensor") {
            bail!("report {} has no sensor parameter", report.def.name);
        }
        params.push(("sensor".into(), s.clone()));
    }
    let now = chrono::Utc::now();
    // A wrong report name or parameter is said before any database is opened.
    crate::report::run::resolve_params(&report, &params, now)?;
    if cli.read_db.is_some() {
        // The standby cannot build views: the primary does, and the standby has them once it
        // has replayed (until then the report computes them inline, with the same rows).
        let built = match cli.existing_store().await {
            Ok(primary) => crate::report::run::build_views(&primary, &report).await,
            Err(e) => Err(e),
        };
        if let Err(e) = built {
            eprintln!("note: views not built on the primary ({}): {e:#}", cli.db);
        }
    }
    let store = cli.reader().await?;
    if let Some(s) = params.iter().rev().find(|(k, _)| k == "sensor").map(|(_, v)| v) {
        if let Some(known) = crate::store::tables::unknown_sensor(&store, s).await? {
            let shown: Vec<String> = known.iter().map(|k| format!("{:?}", crate::report::escape::text(k))).collect();
            eprintln!(
                "warning: no event in this database came from sensor {:?}; sensors: {}",
                crate::report::escape::text(s),
                if shown.is_empty() { "none yet".into() } else { shown.join(", ") }
            );
        }
    }
    let result = run(&store, &report, &params, now).await?;
    if !result.inlined.is_empty() {
        eprintln!(
            "note: materialized view(s) {} not built, and this connection may not build them (a read-only \
             role, server or file): computed inside the report's queries instead, which is slower. Run the \
             report once with write access to build them.",
            result.inlined.join(", ")
        );
    }
    let template = report.templates.get(format.name()).map(String::as_str);
    let text = render_fit(&result, format, template, args.query.as_deref(), table_width(args.wide, &args.out))?;
    emit(&text, &args.out)?;
    Ok(0)
}

/// A query that does not parse or type-check is said before any database is opened (its
/// diagnostics, not "no database", are what the analyst needs); exit 2 then.
pub fn precheck_query(args: &QueryArgs) -> Result<Option<i32>> {
    let declared = super::compile::parse_param_types(&args.param_types)?;
    let checked = crate::dsl::parse(&args.text).and_then(|ast| crate::check::check(&ast, &declared).map(drop));
    if let Err(diags) = checked {
        super::compile::report(&diags, &args.text, "<query>", super::compile::Format::Text);
        return Ok(Some(2));
    }
    Ok(None)
}

pub async fn run_query(store: &Store, args: &QueryArgs) -> Result<i32> {
    let format = Format::parse(&args.format)?;
    let declared = super::compile::parse_param_types(&args.param_types)?;
    let dialect = store.dialect();
    let compiled = match crate::compile::compile(&args.text, dialect, &declared) {
        Ok(c) => c,
        Err(diags) => {
            super::compile::report(&diags, &args.text, "<query>", super::compile::Format::Text);
            // A query that does not compile is bad input (exit 2); `check` and `compile` are
            // the commands whose findings exit 1.
            return Ok(2);
        }
    };
    let given = split_params(&args.params)?;
    let mut binds = Vec::new();
    for p in &compiled.params {
        let raw = given.iter().rev().find(|(k, _)| *k == p.name).map(|(_, v)| v.as_str());
        let v = match raw {
            Some(s) => crate::report::Value::parse(s, p.ty).map_err(|e| anyhow!("parameter {}: {e}", p.name))?,
            None => bail!("the query needs --param {}=… ({})", p.name, p.ty.name()),
        };
        binds.push(v);
    }
    if args.explain {
        let sizes = crate::store::tables::row_counts(store).await?;
        let (plan, warnings) = crate::report::explain::explain(store, &compiled, &binds, &sizes).await?;
        super::say(plan.unwrap_or_default());
        for w in warnings {
            eprintln!("warning: {w}");
        }
        return Ok(0);
    }
    let rows = crate::report::execute(store, &compiled, &binds).await?;
    let result = ReportResult {
        name: "query".into(),
        title: "Query".into(),
        description: String::new(),
        params: given.iter().map(|(k, v)| (k.clone(), crate::report::Value::Text(v.clone()))).collect(),
        window: None,
        generated_at: chrono::Utc::now(),
        backend: store.backend().name(),
        results: vec![QueryResult {
            name: "rows".into(),
            title: Some("Rows".into()),
            chart: None,
            columns: compiled.output.clone(),
            rows,
        }],
        views: Vec::new(),
        inlined: Vec::new(),
        replica_lag: crate::store::care::replay_lag(store).await?,
    };
    emit(&render_fit(&result, format, None, None, table_width(args.wide, &args.out))?, &args.out)?;
    Ok(0)
}

fn describe(def: &ReportDef) -> String {
    let mut parts = Vec::new();
    if let Some(w) = &def.window {
        let kinds: Vec<String> = w.kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect();
        parts.push(format!("{}=<{}> (UTC; default {})", w.param, kinds.join("|"), w.default));
    }
    for (n, p) in &def.parameters {
        let d = match &p.default {
            Some(v) => format!(" (default {})", yaml_serde::to_string(v).unwrap_or_default().trim()),
            None if p.required => " (required)".to_string(),
            None => String::new(),
        };
        parts.push(format!("{n}=<{}>{d}", format!("{:?}", p.ty).to_lowercase()));
    }
    parts.join(", ")
}

pub fn list_reports(args: &ReportsArgs) -> Result<i32> {
    for (name, source) in builtin::all(args.reports.as_deref()) {
        match builtin::find(&name, args.reports.as_deref()) {
            Ok(r) => {
                super::say(format!("{name:<12} {}  [{source}]", r.def.title));
                super::say(format!(
                    "{:<12} queries: {}",
                    "",
                    r.queries.iter().map(|q: &Query| q.name.as_str()).collect::<Vec<_>>().join(", ")
                ));
                let params = describe(&r.def);
                if !params.is_empty() {
                    super::say(format!("{:<12} params: {params}", ""));
                }
            }
            Err(e) => super::say(format!("{name:<12} ERROR {}", crate::store::errors::describe(&e))),
        }
    }
    Ok(0)
}

/// One problem `check` found in a report: as text, and as JSON with the file, line and
/// column in the file that holds it (the YAML, for a query written inline).
pub type Finding = (String, serde_json::Value);

/// `check` for one report: YAML, every query on every dialect, every template.
pub fn check_report(r: &Report) -> Vec<Finding> {
    let mut errors: Vec<Finding> = Vec::new();
    for d in crate::sql::all_dialects() {
        if let Err(es) = crate::report::run::compile_report_diags(r, d) {
            let found = es.iter().map(|(i, x)| {
                let q = &r.queries[*i];
                (crate::diag::render(x, &q.text, &q.origin), located_in_file(x, q, &r.origin))
            });
            crate::diag::push_new(&mut errors, found);
        }
    }
    errors.extend(check_charts(r));
    for (fmt, src) in &r.templates {
        if let Ok(f) = Format::parse(fmt) {
            if let Err(e) = crate::report::render::check_template(src, f) {
                let text = format!("{}: {}", r.origin, crate::store::errors::describe(&e));
                errors.push((text.clone(), serde_json::json!({"file": r.origin, "message": text})));
            }
        }
    }
    errors
}

/// Every declared chart against its query's columns: E0701 at the `chart:` line of the file.
fn check_charts(r: &Report) -> Vec<Finding> {
    let yaml = std::fs::read_to_string(&r.origin).unwrap_or_default();
    let declared = crate::report::run::declared_types(r);
    let mut out = Vec::new();
    for q in &r.queries {
        let Some(spec) = &q.chart else { continue };
        // A query that does not compile is reported as such already.
        let Ok(c) = crate::compile::compile(&q.text, &crate::sql::SQLITE, &declared) else { continue };
        if let Err((message, hint)) = spec.resolve(&c.output) {
            let line = chart_line(&yaml, &q.name);
            let at = line.map(|l| format!("{}:{l}", r.origin)).unwrap_or_else(|| r.origin.clone());
            let text = format!("error[E0701]: {message}\n --> {at} (query `{}`)\n  = hint: {hint}", q.name);
            out.push((
                text,
                serde_json::json!({"file": r.origin, "line": line, "code": "E0701", "query": q.name,
                    "message": message, "hint": hint}),
            ));
        }
    }
    out
}

/// The 1-based line of `chart:` under the query `name` in a report's YAML.
fn chart_line(yaml: &str, name: &str) -> Option<usize> {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = lines.iter().position(|l| l.trim_end() == format!("{}{name}:", " ".repeat(indent(l))))?;
    let key_indent = indent(lines[start]);
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > key_indent)
        .position(|l| l.trim_start().starts_with("chart:"))
        .map(|i| start + 2 + i)
}

/// `d` as JSON, its line and column moved from the query's text to the file that holds it.
fn located_in_file(d: &crate::diag::Diagnostic, q: &crate::report::def::Query, report: &str) -> serde_json::Value {
    let l = crate::diag::locate(d, &q.text, &q.origin);
    let mut v = serde_json::to_value(&l).unwrap_or_default();
    v["query"] = serde_json::json!(q.name);
    let (file, before, indent) = q.place.clone().unwrap_or((report.to_string(), 0, 0));
    v["file"] = serde_json::json!(file);
    if q.place.is_some() {
        let shift = |n: Option<usize>, by: usize| serde_json::json!(n.map(|n| n + by));
        v["line"] = shift(l.line, before);
        v["column"] = shift(l.column, indent);
        v["end_line"] = shift(l.end_line, before);
        v["end_column"] = shift(l.end_column, indent);
    }
    v
}
