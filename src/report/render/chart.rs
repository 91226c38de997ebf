//! `chart(section)`: inline SVG (no script, so the page's strict CSP holds).

use minijinja::value::Value as J;
use minijinja::Error;

use super::{cell_text, columns, is_numeric};
use crate::report::escape;

/// `chart(section)`: an inline SVG bar chart (a text label and a number) or time series (a
/// timestamp and a number), chosen from the columns. Labels are HTML-escaped.
pub(super) fn chart(section: J) -> Result<J, Error> {
    let cols = columns(&section)?;
    let rows: Vec<Vec<J>> =
        section.get_attr("rows")?.try_iter()?.map(|r| r.try_iter().map(|i| i.collect()).unwrap_or_default()).collect();
    let Some(vi) = cols.iter().position(|c| is_numeric(&c.1)) else { return Ok(J::from_safe_string(String::new())) };
    let num = |r: &Vec<J>| r.get(vi).and_then(|v| f64::try_from(v.clone()).ok()).unwrap_or(0.0);
    let max = rows.iter().map(num).fold(0.0_f64, f64::max).max(1e-9);
    if let Some(ti) = cols.iter().position(|c| c.1 == "timestamp") {
        // Time series: one point per row, in row order.
        let (w, h) = (720.0, 180.0);
        let n = rows.len().max(2) as f64 - 1.0;
        let pts: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!("{:.1},{:.1}", 40.0 + i as f64 / n * (w - 50.0), h - 20.0 - num(r) / max * (h - 40.0))
            })
            .collect();
        let first = rows.first().and_then(|r| r.get(ti)).map(cell_text).unwrap_or_default();
        let last = rows.last().and_then(|r| r.get(ti)).map(cell_text).unwrap_or_default();
        let svg = format!(
            r##"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><line x1="40" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{pts}"/><text x="40" y="{t}" font-size="11">{first}</text><text x="{r}" y="{t}" font-size="11" text-anchor="end">{last}</text><text x="4" y="14" font-size="11">{max}</text></svg>"##,
            label = escape::html(&cols[vi].0),
            b = h - 20.0,
            r = w - 10.0,
            t = h - 4.0,
            pts = pts.join(" "),
            first = escape::html(&first),
            last = escape::html(&last),
            max = escape::html(&crate::report::value::format_float(max)),
        );
        return Ok(J::from_safe_string(svg));
    }
    let Some(li) = cols.iter().position(|c| !is_numeric(&c.1)) else { return Ok(J::from_safe_string(String::new())) };
    let shown: Vec<&Vec<J>> = rows.iter().take(15).collect();
    let bar_h = 18.0;
    let h = shown.len() as f64 * (bar_h + 4.0) + 8.0;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 720 {h}" width="720" height="{h}" role="img" aria-label="{}">"#,
        escape::html(&cols[vi].0)
    );
    for (i, r) in shown.iter().enumerate() {
        let y = 4.0 + i as f64 * (bar_h + 4.0);
        let label: String = cell_text(r.get(li).unwrap_or(&J::UNDEFINED)).chars().take(40).collect();
        let v = num(r);
        svg.push_str(&format!(
            r##"<text x="0" y="{ty:.1}" font-size="11">{label}</text><rect x="260" y="{y:.1}" width="{bw:.1}" height="{bar_h}" fill="#2b6cb0"/><text x="{tx:.1}" y="{ty:.1}" font-size="11">{val}</text>"##,
            ty = y + 13.0,
            label = escape::html(&escape::text(&label)),
            bw = v / max * 400.0,
            tx = 266.0 + v / max * 400.0,
            val = escape::html(crate::report::value::format_float(v).trim_end_matches(".0")),
        ));
    }
    svg.push_str("</svg>");
    Ok(J::from_safe_string(svg))
}
