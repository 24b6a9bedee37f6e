//! The control protocol's messages.

use crate::hw::inventory::Selection;
use crate::room::{Button, RoomStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "request", deny_unknown_fields)]
pub enum Request {
    Status,
    Join {
        #[serde(default)]
        url: Option<String>,
    },
    Leave,
    Mute {
        muted: bool,
    },
    Camera {
        off: bool,
    },
    /// A virtual button press, exactly as if the physical button were pressed.
    Press {
        button: Button,
        #[serde(default)]
        long: bool,
    },
}

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
    pub speakerphones: Vec<crate::daemon::SpeakerphoneStatus>,
    /// The running media pipelines (while in a meeting).
    pub media: crate::daemon::MediaStatus,
    /// The meeting session's network figures (while in a meeting over WebRTC).
    #[serde(default)]
    pub session: Option<crate::rtc::stats::SessionStatus>,
    pub uptime_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    Status { ok: bool, status: Box<DaemonStatus> },
    Error { ok: bool, error: String },
}

impl Response {
    pub fn status(status: DaemonStatus) -> Response {
        Response::Status {
            ok: true,
            status: Box::new(status),
        }
    }

    pub fn error(error: impl Into<String>) -> Response {
        Response::Error {
            ok: false,
            error: error.into(),
        }
    }
}
