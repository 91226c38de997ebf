//! Peak memory of `cowrieql ingest` (the release binary) on hostile inputs beside an
//! ordinary file, in one run:
//! a 2 MB `.gz` that inflates to one 2 GiB line, a 200 MB line, and 200,000 ordinary events.
//! Memory is flat when the ratios stay near 1.
//!
//! `cargo bench --bench memory` (SQLite; COWRIEQL_BENCH_MEMORY_PG=URL also runs PostgreSQL).

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Runs `cowrieql --db DB ingest FILE` and returns its peak resident set in MiB: the
/// `peak memory` of its summary line, read from its own VmHWM. (wait4's ru_maxrss would not
/// do: Linux carries the parent's high-water mark through fork and exec into the child's.)
fn peak_mib(db: &str, file: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
        .env_remove("COWRIEQL_DB")
        .args(["--db", db, "ingest"])
        .arg(file)
        .output()
        .expect("run cowrieql");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    text.split("peak memory ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {text}"))
}

const HEAD: &[u8] =
    br#"{"eventid":"cowrie.command.input","session":"bomb","src_ip":"203.0.113.9","timestamp":"2025-09-22T10:00:00Z","input":""#;

/// Writes one event whose `input` is `mib` MiB long, a MiB at a time.
fn write_long_line(w: &mut impl Write, mib: usize) {
    w.write_all(HEAD).unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..mib {
        w.write_all(&chunk).unwrap();
    }
    w.write_all(b"\"}\n").unwrap();
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let ordinary = tmp.path().join("ordinary.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ordinary).unwrap());
    cowrieql::gen::generate(200_000, 7, &mut f).unwrap();
    drop(f);

    let long = tmp.path().join("long.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&long).unwrap());
    write_long_line(&mut f, 200);
    drop(f);

    // 2 GiB of one line, compressed as it is written (never held whole).
    let bomb = tmp.path().join("bomb.json.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::best());
    write_long_line(&mut gz, 2048);
    gz.finish().unwrap();

    let mut backends = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("COWRIEQL_BENCH_MEMORY_PG") {
        backends.push(("postgres", Some(url)));
    }
    println!("{:<10} {:<34} {:>12} {:>10} {:>9}", "backend", "input", "bytes", "peak MiB", "ratio");
    for (name, url) in backends {
        let mut base = None;
        for (label, file) in
            [("200,000 ordinary events", &ordinary), ("one 200 MB line", &long), ("2 GiB line in a 2 MB .gz", &bomb)]
        {
            let db = match &url {
                Some(u) => u.clone(),
                None => tmp
                    .path()
                    .join(format!("{}.sqlite", file.file_name().unwrap().to_string_lossy()))
                    .display()
                    .to_string(),
            };
            let mib = peak_mib(&db, file);
            let base = *base.get_or_insert(mib);
            let bytes = std::fs::metadata(file).unwrap().len();
            println!("{name:<10} {label:<34} {bytes:>12} {mib:>10} {:>9.2}", mib as f64 / base as f64);
        }
    }
}
