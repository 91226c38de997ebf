//! `cowrieql fmt`: a query printed in its canonical form from its syntax tree, comments kept.
//!
//! One stage per line (a `group`'s `aggregate` and a `window`'s `derive` on the next line); a
//! list too long for [`WIDTH`] columns puts one item per line, aligned after the keyword;
//! `let` and `append` pipelines in brackets on one line when they fit, else indented; brackets
//! in expressions only where precedence needs them; literals in one spelling. Comments stay
//! beside the stage they precede or end the line of; one inside a stage moves to just before
//! it. Formatting its own output changes nothing (a property test and a fuzz target check it).

use super::ast::*;
use crate::diag::Diagnostic;

/// The column a line should not pass.
pub const WIDTH: usize = 100;

/// A `#` comment: its byte offset and text (without the newline).
#[derive(Debug, Clone)]
struct Comment {
    at: usize,
    text: String,
}

/// The canonical form of `src`, or the parse errors.
pub fn format(src: &str) -> Result<String, Vec<Diagnostic>> {
    let q = super::parse(src)?;
    let comments = comments(src);
    let p = Printer { src, comments: &comments };
    let mut items: Vec<(Span, Element)> = q.lets.iter().map(|l| (p.trim(&l.span), Element::Let(l))).collect();
    items.extend(q.stages.iter().map(|s| (p.trim(&s.span), Element::Stage(&s.node))));
    let mut out = String::new();
    p.elements(&items, 0..src.len(), 0, &mut out);
    Ok(out)
}

enum Element<'a> {
    Let(&'a Let),
    Stage(&'a Stage),
}

/// The comments of `src`, outside strings.
fn comments(src: &str) -> Vec<Comment> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => i = super::parser::closing_quote(b, i) + 1,
            b'#' => {
                let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
                out.push(Comment { at: i, text: src[i..end].trim_end().to_string() });
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
}

impl Printer<'_> {
    /// `span` without the comments and blanks the parser counted at its end (pest skips them
    /// inside a rule before trying an optional part that is not there).
    fn trim(&self, span: &Span) -> Span {
        let b = self.src.as_bytes();
        let mut end = span.end.min(b.len());
        while end > span.start {
            if let Some(c) = self.comments.iter().find(|c| c.at < end && end <= c.at + c.text.len()) {
                end = c.at;
            } else if b[end - 1].is_ascii_whitespace() || b[end - 1] == b'|' {
                end -= 1;
            } else {
                break;
            }
        }
        span.start..end
    }

    /// Prints `items` (in source order, within `range`) at `indent`, each on its own lines,
    /// with the comments of `range` before the element they precede, or after the element
    /// whose line they end.
    fn elements(&self, items: &[(Span, Element)], range: Span, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        let inside = |c: &&Comment| range.contains(&c.at);
        let mut rest: Vec<&Comment> = self.comments.iter().filter(inside).collect();
        for (i, (span, el)) in items.iter().enumerate() {
            let next_start = items.get(i + 1).map_or(range.end, |(s, _)| s.start);
            // Before this element (or inside it, and not inside a nested pipeline of it).
            let (before, after): (Vec<&Comment>, Vec<&Comment>) =
                rest.iter().partition(|c| c.at < span.start || (span.contains(&c.at) && !self.nested(el, c.at)));
            for c in before {
                out.push_str(&pad);
                out.push_str(&c.text);
                out.push('\n');
            }
            rest = after;
            let text = match el {
                Element::Let(l) => self.let_def(l, indent),
                Element::Stage(s) => self.stage(s, indent),
            };
            out.push_str(&text);
            // A comment on the line the element ends stays at the end of its last line.
            let line_end = self.src[span.end..].find('\n').map_or(self.src.len(), |n| span.end + n);
            let trailing =
                rest.iter().copied().find(|c| c.at >= span.end && c.at < line_end.min(next_start.max(span.end)));
            if let Some(c) = trailing {
                out.push_str("  ");
                out.push_str(&c.text);
            }
            // What remains comes after this element (its own comments were placed above).
            rest.retain(|c| c.at >= span.end && trailing.is_none_or(|t| t.at != c.at));
            out.push('\n');
        }
        for c in rest {
            out.push_str(&pad);
            out.push_str(&c.text);
            out.push('\n');
        }
    }

    /// Whether byte `at` is inside a pipeline nested in `el` (its comments are placed there).
    fn nested(&self, el: &Element, at: usize) -> bool {
        let inner = match el {
            Element::Let(l) => self.inner(&l.stages),
            Element::Stage(Stage::Append(Source::Pipeline(stages))) => self.inner(stages),
            _ => None,
        };
        inner.is_some_and(|r| r.contains(&at))
    }

    /// A bracketed pipeline's inside: from its first stage to its closing bracket.
    fn inner(&self, stages: &[Spanned<Stage>]) -> Option<Span> {
        let (first, last) = (stages.first()?, stages.last()?);
        Some(first.span.start..self.closing_bracket(self.trim(&last.span).end))
    }

    fn let_def(&self, l: &Let, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let head = format!("{pad}let {} = ", l.name.node);
        self.bracketed(head, &l.stages, indent)
    }

    /// `head(stages)`: on one line (stages joined by ` | `) when it fits and holds no comment
    /// or multi-line stage, else one stage per line indented by four.
    fn bracketed(&self, head: String, stages: &[Spanned<Stage>], indent: usize) -> String {
        let inner = self.inner(stages).unwrap_or(0..0);
        let has_comment = self.comments.iter().any(|c| inner.contains(&c.at));
        let parts: Vec<String> = stages.iter().map(|s| self.stage(&s.node, 0)).collect();
        let one = format!("{head}({})", parts.join(" | "));
        if !has_comment && !one.contains('\n') && one.len() <= WIDTH {
            return one;
        }
        let items: Vec<(Span, Element)> =
            stages.iter().map(|s| (self.trim(&s.span), Element::Stage(&s.node))).collect();
        let mut out = format!("{head}(\n");
        self.elements(&items, inner, indent + 4, &mut out);
        out.push_str(&" ".repeat(indent));
        out.push(')');
        out
    }

    fn stage(&self, s: &Stage, indent: usize) -> String {
        let pad = " ".repeat(indent);
        match s {
            Stage::From { table, alias } => format!("{pad}from {}{}", table.node, alias_text(alias)),
            Stage::Join { left, exists, table, alias, on } => {
                let kind = match exists {
                    Some(true) => "join semi",
                    Some(false) => "join anti",
                    None if *left => "left join",
                    None => "join",
                };
                format!("{pad}{kind} {}{} on {}", table.node, alias_text(alias), expr(on))
            }
            Stage::Where(e) => format!("{pad}where {}", expr(e)),
            Stage::Derive(items) => list(&pad, "derive", items.iter().map(assign).collect()),
            Stage::Group { keys, aggregates } => {
                let mut out = list(&pad, "group", keys.iter().map(item).collect());
                if let Some(aggs) = aggregates {
                    out.push('\n');
                    out.push_str(&list(&pad, "aggregate", aggs.iter().map(assign).collect()));
                }
                out
            }
            Stage::Aggregate(items) => list(&pad, "aggregate", items.iter().map(assign).collect()),
            Stage::Select(items) => list(&pad, "select", items.iter().map(item).collect()),
            Stage::Sort(items) => list(&pad, "sort", items.iter().map(sort_item).collect()),
            Stage::Take(e) => format!("{pad}take {}", expr(e)),
            Stage::Materialize(name) => format!("{pad}materialize {}", name.node),
            Stage::Distinct => format!("{pad}distinct"),
            Stage::Window { by, sort, rows, items } => {
                let mut head = format!("{pad}window");
                if !by.is_empty() {
                    head.push_str(" by ");
                    head.push_str(&by.iter().map(expr).collect::<Vec<_>>().join(", "));
                }
                if !sort.is_empty() {
                    head.push_str(" sort ");
                    head.push_str(&sort.iter().map(sort_item).collect::<Vec<_>>().join(", "));
                }
                if let Some(f) = rows {
                    let b = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
                    head.push_str(&format!(" rows {}..{}", b(f.node.start), b(f.node.end)));
                }
                format!("{head}\n{}", list(&pad, "derive", items.iter().map(assign).collect()))
            }
            Stage::Append(Source::Name(n)) => format!("{pad}append {}", n.node),
            Stage::Append(Source::Pipeline(stages)) => self.bracketed(format!("{pad}append "), stages, indent),
        }
    }

    /// The offset of the `)` that closes a nested pipeline ending at `end`.
    fn closing_bracket(&self, end: usize) -> usize {
        let mut i = end;
        let b = self.src.as_bytes();
        while i < b.len() {
            match b[i] {
                b')' => return i,
                b'#' => i = self.src[i..].find('\n').map_or(b.len(), |n| i + n),
                _ => i += 1,
            }
        }
        b.len()
    }
}

fn alias_text(alias: &Option<Spanned<String>>) -> String {
    alias.as_ref().map(|a| format!(" as {}", a.node)).unwrap_or_default()
}

/// `kw a, b, c` on one line, or filled to [`WIDTH`] with the next lines aligned after the
/// keyword.
fn list(pad: &str, kw: &str, items: Vec<String>) -> String {
    let align = format!("{pad}{}", " ".repeat(kw.len() + 1));
    let mut out = format!("{pad}{kw} ");
    let mut line_len = out.len();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            // The item and its comma (if another follows) must fit on this line.
            let need = 2 + it.len() + usize::from(i + 1 < items.len());
            if line_len + need > WIDTH {
                out.push_str(",\n");
                out.push_str(&align);
                line_len = align.len();
            } else {
                out.push_str(", ");
                line_len += 2;
            }
        }
        out.push_str(it);
        line_len += it.len();
    }
    out
}

fn assign(a: &Assign) -> String {
    format!("{} = {}", a.name.node, expr(&a.expr))
}

fn item(i: &Item) -> String {
    match &i.name {
        Some(n) => format!("{} = {}", n.node, expr(&i.expr)),
        None => expr(&i.expr),
    }
}

fn sort_item(s: &SortItem) -> String {
    if s.desc {
        format!("{} desc", expr(&s.expr))
    } else {
        expr(&s.expr)
    }
}

// The parser's precedence levels (src/dsl/parser/exprs.rs), low to high.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const COALESCE: u8 = 5;
const ADD: u8 = 6;
const MUL: u8 = 7;
const NEG: u8 = 8;
const CAST: u8 = 9;
const ATOM: u8 = 10;

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => bin_prec(*op),
        ExprKind::Not(_) => NOT,
        ExprKind::Neg(_) => NEG,
        ExprKind::Cast { .. } => CAST,
        ExprKind::IsNull { .. } | ExprKind::InList { .. } | ExprKind::InParam { .. } => CMP,
        _ => ATOM,
    }
}

fn bin_prec(op: BinOp) -> u8 {
    match op {
        BinOp::Or => OR,
        BinOp::And => AND,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Like => CMP,
        BinOp::Coalesce => COALESCE,
        BinOp::Add | BinOp::Sub => ADD,
        BinOp::Mul | BinOp::Div | BinOp::Mod => MUL,
    }
}

/// `e`, bracketed when its precedence is below `min`.
fn operand(e: &Expr, min: u8) -> String {
    if prec(e) < min {
        format!("({})", expr(e))
    } else {
        expr(e)
    }
}

fn list_of(xs: &[Expr]) -> String {
    xs.iter().map(expr).collect::<Vec<_>>().join(", ")
}

pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Lit(l) => lit(l),
        ExprKind::Param(p) => format!("${p}"),
        ExprKind::Path(segs) => path(segs),
        ExprKind::Call { name, args } => format!("{}({})", name.node, list_of(args)),
        ExprKind::Binary { op, lhs, rhs } => {
            let p = bin_prec(*op);
            format!("{} {} {}", operand(lhs, p), op.symbol(), operand(rhs, p + 1))
        }
        ExprKind::Not(x) => format!("not {}", operand(x, NOT)),
        // A space keeps `- -x` from reading as one token to a human.
        ExprKind::Neg(x) => match &x.kind {
            ExprKind::Neg(_) => format!("- {}", operand(x, NEG)),
            _ => format!("-{}", operand(x, NEG)),
        },
        ExprKind::Cast { expr: x, ty } => format!("{} as {}", operand(x, CAST), type_name(*ty)),
        ExprKind::IsNull { expr: x, negated } => {
            format!("{} is {}null", operand(x, CMP + 1), if *negated { "not " } else { "" })
        }
        ExprKind::InList { expr: x, list, negated } => {
            format!("{} {}in ({})", operand(x, CMP + 1), if *negated { "not " } else { "" }, list_of(list))
        }
        ExprKind::InParam { expr: x, param, negated } => {
            format!("{} {}in ${param}", operand(x, CMP + 1), if *negated { "not " } else { "" })
        }
        ExprKind::Case { whens, otherwise } => {
            let mut out = String::from("case");
            for (c, v) in whens {
                out.push_str(&format!(" when {} then {}", expr(c), expr(v)));
            }
            if let Some(o) = otherwise {
                out.push_str(&format!(" else {}", expr(o)));
            }
            out.push_str(" end");
            out
        }
    }
}

fn type_name(t: TypeName) -> &'static str {
    match t {
        TypeName::Int => "int",
        TypeName::Float => "float",
        TypeName::Text => "text",
        TypeName::Bool => "bool",
        TypeName::Timestamp => "timestamp",
    }
}

fn is_ident(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn path(segs: &[Spanned<Seg>]) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        match &s.node {
            Seg::Key(k) if i == 0 => out.push_str(k),
            Seg::Key(k) if is_ident(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", quote(k))),
            Seg::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

fn quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn lit(l: &Lit) -> String {
    match l {
        Lit::Int(i) => i.to_string(),
        Lit::Float(f) => {
            // Display never writes an exponent and gives the shortest text that reads back
            // as the same number; the grammar wants a fraction.
            let s = f.to_string();
            if s.contains('.') {
                s
            } else {
                format!("{s}.0")
            }
        }
        Lit::Text(s) => quote(s),
        Lit::Bool(b) => b.to_string(),
        Lit::Null => "null".into(),
        Lit::Timestamp(t) => {
            let t =
                t.strip_suffix("T00:00:00.000000Z").map(str::to_string).unwrap_or_else(|| t.replace(".000000Z", "Z"));
            format!("@{t}")
        }
        Lit::Duration(secs) => {
            let (n, unit) = [(86_400, "d"), (3_600, "h"), (60, "m")]
                .iter()
                .find(|(u, _)| *secs != 0 && secs % u == 0)
                .map_or((*secs, "s"), |(u, name)| (secs / u, *name));
            format!("{n}{unit}")
        }
    }
}

/// A query of a report file that does not parse: its 1-based line in the file, and why.
#[derive(Debug)]
pub struct YamlQueryError {
    pub line: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub query: String,
}

/// `text` (a report's YAML) with every `query: |` block formatted; everything else, comments
/// included, as it was.
pub fn format_report_yaml(text: &str) -> Result<String, YamlQueryError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let blank = |l: &str| l.trim().is_empty();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out.push_str(line);
        i += 1;
        let key = line.trim_start();
        let is_block = key.strip_prefix("query:").map(str::trim).is_some_and(|rest| {
            let rest = rest.split('#').next().unwrap_or("").trim();
            matches!(rest, "|" | "|-" | "|+")
        });
        if !is_block {
            continue;
        }
        let key_indent = indent(line);
        let mut end = i;
        let mut last = None;
        while end < lines.len() && (blank(lines[end]) || indent(lines[end]) > key_indent) {
            if !blank(lines[end]) {
                last = Some(end);
            }
            end += 1;
        }
        let Some(last) = last else { continue };
        let block = &lines[i..=last];
        let pad = block.iter().find(|l| !blank(l)).map_or(0, |l| indent(l));
        let query: String = block
            .iter()
            .map(|l| if blank(l) { "\n".to_string() } else { l.get(pad..).unwrap_or("").to_string() })
            .collect();
        let formatted =
            format(&query).map_err(|diagnostics| YamlQueryError { line: i + 1, diagnostics, query: query.clone() })?;
        for l in formatted.lines() {
            if !l.is_empty() {
                out.push_str(&" ".repeat(pad));
                out.push_str(l);
            }
            out.push('\n');
        }
        i = last + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_sql(a: &str, b: &str) {
        let x = crate::compile::compile_all(a, &Default::default())
            .map(|c| c.iter().map(|c| c.sql.clone()).collect::<Vec<_>>());
        let y = crate::compile::compile_all(b, &Default::default())
            .map(|c| c.iter().map(|c| c.sql.clone()).collect::<Vec<_>>());
        assert_eq!(x.ok(), y.ok(), "{a}\n----\n{b}");
    }

    #[test]
    fn every_fixture_formats_to_a_fixed_point_with_the_same_meaning() {
        let mut n = 0;
        for src in crate::dsl::query_fixtures() {
            let Ok(once) = format(&src) else { continue };
            let twice = format(&once).unwrap_or_else(|e| panic!("{once}\n{e:?}"));
            assert_eq!(once, twice, "not idempotent:\n{src}");
            same_sql(&src, &once);
            // Every comment is kept.
            assert_eq!(comments(&src).len(), comments(&once).len(), "{src}\n----\n{once}");
            n += 1;
        }
        assert!(n > 30, "{n}");
    }

    #[test]
    fn layout_and_comments() {
        let src = "# head\nfrom sessions   # the table\n  where event_count>1 and (protocol=='ssh' or protocol == 'telnet')\n\
                   group src_ip aggregate n=count(),   # inside\n  m = max(( event_count ))\nsort n desc,src_ip\n# tail\n";
        let want = "# head\nfrom sessions  # the table\nwhere event_count > 1 and (protocol == 'ssh' or protocol == 'telnet')\n\
                    # inside\ngroup src_ip\naggregate n = count(), m = max(event_count)\nsort n desc, src_ip\n# tail\n";
        assert_eq!(format(src).unwrap(), want);
        let src = "let a = (from sessions|where event_count > 1)\nlet b = (\n  from a # keep\n  take 3\n)\nfrom a\nappend b\nappend (from b | take 1)\n";
        let want = "let a = (from sessions | where event_count > 1)\nlet b = (\n    from a  # keep\n    take 3\n)\nfrom a\nappend b\nappend (from b | take 1)\n";
        assert_eq!(format(src).unwrap(), want);
        assert_eq!(format(&format(src).unwrap()).unwrap(), want);
        let src = "from s\nderive a = -(-1), b = 1.50, c = @2025-09-22T00:00:00Z, d = 7d + 90m, e = 'it\\'s', f = payload[\"odd-key\"].x[0], g = not (x and y), h = (a + b) * c, i = a - (b - c), j = (x == y) == z\n";
        let got = format(src).unwrap();
        assert!(got.contains("a = - -1"), "{got}");
        assert!(got.contains("b = 1.5,") && got.contains("c = @2025-09-22,") && got.contains("d = 7d + 90m"), "{got}");
        assert!(got.contains(r"e = 'it\'s'") && got.contains("f = payload['odd-key'].x[0]"), "{got}");
        assert!(
            got.contains("g = not (x and y)") && got.contains("h = (a + b) * c") && got.contains("i = a - (b - c)"),
            "{got}"
        );
        assert!(got.contains("j = x == y == z"), "{got}");
        assert_eq!(format(&got).unwrap(), got);
    }

    #[test]
    fn report_yaml_keeps_everything_but_the_queries_layout() {
        let yaml = "name: x   # a comment\nqueries:\n  a:\n    title: A\n    query: |\n      from sessions\n        where event_count>1   # why\n\n  b:\n    query: |-\n      from logins | take 5\n";
        let got = format_report_yaml(yaml).unwrap();
        assert_eq!(
            got,
            "name: x   # a comment\nqueries:\n  a:\n    title: A\n    query: |\n      from sessions\n      where event_count > 1  # why\n\n  b:\n    query: |-\n      from logins\n      take 5\n"
        );
        assert_eq!(format_report_yaml(&got).unwrap(), got);
        let bad = "queries:\n  a:\n    query: |\n      from sessions\n      where\n";
        assert_eq!(format_report_yaml(bad).unwrap_err().line, 4);
    }
}
