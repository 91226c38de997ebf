//! The log-line parser must never panic: every line is an event or a dead letter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cowrieql::store::ingest::event::parse_line(data, 0);
});
