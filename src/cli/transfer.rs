//! `cowrieql migrate-to-postgres`: move a SQLite database to PostgreSQL.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::ops::OutFormat;
use super::say;
use crate::store::transfer::{self, TransferOptions, Validation};
use crate::store::ConnectOptions;

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The SQLite database to copy (read only; never changed). Required, except with --rollback.
    #[arg(long, required_unless_present = "rollback", value_name = "SQLITE_FILE")]
    pub from: Option<PathBuf>,
    /// The PostgreSQL database to copy into: postgres://user@host/db.
    #[arg(long)]
    pub to: String,
    /// Rows per COPY batch; each batch commits with the record of how far its table got.
    #[arg(long, default_value_t = 20_000)]
    pub batch_size: usize,
    /// Only compare the two databases (row counts, checksums, every row field by field).
    #[arg(long, conflicts_with = "rollback")]
    pub validate_only: bool,
    /// Remove what the migration created on the target.
    #[arg(long)]
    pub rollback: bool,
    /// Empty a target that already holds cowrieql data instead of refusing it.
    #[arg(long)]
    pub replace: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
}

pub async fn run(args: &MigrateArgs, connect: &ConnectOptions) -> Result<i32> {
    let dst = transfer::connect_target(&args.to, connect).await?;
    if args.rollback {
        let r = transfer::rollback(&dst).await?;
        match args.format {
            OutFormat::Json => say(serde_json::to_string_pretty(&r)?),
            OutFormat::Text if r.dropped_schema => {
                say(format!("rolled back: dropped {} (the migration had created them)", r.tables.join(", ")))
            }
            OutFormat::Text => say(format!("rolled back: emptied {}", r.tables.join(", "))),
        }
        return Ok(0);
    }
    let from = args.from.as_ref().expect("clap requires --from without --rollback");
    let src = transfer::open_source(from).await?;
    if args.validate_only {
        let v = transfer::validate(&src, &dst).await?;
        match args.format {
            OutFormat::Json => say(serde_json::to_string_pretty(&v)?),
            OutFormat::Text => print_validation(&v),
        }
        return Ok(if v.ok() { 0 } else { 1 });
    }
    let opts = TransferOptions {
        batch_size: args.batch_size,
        replace: args.replace,
        progress: super::progress::bars(!args.quiet && std::io::stderr().is_terminal()),
    };
    let r = transfer::transfer(&src, &dst, &opts).await?;
    match args.format {
        OutFormat::Json => say(serde_json::to_string_pretty(&r)?),
        OutFormat::Text => {
            if r.already_complete && r.topped_up.is_empty() {
                say(format!("the target already holds a complete migration from {}; validated it again", r.source));
            } else if r.already_complete {
                say(format!("the source {} had changed since the migration; topped up the target:", r.source));
                for t in &r.topped_up {
                    let what = if t.rows == 0 { "unchanged".to_string() } else { format!("{} rows", t.rows) };
                    let how = if transfer::REWRITTEN.contains(&t.table) { "copied whole" } else { "added" };
                    say(format!("{:<18} {how}: {what}", t.table));
                }
            } else if r.resumed {
                say(format!("resumed the migration from {}", r.source));
            }
            for t in &r.tables {
                say(format!(
                    "{:<18} {:>10} rows  {:>6.1} s  {:>9.0} rows/s",
                    t.table,
                    t.rows,
                    t.seconds,
                    t.rows as f64 / t.seconds.max(1e-9)
                ));
            }
            print_validation(&r.validation);
            say(format!(
                "{} events in {:.1} s ({:.0} events/s): copy {:.1} s, indexes {:.1} s, validation {:.1} s",
                r.events,
                r.total_seconds,
                r.events_per_sec(),
                r.copy_seconds,
                r.index_seconds,
                r.validate_seconds
            ));
        }
    }
    Ok(if r.validation.ok() { 0 } else { 1 })
}

fn print_validation(v: &Validation) {
    for t in &v.tables {
        say(format!(
            "{:<18} source {:>10} rows  target {:>10} rows  checksum {} {}  {}",
            t.table,
            t.source_rows,
            t.target_rows,
            t.source_checksum,
            if t.source_checksum == t.target_checksum { "=" } else { "≠" },
            if t.ok() { "ok" } else { "MISMATCH" }
        ));
    }
    if v.ok() {
        say("validation passed: every row matches field by field");
    } else {
        for p in v.problems() {
            eprintln!("{p}");
        }
        eprintln!(
            "validation FAILED: run the same command again to copy what the source gained (a top-up), \
             or --replace to copy everything again"
        );
    }
}
