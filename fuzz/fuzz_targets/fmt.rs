//! `cowrieql fmt` never panics, and what it gives formats to itself and means the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(once) = cowrieql::dsl::format::format(src) else { return };
    let twice = cowrieql::dsl::format::format(&once).expect("formatted text parses");
    assert_eq!(once, twice, "not idempotent");
    let sql = |s: &str| {
        cowrieql::compile::compile_all(s, &Default::default()).ok().map(|c| c.into_iter().map(|c| c.sql).collect::<Vec<_>>())
    };
    assert_eq!(sql(src), sql(&once), "formatting changed the meaning");
});
