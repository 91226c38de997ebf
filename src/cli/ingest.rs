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
    // Ctrl-C stops reading; what is in flight commits, and the summary says what is stored.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: finishing the batches in flight (Ctrl-C again to quit at once)");
            let _ = stop_tx.send(true);
            // A second Ctrl-C quits at once; the last committed batch's checkpoint still holds.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let opts = IngestOptions {
        batch_lines: args.batch_size,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        force: args.force,
        stop: Some(stop_rx),
    };
    let stats = ingest(store, &args.paths, &opts).await;
    watcher.abort();
    let stats = stats?;
    super::say(stats.summary_line());
    if stats.interrupted {
        store.checkpoint_wal().await?;
        super::say(format!(
            "interrupted: the {} lines above are committed; run the same command again to resume where it stopped",
            stats.lines
        ));
        return Ok(130);
    }
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
