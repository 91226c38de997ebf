//! Compiler speed: parse + check + emit (+ sqlparser self-check) per fixture, for both
//! dialects. `cargo bench --bench compile`.

// The allocator the `cowrieql` binary uses (src/main.rs), so the figures are the tool's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries/ok");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn bench(c: &mut Criterion) {
    let declared = HashMap::new();
    let all = fixtures();
    let mut g = c.benchmark_group("translate_both_dialects");
    for (name, src) in &all {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| cowrieql::compile::translate_all(std::hint::black_box(src), &declared).unwrap())
        });
    }
    g.bench_function("all_fixtures", |b| {
        b.iter(|| {
            for (_, src) in &all {
                cowrieql::compile::translate_all(src, &declared).unwrap();
            }
        })
    });
    g.finish();
    // The same plus the sqlparser self-check of every statement.
    let mut g = c.benchmark_group("compile_both_dialects");
    for (name, src) in all.iter().filter(|(n, _)| n == "typical_report" || n == "top_commands" || n == "window_and_let")
    {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| cowrieql::compile::compile_all(std::hint::black_box(src), &declared).unwrap())
        });
    }
    g.bench_function("all_fixtures", |b| {
        b.iter(|| {
            for (_, src) in &all {
                cowrieql::compile::compile_all(src, &declared).unwrap();
            }
        })
    });
    g.finish();
    // Every built-in report (YAML already parsed): every query for both dialects.
    let reports = cowrieql::report::builtin::reports().unwrap();
    let queries: usize = reports.iter().map(|r| r.queries.len()).sum();
    let mut g = c.benchmark_group(format!("builtin_reports_{}_reports_{queries}_queries", reports.len()));
    g.bench_function("translate_both_dialects", |b| {
        b.iter(|| {
            for r in &reports {
                let declared = cowrieql::report::run::declared_types(r);
                for q in &r.queries {
                    cowrieql::compile::translate_all(&q.text, &declared).unwrap();
                }
            }
        })
    });
    g.bench_function("compile_both_dialects", |b| {
        b.iter(|| {
            for r in &reports {
                for d in cowrieql::sql::all_dialects() {
                    cowrieql::report::run::compile_report(r, d).unwrap();
                }
            }
        })
    });
    g.finish();
    // Without the sqlparser self-check, to show what it costs.
    let typical = &all.iter().find(|(n, _)| n == "typical_report").unwrap().1;
    c.bench_function("typical_report_parse_check_only", |b| {
        b.iter(|| {
            let ast = cowrieql::dsl::parse(typical).unwrap();
            cowrieql::check::check(&ast, &declared).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
