//! Rendering a report through minijinja: text (aligned tables), markdown, html (one
//! self-contained page with inline SVG charts), json, and csv. Every value a template prints
//! is escaped for its format by the environment's formatter; tables and charts built here
//! escape their cells themselves.

use anyhow::{anyhow, bail, Result};
use minijinja::value::Value as J;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};
use serde_json::json;

mod chart;
mod csv;
mod html_table;
mod table;
mod term_chart;

use super::escape;
use super::run::{QueryResult, ReportResult};
use super::value::Value;

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
        "chart": q.chart.as_ref().map(|c| c.kind),
        "chart_shape": q.chart,
        "columns": q.columns.iter().map(|(n, t)| json!({"name": n, "type": t.name()})).collect::<Vec<_>>(),
        "rows": q.rows.iter().map(|r| r.iter().map(to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "records": records,
    })
}

pub use chart::thousands;

/// A section's declared chart as inline SVG (empty when it has none): the site's index.
pub fn section_chart(q: &QueryResult) -> String {
    chart::chart(J::from_serialize(section_json(q))).map(|v| v.to_string()).unwrap_or_default()
}

/// The data every template sees.
pub fn context(r: &ReportResult) -> serde_json::Value {
    let results: serde_json::Map<String, serde_json::Value> =
        r.results.iter().map(|q| (q.name.clone(), section_json(q))).collect();
    let params: serde_json::Map<String, serde_json::Value> =
        r.params.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
    let mut c = json!({
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
    });
    // Only when read from a standby: the documents keep their shape otherwise.
    if let Some(lag) = r.replica_lag {
        c["replica"] = json!({"replay_lag_seconds": lag});
    }
    c
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

/// A section's rows as template values.
fn rows(section: &J) -> Result<Vec<Vec<J>>, Error> {
    Ok(section.get_attr("rows")?.try_iter()?.map(|r| r.try_iter().map(|i| i.collect()).unwrap_or_default()).collect())
}

/// A section's declared chart (`chart_spec::Chart`), with where its columns are.
struct Shape {
    kind: String,
    x: String,
    xi: usize,
    y: Vec<String>,
    yi: Vec<usize>,
}

/// The chart a section declares; None when it has none (or names a column it lacks).
fn chart_shape(section: &J) -> Result<Option<Shape>, Error> {
    let shape = section.get_attr("chart_shape")?;
    if shape.is_none() || shape.is_undefined() {
        return Ok(None);
    }
    let names: Vec<String> = columns(section)?.into_iter().map(|(n, _)| n).collect();
    let col = |n: &str| names.iter().position(|c| c == n);
    let x = cell_text(&shape.get_attr("x")?);
    let y: Vec<String> = shape.get_attr("y")?.try_iter()?.map(|v| cell_text(&v)).collect();
    let (Some(xi), Some(yi)) = (col(&x), y.iter().map(|s| col(s)).collect::<Option<Vec<usize>>>()) else {
        return Ok(None);
    };
    Ok(Some(Shape { kind: cell_text(&shape.get_attr("kind")?), x, xi, y, yi }))
}

/// The default templates, one file per format; a report's own template replaces one.
const DEFAULTS: [(&str, &str); 3] = [
    ("report.txt", include_str!("templates/default.txt")),
    ("report.md", include_str!("templates/default.md")),
    ("report.html", include_str!("templates/default.html")),
];

/// The one environment every report renders in: the defaults, `table` and `chart`, strict
/// undefined names, and escaping chosen by the template's name (its extension is its format,
/// as minijinja intends), so nothing in the context says which format it is.
static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| match Format::of_template(name) {
        Format::Html => AutoEscape::Html,
        Format::Json => AutoEscape::Json,
        _ => AutoEscape::None,
    });
    // Text and markdown have no autoescape mode in minijinja: the formatter escapes them.
    // HTML also shows control characters as visible escapes rather than passing them on.
    env.set_formatter(|out, state, value| {
        let format = format_of(state);
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
    env.add_function("table", table::table);
    env.add_function("chart", chart::chart);
    env.add_function("html_table", html_table::html_table);
    env.add_function("bars", term_chart::bars);
    for (name, src) in DEFAULTS {
        // The defaults are part of the binary and tested; a broken one is a build mistake.
        if let Err(e) = env.add_template(name, src) {
            panic!("default template {name} does not parse: {e:#}");
        }
    }
    env
});

/// The format of the template being rendered.
fn format_of(state: &State) -> Format {
    Format::of_template(state.name())
}

impl Format {
    /// The extension a template of this format is named with.
    fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
    fn of_template(name: &str) -> Format {
        match name.rsplit('.').next() {
            Some("md") => Format::Markdown,
            Some("html") => Format::Html,
            Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            _ => Format::Text,
        }
    }
}

/// Whether a template parses (`cowrieql check`).
pub fn check_template(src: &str, format: Format) -> Result<()> {
    let mut env = ENV.clone();
    env.add_template_owned(format!("own.{}", format.extension()), src.to_string())
        .map_err(|e| anyhow!("{} template: {e:#}", format.name()))?;
    Ok(())
}

/// Renders `r` as `format`, with the report's own template when it has one; text tables at
/// full width.
pub fn render(r: &ReportResult, format: Format, template: Option<&str>, csv_query: Option<&str>) -> Result<String> {
    render_fit(r, format, template, csv_query, None)
}

/// The HTML page of `r` in a site (`report::site`): session ids link to their pages.
pub fn render_site_page(r: &ReportResult, template: Option<&str>) -> Result<String> {
    render_with(r, Format::Html, template, None, None, true)
}

pub use html_table::session_page;

/// As `render`, with text tables fitted to `width` display columns (a terminal's width),
/// which templates see as `width`.
pub fn render_fit(
    r: &ReportResult,
    format: Format,
    template: Option<&str>,
    csv_query: Option<&str>,
    width: Option<usize>,
) -> Result<String> {
    render_with(r, format, template, csv_query, width, false)
}

fn render_with(
    r: &ReportResult,
    format: Format,
    template: Option<&str>,
    csv_query: Option<&str>,
    width: Option<usize>,
    site: bool,
) -> Result<String> {
    if format == Format::Csv {
        return csv::render_csv(r, csv_query);
    }
    if format == Format::Json && template.is_none() {
        let mut ctx = context(r);
        if let Some(o) = ctx.as_object_mut() {
            o.remove("sections");
        }
        return Ok(serde_json::to_string_pretty(&ctx)? + "\n");
    }
    let mut ctx = context(r);
    if let Some(o) = ctx.as_object_mut() {
        o.insert("width".into(), json!(width));
        o.insert("site".into(), json!(site));
    }
    let render_in = |env: &Environment, name: &str| {
        env.get_template(name)?.render(&ctx).map_err(|e| anyhow!("rendering {} as {}: {e:#}", r.name, format.name()))
    };
    match template {
        None => render_in(&ENV, &format!("report.{}", format.extension())),
        Some(src) => {
            let mut env = ENV.clone();
            let name = format!("own.{}", format.extension());
            env.add_template_owned(name.clone(), src.to_string())
                .map_err(|e| anyhow!("template for {}: {e:#}", format.name()))?;
            render_in(&env, &name)
        }
    }
}
