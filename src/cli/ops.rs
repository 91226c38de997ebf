use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Subcommand, ValueEnum};

use crate::store::{care, dead_letters, Store};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
}

#[derive(Subcommand, Debug)]
pub enum DeadLetterAction {
    /// Show the newest dead letters with their reasons.
    List {
        /// How many to show, newest first.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutFormat,
    },
    /// Write every dead letter as JSON lines (file, offset, reason, raw, created_at).
    Export {
        /// File to write (default: standard output).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
    /// Re-parse the stored lines with this cowrieql; move the accepted ones into the store.
    Retry,
    /// Delete dead letters (all, or those matching every filter given): prints how many,
    /// then asks; --yes deletes without asking.
    Purge {
        /// Only those whose reason starts with this text (see `dead-letters list`).
        #[arg(long)]
        reason: Option<String>,
        /// Only lines from this file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Only those stored before this time (UTC: 2025-09-22 or 2025-09-22T10:00:00Z).
        #[arg(long)]
        before: Option<String>,
        /// Delete without asking (needed when standard input is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `2025-09-22` (midnight UTC) or a time, read as report parameters are.
pub(super) fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    crate::report::value::parse_ts(text)
        .ok_or_else(|| anyhow::anyhow!("invalid time {text:?}: expected 2025-09-22 or 2025-09-22T10:00:00Z"))
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub async fn health(store: &Store, args: &HealthArgs) -> Result<i32> {
    let h = care::health(store).await?;
    match args.format {
        OutFormat::Json => {
            let mut v = serde_json::to_value(&h)?;
            v["status"] = serde_json::json!(["ok", "warning", "critical"][h.exit_code() as usize]);
            v["problems"] = serde_json::json!(h.problems());
            super::say(serde_json::to_string_pretty(&v)?);
        }
        OutFormat::Text => {
            super::say(format!("database: {} ({})", h.backend, h.server_version));
            super::say(format!(
                "schema: {} migration(s) applied, {} pending",
                h.migrations_applied,
                h.migrations_pending.len()
            ));
            if let Some(b) = h.database_bytes {
                super::say(format!("size: {:.1} MiB", b as f64 / 1048576.0));
            }
            match &h.disk {
                Some(d) => {
                    super::say(format!("free disk: {:.1} MiB under {}", d.free_bytes as f64 / 1048576.0, d.path))
                }
                None => super::say("free disk: not known (the server's data directory is not visible from here)"),
            }
            for (t, n, b) in &h.tables {
                let size = b.map(|b| format!(" ({:.1} MiB)", b as f64 / 1048576.0)).unwrap_or_default();
                super::say(format!("  {t:<20} {n:>12} rows{size}"));
            }
            super::say(format!("dead letters: {}", h.dead_letters));
            for (r, n) in &h.dead_letter_reasons {
                super::say(format!("  {n:>8}  {}", crate::report::escape::text(r)));
            }
            if let Some(d) = &h.newest_dead_letter {
                super::say(format!("  newest: {}", crate::report::escape::text(d)));
            }
            for (s, t) in &h.last_event_per_sensor {
                super::say(format!("sensor {:<20} last event {t}", crate::report::escape::text(s)));
            }
            for (f, b, t) in h.files.iter().take(5) {
                super::say(format!("file {f}: {b} bytes read, last ingest {t}"));
            }
            if let Some(i) = &h.integrity {
                super::say(format!("integrity: {i}"));
            }
            for p in h.problems() {
                super::say(p);
            }
            super::say(format!("status: {}", ["ok", "warning", "critical"][h.exit_code() as usize]));
        }
    }
    Ok(h.exit_code())
}

pub async fn dead(store: &Store, action: &DeadLetterAction) -> Result<i32> {
    crate::store::migrate::migrate(store).await?;
    match action {
        DeadLetterAction::List { limit, format } => {
            let rows = dead_letters::list(store, Some(*limit)).await?;
            match format {
                OutFormat::Json => super::say(serde_json::to_string_pretty(&rows)?),
                OutFormat::Text => {
                    for r in &rows {
                        let raw: String = r.raw.chars().take(100).collect();
                        super::say(format!(
                            "#{} {} at byte {}: {}\n    {}",
                            r.id,
                            r.source_file,
                            r.source_offset,
                            crate::report::escape::text(&r.reason),
                            crate::report::escape::text(&raw)
                        ));
                    }
                    super::say(format!("{} shown", rows.len()));
                }
            }
        }
        DeadLetterAction::Export { out } => {
            let rows = dead_letters::list(store, None).await?;
            let mut text = String::new();
            for r in rows.iter().rev() {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            match out {
                Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?,
                None => super::say(text.trim_end()),
            }
        }
        DeadLetterAction::Purge { reason, file, before, yes } => {
            let filter = dead_letters::PurgeFilter {
                reason: reason.clone(),
                // Stored names are absolute paths.
                file: file.as_ref().map(|f| std::fs::canonicalize(f).unwrap_or(f.clone()).display().to_string()),
                before: before.as_deref().map(parse_time).transpose()?,
            };
            let n = dead_letters::purge(store, &filter, false).await?;
            if n == 0 {
                super::say("no dead letters match: nothing deleted");
                return Ok(0);
            }
            if !yes {
                use std::io::{BufRead, IsTerminal, Write};
                if !std::io::stdin().is_terminal() {
                    anyhow::bail!(
                        "{n} dead letters match; standard input is not a terminal, so give --yes to delete them"
                    );
                }
                eprint!("delete {n} dead letters? [y/N] ");
                std::io::stderr().flush().ok();
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    super::say("nothing deleted");
                    return Ok(0);
                }
            }
            let deleted = dead_letters::purge(store, &filter, true).await?;
            super::say(format!("deleted {deleted} dead letters"));
        }
        DeadLetterAction::Retry => {
            let s = dead_letters::retry(store).await?;
            super::say(format!(
                "{} dead letters examined: {} accepted into the store, {} still rejected",
                s.examined, s.accepted, s.still_dead
            ));
        }
    }
    Ok(0)
}

pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    let mut cmd = super::Cli::command();
    // Into a buffer first: clap_complete panics when stdout is a closed pipe.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cowrieql", &mut buf);
    super::say(String::from_utf8_lossy(&buf).trim_end());
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum ViewsAction {
    /// List the materialized views reports created, with their last refresh.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutFormat,
    },
    /// Refresh materialized views (all, or those named).
    Refresh {
        /// Views to refresh (default: all).
        names: Vec<String>,
        /// REFRESH … CONCURRENTLY on PostgreSQL: readers are not blocked (SQLite rebuilds a
        /// view's table in one transaction, which never blocks readers under WAL).
        #[arg(long)]
        concurrently: bool,
    },
}

pub async fn views(store: &Store, action: &ViewsAction) -> Result<i32> {
    crate::store::migrate::migrate(store).await?;
    match action {
        ViewsAction::List { format } => {
            let v = crate::store::views::list(store).await?;
            match format {
                OutFormat::Json => super::say(serde_json::to_string_pretty(&v)?),
                OutFormat::Text => {
                    for x in &v {
                        let when = crate::time::canonical_text(&x.refreshed_at);
                        let stale = if x.stale { "  STALE" } else { "" };
                        super::say(format!(
                            "{:<32} refreshed {when}  definition {}{stale}",
                            x.name,
                            &x.definition_hash[..12]
                        ));
                    }
                    super::say(format!("{} view(s)", v.len()));
                }
            }
        }
        ViewsAction::Refresh { names, concurrently } => {
            let done = crate::store::views::refresh(store, names, *concurrently, false).await?;
            super::say(format!(
                "refreshed {} view(s){}",
                done.len(),
                if done.is_empty() { String::new() } else { format!(": {}", done.join(", ")) }
            ));
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Where each Cowrie event id lands: the tables and columns it feeds, or why it is kept
    /// in raw_events only.
    #[arg(long)]
    pub events: bool,
}

/// `cowrieql schema`: what queries can read, from the compiler's own catalog.
pub fn schema(args: &SchemaArgs) -> Result<i32> {
    use crate::catalog::{ColType, PAYLOAD_PATHS, TABLES};
    if args.events {
        print!("{}", crate::catalog::events::text());
        return Ok(0);
    }
    for t in TABLES {
        super::say(t.name);
        for c in t.columns {
            let ty = match c.ty {
                ColType::Int => "int",
                ColType::Float => "float",
                ColType::Text => "text",
                ColType::Bool => "bool",
                ColType::Timestamp => "timestamp",
                ColType::Json => "json",
            };
            super::say(format!("  {:<22} {ty}{}", c.name, if c.nullable { " (may be null)" } else { "" }));
        }
    }
    super::say("");
    super::say("Payload paths (raw_events.payload.PATH, text; cast with `as int`), by event id:");
    for (event, paths) in PAYLOAD_PATHS {
        super::say(format!("  {event}"));
        super::say(format!("    {}", paths.iter().map(|p| format!("payload.{p}")).collect::<Vec<_>>().join(", ")));
    }
    super::say("");
    super::say("Example: from raw_events | where event_type == 'cowrie.client.kex' | group hassh = payload.hassh | aggregate n = count()");
    Ok(0)
}
