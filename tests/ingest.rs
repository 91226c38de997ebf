//! Ingest on both backends: real logs, re-ingest, partial lines, growth, rotation, garbage.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use cowrieql::store::ingest::{ingest, IngestOptions, IngestStats};
use cowrieql::store::Store;

fn opts() -> IngestOptions {
    IngestOptions { batch_lines: 700, ..Default::default() }
}

async fn load(store: &Store, paths: &[PathBuf]) -> IngestStats {
    ingest(store, paths, &opts()).await.unwrap()
}

/// What the files should produce, worked out independently of the loader with
/// `serde_json::Value`: complete lines that are objects with eventid and timestamp.
#[derive(Debug, Default)]
struct Expected {
    lines: u64,
    events: HashSet<String>,
    logins: u64,
    commands: u64,
    transfers: u64,
    /// `file_download`s that fetched a URL: not a shell redirect's capture (1.x wrote its
    /// target path as the url).
    url_downloads: u64,
    probes: u64,
    tunnels: HashSet<(String, String, String, i64)>,
    sessions: HashSet<(String, String)>,
}

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p)
            } else {
                vec![p]
            }
        })
        .filter(|p| !p.to_string_lossy().ends_with(".md"))
        .collect();
    v.sort();
    v
}

fn expected(files: &[PathBuf]) -> Expected {
    let mut x = Expected::default();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.split_inclusive('\n') {
            if !line.ends_with('\n') || line.trim().is_empty() {
                continue;
            }
            x.lines += 1;
            let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let (Some(et), Some(_)) = (o.get("eventid").and_then(|v| v.as_str()), o.get("timestamp")) else { continue };
            if !x.events.insert(line.trim_end().to_string()) {
                continue;
            }
            let sid = o.get("session").and_then(|v| v.as_str()).filter(|s| !s.is_empty());
            if let Some(sid) = sid {
                let sensor = o.get("sensor").and_then(|v| v.as_str()).unwrap_or("").to_string();
                x.sessions.insert((sensor.clone(), sid.to_string()));
                let blank = o.get("input").and_then(|v| v.as_str()).is_none_or(|s| s.trim().is_empty());
                match et {
                    "cowrie.login.success" | "cowrie.login.failed" => x.logins += 1,
                    "cowrie.command.input" | "cowrie.command.failed" | "cowrie.session.input" if !blank => {
                        x.commands += 1
                    }
                    "cowrie.session.file_download" => {
                        x.transfers += 1;
                        let url = o.get("url").and_then(|v| v.as_str()).unwrap_or("");
                        x.url_downloads += u64::from(url.contains("://"));
                    }
                    "cowrie.session.file_upload"
                    | "cowrie.session.file_download.failed"
                    | "cowrie.session.file_download_failed" => x.transfers += 1,
                    "cowrie.telnet.exploit_attempt"
                    | "cowrie.telnet.exploit_success"
                    | "cowrie.telnet.error"
                    | "cowrie.client.malformed_packet"
                    | "cowrie.command.chpasswd" => x.probes += 1,
                    _ => {}
                }
                // Every forward names its target but tunnelled data, which goes to a target
                // its session requested before.
                if et.starts_with("cowrie.direct-tcpip.") {
                    let host = o.get("dst_ip").and_then(|v| v.as_str()).unwrap_or("").to_string();
                    let port = o.get("dst_port").and_then(|v| v.as_i64()).unwrap_or(0);
                    x.tunnels.insert((sensor.clone(), sid.to_string(), host, port));
                }
            }
        }
    }
    x
}

/// The project's own logs in a folder, with one more file whose last line Cowrie is still
/// writing (cut in half), as in the real logs.
fn own_logs_with_a_cut_line(dir: &Path) -> PathBuf {
    let root = dir.join("own");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(fixture("sample/cowrie.json"), root.join("cowrie.json")).unwrap();
    std::fs::copy(fixture("quirks.json"), root.join("quirks.json")).unwrap();
    std::fs::copy(fixture("cowrie3/cowrie.json"), root.join("cowrie3.json")).unwrap();
    let mut cut = generated(300, 9);
    cut.truncate(cut.len() - 40);
    std::fs::write(root.join("cowrie.json.2025-09-23"), cut).unwrap();
    root
}

#[tokio::test]
async fn logs_give_the_expected_rows_and_the_same_rows_on_both_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let mut roots = vec![own_logs_with_a_cut_line(tmp.path())];
    roots.extend(shared_real());
    for root in roots {
        expected_rows_on_both(&root).await;
    }
}

async fn expected_rows_on_both(real: &Path) {
    let real = real.to_path_buf();
    let files = files_under(&real);
    let want = expected(&files);
    let mut results = Vec::new();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&real)).await;
        assert_eq!(st.lines, st.accepted + st.duplicates + st.dead_letters, "{}", db.label);
        assert_eq!(st.lines, want.lines, "{}: complete non-blank lines", db.label);
        assert_eq!(st.accepted, want.events.len() as u64, "{}", db.label);
        assert_eq!(st.incomplete, 1, "{}: the truncated last line waits", db.label);
        assert_eq!(count(&db.store, "raw_events").await, want.events.len() as i64, "{}", db.label);
        assert_eq!(count(&db.store, "logins").await, want.logins as i64, "{}", db.label);
        assert_eq!(count(&db.store, "commands").await, want.commands as i64, "{}", db.label);
        assert_eq!(count(&db.store, "downloads").await, want.transfers as i64, "{}", db.label);
        assert_eq!(count(&db.store, "downloads WHERE kind = 'url'").await, want.url_downloads as i64, "{}", db.label);
        assert_eq!(count(&db.store, "probes").await, want.probes as i64, "{}", db.label);
        assert_eq!(count(&db.store, "tunnels").await, want.tunnels.len() as i64, "{}", db.label);
        assert_eq!(count(&db.store, "sessions").await, want.sessions.len() as i64, "{}", db.label);
        results.push((counts(&db.store).await, session_rows(&db.store).await, fact_rows(&db.store).await));
    }
    assert_eq!(results[0].0, results[1].0, "per-table counts differ between SQLite and PostgreSQL");
    assert_eq!(results[0].1.len(), results[1].1.len());
    for (a, b) in results[0].1.iter().zip(&results[1].1) {
        assert_eq!(a, b, "session rows differ between SQLite and PostgreSQL");
    }
    assert_eq!(results[0].2, results[1].2, "fact rows differ between SQLite and PostgreSQL");
}

#[tokio::test]
async fn reingest_changes_nothing_even_without_checkpoints_or_under_another_name() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("renamed-copy.json");
    let sample = fixture("sample/cowrie.json");
    std::fs::copy(&sample, &copy).unwrap();
    for db in both().await {
        let first = load(&db.store, std::slice::from_ref(&sample)).await;
        assert!(first.accepted > 1000, "{}", db.label);
        let before = (counts(&db.store).await, session_rows(&db.store).await);

        let again = load(&db.store, std::slice::from_ref(&sample)).await;
        assert_eq!((again.lines, again.accepted), (0, 0), "{}: checkpoint skips what was read", db.label);

        exec(&db.store, "DELETE FROM ingest_checkpoints").await;
        let forced = load(&db.store, std::slice::from_ref(&sample)).await;
        assert_eq!((forced.accepted, forced.duplicates), (0, first.accepted), "{}", db.label);

        let renamed = load(&db.store, std::slice::from_ref(&copy)).await;
        assert_eq!((renamed.accepted, renamed.duplicates), (0, first.accepted), "{}", db.label);

        let mut after = (counts(&db.store).await, session_rows(&db.store).await);
        // The renamed copy and the re-read add checkpoint rows, nothing else.
        let cp = after.0.iter_mut().find(|(t, _)| *t == "ingest_checkpoints").unwrap();
        assert_eq!(cp.1, 2, "{}", db.label);
        cp.1 = 1;
        assert_eq!(before, after, "{}: re-ingest changed the store", db.label);
    }
}

async fn exec(store: &Store, sql: &'static str) {
    match store {
        Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
    }
}

#[tokio::test]
async fn a_truncated_last_line_is_read_once_it_is_complete() {
    let whole = generated(500, 4);
    // Cut the last line in half, as Cowrie leaves it while writing.
    let last_start = whole[..whole.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let cut_at = last_start + (whole.len() - last_start) / 2;
    let (bytes, rest) = whole.split_at(cut_at);
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("cowrie.json");
    std::fs::write(&live, bytes).unwrap();
    for db in both().await {
        std::fs::write(&live, bytes).unwrap();
        let first = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!(first.incomplete, 1, "{}", db.label);
        let name = std::fs::canonicalize(&live).unwrap().display().to_string();
        assert!(first.summary_line().contains(&format!("unfinished last line left for the next run in {name}")));
        assert_eq!(first.dead_letters, 0, "{}: a cut line is not garbage", db.label);
        let rows = count(&db.store, "raw_events").await;
        // Cowrie finishes the line: close the cut JSON and end the line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&live).unwrap();
        f.write_all(rest).unwrap();
        let second = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!((second.lines, second.accepted, second.incomplete), (1, 1, 0), "{}", db.label);
        assert_eq!(count(&db.store, "raw_events").await, rows + 1, "{}", db.label);
    }
}

/// A run that ended on a whole last line with no newline yet resumes on that newline: it is
/// no blank line. A real blank line after it still is one.
#[tokio::test]
async fn resuming_after_a_line_without_its_newline_counts_no_blank_line() {
    let whole = generated(40, 6);
    let text = String::from_utf8(whole).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("cowrie.json");
    for db in both().await {
        std::fs::write(&live, format!("{}\n{}", lines[..20].join("\n"), lines[20])).unwrap();
        let first = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!((first.accepted, first.incomplete, first.blank), (21, 0, 0), "{}", db.label);
        let mut f = std::fs::OpenOptions::new().append(true).open(&live).unwrap();
        write!(f, "\n{}\n", lines[21]).unwrap();
        let second = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!((second.accepted, second.blank), (1, 0), "{}: {}", db.label, second.summary_line());
        assert!(!second.summary_line().contains("blank"), "{}", second.summary_line());
        write!(f, "\n{}\n", lines[22]).unwrap();
        let third = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!((third.accepted, third.blank), (1, 1), "{}: a real blank line", db.label);
    }
}

fn generated(events: u64, seed: u64) -> Vec<u8> {
    let mut v = Vec::new();
    cowrieql::gen::generate(events, seed, &mut v).unwrap();
    v
}

#[tokio::test]
async fn a_growing_file_ingested_in_steps_equals_one_ingest() {
    let data = generated(5000, 9);
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole.json");
    std::fs::write(&whole, &data).unwrap();
    let live = tmp.path().join("cowrie.json");
    for (stepwise, oneshot) in [(fresh_sqlite().await, fresh_sqlite().await), (fresh_pg().await, fresh_pg().await)] {
        load(&oneshot.store, std::slice::from_ref(&whole)).await;
        // Cut points that fall mid-line, on a newline, and at the end.
        let mut total = IngestStats::default();
        std::fs::write(&live, b"").unwrap();
        let mut written = 0;
        for cut in [1usize, 777, 40_000, 40_001, 333_333, data.len() - 5, data.len()] {
            let mut f = std::fs::OpenOptions::new().append(true).open(&live).unwrap();
            f.write_all(&data[written..cut]).unwrap();
            written = cut;
            let st = load(&stepwise.store, std::slice::from_ref(&live)).await;
            total.lines += st.lines;
            total.accepted += st.accepted;
            total.dead_letters += st.dead_letters;
        }
        assert_eq!(total.dead_letters, 0, "{}: a line cut by a step became a dead letter", stepwise.label);
        assert_eq!(total.accepted, 5000, "{}", stepwise.label);
        let mut a = counts(&stepwise.store).await;
        let b = counts(&oneshot.store).await;
        a.iter_mut().zip(&b).for_each(|(x, y)| assert_eq!(x, y, "{}", stepwise.label));
        assert_eq!(session_rows(&stepwise.store).await, session_rows(&oneshot.store).await, "{}", stepwise.label);
        assert_eq!(fact_rows(&stepwise.store).await, fact_rows(&oneshot.store).await, "{}", stepwise.label);
    }
}

#[tokio::test]
async fn garbage_blank_and_valid_lines_are_all_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("mixed.json");
    let mut text = Vec::new();
    text.extend_from_slice(b"{\"eventid\":\"cowrie.session.connect\",\"session\":\"aa\",\"sensor\":\"s\",\"src_ip\":\"1.2.3.4\",\"timestamp\":\"2020-01-01T00:00:00Z\"}\n");
    text.extend_from_slice(b"\n   \n");
    text.extend_from_slice(b"this is not json\n");
    text.extend_from_slice(b"[\"an\", \"array\"]\n");
    text.extend_from_slice(b"{\"eventid\":\"cowrie.login.failed\",\"session\":\"aa\"}\n");
    text.extend_from_slice(b"{\"timestamp\":\"2020-01-01T00:00:01Z\"}\n");
    text.extend_from_slice(b"{\"eventid\":\"x\",\"timestamp\":\"the day after\"}\n");
    text.extend_from_slice(b"{\"eventid\":\"x\",\"timestamp\":\"2020-01-01T00:00:02Z\",\"bad\":\"\xff\xfe\"}\n");
    text.extend_from_slice(b"{\"eventid\":\"x\",\"timestamp\":\"2020-01-01T00:00:02Z\",\"nul\":\"\0\"}\n");
    text.extend_from_slice(b"{\"eventid\":\"cowrie.session.closed\",\"duration\":1.5,\"session\":\"aa\",\"sensor\":\"s\",\"timestamp\":\"2020-01-01T00:00:03Z\"}\r\n");
    let long_input = "A".repeat(2_000_000);
    text.extend_from_slice(
        format!("{{\"eventid\":\"cowrie.command.input\",\"input\":\"{long_input}\",\"session\":\"aa\",\"sensor\":\"s\",\"timestamp\":\"2020-01-01T00:00:02Z\"}}\n").as_bytes(),
    );
    std::fs::write(&f, &text).unwrap();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&f)).await;
        assert_eq!(st.blank, 2, "{}", db.label);
        assert_eq!((st.lines, st.accepted, st.dead_letters), (10, 3, 7), "{}", db.label);
        assert_eq!(st.lines, st.accepted + st.duplicates + st.dead_letters);
        let reasons = dead_letter_reasons(&db.store).await;
        for want in [
            "not valid JSON",
            "not a JSON object",
            "missing timestamp",
            "missing eventid",
            "unparsable timestamp",
            "not valid UTF-8",
        ] {
            assert!(
                reasons.iter().any(|r| r.contains(want)),
                "{}: no dead letter says {want:?}: {reasons:?}",
                db.label
            );
        }
        let rows = session_rows(&db.store).await;
        assert_eq!(rows.len(), 1);
        assert!(rows[0].contains("|Some(1.5)|3|1|0|"), "{}: {}", db.label, rows[0]);
        assert_eq!(count(&db.store, "commands").await, 1);
    }
}

async fn dead_letter_reasons(store: &Store) -> Vec<String> {
    use sqlx::Row;
    let q = "SELECT reason || ' @' || CAST(source_offset AS TEXT) FROM dead_letters ORDER BY source_offset";
    match store {
        Store::Sqlite(p) => sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
        Store::Postgres(p) => sqlx::query(q).fetch_all(p).await.unwrap().iter().map(|r| r.get(0)).collect(),
    }
}

#[tokio::test]
async fn quirks_of_every_cowrie_version_load_the_same_on_both_backends() {
    let f = fixture("quirks.json");
    let mut seen = Vec::new();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&f)).await;
        assert_eq!((st.lines, st.accepted, st.dead_letters), (18, 18, 0), "{}", db.label);
        let rows = session_rows(&db.store).await;
        // Same 12-char id on two sensors: two sessions; a 32-char id: a third.
        assert_eq!(rows.len(), 3, "{}: {rows:#?}", db.label);
        let s1 = rows.iter().find(|r| r.starts_with("\"s1\"|\"524e")).unwrap();
        assert!(
            s1.contains("|\"2018-05-19T00:03:08.825252Z\"|") || s1.contains("|2018-05-19T00:03:08.825252Z|"),
            "{s1}"
        );
        assert!(
            // The version was logged as `'SSH-2.0-libssh-0.1'`: the column holds it unquoted.
            s1.contains("|Some(6.5)|8|1|1|2|1|true|Some(\"root\")|1|0|Some(\"SSH-2.0-libssh-0.1\")|"),
            "{}: {s1}",
            db.label
        );
        let s2 = rows.iter().find(|r| r.starts_with("\"s2\"")).unwrap();
        assert!(s2.contains("Some(\"2001:db8::1\")|Some(\"telnet\")"), "{s2}");
        assert!(s2.contains("|Some(3.5)|5|0|0|1|0|true|Some(\"admin\")|0|1|"), "{}: {s2}", db.label);
        let s3 = rows.iter().find(|r| r.contains("0123456789abcdef0123456789abcdef")).unwrap();
        assert!(s3.contains("|false|true|false|None|"), "{}: virustotal positives flag the session: {s3}", db.label);
        seen.push((rows, fact_rows(&db.store).await));
    }
    assert_eq!(seen[0], seen[1]);
    // NUL in a command survives as visible text, the same on both.
    assert!(seen[0].1.iter().any(|r| r.contains("foo\\\\u0000bar")), "{:?}", seen[0].1);
}

#[tokio::test]
async fn a_rotated_file_is_read_from_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("cowrie.json");
    for db in both().await {
        std::fs::write(&live, generated(300, 1)).unwrap();
        load(&db.store, std::slice::from_ref(&live)).await;
        // Rotation: a new file under the same name, longer than the old one.
        std::fs::write(&live, generated(400, 2)).unwrap();
        let st = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!(st.restarted.len(), 1, "{}", db.label);
        assert_eq!(st.accepted, 400, "{}", db.label);
        // Truncation (copytruncate): shorter than what was read.
        std::fs::write(&live, generated(50, 3)).unwrap();
        let st = load(&db.store, std::slice::from_ref(&live)).await;
        assert_eq!((st.restarted.len(), st.accepted), (1, 50), "{}", db.label);
        assert_eq!(count(&db.store, "raw_events").await, 750, "{}", db.label);
    }
}

#[tokio::test]
async fn folders_gz_and_stdin_sources() {
    use flate2::write::GzEncoder;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs/nested");
    std::fs::create_dir_all(&dir).unwrap();
    let a = generated(200, 11);
    let b = generated(300, 12);
    std::fs::write(dir.join("cowrie.json.2025-09-21"), &a).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b).unwrap();
    std::fs::write(dir.join("cowrie.json.2025-09-20.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.join("README.txt"), b"not a log").unwrap();
    // Cowrie's text logs sit beside the JSON ones in /var/log/cowrie.
    let text_log =
        b"2025-09-21T10:00:00+0000 [twisted.scripts._twistd_unix.UnixAppLogger#info] twistd 22.10.0 starting up.\n";
    std::fs::write(dir.join("cowrie.log"), text_log).unwrap();
    std::fs::write(dir.join("cowrie.log.2025-09-20"), text_log).unwrap();
    for db in both().await {
        let st = load(&db.store, &[tmp.path().join("logs")]).await;
        assert_eq!((st.files, st.accepted, st.dead_letters), (2, 500, 0), "{}", db.label);
        assert_eq!(st.skipped_files, 3, "{}: README.txt and two text logs", db.label);
        assert!(st.summary_line().contains("3 other files in the folders skipped (not JSON logs)"));
        let again = load(&db.store, &[tmp.path().join("logs")]).await;
        assert_eq!(again.lines, 0, "{}: the .gz checkpoint holds too", db.label);
    }
}

/// Every line twice, the copies a few batches apart: on PostgreSQL two connections write
/// neighbouring batches at once, so a batch's COPY meets lines the other connection has just
/// inserted and not yet committed; it must wait, fall back to skipping them, and end exactly
/// as one ingest of the lines once.
#[tokio::test(flavor = "multi_thread")]
async fn lines_repeated_in_neighbouring_batches_are_stored_once() {
    let data = generated(4000, 21);
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut doubled = Vec::new();
    // Blocks of 600 lines, each followed by its copy: with 500-line batches a copy lands in
    // the next batch or the one after, which the other connection is writing.
    for block in lines.chunks(600) {
        for _ in 0..2 {
            block.iter().for_each(|l| doubled.extend_from_slice(l));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let (once, twice) = (tmp.path().join("once.json"), tmp.path().join("twice.json"));
    std::fs::write(&once, &data).unwrap();
    std::fs::write(&twice, &doubled).unwrap();
    let small = IngestOptions { batch_lines: 500, ..Default::default() };
    for (victim, clean) in [(fresh_sqlite().await, fresh_sqlite().await), (fresh_pg().await, fresh_pg().await)] {
        let st = ingest(&victim.store, std::slice::from_ref(&twice), &small).await.unwrap();
        assert_eq!((st.lines, st.accepted, st.duplicates), (8000, 4000, 4000), "{}", victim.label);
        load(&clean.store, std::slice::from_ref(&once)).await;
        assert_eq!(counts(&victim.store).await, counts(&clean.store).await, "{}", victim.label);
        assert_eq!(session_rows(&victim.store).await, session_rows(&clean.store).await, "{}", victim.label);
        assert_eq!(fact_rows(&victim.store).await, fact_rows(&clean.store).await, "{}", victim.label);
    }
}

/// A FIFO (as `ingest <(zcat x.gz)` gives) is read from its first byte: every line is
/// accounted for, and nothing is checkpointed by offset.
#[tokio::test(flavor = "multi_thread")]
async fn pipes_are_read_from_their_first_byte() {
    let lines = generated(1_000, 31);
    for db in both().await {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("stream.json");
        let st = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success(), "mkfifo");
        let (path, data) = (fifo.clone(), lines.clone());
        // Opening a FIFO for writing waits for its reader.
        let writer = std::thread::spawn(move || std::fs::write(path, data).unwrap());
        let st = load(&db.store, std::slice::from_ref(&fifo)).await;
        writer.join().unwrap();
        assert_eq!(st.lines, 1_000, "{}: every line of the pipe", db.label);
        assert_eq!((st.accepted, st.duplicates, st.dead_letters), (1_000, 0, 0), "{}", db.label);
        assert_eq!(count(&db.store, "raw_events").await, 1_000, "{}", db.label);
        assert_eq!(count(&db.store, "ingest_checkpoints").await, 0, "{}: a pipe has no offset to resume at", db.label);
    }
}

/// Lines that parse in one database but not the other, decided once before either sees
/// them: a byte order mark is dropped, a leap second is held at the end of its second,
/// times outside years 1970-9999 and JSON nested deeper than the limit are dead letters, on
/// both backends alike.
#[tokio::test]
async fn hostile_times_depths_and_byte_order_marks_land_alike_on_both_backends() {
    let ev = |ts: &str, extra: &str| {
        format!(r#"{{"eventid":"cowrie.session.connect","session":"h1","sensor":"s","timestamp":"{ts}"{extra}}}"#)
    };
    let nest = |n: usize| format!(r#","deep":{}1{}"#, "[".repeat(n), "]".repeat(n));
    let cowrieql_max = cowrieql::store::ingest::event::MAX_DEPTH;
    let text = [
        format!("\u{feff}{}", ev("2025-09-22T10:00:00Z", "")),
        ev("2016-12-31T23:59:60.5Z", r#","n":1"#),
        ev("0000-01-01T00:00:00Z", ""),
        ev("-0001-06-01T00:00:00Z", ""),
        ev("+10000-01-01T00:00:00Z", ""),
        ev("1969-12-31T23:59:59Z", ""),
        ev("2025-09-22T10:00:01Z", &nest(cowrieql_max - 1)),
        ev("2025-09-22T10:00:02Z", &nest(cowrieql_max + 1)),
        ev("2025-09-22T10:00:03Z", &nest(20_000)),
    ]
    .join("\n")
        + "\n";
    let tmp = tempfile::tempdir().unwrap();
    let f = log_file(&tmp, "hostile.json", &text);
    let mut seen = Vec::new();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&f)).await;
        assert_eq!((st.lines, st.accepted, st.dead_letters), (9, 3, 6), "{}", db.label);
        let reasons = dead_letter_reasons(&db.store).await;
        assert_eq!(reasons.iter().filter(|r| r.contains("outside the stored range")).count(), 4, "{reasons:?}");
        assert_eq!(reasons.iter().filter(|r| r.contains("nested deeper than")).count(), 2, "{reasons:?}");
        let rows = session_rows(&db.store).await;
        assert!(rows[0].contains("2016-12-31T23:59:59.999999Z"), "{}: the leap second: {rows:?}", db.label);
        // Every stored payload can be read back as JSON by the database itself.
        let q = "from raw_events | derive d = payload.deep | aggregate n = count(), with_deep = count(d)";
        let c = cowrieql::compile::compile(q, cowrieql::sql::dialect(db.label).unwrap(), &Default::default()).unwrap();
        let rows2 = cowrieql::report::execute(&db.store, &c, &[]).await.unwrap();
        seen.push((
            reasons,
            rows,
            rows2.iter().map(|r| r.iter().map(|v| v.display()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL disagree");
}

/// One bad file does not stop a folder: a cut .gz and one with trailing garbage give every
/// whole line before the damage, an empty .gz gives nothing, a dangling link and an
/// unreadable file are reported, and every other file is loaded.
#[tokio::test]
async fn one_bad_file_does_not_stop_a_folder() {
    use flate2::write::GzEncoder;
    let gz = |data: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let good = generated(300, 41);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.json"), generated(200, 42)).unwrap();
    let mut garbage = gz(&good);
    garbage.extend_from_slice(b"this is not gzip at all, just trailing bytes\n");
    std::fs::write(dir.join("b.json.gz"), garbage).unwrap();
    let whole = gz(&generated(2_000, 43));
    std::fs::write(dir.join("c.json.gz"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(dir.join("d.json.gz"), b"").unwrap();
    std::os::unix::fs::symlink(dir.join("gone.json"), dir.join("e.json")).unwrap();
    std::fs::write(dir.join("f.json"), generated(100, 44)).unwrap();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&dir)).await;
        assert_eq!(st.lines, st.accepted + st.duplicates + st.dead_letters, "{}", db.label);
        let problems: Vec<&str> = st.file_problems.iter().map(|(f, _)| f.rsplit('/').next().unwrap()).collect();
        assert!(
            problems.contains(&"b.json.gz") && problems.contains(&"c.json.gz"),
            "{}: {:?}",
            db.label,
            st.file_problems
        );
        assert!(problems.contains(&"e.json"), "{}: the dangling link: {:?}", db.label, st.file_problems);
        assert!(!problems.contains(&"d.json.gz") && !problems.contains(&"a.json"), "{:?}", st.file_problems);
        assert!(st.file_problems.iter().all(|(_, why)| !why.is_empty()));
        // a, b (all 300 lines before the garbage) and f whole; c up to its cut.
        let stored = count(&db.store, "raw_events").await as u64;
        assert!(stored > 200 + 300 + 100 && stored < 200 + 300 + 100 + 2_000, "{}: {stored}", db.label);
        let from_b: i64 = {
            let q = "SELECT count(*) FROM raw_events WHERE source_file LIKE '%b.json.gz'";
            match &db.store {
                Store::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await.unwrap(),
                Store::Postgres(p) => sqlx::query_scalar(q).fetch_one(p).await.unwrap(),
            }
        };
        assert_eq!(from_b, 300, "{}: every line before the trailing garbage", db.label);
        assert!(st.summary_line().contains("PROBLEM"), "{}", st.summary_line());
    }
}

/// Attacker-controlled values that an index holds are bounded: a line with one too long is
/// a dead letter on both backends (on PostgreSQL it used to fail its batch for good), and
/// the rest of the file loads.
#[tokio::test]
async fn values_too_long_for_an_index_are_dead_letters_on_both_backends() {
    let long = "x".repeat(3_000);
    let ok_long = "y".repeat(cowrieql::store::ingest::event::MAX_INDEXED_BYTES);
    let ev = |session: &str, sensor: &str, extra: &str| {
        format!(
            r#"{{"eventid":"cowrie.direct-tcpip.request","session":"{session}","sensor":"{sensor}","src_ip":"1.2.3.4","timestamp":"2025-09-22T10:00:00Z"{extra}}}"#
        )
    };
    let text = [
        ev(&long, "s", ""),
        ev("a1", &long, ""),
        ev("a2", "s", &format!(r#","dst_ip":"{long}","dst_port":80"#)),
        ev("a3", "s", &format!(r#","hassh":"{long}""#)),
        ev("a4", "s", "").replace("1.2.3.4", &long),
        ev("a5", "s", "").replace("cowrie.direct-tcpip.request", &long),
        ev(&ok_long, &ok_long, &format!(r#","dst_ip":"{ok_long}""#)),
        ev("a6", "s", ""),
    ]
    .join("\n")
        + "\n";
    let tmp = tempfile::tempdir().unwrap();
    let f = log_file(&tmp, "long.json", &text);
    let mut seen = Vec::new();
    for db in both().await {
        let st = load(&db.store, std::slice::from_ref(&f)).await;
        assert_eq!((st.lines, st.accepted, st.dead_letters), (8, 2, 6), "{}", db.label);
        let reasons = dead_letter_reasons(&db.store).await;
        for field in ["session", "sensor", "dst_ip", "hassh", "src_ip", "eventid"] {
            assert!(
                reasons.iter().any(|r| r.starts_with(&format!("field {field} is 3000 bytes"))),
                "{field}: {reasons:?}"
            );
        }
        // Lookups on the longest accepted values still answer exactly.
        let q = format!("from sessions | where session_id == '{ok_long}' | aggregate n = count()");
        let c = cowrieql::compile::compile(&q, cowrieql::sql::dialect(db.label).unwrap(), &Default::default()).unwrap();
        let n = cowrieql::report::execute(&db.store, &c, &[]).await.unwrap();
        assert_eq!(n[0][0].display(), "1", "{}", db.label);
        seen.push((reasons, session_rows(&db.store).await));
    }
    assert_eq!(seen[0], seen[1]);
}

/// A line longer than the maximum is a dead letter keeping a prefix, read in bounded memory
/// (plain and gzip), and the lines after it load; the same on both backends.
#[tokio::test]
async fn an_overlong_line_is_a_dead_letter_with_a_prefix() {
    use cowrieql::store::ingest::source::{DEAD_PREFIX, MAX_LINE};
    use flate2::write::GzEncoder;
    let before = generated(50, 51);
    let after = generated(50, 52);
    let mut data = before.clone();
    // An event whose one field runs to three times the limit.
    let head = br#"{"eventid":"cowrie.command.input","session":"big","timestamp":"2025-09-22T10:00:00Z","input":""#;
    let long_len = head.len() + 3 * MAX_LINE + 2;
    data.extend_from_slice(head);
    data.extend(std::iter::repeat_n(b'A', 3 * MAX_LINE));
    data.extend_from_slice(b"\"}\n");
    data.extend_from_slice(&after);
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("big.json");
    std::fs::write(&plain, &data).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    let zipped = tmp.path().join("big.json.gz");
    std::fs::write(&zipped, gz.finish().unwrap()).unwrap();
    for db in both().await {
        for f in [&plain, &zipped] {
            let st = load(&db.store, std::slice::from_ref(f)).await;
            assert_eq!(st.lines, 101, "{}", db.label);
            assert_eq!(st.dead_letters, 1, "{} {}", db.label, f.display());
        }
        assert_eq!(count(&db.store, "raw_events").await, 100, "{}: the lines around it, once", db.label);
        let rows = cowrieql::store::dead_letters::list(&db.store, None).await.unwrap();
        assert_eq!(rows.len(), 2);
        for r in rows {
            assert!(
                r.reason.starts_with(&format!("line of {long_len} bytes, longer than the maximum")),
                "{}",
                r.reason
            );
            assert_eq!(r.raw.len(), DEAD_PREFIX, "{}: the prefix is kept", db.label);
            assert!(r.raw.starts_with(r#"{"eventid":"cowrie.command.input""#));
        }
    }
}

/// Division and remainder by zero are NULL on both backends (PostgreSQL would raise an error
/// and fail the report there only).
#[tokio::test]
async fn division_by_zero_is_null_on_both_backends() {
    let q = "from sessions\nsort sensor, session_id\ntake 3\nselect a = login_attempts / 0, b = login_attempts % 0, c = (login_attempts as float) / 0.0, d = 7 / 2";
    let mut per_backend = Vec::new();
    for db in both().await {
        ingest(&db.store, &own_corpus().paths, &Default::default()).await.unwrap();
        let c = cowrieql::compile::compile(q, db.store.dialect(), &Default::default()).unwrap();
        let rows =
            cowrieql::report::execute(&db.store, &c, &[]).await.unwrap_or_else(|e| panic!("{}: {e:#}", db.label));
        assert_eq!(rows.len(), 3, "{}", db.label);
        for r in &rows {
            assert_eq!(
                &r[..3],
                &[cowrieql::report::Value::Null, cowrieql::report::Value::Null, cowrieql::report::Value::Null],
                "{}",
                db.label
            );
            assert_eq!(r[3], cowrieql::report::Value::Int(3), "{}: integer division", db.label);
        }
        per_backend.push(rows);
    }
    assert_eq!(per_backend[0], per_backend[1]);
}

/// Records what the library reports through its progress callback.
#[derive(Default, Clone)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<(String, u64, u64)>>>);

struct RecordedTask(Recorder, usize);

impl cowrieql::progress::Progress for Recorder {
    fn start(
        &self,
        name: &str,
        _: cowrieql::progress::Unit,
        total: u64,
        done: u64,
    ) -> std::sync::Arc<dyn cowrieql::progress::Task> {
        let mut v = self.0.lock().unwrap();
        v.push((name.to_string(), total, done));
        std::sync::Arc::new(RecordedTask(self.clone(), v.len() - 1))
    }
}

impl cowrieql::progress::Task for RecordedTask {
    fn advance(&self, n: u64) {
        (self.0).0.lock().unwrap()[self.1].2 += n;
    }
    fn note(&self, _: String) {}
    fn finish(&self) {}
}

#[tokio::test]
async fn ingest_reports_progress_through_the_callback_up_to_the_whole_file() {
    for db in both().await {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..2000)
            .map(|i| {
                format!(
                    "{{\"eventid\":\"cowrie.command.input\",\"timestamp\":\"2025-01-01T00:00:{:02}Z\",\"session\":\"s{i}\",\"src_ip\":\"1.2.3.4\",\"sensor\":\"h\",\"input\":\"ls {i}\"}}\n",
                    i % 60
                )
            })
            .collect();
        let path = log_file(&dir, "cowrie.json", &lines);
        let rec = Recorder::default();
        let o = IngestOptions {
            batch_lines: 300,
            progress: cowrieql::progress::Reporter(std::sync::Arc::new(rec.clone())),
            ..Default::default()
        };
        ingest(&db.store, &[path], &o).await.unwrap();
        let seen = rec.0.lock().unwrap().clone();
        assert_eq!(seen, vec![("ingest".to_string(), lines.len() as u64, lines.len() as u64)], "{}", db.label);
    }
}
