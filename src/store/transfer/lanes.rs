//! Copy lanes: each table split into key ranges, each part copied in key order by COPY on
//! its own connection, every batch committed with its progress row.

use anyhow::{anyhow, Context, Result};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::mpsc;

use super::*;

/// A key as stored in the progress table: a JSON array of its values.
pub(super) fn key_to_json(key: &[Cell]) -> String {
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

pub(super) fn key_from_json(spec: &TableSpec, text: &str) -> Result<Vec<Cell>> {
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
pub(super) struct Chunk {
    pub(super) data: Vec<u8>,
    pub(super) rows: u64,
    pub(super) last_key: Vec<Cell>,
}

/// Reads, converts and encodes batches for COPY (on a blocking thread: SQLite reads are
/// synchronous).
pub(super) fn read_chunks(mut reader: SourceReader, tx: mpsc::Sender<Chunk>) -> Result<()> {
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
pub(super) async fn split(src: &Source, t: &TableSpec) -> Result<Vec<(Option<i64>, Option<i64>)>> {
    if t.key != ["id"] {
        return Ok(vec![(None, None)]);
    }
    // Names come from the constant specs.
    let (lo, hi, n): (Option<i64>, Option<i64>, i64) =
        sqlx::query_as(AssertSqlSafe(format!("SELECT min(id), max(id), count(*) FROM {}", t.name)))
            .persistent(false)
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
pub(super) const LANES: usize = 2;

/// A progress-table row: table, part, upto, last key, rows copied.
pub(super) type PartRow = (String, i32, Option<i64>, Option<String>, i64);

/// One piece of a table to copy, as the progress table records it.
#[derive(Debug, Clone)]
pub(super) struct Part {
    pub(super) spec: &'static TableSpec,
    pub(super) part: i32,
    pub(super) upto: Option<i64>,
    pub(super) after: Option<Vec<Cell>>,
}

/// Copies every unfinished part, `LANES` at a time.
pub(super) async fn copy_all(src: &Source, dst: &PgPool, opts: &TransferOptions) -> Result<Vec<TableCopy>> {
    let rows: Vec<PartRow> = sqlx::query_as(
        "SELECT table_name, part, upto, last_key, rows_copied FROM cowrieql_transfer_tables WHERE NOT done",
    )
    .persistent(false)
    .fetch_all(&mut *dst.begin().await?)
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
            .persistent(false)
            .fetch_one(&src.pool)
            .await?;
        let done: i64 =
            sqlx::query_scalar("SELECT sum(rows_copied)::bigint FROM cowrieql_transfer_tables WHERE table_name = $1")
                .persistent(false)
                .bind(spec.name)
                .fetch_one(&mut *dst.begin().await?)
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
pub(super) async fn copy_part(
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
            // A batch lost in a crash is redone from the progress table, which commits with it.
            // SET LOCAL: a session setting would stay on a pooler's server session.
            sqlx::raw_sql("SET LOCAL synchronous_commit = off").execute(&mut *t).await?;
            crate::store::postgres::copy::copy(&mut t, &copy_sql, chunk.data)
                .await
                .with_context(|| format!("copying {}", spec.name))?;
            sqlx::query(
                "UPDATE cowrieql_transfer_tables SET last_key = $3, rows_copied = rows_copied + $4 \
                 WHERE table_name = $1 AND part = $2",
            )
            .persistent(false)
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
    let mut t = conn.begin().await?;
    sqlx::query("UPDATE cowrieql_transfer_tables SET done = true WHERE table_name = $1 AND part = $2")
        .persistent(false)
        .bind(spec.name)
        .bind(p.part)
        .execute(&mut *t)
        .await?;
    t.commit().await?;
    Ok(rows)
}
