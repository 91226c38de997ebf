//! `regexp(text, pattern)` with a pattern both databases read the same way: PostgreSQL's
//! advanced regular expressions and the `regex` crate (registered on every SQLite connection)
//! agree on a subset, and a literal pattern is checked against it and written in a form whose
//! meaning does not depend on the engine or the server's locale (docs/language.md, regexp).

/// The ASCII classes `\d \w \s` stand for on both (PostgreSQL's depend on the locale, the
/// crate's are Unicode).
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = " \\t\\n\\r\\f\\v";

/// The pattern as both engines get it: `(?s)` first (PostgreSQL's default, where `.` matches a
/// newline; the crate's `s` flag), a leading `(?i)` kept, `\d \w \s` (and their negations)
/// spelt as ASCII brackets. Err says what is outside the common subset.
pub fn portable(pattern: &str) -> Result<String, String> {
    let mut rest = pattern;
    let mut flags = String::from("s");
    if let Some(r) = rest.strip_prefix("(?i)") {
        flags.push('i');
        rest = r;
    }
    let mut out = format!("(?{flags})");
    let mut chars = rest.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else { return Err("it ends with a lone `\\`".into()) };
                let class = match e {
                    'd' => Some((false, DIGIT)),
                    'D' => Some((true, DIGIT)),
                    'w' => Some((false, WORD)),
                    'W' => Some((true, WORD)),
                    's' => Some((false, SPACE)),
                    'S' => Some((true, SPACE)),
                    _ => None,
                };
                match class {
                    Some((true, _)) if in_bracket => {
                        return Err(format!("`\\{e}` inside brackets is read differently by the two databases"))
                    }
                    Some((_, set)) if in_bracket => out.push_str(set),
                    Some((negated, set)) => {
                        out.push_str(if negated { "[^" } else { "[" });
                        out.push_str(set);
                        out.push(']');
                    }
                    None if e.is_ascii_punctuation() => {
                        out.push('\\');
                        out.push(e);
                    }
                    None if matches!(e, 't' | 'n' | 'r' | 'f' | 'v') => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => {
                        return Err(format!(
                            "`\\{e}` means different things to the two databases (or is not known to one)"
                        ))
                    }
                }
            }
            '[' if !in_bracket => {
                in_bracket = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                // A `]` right after the opening is a literal on both: written escaped.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_bracket => {
                // Only a POSIX class (`[:alpha:]`) opens inside brackets.
                if chars.peek() != Some(&':') {
                    out.push_str("\\[");
                    continue;
                }
                let mut name = String::new();
                for n in chars.by_ref() {
                    name.push(n);
                    if name.len() > 1 && name.ends_with(":]") {
                        break;
                    }
                }
                // Spelt as ASCII ranges: PostgreSQL's classes follow the server's locale.
                let set = match name.as_str() {
                    ":alpha:]" => "A-Za-z",
                    ":digit:]" => DIGIT,
                    ":alnum:]" => "0-9A-Za-z",
                    ":upper:]" => "A-Z",
                    ":lower:]" => "a-z",
                    ":space:]" => SPACE,
                    ":blank:]" => " \\t",
                    ":xdigit:]" => "0-9A-Fa-f",
                    _ => return Err(format!("`[{name}` is not one of the classes both read alike (alpha, digit, alnum, upper, lower, space, blank, xdigit)")),
                };
                out.push_str(set);
            }
            ']' if in_bracket => {
                in_bracket = false;
                out.push(']');
            }
            '(' if !in_bracket && chars.peek() == Some(&'?') => {
                chars.next();
                if chars.next_if_eq(&':').is_none() {
                    return Err(
                        "`(?…)` other than `(?:…)` and a leading `(?i)` (lookaround, named groups, flags) is not \
                         read the same way by both databases"
                            .into(),
                    );
                }
                out.push_str("(?:");
            }
            c => out.push(c),
        }
    }
    if in_bracket {
        return Err("a `[` is not closed".into());
    }
    regex::Regex::new(&out).map_err(|e| format!("it is not a regular expression: {}", first_line(&e.to_string())))?;
    Ok(out)
}

fn first_line(s: &str) -> String {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::portable;

    #[test]
    fn the_common_subset_is_kept_and_classes_are_spelt_out() {
        assert_eq!(portable("^wget .*\\.sh$").unwrap(), "(?s)^wget .*\\.sh$");
        assert_eq!(portable("(?i)busybox").unwrap(), "(?si)busybox");
        assert_eq!(portable("\\d+\\.\\d+").unwrap(), "(?s)[0-9]+\\.[0-9]+");
        assert_eq!(portable("[\\w.-]+@").unwrap(), "(?s)[0-9A-Za-z_.-]+@");
        assert_eq!(portable("[[:alpha:]_]{3}").unwrap(), "(?s)[A-Za-z_]{3}");
        assert_eq!(portable("(?:ab|cd)\\W").unwrap(), "(?s)(?:ab|cd)[^0-9A-Za-z_]");
    }

    #[test]
    fn what_the_two_read_differently_is_refused() {
        for p in [
            "[[:punct:]]",
            "\\bword",
            "(?=x)",
            "(?P<n>x)",
            "(a)\\1",
            "\\p{L}",
            "[\\D]",
            "a(?i)b",
            "[ab",
            "a{2,1}",
            "\\",
        ] {
            assert!(portable(p).is_err(), "{p}");
        }
    }
}
