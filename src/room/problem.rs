//! What does not work in the room, for the people who look after it: typed, owned by the room,
//! and gone when its cause is gone.
//!
//! Drivers report a problem with its source (a screen that cannot open, a CEC adapter, a token
//! file...) and say when that source works again (the screen opens on its retry, the adapter
//! answers, the file is read). One problem per source: a new report replaces the old one, and
//! keeps its `since` when it says the same thing (the same problem goes on). The room's screen
//! shows each problem's summary; status shows the detail too.

use super::{Button, MediaPart, Millis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a problem is about. Two reports from the same source are the same problem.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProblemSource {
    /// A GStreamer element (or GStreamer itself) is not installed.
    Installation(String),
    /// A configuration setting that cannot work as given, named as in the file ("[network]
    /// ice_servers"); the daemon runs without it.
    Setting(String),
    /// A button's GPIO line.
    Button(Button),
    /// An LED's GPIO line ("status", "mute").
    Led(String),
    /// The control socket (`salle status`, `salle join`...).
    ControlSocket,
    /// udev's hotplug monitor.
    Hotplug,
    /// The camera's configured V4L2 controls.
    CameraControls,
    /// A media pipeline (the call's video, the screen and speaker, the microphone).
    Media(MediaPart),
    /// The meeting service, as its health check reaches it.
    MeetingService,
    /// The bearer token file for WHIP/WHEP.
    MeetingToken,
    /// The calendar task (its set-up; fetch errors are in the calendar's own status).
    Calendar,
    /// The HDMI-CEC adapter that puts the screen to standby.
    Cec,
    /// A USB speakerphone, by its node or configured path.
    Speakerphone(String),
}

impl fmt::Display for ProblemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemSource::Installation(what) => write!(f, "installation/{what}"),
            ProblemSource::Setting(name) => write!(f, "setting/{name}"),
            ProblemSource::Button(button) => write!(f, "button/{}", button.name()),
            ProblemSource::Led(name) => write!(f, "led/{name}"),
            ProblemSource::ControlSocket => f.write_str("control-socket"),
            ProblemSource::Hotplug => f.write_str("hotplug"),
            ProblemSource::CameraControls => f.write_str("camera-controls"),
            ProblemSource::Media(part) => write!(f, "media/{}", part.name()),
            ProblemSource::MeetingService => f.write_str("meeting-service"),
            ProblemSource::MeetingToken => f.write_str("meeting-token"),
            ProblemSource::Calendar => f.write_str("calendar"),
            ProblemSource::Cec => f.write_str("cec"),
            ProblemSource::Speakerphone(path) => write!(f, "speakerphone/{path}"),
        }
    }
}

impl std::str::FromStr for ProblemSource {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, name) = text.split_once('/').unwrap_or((text, ""));
        let name = name.to_string();
        Ok(match kind {
            "installation" => ProblemSource::Installation(name),
            "setting" => ProblemSource::Setting(name),
            "button" => ProblemSource::Button(
                Button::ALL
                    .into_iter()
                    .find(|b| b.name() == name)
                    .ok_or_else(|| format!("no button {name:?}"))?,
            ),
            "led" => ProblemSource::Led(name),
            "control-socket" => ProblemSource::ControlSocket,
            "hotplug" => ProblemSource::Hotplug,
            "camera-controls" => ProblemSource::CameraControls,
            "media" => ProblemSource::Media(
                MediaPart::ALL
                    .into_iter()
                    .find(|p| p.name() == name)
                    .ok_or_else(|| format!("no media part {name:?}"))?,
            ),
            "meeting-service" => ProblemSource::MeetingService,
            "meeting-token" => ProblemSource::MeetingToken,
            "calendar" => ProblemSource::Calendar,
            "cec" => ProblemSource::Cec,
            "speakerphone" => ProblemSource::Speakerphone(name),
            _ => return Err(format!("unknown problem source {text:?}")),
        })
    }
}

// As one string in JSON ("media/screen", "speakerphone//dev/hidraw0"): easy to match on.
impl Serialize for ProblemSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProblemSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A driver's report: what does not work, in a few words for the screen, and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemReport {
    pub source: ProblemSource,
    /// A few words people in the room can read from the door ("Screen (window)").
    pub summary: String,
    /// The rest, for facilities staff ("no desktop to open a window on").
    pub detail: Option<String>,
}

impl ProblemReport {
    pub fn new(source: ProblemSource, summary: impl Into<String>) -> ProblemReport {
        ProblemReport {
            source,
            summary: summary.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> ProblemReport {
        self.detail = Some(detail.into()).filter(|d: &String| !d.is_empty());
        self
    }
}

/// A problem the room knows of, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub source: ProblemSource,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Since when, on the daemon's monotonic clock (like `since_ms`).
    pub since_ms: Millis,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.summary),
            None => f.write_str(&self.summary),
        }
    }
}

/// The room's problems, one per source, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    /// Records `report` at `now`; the same problem again keeps its `since`.
    pub fn report(&mut self, now: Millis, report: ProblemReport) {
        let ProblemReport {
            source,
            summary,
            detail,
        } = report;
        match self.list.iter_mut().find(|p| p.source == source) {
            Some(known) if known.summary == summary && known.detail == detail => {}
            Some(known) => {
                *known = Problem {
                    source,
                    summary,
                    detail,
                    since_ms: now,
                }
            }
            None => self.list.push(Problem {
                source,
                summary,
                detail,
                since_ms: now,
            }),
        }
    }

    /// The cause of `source`'s problem is gone.
    pub fn clear(&mut self, source: &ProblemSource) {
        self.list.retain(|p| &p.source != source);
    }

    pub fn has(&self, source: &ProblemSource) -> bool {
        self.list.iter().any(|p| &p.source == source)
    }

    pub fn list(&self) -> &[Problem] {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_problem_per_source_and_the_same_one_keeps_its_since() {
        let mut problems = Problems::default();
        let screen = ProblemSource::Media(MediaPart::Screen);
        let report = |summary: &str| ProblemReport::new(screen.clone(), summary);
        problems.report(1_000, report("Screen (kms)").with_detail("busy"));
        problems.report(2_000, report("Screen (kms)").with_detail("busy"));
        assert_eq!(problems.list().len(), 1);
        assert_eq!(problems.list()[0].since_ms, 1_000);
        problems.report(3_000, report("Screen (kms)").with_detail("no connector"));
        assert_eq!(problems.list().len(), 1);
        assert_eq!(problems.list()[0].since_ms, 3_000);
        assert_eq!(problems.list()[0].to_string(), "Screen (kms): no connector");
        problems.clear(&screen);
        assert!(problems.list().is_empty());
    }

    #[test]
    fn sources_read_back_from_their_names() {
        let all = [
            ProblemSource::Installation("x264enc".into()),
            ProblemSource::Setting("[network] ice_servers".into()),
            ProblemSource::Button(Button::CameraPrivacy),
            ProblemSource::Led("mute".into()),
            ProblemSource::ControlSocket,
            ProblemSource::Hotplug,
            ProblemSource::CameraControls,
            ProblemSource::Media(MediaPart::Video),
            ProblemSource::MeetingService,
            ProblemSource::MeetingToken,
            ProblemSource::Calendar,
            ProblemSource::Cec,
            ProblemSource::Speakerphone("/dev/hidraw0".into()),
        ];
        for source in all {
            let json = serde_json::to_string(&source).unwrap();
            let back: ProblemSource = serde_json::from_str(&json).unwrap();
            assert_eq!(back, source, "{json}");
        }
    }
}
