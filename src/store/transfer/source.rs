//! Reading the source SQLite database in key order through rusqlite on a blocking thread:
//! sqlx hands every row across threads, which cost more than the reading itself (perf).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use rusqlite::{Connection, OpenFlags};

use super::spec::{convert_row, Cell, TableSpec};

/// Source rows in key order, a batch at a time, converted (keyset pagination: each batch
/// starts after the last key of the one before, so no row is read twice or skipped).
pub(crate) struct SourceReader {
    spec: &'static TableSpec,
    conn: Connection,
    after: Option<Vec<Cell>>,
    /// Last id of this part (id-keyed tables split for parallel copying).
    upto: Option<i64>,
    batch: usize,
    done: bool,
}

impl SourceReader {
    pub fn open(
        spec: &'static TableSpec,
        path: &Path,
        after: Option<Vec<Cell>>,
        upto: Option<i64>,
        batch: usize,
    ) -> Result<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .with_context(|| format!("opening {}", path.display()))?;
        crate::store::sqlite::percentile::register_rusqlite(&conn)?;
        Ok(Self { spec, conn, after, upto, batch: batch.max(1), done: false })
    }

    pub fn spec(&self) -> &'static TableSpec {
        self.spec
    }

    pub fn next_batch(&mut self) -> Result<Option<Vec<Vec<Cell>>>> {
        if self.done {
            return Ok(None);
        }
        let spec = self.spec;
        let key_cols = spec.key.join(", ");
        // Names come from the constant specs; key values and the limit are bound.
        let mut conds = Vec::new();
        if self.after.is_some() {
            conds.push(format!("({key_cols}) > ({})", vec!["?"; spec.key.len()].join(", ")));
        }
        if self.upto.is_some() {
            conds.push("id <= ?".to_string());
        }
        let filter = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        let sql = format!("SELECT {} FROM {} {filter} ORDER BY {key_cols} LIMIT ?", spec.column_list(), spec.name);
        let mut params: Vec<rusqlite::types::Value> = self
            .after
            .iter()
            .flatten()
            .map(|c| match c {
                Cell::Int(i) => rusqlite::types::Value::Integer(*i),
                Cell::Text(s) => rusqlite::types::Value::Text(s.clone()),
                _ => rusqlite::types::Value::Null,
            })
            .collect();
        if let Some(u) = self.upto {
            params.push(rusqlite::types::Value::Integer(u));
        }
        params.push(rusqlite::types::Value::Integer(self.batch as i64));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::with_capacity(self.batch);
        while let Some(r) = rows.next()? {
            let row = convert_row(spec, r).map_err(|bad| {
                // Key columns are integers or text; name them as stored.
                let key: Vec<Cell> = (0..spec.key.len())
                    .map(|i| {
                        r.get::<_, i64>(i)
                            .map(Cell::Int)
                            .or_else(|_| r.get::<_, String>(i).map(Cell::Text))
                            .unwrap_or(Cell::Null)
                    })
                    .collect();
                anyhow!(
                    "{} {}: column {} holds {}, which is {}. Fix or delete that row in the source and run \
                     again: the copy resumes where it stopped",
                    spec.name,
                    spec.describe_key(&key),
                    bad.column,
                    bad.value,
                    bad.why
                )
            })?;
            out.push(row);
        }
        if out.len() < self.batch {
            self.done = true;
        }
        if out.is_empty() {
            return Ok(None);
        }
        self.after = out.last().map(|r| spec.key_of(r).to_vec());
        Ok(Some(out))
    }
}
