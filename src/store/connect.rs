//! Choosing and opening the database: a SQLite file or a PostgreSQL server. The only place,
//! besides `engine::on_engine!`, that names the two.

use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use super::engine::Engine;

/// Default database when neither `--db` nor `COWRIEQL_DB` is given.
pub const DEFAULT_DB: &str = "sqlite://cowrieql.sqlite";

/// Which SQL engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        self.dialect().name()
    }

    /// The SQL dialect the compiler emits for this engine.
    pub fn dialect(self) -> &'static dyn crate::sql::Dialect {
        match self {
            Backend::Sqlite => &crate::sql::SQLITE,
            Backend::Postgres => &crate::sql::POSTGRES,
        }
    }

    /// The migrations shipped for this engine, in order.
    pub fn migrations(self) -> Vec<super::migrate::Migration> {
        match self {
            Backend::Sqlite => SqlitePool::migrations(),
            Backend::Postgres => PgPool::migrations(),
        }
    }
}

/// Pool settings shared by both backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
    /// Create a missing SQLite file (commands that load or migrate); read commands never do.
    pub create: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { pool_size: 4, connect_timeout: Duration::from_secs(10), create: true }
    }
}

/// `scheme://` of a URL this tool cannot open, instead of taking it for a file name.
fn unsupported_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once("://")?;
    let plausible = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    (plausible && !matches!(scheme, "postgres" | "postgresql" | "sqlite")).then_some(scheme)
}

/// An open database.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens every connection the pool may hold, as a long-running reader keeps them: a
    /// report's queries then run at once without opening any (`store::query::run_all`).
    pub async fn warm_up(&self) -> Result<()> {
        crate::on_engine!(self, p => {
            let max = p.options().get_max_connections() as usize;
            let held = futures_util::future::try_join_all((0..max).map(|_| p.acquire())).await?;
            drop(held);
        });
        Ok(())
    }

    /// The dialect to compile queries for this store in.
    pub fn dialect(&self) -> &'static dyn crate::sql::Dialect {
        self.backend().dialect()
    }

    /// Opens `url`: `postgres://…`/`postgresql://…`, `sqlite://PATH`, `sqlite::memory:`,
    /// or a bare file path (taken as SQLite).
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Store> {
        if let Some(scheme) = unsupported_scheme(url) {
            anyhow::bail!(
                "unsupported database URL scheme `{scheme}://`: cowrieql works with PostgreSQL \
                 (postgres://user@host/db) and SQLite (sqlite://file.sqlite or a file path)"
            );
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(super::postgres::open(url, opts).await?))
        } else {
            Ok(Store::Sqlite(super::sqlite::open(url, opts).await?))
        }
    }

    /// Opens an existing cowrieql database (a missing SQLite file is not created), refusing
    /// one without the schema: for read commands.
    pub async fn connect_existing(url: &str, opts: &ConnectOptions) -> Result<Store> {
        let store = Store::connect(url, &ConnectOptions { create: false, ..opts.clone() }).await?;
        if !super::migrate::has_schema(&store).await {
            let shown = url.strip_prefix("sqlite://").unwrap_or(url).to_string();
            return Err(super::errors::StoreError::NoDatabase(shown).into());
        }
        Ok(store)
    }

    /// SQLite: moves the write-ahead log into the database file and empties it, so the
    /// `.sqlite` file is whole by itself (copied alone, it holds everything). PostgreSQL: nothing.
    pub async fn checkpoint_wal(&self) -> Result<()> {
        crate::on_engine!(self, p => p.checkpoint_wal().await)
    }

    pub async fn close(&self) {
        crate::on_engine!(self, p => p.close().await)
    }
}
