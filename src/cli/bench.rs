use anyhow::Result;
use clap::Args;

use crate::report::bench::{bench_report, ReportTiming};
use crate::report::builtin;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Reports to run (default: every report).
    pub reports: Vec<String>,
    /// Also run on this database and print both side by side with the ratio (repeatable).
    #[arg(long = "compare", value_name = "URL")]
    pub compare: Vec<String>,
    /// Runs per query.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// A parameter for every report that has it: NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Print each query's plan (EXPLAIN QUERY PLAN; EXPLAIN (ANALYZE, BUFFERS)) and flag full scans.
    #[arg(long)]
    pub explain: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::ops::OutFormat,
    /// Folder of report definitions besides the built-ins (default ./reports).
    #[arg(long)]
    pub reports_dir: Option<std::path::PathBuf>,
}

pub async fn run(first: &Store, opts: &crate::store::ConnectOptions, args: &BenchArgs) -> Result<i32> {
    let mut stores = vec![first.clone()];
    for url in &args.compare {
        stores.push(Store::connect(url, opts).await?);
    }
    let names: Vec<String> = if args.reports.is_empty() {
        builtin::all(args.reports_dir.as_deref()).into_iter().map(|(n, _)| n).collect()
    } else {
        args.reports.clone()
    };
    let given = super::report::split_params(&args.params)?;
    for store in &stores {
        crate::store::migrate::migrate(store).await?;
        // Warm as a long-running reader is: its connections open.
        store.warm_up().await?;
    }
    let mut all: Vec<Vec<ReportTiming>> = vec![Vec::new(); stores.len()];
    for name in &names {
        let report = builtin::find(name, args.reports_dir.as_deref())?;
        // Only the parameters this report has.
        let mine: Vec<(String, String)> = given.iter().filter(|(k, _)| report.def.takes(k)).cloned().collect();
        if report.def.parameters.values().any(|p| p.required && p.default.is_none())
            && !report.def.parameters.iter().any(|(k, p)| p.required && mine.iter().any(|(g, _)| g == k))
        {
            continue; // e.g. `session` without --param session=…
        }
        for (per_db, t) in all.iter_mut().zip(bench_report(&stores, &report, &mine, args.runs, args.explain).await?) {
            per_db.push(t);
        }
    }
    if args.format == super::ops::OutFormat::Json {
        let out: Vec<serde_json::Value> = stores
            .iter()
            .zip(&all)
            .map(|(s, r)| serde_json::json!({"backend": s.backend().name(), "reports": r}))
            .collect();
        super::say(serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    let backends: Vec<&str> = stores.iter().map(|s| s.backend().name()).collect();
    let mut head = format!("{:<36} {:>6}", "report/query", "rows");
    for b in &backends {
        head.push_str(&format!(" {:>10} {:>10} {:>10}", format!("{b} min"), "median", "p95"));
    }
    if stores.len() == 2 {
        head.push_str(&format!(" {:>7}", "ratio"));
    }
    super::say(format!("{head}\n(milliseconds; {} runs per query)", args.runs));
    for (i, r) in all[0].iter().enumerate() {
        for (j, q) in r.queries.iter().enumerate() {
            let mut line = format!("{:<36} {:>6}", format!("{}/{}", q.report, q.query), q.rows);
            for db in &all {
                let t = &db[i].queries[j];
                line.push_str(&format!(" {:>10.2} {:>10.2} {:>10.2}", t.min_ms, t.median_ms, t.p95_ms));
            }
            if all.len() == 2 {
                line.push_str(&format!(" {:>7.2}", all[1][i].queries[j].median_ms / q.median_ms.max(1e-9)));
            }
            super::say(line);
            for (db, b) in all.iter().zip(&backends) {
                let t = &db[i].queries[j];
                for w in &t.warnings {
                    super::say(format!("    {b}: warning: {w}"));
                }
                if let Some(p) = &t.plan {
                    super::say(format!(
                        "    {b} plan:\n{}",
                        p.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
        for (db, b) in all.iter().zip(&backends) {
            let t = &db[i];
            let total = (t.compile_ms + t.execute_ms + t.render_ms).max(1e-9);
            super::say(format!(
                "  {} on {b}: compile {:.2} ms ({:.0}%), execute {:.2} ms ({:.0}%), render {:.2} ms ({:.0}%)",
                t.report,
                t.compile_ms,
                100.0 * t.compile_ms / total,
                t.execute_ms,
                100.0 * t.execute_ms / total,
                t.render_ms,
                100.0 * t.render_ms / total
            ));
            super::say(format!("  {} on {b}: whole report in one snapshot {:.2} ms", t.report, t.report_ms));
        }
        if all.len() == 2 {
            // The report's figures, the second database over the first: the sum of its query
            // medians, and the whole report as `run` executes it.
            let (a, b) = (&all[0][i], &all[1][i]);
            let ratio = |x: f64, y: f64| x / y.max(1e-9);
            super::say(format!(
                "  {}: {} / {}: execute {:.2}, whole report {:.2}",
                a.report,
                backends[1],
                backends[0],
                ratio(b.execute_ms, a.execute_ms),
                ratio(b.report_ms, a.report_ms)
            ));
        }
    }
    Ok(0)
}
