//! WebRTC sessions with the `webrtc` crate (webrtc-rs, on its sans-I/O `rtc` core): the room's
//! camera and microphone out, remote people in, with congestion control and keyframe requests.

pub mod depacketize;
pub mod estimate;
pub mod ice_server;
pub mod ice_tcp;
pub mod keyframe;
pub mod packetize;
pub mod peer;
pub mod publish;
pub mod recovery;
pub mod relay;
pub mod remote;

use crate::media::receive::Receive;
use crate::media::EncodedFrame;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What a meeting session gets from the media engine: the room's encoded video and sound (for
/// as long as the session lasts, across camera restarts), the receive pipeline remote people
/// go into, and a way to ask the encoder for things.
pub struct MediaPorts {
    pub video: Option<mpsc::Receiver<EncodedFrame>>,
    pub audio: Option<mpsc::Receiver<EncodedFrame>>,
    pub receive: Option<Arc<Receive>>,
    pub feedback: mpsc::UnboundedSender<EncoderFeedback>,
    /// The room's microphone mute and camera privacy, as they change: services that show them
    /// (LiveKit's mute icons) are told.
    pub switches: watch::Receiver<Switches>,
}

/// What people in the room switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Switches {
    pub mic_muted: bool,
    pub camera_off: bool,
}

/// What the network asks of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderFeedback {
    /// A receiver lost pictures (PLI, FIR): send a keyframe now.
    Keyframe,
    /// The congestion controller's estimate for the video, in kbit/s.
    TargetKbps(u32),
}
pub mod session;
pub mod stats;
pub mod tcp_source;
