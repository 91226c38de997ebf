use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::store::ingest::{ingest, IngestOptions};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files, .gz files, folders, or - for standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Lines per batch; each batch is one transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch_size: usize,
    /// Never draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Load a named file even if its first lines are not JSON (its lines become dead letters).
    #[arg(long)]
    pub force: bool,
}

pub async fn run(store: &Store, args: &IngestArgs) -> Result<i32> {
    let opts = IngestOptions {
        batch_lines: args.batch_size,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        force: args.force,
    };
    let stats = ingest(store, &args.paths, &opts).await?;
    super::say(stats.summary_line());
    let counts = crate::store::tables::row_counts(store).await?;
    let shown: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    super::say(format!("{} now holds: {}", store.backend().name(), shown.join(", ")));
    if stats.accepted > 0 {
        // Views fed by the raw data would now be stale.
        let refreshed = crate::store::views::refresh(store, &[], true, true).await?;
        if !refreshed.is_empty() {
            eprintln!("refreshed materialized views: {}", refreshed.join(", "));
        }
    }
    store.checkpoint_wal().await?;
    Ok(0)
}
