//! What can be asked of the room.

use super::SnapshotSource;
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
    /// Streams changes of the status tree at these paths (dotted, into the status JSON:
    /// `call`, `devices.camera`, `media.video.fps`), xAPI's feedback. Answered first with
    /// `{"ok":true,"subscribed":[...]}` and each path's current value as an event, then one
    /// `{"event":{"path":..,"value":..}}` line per change, until the client hangs up. The
    /// connection takes no other request afterwards.
    Subscribe {
        paths: Vec<String>,
    },
    /// The configuration file's text, secrets redacted.
    ConfigGet,
    /// Checks a whole configuration text as `salle config check` does (errors located by
    /// line, column and field) and lists what would change, and how. Changes nothing.
    ConfigCheck {
        text: String,
    },
    /// Checks, then writes the configuration atomically (keeping the previous version) and
    /// applies it: at once where a setting allows, else by restarting the daemon when the room
    /// is not in a call. Rolled back by itself if it breaks what worked.
    ConfigApply {
        text: String,
    },
    /// Puts the previous configuration back (and applies it).
    ConfigRollback,
    /// The room shows itself for 30 s: its LEDs blink and its screen shows its name.
    Identify,
    /// Plays a test tone on the room's speaker for a few seconds.
    TestTone,
    /// Exits so that systemd starts the daemon again. Refused in a call unless `force`.
    Restart {
        #[serde(default)]
        force: bool,
    },
    /// Reboots the device (logind over D-Bus). Refused in a call unless `force`.
    Reboot {
        #[serde(default)]
        force: bool,
    },
    /// A JPEG of the camera or of the room's screen. Never silent: the room's screen says a
    /// remote administrator is viewing it; during a call only when
    /// `[management] snapshots_in_calls = true`.
    Snapshot {
        source: SnapshotSource,
    },
    /// The daemon's recent log lines (in-memory ring), and the journal's when available.
    Logs {
        /// At most this many lines (newest kept); default 200.
        #[serde(default)]
        lines: Option<usize>,
    },
    /// A diagnostics bundle: status, configuration (no secrets), logs, devices, versions.
    Diagnostics,
    /// Prometheus figures (call quality, devices, problems, uptime).
    Metrics,
    /// From the web surface, on the local control socket only: the one-time setup code and
    /// the HTTPS certificate's fingerprint to show on the room's screen and in `salle status`.
    /// An empty or absent code means the room is claimed (the screen stops showing it).
    Setup {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        fingerprint: Option<String>,
        #[serde(default)]
        urls: Vec<String>,
    },
}

impl Request {
    /// Requests a remote client (the web surface, the fleet) may never make, whatever its
    /// role: they hand the daemon secrets only the device itself may hold.
    pub fn local_only(&self) -> bool {
        matches!(self, Request::Setup { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_from_their_json_form() {
        let r: Request =
            serde_json::from_str(r#"{"request":"subscribe","paths":["call","devices.camera"]}"#)
                .unwrap();
        assert_eq!(
            r,
            Request::Subscribe {
                paths: vec!["call".into(), "devices.camera".into()]
            }
        );
        let r: Request =
            serde_json::from_str(r#"{"request":"snapshot","source":"screen"}"#).unwrap();
        assert_eq!(
            r,
            Request::Snapshot {
                source: SnapshotSource::Screen
            }
        );
        let r: Request = serde_json::from_str(r#"{"request":"restart"}"#).unwrap();
        assert_eq!(r, Request::Restart { force: false });
        let r: Request = serde_json::from_str(r#"{"request":"config-get"}"#).unwrap();
        assert_eq!(r, Request::ConfigGet);
        assert!(Request::Setup {
            code: None,
            fingerprint: None,
            urls: vec![]
        }
        .local_only());
        assert!(!Request::Status.local_only());
    }
}
