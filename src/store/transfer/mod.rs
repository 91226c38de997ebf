//! `migrate-to-postgres`: moving a SQLite database to PostgreSQL.
//!
//! Every table is copied in key order (keyset pagination) with COPY. Each batch and the
//! record of how far its table got commit in one transaction, so a run killed at any point
//! resumes without losing or duplicating a row. Secondary indexes are dropped for the copy
//! and rebuilt once at the end (a sorted build is far cheaper than millions of inserts into
//! a GIN and random-order B-trees). The run ends with a full comparison of both databases.
//!
//! Progress lives on the target in `cowrieql_transfer*` tables; status moves through
//! prepared → copying → indexing → validating → complete.

mod indexes;
mod lanes;
mod source;
pub mod spec;
mod state;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::errors::StoreError;
use crate::progress::{Reporter, Task, Unit};
use anyhow::{anyhow, bail, Context, Result};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::mpsc;

use super::postgres::copy::CopyRows;
use super::{migrate, Store};
use crate::sql::quote_ident;
use indexes::*;
use lanes::*;
use source::SourceReader;
use spec::{encode_row, Cell, Kind, TableSpec, TABLES};
use state::*;
pub use validate::{validate, TableCheck, Validation};

#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Rows per COPY batch (and per committed transaction).
    pub batch_size: usize,
    /// Empty a target that already holds cowrieql data instead of refusing it.
    pub replace: bool,
    pub progress: crate::progress::Reporter,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self { batch_size: 20_000, replace: false, progress: Default::default() }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: &'static str,
    /// Rows copied by this run (a resumed run counts only what it copied).
    pub rows: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferReport {
    pub source: String,
    /// This run continued an interrupted one.
    pub resumed: bool,
    /// The target already held a complete copy; only validation ran.
    pub already_complete: bool,
    pub tables: Vec<TableCopy>,
    pub copy_seconds: f64,
    pub index_seconds: f64,
    pub validate_seconds: f64,
    pub total_seconds: f64,
    /// raw_events rows on the source, the figure events/s is based on.
    pub events: u64,
    /// A complete copy whose source had grown was brought up to date: rows added per table
    /// (append-only tables) or rows now held (tables re-copied whole).
    pub topped_up: Vec<TableCopy>,
    pub validation: Validation,
}

impl TransferReport {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.total_seconds.max(1e-9)
    }
}

/// The SQLite database being moved.
pub struct Source {
    pub path: PathBuf,
    pub pool: SqlitePool,
}

/// Opens the source read-only; a missing file is an error, not a new empty database.
pub async fn open_source(path: &Path) -> Result<Source> {
    if !path.is_file() {
        bail!("source SQLite database {} does not exist", path.display());
    }
    let opts = SqliteConnectOptions::new().filename(path).read_only(true).with_regexp();
    let pool = crate::store::sqlite::pool_options()
        .max_connections(2)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow!("cannot open SQLite database {}: {}", path.display(), super::errors::words(&e)))?;
    let store = Store::Sqlite(pool.clone());
    let pending: Vec<_> =
        migrate::status(&store).await?.into_iter().filter(|m| m.applied_at.is_none()).map(|m| m.version).collect();
    if !pending.is_empty() {
        bail!(
            "source {} lacks migrations {:?}; run `cowrieql --db {} db migrate` first",
            path.display(),
            pending,
            path.display()
        );
    }
    Ok(Source { path: path.to_path_buf(), pool })
}

/// Tables of ours on the target that hold rows.
async fn non_empty(pg: &PgPool) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in TABLES {
        if exists(pg, t.name).await? {
            // Names come from the constant specs.
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", t.name)))
                .persistent(false)
                .fetch_one(&mut *pg.begin().await?)
                .await?;
            if n > 0 {
                out.push((t.name.to_string(), n));
            }
        }
    }
    Ok(out)
}

fn source_id(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path)).display().to_string()
}

/// "cowrieql" + 1: one migrate-to-postgres (or rollback) per target at a time.
const TRANSFER_LOCK: i64 = 0x636f_7772_6965_716d;

/// Waits for, then holds, the target's transfer lock: an advisory lock of a transaction left
/// open on a connection of its own (a session-level lock would stay behind on whichever server
/// session a transaction-pooling PgBouncer ran it on). It goes when that connection closes
/// (also when the process dies): the transaction wrote nothing and holds no snapshot,
/// so a second migration into the same database waits for the first and then finds its work
/// done, instead of racing it to create the progress tables.
async fn lock_target(dst: &PgPool) -> Result<sqlx::PgConnection> {
    let mut c = dst.acquire().await?.detach();
    sqlx::raw_sql("BEGIN").execute(&mut c).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .persistent(false)
        .bind(TRANSFER_LOCK)
        .fetch_one(&mut c)
        .await?;
    if !got {
        eprintln!("waiting for another migrate-to-postgres into this database to finish…");
        sqlx::query("SELECT pg_advisory_xact_lock($1)").persistent(false).bind(TRANSFER_LOCK).execute(&mut c).await?;
    }
    Ok(c)
}

/// Copies `src` into `dst`, or resumes an interrupted copy, then validates.
pub async fn transfer(src: &Source, dst: &PgPool, opts: &TransferOptions) -> Result<TransferReport> {
    let lock = lock_target(dst).await?;
    let report = transfer_locked(src, dst, opts).await;
    lock.close().await?;
    report
}

async fn transfer_locked(src: &Source, dst: &PgPool, opts: &TransferOptions) -> Result<TransferReport> {
    let started = Instant::now();
    let source = source_id(&src.path);
    let state = load_state(dst).await?;
    let resumed = state.as_ref().is_some_and(|s| s.status != Status::Complete);
    if let Some(s) = &state {
        if s.source != source {
            bail!(
                "the target holds a migration from {} (status {}); finish it with --from {} or remove it with --rollback",
                s.source,
                s.status.as_str(),
                s.source
            );
        }
    }
    let events: u64 =
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM raw_events").persistent(false).fetch_one(&src.pool).await?
            as u64;
    let mut report = TransferReport {
        source: source.clone(),
        resumed,
        already_complete: false,
        tables: Vec::new(),
        copy_seconds: 0.0,
        index_seconds: 0.0,
        validate_seconds: 0.0,
        total_seconds: 0.0,
        events,
        topped_up: Vec::new(),
        validation: Validation { tables: Vec::new(), sequence_problems: Vec::new() },
    };
    let mut status = match &state {
        None => {
            prepare_fresh(src, dst, &source, opts.replace).await?;
            Status::Prepared
        }
        Some(s) => s.status,
    };
    let mut validated = false;
    if status == Status::Complete {
        report.already_complete = true;
        // The source may have grown since (a gradual switch-over keeps loading into SQLite):
        // when the copy no longer matches, bring it up to date, then compare again.
        let t0 = Instant::now();
        report.validation = validate(src, dst).await?;
        validated = report.validation.ok();
        if !validated {
            ensure_months(src, dst).await?;
            report.topped_up = top_up(src, dst, opts).await?;
            set_sequences(dst).await?;
        }
        report.validate_seconds = t0.elapsed().as_secs_f64();
    }
    if status == Status::Prepared {
        drop_indexes(dst, opts.replace || state.as_ref().is_some_and(|s| s.replace)).await?;
        status = Status::Copying;
    }
    if status == Status::Copying {
        let t0 = Instant::now();
        ensure_months(src, dst).await?;
        report.tables = copy_all(src, dst, opts).await?;
        set_status(dst, Status::Indexing).await?;
        status = Status::Indexing;
        report.copy_seconds = t0.elapsed().as_secs_f64();
    }
    let validated = validated
        || if status == Status::Indexing {
            // Index builds (one core for the GIN index alone) and the comparison (reads only)
            // run side by side: neither needs the other.
            set_sequences(dst).await?;
            let (ix, val) = tokio::join!(
                async {
                    let t = Instant::now();
                    rebuild_indexes(dst, &opts.progress).await.map(|_| t.elapsed().as_secs_f64())
                },
                async {
                    let t = Instant::now();
                    validate(src, dst).await.map(|v| (v, t.elapsed().as_secs_f64()))
                }
            );
            report.index_seconds = ix?;
            let (v, secs) = val?;
            report.validation = v;
            report.validate_seconds = secs;
            set_status(dst, Status::Validating).await?;
            true
        } else {
            false
        };
    if !validated {
        let t0 = Instant::now();
        report.validation = validate(src, dst).await?;
        report.validate_seconds = t0.elapsed().as_secs_f64();
    }
    if report.validation.ok() && !report.already_complete {
        set_status(dst, Status::Complete).await?;
    }
    report.total_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Creates the target's monthly partitions for every month the source's events span
/// (within the range that gets partitions of its own: `cowrieql_ensure_month`), so that no
/// copied row lands in a default partition.
async fn ensure_months(src: &Source, dst: &PgPool) -> Result<()> {
    let (lo, hi): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT min(ts), max(ts) FROM raw_events").persistent(false).fetch_one(&src.pool).await?;
    let parse = |t: Option<String>| t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.to_utc());
    let (Some(lo), Some(hi)) = (parse(lo), parse(hi)) else { return Ok(()) };
    crate::store::postgres::partitions::ensure_span(&mut *dst.acquire().await?, lo, hi).await
}

/// Tables whose stored rows change or go (session and tunnel summaries merge, checkpoints advance, dead
/// letters are retried or purged): a top-up copies them whole. The others only grow.
pub const REWRITTEN: &[&str] = &["sessions", "tunnels", "ingest_checkpoints", "dead_letters"];

/// Brings a completed copy up to date with a source that grew: rows past the target's
/// highest id are appended to the tables that only grow, and the tables in [`REWRITTEN`]
/// are replaced whole, each batch or table in one transaction (a killed top-up is redone
/// by the next run). A target written to directly (ids beyond the source's) is refused.
async fn top_up(src: &Source, dst: &PgPool, opts: &TransferOptions) -> Result<Vec<TableCopy>> {
    let mut out = Vec::new();
    for spec in TABLES {
        let t0 = Instant::now();
        let rewrite = REWRITTEN.contains(&spec.name);
        let after = if rewrite {
            None
        } else {
            // Names come from the constant specs.
            let sql = format!("SELECT COALESCE(max(id), 0)::bigint FROM {}", spec.name);
            let target: i64 =
                sqlx::query_scalar(AssertSqlSafe(sql)).persistent(false).fetch_one(&mut *dst.begin().await?).await?;
            let source: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COALESCE(max(id), 0) FROM {}", spec.name)))
                    .persistent(false)
                    .fetch_one(&src.pool)
                    .await?;
            // Rows the target got by itself take the ids the source gives its new rows: the
            // target's newest row must be the source's row of that id.
            let same_newest = target == 0 || same_row(src, dst, spec.name, target).await?;
            if target > source || !same_newest {
                bail!(
                    "{} on the target has ids up to {target}, the source only up to {source}: the target was \
                     written to after the migration, so new source rows cannot be added without colliding; \
                     copy again with --replace, or keep loading into the target only",
                    spec.name
                );
            }
            if target == source {
                continue;
            }
            Some(vec![Cell::Int(target)])
        };
        let (tx, mut rx) = mpsc::channel::<Chunk>(2);
        let reader = SourceReader::open(spec, &src.path, after, None, opts.batch_size)?;
        let reader = tokio::task::spawn_blocking(move || read_chunks(reader, tx));
        let copy_sql = format!("COPY {} ({}) FROM STDIN", spec.name, spec.column_list());
        let mut rows = 0u64;
        let written: Result<()> = async {
            let mut conn = dst.acquire().await?;
            if rewrite {
                // One transaction: readers see the old rows until the new ones are all in.
                let mut t = conn.begin().await?;
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", spec.name)))
                    .persistent(false)
                    .execute(&mut *t)
                    .await?;
                while let Some(chunk) = rx.recv().await {
                    super::postgres::copy::copy(&mut t, &copy_sql, chunk.data).await?;
                    rows += chunk.rows;
                }
                t.commit().await?;
            } else {
                while let Some(chunk) = rx.recv().await {
                    let mut t = conn.begin().await?;
                    super::postgres::copy::copy(&mut t, &copy_sql, chunk.data).await?;
                    t.commit().await?;
                    rows += chunk.rows;
                }
            }
            Ok(())
        }
        .await;
        drop(rx);
        let read = reader.await.map_err(|e| anyhow!("reader task failed: {e}"))?;
        written.with_context(|| format!("topping up {}", spec.name))?;
        read?;
        out.push(TableCopy { table: spec.name, rows, seconds: t0.elapsed().as_secs_f64() });
    }
    Ok(out)
}

/// Whether row `id` of an append-only table is the same event on both sides (the line's hash
/// for raw_events; the event and session for the fact tables).
async fn same_row(src: &Source, dst: &PgPool, table: &str, id: i64) -> Result<bool> {
    let raw = table == "raw_events";
    let cols = if raw { "content_hash, session_id" } else { "event_id, session_id" };
    // Names come from the constant specs; the id is bound.
    let sql = format!("SELECT {cols} FROM {table} WHERE id = $1");
    if raw {
        same_on_both::<(Vec<u8>, Option<String>)>(src, dst, &sql, id).await
    } else {
        same_on_both::<(i64, Option<String>)>(src, dst, &sql, id).await
    }
}

/// Whether `sql` (one row by id) reads the same `R` from the source and the target.
async fn same_on_both<R>(src: &Source, dst: &PgPool, sql: &str, id: i64) -> Result<bool>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + PartialEq
        + Send
        + Unpin,
{
    let a: Option<R> = sqlx::query_as(AssertSqlSafe(sql.to_string())).bind(id).fetch_optional(&src.pool).await?;
    let b: Option<R> = sqlx::query_as(AssertSqlSafe(sql.to_string()))
        .persistent(false)
        .bind(id)
        .fetch_optional(&mut *dst.begin().await?)
        .await?;
    Ok(a == b)
}

/// First run: refuse foreign data, record the state, create or update the schema.
async fn prepare_fresh(src: &Source, dst: &PgPool, source: &str, replace: bool) -> Result<()> {
    let had_schema = exists(dst, "raw_events").await?;
    if had_schema {
        let full = non_empty(dst).await?;
        if !full.is_empty() && !replace {
            let what: Vec<String> = full.iter().map(|(t, n)| format!("{t}: {n} rows")).collect();
            bail!(
                "the target already holds cowrieql data that this tool did not copy ({}); \
                 pass --replace to empty it first, or choose another database",
                what.join(", ")
            );
        }
    }
    let mut tx = dst.begin().await?;
    sqlx::raw_sql(STATE_DDL).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO cowrieql_transfer (id, source, created_schema, replace_target, status, started_at) \
         VALUES (1, $1, $2, $3, 'prepared', now())",
    )
    .persistent(false)
    .bind(source)
    .bind(!had_schema)
    .bind(replace)
    .execute(&mut *tx)
    .await?;
    for t in TABLES {
        for (part, (after, upto)) in split(src, t).await?.into_iter().enumerate() {
            sqlx::query(
                "INSERT INTO cowrieql_transfer_tables (table_name, part, last_key, upto) VALUES ($1, $2, $3, $4)",
            )
            .persistent(false)
            .bind(t.name)
            .bind(part as i32)
            .bind(after.map(|a| key_to_json(&[Cell::Int(a)])))
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    migrate::migrate(&Store::Postgres(dst.clone())).await.context("creating the schema on the target")?;
    Ok(())
}

/// What `--rollback` removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    /// The schema was created by the migration and dropped whole.
    pub dropped_schema: bool,
    pub tables: Vec<String>,
}

/// Removes what a migration created on the target: the whole schema when it created it,
/// otherwise the copied rows (and the indexes it dropped come back).
pub async fn rollback(dst: &PgPool) -> Result<RollbackReport> {
    let lock = lock_target(dst).await?;
    let report = rollback_locked(dst).await;
    lock.close().await?;
    report
}

async fn rollback_locked(dst: &PgPool) -> Result<RollbackReport> {
    let Some(state) = load_state(dst).await? else {
        bail!("the target holds no migration made by migrate-to-postgres; nothing to roll back");
    };
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    if state.created_schema {
        let mut tx = dst.begin().await?;
        let views: Vec<String> = if exists(dst, "view_registry").await? {
            sqlx::query_scalar("SELECT name FROM view_registry").persistent(false).fetch_all(&mut *tx).await?
        } else {
            Vec::new()
        };
        for v in &views {
            sqlx::raw_sql(AssertSqlSafe(format!("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE", quote_ident(v))))
                .execute(&mut *tx)
                .await?;
        }
        let mut all: Vec<&str> = names.clone();
        all.extend(["view_registry", "schema_migrations"]);
        all.extend(STATE_TABLES);
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS {} CASCADE", all.join(", "))))
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql("DROP FUNCTION IF EXISTS cowrieql_ensure_month(timestamptz)").execute(&mut *tx).await?;
        sqlx::raw_sql("DROP AGGREGATE IF EXISTS cowrieql_sum(bigint)").execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(RollbackReport { dropped_schema: true, tables: all.iter().map(|s| s.to_string()).collect() });
    }
    sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE {}", names.join(", ")))).execute(dst).await?;
    // The months the copy made partitions for go (before the indexes are built again).
    crate::store::postgres::partitions::reset(dst).await?;
    // The indexes dropped for the copy come back before the progress tables go.
    rebuild_indexes(dst, &Reporter::default()).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS {}", STATE_TABLES.join(", ")))).execute(dst).await?;
    Ok(RollbackReport { dropped_schema: false, tables: names.iter().map(|s| s.to_string()).collect() })
}

/// A migration that has not finished, if the target holds one: ingesting into or reporting
/// from a half-copied database would be silently partial.
/// The target database `url` names, which must be a PostgreSQL server.
pub async fn connect_target(url: &str, opts: &super::ConnectOptions) -> Result<PgPool> {
    match Store::connect(url, opts).await? {
        Store::Postgres(dst) => Ok(dst),
        Store::Sqlite(_) => Err(StoreError::NotPostgres(url.to_string()).into()),
    }
}

/// Why `dst` may not be used yet: it is the target of a migrate-to-postgres that has not
/// finished (None otherwise).
pub async fn unfinished(dst: &PgPool) -> Result<Option<StoreError>> {
    Ok(load_state(dst)
        .await?
        .filter(|s| s.status != Status::Complete)
        .map(|s| StoreError::UnfinishedMigration { source_file: s.source, status: s.status.as_str().to_string() }))
}
