//! What the room's screen must say in each state, worked out from the room's status (its
//! calendar included) and a few facts the daemon gathers (the time, the device's addresses, its
//! problems, the meeting's captions). Pure: the media engine decides where and how to draw it.
//!
//! - Not in a call (idle, joining, waiting in a lobby, reconnecting, leaving, failed): the
//!   room's own screen. The room's name and the clock at the top, a band across the middle
//!   saying what to do or what is happening (with the reason), the address and the problems at
//!   the bottom, so that facilities staff can read them from the door. The people are hidden.
//! - In a call: the people (drawn by the media engine), and on top of them whether the room's
//!   microphone is muted or its camera off, and the meeting's captions.
//! - In standby (outside working hours, see `screen_power`): nothing at all, a black picture,
//!   so that a screen that does not obey HDMI-CEC shows nothing bright in an empty room.

use super::{CalendarMeeting, CalendarStatus, CallStatus, DevicePresence, RoomStatus, ScreenPower};

/// What the daemon knows beyond the room's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenFacts {
    /// The wall-clock time as people read it, e.g. "14:05".
    pub clock: String,
    /// Today's date, "2026-11-23": meetings on other days say which day.
    pub today: String,
    /// The device's IP addresses; none means no network.
    pub addresses: Vec<String>,
    /// The meeting's live captions, "speaker: text", newest last.
    pub captions: Vec<String>,
    /// Whether the meeting is being recorded or transcribed.
    pub recording: super::MeetingRecording,
    /// The reactions to show now, "👍 Alice Martin", newest last (see `Reactions`).
    pub reactions: Vec<String>,
}

/// Everything on the screen that is not a remote person's picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenContent {
    /// Not in a call: the room's own screen, the people hidden.
    Room(RoomScreen),
    /// In a call: the people, with what the room must know on top.
    Call(CallScreen),
    /// The screen is in standby: black, no text, no clock (the room is idle then).
    Dark,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomScreen {
    pub name: String,
    pub clock: String,
    /// Only when idle: while something happens, the message is all that matters.
    pub next_meetings: Vec<String>,
    pub message: Message,
    pub addresses: Vec<String>,
    /// What does not work, in words for people: "No camera", "No network", then the daemon's.
    pub problems: Vec<String>,
}

/// The band across the middle of the room's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub tone: Tone,
    pub headline: String,
    /// The reason, or what is being joined.
    pub detail: Option<String>,
}

/// How a message should look: ready, busy, or gone wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Idle: the room is ready for someone to press the button.
    Ready,
    /// Joining, waiting, reconnecting, leaving: wait a moment.
    Busy,
    /// Failed: the reason must be read.
    Alert,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallScreen {
    pub mic_muted: bool,
    pub camera_off: bool,
    /// The newest caption lines, at most `CAPTION_LINES`.
    pub captions: Vec<String>,
    /// "This meeting is being recorded" (or transcribed), for as long as it is.
    pub notice: Option<String>,
    /// Reactions from the meeting, newest last, for a few seconds each.
    pub reactions: Vec<String>,
}

/// Caption lines shown at once: enough to follow a sentence, few enough to leave the people.
pub const CAPTION_LINES: usize = 3;

/// Calendar lines shown on the idle screen.
pub const MEETING_LINES: usize = 4;

/// What the screen shows for `status`, given `facts`.
pub fn screen_content(status: &RoomStatus, facts: &ScreenFacts) -> ScreenContent {
    if status.screen_power == ScreenPower::Standby {
        return ScreenContent::Dark;
    }
    let message = match &status.call {
        CallStatus::InCall { .. } => {
            let first = facts.captions.len().saturating_sub(CAPTION_LINES);
            return ScreenContent::Call(CallScreen {
                mic_muted: status.mic_muted,
                camera_off: status.camera_off,
                captions: facts.captions[first..].to_vec(),
                notice: facts.recording.notice().map(String::from),
                reactions: facts.reactions.clone(),
            });
        }
        CallStatus::Idle => message(Tone::Ready, "Press the button to join", None),
        CallStatus::Joining { url } => message(
            Tone::Busy,
            "Joining the meeting",
            Some(meeting_address(url)),
        ),
        CallStatus::Waiting { reason, .. } => {
            let headline = format!("Waiting for the host to admit {}", status.room);
            // The lobby's reason usually says just that; say it once.
            let detail = Some(sentence(reason)).filter(|r| !r.eq_ignore_ascii_case(&headline));
            Message {
                tone: Tone::Busy,
                headline,
                detail,
            }
        }
        CallStatus::Reconnecting { reason, .. } => {
            message(Tone::Busy, "Reconnecting", Some(sentence(reason)))
        }
        CallStatus::Leaving => message(Tone::Busy, "Leaving the meeting", None),
        CallStatus::Failed { reason } => {
            message(Tone::Alert, "The call failed", Some(sentence(reason)))
        }
    };
    let idle = status.call == CallStatus::Idle;
    ScreenContent::Room(RoomScreen {
        name: status.room.clone(),
        clock: facts.clock.clone(),
        next_meetings: match &status.calendar {
            Some(calendar) if idle => meeting_lines(calendar, &facts.today),
            _ => Vec::new(),
        },
        message,
        addresses: facts.addresses.clone(),
        problems: health_problems(status, facts),
    })
}

/// The calendar's meetings, one line each: the current one first ("Now  Weekly (until
/// 10:30)"), then today's by their start ("14:30  Budget"), later days with the day ("Tue
/// 09:00  Planning"). At most `MEETING_LINES`.
fn meeting_lines(calendar: &CalendarStatus, today: &str) -> Vec<String> {
    let current = calendar.current.iter();
    let others = calendar
        .upcoming
        .iter()
        .filter(|m| Some(&m.id) != calendar.current.as_ref().map(|c| &c.id));
    current
        .chain(others)
        .take(MEETING_LINES)
        .map(|meeting| format!("{}  {}", when(meeting, today), meeting.title))
        .collect()
}

/// When a meeting is, as the idle screen says it. Times come as RFC 3339 in the room's zone
/// ("2026-11-23T10:00:00+01:00"), so the wall time is read off the text as it is.
fn when(meeting: &CalendarMeeting, today: &str) -> String {
    let (date, time) = meeting.start.split_at(meeting.start.len().min(10));
    let hour = time.get(1..6).unwrap_or_default();
    let day = if date == today {
        None
    } else {
        date.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.strftime("%a").to_string())
    };
    match (meeting.started, meeting.all_day, day) {
        (true, true, _) => "Today".into(),
        (true, false, _) => {
            let end = meeting.end.get(11..16).unwrap_or_default();
            format!("Now until {end}")
        }
        (false, true, day) => day.unwrap_or_else(|| "Today".into()),
        (false, false, Some(day)) => format!("{day} {hour}"),
        (false, false, None) => hour.to_string(),
    }
}

fn message(tone: Tone, headline: &str, detail: Option<String>) -> Message {
    Message {
        tone,
        headline: headline.into(),
        detail: detail.filter(|d| !d.is_empty()),
    }
}

/// What does not work, as people in the room say it, each once: no network first (nothing
/// else can work), then the room's problems by their summary (the details are in status, the
/// screen has one line), then missing devices.
fn health_problems(status: &RoomStatus, facts: &ScreenFacts) -> Vec<String> {
    let devices = &status.devices;
    let network = facts.addresses.is_empty().then(|| "No network".to_string());
    let daemons = status.problems.iter().map(|p| p.summary.clone());
    let missing_devices = [
        missing(&devices.camera, "camera", "test pattern"),
        missing(&devices.microphone, "microphone", "test tone"),
        missing(&devices.speaker, "speaker", "nothing plays"),
    ];
    let mut problems: Vec<String> = Vec::new();
    for problem in network
        .into_iter()
        .chain(daemons)
        .chain(missing_devices.into_iter().flatten())
    {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

/// "No camera" when it is not there; "No camera (test pattern)" when a simulated one stands
/// in for it (the room runs, but nobody sees the room).
fn missing(device: &DevicePresence, kind: &str, stand_in: &str) -> Option<String> {
    if !device.present {
        Some(format!("No {kind}"))
    } else if device.simulated {
        Some(format!("No {kind} ({stand_in})"))
    } else {
        None
    }
}

/// A meeting URL as people may read it on a wall: host and path, never a token or a password
/// (`livekit+wss://host?token=...`, `https://user:secret@host/...`).
pub fn meeting_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{host}/{path}").trim_end_matches('/').to_string()
}

/// A reason as a sentence: "connection lost" -> "Connection lost".
fn sentence(reason: &str) -> String {
    let mut chars = reason.trim().chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::{DeviceStatus, Room, RoomSettings};

    fn present() -> DevicePresence {
        DevicePresence {
            present: true,
            simulated: false,
            name: Some("real".into()),
        }
    }

    /// A room's status as the state machine gives it, in `call`, with every device there.
    fn status(call: CallStatus) -> RoomStatus {
        let settings = RoomSettings {
            room_name: "Salle 1".into(),
            meeting_url: Some(URL.into()),
            ..RoomSettings::default()
        };
        let mut status = Room::new(settings, 0).status();
        status.call = call;
        status.devices = DeviceStatus {
            camera: present(),
            microphone: present(),
            speaker: present(),
        };
        status.calendar = Some(CalendarStatus {
            upcoming: vec![meeting("weekly", "2026-11-23T10:00", "10:30")],
            ..CalendarStatus::default()
        });
        status
    }

    /// A meeting of the room's calendar from `start` ("2026-11-23T10:00", Paris in winter)
    /// to `end` ("10:30") the same day.
    fn meeting(title: &str, start: &str, end: &str) -> CalendarMeeting {
        let day = &start[..10];
        CalendarMeeting {
            id: format!("{title}@{start}"),
            title: title.into(),
            start: format!("{start}:00+01:00"),
            end: format!("{day}T{end}:00+01:00"),
            all_day: false,
            url: Some(URL.into()),
            started: false,
        }
    }

    fn facts() -> ScreenFacts {
        ScreenFacts {
            clock: "09:41".into(),
            today: "2026-11-23".into(),
            addresses: vec!["192.0.2.10".into()],
            captions: Vec::new(),
            recording: Default::default(),
            reactions: Vec::new(),
        }
    }

    #[test]
    fn meetings_say_when_they_are_the_current_first() {
        let current = CalendarMeeting {
            started: true,
            ..meeting("Stand-up", "2026-11-23T09:30", "09:45")
        };
        let all_day = CalendarMeeting {
            all_day: true,
            ..meeting("Offsite", "2026-11-24T00:00", "00:00")
        };
        let calendar = CalendarStatus {
            current: Some(current.clone()),
            upcoming: vec![
                current,
                meeting("Budget", "2026-11-23T14:30", "15:00"),
                meeting("Planning", "2026-11-24T09:00", "10:00"),
                all_day,
                meeting("Retro", "2026-11-25T16:00", "17:00"),
            ],
            ..CalendarStatus::default()
        };
        assert_eq!(
            meeting_lines(&calendar, "2026-11-23"),
            [
                "Now until 09:45  Stand-up",
                "14:30  Budget",
                "Tue 09:00  Planning",
                "Tue  Offsite",
            ]
        );
        assert!(meeting_lines(&CalendarStatus::default(), "2026-11-23").is_empty());
    }

    #[test]
    fn a_room_without_a_calendar_shows_no_meetings() {
        let mut status = status(CallStatus::Idle);
        status.calendar = None;
        match screen_content(&status, &facts()) {
            ScreenContent::Room(room) => assert!(room.next_meetings.is_empty()),
            other => panic!("not the room's screen: {other:?}"),
        }
    }

    fn room_screen(call: CallStatus) -> RoomScreen {
        match screen_content(&status(call), &facts()) {
            ScreenContent::Room(room) => room,
            other => panic!("not the room's screen: {other:?}"),
        }
    }

    const URL: &str = "https://visio.example.org/abc-defg-hij";

    #[test]
    fn idle_invites_to_press_the_button_and_shows_the_room() {
        assert_eq!(
            room_screen(CallStatus::Idle),
            RoomScreen {
                name: "Salle 1".into(),
                clock: "09:41".into(),
                next_meetings: vec!["10:00  weekly".into()],
                message: Message {
                    tone: Tone::Ready,
                    headline: "Press the button to join".into(),
                    detail: None,
                },
                addresses: vec!["192.0.2.10".into()],
                problems: Vec::new(),
            }
        );
    }

    #[test]
    fn joining_says_which_meeting() {
        let screen = room_screen(CallStatus::Joining { url: URL.into() });
        assert_eq!(
            screen.message,
            Message {
                tone: Tone::Busy,
                headline: "Joining the meeting".into(),
                detail: Some("visio.example.org/abc-defg-hij".into()),
            }
        );
        assert!(screen.next_meetings.is_empty(), "only the message matters");
        assert_eq!(
            (screen.name.as_str(), screen.clock.as_str()),
            ("Salle 1", "09:41")
        );
    }

    #[test]
    fn waiting_names_the_room_the_host_must_admit() {
        let screen = room_screen(CallStatus::Waiting {
            url: URL.into(),
            reason: "waiting for the host to admit Salle 1".into(),
        });
        assert_eq!(
            screen.message,
            Message {
                tone: Tone::Busy,
                headline: "Waiting for the host to admit Salle 1".into(),
                detail: None,
            }
        );
        // Another adapter's reason is kept.
        let screen = room_screen(CallStatus::Waiting {
            url: URL.into(),
            reason: "the meeting has not started".into(),
        });
        assert_eq!(
            screen.message.detail.as_deref(),
            Some("The meeting has not started")
        );
    }

    #[test]
    fn reconnecting_leaving_and_failed_say_why() {
        let screen = room_screen(CallStatus::Reconnecting {
            url: URL.into(),
            reason: "connection lost".into(),
        });
        assert_eq!(
            screen.message,
            Message {
                tone: Tone::Busy,
                headline: "Reconnecting".into(),
                detail: Some("Connection lost".into()),
            }
        );
        let screen = room_screen(CallStatus::Leaving);
        assert_eq!(
            (screen.message.tone, screen.message.headline.as_str()),
            (Tone::Busy, "Leaving the meeting")
        );
        assert_eq!(screen.message.detail, None);
        let screen = room_screen(CallStatus::Failed {
            reason: "WHIP server http://127.0.0.1:9/whip: refused with 500".into(),
        });
        assert_eq!(
            screen.message,
            Message {
                tone: Tone::Alert,
                headline: "The call failed".into(),
                detail: Some("WHIP server http://127.0.0.1:9/whip: refused with 500".into()),
            }
        );
    }

    #[test]
    fn in_a_call_mute_privacy_and_the_newest_captions() {
        let mut status = status(CallStatus::InCall { url: URL.into() });
        status.mic_muted = true;
        let facts = ScreenFacts {
            captions: (1..=5).map(|i| format!("Alice: line {i}")).collect(),
            ..facts()
        };
        assert_eq!(
            screen_content(&status, &facts),
            ScreenContent::Call(CallScreen {
                mic_muted: true,
                camera_off: false,
                captions: vec![
                    "Alice: line 3".into(),
                    "Alice: line 4".into(),
                    "Alice: line 5".into()
                ],
                notice: None,
                reactions: Vec::new(),
            })
        );
        status.mic_muted = false;
        status.camera_off = true;
        let ScreenContent::Call(call) = screen_content(&status, &ScreenFacts::default()) else {
            panic!("a call shows the call");
        };
        assert_eq!((call.mic_muted, call.camera_off), (false, true));
        assert!(call.captions.is_empty());
    }

    #[test]
    fn every_state_but_a_call_is_the_rooms_screen() {
        let states = [
            CallStatus::Idle,
            CallStatus::Joining { url: URL.into() },
            CallStatus::Waiting {
                url: URL.into(),
                reason: "r".into(),
            },
            CallStatus::Reconnecting {
                url: URL.into(),
                reason: "r".into(),
            },
            CallStatus::Leaving,
            CallStatus::Failed { reason: "r".into() },
        ];
        for state in states {
            let content = screen_content(&status(state.clone()), &facts());
            assert!(matches!(content, ScreenContent::Room(_)), "{state:?}");
        }
    }

    #[test]
    fn in_standby_the_screen_is_dark() {
        let mut status = status(CallStatus::Idle);
        status.screen_power = ScreenPower::Standby;
        assert_eq!(screen_content(&status, &facts()), ScreenContent::Dark);
    }

    #[test]
    fn health_problems_say_the_network_then_the_daemons_then_devices() {
        let mut status = status(CallStatus::Idle);
        status.devices.camera = DevicePresence::default();
        status.devices.microphone.simulated = true;
        let problem = |source, summary: &str, detail: Option<&str>| crate::room::Problem {
            source,
            summary: summary.into(),
            detail: detail.map(String::from),
            since_ms: 0,
        };
        status.problems = vec![
            problem(
                crate::room::ProblemSource::MeetingService,
                "Meeting service unreachable",
                Some("WHIP at 192.0.2.1: cannot connect"),
            ),
            problem(crate::room::ProblemSource::Hotplug, "No network", None),
            problem(
                crate::room::ProblemSource::Installation("x264enc".into()),
                "GStreamer element x264enc missing (install gstreamer1.0-plugins-ugly)",
                None,
            ),
        ];
        let facts = ScreenFacts {
            addresses: Vec::new(),
            ..facts()
        };
        let ScreenContent::Room(screen) = screen_content(&status, &facts) else {
            panic!("idle shows the room");
        };
        assert_eq!(
            screen.problems,
            [
                "No network",
                "Meeting service unreachable",
                "GStreamer element x264enc missing (install gstreamer1.0-plugins-ugly)",
                "No camera",
                "No microphone (test tone)",
            ]
        );
    }

    #[test]
    fn meeting_addresses_never_show_secrets() {
        assert_eq!(meeting_address(URL), "visio.example.org/abc-defg-hij");
        assert_eq!(
            meeting_address("livekit+wss://lk.example.org?token=eyJhbGciOi"),
            "lk.example.org"
        );
        assert_eq!(
            meeting_address("whip+https://user:secret@whip.example.org/room/#x"),
            "whip.example.org/room"
        );
        assert_eq!(
            meeting_address("https://meet.example.org/team@paris"),
            "meet.example.org/team@paris"
        );
        assert_eq!(meeting_address("test://demo?connect_ms=100"), "demo");
        assert_eq!(
            meeting_address("janus+wss://janus.example.org:8989/?room=1234"),
            "janus.example.org:8989"
        );
    }
}
