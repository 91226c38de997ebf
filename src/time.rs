//! Timestamps, for every layer: parsing Cowrie's variants, the range both databases hold, and
//! the one canonical text form.
//!
//! The canonical form is fixed-width ISO-8601 UTC text with microseconds
//! (`2020-01-21T13:14:26.457892Z`): the compiler writes time literals in it, and SQLite stores
//! timestamps in it, so text order is time order and range tests against a bound parameter in
//! the same form are correct. PostgreSQL stores `timestamptz`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses a Cowrie `timestamp`: `Z`, `+HHMM` or `+HH:MM` offsets, with or without a fraction;
/// a timestamp with no zone at all is taken as UTC (Cowrie logs UTC unless told otherwise).
pub fn parse_cowrie_ts(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    let naive = s.trim_end_matches('Z');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// The one form both databases store a time in, or None outside their common range: years
/// 1970 to 9999 (PostgreSQL refuses year 0 and SQLite's text order breaks on negative or
/// five-digit years), microseconds (PostgreSQL's precision; finer digits are dropped), and a
/// leap second (`23:59:60.5`, which chrono keeps as a 61st second) held at `23:59:59.999999`,
/// the same instant on both.
pub fn normalise(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, Timelike};
    if !(1970..=9999).contains(&t.year()) {
        return None;
    }
    let micros = (t.nanosecond() / 1000).min(999_999);
    t.with_nanosecond(micros * 1000)
}

/// The canonical text form: always 27 characters, microseconds, `Z`.
pub fn canonical_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_the_common_range_are_refused_and_leap_seconds_held() {
        let p = |s: &str| parse_cowrie_ts(s).and_then(normalise).map(|t| canonical_text(&t));
        assert_eq!(p("2016-12-31T23:59:60.5Z").as_deref(), Some("2016-12-31T23:59:59.999999Z"));
        assert_eq!(p("2016-12-31T23:59:60Z").as_deref(), Some("2016-12-31T23:59:59.999999Z"));
        assert_eq!(p("2020-01-21T13:14:26.4578929Z").as_deref(), Some("2020-01-21T13:14:26.457892Z"));
        for s in ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "-0001-01-01T00:00:00Z", "+10000-01-01T00:00:00Z"] {
            assert_eq!(p(s), None, "{s}");
        }
        assert!(p("1970-01-01T00:00:00Z").is_some() && p("9999-12-31T23:59:59Z").is_some());
    }

    #[test]
    fn all_cowrie_variants_normalise_to_utc() {
        let want = "2020-01-21T13:14:26.457892Z";
        for s in [
            "2020-01-21T13:14:26.457892Z",
            "2020-01-21T13:14:26.457892+0000",
            "2020-01-21T15:14:26.457892+0200",
            "2020-01-21T14:14:26.457892+01:00",
            "2020-01-21T13:14:26.457892",
        ] {
            assert_eq!(canonical_text(&parse_cowrie_ts(s).unwrap()), want, "{s}");
        }
        // 1.x omitted the fraction when it was zero.
        assert_eq!(canonical_text(&parse_cowrie_ts("2017-11-15T00:00:06Z").unwrap()), "2017-11-15T00:00:06.000000Z");
    }

    #[test]
    fn garbage_is_rejected() {
        for s in ["", "yesterday", "2020-13-45T99:00:00Z", "1700000000"] {
            assert!(parse_cowrie_ts(s).is_none(), "{s}");
        }
    }
}
