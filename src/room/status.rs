//! The room's status as the outside world sees it (`salle status`, management, the screen).

use super::{CalendarStatus, DevicePresence, LedState, Millis, Problem, ScreenPower};
use serde::{Deserialize, Serialize};

/// The call state, flattened for people and JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum CallStatus {
    Idle,
    Joining {
        url: String,
    },
    InCall {
        url: String,
    },
    /// The connection was lost in a call: the room is getting it back by itself.
    Reconnecting {
        url: String,
        reason: String,
    },
    /// In the meeting's lobby, until the host admits the room.
    Waiting {
        url: String,
        reason: String,
    },
    Leaving,
    Failed {
        reason: String,
    },
}

impl CallStatus {
    pub fn name(&self) -> &'static str {
        match self {
            CallStatus::Idle => "idle",
            CallStatus::Joining { .. } => "joining",
            CallStatus::InCall { .. } => "in-call",
            CallStatus::Reconnecting { .. } => "reconnecting",
            CallStatus::Waiting { .. } => "waiting",
            CallStatus::Leaving => "leaving",
            CallStatus::Failed { .. } => "failed",
        }
    }
}

/// The devices in use, per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub camera: DevicePresence,
    pub microphone: DevicePresence,
    pub speaker: DevicePresence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStatus {
    pub room: String,
    pub call: CallStatus,
    /// When the call state last changed, on the daemon's monotonic clock.
    pub since_ms: Millis,
    pub mic_muted: bool,
    pub camera_off: bool,
    /// The meeting the join button joins.
    pub meeting_url: Option<String>,
    pub devices: DeviceStatus,
    pub leds: LedState,
    /// The reason of the last failure, kept after the room returns to idle.
    pub last_error: Option<String>,
    /// The room's calendar; None when it has none (`[calendar]` not configured).
    #[serde(default)]
    pub calendar: Option<CalendarStatus>,
    /// Whether the screen is awake or in standby (outside working hours, left alone).
    #[serde(default)]
    pub screen_power: ScreenPower,
    /// What does not work (a screen that cannot open, a button line...), oldest first; each
    /// goes when its cause is gone.
    #[serde(default)]
    pub problems: Vec<Problem>,
}
