//! `bars(section, width)`: a compact bar chart of a `bar` chart's first series for a terminal
//! (text output when standard output is one): the first ten rows, labels clipped, bars in
//! eighths of a block, coloured unless `NO_COLOR` is set.

use minijinja::value::Value as J;
use minijinja::Error;

use super::cell_text;
use crate::report::escape;

const ROWS: usize = 10;
const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

pub(super) fn bars(section: J, width: J) -> Result<J, Error> {
    let width = usize::try_from(width).unwrap_or(0);
    let shape = super::chart_shape(&section)?.filter(|s| s.kind == "bar" && width >= 30);
    let Some((xi, &yi)) = shape.as_ref().and_then(|s| Some((s.xi, s.yi.first()?))) else {
        return Ok(J::from_safe_string(String::new()));
    };
    let rows: Vec<(String, f64)> = super::rows(&section)?
        .iter()
        .take(ROWS)
        .map(|r| {
            let label = escape::text(&cell_text(r.get(xi).unwrap_or(&J::UNDEFINED)));
            let v = r.get(yi).and_then(|v| f64::try_from(v.clone()).ok()).unwrap_or(0.0);
            (label, v)
        })
        .collect();
    let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    Ok(J::from_safe_string(render(&rows, width, colour)))
}

fn render(rows: &[(String, f64)], width: usize, colour: bool) -> String {
    let label_w = rows.iter().map(|(l, _)| super::table::display_width(l)).max().unwrap_or(0).min(width / 3).max(1);
    let values: Vec<String> = rows.iter().map(|(_, v)| super::chart::thousands(*v)).collect();
    let value_w = values.iter().map(String::len).max().unwrap_or(1);
    let bar_w = width.saturating_sub(label_w + value_w + 3).max(1);
    let max = rows.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let mut out = String::new();
    for ((label, v), shown) in rows.iter().zip(&values) {
        let eighths = if max > 0.0 { (v / max * (bar_w * 8) as f64).round() as usize } else { 0 };
        let mut bar: String = "█".repeat(eighths / 8);
        if eighths % 8 > 0 {
            bar.push(EIGHTHS[eighths % 8]);
        }
        let label = super::table::clip(label, label_w);
        let pad = label_w.saturating_sub(super::table::display_width(&label));
        let bar_pad = bar_w.saturating_sub(bar.chars().count());
        let bar = if colour { format!("\x1b[34m{bar}\x1b[0m") } else { bar };
        out.push_str(&format!("{}{label} {bar}{} {shown:>value_w$}\n", " ".repeat(pad), " ".repeat(bar_pad)));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fit_the_width_and_colour_only_when_allowed() {
        let rows = vec![("root".to_string(), 120.0), ("admin".to_string(), 30.0), ("x".repeat(80), 1.0)];
        let plain = render(&rows, 60, false);
        for line in plain.lines() {
            assert!(super::super::table::display_width(line) <= 60, "{line:?}");
        }
        assert!(plain.lines().next().unwrap().contains("█████") && plain.contains(" 120\n"), "{plain}");
        assert!(!plain.contains('\x1b'));
        assert!(render(&rows, 60, true).contains("\x1b[34m"));
    }
}
