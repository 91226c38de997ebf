//! Diagnostics: a stable code, a span, a message and a hint, rendered like rustc's
//! (file:line:column, the source line, a caret underline) or as JSON for machines.

use std::ops::Range;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub message: String,
    /// Where in the query; None for a problem no part of the text caused (an internal error).
    #[serde(skip)]
    pub span: Option<Span>,
    pub hint: Option<String>,
}

/// Byte offsets into the query, half open. 32-bit: diagnostics travel by value through the
/// checker's recursion, and a smaller one keeps its frames small (a deep expression in a
/// debug build runs near the test thread's stack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span { start: clamp(r.start), end: clamp(r.end) }
    }
}

impl Diagnostic {
    pub fn new(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), span: Some(span.into()), hint: None }
    }

    /// A diagnostic about no place in the query.
    pub fn unplaced(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), span: None, hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders for a terminal. `origin` names the file (and, for reports, the query).
pub fn render(d: &Diagnostic, src: &str, origin: &str) -> String {
    let Some(span) = d.span.map(Span::range) else {
        let mut out = format!("error[{}]: {}\n --> {origin}\n", d.code, d.message);
        if let Some(h) = &d.hint {
            out.push_str(&format!("  = hint: {h}\n"));
        }
        return out;
    };
    let (line, col) = line_col(src, span.start);
    let text = src.lines().nth(line - 1).unwrap_or("");
    let width = {
        let end = span.end.min(src.len()).max(span.start);
        let (eline, ecol) = line_col(src, end);
        if eline == line && ecol > col {
            ecol - col
        } else {
            1
        }
    };
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let mut out =
        format!("error[{}]: {}\n{pad}--> {origin}:{line}:{col}\n{pad} |\n{line} | {text}\n{pad} | ", d.code, d.message);
    out.push_str(&" ".repeat(col - 1));
    out.push_str(&"^".repeat(width));
    out.push('\n');
    if let Some(h) = &d.hint {
        out.push_str(&format!("{pad} = hint: {h}\n"));
    }
    out
}

/// JSON for `--format json`: the diagnostic plus where it is.
#[derive(Serialize)]
pub struct Located<'a> {
    pub file: &'a str,
    /// None (null) for a diagnostic about no place in the query.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    #[serde(flatten)]
    pub diagnostic: &'a Diagnostic,
}

pub fn locate<'a>(d: &'a Diagnostic, src: &str, file: &'a str) -> Located<'a> {
    let at = |o: usize| line_col(src, o);
    let (line, column) = d.span.map(|s| at(s.range().start)).unzip();
    let (end_line, end_column) = d.span.map(|s| at(s.range().end)).unzip();
    Located { file, line, column, end_line, end_column, diagnostic: d }
}

/// Appends the `found` not already in `into`, in order: the same problem reported by two
/// dialects (or two passes) is said once.
pub fn push_new<T: PartialEq>(into: &mut Vec<T>, found: impl IntoIterator<Item = T>) {
    for f in found {
        if !into.contains(&f) {
            into.push(f);
        }
    }
}

/// Near names for a "did you mean" hint, best first.
pub fn near_names<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&wanted.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_the_span() {
        let src = "from sessions\nwhere sesion_id == 'x'";
        let d = Diagnostic::new("E0201", 20..29, "unknown column `sesion_id`").hint("did you mean `session_id`?");
        let r = render(&d, src, "q.cql");
        assert!(r.contains("--> q.cql:2:7"), "{r}");
        assert!(r.contains("2 | where sesion_id == 'x'\n  |       ^^^^^^^^^\n"), "{r}");
    }

    #[test]
    fn a_diagnostic_about_no_place_points_at_none() {
        let src = "from sessions\nwhere sensor == 'x'";
        let d = Diagnostic::unplaced("E0900", "internal error: the sqlite SQL does not parse");
        let r = render(&d, src, "q.cql");
        assert!(r.starts_with("error[E0900]: internal error"), "{r}");
        assert!(r.contains("--> q.cql\n") && !r.contains("q.cql:1:1") && !r.contains('^'), "{r}");
        let j = serde_json::to_value(locate(&d, src, "q.cql")).unwrap();
        assert!(j["line"].is_null() && j["column"].is_null(), "{j}");
    }

    #[test]
    fn near_names_rank_by_similarity() {
        assert_eq!(near_names("sesion_id", ["session_id", "sensor", "src_ip"]).first(), Some(&"session_id"));
        assert!(near_names("zzz", ["session_id"]).is_empty());
    }
}
