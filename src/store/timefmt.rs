//! Timestamps: parsing Cowrie's variants and the stored SQLite form.
//!
//! SQLite stores timestamps as fixed-width ISO-8601 UTC text with microseconds
//! (`2020-01-21T13:14:26.457892Z`): text order is time order, so range tests against a bound
//! parameter in the same form are correct. PostgreSQL stores `timestamptz`.

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

/// The stored SQLite form: always 27 characters, microseconds, `Z`.
pub fn to_sqlite_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(to_sqlite_text(&parse_cowrie_ts(s).unwrap()), want, "{s}");
        }
        // 1.x omitted the fraction when it was zero.
        assert_eq!(to_sqlite_text(&parse_cowrie_ts("2017-11-15T00:00:06Z").unwrap()), "2017-11-15T00:00:06.000000Z");
    }

    #[test]
    fn garbage_is_rejected() {
        for s in ["", "yesterday", "2020-13-45T99:00:00Z", "1700000000"] {
            assert!(parse_cowrie_ts(s).is_none(), "{s}");
        }
    }
}
