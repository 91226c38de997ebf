//! cowrieql: load Cowrie honeypot logs into SQLite or PostgreSQL and report on them.
//!
//! The flow (DESIGN.md), each arrow named by the function that takes it:
//!
//! ```text
//! Loading
//!   cowrie.json[.gz] / folder / FIFO / stdin
//!     -- store::ingest::source::discover -->   sources (JSON logs; problems named)
//!     -- store::ingest::event::parse_line -->  events | dead letters     (one reader thread)
//!     -- store::ingest::batch::plan -->        fact rows + session deltas (per batch)
//!     -- store::ingest::rows::{raw_event,fact,session} --> values in a RowSink
//!     -- store::engine::FactWriter::write --> tables  (one transaction each: rusqlite
//!          statements in store::sqlite::facts, COPY text in store::postgres::facts)
//!   store::ingest::ingest drives the whole of it; store::migrate::migrate runs first;
//!   progress goes to the caller's progress::Progress (cli draws it).
//!
//! Compiling (pure and synchronous)
//!   query text
//!     -- dsl::parse -->    ast::Query          (pest grammar, worded errors)
//!     -- check::check -->  ir::Plan            (scope, types, parameters; catalog.rs)
//!     -- sql::emit -->     sql::Compiled       (one emitter over the sql::Dialect trait)
//!     -- sql::validate::validate --> the same, checked by sqlparser
//!   compile::compile is the three arrows for one dialect; compile::compile_all for all.
//!
//! Reporting
//!   report YAML
//!     -- report::def::Report::parse / report::builtin::find --> Report
//!     -- report::run::resolve_params -->   bound values and the window
//!     -- report::run::compile_report -->   Compiled per query (store.dialect())
//!     -- report::execute::execute_all -->  checked binds, then
//!     -- store::query::run_all -->         rows in one read snapshot
//!          (store::views::prepare builds materialized views, or inlines them read-only;
//!           store::engine::Engine::{bind,decode} speak each database's types)
//!     -- report::render::render -->        text | markdown | html | csv | json
//!   report::run::run is resolve + compile + execute.
//!
//! Moving and care
//!   SQLite file -- store::transfer::transfer --> PostgreSQL   (resumable, validated)
//!   store::care::health, store::dead_letters::{list,purge,retry}, store::views::refresh
//! ```
//!
//! The store's seam: store::engine::Engine, implemented by store::sqlite and store::postgres;
//! store code above it is written once with `on_engine!` (docs/contributing.md).
//!
//! `cli` is the thin command layer over these; `gen` makes deterministic synthetic logs.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod dsl;
pub mod gen;
pub mod progress;
pub mod report;
pub mod sql;
pub mod store;
pub mod time;
