//! LiveKit data packets (protobuf `DataPacket` on the data channels): captions from
//! `Transcription` packets and `lk.transcription` text streams, others' JSON messages.
//!
//! Input: packets one after the other, each after a 2-byte length, into one `Captions` (the
//! streams' headers, chunks and trailers only mean something in sequence).
#![no_main]

use libfuzzer_sys::fuzz_target;
use salle::signal::livekit::data::Captions;

fuzz_target!(|data: &[u8]| {
    let mut captions = Captions::default();
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (packet, tail) = rest[2..].split_at(len);
        rest = tail;
        let _ = captions.receive(packet, |identity| format!("name of {identity}"));
        assert!(captions.lines().len() <= 3);
    }
});
