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

/// `regexp` means the same on both engines where they could differ: non-ASCII letters against
/// `\w` and `[[:alpha:]]`, newlines against `.` and `^ $`, case with `(?i)`, tabs against `\s`.
#[tokio::test]
async fn regexp_matches_alike_on_both_engines_where_they_could_differ() {
    let inputs = ["wget http://x/a.sh", "WGET x", "wget\tx", "café", "ünï 42", "line1\nline2", "x9", "日本", "a_b"];
    let tmp = tempfile::tempdir().unwrap();
    let lines: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            serde_json::json!({
                "eventid": "cowrie.command.input", "input": input, "sensor": "s", "session": format!("s{i}"),
                "src_ip": "10.0.0.1", "timestamp": format!("2025-09-15T00:00:{i:02}.000000Z"),
            })
            .to_string()
        })
        .collect();
    let file = log_file(&tmp, "cowrie.json", &(lines.join("\n") + "\n"));
    let query = r"from commands
derive w = regexp(input, '^\\w+$'), alpha = regexp(input, '^[[:alpha:]]+$'), dot = regexp(input, '^line1.line2$'),
       anchored = regexp(input, '^line2'), nocase = regexp(input, '(?i)^wget\\s'), space = regexp(input, '\\s'),
       accent = regexp(input, 'é'), digits = regexp(input, '\\d+$'), notword = regexp(input, '\\W')
select input, w, alpha, dot, anchored, nocase, space, accent, digits, notword
sort input";
    let mut results = Vec::new();
    for db in both().await {
        cowrieql::store::ingest::ingest(&db.store, std::slice::from_ref(&file), &Default::default()).await.unwrap();
        let c = compile(query, sql::dialect(db.label).unwrap(), &HashMap::new()).unwrap();
        let rows = execute(&db.store, &c, &[]).await.unwrap_or_else(|e| panic!("{}: {e:#}\n{}", db.label, c.sql));
        results.push(rows.iter().map(|r| r.iter().map(Value::display).collect::<Vec<_>>()).collect::<Vec<_>>());
    }
    assert_eq!(results[0].len(), inputs.len());
    assert_eq!(results[0], results[1], "SQLite and PostgreSQL disagree");
    // And what they agree on is the ASCII reading: `café` is not all \w, `line1\nline2` matches `.`.
    let row = |s: &str| results[0].iter().find(|r| r[0] == s).unwrap().clone();
    assert_eq!(row("café")[1], "false");
    assert_eq!(row("line1\nline2")[3], "true");
    assert_eq!(row("line1\nline2")[4], "false");
    assert_eq!(row("WGET x")[5], "true");
}

/// `percentile` gives PostgreSQL's value to the last bit on SQLite (the registered Rust
/// aggregate on the store's sqlx connections), interpolation included: many sets of values
/// (duplicates, negatives, fractions, nulls, one value, none) at many fractions.
#[tokio::test]
async fn percentile_is_postgres_percentile_cont_to_the_bit() {
    let dbs = both().await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let fractions = [0.0, 0.01, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];
    for round in 0..40 {
        let n = (next() % 12) as usize;
        let values: Vec<String> = (0..n)
            .map(|_| match next() % 10 {
                0 => "NULL".to_string(),
                1 => format!("{}", (next() % 7) as i64 - 3),
                _ => format!("{:?}", ((next() % 2_000_000) as f64 - 500_000.0) / 997.0),
            })
            .collect();
        let rows = if values.is_empty() {
            "SELECT CAST(NULL AS DOUBLE PRECISION) AS v WHERE 1 = 0".to_string()
        } else {
            values
                .iter()
                .map(|v| format!("SELECT CAST({v} AS DOUBLE PRECISION) AS v"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        };
        for p in fractions {
            let mut got = Vec::new();
            for db in &dbs {
                let v: Option<f64> = match &db.store {
                    cowrieql::store::Store::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT cowrieql_percentile(v, {p:?}) FROM ({})",
                        rows.replace("DOUBLE PRECISION", "REAL")
                    )))
                    .fetch_one(pool)
                    .await
                    .unwrap(),
                    cowrieql::store::Store::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT percentile_cont(CAST({p:?} AS DOUBLE PRECISION)) WITHIN GROUP (ORDER BY v) FROM ({rows}) AS t"
                    )))
                    .fetch_one(pool)
                    .await
                    .unwrap(),
                };
                got.push(v.map(f64::to_bits));
            }
            assert_eq!(got[0], got[1], "round {round}, values {values:?}, fraction {p}");
        }
    }
}

/// `sum` of ints is a bigint on both engines with SUM's rules: nulls skipped, null over no
/// rows or only nulls, exact up to the largest bigint, and an overflow is an error on both
/// (PostgreSQL adds with cowrieql_sum, migration 11; SQLite's SUM fails on integer overflow).
#[tokio::test]
async fn int_sum_agrees_to_the_last_bigint_and_overflow_fails_on_both() {
    let tmp = tempfile::tempdir().unwrap();
    // Sessions a (1 command), b (2), c (3).
    let mut lines = Vec::new();
    for (i, (session, input)) in
        [("a", "x"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y"), ("c", "z")].iter().enumerate()
    {
        lines.push(
            serde_json::json!({
                "eventid": "cowrie.command.input", "input": input, "sensor": "s", "session": session,
                "src_ip": "10.0.0.1", "timestamp": format!("2025-09-15T00:00:{i:02}.000000Z"),
            })
            .to_string(),
        );
    }
    let file = log_file(&tmp, "cowrie.json", &(lines.join("\n") + "\n"));
    let per_session = "from commands
where session_id != 'c'
group session_id
aggregate n = count(), total = sum($v), some = sum(case when input == 'y' then $v end),
          none = sum(case when input == 'q' then 1 end)
sort session_id";
    let nothing = "from commands | where input == 'q' | aggregate total = sum($v), n = count()";
    let overflow = "from commands | where session_id == 'c' | aggregate total = sum($v)";
    let declared = HashMap::from([("v".to_string(), Ty::Int)]);
    let half = i64::MAX / 2 + 1; // 2^62: three times this overflows; twice (half - 1) is i64::MAX - 1
    let mut results = Vec::new();
    for db in both().await {
        cowrieql::store::ingest::ingest(&db.store, std::slice::from_ref(&file), &Default::default()).await.unwrap();
        let d = sql::dialect(db.label).unwrap();
        let run = async |q: &str, v: i64| {
            let c = compile(q, d, &declared).unwrap();
            execute(&db.store, &c, &[Value::Int(v)])
                .await
                .map(|rows| rows.iter().map(|r| r.iter().map(Value::display).collect::<Vec<_>>()).collect::<Vec<_>>())
        };
        let mut got = run(per_session, half - 1).await.unwrap();
        got.extend(run(nothing, 5).await.unwrap());
        assert!(run(overflow, half).await.is_err(), "{}: 3 × 2^62 must fail, not wrap or round", db.label);
        results.push(got);
    }
    let max = (i64::MAX / 2).to_string();
    let twice = (2 * (i64::MAX / 2)).to_string();
    assert_eq!(
        results[0],
        vec![
            vec!["a".to_string(), "1".into(), max.clone(), "null".into(), "null".into()],
            vec!["b".to_string(), "2".into(), twice, max, "null".into()],
            vec!["null".to_string(), "0".into()],
        ],
        "SQLite"
    );
    assert_eq!(results[0], results[1], "SQLite and PostgreSQL disagree");
}
