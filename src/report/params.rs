//! Parameter values: parsing `--param k=v` and YAML defaults, validation, and windows
//! (`2025-09-22`, `2025-W39`, `2025-09`, `last 24h`) that give `$start` and `$end`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::def::{ParamDef, ParamType, WindowKind};
use super::value::{parse_duration, parse_ts, Value};
use crate::check::ir::Ty;

/// The language type a parameter is declared as.
pub fn lang_type(t: ParamType) -> Ty {
    match t {
        ParamType::Date | ParamType::Timestamp => Ty::Timestamp,
        ParamType::Duration => Ty::Duration,
        ParamType::Int => Ty::Int,
        ParamType::Float => Ty::Float,
        ParamType::Text => Ty::Text,
        ParamType::Bool => Ty::Bool,
        ParamType::List => Ty::List,
    }
}

/// Parses a value given on the command line.
pub fn parse(s: &str, def: &ParamDef) -> Result<Value, String> {
    let v = match def.ty {
        ParamType::Date => {
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))?;
            Value::Timestamp(day(d))
        }
        ParamType::Timestamp => {
            Value::Timestamp(parse_ts(s).ok_or_else(|| format!("{s:?} is not a timestamp (2025-09-22T13:45:00Z)"))?)
        }
        ParamType::Duration => {
            Value::Int(parse_duration(s).ok_or_else(|| format!("{s:?} is not a duration (30s, 90m, 24h, 7d)"))?)
        }
        ParamType::List => Value::List(s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()),
        ParamType::Int => Value::parse(s, Ty::Int)?,
        ParamType::Float => Value::parse(s, Ty::Float)?,
        ParamType::Bool => Value::parse(s, Ty::Bool)?,
        ParamType::Text => Value::Text(s.to_string()),
    };
    validate(&v, def)?;
    Ok(v)
}

/// Parses a YAML default.
pub fn from_yaml(v: &yaml_serde::Value, def: &ParamDef) -> Result<Value, String> {
    match v {
        yaml_serde::Value::Null => Ok(Value::Null),
        yaml_serde::Value::String(s) => parse(s, def),
        yaml_serde::Value::Number(n) => parse(&n.to_string(), def),
        yaml_serde::Value::Bool(b) => parse(&b.to_string(), def),
        yaml_serde::Value::Sequence(items) if def.ty == ParamType::List => {
            let strs: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(str::to_string)).collect();
            strs.map(Value::List).ok_or_else(|| "a list default must hold text".to_string())
        }
        _ => Err(format!("{v:?} does not fit a {:?} parameter", def.ty)),
    }
}

fn validate(v: &Value, def: &ParamDef) -> Result<(), String> {
    let n = match v {
        Value::Int(i) if def.ty != ParamType::Duration => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    if let Some(n) = n {
        if def.min.is_some_and(|m| n < m) || def.max.is_some_and(|m| n > m) {
            let lo = def.min.map(|m| m.to_string()).unwrap_or_else(|| "-∞".into());
            let hi = def.max.map(|m| m.to_string()).unwrap_or_else(|| "∞".into());
            return Err(format!("{n} is outside {lo}..{hi}"));
        }
    }
    if let (Value::Text(s), Some(choices)) = (v, &def.choices) {
        if !choices.contains(s) {
            return Err(format!("{s:?} is not one of {}", choices.join(", ")));
        }
    }
    Ok(())
}

/// A resolved window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub label: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `all`: the bounds only enclose every plausible event; filled series span the data.
    pub unbounded: bool,
}

impl Window {
    /// The window widened to whole `unit`s: start rounded down, end rounded up.
    pub fn aligned(mut self, unit: super::def::Align) -> Window {
        let step = match unit {
            super::def::Align::Hour => 3600,
            super::def::Align::Day => 86_400,
        };
        let down = |t: DateTime<Utc>| t.timestamp().div_euclid(step) * step;
        let start = down(self.start);
        let mut end = down(self.end);
        if end < self.end.timestamp() || self.end.timestamp_subsec_nanos() > 0 {
            end += step;
        }
        self.start = DateTime::from_timestamp(start, 0).unwrap_or(self.start);
        self.end = DateTime::from_timestamp(end, 0).unwrap_or(self.end);
        self
    }
}

fn day(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

/// The first and last instants a window may reach: years 1900 to 9998, which every stored
/// timestamp (1970–9999, see crate::time) and both databases' date arithmetic hold.
fn earliest() -> DateTime<Utc> {
    day(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN))
}
fn latest() -> DateTime<Utc> {
    day(NaiveDate::from_ymd_opt(9999, 1, 1).unwrap_or(NaiveDate::MAX))
}

/// Days `first` to `first + days` as a window (None past the calendar's end).
fn days(label: String, first: NaiveDate, days: u64) -> Option<Window> {
    let end = first.checked_add_days(chrono::Days::new(days))?;
    Some(Window { label, start: day(first), end: day(end), unbounded: false })
}

/// Parses a window spelling allowed by `kinds`. `now` anchors `yesterday` and `last …`.
/// Every window it returns starts before it ends, within years 1900 to 9998.
pub fn parse_window(s: &str, kinds: &[WindowKind], now: DateTime<Utc>) -> Result<Window, String> {
    let w = parse_unchecked(s, kinds, now)?;
    if w.start < earliest() || w.end > latest() {
        return Err(format!(
            "{:?} is outside the years 1900 to 9998 that reports cover: use `all` for everything stored",
            s.trim()
        ));
    }
    Ok(w)
}

fn parse_unchecked(s: &str, kinds: &[WindowKind], now: DateTime<Utc>) -> Result<Window, String> {
    let s = s.trim();
    let today = now.date_naive();
    let allowed = |k| kinds.contains(&k);
    let expected = || {
        let forms: Vec<&str> = kinds
            .iter()
            .map(|k| match k {
                WindowKind::Day => "a day (2025-09-22, today, yesterday)",
                WindowKind::Week => "an ISO week (2025-W39, this week, last week)",
                WindowKind::Month => "a month (2025-09, this month, last month)",
                WindowKind::Relative => "a span ending now (last 24h, last 7d)",
                WindowKind::Year => "a year (2025)",
                WindowKind::Range => "a range of days, both included (2025-09-20..2025-09-26)",
                WindowKind::All => "all",
            })
            .collect();
        format!("{s:?} is not {}", forms.join(" or "))
    };
    if allowed(WindowKind::All) && s == "all" {
        // Wide enough for any stored timestamp, and valid on both databases.
        return Ok(Window { label: "all".into(), start: earliest(), end: latest(), unbounded: true });
    }
    if let (true, Some((a, b))) = (allowed(WindowKind::Range), s.split_once("..")) {
        let parse = |d: &str| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok();
        let (Some(a), Some(b)) = (parse(a), parse(b)) else { return Err(expected()) };
        if b < a {
            return Err(format!("{s:?}: the range ends before it starts"));
        }
        let label = format!("{}..{}", a.format("%Y-%m-%d"), b.format("%Y-%m-%d"));
        let n = (b - a).num_days().unsigned_abs() + 1;
        return days(label, a, n).ok_or_else(expected);
    }
    let year = s.parse::<i32>().ok().filter(|y| (1900..=9998).contains(y));
    if let (true, Some(y)) = (allowed(WindowKind::Year), year) {
        let (Some(a), Some(b)) = (NaiveDate::from_ymd_opt(y, 1, 1), NaiveDate::from_ymd_opt(y + 1, 1, 1)) else {
            return Err(expected());
        };
        if s.len() == 4 {
            return Ok(Window { label: s.to_string(), start: day(a), end: day(b), unbounded: false });
        }
    }
    // Named days, weeks, months.
    let named_day = match s {
        "today" => Some(today),
        "yesterday" => today.checked_sub_days(chrono::Days::new(1)),
        _ => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
    };
    if let (true, Some(d)) = (allowed(WindowKind::Day), named_day) {
        return days(d.format("%Y-%m-%d").to_string(), d, 1).ok_or_else(expected);
    }
    let week = match s {
        "this week" => Some(today.iso_week()),
        "last week" => today.checked_sub_days(chrono::Days::new(7)).map(|d| d.iso_week()),
        _ => s.split_once("-W").and_then(|(y, w)| {
            let (y, w) = (y.parse::<i32>().ok()?, w.parse::<u32>().ok()?);
            NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).map(|d| d.iso_week())
        }),
    };
    if let (true, Some(w)) = (allowed(WindowKind::Week), week) {
        let monday = NaiveDate::from_isoywd_opt(w.year(), w.week(), chrono::Weekday::Mon).ok_or_else(expected)?;
        return days(format!("{}-W{:02}", w.year(), w.week()), monday, 7).ok_or_else(expected);
    }
    let month = match s {
        "this month" => Some((today.year(), today.month())),
        "last month" => {
            Some(if today.month() == 1 { (today.year() - 1, 12) } else { (today.year(), today.month() - 1) })
        }
        _ => s
            .split_once('-')
            .filter(|(y, m)| y.len() == 4 && m.len() == 2)
            .and_then(|(y, m)| Some((y.parse().ok()?, m.parse().ok()?))),
    };
    if let (true, Some((y, m))) = (allowed(WindowKind::Month), month) {
        let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(expected)?;
        let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, m + 1, 1) }
            .ok_or_else(expected)?;
        return Ok(Window { unbounded: false, label: format!("{y}-{m:02}"), start: day(first), end: day(next) });
    }
    if allowed(WindowKind::Relative) {
        if let Some(secs) = s.strip_prefix("last ").and_then(parse_duration).filter(|s| *s > 0) {
            // Checked: `last 99999999d` reaches past what a timestamp can hold.
            let start =
                Duration::try_seconds(secs).and_then(|d| now.checked_sub_signed(d)).filter(|t| *t >= earliest());
            let Some(start) = start else {
                return Err(format!("{s:?} reaches back before 1900: use `all` for everything stored"));
            };
            return Ok(Window { unbounded: false, label: s.to_string(), start, end: now });
        }
    }
    Err(expected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows() {
        let now = at("2025-10-01T12:00:00Z");
        let all = [WindowKind::Day, WindowKind::Week, WindowKind::Month, WindowKind::Relative];
        let w = parse_window("2025-09-22", &all, now).unwrap();
        assert_eq!((w.start, w.end), (at("2025-09-22T00:00:00Z"), at("2025-09-23T00:00:00Z")));
        // ISO week 39 of 2025 starts on Monday 22 September.
        let w = parse_window("2025-W39", &all, now).unwrap();
        assert_eq!((w.start, w.end), (at("2025-09-22T00:00:00Z"), at("2025-09-29T00:00:00Z")));
        // ISO week 1 of 2026 starts on Monday 29 December 2025.
        assert_eq!(parse_window("2026-W01", &all, now).unwrap().start, at("2025-12-29T00:00:00Z"));
        let w = parse_window("2025-12", &all, now).unwrap();
        assert_eq!((w.start, w.end), (at("2025-12-01T00:00:00Z"), at("2026-01-01T00:00:00Z")));
        let w = parse_window("last 24h", &all, now).unwrap();
        assert_eq!((w.start, w.end), (at("2025-09-30T12:00:00Z"), now));
        assert_eq!(parse_window("yesterday", &all, now).unwrap().label, "2025-09-30");
        let w = parse_window("last 24h", &all, at("2025-10-01T12:37:05.5Z"))
            .unwrap()
            .aligned(super::super::def::Align::Hour);
        assert_eq!((w.start, w.end), (at("2025-09-30T12:00:00Z"), at("2025-10-01T13:00:00Z")));
        let w = parse_window("2025-09-22", &all, now).unwrap().aligned(super::super::def::Align::Hour);
        assert_eq!((w.start, w.end), (at("2025-09-22T00:00:00Z"), at("2025-09-23T00:00:00Z")), "aligned stays put");
        assert_eq!(parse_window("last month", &all, now).unwrap().label, "2025-09");
        assert!(parse_window("2025-W39", &[WindowKind::Day], now).unwrap_err().contains("a day"));
        assert!(parse_window("2025-13", &all, now).is_err());
        assert!(parse_window("2025-W54", &all, now).is_err());
    }

    #[test]
    fn all_years_and_ranges() {
        let now = at("2025-10-01T12:00:00Z");
        let kinds = [WindowKind::Day, WindowKind::Year, WindowKind::Range, WindowKind::All, WindowKind::Relative];
        let w = parse_window("2018", &kinds, now).unwrap();
        assert_eq!(
            (w.start, w.end, w.label.as_str()),
            (at("2018-01-01T00:00:00Z"), at("2019-01-01T00:00:00Z"), "2018")
        );
        // Both days included.
        let w = parse_window("2018-05-20..2018-05-26", &kinds, now).unwrap();
        assert_eq!((w.start, w.end), (at("2018-05-20T00:00:00Z"), at("2018-05-27T00:00:00Z")));
        let w = parse_window("2018-05-20..2018-05-20", &kinds, now).unwrap();
        assert_eq!((w.start, w.end), (at("2018-05-20T00:00:00Z"), at("2018-05-21T00:00:00Z")));
        assert!(parse_window("2018-05-26..2018-05-20", &kinds, now).unwrap_err().contains("ends before"));
        assert!(parse_window("2018-05-26..soon", &kinds, now).is_err());
        let w = parse_window("all", &kinds, now).unwrap();
        assert!(w.unbounded && w.start < at("1990-01-01T00:00:00Z") && w.end > at("2900-01-01T00:00:00Z"));
        assert!(!parse_window("2018", &kinds, now).unwrap().unbounded);
        // Each form only where the report allows it.
        assert!(parse_window("all", &[WindowKind::Day], now).is_err());
        assert!(parse_window("2018", &[WindowKind::Day], now).unwrap_err().contains("a day"));
        assert!(parse_window("12345", &kinds, now).is_err());
        // Never a panic on a span no timestamp can hold.
        for s in ["last 99999999d", "last 9223372036854775807s"] {
            assert!(parse_window(s, &kinds, now).unwrap_err().contains("before 1900"), "{s}");
        }
        // Too many seconds for a number at all: not a span.
        assert!(parse_window("last 106751991167301d", &kinds, now).is_err());
    }
}
