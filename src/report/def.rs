//! Report definitions: `reports/NAME.yaml`, parsed strictly (unknown keys are errors with
//! file and line), with typed parameters and an optional time window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// A parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Date,
    Timestamp,
    Duration,
    Int,
    Float,
    Text,
    Bool,
    /// A list of text values (`a,b,c`), used as `x in $p`.
    List,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub default: Option<yaml_serde::Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Allowed values (text parameters).
    #[serde(default)]
    pub choices: Option<Vec<String>>,
    /// The report cannot run without it.
    #[serde(default)]
    pub required: bool,
}

/// Which spellings a window parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// `2025-09-22`
    Day,
    /// `2025-W39` (ISO week, Monday to Monday)
    Week,
    /// `2025-09`
    Month,
    /// `last 24h`, `last 7d`
    Relative,
    /// `2018`
    Year,
    /// `2018-05-20..2018-05-26`, both days included
    Range,
    /// `all`: every event stored
    All,
}

impl WindowKind {
    /// Every spelling.
    pub const ALL: [WindowKind; 7] = [
        WindowKind::Day,
        WindowKind::Week,
        WindowKind::Month,
        WindowKind::Relative,
        WindowKind::Year,
        WindowKind::Range,
        WindowKind::All,
    ];
}

/// A unit a window is widened to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    Hour,
    Day,
}

/// A parameter that gives the queries `$start` and `$end`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDef {
    pub param: String,
    pub kinds: Vec<WindowKind>,
    pub default: String,
    /// Widen the window to whole hours or days (`last 24h` from 10:37 starts at 10:00), so
    /// every bucket of a per-hour report is complete and per-hour views answer it exactly.
    #[serde(default)]
    pub align: Option<Align>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What a query result's missing buckets are filled with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillDef {
    /// The timestamp column holding the bucket.
    pub column: String,
    /// hour or day.
    pub step: String,
    /// Numeric columns set to 0 in a filled row (others are null).
    #[serde(default)]
    pub zero: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum QuerySource {
    Inline(String),
    Spec(Box<QuerySpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub fill: Option<FillDef>,
    #[serde(default)]
    pub title: Option<String>,
    /// The chart the HTML page draws: `bar`, `line`, `heatmap`, or the shape in full
    /// (`{kind, x, y}`; `report::chart_spec`).
    #[serde(default)]
    pub chart: Option<crate::report::chart_spec::ChartSpec>,
    /// Columns that only an enrichment source can fill (column → source, see
    /// [`ENRICHMENTS`]): shown as `n/a` when that source never wrote an event, so a 0 is
    /// never read as "checked, clean".
    #[serde(default)]
    pub enrichment: BTreeMap<String, String>,
}

/// Enrichment sources and the event ids they write into Cowrie's log. DShield has none in
/// any Cowrie version (its plugin only sends), so its figures are never computed here.
pub const ENRICHMENTS: &[(&str, &[&str])] =
    &[("virustotal", &["cowrie.virustotal.scanfile", "cowrie.virustotal.scanurl"]), ("dshield", &[])];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDef {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub window: Option<WindowDef>,
    #[serde(default)]
    pub parameters: BTreeMap<String, ParamDef>,
    /// In the order written: the order of the report's sections.
    pub queries: indexmap::IndexMap<String, QuerySource>,
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

impl ReportDef {
    /// Whether `name` is one of the report's parameters or its window's.
    pub fn takes(&self, name: &str) -> bool {
        self.parameters.contains_key(name) || self.window.as_ref().is_some_and(|w| w.param == name)
    }
}

/// A query of a report, resolved to its text.
#[derive(Debug, Clone)]
pub struct Query {
    pub name: String,
    pub text: String,
    /// Where the text came from (for diagnostics).
    pub origin: String,
    pub fill: Option<FillDef>,
    pub title: Option<String>,
    pub chart: Option<crate::report::chart_spec::ChartSpec>,
    pub enrichment: BTreeMap<String, String>,
    /// Where line 1 of `text` sits in the file that holds it: (file, lines before it, the
    /// indent its lines carry there). None when it cannot be told (a query found nowhere verbatim).
    pub place: Option<(String, usize, usize)>,
}

/// Where `text` (a YAML block scalar, its indent removed) stands in `yaml`: the number of
/// lines before its first line, and the indent of its lines.
fn place_in(yaml: &str, text: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let wanted: Vec<&str> = text.lines().collect();
    let (skip, first) = wanted.iter().enumerate().find(|(_, l)| !l.trim().is_empty())?;
    (0..lines.len()).find_map(|i| {
        let indent = lines[i].strip_suffix(first)?.len();
        if !lines[i][..indent].bytes().all(|b| b == b' ') || i < skip {
            return None;
        }
        let all = wanted.iter().enumerate().skip(skip).all(|(k, w)| {
            lines.get(i - skip + k).is_some_and(|l| {
                if w.is_empty() {
                    l.trim().is_empty()
                } else {
                    l.len() == indent + w.len() && l.ends_with(w)
                }
            })
        });
        all.then_some((i - skip, indent))
    })
}

/// A loaded report: its definition, its queries' text and its templates' text.
#[derive(Debug, Clone)]
pub struct Report {
    pub def: ReportDef,
    pub origin: String,
    pub queries: Vec<Query>,
    /// format → template source
    pub templates: BTreeMap<String, String>,
}

pub const FORMATS: &[&str] = &["text", "markdown", "html", "json", "csv"];

/// Reads files a report refers to: from disk next to the YAML, or from the built-ins.
pub trait Files {
    fn read(&self, rel: &str) -> Result<String>;
}

pub struct DiskFiles(pub PathBuf);

impl Files for DiskFiles {
    fn read(&self, rel: &str) -> Result<String> {
        let p = self.0.join(rel);
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
    }
}

/// The 1-based line where `key:` is first written (for errors serde cannot place).
fn line_of(yaml: &str, key: &str) -> usize {
    let needle = format!("{key}:");
    yaml.lines().position(|l| l.trim_start().starts_with(&needle)).map(|i| i + 1).unwrap_or(1)
}

fn looks_like_file(s: &str) -> bool {
    !s.contains('\n') && (s.ends_with(".j2") || s.ends_with(".jinja") || s.ends_with(".html") || s.ends_with(".md"))
}

impl Report {
    /// Parses a report's YAML. `origin` names it in errors.
    pub fn parse(yaml: &str, origin: &str, files: &dyn Files) -> Result<Report> {
        let def: ReportDef = yaml_serde::from_str(yaml).map_err(|e| anyhow!("{origin}: {e}"))?;
        let mut errors = Vec::new();
        if def.name.is_empty() || !def.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            errors.push(format!("name {:?} must be letters, digits, - or _", def.name));
        }
        for (name, p) in &def.parameters {
            if name == "start" || name == "end" {
                errors.push(format!(
                    "line {}: parameter {name}: `start` and `end` come from the window",
                    line_of(yaml, name)
                ));
            }
            if let Some(d) = &p.default {
                if let Err(e) = super::params::from_yaml(d, p) {
                    errors.push(format!("line {}: parameter {name}: default {e}", line_of(yaml, name)));
                }
            }
            if p.choices.is_some() && p.ty != ParamType::Text {
                errors.push(format!(
                    "line {}: parameter {name}: choices are only for text parameters",
                    line_of(yaml, name)
                ));
            }
        }
        if let Some(w) = &def.window {
            if w.kinds.is_empty() {
                errors.push("window: kinds must name at least one of day, week, month, relative".into());
            }
            if let Err(e) = super::params::parse_window(&w.default, &w.kinds, chrono::Utc::now()) {
                errors.push(format!("line {}: window: default {e}", line_of(yaml, "window")));
            }
        }
        for f in def.templates.keys() {
            if !FORMATS.contains(&f.as_str()) {
                errors.push(format!(
                    "line {}: templates: unknown format {f:?} (formats: {})",
                    line_of(yaml, f),
                    FORMATS.join(", ")
                ));
            }
        }
        let mut queries = Vec::new();
        for (name, src) in def.queries.iter() {
            let q = match src {
                QuerySource::Inline(text) => Query {
                    name: name.clone(),
                    text: text.clone(),
                    origin: format!("{origin} (query {name})"),
                    fill: None,
                    title: None,
                    chart: None,
                    enrichment: BTreeMap::new(),
                    place: place_in(yaml, text).map(|(l, i)| (origin.to_string(), l, i)),
                },
                QuerySource::Spec(spec) => {
                    let (text, qorigin, place) = match (&spec.query, &spec.file) {
                        (Some(t), None) => (
                            t.clone(),
                            format!("{origin} (query {name})"),
                            place_in(yaml, t).map(|(l, i)| (origin.to_string(), l, i)),
                        ),
                        (None, Some(f)) => (files.read(f)?, f.clone(), Some((f.clone(), 0, 0))),
                        _ => {
                            errors.push(format!("query {name}: give exactly one of `query` or `file`"));
                            continue;
                        }
                    };
                    Query {
                        name: name.clone(),
                        text,
                        origin: qorigin,
                        fill: spec.fill.clone(),
                        title: spec.title.clone(),
                        chart: spec.chart.clone(),
                        enrichment: spec.enrichment.clone(),
                        place,
                    }
                }
            };
            for source in q.enrichment.values() {
                if !ENRICHMENTS.iter().any(|(s, _)| s == source) {
                    let known: Vec<&str> = ENRICHMENTS.iter().map(|(s, _)| *s).collect();
                    errors.push(format!(
                        "query {name}: unknown enrichment source {source:?} (known: {})",
                        known.join(", ")
                    ));
                }
            }
            queries.push(q);
        }
        if queries.is_empty() {
            errors.push("queries: a report needs at least one query".into());
        }
        let mut templates = BTreeMap::new();
        for (fmt, t) in &def.templates {
            let text = if looks_like_file(t) { files.read(t)? } else { t.clone() };
            templates.insert(fmt.clone(), text);
        }
        if !errors.is_empty() {
            bail!("{origin}: {}", errors.join("; "));
        }
        Ok(Report { def, origin: origin.to_string(), queries, templates })
    }

    pub fn load(path: &Path) -> Result<Report> {
        let yaml = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Report::parse(&yaml, &path.display().to_string(), &DiskFiles(dir))
    }
}
