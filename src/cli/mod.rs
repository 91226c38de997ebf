//! The `cowrieql` command line: parse flags, call the library, print.

mod bench;
mod compile;
mod db;
mod fmt;
mod gen;
mod ingest;
mod ops;
mod progress;
mod report;
mod site;
mod transfer;

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::store::{ConnectOptions, Store, DEFAULT_DB};

#[derive(Parser, Debug)]
#[command(name = "cowrieql", version, about = "Load Cowrie honeypot logs into SQLite or PostgreSQL and report on them")]
pub struct Cli {
    /// Database URL: postgres://user@host/db, sqlite://file.sqlite, or a file path (SQLite).
    #[arg(long, global = true, env = "COWRIEQL_DB", default_value = DEFAULT_DB)]
    pub db: String,
    /// A streaming standby (or any copy) to read from: `run`, `query`, `bench` and `health` read
    /// there; materialized views are built and refreshed on --db, the primary.
    #[arg(long, global = true, env = "COWRIEQL_READ_DB")]
    pub read_db: Option<String>,
    /// Maximum connections in the pool; on PostgreSQL a report's queries run on up to this many at once.
    #[arg(long, global = true, default_value_t = 4)]
    pub pool_size: u32,
    /// Seconds to wait for a database connection.
    #[arg(long, global = true, default_value_t = 10)]
    pub connect_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

/// What `run --help` adds after the options.
const RUN_HELP: &str = "\
Windows (all UTC; each report lists the forms it takes in `cowrieql reports`):
  2025-09-22, today, yesterday        a day
  2025-W39, this week, last week      an ISO week (Monday to Monday)
  2025-09, this month, last month     a month
  2025                                a year
  2025-09-20..2025-09-26              a range of days, both days included
  last 24h, last 7d, last 90m         a span ending now
  all                                 every event stored

Examples:
  cowrieql run attackers -p window=all
  cowrieql run activity -p window=2025-09-15..2025-09-21 -f html -o activity.html
  cowrieql run daily -p date=2025-09-18 --sensor honeypot-a

`cowrieql reports` lists every report with its parameters.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Schema migrations.
    Db {
        #[command(subcommand)]
        action: db::DbAction,
    },
    /// Create the schema (`db migrate --init`: also beside another application's tables).
    Init,
    /// Load Cowrie JSON logs: files, .gz, folders (recursively) or - for standard input.
    Ingest(ingest::IngestArgs),
    /// Write deterministic synthetic Cowrie logs (for benchmarks and tests).
    Gen(gen::GenArgs),
    /// Compile a query to SQL and print it with its bind list.
    Compile(compile::CompileArgs),
    /// Compile every query and report found for every dialect; exit 1 on any error (the CI gate).
    Check(compile::CheckArgs),
    /// Format queries and the queries in report YAML (comments kept); --check changes nothing
    /// and exits 1 if a file would change.
    Fmt(fmt::FmtArgs),
    /// Run a report and render it (text, markdown, html, json, csv).
    #[command(after_help = RUN_HELP)]
    Run(report::RunArgs),
    /// Every report for one window as linked, self-contained HTML pages with an index page
    /// (a dashboard of headline figures and charts); works offline from the folder.
    Site(site::SiteArgs),
    /// Run an ad-hoc query in the report language.
    Query(report::QueryArgs),
    /// List the reports and their parameters.
    Reports(report::ReportsArgs),
    /// List the tables and columns queries can use, with types, and common payload JSON paths.
    Schema(ops::SchemaArgs),
    /// Database health: connectivity, schema, sizes, dead letters, last ingests, integrity.
    /// Exit 0 ok, 1 warning, 2 critical.
    Health(ops::HealthArgs),
    /// Inspect, export and retry lines the loader rejected.
    DeadLetters {
        #[command(subcommand)]
        action: ops::DeadLetterAction,
    },
    /// Materialized views (tables rebuilt on refresh, on SQLite): list, refresh.
    Views {
        #[command(subcommand)]
        action: ops::ViewsAction,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(ops::CompletionsArgs),
    /// Time every query of every report (min/median/p95, rows, compile/execute/render shares),
    /// and each whole report as run runs it; --explain prints plans and flags full scans;
    /// --compare URL puts two databases side by side.
    Bench(bench::BenchArgs),
    /// Copy a SQLite database into PostgreSQL: COPY in key order, resumable after a kill,
    /// validated row by row; --validate-only compares, --rollback removes the copy.
    MigrateToPostgres(transfer::MigrateArgs),
}

impl Cli {
    fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            pool_size: self.pool_size,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            create: true,
        }
    }

    /// The database, created (SQLite) if missing: for commands that load or migrate.
    async fn store(&self) -> Result<Store> {
        Store::connect(&self.db, &self.connect_options()).await
    }

    /// Where reads go: the standby given with --read-db, else the database.
    async fn reader(&self) -> Result<Store> {
        match &self.read_db {
            Some(url) => Store::connect_existing(url, &self.connect_options()).await,
            None => self.existing_store().await,
        }
    }

    /// An existing cowrieql database: read commands never create one.
    async fn existing_store(&self) -> Result<Store> {
        Store::connect_existing(&self.db, &self.connect_options()).await
    }
}

/// Prints a line on standard output; a closed pipe (`cowrieql … | head`) ends the process
/// quietly instead of panicking.
pub(crate) fn say(text: impl std::fmt::Display) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Runs the parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Db { action } => db::run(&cli.store().await?, &cli.db, action).await,
        // `init` says so explicitly: it creates the schema even beside another application's tables.
        Command::Init => db::run(&cli.store().await?, &cli.db, &db::DbAction::Migrate { init: true }).await,
        Command::Ingest(args) => ingest::run(&cli.store().await?, args).await,
        Command::Gen(args) => gen::run(args),
        Command::Compile(args) => compile::run_compile(args),
        Command::Check(args) => compile::run_check(args),
        Command::Fmt(args) => fmt::run_fmt(args),
        Command::Run(args) => report::run_report(&cli, args).await,
        Command::Site(args) => site::run_site(&cli, args).await,
        Command::Query(args) => match report::precheck_query(args)? {
            Some(code) => Ok(code),
            None => report::run_query(&cli.reader().await?, args).await,
        },
        Command::Reports(args) => report::list_reports(args),
        Command::Schema(args) => ops::schema(args),
        Command::Health(args) => ops::health(&cli.reader().await?, args).await,
        Command::DeadLetters { action } => ops::dead(&cli.existing_store().await?, action).await,
        Command::Completions(args) => ops::completions(args),
        Command::Views { action } => ops::views(&cli.existing_store().await?, action).await,
        Command::Bench(args) => bench::run(&cli.reader().await?, &cli.connect_options(), args).await,
        Command::MigrateToPostgres(args) => transfer::run(args, &cli.connect_options()).await,
    }
}
