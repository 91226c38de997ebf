//! Text as Cowrie writes it: bytes rendered as Python `repr` (`b'GET /\r\n'`), and credentials
//! with every byte outside 0x20..0x7E written as `\xNN` (3.0.5+).

/// The bytes a Python `repr` of bytes (`b'…'`, `b"…"`) or of a Python 2 string (`'…'`) stands
/// for; any other text stands for its own UTF-8 bytes. Escapes Python writes: `\\`, `\'`,
/// `\"`, `\t`, `\n`, `\r`, `\xNN`; anything else after a backslash is kept as written.
pub fn py_bytes(s: &str) -> Vec<u8> {
    let inner = ["b'", "b\"", "'", "\""]
        .iter()
        .find_map(|open| {
            let close = &open[open.len() - 1..];
            s.strip_prefix(open)?.strip_suffix(close).filter(|_| s.len() > open.len())
        })
        .unwrap_or(s);
    if inner.len() == s.len() {
        return s.as_bytes().to_vec();
    }
    unescape(inner.as_bytes(), true)
}

/// `\\` → `\`, `\xNN` → the byte; with `c_escapes`, also `\n`, `\r`, `\t`, `\'`, `\"`.
fn unescape(b: &[u8], c_escapes: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let next = b[i + 1];
        match next {
            b'\\' => out.push(b'\\'),
            b'x' if i + 3 < b.len() && hex(b[i + 2]).is_some() && hex(b[i + 3]).is_some() => {
                out.push(hex(b[i + 2]).unwrap_or(0) << 4 | hex(b[i + 3]).unwrap_or(0));
                i += 4;
                continue;
            }
            b'n' if c_escapes => out.push(b'\n'),
            b'r' if c_escapes => out.push(b'\r'),
            b't' if c_escapes => out.push(b'\t'),
            b'\'' | b'"' if c_escapes => out.push(next),
            _ => {
                out.push(b'\\');
                out.push(next);
            }
        }
        i += 2;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A credential as the attacker typed it: Cowrie 3.0.5+ writes the bytes of non-ASCII text
/// as `\xNN` and doubles a backslash. When every escape in `s` is such a byte (0x80 and up,
/// so never an escape an attacker could type: that would be written `\\x..`) and the bytes
/// are valid UTF-8, the decoded text; otherwise `s` as it is.
pub fn credential(s: String) -> String {
    if !s.contains("\\x") {
        return s;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => i += 2,
                Some(b'x') => match (b.get(i + 2).and_then(|&c| hex(c)), b.get(i + 3).and_then(|&c| hex(c))) {
                    (Some(h), Some(l)) if (h << 4 | l) >= 0x80 => i += 4,
                    _ => return s,
                },
                _ => return s,
            }
        } else {
            i += 1;
        }
    }
    match String::from_utf8(unescape(b, false)) {
        Ok(decoded) => decoded,
        Err(_) => s,
    }
}

/// Bytes as storable text: valid UTF-8 kept, every other byte, control character and NUL
/// written as `\xNN` (PostgreSQL text holds no NUL; both backends store the same), at most
/// `max` bytes of the result.
pub fn printable(b: &[u8], max: usize) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\x{:02x}", c as u32 & 0xff));
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
        if out.len() >= max {
            let mut cut = max;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs_become_their_bytes() {
        assert_eq!(py_bytes(r"b'GET / HTTP/1.1\r\nHost: a\r\n\r\n'"), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(py_bytes(r#"b"\x16\x03\x01it's""#), b"\x16\x03\x01it's");
        assert_eq!(py_bytes(r"'GET /\\x\n'"), b"GET /\\x\n");
        assert_eq!(py_bytes(r"b'\xzz'"), b"\\xzz");
        assert_eq!(py_bytes("plain text"), b"plain text");
        assert_eq!(py_bytes("b'"), b"b'");
        assert_eq!(py_bytes("'"), b"'");
        assert_eq!(py_bytes(r"b'\'"), b"\\");
    }

    #[test]
    fn credentials_decode_only_cowries_own_escapes() {
        let pw = r"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c";
        assert_eq!(credential(pw.into()), "пароль");
        // A backslash the attacker typed is doubled by Cowrie.
        assert_eq!(credential(r"a\\b\xc3\xa9".into()), r"a\bé");
        // Not valid UTF-8, or an escape Cowrie would not write for a byte: kept as written.
        assert_eq!(credential(r"\xff\xfe".into()), r"\xff\xfe");
        assert_eq!(credential(r"\x41dmin".into()), r"\x41dmin");
        assert_eq!(credential(r"\x0a".into()), r"\x0a");
        assert_eq!(credential(r"\xd0".into()), r"\xd0");
        assert_eq!(credential("plain".into()), "plain");
    }

    #[test]
    fn printable_text_escapes_controls_and_bad_bytes() {
        assert_eq!(printable(b"a\x00b\r\n\xffc", 100), r"a\x00b\x0d\x0a\xffc");
        assert_eq!(printable("é".repeat(10).as_bytes(), 5), "éé");
    }
}
