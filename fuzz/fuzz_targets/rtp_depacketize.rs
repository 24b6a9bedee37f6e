//! The RTP depacketizers of remote video (H.264, VP8, VP9) and sound (Opus), behind the frame
//! assembler that reorders packets, waits for holes and gives up on lost frames.
//!
//! Input: one byte picks the codec, then packets, each as a flags byte (bit 0: marker),
//! sequence number (2 bytes), RTP timestamp (4 bytes), payload length (1 byte) and payload:
//! the header fields the assembler reads, in a form the fuzzer mutates well.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtc::rtp;
use salle::rtc::depacketize::{FrameAssembler, RemoteCodec};

fuzz_target!(|data: &[u8]| {
    let Some((&codec, mut rest)) = data.split_first() else {
        return;
    };
    let codec = match codec % 4 {
        0 => RemoteCodec::H264,
        1 => RemoteCodec::Vp8,
        2 => RemoteCodec::Vp9,
        _ => RemoteCodec::Opus,
    };
    let mut assembler = FrameAssembler::new(codec);
    while rest.len() >= 8 {
        let (head, tail) = rest.split_at(8);
        let len = usize::from(head[7]).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: head[0] & 1 == 1,
                payload_type: 96,
                sequence_number: u16::from_be_bytes([head[1], head[2]]),
                timestamp: u32::from_be_bytes([head[3], head[4], head[5], head[6]]),
                ssrc: 1,
                ..Default::default()
            },
            payload: payload.to_vec().into(),
        };
        for frame in assembler.push(packet) {
            assert!(!frame.frame.data.is_empty());
        }
    }
});
