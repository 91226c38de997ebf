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

mod source;
pub mod spec;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::errors::StoreError;
use crate::progress::{Reporter, Task, Unit};
use anyhow::{anyhow, bail, Context, Result};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::mpsc;

use super::postgres::copy::CopyRows;
use super::{migrate, Store};
use crate::sql::quote_ident;
use source::SourceReader;
use spec::{encode_row, Cell, Kind, TableSpec, TABLES};
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

/// What the target's `cowrieql_transfer` row says.
#[derive(Debug, Clone)]
struct State {
    source: String,
    created_schema: bool,
    /// The first run was told to empty the target (a resumed run still must, if it had not).
    replace: bool,
    status: String,
}

const STATE_DDL: &str = "
CREATE TABLE IF NOT EXISTS cowrieql_transfer (
    id             int PRIMARY KEY CHECK (id = 1),
    source         text        NOT NULL,
    created_schema boolean     NOT NULL,
    replace_target boolean     NOT NULL,
    status         text        NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz
);
CREATE TABLE IF NOT EXISTS cowrieql_transfer_tables (
    table_name  text    NOT NULL,
    part        int     NOT NULL,
    upto        bigint,
    last_key    text,
    rows_copied bigint  NOT NULL DEFAULT 0,
    done        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, part)
);
CREATE TABLE IF NOT EXISTS cowrieql_transfer_indexes (
    index_name text PRIMARY KEY,
    definition text NOT NULL
);";

const STATE_TABLES: &[&str] = &["cowrieql_transfer_indexes", "cowrieql_transfer_tables", "cowrieql_transfer"];

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
    let opts = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
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

async fn exists(pg: &PgPool, table: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL").bind(table).fetch_one(pg).await?)
}

async fn load_state(pg: &PgPool) -> Result<Option<State>> {
    if !exists(pg, "cowrieql_transfer").await? {
        return Ok(None);
    }
    let row = sqlx::query("SELECT source, created_schema, replace_target, status FROM cowrieql_transfer WHERE id = 1")
        .fetch_optional(pg)
        .await?;
    Ok(row.map(|r| State { source: r.get(0), created_schema: r.get(1), replace: r.get(2), status: r.get(3) }))
}

async fn set_status(pg: &PgPool, status: &str) -> Result<()> {
    sqlx::query("UPDATE cowrieql_transfer SET status = $1, finished_at = CASE WHEN $1 = 'complete' THEN now() END")
        .bind(status)
        .execute(pg)
        .await?;
    Ok(())
}

/// Tables of ours on the target that hold rows.
async fn non_empty(pg: &PgPool) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in TABLES {
        if exists(pg, t.name).await? {
            // Names come from the constant specs.
            let n: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", t.name))).fetch_one(pg).await?;
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

/// Waits for, then holds, the target's transfer lock: a session-level advisory lock on a
/// connection of its own, released when that connection closes (also when the process dies),
/// so a second migration into the same database waits for the first and then finds its work
/// done, instead of racing it to create the progress tables.
async fn lock_target(dst: &PgPool) -> Result<sqlx::PgConnection> {
    let mut c = dst.acquire().await?.detach();
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(TRANSFER_LOCK).fetch_one(&mut c).await?;
    if !got {
        eprintln!("waiting for another migrate-to-postgres into this database to finish…");
        sqlx::query("SELECT pg_advisory_lock($1)").bind(TRANSFER_LOCK).execute(&mut c).await?;
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
    let resumed = state.as_ref().is_some_and(|s| s.status != "complete");
    if let Some(s) = &state {
        if s.source != source {
            bail!(
                "the target holds a migration from {} (status {}); finish it with --from {} or remove it with --rollback",
                s.source,
                s.status,
                s.source
            );
        }
    }
    let events: u64 =
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM raw_events").fetch_one(&src.pool).await? as u64;
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
            "prepared".to_string()
        }
        Some(s) => s.status.clone(),
    };
    let mut validated = false;
    if status == "complete" {
        report.already_complete = true;
        // The source may have grown since (a gradual switch-over keeps loading into SQLite):
        // when the copy no longer matches, bring it up to date, then compare again.
        let t0 = Instant::now();
        report.validation = validate(src, dst).await?;
        validated = report.validation.ok();
        if !validated {
            report.topped_up = top_up(src, dst, opts).await?;
            set_sequences(dst).await?;
        }
        report.validate_seconds = t0.elapsed().as_secs_f64();
    }
    if status == "prepared" {
        drop_indexes(dst, opts.replace || state.as_ref().is_some_and(|s| s.replace)).await?;
        status = "copying".into();
    }
    if status == "copying" {
        let t0 = Instant::now();
        report.tables = copy_all(src, dst, opts).await?;
        set_status(dst, "indexing").await?;
        status = "indexing".into();
        report.copy_seconds = t0.elapsed().as_secs_f64();
    }
    let validated = validated
        || if status == "indexing" {
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
            set_status(dst, "validating").await?;
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
        set_status(dst, "complete").await?;
    }
    report.total_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Tables whose stored rows change or go (session summaries merge, checkpoints advance, dead
/// letters are retried or purged): a top-up copies them whole. The others only grow.
pub const REWRITTEN: &[&str] = &["sessions", "ingest_checkpoints", "dead_letters"];

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
            let target: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(dst).await?;
            let source: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COALESCE(max(id), 0) FROM {}", spec.name)))
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
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", spec.name))).execute(&mut *t).await?;
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
    Ok(if raw {
        type R = Option<(Vec<u8>, Option<String>)>;
        let a: R = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(id).fetch_optional(&src.pool).await?;
        let b: R = sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(dst).await?;
        a == b
    } else {
        type R = Option<(i64, Option<String>)>;
        let a: R = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(id).fetch_optional(&src.pool).await?;
        let b: R = sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(dst).await?;
        a == b
    })
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

/// Records and drops the secondary indexes of the copied tables (primary keys stay: ids
/// arrive in order). With `replace`, empties the tables in the same transaction.
async fn drop_indexes(dst: &PgPool, replace: bool) -> Result<()> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let mut tx = dst.begin().await?;
    if replace {
        sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE {}", names.join(", ")))).execute(&mut *tx).await?;
    }
    sqlx::query(
        "INSERT INTO cowrieql_transfer_indexes (index_name, definition) \
         SELECT indexname, indexdef FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename = ANY($1) \
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p') \
         ON CONFLICT DO NOTHING",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    let idx: Vec<String> =
        sqlx::query_scalar("SELECT index_name FROM cowrieql_transfer_indexes").fetch_all(&mut *tx).await?;
    for i in idx {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX IF EXISTS {}", quote_ident(&i)))).execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE cowrieql_transfer SET status = 'copying'").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn rebuild_indexes(dst: &PgPool, progress: &Reporter) -> Result<()> {
    let idx: Vec<(String, String)> =
        sqlx::query_as("SELECT index_name, definition FROM cowrieql_transfer_indexes ORDER BY definition LIKE '%USING gin%' DESC, index_name")
            .fetch_all(dst)
            .await?;
    let bar = progress.start("indexes", Unit::Items, idx.len() as u64, 0);
    // The GIN index takes longest: it goes first, the B-trees share the other lane.
    let queue = std::sync::Mutex::new(std::collections::VecDeque::from(idx));
    let lane = || async {
        let mut conn = dst.acquire().await?;
        sqlx::query("SET maintenance_work_mem = '128MB'").execute(&mut *conn).await?;
        loop {
            let next = queue.lock().expect("queue lock").pop_front();
            let Some((name, def)) = next else { break };
            bar.note(name.clone());
            // pg_indexes gives `CREATE [UNIQUE] INDEX name ON …`; IF NOT EXISTS makes a rerun
            // after a kill during this step harmless.
            let def = def.replacen(" INDEX ", " INDEX IF NOT EXISTS ", 1);
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(AssertSqlSafe(def))
                .execute(&mut *tx)
                .await
                .with_context(|| format!("rebuilding index {name}"))?;
            sqlx::query("DELETE FROM cowrieql_transfer_indexes WHERE index_name = $1")
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            bar.advance(1);
        }
        anyhow::Ok(())
    };
    for r in futures_util::future::join_all((0..LANES).map(|_| lane())).await {
        r?;
    }
    bar.finish();
    for t in TABLES {
        sqlx::raw_sql(AssertSqlSafe(format!("ANALYZE {}", t.name))).execute(dst).await?;
    }
    Ok(())
}

/// Moves each identity sequence past the largest copied id.
async fn set_sequences(dst: &PgPool) -> Result<()> {
    for t in TABLES.iter().filter(|t| t.identity) {
        // Names come from the constant specs.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE(max(id), 0) + 1, false) FROM {0}",
            t.name
        )))
        .execute(dst)
        .await?;
    }
    Ok(())
}

/// A key as stored in the progress table: a JSON array of its values.
fn key_to_json(key: &[Cell]) -> String {
    let v: Vec<serde_json::Value> = key
        .iter()
        .map(|c| match c {
            Cell::Int(i) => serde_json::Value::from(*i),
            Cell::Text(s) => serde_json::Value::from(s.as_str()),
            _ => serde_json::Value::Null,
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn key_from_json(spec: &TableSpec, text: &str) -> Result<Vec<Cell>> {
    let v: Vec<serde_json::Value> = serde_json::from_str(text).context("reading the progress table")?;
    let kinds = spec.columns.iter().map(|c| c.1);
    v.iter()
        .zip(kinds)
        .map(|(x, k)| match (k, x) {
            (Kind::Int, serde_json::Value::Number(n)) => n.as_i64().map(Cell::Int),
            (Kind::Text, serde_json::Value::String(s)) => Some(Cell::Text(s.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| anyhow!("the progress table holds a key {text} that does not fit {}", spec.name))
}

/// One batch from the reader: COPY text, its row count, and its last key.
struct Chunk {
    data: Vec<u8>,
    rows: u64,
    last_key: Vec<Cell>,
}

/// Reads, converts and encodes batches for COPY (on a blocking thread: SQLite reads are
/// synchronous).
fn read_chunks(mut reader: SourceReader, tx: mpsc::Sender<Chunk>) -> Result<()> {
    let spec = reader.spec();
    while let Some(rows) = reader.next_batch()? {
        let mut encoded = CopyRows::with_capacity(rows.len() * 256);
        for r in &rows {
            encode_row(&mut encoded, r);
        }
        let data = encoded.into_bytes();
        let last_key = spec.key_of(rows.last().expect("a batch is never empty")).to_vec();
        if tx.blocking_send(Chunk { data, rows: rows.len() as u64, last_key }).is_err() {
            return Ok(()); // the writer stopped; its error is the one to report
        }
    }
    Ok(())
}

/// Id ranges `(after, upto]` that split a large id-keyed table into one part per lane; the
/// last part is open-ended. Text-keyed and small tables are one part.
async fn split(src: &Source, t: &TableSpec) -> Result<Vec<(Option<i64>, Option<i64>)>> {
    if t.key != ["id"] {
        return Ok(vec![(None, None)]);
    }
    // Names come from the constant specs.
    let (lo, hi, n): (Option<i64>, Option<i64>, i64) =
        sqlx::query_as(AssertSqlSafe(format!("SELECT min(id), max(id), count(*) FROM {}", t.name)))
            .fetch_one(&src.pool)
            .await?;
    let (Some(lo), Some(hi)) = (lo, hi) else { return Ok(vec![(None, None)]) };
    if n < 100_000 {
        return Ok(vec![(None, None)]);
    }
    let lanes = LANES as i64;
    let bound = |k: i64| lo - 1 + (hi - lo + 1) / lanes * k;
    Ok((0..lanes)
        .map(|k| (if k == 0 { None } else { Some(bound(k)) }, if k == lanes - 1 { None } else { Some(bound(k + 1)) }))
        .collect())
}

/// Parts (and indexes) are worked on by this many connections at once: PostgreSQL spends
/// one core per COPY, and this machine class has two.
const LANES: usize = 2;

/// A progress-table row: table, part, upto, last key, rows copied.
type PartRow = (String, i32, Option<i64>, Option<String>, i64);

/// One piece of a table to copy, as the progress table records it.
#[derive(Debug, Clone)]
struct Part {
    spec: &'static TableSpec,
    part: i32,
    upto: Option<i64>,
    after: Option<Vec<Cell>>,
}

/// Copies every unfinished part, `LANES` at a time.
async fn copy_all(src: &Source, dst: &PgPool, opts: &TransferOptions) -> Result<Vec<TableCopy>> {
    let rows: Vec<PartRow> = sqlx::query_as(
        "SELECT table_name, part, upto, last_key, rows_copied FROM cowrieql_transfer_tables WHERE NOT done",
    )
    .fetch_all(dst)
    .await?;
    let mut parts = Vec::new();
    let mut bars = std::collections::HashMap::new();
    for spec in TABLES {
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == spec.name).collect();
        if mine.is_empty() {
            continue;
        }
        // Names come from the constant specs.
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", spec.name)))
            .fetch_one(&src.pool)
            .await?;
        let done: i64 =
            sqlx::query_scalar("SELECT sum(rows_copied)::bigint FROM cowrieql_transfer_tables WHERE table_name = $1")
                .bind(spec.name)
                .fetch_one(dst)
                .await?;
        let b = opts.progress.start(spec.name, Unit::Rows, total as u64, done as u64);
        bars.insert(spec.name, b);
        for r in mine {
            parts.push(Part {
                spec,
                part: r.1,
                upto: r.2,
                after: r.3.as_deref().map(|k| key_from_json(spec, k)).transpose()?,
            });
        }
    }
    let queue = std::sync::Mutex::new(std::collections::VecDeque::from(parts));
    let lane = || async {
        let mut conn = dst.acquire().await?;
        // A batch lost in a crash is redone from the progress table, which commits with it.
        sqlx::query("SET synchronous_commit = off").execute(&mut *conn).await?;
        let mut done = Vec::new();
        loop {
            let next = queue.lock().expect("queue lock").pop_front();
            let Some(p) = next else { break };
            let b = bars[p.spec.name].clone();
            let t0 = Instant::now();
            let rows = copy_part(&p, src, &mut conn, opts, &*b).await?;
            done.push(TableCopy { table: p.spec.name, rows, seconds: t0.elapsed().as_secs_f64() });
        }
        anyhow::Ok(done)
    };
    let results = futures_util::future::join_all((0..LANES).map(|_| lane())).await;
    for b in bars.values() {
        b.finish();
    }
    // Per table: rows of all its parts, the slowest part's time.
    let mut out: Vec<TableCopy> = Vec::new();
    for r in results {
        for c in r? {
            match out.iter_mut().find(|o| o.table == c.table) {
                Some(o) => {
                    o.rows += c.rows;
                    o.seconds = o.seconds.max(c.seconds);
                }
                None => out.push(c),
            }
        }
    }
    out.sort_by_key(|c| TABLES.iter().position(|t| t.name == c.table));
    Ok(out)
}

/// Copies what is left of one part; returns the rows copied.
async fn copy_part(
    p: &Part,
    src: &Source,
    conn: &mut PgConnection,
    opts: &TransferOptions,
    bar: &dyn Task,
) -> Result<u64> {
    let spec = p.spec;
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let reader = SourceReader::open(spec, &src.path, p.after.clone(), p.upto, opts.batch_size)?;
    let reader = tokio::task::spawn_blocking(move || read_chunks(reader, tx));
    let copy_sql = format!("COPY {} ({}) FROM STDIN", spec.name, spec.column_list());
    let mut rows = 0u64;
    let written: Result<()> = async {
        while let Some(chunk) = rx.recv().await {
            let mut t = conn.begin().await?;
            super::postgres::copy::copy(&mut t, &copy_sql, chunk.data)
                .await
                .with_context(|| format!("copying {}", spec.name))?;
            sqlx::query(
                "UPDATE cowrieql_transfer_tables SET last_key = $3, rows_copied = rows_copied + $4 \
                 WHERE table_name = $1 AND part = $2",
            )
            .bind(spec.name)
            .bind(p.part)
            .bind(key_to_json(&chunk.last_key))
            .bind(chunk.rows as i64)
            .execute(&mut *t)
            .await?;
            t.commit().await?;
            rows += chunk.rows;
            bar.advance(chunk.rows);
        }
        Ok(())
    }
    .await;
    drop(rx);
    let read = reader.await.map_err(|e| anyhow!("reader task failed: {e}"))?;
    written?;
    read?;
    sqlx::query("UPDATE cowrieql_transfer_tables SET done = true WHERE table_name = $1 AND part = $2")
        .bind(spec.name)
        .bind(p.part)
        .execute(&mut *conn)
        .await?;
    Ok(rows)
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
            sqlx::query_scalar("SELECT name FROM view_registry").fetch_all(&mut *tx).await?
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
        tx.commit().await?;
        return Ok(RollbackReport { dropped_schema: true, tables: all.iter().map(|s| s.to_string()).collect() });
    }
    sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE {}", names.join(", ")))).execute(dst).await?;
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

pub async fn unfinished(dst: &PgPool) -> Result<Option<String>> {
    Ok(unfinished_error(dst).await?.map(|e| e.to_string()))
}

/// [`unfinished`] as the error a command refuses with.
pub async fn unfinished_error(dst: &PgPool) -> Result<Option<StoreError>> {
    Ok(load_state(dst)
        .await?
        .filter(|s| s.status != "complete")
        .map(|s| StoreError::UnfinishedMigration { source_file: s.source, status: s.status }))
}
