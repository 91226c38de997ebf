//! What a session's earlier events tell about a later one, for the two facts no single line
//! holds: the target of a tunnelled forward's data (`tunnelproxy-tcpip.data` names the
//! honeypot's own listener), and that a telnet login was the exploit's (`exploit_success`
//! comes first, then a `login.success` that looks like root with an empty password).
//!
//! Kept per reading of one file, in file order: a session cut by a checkpoint or spread over
//! two files loses it, and those facts stay as the line alone says (the data event in
//! raw_events only, the login as a password login). Only sessions that forward or exploit
//! are remembered, until they close.

use std::collections::HashMap;

use super::{Event, Fact, LoginMethod};

#[derive(Debug, Default, Clone)]
pub struct SessionMemory {
    sessions: HashMap<(String, String), Memory>,
}

#[derive(Debug, Default, Clone)]
struct Memory {
    requested: Option<(String, i64)>,
    tunnelled: Option<(String, i64)>,
    exploited: bool,
}

impl SessionMemory {
    /// Completes `e` from what its session's earlier events said, and remembers what it says.
    pub fn apply(&mut self, e: &mut Event) {
        let Some(sid) = &e.session_id else { return };
        let et = e.event_type.as_str();
        let key = (e.sensor.clone(), sid.clone());
        match et {
            "cowrie.direct-tcpip.request" | "cowrie.direct-tcpip.tunnel" => {
                if let Some(t) = e.tunnel.as_ref() {
                    let target = t.dst_ip.clone().map(|ip| (ip, t.dst_port));
                    let m = self.sessions.entry(key).or_default();
                    if et.ends_with("tunnel") {
                        m.tunnelled = target;
                    } else {
                        m.requested = target;
                    }
                }
            }
            "cowrie.tunnelproxy-tcpip.data" => {
                let target = self.sessions.get(&key).and_then(|m| m.tunnelled.clone().or_else(|| m.requested.clone()));
                if let (Some(t), Some((ip, port))) = (e.tunnel.as_mut(), target) {
                    t.dst_ip = Some(ip);
                    t.dst_port = port;
                }
            }
            "cowrie.telnet.exploit_success" => self.sessions.entry(key).or_default().exploited = true,
            "cowrie.login.success" => {
                if let Some(m) = self.sessions.get_mut(&key).filter(|m| m.exploited) {
                    m.exploited = false;
                    if let Some(Fact::Login { method, .. }) = e.fact.as_mut() {
                        *method = LoginMethod::Exploit;
                    }
                }
            }
            "cowrie.session.closed" => {
                self.sessions.remove(&key);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_line, Fact, LoginMethod};
    use super::*;

    fn line(id: &str, extra: &str) -> Event {
        let s = format!(
            r#"{{"eventid":"{id}","timestamp":"2026-01-01T00:00:00Z","session":"s1","src_ip":"1.2.3.4","sensor":"h"{extra}}}"#
        );
        parse_line(s.as_bytes(), 0).unwrap()
    }

    #[test]
    fn tunnelled_data_goes_to_the_sessions_tunnelled_target() {
        let mut m = SessionMemory::default();
        let mut data = line(
            "cowrie.tunnelproxy-tcpip.data",
            r#","dst_ip":"10.0.0.1","dst_port":2222,"data":"b'GET / HTTP/1.1\r\n\r\n'""#,
        );
        m.apply(&mut data.clone());
        assert_eq!(data.tunnel.as_ref().unwrap().dst_ip, None, "no target known yet");
        for e in [
            line("cowrie.direct-tcpip.request", r#","dst_ip":"a.example","dst_port":80"#),
            line("cowrie.direct-tcpip.request", r#","dst_ip":"b.example","dst_port":8080"#),
            line(
                "cowrie.direct-tcpip.tunnel",
                r#","dst_ip":"b.example","dst_port":8080,"new_ip":"127.0.0.1","new_port":3128"#,
            ),
        ] {
            m.apply(&mut e.clone());
        }
        m.apply(&mut data);
        let t = data.tunnel.unwrap();
        assert_eq!((t.dst_ip.as_deref(), t.dst_port), (Some("b.example"), 8080));
        assert_eq!(t.summary.http_method.as_deref(), Some("GET"));
    }

    #[test]
    fn a_login_after_an_exploit_is_the_exploits() {
        let mut m = SessionMemory::default();
        let mut login = line("cowrie.login.success", r#","username":"root","password":"""#);
        m.apply(&mut line("cowrie.telnet.exploit_success", r#","cve":"CVE-2026-24061","username":"root""#));
        m.apply(&mut login);
        assert!(matches!(login.fact, Some(Fact::Login { method: LoginMethod::Exploit, .. })));
        let mut again = line("cowrie.login.success", r#","username":"root","password":"x""#);
        m.apply(&mut again);
        assert!(matches!(again.fact, Some(Fact::Login { method: LoginMethod::Password, .. })));
        m.apply(&mut line("cowrie.session.closed", ""));
        assert!(m.sessions.is_empty());
    }
}
