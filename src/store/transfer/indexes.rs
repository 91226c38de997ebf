//! Secondary indexes: recorded and dropped before the copy, rebuilt once after it (a
//! sorted build is far cheaper than millions of inserts into a GIN and random B-trees).

use anyhow::{Context, Result};
use sqlx::postgres::PgPool;
use sqlx::{AssertSqlSafe, Connection};

use super::*;

/// Records and drops the secondary indexes of the copied tables (primary keys stay: ids
/// arrive in order). With `replace`, empties the tables in the same transaction.
pub(super) async fn drop_indexes(dst: &PgPool, replace: bool) -> Result<()> {
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
    .persistent(false)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    let idx: Vec<String> = sqlx::query_scalar("SELECT index_name FROM cowrieql_transfer_indexes")
        .persistent(false)
        .fetch_all(&mut *tx)
        .await?;
    for i in idx {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX IF EXISTS {}", quote_ident(&i)))).execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE cowrieql_transfer SET status = 'copying'").persistent(false).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn rebuild_indexes(dst: &PgPool, progress: &Reporter) -> Result<()> {
    let idx: Vec<(String, String)> =
        sqlx::query_as("SELECT index_name, definition FROM cowrieql_transfer_indexes ORDER BY definition LIKE '%USING gin%' DESC, index_name").persistent(false)
            .fetch_all(&mut *dst.begin().await?)
            .await?;
    let bar = progress.start("indexes", Unit::Items, idx.len() as u64, 0);
    // One table's indexes on one lane: on a partitioned table each build names an index per
    // partition, and two at once would choose the same names. The table with the GIN index
    // takes longest: it goes first, the other tables share the other lane.
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    for (name, def) in idx {
        let table = index_table(&def);
        match groups.iter_mut().find(|g| index_table(&g[0].1) == table) {
            Some(g) => g.push((name, def)),
            None => groups.push(vec![(name, def)]),
        }
    }
    let queue = std::sync::Mutex::new(std::collections::VecDeque::from(groups));
    let lane = || async {
        let mut conn = dst.acquire().await?;
        loop {
            let next = queue.lock().expect("queue lock").pop_front();
            let Some(group) = next else { break };
            for (name, def) in group {
                bar.note(name.clone());
                // pg_indexes gives `CREATE [UNIQUE] INDEX name ON …`; IF NOT EXISTS makes a rerun
                // after a kill during this step harmless.
                // A partitioned table's index reads `ON ONLY table`, which would index the parent
                // alone: built on the whole table instead.
                let def = def.replacen(" INDEX ", " INDEX IF NOT EXISTS ", 1).replacen(" ON ONLY ", " ON ", 1);
                let mut tx = conn.begin().await?;
                // SET LOCAL: a session setting would stay on a pooler's server session.
                sqlx::raw_sql("SET LOCAL maintenance_work_mem = '128MB'").execute(&mut *tx).await?;
                sqlx::raw_sql(AssertSqlSafe(def))
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("rebuilding index {name}"))?;
                sqlx::query("DELETE FROM cowrieql_transfer_indexes WHERE index_name = $1")
                    .persistent(false)
                    .bind(&name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                bar.advance(1);
            }
        }
        anyhow::Ok(())
    };
    for r in futures_util::future::join_all((0..LANES).map(|_| lane())).await {
        r?;
    }
    bar.finish();
    crate::store::postgres::partitions::name_indexes(dst).await?;
    for t in TABLES {
        sqlx::raw_sql(AssertSqlSafe(format!("ANALYZE {}", t.name))).execute(dst).await?;
    }
    Ok(())
}

/// The table an index definition (`CREATE … INDEX name ON [ONLY] table USING …`) is on.
fn index_table(def: &str) -> &str {
    let rest = def.split_once(" ON ").map_or("", |(_, r)| r);
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    rest.split_whitespace().next().unwrap_or("")
}

/// Moves each identity sequence past the largest copied id.
pub(super) async fn set_sequences(dst: &PgPool) -> Result<()> {
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
