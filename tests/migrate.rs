//! Migrations on both backends.

mod common;

use common::*;
use cowrieql::catalog::TABLES as CATALOG;
use cowrieql::store::migrate::{builtin, migrate, migrate_with, status, Migration};
use cowrieql::store::Store;
use sqlx::AssertSqlSafe;

async fn try_exec(store: &Store, sql: String) -> Result<(), sqlx::Error> {
    match store {
        Store::Sqlite(p) => sqlx::query(AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
        Store::Postgres(p) => sqlx::query(AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
    }
}

#[tokio::test]
async fn fresh_migrate_then_again_is_a_noop() {
    for db in both().await {
        let all: Vec<i64> = builtin(db.store.backend()).iter().map(|m| m.version).collect();
        let before = status(&db.store).await.unwrap();
        assert!(before.iter().all(|s| s.applied_at.is_none()), "{}", db.label);
        assert_eq!(migrate(&db.store).await.unwrap(), all, "{}", db.label);
        assert_eq!(migrate(&db.store).await.unwrap(), Vec::<i64>::new(), "{}", db.label);
        let after = status(&db.store).await.unwrap();
        assert!(after.iter().all(|s| s.applied_at.is_some()), "{}", db.label);
        assert_eq!(count(&db.store, "schema_migrations").await, all.len() as i64);
    }
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    for db in both().await {
        migrate(&db.store).await.unwrap();
        let mut set = builtin(db.store.backend());
        set[0].sql.push_str("\n-- edited after release\n");
        let err = migrate_with(&db.store, &set).await.unwrap_err().to_string();
        assert!(err.contains("migration 1") && err.contains("changed after it was applied"), "{}: {err}", db.label);
        let err = cowrieql::store::migrate::status_with(&db.store, &set).await.unwrap_err().to_string();
        assert!(err.contains("changed after it was applied"), "{}: {err}", db.label);
    }
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    for db in both().await {
        let mut set = builtin(db.store.backend());
        set.push(Migration {
            version: 99,
            name: "0099_broken.sql",
            sql: "CREATE TABLE half_done (x INTEGER);\nSELECT nope FROM nowhere;".into(),
            earlier: &[],
        });
        let err = migrate_with(&db.store, &set).await.unwrap_err();
        assert!(format!("{err:#}").contains("migration 99"), "{}: {err:#}", db.label);
        assert!(try_exec(&db.store, "SELECT x FROM half_done".into()).await.is_err(), "{}: half_done exists", db.label);
        // The good migrations before it stay applied.
        assert_eq!(count(&db.store, "schema_migrations").await, set.len() as i64 - 1, "{}", db.label);
    }
}

#[tokio::test]
async fn the_catalog_matches_the_migrated_schema() {
    for db in both().await {
        migrate(&db.store).await.unwrap();
        for t in CATALOG {
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            try_exec(&db.store, format!("SELECT {} FROM {} LIMIT 0", cols.join(", "), t.name))
                .await
                .unwrap_or_else(|e| panic!("{}: catalog table {} disagrees with the schema: {e}", db.label, t.name));
        }
        assert!(try_exec(&db.store, "SELECT no_such_column FROM sessions".into()).await.is_err());
    }
}

fn names(list: &str) -> Vec<String> {
    list.split(',').map(|c| c.trim().to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every column of every table the migrations create is known to each part that must know
/// it: the report language's catalog (or listed as hidden), the transfer to PostgreSQL (or
/// its table listed as not copied), and the ingest writer of each table it fills. A migration
/// that adds a column one of them does not know fails here, on either backend.
#[tokio::test]
async fn every_migrated_column_is_known_to_the_catalog_the_transfer_and_ingest() {
    use cowrieql::catalog::{HIDDEN, INTERNAL_TABLES};
    use cowrieql::store::ingest::batch as w;
    use cowrieql::store::transfer::spec::{NOT_COPIED, TABLES as COPIED};
    let checkpoint_cols = w::CHECKPOINT_UPSERT.split_once('(').unwrap().1.split_once(')').unwrap().0;
    // The ingest writer's columns per table; `id` is each table's identity, which the database fills.
    let written: Vec<(&str, Vec<String>)> = vec![
        ("raw_events", names(w::RAW_COLUMNS)),
        ("logins", names(w::LOGIN_COLUMNS)),
        ("commands", names(w::COMMAND_COLUMNS)),
        ("downloads", names(w::TRANSFER_COLUMNS)),
        ("dead_letters", names(w::DEAD_LETTER_COLUMNS)),
        ("sessions", w::SESSION_COLUMNS.iter().map(|s| s.to_string()).collect()),
        ("ingest_checkpoints", names(checkpoint_cols)),
    ];
    for db in both().await {
        let label = db.label;
        migrate(&db.store).await.unwrap();
        let schema = cowrieql::store::tables::schema_columns(&db.store).await.unwrap();
        assert!(schema.len() >= 8, "{label}: {schema:?}");
        for (table, cols) in &schema {
            let cols: Vec<String> = cols.clone();
            // The catalog.
            match CATALOG.iter().find(|t| t.name == table) {
                Some(t) => {
                    let mut known: Vec<String> = t.columns.iter().map(|c| c.name.to_string()).collect();
                    known.extend(HIDDEN.iter().filter(|h| h.0 == table).map(|h| h.1.to_string()));
                    assert_eq!(sorted(known), sorted(cols.clone()), "{label}: catalog vs schema of {table}");
                }
                None => assert!(
                    INTERNAL_TABLES.contains(&table.as_str()),
                    "{label}: table {table} is neither in the catalog nor internal"
                ),
            }
            // The transfer.
            match COPIED.iter().find(|t| t.name == table) {
                Some(t) => assert_eq!(
                    sorted(t.columns.iter().map(|c| c.0.to_string()).collect()),
                    sorted(cols.clone()),
                    "{label}: transfer spec vs schema of {table}"
                ),
                None => assert!(
                    NOT_COPIED.iter().any(|n| n.0 == table),
                    "{label}: table {table} is neither copied by migrate-to-postgres nor listed as not copied"
                ),
            }
            // The ingest writer.
            if let Some((_, w)) = written.iter().find(|(t, _)| t == table) {
                let mut known = w.clone();
                if !known.contains(&"id".to_string()) && cols.contains(&"id".to_string()) {
                    known.push("id".into());
                }
                assert_eq!(sorted(known), sorted(cols), "{label}: ingest columns vs schema of {table}");
            }
        }
    }
}

#[tokio::test]
async fn refusals_are_typed_errors_a_caller_can_match() {
    use cowrieql::store::errors::StoreError;
    for db in both().await {
        try_exec(&db.store, "CREATE TABLE invoices (id BIGINT PRIMARY KEY)".into()).await.unwrap();
        let e = migrate(&db.store).await.unwrap_err();
        match e.downcast_ref::<StoreError>() {
            Some(StoreError::ForeignDatabase(tables)) => assert_eq!(tables, "invoices", "{}", db.label),
            other => panic!("{}: {other:?} ({e:#})", db.label),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite").display().to_string();
    let opts = cowrieql::store::ConnectOptions { create: false, ..Default::default() };
    let e = Store::connect(&missing, &opts).await.unwrap_err();
    assert!(matches!(e.downcast_ref::<StoreError>(), Some(StoreError::NoDatabase(p)) if p == &missing), "{e:#}");
}

/// The compiler drops `NULLS LAST` from a sort on a column the catalog says is never null (so
/// an index can give the order). That is only sound if the databases refuse nulls there: every
/// catalog column not marked nullable is NOT NULL (or SQLite's integer primary key) on both.
#[tokio::test]
async fn columns_the_catalog_calls_never_null_are_not_null_in_the_schema() {
    use sqlx::Row;
    for db in both().await {
        migrate(&db.store).await.unwrap();
        let sql = match db.store {
            Store::Sqlite(_) => {
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND (p.\"notnull\" OR p.pk = 1)"
            }
            Store::Postgres(_) => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND is_nullable = 'NO'"
            }
        };
        let not_null: Vec<(String, String)> = match &db.store {
            Store::Sqlite(p) => {
                sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
            }
            Store::Postgres(p) => {
                sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
            }
        };
        let mut checked = 0;
        for t in CATALOG {
            for c in t.columns.iter().filter(|c| !c.nullable) {
                assert!(
                    not_null.iter().any(|(tn, cn)| tn == t.name && cn == c.name),
                    "{}: the catalog says {}.{} is never null, the schema allows null",
                    db.label,
                    t.name,
                    c.name
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "{}: only {checked} never-null columns", db.label);
    }
}
