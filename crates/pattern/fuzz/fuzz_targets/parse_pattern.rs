//! Pattern parsing must never panic, whatever the text; a pattern that parses must be usable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match eventferry_pattern::Pattern::parse(&text) {
        Ok(p) => {
            // Match the pattern text against itself: it is an object, so it is a valid event.
            let _ = p.matches(text.as_bytes());
        }
        Err(e) => assert!(!e.reason().is_empty()),
    }
});
