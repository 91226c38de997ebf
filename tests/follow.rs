//! `ingest --follow` against a writer that appends (a line in two writes included), rotates
//! by rename, truncates, and a follower killed with SIGKILL and started again; SIGTERM ends
//! it with exit 0. On both backends the end state equals one batch ingest of every line
//! written, in order: nothing lost, nothing stored twice.
//!
//! The follower is paused (SIGSTOP) around a rotation or truncation, so that it meets the
//! change with lines it has not read yet, whatever the machine's speed; waits are for the
//! database to show the lines, never for a time.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cowrieql::store::ingest::ingest;
use cowrieql::store::Store;

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(st.success(), "kill {sig}");
}

fn start_follower(url: &str, file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cowrieql"))
        .env_remove("COWRIEQL_DB")
        // One transaction per pass: a kill loses at most the pass in flight.
        .args(["--db", url, "ingest", "--follow", "--commit-every", "0.05", "--batch-size", "1000000"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the store holds `n` events (the follower commits them), failing after a
/// generous bound rather than hanging.
async fn until_stored(store: &Store, n: i64, what: &str) {
    let t0 = Instant::now();
    loop {
        let got = count(store, "raw_events").await;
        if got == n {
            return;
        }
        assert!(got < n, "{what}: {got} events stored, more than the {n} written");
        assert!(t0.elapsed() < Duration::from_secs(300), "{what}: {got} of {n} events stored after 300 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Indices where no session has lines on both sides: chunks end there, so no session is cut
/// by a kill (a session's memory of a forward lives in the follower's process).
fn clean_cuts(lines: &[&str]) -> Vec<usize> {
    let mut span: std::collections::HashMap<String, (usize, usize)> = Default::default();
    for (i, l) in lines.iter().enumerate() {
        let o: serde_json::Value = serde_json::from_str(l).unwrap();
        let k = format!("{}/{}", o["sensor"], o["session"]);
        span.entry(k).and_modify(|s| s.1 = i).or_insert((i, i));
    }
    (1..lines.len()).filter(|&i| span.values().all(|&(a, b)| !(a < i && i <= b))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_survives_appends_rotation_truncation_and_a_kill() {
    let mut data = Vec::new();
    cowrieql::gen::generate(3000, 21, &mut data).unwrap();
    let text = String::from_utf8(data).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cuts = clean_cuts(&lines);
    // Five chunks, each ending at a clean cut.
    let at = |frac: f64| *cuts.iter().find(|&&c| c as f64 >= frac * lines.len() as f64).unwrap();
    let ends = [at(0.2), at(0.4), at(0.6), at(0.8), lines.len()];
    let chunk = |i: usize| {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        lines[start..ends[i]].iter().map(|l| format!("{l}\n")).collect::<String>()
    };

    let tmp = tempfile::tempdir().unwrap();
    let reference = log_file(&tmp, "all.json", &(0..5).map(chunk).collect::<String>());
    let mut seen = Vec::new();
    for (db, want) in both().await.into_iter().zip(both().await) {
        ingest(&want.store, std::slice::from_ref(&reference), &Default::default()).await.unwrap();
        cowrieql::store::migrate::migrate(&db.store).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("cowrie.json");
        std::fs::write(&live, "").unwrap();
        let mut follower = start_follower(&db.url, &live);

        // 1. Appends, one line arriving in two writes.
        let first = chunk(0);
        let cut = first.len() - 40;
        append(&live, &first[..cut]);
        until_stored(&db.store, ends[0] as i64 - 1, "appended, last line half written").await;
        append(&live, &first[cut..]);
        until_stored(&db.store, ends[0] as i64, "appended").await;

        // 2. Rotation by rename: lines written just before it, unread when it happens.
        signal(&follower, "-STOP");
        append(&live, &chunk(1));
        std::fs::rename(&live, dir.path().join("cowrie.json.2025-09-22")).unwrap();
        std::fs::write(&live, chunk(2)).unwrap();
        signal(&follower, "-CONT");
        until_stored(&db.store, ends[2] as i64, "rotated").await;

        // 3. Truncation (copytruncate): the file starts again with new lines.
        signal(&follower, "-STOP");
        std::fs::write(&live, chunk(3)).unwrap();
        signal(&follower, "-CONT");
        until_stored(&db.store, ends[3] as i64, "truncated").await;

        // 4. Killed while the writer goes on; started again.
        append(&live, &chunk(4)[..chunk(4).len() / 2]);
        signal(&follower, "-KILL");
        follower.wait().unwrap();
        let rest = chunk(4);
        let half = rest.len() / 2;
        append(&live, &rest[half..]);
        let follower = start_follower(&db.url, &live);
        until_stored(&db.store, lines.len() as i64, "restarted").await;

        // 5. SIGTERM: commits and exits 0.
        signal(&follower, "-TERM");
        let out = follower.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {said}", db.label);
        assert!(said.contains("stopped after"), "{}: {said}", db.label);

        assert_same_data(&db, &want).await;
        seen.push(session_rows(&db.store).await);
    }
    assert_eq!(seen[0], seen[1]);
}
