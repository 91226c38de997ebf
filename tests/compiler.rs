//! Every fixture query snapshot-tested: its SQLite SQL, its PostgreSQL SQL, or its
//! diagnostics. `INSTA_UPDATE=always cargo test --test compiler` rewrites the snapshots;
//! review them with `git diff`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cowrieql::compile::{compile, compile_all};
use cowrieql::diag::render;
use cowrieql::sql;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries").join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cql"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().to_string()
}

/// The compiled form of `src` for `d`: setup statements, the query, its binds and output.
fn compiled_text(src: &str, f: &Path, d: &'static dyn sql::Dialect) -> String {
    let c = compile(src, d, &HashMap::new()).unwrap_or_else(|e| {
        panic!("{} on {}:\n{}", f.display(), d.name(), e.iter().map(|x| render(x, src, "q")).collect::<String>())
    });
    let mut text = String::new();
    for s in c.setup() {
        text.push_str(s);
        text.push_str(";\n\n");
    }
    text.push_str(&c.sql);
    text.push_str(";\n-- binds:");
    for (i, p) in c.params.iter().enumerate() {
        text.push_str(&format!(" {}=${}:{}", i + 1, p.name, p.ty.name()));
    }
    text.push_str("\n-- output:");
    for (n, t) in &c.output {
        text.push_str(&format!(" {n}:{}", t.name()));
    }
    text
}

/// One snapshot per fixture and dialect (insta's glob), the query first.
#[test]
fn valid_fixtures_compile_to_the_snapshotted_sql() {
    assert!(fixtures("ok").len() >= 10);
    insta::glob!("queries/ok/*.cql", |f| {
        let src = std::fs::read_to_string(f).unwrap();
        for d in sql::all_dialects() {
            let text = format!("{}\n---- {} ----\n{}", src.trim_end(), d.name(), compiled_text(&src, f, d));
            insta::assert_snapshot!(d.name(), text);
        }
    });
}

/// One snapshot per invalid fixture: the query, then its diagnostics as a terminal shows them.
#[test]
fn invalid_fixtures_give_the_snapshotted_diagnostics() {
    assert!(fixtures("err").len() >= 10);
    insta::glob!("queries/err/*.cql", |f| {
        let src = std::fs::read_to_string(f).unwrap();
        let name = format!("{}.cql", stem(f));
        let diags = match compile_all(&src, &HashMap::new()) {
            Ok(_) => panic!("{name} should not compile"),
            Err(d) => d,
        };
        let text: String = diags.iter().map(|d| render(d, &src, &name)).collect();
        insta::assert_snapshot!("diagnostics", format!("{}\n---- diagnostics ----\n{text}", src.trim_end()));
    });
}

#[test]
fn several_errors_are_reported_together() {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries/err/several_errors.cql"))
            .unwrap();
    let diags = compile_all(&src, &HashMap::new()).unwrap_err();
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    assert!(diags.len() >= 4, "{codes:?}");
    assert!(diags[0].hint.as_deref().unwrap_or("").contains("`sensor`"), "{:?}", diags[0]);
}

#[test]
fn regexp_gives_both_dialects_one_portable_pattern_and_refuses_the_rest() {
    // In a query's string a backslash is written twice: the pattern is `(?i)^wget\s+\S`.
    let src = r"from commands | where regexp(input, '(?i)^wget\\s+\\S')";
    for d in [&sql::SQLITE as &dyn sql::Dialect, &sql::POSTGRES] {
        let c = compile(src, d, &HashMap::new()).unwrap();
        assert!(c.sql.contains(r"'(?si)^wget[ \t\n\r\f\v]+[^ \t\n\r\f\v]'"), "{}: {}", d.name(), c.sql);
    }
    let src = r"from commands | where regexp(input, '(a)\\1')";
    let err = compile_all(src, &HashMap::new()).unwrap_err();
    assert_eq!(err[0].code, "E0314");
    assert_eq!(&src[err[0].span.unwrap().range()], r"'(a)\\1'");
}

#[test]
fn parameters_are_bound_never_spliced() {
    let hostile = "x'); DROP TABLE sessions; --";
    let src = "from sessions\nwhere sensor == $s";
    for d in sql::all_dialects() {
        let c = compile(src, d, &HashMap::new()).unwrap();
        assert!(!c.sql.contains("DROP"), "{}", c.sql);
        assert_eq!(c.params.len(), 1);
        assert!(!c.sql.contains(hostile));
    }
    // Text literals written in a query are quoted, not interpreted.
    let c = compile("from sessions\nwhere sensor == 'a\\'b'", &sql::SQLITE, &HashMap::new()).unwrap();
    assert!(c.sql.contains("'a''b'"), "{}", c.sql);
}

#[test]
fn json_errors_are_machine_readable() {
    let src = "from sessions\nwhere sesion_id == 'x'";
    let diags = compile_all(src, &HashMap::new()).unwrap_err();
    let j = serde_json::to_value(cowrieql::diag::locate(&diags[0], src, "q.cql")).unwrap();
    assert_eq!(j["code"], "E0201");
    assert_eq!(j["line"], 2);
    assert_eq!(j["column"], 7);
    assert_eq!(j["file"], "q.cql");
}

#[test]
fn any_white_space_and_pipes_separate_tokens_alike() {
    let declared = HashMap::new();
    let plain = "from sessions as s where s.sensor == 'a' take 5";
    let odd = "from\tsessions\u{a0}as s\r\n| where\u{2003}s.sensor == 'a' | take 5";
    let a = compile_all(plain, &declared).unwrap();
    let b = compile_all(odd, &declared).unwrap();
    assert_eq!(a, b);
    // Inside a text literal white space is kept as written.
    let c = compile_all("from sessions as s where s.sensor == 'a\u{a0}b' take 5", &declared).unwrap();
    assert!(c[0].sql.contains("'a\u{a0}b'"), "{}", c[0].sql);
}

/// Diagnostics known to need work (tests/queries/known_bad/README.md), recorded as they are.
#[test]
fn known_bad_messages_are_recorded_as_they_are() {
    insta::glob!("queries/known_bad/*.cql", |f| {
        let src = std::fs::read_to_string(f).unwrap();
        let name = format!("{}.cql", stem(f));
        let diags = compile_all(&src, &HashMap::new()).expect_err("a known-bad fixture must not compile");
        let text: String = diags.iter().map(|d| render(d, &src, &name)).collect();
        insta::assert_snapshot!("known_bad", format!("{}\n---- diagnostics ----\n{text}", src.trim_end()));
    });
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

    /// In-tree fuzzing of expressions (cargo fuzz runs the `compile` target at length): any
    /// sequence of the language's expression tokens, `case`, window functions, `let` and
    /// `append` included, compiles or gets diagnostics, never a panic, for both dialects.
    #[test]
    fn any_expression_tokens_compile_or_get_diagnostics(
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "case", "when", "then", "else", "end", "command_count", "client_version", "login_attempts",
            "1", "2.5", "'x'", "null", "true", "$p", "count()", "sum(", ")", "(", ",", "+", "==", ">",
            "and", "not", "??", "as", "int", "float", "text", "is", "in", "like", "'%a%'",
            "rank()", "lag(", "lead(", "first(", "median(", "percentile(", "0.5", "rows", "..", "-1",
            "derive", "sort", "desc", "append", "let", "window", "=", "|", "from", "by",
        ]), 1..24),
        stage in proptest::sample::select(vec![
            "derive x =", "where", "aggregate x =", "group x =", "join semi logins on", "join anti sessions as t on",
            "distinct\nwhere", "select src_ip\ndistinct\naggregate x = count_distinct(src_ip,",
            "window by sensor sort event_count derive x =", "window rows -1..1 derive x =",
            "group protocol\naggregate x =", "append (from sessions | select",
        ]),
        with_let in proptest::bool::ANY,
    ) {
        let head = if with_let { "let l = (from sessions | where event_count > 1)\nfrom l" } else { "from sessions" };
        let src = format!("{head}\n{stage} {}", tokens.join(" "));
        let compiled = compile_all(&src, &HashMap::new());
        // `cowrieql fmt`: whatever parses formats to a fixed point that means the same.
        if let Ok(once) = cowrieql::dsl::format::format(&src) {
            let twice = cowrieql::dsl::format::format(&once).expect("formatted text parses");
            proptest::prop_assert_eq!(&once, &twice);
            let sql = |c: Result<Vec<cowrieql::sql::Compiled>, _>| c.ok().map(|c| c.into_iter().map(|c| c.sql).collect::<Vec<_>>());
            proptest::prop_assert_eq!(sql(compiled), sql(compile_all(&once, &HashMap::new())));
        }
    }
}
