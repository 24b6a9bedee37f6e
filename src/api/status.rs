//! What `salle status` shows: the room's own status and the drivers' figures beside it.

use crate::hw::hid::speakerphone::Speakerphone;
use crate::hw::inventory::Selection;
use crate::media::encoder::Encoder;
use crate::media::receive::PersonOnScreen;
use crate::room::RoomStatus;
use serde::{Deserialize, Serialize};

/// Everything `salle status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    #[serde(flatten)]
    pub room: RoomStatus,
    pub version: String,
    /// The configuration file in use; None when running on defaults.
    pub config_file: Option<String>,
    /// Device kinds running simulated (test pattern, tone, discard).
    pub simulated: Vec<String>,
    /// Problems that do not stop the room but need a person (a button line that failed...).
    pub problems: Vec<String>,
    /// Which device is used for each kind, and why.
    pub selection: Selection,
    /// USB speakerphones whose mute button and LED follow the room (working or failed).
    #[serde(default)]
    pub speakerphones: Vec<SpeakerphoneStatus>,
    /// The running media pipelines (while in a meeting).
    pub media: MediaStatus,
    /// The meeting session's network figures (while in a meeting over WebRTC).
    #[serde(default)]
    pub session: Option<crate::rtc::stats::SessionStatus>,
    pub uptime_ms: u64,
    /// Remote management: the API version, what the room shows for it, pending restarts.
    #[serde(default)]
    pub management: super::ManagementStatus,
    /// The first-start setup (code, certificate fingerprint): only in answers on the local
    /// control socket, never to remote requests nor in events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<super::SetupStatus>,
}

/// What status shows about media.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaStatus {
    pub video: Option<VideoStatus>,
    pub audio: Option<AudioStatus>,
    #[serde(default)]
    pub screen: Option<ScreenStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenStatus {
    /// "kms", "window" or "none".
    pub output: String,
    pub width: u32,
    pub height: u32,
    /// Remote pictures on the screen (the self-view not counted).
    pub tiles: usize,
    /// Who is on the screen, and what was decoded of each.
    #[serde(default)]
    pub people: Vec<PersonOnScreen>,
    pub self_view: bool,
    /// The microphone's echo canceller hears what the speaker plays.
    pub echo_cancellation: bool,
    /// The text the room's screen shows of its own (its name, the message, the badges...),
    /// for whoever looks after the room from afar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStatus {
    pub encoder: Encoder,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub kbps: u32,
    pub frames: u64,
    pub keyframes: u64,
    pub camera_off: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStatus {
    pub muted: bool,
    /// The input level meter (dBFS); it keeps measuring while muted.
    pub level_dbfs: f64,
    pub packets: u64,
}

/// A speakerphone in status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakerphoneStatus {
    #[serde(flatten)]
    pub device: Speakerphone,
    /// Why it is not working (gone, cannot be opened); None while it works.
    pub error: Option<String>,
}
