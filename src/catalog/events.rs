//! Where each event id Cowrie has ever written lands: the fact tables and columns it feeds,
//! or why it is kept in `raw_events` only. Every event is also a `raw_events` row, and every
//! event with a session adds to its `sessions` row's `event_count` and first/last event times.
//!
//! One table for the code's tests (an event id in a fixture that is not here fails; each
//! entry's tables are checked against what the ingest derives), `cowrieql schema --events`
//! and docs/schema.md's generated section.

/// A table an event feeds, and which of its columns.
pub type Lands = (&'static str, &'static str);

#[derive(Debug)]
pub struct EventMapping {
    pub id: &'static str,
    /// Empty: raw_events only (plus the session's event count), for the reason in `note`.
    pub lands: &'static [Lands],
    pub note: &'static str,
}

macro_rules! events {
    ($($id:literal => [$($t:literal : $c:literal),*] $note:literal;)*) => {
        &[$(EventMapping { id: $id, lands: &[$(($t, $c)),*], note: $note }),*]
    };
}

pub const EVENTS: &[EventMapping] = events![
    "cowrie.session.connect" => ["sessions": "src_ip, protocol"]
        "First event of a session; src_port, dst_ip, dst_port in the payload.";
    "cowrie.session.closed" => ["sessions": "closed, duration_s"]
        "duration_ms (3.0.4+), or duration as a number or numeric string.";
    "cowrie.session.params" => ["sessions": "arch"] "The first arch reported.";
    "cowrie.client.version" => ["sessions": "client_version"] "Python quoting removed; the payload keeps it.";
    "cowrie.client.kex" => ["sessions": "hassh"] "Algorithm lists in the payload (kexAlgs, keyAlgs, encCS, ...).";
    "cowrie.client.size" => ["sessions": "term_width, term_height, term_size_events"]
        "The last size reported, and how many times one was.";
    "cowrie.client.var" => ["sessions": "env"] "SSH env requests and Telnet NEW-ENVIRON; a later value of a name wins.";
    "cowrie.client.fingerprint" => ["sessions": "key_fingerprint"]
        "A public key offered. Not a login row: Cowrie 3.x logs the attempt as login.failed/success with the key, which is.";
    "cowrie.client.malformed_packet" => ["probes": "kind=malformed_packet, name=messagenum, value=datalen, detail=data (hex)", "sessions": "probe_count"]
        "The connection is dropped.";
    "cowrie.login.success" => ["logins": "username, password, success, method, key_type, fingerprint", "sessions": "login_attempts, login_success, username, key_fingerprint"]
        "method: publickey when the event carries a key, none for Cowrie's none-auth, exploit after telnet.exploit_success, else password (keyboard-interactive is logged as password). \\xNN credentials that decode to UTF-8 are stored decoded.";
    "cowrie.login.failed" => ["logins": "username, password, success, method, key_type, fingerprint", "sessions": "login_attempts, login_failures, key_fingerprint"]
        "As login.success.";
    "cowrie.command.input" => ["commands": "input, failed=false, realm", "sessions": "command_count (realm shell)"]
        "realm: Cowrie's realm (the program reading stdin), sh for a multi-line script body, else shell. A blank input is no command.";
    "cowrie.command.failed" => ["commands": "input, failed=true, realm", "sessions": "failed_command_count"]
        "One unknown command out of a line. A blank input is no command.";
    "cowrie.command.success" => []
        "1.x logged every command found (each also has command.input), 2.x+ only busybox applets: as commands they would be counted twice.";
    "cowrie.session.input" => ["commands": "input, failed=false, realm (the program, or stdin)"]
        "stdin fed to cat, tee, dd, base64, scp: a stdin capture, not a shell command.";
    "cowrie.command.chpasswd" => ["probes": "kind=chpasswd, username", "sessions": "probe_count"]
        "A password change an attacker made (the line itself is a command.input).";
    "cowrie.session.file_download" => ["downloads": "kind=url|redirect, url, shasum, outfile, destfile", "sessions": "download_count (kind url)"]
        "No url, or (1.x) a url that is a path: a shell redirect captured (kind redirect, the path as destfile). outfile as the bare sha.";
    "cowrie.session.file_download.failed" => ["downloads": "kind=failed, url, error"] "A wget/curl that failed.";
    "cowrie.session.file_upload" => ["downloads": "kind=upload-scp|upload-sftp, shasum, outfile, destfile", "sessions": "upload_count"]
        "SCP names destfile (and a url holding the same path, not kept as a url); SFTP a filename, kept as destfile. outfile as the bare sha.";
    "cowrie.log.open" => [] "The TTY log's name, repeated with its size on log.closed.";
    "cowrie.log.closed" => ["sessions": "ttylog, ttylog_size"] "The session's first TTY log.";
    "cowrie.direct-tcpip.request" => ["tunnels": "dst_ip, dst_port, requests, orig_ip, orig_port", "sessions": "tunnel_count"]
        "One tunnels row per (session, target); orig_* is the originator the client claimed (3.x).";
    "cowrie.direct-tcpip.data" => ["tunnels": "data_events, bytes, http_method, http_host, http_path, tls_sni, smtp_helo, smtp_mail_from"]
        "data is a Python repr of bytes: decoded, summarised, and the summaries stored with control bytes as \\xNN.";
    "cowrie.direct-tcpip.redirect" => ["tunnels": "route=redirect, new_ip, new_port"] "forward_redirect configured.";
    "cowrie.direct-tcpip.tunnel" => ["tunnels": "route=tunnel, new_ip, new_port"] "forward_tunnel configured.";
    "cowrie.direct-tcpip.ja4" => ["tunnels": "ja4"] "TLS fingerprint of the forwarded traffic.";
    "cowrie.direct-tcpip.ja4h" => ["tunnels": "ja4h"] "HTTP fingerprint of the forwarded traffic.";
    "cowrie.tunnelproxy-tcpip.data" => ["tunnels": "data_events, bytes, http_*, tls_sni, smtp_* of the session's tunnelled target"]
        "Its dst_ip:dst_port is the honeypot's own listener: the target is the session's last direct-tcpip.tunnel (or request) earlier in the same file; without one it stays raw.";
    "cowrie.telnet.option" => [] "Protocol negotiation (command, option_name, option_byte in the payload).";
    "cowrie.telnet.exploit_attempt" => ["probes": "kind=exploit_attempt, cve, name, value", "sessions": "probe_count"]
        "CVE-2026-24061: USER=-f root in NEW-ENVIRON.";
    "cowrie.telnet.exploit_success" => ["probes": "kind=exploit_success, cve, username, value=original_username, detail=attempted_command", "sessions": "probe_count"]
        "The session's next login.success is the exploit's (logins.method exploit).";
    "cowrie.telnet.error" => ["probes": "kind=telnet_error, detail=error", "sessions": "probe_count"] "A malformed Telnet stream; dropped.";
    "cowrie.virustotal.scanfile" => ["sessions": "vt_flagged"] "positives > 0; the scan is in the payload.";
    "cowrie.virustotal.scanurl" => ["sessions": "vt_flagged"] "As scanfile.";
    "cowrie.proxy.backend_connected" => [] "Proxy mode's backend bookkeeping, not attacker activity.";
    "cowrie.proxy.backend_disconnected" => [] "Proxy mode's backend bookkeeping.";
    "cowrie.proxy.backend_connect_error" => [] "Proxy mode's backend bookkeeping.";
    "cowrie.proxy.client_disconnect" => [] "Proxy mode's backend bookkeeping.";
    "cowrie.proxy.ssh" => [] "Opt-in packet dump, very high volume.";
    "cowrie.reversedns.connect" => [] "Enrichment by an output plugin (ptr, ttl in the payload).";
    "cowrie.reversedns.forward" => [] "Enrichment by an output plugin.";
    "cowrie.greynoise.result" => [] "Enrichment by an output plugin; its verdict is only in message.";
    "cowrie.urlhaus.submitted" => [] "Output-plugin bookkeeping (url, result in the payload).";
    "cowrie.malwarebazaar.submitted" => [] "Output-plugin bookkeeping.";
    "cowrie.abuseipdb.started" => [] "Output-plugin bookkeeping; no session.";
    "cowrie.abuseipdb.wakeup" => [] "Output-plugin bookkeeping; no session.";
    "cowrie.abuseipdb.ratelimited" => [] "Output-plugin bookkeeping; no session.";
    "cowrie.abuseipdb.reportedip" => [] "Output-plugin bookkeeping (IP, confidence); no session.";
    "cowrie.abuseipdb.reportfail" => [] "Output-plugin bookkeeping; no session.";
    "cowrie.threatjammer.reportedipset" => [] "2.4-2.5 plugin bookkeeping; no session.";
    "cowrie.threatjammer.reporterinitialized" => [] "2.4-2.5 plugin bookkeeping; no session.";
    "cowrie.threatjammer.reporterterminated" => [] "2.4-2.5 plugin bookkeeping; no session.";
    "cowrie.threatjammer.reportfail" => [] "2.4-2.5 plugin bookkeeping; no session.";
    "cowrie.pool_client" => [] "2.x backend-pool error.";
    "cowrie.client.connect" => [] "Never emitted by Cowrie (some consumers matched on it).";
    "cowrie.log.opened" => [] "Never emitted by Cowrie.";
    "cowrie.session.file_download_failed" => ["downloads": "kind=failed, url, error"]
        "Not in Cowrie's code (its id is session.file_download.failed), but seen in logs: read as that id.";
    "cowrie.session.file_upload_failed" => [] "Never emitted by Cowrie.";
    "cowrie.file.file_download" => [] "Never emitted by Cowrie.";
    "cowrie.file.file_upload" => [] "Never emitted by Cowrie.";
    "KIPP0001" => [] "Kippo-era (2015) ids: connect.";
    "KIPP0002" => [] "Kippo-era: login succeeded.";
    "KIPP0003" => [] "Kippo-era: login failed.";
    "KIPP0004" => [] "Kippo-era: TTY log opened.";
    "KIPP0005" => [] "Kippo-era: command found.";
    "KIPP0006" => [] "Kippo-era: command not found.";
    "KIPP0007" => [] "Kippo-era: download.";
    "KIPP0008" => [] "Kippo-era: input.";
    "KIPP0009" => [] "Kippo-era: client version.";
    "KIPP0010" => [] "Kippo-era: terminal size.";
    "KIPP0011" => [] "Kippo-era: connection lost.";
    "KIPP0012" => [] "Kippo-era: TTY log closed.";
    "KIPP0013" => [] "Kippo-era: environment.";
];

pub fn mapping(id: &str) -> Option<&'static EventMapping> {
    EVENTS.iter().find(|m| m.id == id)
}

/// The mapping as a Markdown table: docs/schema.md's generated section.
pub fn markdown() -> String {
    let mut out = String::from("| event id | lands in | notes |\n| --- | --- | --- |\n");
    for m in EVENTS {
        let lands = if m.lands.is_empty() {
            "raw_events only".to_string()
        } else {
            m.lands.iter().map(|(t, c)| format!("`{t}`: {c}")).collect::<Vec<_>>().join("; ")
        };
        out.push_str(&format!("| `{}` | {} | {} |\n", m.id, lands.replace('|', "\\|"), m.note.replace('|', "\\|")));
    }
    out
}

/// The mapping as text, for `cowrieql schema --events`.
pub fn text() -> String {
    let mut out = String::new();
    for m in EVENTS {
        out.push_str(m.id);
        out.push('\n');
        if m.lands.is_empty() {
            out.push_str(&format!("  raw_events only: {}\n", m.note));
            continue;
        }
        for (t, c) in m.lands {
            out.push_str(&format!("  {t:<9} {c}\n"));
        }
        out.push_str(&format!("  note: {}\n", m.note));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::store::ingest::event::{parse_line, Fact};

    /// The event ids of the project's fixtures and of the generator (and of the shared real
    /// logs, when they are beside the repository).
    fn fixture_ids() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts: Vec<String> =
            ["fixtures/sample/cowrie.json", "fixtures/quirks.json", "fixtures/cowrie3/cowrie.json"]
                .iter()
                .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
                .collect();
        let mut generated = Vec::new();
        crate::gen::generate(20_000, 7, &mut generated).unwrap();
        texts.push(String::from_utf8(generated).unwrap());
        let real = root.join("../shared/data/real");
        if real.is_dir() {
            let mut stack = vec![real];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if let Ok(t) = std::fs::read_to_string(&p) {
                        texts.push(t);
                    }
                }
            }
        }
        let mut ids = BTreeSet::new();
        for t in &texts {
            for line in t.lines() {
                if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(id) = o.get("eventid").and_then(|v| v.as_str()) {
                        ids.insert(id.to_string());
                    }
                }
            }
        }
        ids
    }

    #[test]
    fn every_event_id_of_the_fixtures_is_mapped() {
        let ids = fixture_ids();
        // quirks.json's stand-in for an id a later Cowrie adds: kept raw, as any unknown id.
        let unmapped: Vec<&String> =
            ids.iter().filter(|id| mapping(id).is_none() && *id != "cowrie.some.future_event").collect();
        assert!(unmapped.is_empty(), "event ids with no entry in catalog::events::EVENTS: {unmapped:?}");
        // The 3.x fixture holds the families the issue names.
        for id in ["cowrie.direct-tcpip.ja4", "cowrie.tunnelproxy-tcpip.data", "cowrie.telnet.exploit_success"] {
            assert!(ids.contains(id), "{id} missing from the fixtures");
        }
        let ids: BTreeSet<&str> = EVENTS.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), EVENTS.len(), "an event id is mapped twice");
    }

    /// The tables each entry names are the ones the ingest derives from such an event.
    #[test]
    fn each_entry_names_the_tables_its_event_feeds() {
        for m in EVENTS {
            // Every field any event's facts read, so the entry's own event decides.
            let line = format!(
                r#"{{"eventid":"{}","timestamp":"2026-01-01T00:00:00Z","session":"s","src_ip":"1.2.3.4","sensor":"h","username":"u","password":"p","input":"x","url":"http://a/b","shasum":"ab","dst_ip":"a","dst_port":80,"data":"b'GET / HTTP/1.1\\r\\n'","ja4":"t","ja4h":"g","new_ip":"b","new_port":1,"cve":"CVE-1","name":"USER","value":"v","error":"e","messagenum":5,"arch":"x","ttylog":"t","size":3,"width":80,"height":24,"hassh":"h","version":"SSH-2.0-x","duration":1,"positives":1,"fingerprint":"f"}}"#,
                m.id
            );
            let e = parse_line(line.as_bytes(), 0).unwrap();
            let mut derived = BTreeSet::new();
            match e.fact {
                Some(Fact::Login { .. }) => derived.insert("logins"),
                Some(Fact::Command { .. }) => derived.insert("commands"),
                Some(Fact::Transfer { .. }) => derived.insert("downloads"),
                Some(Fact::Probe { .. }) => derived.insert("probes"),
                None => false,
            };
            if e.tunnel.is_some() {
                derived.insert("tunnels");
            }
            let named: BTreeSet<&str> = m.lands.iter().map(|l| l.0).filter(|t| *t != "sessions").collect();
            assert_eq!(named, derived, "{}", m.id);
            // Sessions: an entry names it when the event changes more than the event count.
            let d = e.delta.unwrap();
            let plain = parse_line(line.replace(m.id, "cowrie.no.such").as_bytes(), 0).unwrap().delta.unwrap();
            let changes_session = format!("{d:?}") != format!("{plain:?}");
            let names_session = m.lands.iter().any(|l| l.0 == "sessions");
            // session.connect only fills what every event fills (src_ip, protocol) first.
            if m.id != "cowrie.session.connect" {
                assert_eq!(names_session, changes_session, "{}: sessions", m.id);
            }
        }
    }

    #[test]
    fn docs_schema_has_the_generated_mapping() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- events:begin (generated from src/catalog/events.rs) -->\n", "<!-- events:end -->");
        let (a, b) = (doc.find(begin).expect("begin marker") + begin.len(), doc.find(end).expect("end marker"));
        if std::env::var("COWRIEQL_BLESS").is_ok() {
            std::fs::write(&path, format!("{}{}{}", &doc[..a], markdown(), &doc[b..])).unwrap();
            return;
        }
        assert_eq!(&doc[a..b], markdown(), "docs/schema.md is stale: COWRIEQL_BLESS=1 cargo test docs_schema");
    }
}
