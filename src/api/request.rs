//! What can be asked of the room.

use crate::room::Button;
use serde::{Deserialize, Serialize};

/// One request, as JSON `{"request": "<kind>", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "request", deny_unknown_fields)]
pub enum Request {
    /// The room's status, changing nothing.
    Status,
    /// Joins the room's meeting, or `url` (one of the meeting forms, see
    /// `signal::MeetingTarget`; anything else is refused before the room sees it).
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
