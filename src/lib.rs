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
//!     -- store::ingest::{sqlite,postgres}::write_batch --> tables        (one transaction each)
//!   store::ingest::ingest drives the whole of it; store::migrate::migrate runs first.
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
//!     -- report::execute::execute_all -->  rows in one read snapshot
//!          (store::views::prepare_* builds materialized views, or inlines them read-only)
//!     -- report::render::render -->        text | markdown | html | csv | json
//!   report::run::run is resolve + compile + execute.
//!
//! Moving and care
//!   SQLite file -- store::transfer::transfer --> PostgreSQL   (resumable, validated)
//!   store::care::health, store::dead_letters::{list,purge,retry}, store::views::refresh
//! ```
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
