//! `table(section)`: an aligned text table or a markdown table, cells escaped; text tables
//! fitted to a terminal's width.

use minijinja::value::Value as J;
use minijinja::{Error, State};

use super::{cell_text, columns, format_of, is_numeric, Format};
use crate::report::escape;

/// Display columns a string takes on a terminal (CJK and emoji take two).
pub(super) fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `w` display columns, ending in `…` when cut.
pub(super) fn clip(s: &str, w: usize) -> String {
    if display_width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// Column widths that fit `total` display columns (two spaces between columns): the widest
/// text columns give way first, down to a floor; numbers and timestamps are never cut.
fn fit_widths(natural: &[usize], shrinkable: &[bool], total: Option<usize>) -> Vec<usize> {
    let mut w = natural.to_vec();
    let Some(total) = total else { return w };
    let gaps = 2 * w.len().saturating_sub(1);
    const FLOOR: usize = 12;
    while w.iter().sum::<usize>() + gaps > total {
        let widest = (0..w.len()).filter(|&i| shrinkable[i] && w[i] > FLOOR).max_by_key(|&i| (w[i], usize::MAX - i));
        match widest {
            Some(i) => w[i] -= 1,
            None => break,
        }
    }
    w
}

/// `table(section)`: an aligned text table or a markdown table, cells escaped.
pub(super) fn table(state: &State, section: J) -> Result<J, Error> {
    let fmt = format_of(state);
    let width = state.lookup("width").and_then(|v| v.as_usize());
    let cols = columns(&section)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in section.get_attr("rows")?.try_iter()? {
        // An empty string is a value an attacker sent; a blank cell is no value (null).
        rows.push(
            r.try_iter()?.map(|v| if v.as_str() == Some("") { "(empty)".into() } else { cell_text(&v) }).collect(),
        );
    }
    let out = if fmt == Format::Markdown {
        let mut s = format!("| {} |\n", cols.iter().map(|c| escape::markdown(&c.0)).collect::<Vec<_>>().join(" | "));
        s.push_str(&format!(
            "|{}\n",
            cols.iter().map(|c| if is_numeric(&c.1) { " ---: |" } else { " --- |" }).collect::<String>()
        ));
        for r in &rows {
            s.push_str(&format!("| {} |\n", r.iter().map(|c| escape::markdown(c)).collect::<Vec<_>>().join(" | ")));
        }
        if rows.is_empty() {
            s.push_str("\n*(no rows)*\n");
        }
        s
    } else {
        // On a terminal, long attacker strings are cut to fit its width (`--wide`, a file or a
        // pipe get them whole, as do json and csv).
        let head: Vec<String> = cols.iter().map(|c| escape::text(&c.0)).collect();
        let body: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| escape::text(c)).collect()).collect();
        let natural: Vec<usize> = (0..head.len())
            .map(|i| {
                body.iter()
                    .map(|r| display_width(&r[i]))
                    .chain(std::iter::once(display_width(&head[i])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let shrinkable: Vec<bool> = cols.iter().map(|c| c.1 == "text" || c.1 == "json").collect();
        let widths = fit_widths(&natural, &shrinkable, width);
        let head: Vec<String> = head.iter().zip(&widths).map(|(c, &w)| clip(c, w)).collect();
        let body: Vec<Vec<String>> =
            body.iter().map(|r| r.iter().zip(&widths).map(|(c, &w)| clip(c, w)).collect()).collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = " ".repeat(widths[i].saturating_sub(display_width(c)));
                    if is_numeric(&cols[i].1) {
                        format!("{pad}{c}")
                    } else {
                        format!("{c}{pad}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut s = format!("{}\n", line(&head));
        s.push_str(&format!("{}\n", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  ")));
        for r in &body {
            s.push_str(&format!("{}\n", line(r)));
        }
        if body.is_empty() {
            s.push_str("(no rows)\n");
        }
        s
    };
    Ok(J::from_safe_string(out))
}
