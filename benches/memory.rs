//! Peak memory of `cowrieql ingest` (the release binary) on hostile inputs beside an
//! ordinary file of the same tool, measured per child process with wait4's rusage in one run:
//! a 2 MB `.gz` that inflates to one 2 GiB line, a 200 MB line, and 200,000 ordinary events.
//! Memory is flat when the ratios stay near 1.
//!
//! `cargo bench --bench memory` (SQLite; COWRIEQL_BENCH_MEMORY_PG=URL also runs PostgreSQL).

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Runs `cowrieql --db DB ingest FILE` and returns its peak resident set in MiB.
fn peak_mib(db: &str, file: &Path) -> f64 {
    // Reaped by wait4 below, which also gives the child's rusage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
        .env_remove("COWRIEQL_DB")
        .args(["--db", db, "ingest"])
        .arg(file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start cowrieql");
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in for this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    assert!(libc::WIFEXITED(status), "cowrieql did not exit normally");
    // Linux reports ru_maxrss in KiB.
    usage.ru_maxrss as f64 / 1024.0
}

fn line_of(len: usize) -> Vec<u8> {
    let mut v = br#"{"eventid":"cowrie.command.input","session":"bomb","src_ip":"203.0.113.9","timestamp":"2025-09-22T10:00:00Z","input":""#.to_vec();
    v.resize(v.len() + len, b'A');
    v.extend_from_slice(b"\"}\n");
    v
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let ordinary = tmp.path().join("ordinary.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ordinary).unwrap());
    cowrieql::gen::generate(200_000, 7, &mut f).unwrap();
    drop(f);

    let long = tmp.path().join("long.json");
    let mut f = std::fs::File::create(&long).unwrap();
    f.write_all(&line_of(200 << 20)).unwrap();
    drop(f);

    // 2 GiB of one line, compressed as it is written (never held whole).
    let bomb = tmp.path().join("bomb.json.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::best());
    let head = line_of(0);
    gz.write_all(&head[..head.len() - 3]).unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..2048 {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(b"\"}\n").unwrap();
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
            println!("{name:<10} {label:<34} {bytes:>12} {mib:>10.1} {:>9.2}", mib / base);
        }
    }
}
