use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Number of events (lines) to write.
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Seed: the same seed always gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// First day (UTC, YYYY-MM-DD) of the generated time.
    #[arg(long, default_value = "2025-09-22")]
    pub start: chrono::NaiveDate,
    /// Spread the sessions over this many days, with a daily and weekly rhythm, recurring
    /// campaigns and failed downloads (default: sessions back to back from --start).
    #[arg(long)]
    pub days: Option<u32>,
}

pub fn run(args: &GenArgs) -> Result<i32> {
    let spread = crate::gen::Spread { start: args.start.and_time(chrono::NaiveTime::MIN).and_utc(), days: args.days };
    let gen = |out: &mut dyn std::io::Write| crate::gen::generate_spread(args.events, args.seed, spread, out);
    match &args.out {
        Some(p) => {
            let mut f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            gen(&mut f)?;
        }
        None => match gen(&mut std::io::stdout().lock()) {
            // `cowrieql gen | head` closes the pipe early: that is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        },
    }
    Ok(0)
}
