//! Cowrie 3.x over the real 3.1.4 log in fixtures/cowrie3 (recorded by scripts/real-cowrie),
//! on both backends: each rule of docs/schema.md's event mapping, checked against what the
//! fixture's own lines say (read here with serde_json, independently of the loader).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use common::*;
use cowrieql::report::render::{render, Format};
use cowrieql::report::run::run;
use cowrieql::report::Value;
use cowrieql::store::ingest::ingest;
use cowrieql::store::Store;
use serde_json::Value as J;

fn fixture_lines() -> Vec<serde_json::Map<String, J>> {
    std::fs::read_to_string(fixture("cowrie3/cowrie.json"))
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            J::Object(o) => o,
            _ => panic!("not an object"),
        })
        .collect()
}

fn s<'a>(o: &'a serde_json::Map<String, J>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(J::as_str)
}

fn of<'a>(lines: &'a [serde_json::Map<String, J>], id: &str) -> Vec<&'a serde_json::Map<String, J>> {
    lines.iter().filter(|o| s(o, "eventid") == Some(id)).collect()
}

/// Rows of a report-language query, as display text (NULL as "∅").
async fn rows(store: &Store, q: &str) -> Vec<Vec<String>> {
    let c =
        cowrieql::compile::compile(q, store.dialect(), &Default::default()).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    cowrieql::report::execute::execute(store, &c, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.iter().map(|v| if matches!(v, Value::Null) { "∅".into() } else { v.display() }).collect())
        .collect()
}

/// `\xNN` text as Cowrie 3.0.5+ writes a credential, back to its UTF-8 text.
fn unescape(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"\\x") {
            out.push(u8::from_str_radix(&t[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_3x_event_family_lands_where_the_mapping_says_on_both_backends() {
    let lines = fixture_lines();
    let mut seen = Vec::new();
    for db in both().await {
        ingest(&db.store, &[fixture("cowrie3")], &Default::default()).await.unwrap();
        let st = &db.store;
        let l = db.label;

        // Logins by method: a key attempt is publickey with its key, not a blank password.
        let logins = of(&lines, "cowrie.login.failed").into_iter().chain(of(&lines, "cowrie.login.success"));
        let keys = logins.clone().filter(|o| o.contains_key("fingerprint")).count();
        let got = rows(st, "from logins | where method == 'publickey' and password is null and fingerprint is not null and key_type is not null | aggregate n = count()").await;
        assert_eq!(got, vec![vec![keys.to_string()]], "{l}");
        assert!(keys >= 3, "the fixture tries keys");
        let offered: BTreeSet<&str> =
            of(&lines, "cowrie.client.fingerprint").iter().filter_map(|o| s(o, "fingerprint")).collect();
        let tried = rows(
            st,
            "from logins | where method == 'publickey' | group fingerprint | aggregate n = count() | sort fingerprint",
        )
        .await;
        assert_eq!(tried.iter().map(|r| r[0].as_str()).collect::<BTreeSet<_>>(), offered, "{l}");
        // The exploit's login is the exploit's.
        let exploited: BTreeSet<&str> =
            of(&lines, "cowrie.telnet.exploit_success").iter().filter_map(|o| s(o, "session")).collect();
        let got = rows(st, "from logins | where method == 'exploit' | select session_id").await;
        assert_eq!(got.iter().map(|r| r[0].as_str()).collect::<BTreeSet<_>>(), exploited, "{l}");
        // Credentials written as \xNN are stored decoded.
        let escaped: Vec<String> =
            logins.filter_map(|o| s(o, "username")).filter(|u| u.contains("\\x")).map(unescape).collect();
        assert!(!escaped.is_empty());
        for u in &escaped {
            let got = rows(st, &format!("from logins | where username == '{u}' | aggregate n = count()")).await;
            assert_eq!(got, vec![vec!["1".to_string()]], "{l}: {u}");
        }

        // Downloads by kind, outfile as the sha.
        let dl = of(&lines, "cowrie.session.file_download");
        let up = of(&lines, "cowrie.session.file_upload");
        let want: BTreeMap<&str, usize> = [
            ("url", dl.iter().filter(|o| o.contains_key("url")).count()),
            ("redirect", dl.iter().filter(|o| !o.contains_key("url")).count()),
            ("upload-scp", up.iter().filter(|o| o.contains_key("destfile")).count()),
            ("upload-sftp", up.iter().filter(|o| !o.contains_key("destfile")).count()),
            ("failed", of(&lines, "cowrie.session.file_download.failed").len()),
        ]
        .into();
        assert!(want.values().all(|&n| n > 0), "{want:?}");
        let got = rows(st, "from downloads | group kind | aggregate n = count() | sort kind").await;
        let got: BTreeMap<String, usize> = got.into_iter().map(|r| (r[0].clone(), r[1].parse().unwrap())).collect();
        assert_eq!(got, want.iter().map(|(k, v)| (k.to_string(), *v)).collect(), "{l}");
        let got =
            rows(st, "from downloads | where outfile is not null and outfile != shasum | aggregate n = count()").await;
        assert_eq!(got, vec![vec!["0".to_string()]], "{l}: every outfile is its sha");
        let got = rows(st, "from sessions | aggregate d = sum(download_count), u = sum(upload_count)").await;
        assert_eq!(got, vec![vec![want["url"].to_string(), up.len().to_string()]], "{l}: URL downloads only");

        // Commands: no blank ones; realms.
        let inputs: Vec<_> = ["cowrie.command.input", "cowrie.command.failed", "cowrie.session.input"]
            .iter()
            .flat_map(|id| of(&lines, id))
            .filter(|o| s(o, "input").is_some_and(|i| !i.trim().is_empty()))
            .collect();
        let got = rows(st, "from commands | aggregate n = count(), blank = sum((trim(input) == '') as int) ?? 0").await;
        assert_eq!(got, vec![vec![inputs.len().to_string(), "0".to_string()]], "{l}");
        let shell = of(&lines, "cowrie.command.input")
            .iter()
            .filter(|o| {
                !o.contains_key("realm") && s(o, "input").is_some_and(|i| !i.trim().is_empty() && !i.contains('\n'))
            })
            .count();
        let got = rows(st, "from commands | where realm == 'shell' and not failed | aggregate n = count()").await;
        assert_eq!(got, vec![vec![shell.to_string()]], "{l}");
        let got = rows(st, "from sessions | aggregate n = sum(command_count)").await;
        assert_eq!(got, vec![vec![shell.to_string()]], "{l}: sessions count shell commands");
        let got = rows(st, "from commands | where realm == 'sh' | aggregate n = count()").await;
        assert!(got[0][0] != "0", "{l}: script bodies run by sh have their realm");

        // Tunnels: one row per requested target, the tunnelled one with its proxy's data.
        let requests = of(&lines, "cowrie.direct-tcpip.request");
        let got = rows(st, "from tunnels | aggregate n = count(), r = sum(requests)").await;
        assert_eq!(got, vec![vec![requests.len().to_string(), requests.len().to_string()]], "{l}");
        let tunnelled = of(&lines, "cowrie.direct-tcpip.tunnel");
        let t = tunnelled[0];
        let got = rows(
            st,
            &format!(
                "from tunnels | where dst_ip == '{}' and dst_port == {} | select route, new_port, data_events, http_method, http_host, ja4h",
                s(t, "dst_ip").unwrap(),
                t["dst_port"]
            ),
        )
        .await;
        assert_eq!(got.len(), 1, "{l}");
        assert_eq!(got[0][0], "tunnel");
        assert_eq!(got[0][1], t["new_port"].to_string());
        assert_eq!(got[0][2], of(&lines, "cowrie.tunnelproxy-tcpip.data").len().to_string(), "{l}");
        assert_eq!(got[0][3], "POST");
        assert_eq!(got[0][4], s(t, "dst_ip").unwrap(), "{l}: the Host header names the target");
        assert!(got[0][5] != "∅");
        // No row for the honeypot's own listener, which tunnelproxy data names.
        let got = rows(st, "from tunnels | where dst_port == 2222 | aggregate n = count()").await;
        assert_eq!(got, vec![vec!["0".to_string()]], "{l}");
        // The driver sends each TLS hello with the target as its server name.
        let got = rows(st, "from tunnels | where dst_port == 443 | select dst_ip, tls_sni, ja4").await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0][0], got[0][1], "{l}");
        assert!(got[0][2] != "∅");
        let got = rows(st, "from tunnels | where smtp_helo is not null | select smtp_helo, smtp_mail_from").await;
        assert!(got.iter().all(|r| r[1].starts_with('<')), "{l}: {got:?}");

        // Probes: one per exploit, telnet error, malformed packet and chpasswd event.
        let probe_ids = [
            ("exploit_attempt", "cowrie.telnet.exploit_attempt"),
            ("exploit_success", "cowrie.telnet.exploit_success"),
            ("telnet_error", "cowrie.telnet.error"),
            ("malformed_packet", "cowrie.client.malformed_packet"),
            ("chpasswd", "cowrie.command.chpasswd"),
        ];
        let got = rows(st, "from probes | group kind | aggregate n = count() | sort kind").await;
        let mut want: Vec<Vec<String>> =
            probe_ids.iter().map(|(k, id)| vec![k.to_string(), of(&lines, id).len().to_string()]).collect();
        want.sort();
        assert_eq!(got, want, "{l}");

        // The session's environment.
        let size = &of(&lines, "cowrie.client.size")[0];
        let got = rows(
            st,
            &format!(
                "from sessions | where session_id == '{}' | select term_width, term_height, term_size_events, arch, ttylog, ttylog_size",
                s(size, "session").unwrap()
            ),
        )
        .await;
        let closed =
            of(&lines, "cowrie.log.closed").into_iter().find(|o| s(o, "session") == s(size, "session")).unwrap();
        assert_eq!(
            got[0],
            vec![
                size["width"].to_string(),
                size["height"].to_string(),
                "1".into(),
                "linux-x64-lsb".into(),
                s(closed, "ttylog").unwrap().into(),
                closed["size"].to_string()
            ],
            "{l}"
        );
        for var in of(&lines, "cowrie.client.var") {
            let got =
                rows(st, &format!("from sessions | where session_id == '{}' | select env", s(var, "session").unwrap()))
                    .await;
            let env: J = serde_json::from_str(&got[0][0]).unwrap();
            assert_eq!(env[s(var, "name").unwrap()], var["value"], "{l}");
        }
        let key_session = of(&lines, "cowrie.client.fingerprint")[0];
        let got = rows(
            st,
            &format!(
                "from sessions | where session_id == '{}' | select key_fingerprint",
                s(key_session, "session").unwrap()
            ),
        )
        .await;
        assert_eq!(got[0][0], s(key_session, "fingerprint").unwrap(), "{l}");

        seen.push((session_rows(st).await, fact_rows(st).await));
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL disagree");
}

/// Sessions whose events arrive in many small batches (so every merge runs in the database)
/// end up exactly as with one batch, on both backends.
#[tokio::test]
async fn session_and_tunnel_merges_do_not_depend_on_batch_boundaries() {
    let mut seen = Vec::new();
    for batch_lines in [1usize, 3, 10_000] {
        for db in both().await {
            let opts = cowrieql::store::ingest::IngestOptions { batch_lines, ..Default::default() };
            ingest(&db.store, &[fixture("cowrie3")], &opts).await.unwrap();
            let tunnels = rows(&db.store, "from tunnels | sort sensor, session_id, dst_ip, dst_port").await;
            seen.push((batch_lines, db.label, session_rows(&db.store).await, fact_rows(&db.store).await, tunnels));
        }
    }
    for s in &seen[1..] {
        assert_eq!(s.2, seen[0].2, "sessions: batches of {} on {}", s.0, s.1);
        assert_eq!(s.3, seen[0].3, "facts: batches of {} on {}", s.0, s.1);
        assert_eq!(s.4, seen[0].4, "tunnels: batches of {} on {}", s.0, s.1);
    }
}

#[tokio::test]
async fn html_and_text_tell_null_from_an_empty_string() {
    let yaml = "name: t\ntitle: T\nqueries:\n  q:\n    title: Q\n    query: |\n      from logins\n      \
                where method != 'password'\n      select method, username, password\n      sort method, username\n";
    let report =
        cowrieql::report::def::Report::parse(yaml, "t.yaml", &cowrieql::report::def::DiskFiles(std::env::temp_dir()))
            .unwrap();
    for db in both().await {
        ingest(&db.store, &[fixture("cowrie3")], &Default::default()).await.unwrap();
        let r = run(&db.store, &report, &[], Utc::now()).await.unwrap();
        // The exploit's login has an empty password; a key attempt has none.
        let rows = &r.results[0].rows;
        assert!(rows.iter().any(|r| matches!(&r[2], Value::Text(t) if t.is_empty())), "{}", db.label);
        assert!(rows.iter().any(|r| matches!(&r[2], Value::Null)), "{}", db.label);
        let html = render(&r, Format::Html, None, None).unwrap();
        assert!(html.contains(r#"<td><span class="null" title="an empty string">(empty)</span></td>"#), "{}", db.label);
        assert!(html.contains(r#"<td><span class="null" title="no value (null)">&#8212;</span></td>"#), "{}", db.label);
        let text = render(&r, Format::Text, None, None).unwrap();
        let exploit = text.lines().find(|l| l.starts_with("exploit")).unwrap();
        let key = text.lines().find(|l| l.starts_with("publickey")).unwrap();
        assert!(exploit.trim_end().ends_with("(empty)") && !key.contains("(empty)"), "{}:\n{text}", db.label);
    }
}

/// `db rederive` over more stored events than it reads at once (its chunk), with sessions
/// running across chunks, gives exactly what one ingest gives, on both backends. (PostgreSQL
/// failed here once: a session staged by one chunk met the next chunk's piece in one upsert.)
#[tokio::test]
async fn rederive_across_many_chunks_equals_the_ingest() {
    let chunk = cowrieql::store::ingest::rederive::CHUNK as u64;
    let tmp = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    cowrieql::gen::generate(chunk * 2 + 500, 9, &mut data).unwrap();
    let file = tmp.path().join("cowrie.json");
    std::fs::write(&file, data).unwrap();
    for db in both().await {
        ingest(&db.store, std::slice::from_ref(&file), &Default::default()).await.unwrap();
        let want = (session_rows(&db.store).await, fact_rows(&db.store).await, counts(&db.store).await);
        let done = cowrieql::store::ingest::rederive::rederive(&db.store, &Default::default()).await.unwrap();
        assert!(done.events > chunk * 2, "{}: {} events", db.label, done.events);
        let got = (session_rows(&db.store).await, fact_rows(&db.store).await, counts(&db.store).await);
        assert_eq!(got, want, "{}: rederive differs from the ingest", db.label);
    }
}

/// `db rederive` gives exactly what one ingest gives, and a database loaded before the 3.x
/// facts migration gets them when it is migrated, on both backends.
#[tokio::test]
async fn facts_are_rederived_after_the_migration_that_changed_the_rules() {
    use cowrieql::store::migrate;
    let files = [fixture("sample"), fixture("quirks.json"), fixture("cowrie3")];
    for db in both().await {
        ingest(&db.store, &files, &Default::default()).await.unwrap();
        let want = (session_rows(&db.store).await, fact_rows(&db.store).await, counts(&db.store).await);
        let done = cowrieql::store::ingest::rederive::rederive(&db.store, &Default::default()).await.unwrap();
        assert_eq!(done.events as i64, count(&db.store, "raw_events").await, "{}", db.label);
        assert_eq!(done.unparsable, 0);
        let got = (session_rows(&db.store).await, fact_rows(&db.store).await, counts(&db.store).await);
        assert_eq!(got, want, "{}: rederive differs from the ingest", db.label);

        // An old database: the schema before the rules changed, its events stored.
        let old = match db.store.backend() {
            cowrieql::store::Backend::Sqlite => common::fresh_sqlite().await,
            cowrieql::store::Backend::Postgres => common::fresh_pg().await,
        };
        let set = migrate::builtin(old.store.backend());
        let before = if db.label == "sqlite" { 4 } else { 7 };
        migrate::migrate_with(&old.store, &set[..before]).await.unwrap();
        let rows: Vec<(String, i64, String)> = match &db.store {
            Store::Sqlite(p) => {
                sqlx::query_as("SELECT source_file, source_offset, payload FROM raw_events ORDER BY id")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            Store::Postgres(p) => {
                sqlx::query_as("SELECT source_file, source_offset, payload::text FROM raw_events ORDER BY id")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
        };
        for (file, offset, payload) in &rows {
            let e = cowrieql::store::ingest::event::parse_line(payload.as_bytes(), 0).unwrap();
            let sql = "INSERT INTO raw_events (session_id, event_type, ts, src_ip, sensor, payload, source_file, \
                       source_offset, content_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
            macro_rules! insert {
                ($p:expr, $ts:expr) => {
                    sqlx::query(sql)
                        .bind(&e.session_id)
                        .bind(&e.event_type)
                        .bind($ts)
                        .bind(&e.src_ip)
                        .bind(&e.sensor)
                        .bind(payload)
                        .bind(file)
                        .bind(offset)
                        .bind(&e.hash[..])
                        .execute($p)
                        .await
                        .unwrap();
                };
            }
            match &old.store {
                Store::Sqlite(p) => {
                    insert!(p, &e.ts_text);
                }
                Store::Postgres(p) => {
                    let q = sql.replace("$6,", "$6::jsonb,");
                    sqlx::query(sqlx::AssertSqlSafe(q))
                        .bind(&e.session_id)
                        .bind(&e.event_type)
                        .bind(e.ts)
                        .bind(&e.src_ip)
                        .bind(&e.sensor)
                        .bind(payload)
                        .bind(file)
                        .bind(offset)
                        .bind(&e.hash[..])
                        .execute(p)
                        .await
                        .unwrap();
                }
            }
        }
        let ran = migrate::migrate(&old.store).await.unwrap();
        assert!(!ran.is_empty(), "{}", old.label);
        let got = (session_rows(&old.store).await, fact_rows(&old.store).await);
        assert_eq!(got, (want.0.clone(), want.1.clone()), "{}: a migrated old database has the new facts", old.label);
    }
}

/// The commands report counts shell commands unless asked for another realm (or all), and
/// the counts are the fixture's own, on both backends.
#[tokio::test]
async fn the_commands_report_counts_the_realm_it_is_asked_for() {
    let lines = fixture_lines();
    let ran = |realm: Option<&str>| {
        let mut n = 0usize;
        for id in ["cowrie.command.input", "cowrie.session.input"] {
            for o in of(&lines, id) {
                let Some(input) = s(o, "input").filter(|i| !i.trim().is_empty()) else { continue };
                let r = match s(o, "realm").filter(|r| !r.is_empty()) {
                    Some(r) => r,
                    None if id == "cowrie.session.input" => "stdin",
                    None if input.contains('\n') => "sh",
                    None => "shell",
                };
                n += usize::from(realm.is_none_or(|want| want == r));
            }
        }
        n
    };
    let report = cowrieql::report::builtin::builtin("commands").unwrap().unwrap();
    let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 31, 0, 0, 0).unwrap();
    let mut seen = Vec::new();
    for db in both().await {
        ingest(&db.store, &[fixture("cowrie3")], &Default::default()).await.unwrap();
        let mut totals = Vec::new();
        for (realm, want) in [(None, ran(Some("shell"))), (Some("all"), ran(None)), (Some("sh"), ran(Some("sh")))] {
            let mut params = vec![("window".to_string(), "all".to_string()), ("top".into(), "1000".into())];
            params.extend(realm.map(|r| ("realm".to_string(), r.to_string())));
            let r = run(&db.store, &report, &params, now).await.unwrap();
            let top = r.results.iter().find(|q| q.name == "top_commands").unwrap();
            let got: i64 = top.rows.iter().map(|row| if let Value::Int(n) = row[1] { n } else { 0 }).sum();
            assert_eq!(got as usize, want, "{}: realm {realm:?}", db.label);
            totals.push(got);
        }
        assert!(totals[1] > totals[0] && totals[2] > 0, "{}: the fixture has other realms: {totals:?}", db.label);
        seen.push(totals);
    }
    assert_eq!(seen[0], seen[1]);
}

/// A source's ids interleaved with another's (ingests running at once, or a file read again
/// after it grew): `db rederive` keeps each source's session memory across the interleaving and
/// gives what one ingest of each whole file gives: here a telnet login that follows its
/// exploit in the file, with another file's rows stored between the two, on both backends.
#[tokio::test]
async fn rederive_remembers_per_source_when_sources_interleave() {
    let ev = |session: &str, second: u32, rest: &str| {
        format!(
            r#"{{"session":"{session}","protocol":"telnet","src_ip":"10.1.1.1","sensor":"h",{rest},"timestamp":"2025-09-16T02:46:{second:02}.000000Z"}}"#
        ) + "\n"
    };
    let a1 = ev(
        "aaaa00000001",
        1,
        r#""eventid":"cowrie.session.connect","dst_ip":"10.0.0.5","dst_port":2223,"src_port":1"#,
    ) + &ev(
        "aaaa00000001",
        2,
        r#""eventid":"cowrie.telnet.exploit_success","cve":"CVE-2026-24061","username":"root","original_username":"-f root""#,
    );
    let b =
        ev("bbbb00000002", 3, r#""eventid":"cowrie.session.connect","dst_ip":"10.0.0.5","dst_port":2223,"src_port":2"#)
            + &ev("bbbb00000002", 4, r#""eventid":"cowrie.login.failed","username":"admin","password":"x""#);
    let a2 = ev("aaaa00000001", 5, r#""eventid":"cowrie.login.success","username":"root","password":"""#)
        + &ev("aaaa00000001", 6, r#""eventid":"cowrie.session.closed","duration":5.0"#);
    let method = async |db: &TestDb| {
        let q = cowrieql::compile::compile(
            "from logins | where success | select method",
            db.store.dialect(),
            &Default::default(),
        )
        .unwrap();
        cowrieql::report::execute(&db.store, &q, &[]).await.unwrap().iter().map(|r| r[0].display()).collect::<Vec<_>>()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (fa, fb) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    for (db, whole) in both().await.into_iter().zip(both().await) {
        // Stored as a1, b, a2: a's second read starts with a fresh memory (the ingest's rule).
        std::fs::write(&fa, &a1).unwrap();
        std::fs::write(&fb, &b).unwrap();
        ingest(&db.store, std::slice::from_ref(&fa), &Default::default()).await.unwrap();
        ingest(&db.store, std::slice::from_ref(&fb), &Default::default()).await.unwrap();
        std::fs::write(&fa, a1.clone() + &a2).unwrap();
        ingest(&db.store, std::slice::from_ref(&fa), &Default::default()).await.unwrap();
        assert_eq!(method(&db).await, vec!["password"], "{}: the resumed read forgot the exploit", db.label);
        // One ingest of each whole file.
        ingest(&whole.store, &[fa.clone(), fb.clone()], &Default::default()).await.unwrap();
        assert_eq!(method(&whole).await, vec!["exploit"], "{}", db.label);
        cowrieql::store::ingest::rederive::rederive(&db.store, &Default::default()).await.unwrap();
        assert_eq!(method(&db).await, vec!["exploit"], "{}: rederive", db.label);
        assert_eq!(fact_rows(&db.store).await, fact_rows(&whole.store).await, "{}", db.label);
        assert_eq!(session_rows(&db.store).await, session_rows(&whole.store).await, "{}", db.label);
    }
}
