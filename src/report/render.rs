//! Rendering a report through minijinja: text (aligned tables), markdown, html (one
//! self-contained page with inline SVG charts), json, and csv. Every value a template prints
//! is escaped for its format by the environment's formatter; tables and charts built here
//! escape their cells themselves.

use anyhow::{anyhow, bail, Result};
use minijinja::value::Value as J;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};
use serde_json::json;

use super::escape;
use super::run::{QueryResult, ReportResult};
use super::value::Value;
use crate::check::ir::Ty;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Json,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        Ok(match s {
            "text" => Format::Text,
            "markdown" | "md" => Format::Markdown,
            "html" => Format::Html,
            "json" => Format::Json,
            "csv" => Format::Csv,
            _ => bail!("unknown format {s:?}: use text, markdown, html, json or csv"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(i) => json!(i),
        Value::Float(f) => serde_json::Number::from_f64((f * 1e6).round() / 1e6)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Timestamp(_) => json!(v.display()),
        Value::Json(j) => j.clone(),
        Value::List(l) => json!(l),
    }
}

fn section_json(q: &QueryResult) -> serde_json::Value {
    let records: Vec<serde_json::Value> = q
        .rows
        .iter()
        .map(|r| {
            serde_json::Value::Object(q.columns.iter().zip(r).map(|((n, _), v)| (n.clone(), to_json(v))).collect())
        })
        .collect();
    json!({
        "name": q.name,
        "title": q.title.clone().unwrap_or_else(|| q.name.replace('_', " ")),
        "chart": q.chart,
        "columns": q.columns.iter().map(|(n, t)| json!({"name": n, "type": t.name()})).collect::<Vec<_>>(),
        "rows": q.rows.iter().map(|r| r.iter().map(to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "records": records,
    })
}

/// The data every template sees.
pub fn context(r: &ReportResult) -> serde_json::Value {
    let results: serde_json::Map<String, serde_json::Value> =
        r.results.iter().map(|q| (q.name.clone(), section_json(q))).collect();
    let params: serde_json::Map<String, serde_json::Value> =
        r.params.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
    json!({
        "report": {"name": r.name, "title": r.title, "description": r.description},
        "params": params,
        "window": r.window.as_ref().map(|w| json!({
            "label": w.label,
            "start": Value::Timestamp(w.start).display(),
            "end": Value::Timestamp(w.end).display(),
        })),
        "generated_at": r.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "backend": r.backend,
        "views": r.views.iter().map(|v| json!({
            "name": v.name,
            "refreshed_at": Value::Timestamp(v.refreshed_at).display(),
            "age_seconds": (r.generated_at - v.refreshed_at).num_seconds().max(0),
            "stale": v.stale,
        })).collect::<Vec<_>>(),
        "results": results,
        "sections": r.results.iter().map(section_json).collect::<Vec<_>>(),
    })
}

fn cell_text(v: &J) -> String {
    if v.is_none() || v.is_undefined() {
        String::new()
    } else if let Some(s) = v.as_str() {
        s.to_string()
    } else if v.kind() == minijinja::value::ValueKind::Bool {
        // minijinja writes Python's True/False.
        v.is_true().to_string()
    } else {
        v.to_string()
    }
}

fn is_numeric(t: &str) -> bool {
    t == "int" || t == "float"
}

/// A section's (name, type) column pairs.
fn columns(section: &J) -> Result<Vec<(String, String)>, Error> {
    Ok(section
        .get_attr("columns")?
        .try_iter()?
        .map(|c| {
            (cell_text(&c.get_attr("name").unwrap_or_default()), cell_text(&c.get_attr("type").unwrap_or_default()))
        })
        .collect())
}

/// Display columns a string takes on a terminal (CJK and emoji take two).
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `w` display columns, ending in `…` when cut.
fn clip(s: &str, w: usize) -> String {
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
fn table(state: &State, section: J) -> Result<J, Error> {
    let fmt = state.lookup("__format").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let width = state.lookup("__width").and_then(|v| v.as_usize());
    let cols = columns(&section)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in section.get_attr("rows")?.try_iter()? {
        // An empty string is a value an attacker sent; a blank cell is no value (null).
        rows.push(
            r.try_iter()?.map(|v| if v.as_str() == Some("") { "(empty)".into() } else { cell_text(&v) }).collect(),
        );
    }
    let out = if fmt == "markdown" {
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

/// `chart(section)`: an inline SVG bar chart (a text label and a number) or time series (a
/// timestamp and a number), chosen from the columns. Labels are HTML-escaped.
fn chart(section: J) -> Result<J, Error> {
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
            max = escape::html(&super::value::format_float(max)),
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
            val = escape::html(super::value::format_float(v).trim_end_matches(".0")),
        ));
    }
    svg.push_str("</svg>");
    Ok(J::from_safe_string(svg))
}

const DEFAULT_TEXT: &str = "{{ report.title }}{% if window %} ({{ window.label }}){% endif %}
{% for k, v in params|items %}{% if v is not none %}{{ k }}={{ v }} {% endif %}{% endfor %}
{% for v in views %}view {{ v.name }} refreshed {{ v.refreshed_at }}, {{ v.age_seconds }} s before this report{% if v.stale %} (STALE: ingested since){% endif %}
{% endfor %}{% for s in sections %}
== {{ s.title }} ==
{{ table(s) }}{% endfor %}";

const DEFAULT_MARKDOWN: &str = "# {{ report.title }}{% if window %} ({{ window.label }}){% endif %}

{{ report.description }}
{% for s in sections %}
## {{ s.title }}

{{ table(s) }}{% endfor %}
*Generated {{ generated_at }} from {{ backend }} by cowrieql.*
{% for v in views %}*View {{ v.name }} refreshed {{ v.refreshed_at }}, {{ v.age_seconds }} s before this report{% if v.stale %} (stale: ingested since){% endif %}.*
{% endfor %}";

const DEFAULT_HTML: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{{ report.title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0 2em}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
td.n{text-align:right}code{word-break:break-all}.chart{display:block;margin:.5em 0}small{color:#666}
</style></head><body>
<h1>{{ report.title }}{% if window %} <small>{{ window.label }}</small>{% endif %}</h1>
<p>{{ report.description }}</p>
<p><small>{% for k, v in params|items %}{% if v is not none %}{{ k }} = {{ v }}; {% endif %}{% endfor %}generated {{ generated_at }} from {{ backend }}{% for v in views %}; view {{ v.name }} refreshed {{ v.refreshed_at }}, {{ v.age_seconds }} s before{% if v.stale %} (stale){% endif %}{% endfor %}</small></p>
{% for s in sections %}<section><h2>{{ s.title }}</h2>
{% if s.chart and s.rows %}{{ chart(s) }}{% endif %}
<table><thead><tr>{% for c in s.columns %}<th>{{ c.name }}</th>{% endfor %}</tr></thead><tbody>
{% for r in s.rows %}<tr>{% for v in r %}<td{% if s.columns[loop.index0].type in ["int", "float"] %} class="n"{% endif %}>{% if v is not none %}{{ v }}{% endif %}</td>{% endfor %}</tr>
{% else %}<tr><td colspan="{{ s.columns|length }}"><em>no rows</em></td></tr>
{% endfor %}</tbody></table></section>
{% endfor %}</body></html>
"#;

/// Whether a template parses (`cowrieql check`).
pub fn check_template(src: &str, format: Format) -> Result<()> {
    let mut env = Environment::new();
    env.add_function("table", table);
    env.add_function("chart", chart);
    env.add_template_owned("t", src.to_string()).map_err(|e| anyhow!("{} template: {e:#}", format.name()))?;
    Ok(())
}

/// Renders `r` as `format`, with the report's own template when it has one; text tables at
/// full width.
pub fn render(r: &ReportResult, format: Format, template: Option<&str>, csv_query: Option<&str>) -> Result<String> {
    render_fit(r, format, template, csv_query, None)
}

/// As `render`, with text tables fitted to `width` display columns (a terminal's width).
pub fn render_fit(
    r: &ReportResult,
    format: Format,
    template: Option<&str>,
    csv_query: Option<&str>,
    width: Option<usize>,
) -> Result<String> {
    if format == Format::Csv {
        return render_csv(r, csv_query);
    }
    if format == Format::Json && template.is_none() {
        let mut ctx = context(r);
        if let Some(o) = ctx.as_object_mut() {
            o.remove("sections");
        }
        return Ok(serde_json::to_string_pretty(&ctx)? + "\n");
    }
    let src = match (template, format) {
        (Some(t), _) => t,
        (None, Format::Text) => DEFAULT_TEXT,
        (None, Format::Markdown) => DEFAULT_MARKDOWN,
        (None, Format::Html) => DEFAULT_HTML,
        (None, Format::Json | Format::Csv) => unreachable!("handled above"),
    };
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let escape = match format {
        Format::Html => AutoEscape::Html,
        Format::Json => AutoEscape::Json,
        _ => AutoEscape::None,
    };
    env.set_auto_escape_callback(move |_| escape);
    // Text and markdown have no autoescape mode in minijinja: the formatter escapes them.
    // HTML also shows control characters as visible escapes rather than passing them on.
    env.set_formatter(move |out, state, value| {
        if value.is_safe() || format == Format::Json {
            return minijinja::escape_formatter(out, state, value);
        }
        let s = if value.is_none() { String::new() } else { cell_text(value) };
        let e = match format {
            Format::Markdown => escape::markdown(&s),
            Format::Html => escape::html(&escape::text(&s)),
            _ => escape::text(&s),
        };
        out.write_str(&e).map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write"))
    });
    env.add_function("table", table);
    env.add_function("chart", chart);
    env.add_template_owned("report", src.to_string()).map_err(|e| anyhow!("template for {}: {e:#}", format.name()))?;
    let mut ctx = context(r);
    if let Some(o) = ctx.as_object_mut() {
        o.insert("__format".into(), json!(format.name()));
        o.insert("__width".into(), json!(width));
    }
    let tmpl = env.get_template("report")?;
    tmpl.render(ctx).map_err(|e| anyhow!("rendering {} as {}: {e:#}", r.name, format.name()))
}

fn render_csv(r: &ReportResult, query: Option<&str>) -> Result<String> {
    let q = match query {
        Some(name) => r.results.iter().find(|q| q.name == name).ok_or_else(|| {
            anyhow!(
                "report {} has no query {name:?}; its queries: {}",
                r.name,
                r.results.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?,
        None => r.results.first().ok_or_else(|| anyhow!("report {} has no queries", r.name))?,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(q.columns.iter().map(|(n, _)| n.as_str()))?;
    for row in &q.rows {
        w.write_record(row.iter().zip(&q.columns).map(|(v, (_, t))| match (v, t) {
            (Value::Null, _) => String::new(),
            // Control characters (terminal escapes) shown as in every other format.
            (_, Ty::Text) | (Value::Text(_), _) => escape::csv_cell(&escape::text(&v.display())),
            _ => v.display(),
        }))?;
    }
    Ok(String::from_utf8(w.into_inner().map_err(|e| anyhow!("{e}"))?)?)
}
