//! `cowrieql site --window W [-o DIR]`: `report::site` on the command line.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct SiteArgs {
    /// The window every report covers: a day, week, month, year, range, `all` or `last N`
    /// (a report that does not take that kind of window is listed on the index as skipped).
    #[arg(long)]
    pub window: String,
    /// Only this sensor.
    #[arg(long)]
    pub sensor: Option<String>,
    /// The folder to write the pages into.
    #[arg(long, short = 'o', default_value = "site")]
    pub out: PathBuf,
    /// Folder of report definitions that override and add to the built-ins (default ./reports).
    #[arg(long)]
    pub reports: Option<PathBuf>,
}

pub async fn run_site(cli: &super::Cli, args: &SiteArgs) -> Result<i32> {
    let store = cli.reader().await?;
    let now = chrono::Utc::now();
    let pages = crate::report::site::build(
        &store,
        &args.window,
        args.sensor.as_deref(),
        args.reports.as_deref(),
        &args.out,
        now,
    )
    .await?;
    for p in &pages {
        match &p.outcome {
            Ok(f) => super::say(format!("wrote {}", f.display())),
            Err(e) => eprintln!("skipped {}: {e}", p.name),
        }
    }
    super::say(format!("wrote {}", args.out.join("index.html").display()));
    Ok(0)
}
