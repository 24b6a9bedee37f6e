//! LiveKit's signalling messages (protobuf `SignalResponse` from the server's WebSocket):
//! decoded, and what the room reads from them without a connection (participants, tracks,
//! descriptions and candidates, leave actions, refusals).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = salle::signal::livekit::read_response_offline(data);
});
