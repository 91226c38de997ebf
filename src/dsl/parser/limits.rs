//! Limits that keep every later pass (checker, emitter, drop) far from the stack's end,
//! whatever the input.

/// Bracket nesting in one query.
pub(super) const MAX_DEPTH: usize = 64;

/// The byte offset of the first bracket (or `case`, which nests as one until its `end`)
/// nested deeper than `limit`, outside strings and comments.
pub(super) fn too_deep(src: &str, limit: usize) -> Option<usize> {
    let b = src.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => i = closing_quote(b, i),
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match &b[start..i] {
                    b"case" => {
                        depth += 1;
                        if depth > limit {
                            return Some(start);
                        }
                    }
                    b"end" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the quote that closes the string opening at `start` (backslash escapes
/// skipped), or the end of the text when none does.
pub(crate) fn closing_quote(b: &[u8], start: usize) -> usize {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() && b[i] != q {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i.min(b.len())
}

/// Tokens in one expression.
pub(super) const MAX_TOKENS: usize = 512;

/// Every wrapping stage nests a subquery: bound the depth the emitter recurses to.
pub(super) const MAX_STAGES: usize = 200;
