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
}

pub fn run(args: &GenArgs) -> Result<i32> {
    match &args.out {
        Some(p) => {
            let mut f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            crate::gen::generate(args.events, args.seed, &mut f)?;
        }
        None => match crate::gen::generate(args.events, args.seed, &mut std::io::stdout().lock()) {
            // `cowrieql gen | head` closes the pipe early: that is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        },
    }
    Ok(0)
}
