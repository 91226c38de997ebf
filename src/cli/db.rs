use anyhow::Result;
use clap::Subcommand;

use crate::store::{migrate, Store};

#[derive(Subcommand, Debug)]
pub enum DbAction {
    /// Apply pending migrations.
    Migrate {
        /// Also into a database that holds another application's tables.
        #[arg(long)]
        init: bool,
    },
    /// List applied and pending migrations.
    Status,
    /// Recompute every fact table and session summary from the stored events, under this
    /// version's rules (done by itself after a migration that changes them).
    Rederive,
    /// Delete every event before a date and what was derived from it; sessions across the
    /// boundary are recomputed from what remains, and the views refreshed.
    Prune {
        /// The boundary (UTC): 2025-01-01, or 2025-01-01T12:00:00Z; events before it go.
        #[arg(long)]
        before: String,
        /// Say what would go; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Refresh planner statistics (SQLite ANALYZE + PRAGMA optimize; PostgreSQL ANALYZE).
    Optimize {
        /// Also reclaim space (SQLite VACUUM; PostgreSQL VACUUM ANALYZE).
        #[arg(long)]
        vacuum: bool,
    },
    /// Write a consistent copy of the database (SQLite online backup; PostgreSQL pg_dump).
    Backup {
        /// File to write the copy to.
        #[arg(long, short = 'o')]
        out: std::path::PathBuf,
    },
}

pub async fn run(store: &Store, url: &str, action: &DbAction) -> Result<i32> {
    match action {
        DbAction::Migrate { init } => {
            let bars = super::progress::bars(std::io::IsTerminal::is_terminal(&std::io::stderr()));
            let ran = if *init {
                migrate::migrate_adopting_reporting(store, &bars).await?
            } else {
                migrate::migrate_reporting(store, &bars).await?
            };
            if ran.is_empty() {
                super::say(format!("{}: schema is up to date", store.backend().name()));
            } else {
                super::say(format!("{}: applied migrations {:?}", store.backend().name(), ran));
            }
        }
        DbAction::Optimize { vacuum } => {
            crate::store::care::optimize(store, *vacuum).await?;
            super::say(format!(
                "{}: statistics refreshed{}",
                store.backend().name(),
                if *vacuum { ", space reclaimed" } else { "" }
            ));
        }
        DbAction::Backup { out } => {
            crate::store::care::backup(store, url, out).await?;
            super::say(format!("{}: backup written to {}", store.backend().name(), out.display()));
        }
        DbAction::Rederive => {
            use std::io::IsTerminal;
            let bars = super::progress::bars(std::io::stderr().is_terminal());
            let t0 = std::time::Instant::now();
            let done = crate::store::ingest::rederive::rederive(store, &bars).await?;
            super::say(format!(
                "{}: facts of {} stored events recomputed in {:.2}s{}",
                store.backend().name(),
                done.events,
                t0.elapsed().as_secs_f64(),
                if done.unparsable > 0 {
                    format!("; {} no longer parse (kept, no facts)", done.unparsable)
                } else {
                    String::new()
                }
            ));
        }
        DbAction::Prune { before, dry_run } => {
            use crate::store::prune::{prune, PruneOptions};
            use std::io::IsTerminal;
            let before = super::ops::parse_time(before)?;
            let progress = super::progress::bars(std::io::stderr().is_terminal());
            let t0 = std::time::Instant::now();
            let done = prune(store, &PruneOptions { before, dry_run: *dry_run, progress }).await?;
            super::say(format!(
                "{}: {} (events before {}){}",
                store.backend().name(),
                done.summary(*dry_run),
                crate::time::canonical_text(&before),
                if *dry_run { String::new() } else { format!(" in {:.2}s", t0.elapsed().as_secs_f64()) }
            ));
            if !*dry_run {
                let refreshed = crate::store::views::refresh(store, &[], true, true).await?;
                if !refreshed.is_empty() {
                    super::say(format!("refreshed materialized views: {}", refreshed.join(", ")));
                }
            }
        }
        DbAction::Status => {
            for m in migrate::status(store).await? {
                match m.applied_at {
                    Some(at) => println!("{:04} {:<24} applied {at}", m.version, m.name),
                    None => println!("{:04} {:<24} pending", m.version, m.name),
                }
            }
        }
    }
    Ok(0)
}
