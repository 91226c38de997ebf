//! Parameters and windows from any text: an error or a value, never a panic, and every
//! window within the years reports cover, starting before it ends.

use chrono::{DateTime, TimeZone, Utc};
use cowrieql::report::def::{ParamDef, ParamType, WindowKind};
use cowrieql::report::params::{parse, parse_window};
use proptest::prelude::*;

const ALL: [WindowKind; 7] = WindowKind::ALL;

fn bounds() -> (DateTime<Utc>, DateTime<Utc>) {
    (Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap())
}

/// Window spellings near the edges: huge and negative years, week 53, month 13, day 31,
/// durations past what a timestamp holds.
fn spelling() -> impl Strategy<Value = String> {
    let year = prop_oneof![-300_000i64..300_000, 1890i64..1910, 9990i64..10_010];
    let unit = prop_oneof![Just("s"), Just("m"), Just("h"), Just("d"), Just("w"), Just("")];
    prop_oneof![
        year.clone().prop_map(|y| y.to_string()),
        (year.clone(), 0u32..60).prop_map(|(y, w)| format!("{y}-W{w:02}")),
        (year.clone(), 0u32..15).prop_map(|(y, m)| format!("{y:04}-{m:02}")),
        (year.clone(), 0u32..15, 0u32..35).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (year.clone(), year, 1u32..13).prop_map(|(a, b, m)| format!("{a:04}-{m:02}-01..{b:04}-{m:02}-28")),
        (any::<u64>(), unit).prop_map(|(n, u)| format!("last {n}{u}")),
        (0u64..100_000, Just("d")).prop_map(|(n, u)| format!("last {n}{u}")),
        any::<String>(),
    ]
}

fn now() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..253_402_300_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn every_window_is_bounded_and_ordered(s in spelling(), now in now()) {
        if let Ok(w) = parse_window(&s, &ALL, now) {
            let (lo, hi) = bounds();
            prop_assert!(w.start < w.end, "{s:?}: {w:?}");
            prop_assert!(w.start >= lo && w.end <= hi, "{s:?}: {w:?}");
            for unit in [cowrieql::report::def::Align::Hour, cowrieql::report::def::Align::Day] {
                let a = w.clone().aligned(unit);
                prop_assert!(a.start <= w.start && a.end >= w.end, "{s:?} aligned: {a:?}");
            }
        }
    }

    #[test]
    fn every_parameter_type_parses_any_text_without_panic(s in any::<String>(), n in spelling()) {
        for ty in [
            ParamType::Date, ParamType::Timestamp, ParamType::Duration, ParamType::Int,
            ParamType::Float, ParamType::Text, ParamType::Bool, ParamType::List,
        ] {
            let def = ParamDef { ty, default: None, description: None, min: Some(-5.0), max: Some(1e9), choices: None, required: false };
            let _ = parse(&s, &def);
            let _ = parse(&n, &def);
        }
    }
}

/// Each kind alone: a spelling of another kind is an error naming the kinds allowed.
#[test]
fn a_window_of_a_kind_not_allowed_is_refused_with_the_kinds() {
    let now = Utc.with_ymd_and_hms(2025, 9, 22, 12, 0, 0).unwrap();
    let e = parse_window("2025-W39", &[WindowKind::Day], now).unwrap_err();
    assert!(e.contains("is not a day"), "{e}");
    let e = parse_window("9999-12-31", &ALL, now).unwrap_err();
    assert!(e.contains("outside the years 1900 to 9998"), "{e}");
    let e = parse_window("9998-12-27..9999-01-03", &ALL, now).unwrap_err();
    assert!(e.contains("outside"), "{e}");
}
