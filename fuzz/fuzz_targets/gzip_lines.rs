//! Any bytes read as a `.gz` log: lines come out in order, none longer than the line limit,
//! and the stream ends in a value or an error, never a panic or unbounded memory (a bomb
//! inflates into skipped bytes, not into a buffer).
#![no_main]

use cowrieql::store::ingest::{event, source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = source::LineReader::new(source::gzip_stream(std::io::Cursor::new(data.to_vec())));
    let mut last = 0;
    loop {
        match r.next_line() {
            Ok(Some(line)) => {
                assert!(line.offset >= last);
                assert!(line.bytes.len() <= source::MAX_LINE);
                last = line.offset;
                let _ = event::parse_line(line.bytes, line.offset);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
