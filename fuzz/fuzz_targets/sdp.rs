//! SDP handling: the ICE-restart fragments of WHIP/WHEP (ours cut from an offer, the server's
//! put into its last answer) and webrtc-rs' parser, which reads every remote description the
//! room is given (WHIP/WHEP answers, Janus' and LiveKit's offers and answers).
//!
//! Input: a description, then optionally a NUL byte and an ICE fragment for it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salle::signal::sdpfrag::{apply_fragment, restart_fragment};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (sdp, fragment) = text.split_once('\0').unwrap_or((&text, ""));
    let _ = rtc::sdp::SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes()));
    if let Ok(ours) = restart_fragment(sdp) {
        assert!(ours.contains("a=ice-ufrag:"));
    }
    let fragment = if fragment.is_empty() { sdp } else { fragment };
    let _ = apply_fragment(sdp, fragment);
});
