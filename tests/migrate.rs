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
