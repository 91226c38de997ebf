//! A query's chart as its report declares it (`chart:` in the YAML) and as resolved against
//! the query's columns: the kind, the x column and the y series.

use serde::{Deserialize, Serialize};

use crate::check::ir::Ty;

/// `chart: bar` (the columns inferred) or `chart: {kind: line, x: hour, y: [events, sessions]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ChartSpec {
    Kind(String),
    Shape(ShapeDef),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeDef {
    pub kind: String,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<Series>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Series {
    One(String),
    Many(Vec<String>),
}

/// What the page draws: `bar` (a bar per row of `x`, a bar per `y` series), `line` (`x` a
/// timestamp, a line per `y` series), `heatmap` (a row of cells per row, labelled by `x`, a
/// column per `y`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub kind: &'static str,
    pub x: String,
    pub y: Vec<String>,
}

pub const KINDS: [&str; 3] = ["bar", "line", "heatmap"];

impl ChartSpec {
    pub fn kind(&self) -> &str {
        match self {
            ChartSpec::Kind(k) => k,
            ChartSpec::Shape(s) => &s.kind,
        }
    }

    /// The chart over a query with output `cols`, or what is wrong with the declaration (and
    /// a hint).
    pub fn resolve(&self, cols: &[(String, Ty)]) -> Result<Chart, (String, String)> {
        let kind = KINDS.into_iter().find(|k| *k == self.kind()).ok_or_else(|| {
            (format!("unknown chart kind `{}`", self.kind()), format!("use one of: {}", KINDS.join(", ")))
        })?;
        let numeric = |t: Ty| matches!(t, Ty::Int | Ty::Float);
        let (x, y) = match self {
            ChartSpec::Shape(ShapeDef { x, y, .. }) => (
                x.clone(),
                y.clone().map(|s| match s {
                    Series::One(c) => vec![c],
                    Series::Many(v) => v,
                }),
            ),
            ChartSpec::Kind(_) => (None, None),
        };
        let x = match x {
            Some(x) => x,
            // Bars are labelled by text first (a source, a command), else by any non-number.
            None => cols
                .iter()
                .find(|(_, t)| match kind {
                    "line" => *t == Ty::Timestamp,
                    "bar" => *t == Ty::Text,
                    _ => true,
                })
                .or_else(|| cols.iter().find(|(_, t)| kind == "bar" && !numeric(*t)))
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    (format!("a {kind} chart needs an x column and this query has none to offer"), shape_hint(kind))
                })?,
        };
        let y = y.unwrap_or_else(|| {
            let all = cols.iter().filter(|(n, t)| numeric(*t) && *n != x).map(|(n, _)| n.clone());
            if kind == "bar" {
                all.take(1).collect()
            } else {
                all.collect()
            }
        });
        let names = || cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        let Some((_, xt)) = cols.iter().find(|(n, _)| *n == x) else {
            return Err((
                format!("the chart's x column `{x}` is not a column of the query"),
                format!("columns: {}", names()),
            ));
        };
        if kind == "line" && *xt != Ty::Timestamp {
            return Err((
                format!("a line chart's x column must be a timestamp; `{x}` is {}", xt.name()),
                "use a bar chart, or a timestamp column such as `bucket(ts, day)`".into(),
            ));
        }
        if y.is_empty() {
            return Err((format!("the {kind} chart has no numeric column to draw"), shape_hint(kind)));
        }
        for s in &y {
            match cols.iter().find(|(n, _)| n == s) {
                None => {
                    return Err((
                        format!("the chart's y column `{s}` is not a column of the query"),
                        format!("columns: {}", names()),
                    ))
                }
                Some((_, t)) if !numeric(*t) => {
                    return Err((
                        format!("the chart's y column `{s}` is {}, not a number", t.name()),
                        "y columns are counts or other numbers".into(),
                    ))
                }
                _ => {}
            }
        }
        Ok(Chart { kind, x, y })
    }
}

fn shape_hint(kind: &str) -> String {
    format!("declare it: `chart: {{kind: {kind}, x: <column>, y: [<number column>, …]}}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ChartSpec {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn declared_and_inferred_shapes() {
        let cols = vec![
            ("day".to_string(), Ty::Timestamp),
            ("ip".into(), Ty::Text),
            ("n".into(), Ty::Int),
            ("m".into(), Ty::Float),
        ];
        assert_eq!(spec("bar").resolve(&cols).unwrap(), Chart { kind: "bar", x: "ip".into(), y: vec!["n".into()] });
        assert_eq!(
            spec("line").resolve(&cols).unwrap(),
            Chart { kind: "line", x: "day".into(), y: vec!["n".into(), "m".into()] }
        );
        assert_eq!(
            spec("{kind: line, x: day, y: m}").resolve(&cols).unwrap(),
            Chart { kind: "line", x: "day".into(), y: vec!["m".into()] }
        );
        assert!(spec("pie").resolve(&cols).unwrap_err().0.contains("unknown chart kind"));
        assert!(spec("{kind: line, x: ip}").resolve(&cols).unwrap_err().0.contains("must be a timestamp"));
        assert!(spec("{kind: bar, x: ip, y: [n, nope]}").resolve(&cols).unwrap_err().0.contains("`nope`"));
        assert!(spec("{kind: bar, x: n, y: ip}").resolve(&cols).unwrap_err().0.contains("not a number"));
        assert!(yaml_serde::from_str::<ChartSpec>("{kind: bar, colour: red}").is_err());
    }
}
