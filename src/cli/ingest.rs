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
    /// Add cowrieql's tables to a database that holds another application's tables.
    #[arg(long)]
    pub init: bool,
    /// Keep running: tail the files as Cowrie writes them (rotation and truncation
    /// included) until SIGTERM or Ctrl-C, which commit and exit 0.
    #[arg(long)]
    pub follow: bool,
    /// With --follow: commit what was written at least this often (seconds).
    #[arg(long, default_value_t = 5.0, requires = "follow")]
    pub commit_every: f64,
    /// With --follow: refresh the materialized views this often when new events came in
    /// (seconds; 0: never).
    #[arg(long, default_value_t = 300.0, requires = "follow")]
    pub refresh_every: f64,
}

pub async fn run(store: &Store, args: &IngestArgs) -> Result<i32> {
    if args.init {
        crate::store::migrate::migrate_adopting(store).await?;
    }
    // Ctrl-C stops reading; what is in flight commits, and the summary says what is stored.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // SIGTERM (a service manager stopping us) is handled the same way.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let watcher = tokio::spawn(async move {
        let stop = async {
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = term.recv() => r.is_some(),
            }
        };
        if stop.await {
            eprintln!("\nstopping: finishing the batches in flight (Ctrl-C again to quit at once)");
            let _ = stop_tx.send(true);
            // A second signal quits at once; the last committed batch's checkpoint still holds.
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            std::process::exit(130);
        }
    });
    let opts = IngestOptions {
        batch_lines: args.batch_size,
        // A follow's passes are small and many: a line per pass says what they did.
        progress: super::progress::bars(!args.quiet && !args.follow && std::io::stderr().is_terminal()),
        force: args.force,
        stop: Some(stop_rx),
        memory: None,
    };
    if args.follow {
        let code = follow(store, args, opts).await;
        watcher.abort();
        return code;
    }
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
    if !stats.file_problems.is_empty() {
        for (f, why) in &stats.file_problems {
            eprintln!("problem: {f}: {why}");
        }
        eprintln!("{} file(s) could not be read whole; every other file was loaded", stats.file_problems.len());
        return Ok(1);
    }
    Ok(0)
}

/// `--follow`: passes until a signal; exit 0 once the last pass committed.
async fn follow(store: &Store, args: &IngestArgs, opts: IngestOptions) -> Result<i32> {
    use crate::store::ingest::follow::{follow, FollowOptions};
    let secs = |s: f64, what: &str| {
        if s.is_finite() && s >= 0.0 {
            Ok(std::time::Duration::from_secs_f64(s))
        } else {
            Err(anyhow::anyhow!("--{what} must be a number of seconds, not {s}"))
        }
    };
    let refresh = secs(args.refresh_every, "refresh-every")?;
    let f = FollowOptions {
        ingest: opts,
        commit_every: secs(args.commit_every, "commit-every")?,
        refresh_every: (!refresh.is_zero()).then_some(refresh),
    };
    super::say(format!(
        "following {} (commit every {} s; SIGTERM or Ctrl-C stops)",
        args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        args.commit_every
    ));
    let done = follow(store, &args.paths, &f, |s| super::say(s.summary_line())).await?;
    store.checkpoint_wal().await?;
    super::say(format!(
        "stopped after {} passes: {} lines, {} accepted, {} duplicates, {} dead letters; {} rotations followed; {} view refreshes",
        done.passes, done.lines, done.accepted, done.duplicates, done.dead_letters, done.rotations, done.refreshes
    ));
    Ok(0)
}
