//! The database side: connections, migrations, ingest.

pub mod care;
pub mod connect;
pub mod dead_letters;
pub mod disk;
pub(crate) mod engine;
pub mod errors;
pub mod ingest;
pub mod migrate;
pub mod postgres;
pub mod prune;
pub mod query;
pub mod sqlite;
pub mod tables;
pub mod transfer;
pub mod views;

pub use connect::{Backend, ConnectOptions, Store, DEFAULT_DB};
