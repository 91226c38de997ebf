//! Any text as a window or a parameter of any type, at any `now`: an error or a value,
//! never a panic; every window lies within the years reports cover and starts before it ends.
#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use cowrieql::report::def::{Align, ParamDef, ParamType, WindowKind};
use cowrieql::report::params::{parse, parse_window};
use libfuzzer_sys::fuzz_target;

const KINDS: [WindowKind; 7] = WindowKind::ALL;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let secs = i64::from_le_bytes(data[..8].try_into().unwrap()).rem_euclid(253_402_300_000);
    let now: DateTime<Utc> = DateTime::from_timestamp(secs, 0).unwrap();
    let Ok(text) = std::str::from_utf8(&data[8..]) else { return };
    if let Ok(w) = parse_window(text, &KINDS, now) {
        assert!(w.start < w.end);
        assert!(w.start >= Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap());
        assert!(w.end <= Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap());
        for unit in [Align::Hour, Align::Day] {
            let a = w.clone().aligned(unit);
            assert!(a.start <= w.start && a.end >= w.end);
        }
    }
    for ty in [
        ParamType::Date,
        ParamType::Timestamp,
        ParamType::Duration,
        ParamType::Int,
        ParamType::Float,
        ParamType::Text,
        ParamType::Bool,
        ParamType::List,
    ] {
        let def =
            ParamDef { ty, default: None, description: None, min: Some(0.0), max: Some(1e6), choices: None, required: false };
        let _ = parse(text, &def);
    }
});
