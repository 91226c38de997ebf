//! Parser, checker and both emitters must never panic, whatever the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let _ = cowrieql::compile::compile_all(src, &Default::default());
    }
});
