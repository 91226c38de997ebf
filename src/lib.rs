//! cowrieql: load Cowrie honeypot logs into SQLite or PostgreSQL and report on them.
//!
//! The flow (see DESIGN.md): `store` owns connections, migrations and ingest;
//! `gen` makes deterministic synthetic Cowrie logs; `cli` is the thin command layer.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod dsl;
pub mod gen;
pub mod report;
pub mod sql;
pub mod store;
