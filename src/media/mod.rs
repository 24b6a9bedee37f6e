//! The media engine: GStreamer pipelines that turn the room's camera and microphone into
//! encoded frames for WebRTC, and remote participants' encoded frames into pictures on the
//! screen and sound in the speaker. Raw video never passes through Rust: pipelines hand over
//! encoded access units (send) and take encoded frames (receive) through appsink/appsrc.
//!
//! One file, one job:
//! - `elements`: every GStreamer element the daemon can create, with its Debian package
//! - `encoder`: the H.264 encoder ladder (probing, per-encoder settings and live controls)
//! - `send_video`: camera -> (MJPEG decode) -> scale -> encoder -> access units
//! - `send_audio`: microphone -> channel selection -> echo cancellation -> Opus -> packets
//! - `receive`: remote tracks -> decoders -> compositor -> screen; audio mix -> speaker
//! - `layout`: where each participant goes on the screen (pure)
//! - `screen_layout`: where the room screen's own content goes: the idle screen, messages,
//!   badges, captions (pure; `room::ScreenContent` says what it is)
//! - `overlay`: draws that content in the receive pipeline
//! - here: what every pipeline shares: watching its bus for errors (`watch_bus`), starting it
//!   (`play`) and shutting it down (`shut_down`)

pub mod adapt;
pub mod elements;
pub mod encoder;
mod in_stream;
pub mod layout;
mod overlay;
pub mod receive;
pub mod screen_layout;
pub mod send_audio;
pub mod send_video;

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Initialises GStreamer once for the process.
pub fn init() -> Result<(), String> {
    gstreamer::init().map_err(|e| format!("GStreamer: {e}"))
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
    /// The microphone's level when the packet was made, as RFC 6464's `ssrc-audio-level`
    /// carries it (-dBov, 0 the loudest to 127 silence): LiveKit picks the active speakers
    /// from it alone. None for video and for sound without a meter.
    pub audio_level: Option<u8>,
}

/// The text of an error message on a pipeline's bus, with the element that raised it, for room
/// events; None for any other message.
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

/// The last error `watch_bus` saw on a pipeline's bus: the reason a start failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|e| e.clone())
    }

    fn set(&self, error: &str) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(error.to_string());
        }
    }
}

/// Watches `pipeline`'s bus in the posting thread (no main loop, no extra thread): errors, with
/// the element that raised them ([`bus_error`]), go to `errors` and are kept as the last error;
/// every other message goes to `other`, which may ignore it. Every message is dropped afterwards
/// so the bus never fills up. [`shut_down`] ends the watch, which releases `errors`.
pub(crate) fn watch_bus(
    pipeline: &gst::Pipeline,
    errors: mpsc::UnboundedSender<String>,
    other: impl Fn(&gst::Message) + Send + Sync + 'static,
) -> LastError {
    let last = LastError::default();
    if let Some(bus) = pipeline.bus() {
        let keep = last.clone();
        bus.set_sync_handler(move |_, message| {
            match bus_error(message) {
                Some(error) => {
                    keep.set(&error);
                    let _ = errors.send(error);
                }
                None => other(message),
            }
            gst::BusSyncReply::Drop
        });
    }
    last
}

/// Sets `pipeline` PLAYING. When it cannot start, shuts it down and returns why: the last error
/// on its bus (see [`watch_bus`]), or "cannot start".
pub(crate) fn play(pipeline: &gst::Pipeline, last_error: &LastError) -> Result<(), String> {
    if pipeline.set_state(gst::State::Playing).is_err() {
        shut_down(pipeline);
        return Err(last_error.get().unwrap_or_else(|| "cannot start".into()));
    }
    Ok(())
}

/// Stops `pipeline` (to NULL, which waits for its streaming threads) and ends the watch on its
/// bus, which releases the error sender: the consumer sees its channel close.
pub(crate) fn shut_down(pipeline: &gst::Pipeline) {
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(bus) = pipeline.bus() {
        bus.unset_sync_handler();
    }
}
