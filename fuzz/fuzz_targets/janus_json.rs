//! Janus' JSON messages (events from the VideoRoom plugin, hangups, timeouts): what the call
//! reads from them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // WebSocket text messages are UTF-8
    };
    let _ = salle::signal::janus::read_event_offline(text);
});
