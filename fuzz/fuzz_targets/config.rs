//! The configuration loader: any text is either a configuration or an error located at
//! file:line:column, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // load_file reads UTF-8 only and says so
    };
    match salle::config::parse(text, Path::new("fuzz.toml")) {
        Ok(config) => {
            let _ = config.room_settings();
        }
        Err(e) => {
            // The error names a place inside the text.
            assert!(e.line <= text.lines().count().max(1) + 1, "{e}");
            let _ = e.to_string();
        }
    }
});
