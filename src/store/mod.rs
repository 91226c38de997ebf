//! The database side: connections, migrations, ingest.

pub mod connect;
pub mod ingest;
pub mod migrate;
pub mod tables;
pub mod timefmt;

pub use connect::{Backend, ConnectOptions, Store, DEFAULT_DB};
