//! Materialized views (PostgreSQL materialized views; SQLite tables that refresh rebuilds):
//! created on first use from a report's `materialize`
//! prefix, rebuilt when the definition changes, refreshed on demand and after ingest, and
//! reported stale when an ingest added rows since their last refresh (`data_changes`).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::engine::{lock_key, Engine};
use super::Store;
use crate::sql::ViewSql;
use crate::{in_tx, on_engine};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewInfo {
    pub name: String,
    pub definition_hash: String,
    pub refreshed_at: DateTime<Utc>,
    /// An ingest added rows after the last refresh.
    pub stale: bool,
}

/// What the registry keeps of a view: enough to rebuild, refresh and drop it without
/// compiling the report again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Definition {
    create: Vec<String>,
    refresh: Vec<String>,
    refresh_concurrently: Vec<String>,
    drop: String,
}

impl Definition {
    fn of(v: &ViewSql) -> Self {
        Definition {
            create: v.statements.clone(),
            refresh: v.refresh.clone(),
            refresh_concurrently: v.refresh_concurrently.clone(),
            drop: v.drop.clone(),
        }
    }
    fn parse(name: &str, text: &str) -> Result<Self> {
        serde_json::from_str(text).with_context(|| {
            format!("view {name} was registered by an older cowrieql; run a report that reads it to rebuild it")
        })
    }
}

// Registry SQL shared by both backends: SQLite reads `$1` as a named parameter.
const FIND: &str = "SELECT definition_hash, refreshed_at FROM view_registry WHERE name = $1";
const UPSERT: &str = "INSERT INTO view_registry (name, definition_hash, definition, created_at, refreshed_at) \
     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO UPDATE SET definition_hash = excluded.definition_hash, \
     definition = excluded.definition, created_at = excluded.created_at, refreshed_at = excluded.refreshed_at";
const LIST: &str = "SELECT name, definition_hash, refreshed_at, \
     refreshed_at < COALESCE((SELECT changed_at FROM data_changes WHERE id = 1), refreshed_at) \
     FROM view_registry ORDER BY name";
pub(crate) const REGISTRY: &str = "SELECT name, definition_hash FROM view_registry";
const REGISTERED: &str = "SELECT name, refresh_on_ingest, definition FROM view_registry ORDER BY name";
pub(crate) const TOUCH: &str = "UPDATE view_registry SET refreshed_at = $2 WHERE name = $1";

/// The SQL to run for `c`, and the views it computes inline: each view is used where it is
/// current, else built; where this connection may not build it (a SELECT-only role, a
/// standby, a read-only file) the query computes it in a common table expression instead.
pub struct Prepared {
    pub sql: String,
    pub inlined: Vec<String>,
}

/// [`Prepared`] for `c` on `conn`, a connection of `E`'s pool.
pub(crate) async fn prepare<E: ViewRegistry>(
    conn: &mut <E::DB as sqlx::Database>::Connection,
    c: &crate::sql::Compiled,
) -> Result<Prepared> {
    let mut inlined = Vec::new();
    for v in &c.views {
        if E::current(conn, v).await?.is_some() {
            continue;
        }
        match E::ensure(conn, v).await {
            Ok(_) => {}
            Err(e) if super::errors::is_read_only(&e) => inlined.push(v.name.clone()),
            Err(e) => return Err(e),
        }
    }
    let names: Vec<&str> = inlined.iter().map(String::as_str).collect();
    Ok(Prepared { sql: c.sql_inlining(&names), inlined })
}

/// Whether every view `queries` read exists with its current definition, by `registered`
/// (the registry's names and definition hashes, read in the report's snapshot with
/// [`REGISTRY`]: the common case costs one statement for all views, not a transaction per view).
pub(crate) fn all_current(registered: &[(String, String)], queries: &[crate::sql::Compiled]) -> bool {
    queries
        .iter()
        .flat_map(|c| &c.views)
        .all(|v| registered.iter().any(|(name, hash)| *name == v.name && *hash == v.definition_hash()))
}

/// Builds (or rebuilds, when their definition changed) the views `queries` read, on `store`:
/// the primary, before a report is read from a standby that cannot build them.
pub async fn build(store: &Store, queries: &[crate::sql::Compiled]) -> Result<()> {
    on_engine!(store, p, E => {
        let mut conn = p.acquire().await?;
        for c in queries {
            prepare::<E>(&mut conn, c).await?;
        }
    });
    Ok(())
}

/// The registry reads and writes, on one connection. The same text on both engines
/// (`registry_impl!`): a generic function would need sqlx's executor bounds spelled out.
pub(crate) trait ViewRegistry: Engine {
    /// When `v` was last refreshed, if it exists with this definition: a plain read, so a
    /// connection that may not write still uses a view that is there.
    async fn current(conn: &mut <Self::DB as sqlx::Database>::Connection, v: &ViewSql)
        -> Result<Option<DateTime<Utc>>>;
    /// Makes sure `v` exists with its current definition (built on first use, rebuilt when
    /// the report's prefix changed); returns when it was last refreshed.
    async fn ensure(conn: &mut <Self::DB as sqlx::Database>::Connection, v: &ViewSql) -> Result<DateTime<Utc>>;
}

macro_rules! registry_impl {
    ($pool:ty, $conn:ty) => {
        impl ViewRegistry for $pool {
            async fn current(conn: &mut $conn, v: &ViewSql) -> Result<Option<DateTime<Utc>>> {
                let row = in_tx!(&mut *conn, c => sqlx::query(FIND)
                    .persistent(<$pool>::KEEP_STATEMENTS)
                    .bind(&v.name)
                    .fetch_optional(c)
                    .await?);
                Ok(row.filter(|r| r.get::<String, _>(0) == v.definition_hash()).map(|r| r.get(1)))
            }

            async fn ensure(conn: &mut $conn, v: &ViewSql) -> Result<DateTime<Utc>> {
                // One creator at a time per view name (SQLite: its one write lock).
                let mut tx = <$pool>::begin_locked(conn, lock_key(&v.name)).await?;
                let hash = v.definition_hash();
                let found =
                    sqlx::query(FIND).persistent(<$pool>::KEEP_STATEMENTS).bind(&v.name).fetch_optional(&mut *tx).await?;
                if let Some(r) = found {
                    if r.get::<String, _>(0) == hash {
                        let at: DateTime<Utc> = r.get(1);
                        tx.commit().await?;
                        return Ok(at);
                    }
                }
                sqlx::raw_sql(AssertSqlSafe(v.drop.clone())).execute(&mut *tx).await?;
                for s in &v.statements {
                    sqlx::raw_sql(AssertSqlSafe(s.clone()))
                        .execute(&mut *tx)
                        .await
                        .with_context(|| format!("creating materialized view {}", v.name))?;
                }
                let now = Utc::now();
                sqlx::query(UPSERT)
                    .persistent(<$pool>::KEEP_STATEMENTS)
                    .bind(&v.name)
                    .bind(&hash)
                    .bind(serde_json::to_string(&Definition::of(v))?)
                    .bind(<$pool>::time(now))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(now)
            }
        }
    };
}

registry_impl!(sqlx::SqlitePool, sqlx::SqliteConnection);
registry_impl!(sqlx::PgPool, sqlx::PgConnection);

fn infos<R: Row>(rows: &[R]) -> Vec<ViewInfo>
where
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> DateTime<Utc>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    rows.iter()
        .map(|r| ViewInfo { name: r.get(0), definition_hash: r.get(1), refreshed_at: r.get(2), stale: r.get(3) })
        .collect()
}

/// Every registered view.
pub async fn list(store: &Store) -> Result<Vec<ViewInfo>> {
    Ok(on_engine!(store, p, E => infos(&in_tx!(p, c => sqlx::query(LIST)
        .persistent(E::KEEP_STATEMENTS)
        .fetch_all(c)
        .await?))))
}

/// Refreshes the named views (all when `names` is empty, or only those marked for ingest when
/// `only_on_ingest`). Returns the names refreshed.
pub async fn refresh(store: &Store, names: &[String], concurrently: bool, only_on_ingest: bool) -> Result<Vec<String>> {
    let registered: Vec<(String, bool, String)> = on_engine!(store, p, E => in_tx!(p, c => sqlx::query_as(REGISTERED)
            .persistent(E::KEEP_STATEMENTS)
            .fetch_all(c)
            .await?));
    for name in names {
        if !registered.iter().any(|(n, _, _)| n == name) {
            anyhow::bail!(
                "no materialized view {name:?}; views: {}",
                registered.iter().map(|(n, _, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut done = Vec::new();
    for (name, on_ingest, def) in registered {
        if (!names.is_empty() && !names.contains(&name)) || (only_on_ingest && !on_ingest) {
            continue;
        }
        let def = Definition::parse(&name, &def)?;
        let stmts = if concurrently { &def.refresh_concurrently } else { &def.refresh };
        on_engine!(store, p => p.refresh_view(&name, stmts, Utc::now()).await?);
        done.push(name);
    }
    Ok(done)
}
