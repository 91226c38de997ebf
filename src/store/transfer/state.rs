//! The target's record of a migration: one row saying where it is, and the per-table
//! progress rows that commit with each copied batch.

use anyhow::{anyhow, Result};
use sqlx::postgres::PgPool;
use sqlx::Row;

/// Where a migration is: the steps in order, stored as their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// The schema and progress tables exist on the target.
    Prepared,
    Copying,
    Indexing,
    Validating,
    Complete,
}

impl Status {
    const ALL: [Status; 5] =
        [Status::Prepared, Status::Copying, Status::Indexing, Status::Validating, Status::Complete];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Prepared => "prepared",
            Status::Copying => "copying",
            Status::Indexing => "indexing",
            Status::Validating => "validating",
            Status::Complete => "complete",
        }
    }

    fn parse(s: &str) -> Result<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            anyhow!("the target's cowrieql_transfer row has status {s:?}, which this cowrieql does not know")
        })
    }
}

/// What the target's `cowrieql_transfer` row says.
#[derive(Debug, Clone)]
pub(super) struct State {
    pub(super) source: String,
    pub(super) created_schema: bool,
    /// The first run was told to empty the target (a resumed run still must, if it had not).
    pub(super) replace: bool,
    pub(super) status: Status,
}

pub(super) const STATE_DDL: &str = "
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

pub(super) const STATE_TABLES: &[&str] =
    &["cowrieql_transfer_indexes", "cowrieql_transfer_tables", "cowrieql_transfer"];

pub(super) async fn exists(pg: &PgPool, table: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .persistent(false)
        .bind(table)
        .fetch_one(&mut *pg.begin().await?)
        .await?)
}

pub(super) async fn load_state(pg: &PgPool) -> Result<Option<State>> {
    if !exists(pg, "cowrieql_transfer").await? {
        return Ok(None);
    }
    let row = sqlx::query("SELECT source, created_schema, replace_target, status FROM cowrieql_transfer WHERE id = 1")
        .persistent(false)
        .fetch_optional(&mut *pg.begin().await?)
        .await?;
    row.map(|r| {
        Ok(State { source: r.get(0), created_schema: r.get(1), replace: r.get(2), status: Status::parse(r.get(3))? })
    })
    .transpose()
}

pub(super) async fn set_status(pg: &PgPool, status: Status) -> Result<()> {
    let mut tx = pg.begin().await?;
    sqlx::query("UPDATE cowrieql_transfer SET status = $1, finished_at = CASE WHEN $1 = 'complete' THEN now() END")
        .persistent(false)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_and_an_unknown_one_is_refused() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()).unwrap(), s);
        }
        assert!(Status::parse("copied").unwrap_err().to_string().contains("\"copied\""));
    }
}
