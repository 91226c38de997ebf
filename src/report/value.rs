//! One value type for rows from either database, so the same query gives the same values
//! on both: timestamps as UTC instants, booleans as booleans, integers as i64.

use chrono::{DateTime, Utc};

use crate::check::ir::Ty;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Timestamp(DateTime<Utc>),
    Json(serde_json::Value),
    List(Vec<String>),
}

impl Value {
    /// Parses a `--param` value for a parameter of type `ty`.
    pub fn parse(s: &str, ty: Ty) -> Result<Value, String> {
        let bad = || format!("{s:?} is not a valid {}", ty.name());
        Ok(match ty {
            Ty::Int => Value::Int(s.trim().parse().map_err(|_| bad())?),
            Ty::Float => Value::Float(s.trim().parse().map_err(|_| bad())?),
            Ty::Bool => match s.trim() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => return Err(bad()),
            },
            Ty::Timestamp => Value::Timestamp(parse_ts(s).ok_or_else(bad)?),
            Ty::Duration => Value::Int(parse_duration(s).ok_or_else(bad)?),
            Ty::Text | Ty::Null => Value::Text(s.to_string()),
            Ty::Json => Value::Json(serde_json::from_str(s).map_err(|_| bad())?),
            Ty::List => Value::List(s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()),
        })
    }

    /// Whether this value may be bound to a parameter of type `ty`.
    pub fn fits(&self, ty: Ty) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _)
                | (Value::Int(_), Ty::Int | Ty::Float | Ty::Duration)
                | (Value::Float(_), Ty::Float)
                | (Value::Text(_), Ty::Text)
                | (Value::Bool(_), Ty::Bool)
                | (Value::Timestamp(_), Ty::Timestamp)
                | (Value::Json(_), Ty::Json)
                | (Value::List(_), Ty::List)
        )
    }

    /// A stable text form (used to compare rows across databases and in plain outputs).
    pub fn display(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Int(i) => i.to_string(),
            // Floats are rounded so the two databases' last-bit differences do not show.
            Value::Float(f) => format_float(*f),
            Value::Text(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Timestamp(t) => crate::time::canonical_text(t),
            Value::Json(j) => j.to_string(),
            Value::List(l) => l.join(","),
        }
    }
}

pub fn format_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        let s = format!("{f:.6}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    }
}

/// `2025-09-22`, `2025-09-22T13:45:00Z`, or any Cowrie timestamp form.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() == 10 {
        return chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    crate::time::parse_cowrie_ts(s)
}

/// `90`, `90s`, `15m`, `24h`, `7d`, `2w` → seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (n, mul) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1),
        'm' => (&s[..s.len() - 1], 60),
        'h' => (&s[..s.len() - 1], 3600),
        'd' => (&s[..s.len() - 1], 86_400),
        'w' => (&s[..s.len() - 1], 604_800),
        _ => (s, 1),
    };
    n.parse::<i64>().ok()?.checked_mul(mul)
}
