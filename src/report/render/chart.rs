//! `chart(section)`: the chart a query declares (`report::chart_spec`), as inline SVG (no
//! script, so the page's strict CSP holds): bars with labels and values, time series on a
//! time axis with gaps shown, a heat map with its key. Several series share a chart with a
//! legend; axes get round ticks with thousands separators; every mark carries a `<title>`
//! with its exact value. Text is HTML-escaped; axes and labels use `currentColor`, so dark
//! mode restyles them.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use minijinja::value::Value as J;
use minijinja::Error;

use super::cell_text;
use crate::report::escape;

/// Series colours, distinguishable on light and dark backgrounds.
const COLOURS: [&str; 6] = ["#3b82c4", "#e07b28", "#3a9e5c", "#c4473b", "#8a5cc4", "#8c8c8c"];
/// The heat map's scale, light to dark.
const SCALE: [&str; 7] = ["#eef4fb", "#cfe0f3", "#a6c8e8", "#74a9da", "#4a88c7", "#2a65a8", "#123f78"];
const WIDTH: f64 = 720.0;
/// Bars drawn at most (the table below has every row).
const MAX_BARS: usize = 20;

pub(super) fn chart(section: J) -> Result<J, Error> {
    let Some(s) = super::chart_shape(&section)? else { return Ok(J::from_safe_string(String::new())) };
    let rows = super::rows(&section)?;
    let data = Data { rows: &rows, x: s.xi, y: &s.yi, names: &s.y };
    let svg = match s.kind.as_str() {
        "line" => line(&data, &s.x),
        "heatmap" => heatmap(&data, &s.x),
        _ => bar(&data),
    };
    Ok(J::from_safe_string(svg))
}

struct Data<'a> {
    rows: &'a [Vec<J>],
    x: usize,
    y: &'a [usize],
    names: &'a [String],
}

fn number(v: Option<&J>) -> Option<f64> {
    let v = v?;
    if v.is_none() || v.is_undefined() {
        return None;
    }
    f64::try_from(v.clone()).ok().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// `1,234,567` or `1,234.5`: thousands separated, at most 6 decimals, no trailing zeros.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{:.6}", v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 && out.chars().any(|c| c != '0' && c != ',' && c != '.') {
        out.insert(0, '-');
    }
    out
}

/// A label's number: [`thousands`] with at most two decimals (the tooltip has it exactly).
fn short(v: f64) -> String {
    thousands((v * 100.0).round() / 100.0)
}

/// A round step (1, 2 or 5 × 10^k) giving about `n` ticks up to `max`, and the axis top.
fn nice(max: f64, n: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / n;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    (step, (max / step).ceil() * step)
}

fn legend(names: &[String], y: f64) -> String {
    if names.len() < 2 {
        return String::new();
    }
    let mut out = String::new();
    let mut x = 60.0;
    for (i, n) in names.iter().enumerate() {
        out.push_str(&format!(
            r#"<rect class="legend" x="{x:.0}" y="{:.0}" width="10" height="10" fill="{}"/><text x="{:.0}" y="{:.0}" font-size="12" fill="currentColor">{}</text>"#,
            y - 9.0,
            COLOURS[i % COLOURS.len()],
            x + 14.0,
            y,
            escape::html(n)
        ));
        x += 24.0 + 7.0 * n.chars().count() as f64;
    }
    out
}

fn svg_open(h: f64, label: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {h:.0}" width="{WIDTH}" height="{h:.0}" role="img" aria-label="{}">"#,
        escape::html(label)
    )
}

/// Horizontal bars: one group per row (the first [`MAX_BARS`]), one bar per series, its label
/// on the left (clipped, whole in the tooltip) and its value at its end.
fn bar(d: &Data) -> String {
    let shown = &d.rows[..d.rows.len().min(MAX_BARS)];
    let series = d.y.len() as f64;
    let bar_h = if series > 1.0 { 12.0 } else { 16.0 };
    let group_h = bar_h * series + 6.0;
    let top = if series > 1.0 { 24.0 } else { 6.0 };
    let h = top + shown.len() as f64 * group_h + 4.0;
    let max = shown.iter().flat_map(|r| d.y.iter().filter_map(|&i| number(r.get(i)))).fold(0.0, f64::max);
    let (left, span) = (210.0, WIDTH - 210.0 - 90.0);
    let mut out = svg_open(h, &d.names.join(", "));
    out.push_str(&legend(d.names, 14.0));
    for (ri, r) in shown.iter().enumerate() {
        let label = match r.get(d.x) {
            Some(v) if v.is_none() => "(null)".to_string(),
            Some(v) if cell_text(v).is_empty() => "(empty)".to_string(),
            v => cell_text(v.unwrap_or(&J::UNDEFINED)),
        };
        let clipped: String =
            if label.chars().count() > 30 { label.chars().take(29).chain(['…']).collect() } else { label.clone() };
        let y0 = top + ri as f64 * group_h;
        out.push_str(&format!(
            r#"<text x="{:.0}" y="{:.1}" font-size="12" text-anchor="end" fill="currentColor"><title>{}</title>{}</text>"#,
            left - 6.0,
            y0 + group_h / 2.0 + 1.0,
            escape::html(&escape::text(&label)),
            escape::html(&escape::text(&clipped))
        ));
        for (si, &ci) in d.y.iter().enumerate() {
            let v = number(r.get(ci)).unwrap_or(0.0);
            let w = if max > 0.0 { (v / max * span).max(if v > 0.0 { 1.0 } else { 0.0 }) } else { 0.0 };
            let y = y0 + si as f64 * bar_h;
            out.push_str(&format!(
                r#"<rect class="mark" x="{left}" y="{y:.1}" width="{w:.1}" height="{:.0}" fill="{}"><title>{} — {}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="11" fill="currentColor">{}</text>"#,
                bar_h - 2.0,
                COLOURS[si % COLOURS.len()],
                escape::html(&escape::text(&label)),
                escape::html(&d.names[si]),
                thousands(v),
                left + w + 4.0,
                y + bar_h - 4.0,
                short(v)
            ));
        }
    }
    out.push_str(&format!(
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.0}" stroke="currentColor" stroke-opacity=".5"/>"#,
        h - 4.0
    ));
    out.push_str("</svg>");
    out
}

/// Tick steps for a time axis, shortest first, with how each tick is labelled.
const TIME_STEPS: [(i64, &str); 12] = [
    (3600, "%H:%M"),
    (2 * 3600, "%H:%M"),
    (3 * 3600, "%H:%M"),
    (6 * 3600, "%m-%d %H:%M"),
    (12 * 3600, "%m-%d %H:%M"),
    (86_400, "%Y-%m-%d"),
    (2 * 86_400, "%Y-%m-%d"),
    (7 * 86_400, "%Y-%m-%d"),
    (14 * 86_400, "%Y-%m-%d"),
    (30 * 86_400, "%Y-%m"),
    (91 * 86_400, "%Y-%m"),
    (365 * 86_400, "%Y"),
];

/// Ticks from `t0` to `t1` at a step giving at most eight: whole hours, midnights, Mondays
/// (weeks), firsts of months or of years.
fn time_ticks(t0: DateTime<Utc>, t1: DateTime<Utc>) -> (Vec<DateTime<Utc>>, &'static str) {
    let span = (t1 - t0).num_seconds().max(1);
    let (step, fmt) = TIME_STEPS.iter().copied().find(|(s, _)| span / s <= 8).unwrap_or((365 * 86_400, "%Y"));
    let mut ticks = Vec::new();
    let mut t = match step {
        s if s >= 30 * 86_400 => {
            let months = if s >= 365 * 86_400 {
                12
            } else if s >= 91 * 86_400 {
                3
            } else {
                1
            };
            let mut m = Utc.with_ymd_and_hms(t0.year(), t0.month(), 1, 0, 0, 0).single().unwrap_or(t0);
            while m < t0 || !(m.month() - 1).is_multiple_of(months) {
                m = next_month(m);
            }
            while m <= t1 {
                ticks.push(m);
                for _ in 0..months {
                    m = next_month(m);
                }
            }
            return (ticks, fmt);
        }
        s if s >= 7 * 86_400 => {
            let midnight = t0.date_naive().and_hms_opt(0, 0, 0).map(|n| n.and_utc()).unwrap_or(t0);
            midnight + Duration::days((7 - i64::from(midnight.weekday().num_days_from_monday())) % 7)
        }
        s => {
            let secs = t0.timestamp();
            Utc.timestamp_opt(secs + (s - secs.rem_euclid(s)) % s, 0).single().unwrap_or(t0)
        }
    };
    while t <= t1 {
        ticks.push(t);
        t += Duration::seconds(step);
    }
    (ticks, fmt)
}

fn next_month(m: DateTime<Utc>) -> DateTime<Utc> {
    let (y, mo) = if m.month() == 12 { (m.year() + 1, 1) } else { (m.year(), m.month() + 1) };
    Utc.with_ymd_and_hms(y, mo, 1, 0, 0, 0).single().unwrap_or(m)
}

/// Lines over a time axis, one per series; a point is a circle with its exact value. A null
/// value, or a time step more than one and a half times the usual one, leaves a gap.
fn line(d: &Data, x_name: &str) -> String {
    let pts: Vec<(DateTime<Utc>, Vec<Option<f64>>)> = d
        .rows
        .iter()
        .filter_map(|r| {
            let t = crate::report::value::parse_ts(&cell_text(r.get(d.x)?))?;
            Some((t, d.y.iter().map(|&i| number(r.get(i))).collect()))
        })
        .collect();
    let (Some(first), Some(last)) = (pts.first().map(|p| p.0), pts.last().map(|p| p.0)) else {
        return String::new();
    };
    let (t0, t1) = if first == last { (first - Duration::hours(1), last + Duration::hours(1)) } else { (first, last) };
    let usual = pts.windows(2).map(|w| (w[1].0 - w[0].0).num_seconds()).filter(|s| *s > 0).min().unwrap_or(0);
    let max = pts.iter().flat_map(|p| p.1.iter().flatten()).fold(0.0, |a: f64, b| a.max(*b));
    let (step, top_v) = nice(max, 4.0);
    let legend_h = if d.y.len() > 1 { 22.0 } else { 6.0 };
    let (left, right, top, h) = (70.0, WIDTH - 16.0, legend_h + 8.0, 230.0);
    let bottom = h - 28.0;
    let sx = |t: DateTime<Utc>| {
        left + (t - t0).num_seconds() as f64 / (t1 - t0).num_seconds().max(1) as f64 * (right - left)
    };
    let sy = |v: f64| bottom - v / top_v * (bottom - top);
    let mut out = svg_open(h, &format!("{} by {x_name}", d.names.join(", ")));
    out.push_str(&legend(d.names, 14.0));
    let mut v = 0.0;
    while v <= top_v + step / 2.0 {
        let y = sy(v);
        out.push_str(&format!(
            r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="currentColor" stroke-opacity=".15"/><text x="{:.0}" y="{:.1}" font-size="11" text-anchor="end" fill="currentColor">{}</text>"#,
            left - 6.0,
            y + 4.0,
            thousands(v)
        ));
        v += step;
    }
    let (ticks, fmt) = time_ticks(t0, t1);
    for t in ticks {
        let x = sx(t);
        let fmt = if fmt == "%H:%M" && (t0.date_naive() != t1.date_naive()) && t.hour() == 0 { "%m-%d" } else { fmt };
        // A label at the right end stays inside the picture (the left margin has room).
        let anchor = if x > right - 40.0 { "end" } else { "middle" };
        out.push_str(&format!(
            r#"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{:.0}" stroke="currentColor" stroke-opacity=".5"/><text class="tick" x="{x:.1}" y="{:.0}" font-size="11" text-anchor="{anchor}" fill="currentColor">{}</text>"#,
            bottom + 4.0,
            bottom + 17.0,
            t.format(fmt)
        ));
    }
    out.push_str(&format!(
        r#"<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="currentColor" stroke-opacity=".6"/>"#
    ));
    for (si, name) in d.names.iter().enumerate() {
        let colour = COLOURS[si % COLOURS.len()];
        let mut segment: Vec<(f64, f64)> = Vec::new();
        let mut segments = Vec::new();
        let mut prev: Option<DateTime<Utc>> = None;
        for (t, vals) in &pts {
            let gap = prev.is_some_and(|p| usual > 0 && (*t - p).num_seconds() * 2 > usual * 3);
            match vals[si] {
                Some(v) if !gap => segment.push((sx(*t), sy(v))),
                Some(v) => {
                    segments.push(std::mem::take(&mut segment));
                    segment.push((sx(*t), sy(v)));
                }
                None => segments.push(std::mem::take(&mut segment)),
            }
            prev = Some(*t);
        }
        segments.push(segment);
        for s in segments.iter().filter(|s| s.len() > 1) {
            let p: Vec<String> = s.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            out.push_str(&format!(
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                p.join(" ")
            ));
        }
        let r = if pts.len() > 60 { 1.5 } else { 3.0 };
        for (t, vals) in &pts {
            if let Some(v) = vals[si] {
                out.push_str(&format!(
                    r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="{r}" fill="{colour}"><title>{} {}: {}</title></circle>"#,
                    sx(*t),
                    sy(v),
                    escape::html(name),
                    t.format("%Y-%m-%d %H:%M"),
                    thousands(v)
                ));
            }
        }
    }
    out.push_str("</svg>");
    out
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A grid: a row per row (labelled by `x`; weekday numbers by name), a cell per series, its
/// colour on a seven-step scale from zero to the largest value, with the key below.
fn heatmap(d: &Data, x_name: &str) -> String {
    let cols = d.y.len().max(1) as f64;
    let (left, top, cell_h) = (60.0, 18.0, 20.0);
    let cell_w = ((WIDTH - left - 10.0) / cols).min(60.0);
    let grid_h = d.rows.len() as f64 * cell_h;
    let h = top + grid_h + 50.0;
    let max = d.rows.iter().flat_map(|r| d.y.iter().filter_map(|&i| number(r.get(i)))).fold(0.0, f64::max);
    let mut out = svg_open(h, &format!("heat map by {x_name}"));
    for (ci, name) in d.names.iter().enumerate() {
        // `h07` reads as 07.
        let short = name.strip_prefix('h').filter(|s| s.chars().all(|c| c.is_ascii_digit())).unwrap_or(name);
        out.push_str(&format!(
            r#"<text x="{:.1}" y="{:.0}" font-size="11" text-anchor="middle" fill="currentColor">{}</text>"#,
            left + (ci as f64 + 0.5) * cell_w,
            top - 5.0,
            escape::html(short)
        ));
    }
    for (ri, r) in d.rows.iter().enumerate() {
        let raw = cell_text(r.get(d.x).unwrap_or(&J::UNDEFINED));
        let label = match (x_name, raw.parse::<usize>()) {
            ("weekday", Ok(n)) if (1..=7).contains(&n) => WEEKDAYS[n - 1].to_string(),
            _ => raw.clone(),
        };
        let y = top + ri as f64 * cell_h;
        out.push_str(&format!(
            r#"<text x="{:.0}" y="{:.1}" font-size="11" text-anchor="end" fill="currentColor">{}</text>"#,
            left - 6.0,
            y + cell_h / 2.0 + 4.0,
            escape::html(&escape::text(&label))
        ));
        for (ci, &i) in d.y.iter().enumerate() {
            let v = number(r.get(i));
            let shade = match v {
                Some(v) if max > 0.0 && v > 0.0 => SCALE[1 + ((v / max) * (SCALE.len() - 2) as f64).round() as usize],
                _ => SCALE[0],
            };
            out.push_str(&format!(
                r#"<rect class="mark" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.0}" fill="{shade}"><title>{} {}: {}</title></rect>"#,
                left + ci as f64 * cell_w,
                cell_w - 1.0,
                cell_h - 1.0,
                escape::html(&escape::text(&label)),
                escape::html(&d.names[ci]),
                v.map(thousands).unwrap_or_else(|| "no value".into())
            ));
        }
    }
    // The key: each colour and the values it stands for.
    let ky = top + grid_h + 14.0;
    out.push_str(&format!(r#"<text x="{left}" y="{:.0}" font-size="11" fill="currentColor">0</text>"#, ky + 11.0));
    for (i, c) in SCALE.iter().enumerate() {
        out.push_str(&format!(
            r#"<rect class="key" x="{:.0}" y="{ky:.0}" width="28" height="14" fill="{c}"><title>{}</title></rect>"#,
            left + 16.0 + i as f64 * 30.0,
            if i == 0 {
                "0".to_string()
            } else {
                let step = max / (SCALE.len() - 2) as f64;
                format!("about {}", thousands((step * (i - 1) as f64).round()))
            }
        ));
    }
    out.push_str(&format!(
        r#"<text x="{:.0}" y="{:.0}" font-size="11" fill="currentColor">{}</text>"#,
        left + 16.0 + SCALE.len() as f64 * 30.0 + 4.0,
        ky + 11.0,
        thousands(max)
    ));
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_nice_ticks() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-1234.5), "-1,234.5");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(nice(87.0, 4.0), (50.0, 100.0));
        assert_eq!(nice(2000.0, 4.0), (500.0, 2000.0));
        assert_eq!(nice(0.0, 4.0), (0.5, 1.0));
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        let t = |s: &str| crate::report::value::parse_ts(s).unwrap();
        let (ticks, fmt) = time_ticks(t("2025-09-22T00:30:00Z"), t("2025-09-22T23:00:00Z"));
        assert_eq!(fmt, "%H:%M");
        assert!(ticks.iter().all(|x| x.minute() == 0 && x.hour() % 3 == 0), "{ticks:?}");
        let (ticks, fmt) = time_ticks(t("2025-09-01"), t("2025-09-30"));
        assert_eq!(fmt, "%Y-%m-%d");
        assert!(ticks.len() <= 8 && ticks.iter().all(|x| x.weekday() == chrono::Weekday::Mon), "{ticks:?}");
        let (ticks, _) = time_ticks(t("2024-01-15"), t("2025-09-30"));
        assert!(ticks.iter().all(|x| x.day() == 1) && ticks.len() <= 8, "{ticks:?}");
    }
}

#[cfg(test)]
mod page_tests {
    use crate::check::ir::Ty;
    use crate::report::chart_spec::Chart;
    use crate::report::render::{render, Format};
    use crate::report::run::{QueryResult, ReportResult};
    use crate::report::value::{parse_ts, Value};

    fn page(columns: &[(&str, Ty)], rows: Vec<Vec<Value>>, chart: Chart) -> String {
        let r = ReportResult {
            name: "t".into(),
            title: "T".into(),
            description: String::new(),
            params: Vec::new(),
            window: None,
            generated_at: chrono::Utc::now(),
            backend: "sqlite",
            results: vec![QueryResult {
                name: "q".into(),
                title: None,
                chart: Some(chart),
                columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
                rows,
            }],
            views: Vec::new(),
            inlined: Vec::new(),
            replica_lag: None,
        };
        let html = render(&r, Format::Html, None, None).unwrap();
        let svg = &html[html.find("<svg").expect("a chart is drawn")..];
        svg[..svg.find("</svg>").unwrap() + 6].to_string()
    }

    fn ts(s: &str) -> Value {
        Value::Timestamp(parse_ts(s).unwrap())
    }

    fn shape(kind: &'static str, x: &str, y: &[&str]) -> Chart {
        Chart { kind, x: x.into(), y: y.iter().map(|s| s.to_string()).collect() }
    }

    /// A declared bar chart is drawn as bars even when the rows have a timestamp (the page
    /// once drew a line over `first_seen` instead), with labels, values, tooltips; several
    /// series get a legend; hostile labels are escaped.
    #[test]
    fn bars_are_bars_with_labels_values_and_a_legend() {
        let cols = [("src_ip", Ty::Text), ("first_seen", Ty::Timestamp), ("sessions", Ty::Int), ("logins", Ty::Int)];
        let rows = vec![
            vec![Value::Text("10.0.0.1".into()), ts("2025-09-22"), Value::Int(12345), Value::Int(3)],
            vec![Value::Text("<script>x</script>".into()), ts("2025-09-21"), Value::Int(7), Value::Int(0)],
        ];
        let svg = page(&cols, rows.clone(), shape("bar", "src_ip", &["sessions"]));
        assert!(!svg.contains("polyline"), "{svg}");
        assert_eq!(svg.matches(r#"<rect class="mark""#).count(), 2, "{svg}");
        assert!(svg.contains(">12,345</text>") && svg.contains("10.0.0.1 — sessions: 12,345</title>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"), "{svg}");
        assert!(!svg.contains(r#"class="legend""#), "one series needs no legend");
        let svg = page(&cols, rows, shape("bar", "src_ip", &["sessions", "logins"]));
        assert_eq!(svg.matches(r#"<rect class="mark""#).count(), 4, "{svg}");
        assert_eq!(svg.matches(r#"class="legend""#).count(), 2, "{svg}");
    }

    /// Time series: a point per row and series with its exact value, a line through
    /// consecutive buckets, a gap where buckets are missing or a value is null, date ticks;
    /// one point alone still draws.
    #[test]
    fn lines_have_a_time_axis_gaps_and_single_points() {
        let cols = [("day", Ty::Timestamp), ("events", Ty::Int)];
        let day =
            |d: u32, v: Option<i64>| vec![ts(&format!("2025-09-{d:02}")), v.map(Value::Int).unwrap_or(Value::Null)];
        let svg = page(
            &cols,
            vec![day(1, Some(5)), day(2, Some(1500)), day(3, None), day(4, Some(8)), day(5, Some(9)), day(9, Some(2))],
            shape("line", "day", &["events"]),
        );
        assert_eq!(svg.matches(r#"<circle class="mark""#).count(), 5, "{svg}");
        assert!(svg.contains("events 2025-09-02 00:00: 1,500</title>"), "{svg}");
        // Days 1-2 and 4-5 are lines; day 3 is null and days 5 → 9 skip three buckets.
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains(">2025-09-01</text>") && svg.contains(">1,500</text>"), "{svg}");
        let one = page(&cols, vec![day(7, Some(3))], shape("line", "day", &["events"]));
        assert_eq!(one.matches(r#"<circle class="mark""#).count(), 1, "{one}");
    }

    /// The weekday × hour grid: a cell per value, weekdays by name, a key.
    #[test]
    fn heat_map_cells_and_key() {
        let cols = [("weekday", Ty::Int), ("h00", Ty::Int), ("h01", Ty::Int)];
        let rows = vec![
            vec![Value::Int(1), Value::Int(0), Value::Int(40)],
            vec![Value::Int(7), Value::Int(10), Value::Int(20)],
        ];
        let svg = page(&cols, rows, shape("heatmap", "weekday", &["h00", "h01"]));
        assert_eq!(svg.matches(r#"<rect class="mark""#).count(), 4, "{svg}");
        assert!(
            svg.contains(">Mon</text>") && svg.contains(">Sun</text>") && svg.contains("Mon h01: 40</title>"),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"class="key""#).count(), 7, "{svg}");
        assert!(svg.contains(r##"fill="#123f78"><title>Mon h01: 40"##), "the largest value is the darkest: {svg}");
    }
}
