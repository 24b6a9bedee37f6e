//! The media engine: GStreamer pipelines that turn the room's camera and microphone into
//! encoded frames for WebRTC, and remote participants' encoded frames into pictures on the
//! screen and sound in the speaker. Raw video never passes through Rust: pipelines hand over
//! encoded access units (send) and take encoded frames (receive) through appsink/appsrc.
//!
//! One file, one job:
//! - `encoder`: the H.264 encoder ladder (probing, per-encoder settings and live controls)
//! - `send_video`: camera -> (MJPEG decode) -> scale -> encoder -> access units
//! - `send_audio`: microphone -> channel selection -> echo cancellation -> Opus -> packets
//! - `receive`: remote tracks -> decoders -> compositor -> screen; audio mix -> speaker
//! - `layout`: where each participant goes on the screen (pure)
//! - `bus`: pipeline errors and device loss as media events

pub mod encoder;
pub mod layout;
pub mod receive;
pub mod send_audio;
pub mod send_video;

use gstreamer::prelude::*;
use std::time::Duration;

/// Initialises GStreamer once for the process.
pub fn init() -> Result<(), String> {
    gstreamer::init().map_err(|e| format!("GStreamer: {e}"))
}

/// Whether an element factory is installed.
pub fn has_element(name: &str) -> bool {
    gstreamer::ElementFactory::find(name).is_some()
}

/// One encoded unit ready for WebRTC: an H.264 access unit (Annex B) or an Opus packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    /// Capture timestamp (running time of the pipeline).
    pub pts: Duration,
    /// Presentation duration, when known.
    pub duration: Option<Duration>,
    /// A keyframe (H.264 IDR, with SPS/PPS in front); always true for audio.
    pub keyframe: bool,
}

/// Runs `pipeline`'s bus until EOS or an error; returns the error text with the element that
/// raised it, for room events. Used by every pipeline owner.
pub fn bus_error(message: &gstreamer::Message) -> Option<String> {
    match message.view() {
        gstreamer::MessageView::Error(e) => Some(format!(
            "{}: {}{}",
            e.src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_else(|| "pipeline".into()),
            e.error(),
            e.debug().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        _ => None,
    }
}

/// The duration of a buffer's pts, or zero.
pub fn pts_of(buffer: &gstreamer::BufferRef) -> Duration {
    buffer
        .pts()
        .map(|t| Duration::from_nanos(t.nseconds()))
        .unwrap_or_default()
}
