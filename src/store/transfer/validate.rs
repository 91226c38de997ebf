//! Proving a copy: both databases are read in key order side by side; every row is compared
//! field by field, and each side's row count and order-independent checksum (the wrapping
//! sum of per-row hashes) are reported.

use anyhow::{Context, Result};
use std::cmp::Ordering;

use futures_util::StreamExt;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::mpsc;

use super::spec::{cmp_key, json_digest, row_hash, Cell, Kind, TableSpec, TABLES};
use super::{Source, SourceReader};

/// How many differences per table are named in full.
const SHOWN: usize = 10;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCheck {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
    /// Rows present on both sides and compared field by field.
    pub compared: u64,
    pub differences: u64,
    /// The first differences, each naming the key (and the column, for changed rows).
    pub examples: Vec<String>,
}

impl TableCheck {
    pub fn ok(&self) -> bool {
        self.differences == 0 && self.source_rows == self.target_rows && self.source_checksum == self.target_checksum
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Validation {
    pub tables: Vec<TableCheck>,
    /// Identity sequences that would hand out an id already copied.
    pub sequence_problems: Vec<String>,
}

impl Validation {
    pub fn ok(&self) -> bool {
        self.sequence_problems.is_empty() && self.tables.iter().all(TableCheck::ok)
    }

    /// One line per problem, naming table and key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in self.tables.iter().filter(|t| !t.ok()) {
            out.push(format!(
                "{}: source {} rows (checksum {}), target {} rows (checksum {}), {} differing",
                t.table, t.source_rows, t.source_checksum, t.target_rows, t.target_checksum, t.differences
            ));
            out.extend(t.examples.iter().map(|e| format!("  {}: {e}", t.table)));
        }
        out.extend(self.sequence_problems.iter().cloned());
        out
    }
}

/// Compares every table of `src` with `dst`.
pub async fn validate(src: &Source, dst: &PgPool) -> Result<Validation> {
    let mut tables = Vec::with_capacity(TABLES.len());
    for spec in TABLES {
        tables.push(check_table(spec, src, dst).await.with_context(|| format!("validating {}", spec.name))?);
    }
    Ok(Validation { tables, sequence_problems: check_sequences(dst).await? })
}

fn order_by(spec: &TableSpec, collate: &str) -> String {
    spec.key
        .iter()
        .map(|k| match spec.columns.iter().find(|c| c.0 == *k).map(|c| c.1) {
            Some(Kind::Text) => format!("{k}{collate}"),
            _ => k.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn target_select(spec: &TableSpec) -> String {
    let cols: Vec<String> =
        spec.columns.iter().map(|(c, k)| if *k == Kind::Json { format!("{c}::text") } else { c.to_string() }).collect();
    format!("SELECT {} FROM {} ORDER BY {}", cols.join(", "), spec.name, order_by(spec, " COLLATE \"C\""))
}

/// A target row in the same converted form as a source row.
fn target_row(spec: &TableSpec, row: &PgRow) -> Result<Vec<Cell>> {
    let mut out = Vec::with_capacity(spec.columns.len());
    for (i, (name, kind)) in spec.columns.iter().enumerate() {
        let cell = match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Cell::Int),
            Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Cell::Float),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Cell::Text),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Cell::Bool),
            Kind::Ts => row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)?.map(Cell::Ts),
            Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Cell::Bytes),
            Kind::Json => match row.try_get::<Option<String>, _>(i)? {
                Some(t) => {
                    Some(Cell::Digest(json_digest(&t).map_err(|e| anyhow::anyhow!("target column {name}: {e}"))?))
                }
                None => None,
            },
        };
        out.push(cell.unwrap_or(Cell::Null));
    }
    Ok(out)
}

fn canonical_source(spec: &TableSpec, mut row: Vec<Cell>) -> Result<Vec<Cell>> {
    for (cell, (name, _)) in row.iter_mut().zip(spec.columns) {
        if let Cell::Json(t) = cell {
            *cell = Cell::Digest(json_digest(t).map_err(|e| anyhow::anyhow!("source column {name}: {e}"))?);
        }
    }
    Ok(row)
}

/// How many rows each side hands to the comparison at a time.
const CHUNK: usize = 10_000;

struct Side {
    rows: u64,
    sum: u64,
}

impl Side {
    fn add(&mut self, r: &Keyed) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(r.hash);
    }
}

/// A row ready to compare: its key, content hash and canonical cells.
struct Keyed {
    key: Vec<Cell>,
    hash: u64,
    row: Vec<Cell>,
}

fn keyed(spec: &TableSpec, row: Vec<Cell>) -> Keyed {
    Keyed { key: spec.key_of(&row).to_vec(), hash: row_hash(&row), row }
}

type Feed = mpsc::Receiver<Result<Vec<Keyed>>>;

/// Both sides are read, converted and hashed by their own tasks (one core each); the
/// comparison itself only walks keys and hashes.
struct Rows {
    rx: Feed,
    buf: std::vec::IntoIter<Keyed>,
}

impl Rows {
    async fn next(&mut self) -> Result<Option<Keyed>> {
        loop {
            if let Some(r) = self.buf.next() {
                return Ok(Some(r));
            }
            match self.rx.recv().await {
                None => return Ok(None),
                Some(chunk) => self.buf = chunk?.into_iter(),
            }
        }
    }
}

fn source_feed(spec: &'static TableSpec, path: std::path::PathBuf) -> Feed {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut reader = match SourceReader::open(spec, &path, None, None, CHUNK) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            let chunk = match reader.next_batch() {
                Ok(None) => return,
                Ok(Some(rows)) => rows.into_iter().map(|r| canonical_source(spec, r).map(|r| keyed(spec, r))).collect(),
                Err(e) => Err(e),
            };
            let stop = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || stop {
                return;
            }
        }
    });
    rx
}

fn target_feed(spec: &'static TableSpec, dst: PgPool) -> Feed {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let sql = target_select(spec);
        // One transaction for the whole read (a pooler keeps it on one server session).
        let mut t = match dst.begin().await {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        };
        let mut rows = sqlx::query(AssertSqlSafe(sql)).persistent(false).fetch(&mut *t);
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let item = rows.next().await.map(|r| r.map_err(anyhow::Error::from).and_then(|r| target_row(spec, &r)));
            match item {
                Some(Ok(row)) => {
                    chunk.push(keyed(spec, row));
                    if chunk.len() == CHUNK && tx.send(Ok(std::mem::take(&mut chunk))).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                None => {
                    if !chunk.is_empty() {
                        let _ = tx.send(Ok(chunk)).await;
                    }
                    return;
                }
            }
        }
    });
    rx
}

async fn check_table(spec: &'static TableSpec, src: &Source, dst: &PgPool) -> Result<TableCheck> {
    let mut a = Rows { rx: source_feed(spec, src.path.clone()), buf: Vec::new().into_iter() };
    let mut b = Rows { rx: target_feed(spec, dst.clone()), buf: Vec::new().into_iter() };
    let (mut sa, mut sb) = (Side { rows: 0, sum: 0 }, Side { rows: 0, sum: 0 });
    let (mut compared, mut differences, mut examples) = (0u64, 0u64, Vec::new());
    let mut note = |msg: String| {
        differences += 1;
        if examples.len() < SHOWN {
            examples.push(msg);
        }
    };
    let missing = |r: &Keyed| format!("{} missing on the target", spec.describe_key(&r.key));
    let extra = |r: &Keyed| format!("{} on the target is not in the source", spec.describe_key(&r.key));
    let mut x = a.next().await?;
    let mut y = b.next().await?;
    loop {
        let order = match (&x, &y) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(r), Some(s)) => cmp_key(&r.key, &s.key),
        };
        match order {
            Ordering::Less => {
                let r = x.take().expect("source row");
                sa.add(&r);
                note(missing(&r));
                x = a.next().await?;
            }
            Ordering::Greater => {
                let s = y.take().expect("target row");
                sb.add(&s);
                note(extra(&s));
                y = b.next().await?;
            }
            Ordering::Equal => {
                let (r, s) = (x.take().expect("source row"), y.take().expect("target row"));
                sa.add(&r);
                sb.add(&s);
                compared += 1;
                if r.hash != s.hash {
                    let i = (0..r.row.len()).find(|&i| r.row[i] != s.row[i]).unwrap_or(0);
                    note(format!(
                        "{}: column {} is {} in the source but {} on the target",
                        spec.describe_key(&r.key),
                        spec.columns[i].0,
                        r.row[i],
                        s.row[i]
                    ));
                }
                x = a.next().await?;
                y = b.next().await?;
            }
        }
    }
    Ok(TableCheck {
        table: spec.name,
        source_rows: sa.rows,
        target_rows: sb.rows,
        source_checksum: format!("{:016x}", sa.sum),
        target_checksum: format!("{:016x}", sb.sum),
        compared,
        differences,
        examples,
    })
}

/// The next id each identity sequence hands out must be past every copied id.
async fn check_sequences(dst: &PgPool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in TABLES.iter().filter(|t| t.identity) {
        let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, 'id')")
            .persistent(false)
            .bind(spec.name)
            .fetch_one(&mut *dst.begin().await?)
            .await?;
        let Some(seq) = seq else {
            out.push(format!("{}: no identity sequence on the target", spec.name));
            continue;
        };
        // The sequence name comes from the catalog, not from input.
        let (last, called): (i64, bool) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT last_value, is_called FROM {seq}")))
                .persistent(false)
                .fetch_one(&mut *dst.begin().await?)
                .await?;
        let next = if called { last + 1 } else { last };
        let max: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT max(id) FROM {}", spec.name)))
            .persistent(false)
            .fetch_one(&mut *dst.begin().await?)
            .await?;
        if let Some(max) = max {
            if next <= max {
                out.push(format!("{}: the id sequence would next hand out {next}, but id {max} exists", spec.name));
            }
        }
    }
    Ok(out)
}
