//! Every valid fixture query prepared and run on a real SQLite and a real PostgreSQL, both
//! loaded with the project's own logs and (when present) the real logs in
//! ../shared/data/real: same rows on both.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use cowrieql::check::ir::Ty;
use cowrieql::compile::compile;
use cowrieql::report::{execute, Value};
use cowrieql::sql;

fn ok_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries/ok");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Values wide enough that every fixture returns rows over the 2017-2020 logs.
fn bind_for(name: &str, ty: Ty) -> Value {
    match (name, ty) {
        (_, Ty::Timestamp) if name.contains("end") => Value::Timestamp("2100-01-01T00:00:00Z".parse().unwrap()),
        (_, Ty::Timestamp) => Value::Timestamp("2000-01-01T00:00:00Z".parse().unwrap()),
        ("min_attempts", Ty::Int) => Value::Int(3),
        (_, Ty::Int) => Value::Int(15),
        (_, Ty::Text) => Value::Null,
        ("skip_users", Ty::List) => Value::List(vec!["root".into(), "admin".into()]),
        (_, Ty::List) => Value::List(vec!["cowrie".into(), "920497a79896".into(), "svrvmcw".into()]),
        (n, t) => panic!("no test value for ${n} of type {}", t.name()),
    }
}

#[tokio::test]
async fn every_fixture_gives_the_same_rows_on_sqlite_and_postgres() {
    for corpus in corpora() {
        fixtures_agree_over(&corpus).await;
    }
}

async fn fixtures_agree_over(corpus: &Corpus) {
    let dbs = both().await;
    for db in &dbs {
        cowrieql::store::ingest::ingest(&db.store, &corpus.paths, &Default::default()).await.unwrap();
    }
    let mut empty = Vec::new();
    for f in ok_fixtures() {
        let src = std::fs::read_to_string(&f).unwrap();
        let mut results = Vec::new();
        for db in &dbs {
            let d = sql::dialect(db.label).unwrap();
            let c = compile(&src, d, &HashMap::new()).unwrap();
            let binds: Vec<Value> = c.params.iter().map(|p| bind_for(&p.name, p.ty)).collect();
            let rows = execute(&db.store, &c, &binds)
                .await
                .unwrap_or_else(|e| panic!("{} failed on {}: {e:#}\n{}", f.display(), db.label, c.sql));
            let text: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(Value::display).collect()).collect();
            results.push(text);
        }
        if results[0].is_empty() {
            empty.push(f.display().to_string());
        }
        assert_eq!(
            results[0],
            results[1],
            "{} over the {} corpus: SQLite and PostgreSQL disagree",
            f.display(),
            corpus.name
        );
    }
    assert!(empty.is_empty(), "fixtures returning no rows over the {} corpus test little: {empty:?}", corpus.name);
}
