//! The room's brain: a pure, synchronous state machine.
//!
//! Everything the room decides is decided here, from inputs (button presses, control commands,
//! meeting-session, media and device events, the passage of time) to effects (what the drivers
//! must do, which LED pattern to show). There is no I/O and no clock inside: the caller passes
//! the current monotonic time with every input, which makes every transition reproducible in a
//! unit test. The daemon feeds inputs in and carries effects out, nothing else.

mod calendar;
mod leds;
mod machine;
pub mod management;
mod recording;
mod screen;
mod screen_power;
mod status;

pub use calendar::{CalendarMeeting, CalendarStatus};
pub use leds::{LedPattern, LedState};
pub use machine::{CalendarSettings, Refusal, Room, RoomSettings, Step};
pub use recording::{MeetingRecording, RECORDED_NOTICE, TRANSCRIBED_NOTICE};
pub use screen::{
    meeting_address, screen_content, CallScreen, Message, RoomScreen, ScreenContent, ScreenFacts,
    Tone,
};
pub use screen_power::{AwakeHours, ScreenPower, ScreenPowerSettings, WallTime};
pub use status::{CallStatus, DeviceStatus, RoomStatus};

use serde::{Deserialize, Serialize};

/// Milliseconds on the daemon's monotonic clock.
pub type Millis = u64;

/// A physical (or virtual) button on the room device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Button {
    /// Joins the room's meeting, or leaves the call.
    Join,
    /// Toggles the room's microphone.
    Mute,
    /// Toggles the camera (privacy).
    CameraPrivacy,
}

impl Button {
    pub const ALL: [Button; 3] = [Button::Join, Button::Mute, Button::CameraPrivacy];

    pub fn name(self) -> &'static str {
        match self {
            Button::Join => "join",
            Button::Mute => "mute",
            Button::CameraPrivacy => "camera-privacy",
        }
    }
}

/// How long a button was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Press {
    Short,
    Long,
}

/// Who asked for something. Only people in the room may unmute the room's microphone or turn
/// its camera back on; the meeting service and remote management may only mute and hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Buttons, and the device's local control socket (reachable only on the device itself).
    InRoom,
    /// The meeting service (a participant's "mute" request) or remote management.
    Remote,
}

/// A request to the room, from the control socket, management, or the meeting service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "command")]
pub enum Command {
    /// Join the given meeting, or the room's configured one.
    Join {
        url: Option<String>,
    },
    Leave,
    SetMicMuted {
        muted: bool,
    },
    SetCameraOff {
        off: bool,
    },
}

/// Identifies one attempt to be in a meeting. Events from an older session are stale and ignored.
pub type SessionId = u64;

/// What the meeting-session driver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The room is in the meeting: media flows.
    Connected { session: SessionId },
    /// The session could not be set up or broke; `reason` is for people.
    Failed { session: SessionId, reason: String },
    /// The session ended normally (we left, or the meeting ended).
    Ended { session: SessionId },
    /// The connection was lost; the session is trying to get it back (ICE restart, then a
    /// full rejoin with backoff). `Connected` follows when it is back, `Failed` if it gives up.
    Reconnecting { session: SessionId, reason: String },
    /// The meeting keeps the room waiting (a lobby) until someone admits it; `reason` is what
    /// people in the room read ("waiting for the host to admit Salle 1").
    Waiting { session: SessionId, reason: String },
    /// Someone in the meeting asked the room to mute (a moderator's remote mute). It can only
    /// mute: only people in the room unmute the room's microphone.
    MuteRequested { session: SessionId },
}

/// What the media engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A pipeline failed in a way that the call cannot go on without.
    Failed { reason: String },
}

/// The kinds of room devices the state machine tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 3] = [
        DeviceKind::Camera,
        DeviceKind::Microphone,
        DeviceKind::Speaker,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        }
    }
}

/// The device the room uses for one kind, as the hardware layer found it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DevicePresence {
    /// A device is there and usable.
    pub present: bool,
    /// The device is simulated (test pattern, tone), not real hardware.
    pub simulated: bool,
    /// A human name, e.g. "HD Pro Webcam C920 (/dev/video0)".
    pub name: Option<String>,
}

/// Everything the room reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Button {
        button: Button,
        press: Press,
    },
    Command {
        origin: Origin,
        command: Command,
    },
    Session(SessionEvent),
    Media(MediaEvent),
    Device {
        kind: DeviceKind,
        presence: DevicePresence,
    },
    /// The room's calendar as it is now: its current meeting (on, or about to start), the
    /// next ones, and why it could not be read, if it could not.
    Calendar(CalendarStatus),
    /// Time passed; timeouts are checked.
    Tick,
    /// Time passed, and this is the local wall-clock time (for the screen's working hours):
    /// a `Tick` that also knows what people's clocks say.
    Clock(WallTime),
}

/// What the room asks its drivers to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a meeting session; its events carry `session`.
    Connect {
        session: SessionId,
        url: String,
        mic_muted: bool,
        camera_off: bool,
    },
    /// Tear the current session down (idempotent for the driver).
    Disconnect { session: SessionId },
    /// Microphone mute, applied to media and signalled to the meeting.
    SetMicMuted(bool),
    /// Camera privacy: stop or resume sending video.
    SetCameraOff(bool),
    /// The camera came or went: media sends video only when it is there.
    CameraAvailable(bool),
    /// New LED patterns.
    Leds(LedState),
    /// Wake the screen or put it to standby (HDMI-CEC, and the picture).
    ScreenPower(ScreenPower),
}
