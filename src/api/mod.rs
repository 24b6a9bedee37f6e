//! The management model: every request the room takes from the outside, every answer and
//! status it gives, and every error it answers with (a stable code and a message). The control
//! socket (`control/`) serves it, the daemon (`daemon/`) fills it; the next ways in (HTTPS,
//! the fleet link) serve the same model.
//!
//! The room's own outputs (`RoomStatus` and what it holds) are the room's: they are re-exported
//! here, not copied, so there is one definition of each.

mod answer;
mod error;
mod manage;
mod request;
mod status;

pub use answer::Answer;
pub use error::{ApiError, ErrorCode};
pub use manage::{
    ConfigChange, ConfigLocation, ConfigReport, ConfigView, Diagnostics, LogLine, Logs,
    ManagementStatus, Metrics, RestartWhen, SetupStatus, Snapshot, SnapshotSource, StatusEvent,
    TakesEffect, Versions, API_VERSION, REDACTED,
};
pub use request::Request;
pub use status::{
    AudioStatus, DaemonStatus, MediaStatus, ScreenStatus, SpeakerphoneStatus, VideoStatus,
};

pub use crate::hw::inventory::Selection;
pub use crate::room::{Button, CallStatus, Origin, Refusal, RoomStatus};
pub use crate::rtc::stats::SessionStatus;
