//! Every transition of the room, then long random event sequences against its invariants.

use super::*;
use crate::room::{AwakeHours, CalendarMeeting, ScreenPower, WallTime};
use proptest::prelude::*;

const URL: &str = "https://visio.example/abc-defg-hij";

fn settings() -> RoomSettings {
    RoomSettings {
        room_name: "Salle Monge".into(),
        meeting_url: Some(URL.into()),
        ..RoomSettings::default()
    }
}

fn press(button: Button) -> Input {
    Input::Button {
        button,
        press: Press::Short,
    }
}

fn long(button: Button) -> Input {
    Input::Button {
        button,
        press: Press::Long,
    }
}

fn command(origin: Origin, command: Command) -> Input {
    Input::Command { origin, command }
}

fn connected(session: SessionId) -> Input {
    Input::Session(SessionEvent::Connected { session })
}

fn failed(session: SessionId, reason: &str) -> Input {
    Input::Session(SessionEvent::Failed {
        session,
        reason: reason.into(),
    })
}

fn ended(session: SessionId) -> Input {
    Input::Session(SessionEvent::Ended { session })
}

fn reconnecting(session: SessionId) -> Input {
    Input::Session(SessionEvent::Reconnecting {
        session,
        reason: "ICE disconnected".into(),
    })
}

fn state(room: &Room) -> &'static str {
    room.status().call.name()
}

/// A room that has joined session 1 and is in the call.
fn in_call() -> Room {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(10, connected(1));
    assert_eq!(state(&room), "in-call");
    room
}

#[test]
fn starts_idle_with_dim_status_led() {
    let room = Room::new(settings(), 0);
    assert_eq!(state(&room), "idle");
    assert_eq!(room.status().leds.status, LedPattern::Dim);
    assert_eq!(room.status().leds.mute, LedPattern::Off);
    assert!(room
        .initial_effects()
        .contains(&Effect::Leds(room.status().leds)));
}

#[test]
fn join_button_joins_the_configured_meeting() {
    let mut room = Room::new(settings(), 0);
    let step = room.handle(5, press(Button::Join));
    assert_eq!(
        step.effects[0],
        Effect::Connect {
            session: 1,
            url: URL.into(),
            mic_muted: false,
            camera_off: false
        }
    );
    assert!(step.effects.contains(&Effect::Leds(LedState {
        status: LedPattern::Blink,
        mute: LedPattern::Off
    })));
    assert_eq!(room.status().call, CallStatus::Joining { url: URL.into() });
    assert_eq!(room.status().since_ms, 5);
}

#[test]
fn connected_session_puts_the_room_in_call_with_led_on() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    let step = room.handle(100, connected(1));
    assert_eq!(room.status().call, CallStatus::InCall { url: URL.into() });
    assert_eq!(
        step.effects,
        vec![Effect::Leds(LedState {
            status: LedPattern::On,
            mute: LedPattern::Off
        })]
    );
}

#[test]
fn join_button_in_call_leaves() {
    let mut room = in_call();
    let step = room.handle(20, press(Button::Join));
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    assert_eq!(state(&room), "leaving");
    room.handle(30, ended(1));
    assert_eq!(state(&room), "idle");
}

#[test]
fn long_press_in_call_also_leaves() {
    let mut room = in_call();
    room.handle(20, long(Button::Join));
    assert_eq!(state(&room), "leaving");
}

#[test]
fn leaving_gives_up_waiting_after_the_timeout() {
    let mut room = in_call();
    room.handle(1_000, press(Button::Join));
    room.handle(1_000 + 4_999, Input::Tick);
    assert_eq!(state(&room), "leaving");
    room.handle(1_000 + 5_000, Input::Tick);
    assert_eq!(state(&room), "idle");
}

#[test]
fn short_press_while_joining_is_ignored_long_press_cancels() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    let step = room.handle(50, press(Button::Join));
    assert!(step.effects.is_empty());
    assert_eq!(state(&room), "joining");
    let step = room.handle(3_100, long(Button::Join));
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    assert_eq!(state(&room), "leaving");
}

#[test]
fn join_times_out_into_failed_then_idle_keeping_the_reason() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    let step = room.handle(60_000, Input::Tick);
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    let status = room.status();
    assert_eq!(
        status.call,
        CallStatus::Failed {
            reason: "the meeting did not answer within 60 s".into()
        }
    );
    assert_eq!(status.leds.status, LedPattern::FastBlink);
    room.handle(69_999, Input::Tick);
    assert_eq!(state(&room), "failed");
    room.handle(70_000, Input::Tick);
    assert_eq!(state(&room), "idle");
    assert_eq!(
        room.status().last_error.as_deref(),
        Some("the meeting did not answer within 60 s")
    );
}

#[test]
fn session_failure_says_why_and_returns_to_idle() {
    let mut room = in_call();
    let step = room.handle(100, failed(1, "ICE failed"));
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    assert_eq!(
        room.status().call,
        CallStatus::Failed {
            reason: "ICE failed".into()
        }
    );
    room.handle(100 + 10_000, Input::Tick);
    assert_eq!(state(&room), "idle");
}

#[test]
fn join_button_from_failed_tries_again_and_clears_the_error() {
    let mut room = in_call();
    room.handle(100, failed(1, "ICE failed"));
    let step = room.handle(200, press(Button::Join));
    assert!(matches!(
        step.effects[0],
        Effect::Connect { session: 2, .. }
    ));
    assert_eq!(room.status().last_error, None);
}

#[test]
fn meeting_ending_returns_to_idle() {
    let mut room = in_call();
    let step = room.handle(100, ended(1));
    assert_eq!(
        step.effects[0],
        Effect::Disconnect { session: 1 },
        "drivers release media"
    );
    assert_eq!(state(&room), "idle");
    assert_eq!(room.status().last_error, None);
}

#[test]
fn stale_session_events_are_ignored() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(10, long(Button::Join)); // cancel session 1
    room.handle(20, ended(1));
    room.handle(30, press(Button::Join)); // session 2
    room.handle(40, connected(1));
    assert_eq!(state(&room), "joining");
    room.handle(50, failed(1, "late"));
    assert_eq!(state(&room), "joining");
    room.handle(60, connected(2));
    assert_eq!(state(&room), "in-call");
}

#[test]
fn no_meeting_configured_fails_with_a_reason() {
    let mut room = Room::new(
        RoomSettings {
            meeting_url: None,
            ..settings()
        },
        0,
    );
    let step = room.handle(0, press(Button::Join));
    assert!(!step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Connect { .. })));
    match room.status().call {
        CallStatus::Failed { reason } => assert!(reason.contains("[meeting] url"), "{reason}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn join_command_with_url_overrides_the_configured_meeting() {
    let mut room = Room::new(settings(), 0);
    let other = "janus+ws://127.0.0.1:8188/?room=1234";
    let step = room.handle(
        0,
        command(
            Origin::InRoom,
            Command::Join {
                url: Some(other.into()),
            },
        ),
    );
    assert!(matches!(&step.effects[0], Effect::Connect { url, .. } if url == other));
}

#[test]
fn join_command_in_another_meeting_is_refused_same_meeting_is_fine() {
    let mut room = in_call();
    let step = room.handle(
        0,
        command(
            Origin::InRoom,
            Command::Join {
                url: Some("https://visio.example/other".into()),
            },
        ),
    );
    assert!(step.refused.unwrap().to_string().contains("leave first"));
    let step = room.handle(0, command(Origin::InRoom, Command::Join { url: None }));
    assert_eq!(step, Step::default());
}

#[test]
fn leave_command_when_idle_is_refused() {
    let mut room = Room::new(settings(), 0);
    let step = room.handle(0, command(Origin::InRoom, Command::Leave));
    assert_eq!(step.refused, Some(Refusal::NotInAMeeting));
    assert_eq!(Refusal::NotInAMeeting.to_string(), "not in a meeting");
}

#[test]
fn mute_button_toggles_microphone_and_led_at_once() {
    let mut room = in_call();
    let step = room.handle(10, press(Button::Mute));
    assert_eq!(
        step.effects,
        vec![
            Effect::SetMicMuted(true),
            Effect::Leds(LedState {
                status: LedPattern::On,
                mute: LedPattern::On
            }),
            Effect::SpeakerphoneMuteLed(true)
        ]
    );
    let step = room.handle(20, press(Button::Mute));
    assert_eq!(step.effects[0], Effect::SetMicMuted(false));
    assert!(!room.status().mic_muted);
}

#[test]
fn remote_may_mute_but_never_unmute() {
    let mut room = in_call();
    let step = room.handle(
        10,
        command(Origin::Remote, Command::SetMicMuted { muted: true }),
    );
    assert_eq!(step.effects[0], Effect::SetMicMuted(true));
    let step = room.handle(
        20,
        command(Origin::Remote, Command::SetMicMuted { muted: false }),
    );
    assert!(step.effects.is_empty());
    assert!(step
        .refused
        .unwrap()
        .to_string()
        .contains("only people in the room"));
    assert!(room.status().mic_muted);
    // The people in the room can.
    room.handle(30, press(Button::Mute));
    assert!(!room.status().mic_muted);
}

#[test]
fn local_control_socket_counts_as_in_the_room() {
    let mut room = in_call();
    room.handle(
        10,
        command(Origin::Remote, Command::SetMicMuted { muted: true }),
    );
    let step = room.handle(
        20,
        command(Origin::InRoom, Command::SetMicMuted { muted: false }),
    );
    assert_eq!(step.effects[0], Effect::SetMicMuted(false));
}

#[test]
fn remote_may_hide_the_camera_but_not_show_it() {
    let mut room = in_call();
    room.handle(
        10,
        command(Origin::Remote, Command::SetCameraOff { off: true }),
    );
    assert!(room.status().camera_off);
    let step = room.handle(
        20,
        command(Origin::Remote, Command::SetCameraOff { off: false }),
    );
    assert!(step.refused.is_some());
    assert!(room.status().camera_off);
    room.handle(30, press(Button::CameraPrivacy));
    assert!(!room.status().camera_off);
}

#[test]
fn camera_privacy_button_toggles() {
    let mut room = Room::new(settings(), 0);
    let step = room.handle(0, press(Button::CameraPrivacy));
    assert_eq!(step.effects, vec![Effect::SetCameraOff(true)]);
    room.handle(0, press(Button::Join));
    let step = room.handle(0, connected(1));
    assert!(room.status().camera_off, "privacy survives joining");
    assert!(!step.effects.contains(&Effect::SetCameraOff(false)));
}

#[test]
fn join_muted_mutes_at_join_and_mute_persists_between_calls() {
    let mut room = Room::new(
        RoomSettings {
            join_muted: true,
            ..settings()
        },
        0,
    );
    assert!(room.status().mic_muted);
    room.handle(0, press(Button::Mute)); // unmuted before joining
    let step = room.handle(10, press(Button::Join));
    assert_eq!(step.effects[0], Effect::SetMicMuted(true));
    assert!(matches!(
        step.effects[1],
        Effect::Connect {
            mic_muted: true,
            ..
        }
    ));
}

#[test]
fn losing_the_camera_in_a_call_keeps_the_call_on_audio() {
    let mut room = in_call();
    let camera = DevicePresence {
        present: true,
        simulated: false,
        name: Some("/dev/video0".into()),
    };
    room.handle(
        0,
        Input::Device {
            kind: DeviceKind::Camera,
            presence: camera.clone(),
        },
    );
    let step = room.handle(
        10,
        Input::Device {
            kind: DeviceKind::Camera,
            presence: DevicePresence {
                present: false,
                ..camera.clone()
            },
        },
    );
    assert_eq!(step.effects, vec![Effect::CameraAvailable(false)]);
    assert_eq!(state(&room), "in-call");
    assert!(!room.status().devices.camera.present);
    let step = room.handle(
        20,
        Input::Device {
            kind: DeviceKind::Camera,
            presence: camera,
        },
    );
    assert_eq!(step.effects, vec![Effect::CameraAvailable(true)]);
}

fn media_failed(part: MediaPart, summary: &str, reason: &str) -> Input {
    Input::Media(MediaEvent::Failed {
        part,
        summary: summary.into(),
        reason: reason.into(),
    })
}

#[test]
fn a_microphone_failure_in_a_call_fails_the_call_and_is_only_noted_when_idle() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, media_failed(MediaPart::Audio, "microphone", "alsasrc"));
    assert_eq!(state(&room), "idle");
    assert_eq!(room.status().last_error.as_deref(), Some("media: alsasrc"));
    let mut room = in_call();
    let step = room.handle(0, media_failed(MediaPart::Audio, "microphone", "alsasrc"));
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    assert_eq!(state(&room), "failed");
}

#[test]
fn a_video_or_screen_failure_in_a_call_keeps_the_call_and_is_a_problem() {
    let mut room = in_call();
    for (part, summary) in [(MediaPart::Video, "video"), (MediaPart::Screen, "screen")] {
        let step = room.handle(5, media_failed(part, summary, "not negotiated"));
        assert!(step.effects.is_empty(), "{:?}", step.effects);
        assert_eq!(state(&room), "in-call");
    }
    let problems = room.status().problems;
    let sources: Vec<_> = problems.iter().map(|p| p.source.clone()).collect();
    assert_eq!(
        sources,
        [
            ProblemSource::Media(MediaPart::Video),
            ProblemSource::Media(MediaPart::Screen)
        ]
    );
    assert_eq!(problems[0].summary, "video");
    assert_eq!(problems[0].detail.as_deref(), Some("not negotiated"));
    assert_eq!(problems[0].since_ms, 5);
}

#[test]
fn a_screen_that_opens_on_its_retry_is_no_problem_any_more() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, media_failed(MediaPart::Screen, "screen (kms)", "busy"));
    assert_eq!(room.status().problems.len(), 1);
    room.handle(
        30_000,
        Input::Media(MediaEvent::Running {
            part: MediaPart::Screen,
        }),
    );
    assert_eq!(room.status().problems, []);
}

#[test]
fn the_calls_video_problem_ends_with_the_call() {
    let mut room = in_call();
    room.handle(5, media_failed(MediaPart::Video, "video", "camera busy"));
    room.handle(6, media_failed(MediaPart::Screen, "screen", "kms"));
    room.handle(10, press(Button::Join));
    room.handle(20, ended(1));
    assert_eq!(state(&room), "idle");
    let sources: Vec<_> = room
        .status()
        .problems
        .into_iter()
        .map(|p| p.source)
        .collect();
    assert_eq!(sources, [ProblemSource::Media(MediaPart::Screen)]);
}

#[test]
fn driver_problems_are_kept_until_their_cause_is_gone() {
    let mut room = Room::new(settings(), 0);
    let cec = || ProblemReport::new(ProblemSource::Cec, "HDMI-CEC");
    let token = ProblemReport::new(ProblemSource::MeetingToken, "meeting token")
        .with_detail("/etc/salle/token: No such file or directory");
    room.handle(100, Input::Problem(cec().with_detail("/dev/cec0: busy")));
    room.handle(200, Input::Problem(token));
    // The same again: the same problem, since the first report.
    room.handle(300, Input::Problem(cec().with_detail("/dev/cec0: busy")));
    let problems = room.status().problems;
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].since_ms, 100);
    assert_eq!(problems[0].to_string(), "HDMI-CEC: /dev/cec0: busy");
    // The adapter recovers, the token file is fixed.
    room.handle(400, Input::ProblemGone(ProblemSource::Cec));
    assert_eq!(room.status().problems.len(), 1);
    room.handle(500, Input::ProblemGone(ProblemSource::MeetingToken));
    assert_eq!(room.status().problems, []);
}

#[test]
fn meeting_auto_join_joins_once_when_the_daemon_has_started() {
    let auto = RoomSettings {
        auto_join: true,
        ..settings()
    };
    let mut room = Room::new(auto.clone(), 0);
    // Devices are reported first: no join before the daemon says it has started.
    let step = room.handle(
        0,
        Input::Device {
            kind: DeviceKind::Camera,
            presence: DevicePresence::default(),
        },
    );
    assert!(!step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Connect { .. })));
    let step = room.handle(10, Input::Started);
    assert!(matches!(
        step.effects[0],
        Effect::Connect { ref url, .. } if url == URL
    ));
    assert_eq!(state(&room), "joining");
    // Without auto_join, starting does nothing.
    let mut room = Room::new(settings(), 0);
    let step = room.handle(10, Input::Started);
    assert!(step.effects.is_empty(), "{:?}", step.effects);
    assert_eq!(state(&room), "idle");
}

#[test]
fn the_initial_mute_is_set_once_and_every_join_with_join_muted_mutes() {
    let muted = RoomSettings {
        join_muted: true,
        ..settings()
    };
    let room = Room::new(muted.clone(), 0);
    let initial = room.initial_effects();
    let mutes: Vec<_> = initial
        .iter()
        .filter(|e| matches!(e, Effect::SetMicMuted(_)))
        .collect();
    assert_eq!(mutes, [&Effect::SetMicMuted(true)]);
    assert!(initial.contains(&Effect::SpeakerphoneMuteLed(true)));
    // Unmuted by a person, then a new meeting: muted again, and said once.
    let mut room = Room::new(muted, 0);
    room.handle(0, press(Button::Mute));
    let step = room.handle(10, press(Button::Join));
    let mutes: Vec<_> = step
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::SetMicMuted(_)))
        .collect();
    assert_eq!(mutes, [&Effect::SetMicMuted(true)]);
    assert!(matches!(
        step.effects
            .iter()
            .find(|e| matches!(e, Effect::Connect { .. })),
        Some(Effect::Connect {
            mic_muted: true,
            ..
        })
    ));
}

#[test]
fn the_speakerphone_mute_led_follows_the_rooms_mute_not_an_led_pattern() {
    let mut room = Room::new(settings(), 0);
    assert!(room
        .initial_effects()
        .contains(&Effect::SpeakerphoneMuteLed(false)));
    let step = room.handle(0, press(Button::Mute));
    assert!(step.effects.contains(&Effect::SpeakerphoneMuteLed(true)));
    let step = room.handle(1, press(Button::Mute));
    assert!(step.effects.contains(&Effect::SpeakerphoneMuteLed(false)));
    // A remote mute request mutes the speakerphone's LED too.
    let mut room = in_call();
    let step = room.handle(
        2,
        Input::Session(SessionEvent::MuteRequested { session: 1 }),
    );
    assert!(step.effects.contains(&Effect::SpeakerphoneMuteLed(true)));
    // Only changes are said.
    let step = room.handle(
        3,
        Input::Session(SessionEvent::MuteRequested { session: 1 }),
    );
    assert!(!step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::SpeakerphoneMuteLed(_))));
}

#[test]
fn failure_while_leaving_just_finishes_the_leave() {
    let mut room = in_call();
    room.handle(0, press(Button::Join));
    room.handle(10, failed(1, "socket closed"));
    assert_eq!(state(&room), "idle");
    assert_eq!(room.status().last_error, None);
}

// ---- properties over long random sequences -------------------------------------------------

fn any_input() -> impl Strategy<Value = Input> {
    let button = prop_oneof![
        Just(Button::Join),
        Just(Button::Mute),
        Just(Button::CameraPrivacy)
    ];
    let press = prop_oneof![Just(Press::Short), Just(Press::Long)];
    let origin = prop_oneof![Just(Origin::InRoom), Just(Origin::Remote)];
    let command = prop_oneof![
        proptest::option::of(Just("whip+http://127.0.0.1:8080/whip".to_string()))
            .prop_map(|url| Command::Join { url }),
        Just(Command::Leave),
        any::<bool>().prop_map(|muted| Command::SetMicMuted { muted }),
        any::<bool>().prop_map(|off| Command::SetCameraOff { off }),
    ];
    let session = 0u64..6;
    let kind = prop_oneof![
        Just(DeviceKind::Camera),
        Just(DeviceKind::Microphone),
        Just(DeviceKind::Speaker)
    ];
    prop_oneof![
        (button, press).prop_map(|(button, press)| Input::Button { button, press }),
        (origin, command).prop_map(|(origin, command)| Input::Command { origin, command }),
        session.clone().prop_map(connected),
        session.clone().prop_map(ended),
        session.clone().prop_map(reconnecting),
        session.prop_map(|s| failed(s, "boom")),
        prop_oneof![
            Just(MediaPart::Audio),
            Just(MediaPart::Video),
            Just(MediaPart::Screen)
        ]
        .prop_map(|part| media_failed(part, "pipeline", "failed")),
        (kind, any::<bool>()).prop_map(|(kind, present)| Input::Device {
            kind,
            presence: DevicePresence {
                present,
                simulated: false,
                name: None
            }
        }),
        Just(Input::Tick),
        (0u8..3, any::<bool>(), any::<bool>())
            .prop_map(|(n, started, link)| calendar_now(n, started, link)),
    ]
}

#[test]
fn a_lost_connection_in_a_call_is_reconnecting_then_back_in_the_call() {
    let mut room = in_call();
    let step = room.handle(1_000, reconnecting(1));
    assert_eq!(state(&room), "reconnecting");
    assert!(matches!(
        room.status().call,
        CallStatus::Reconnecting { ref reason, .. } if reason == "ICE disconnected"
    ));
    // Nothing is torn down: the session is getting its connection back.
    assert!(!step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Disconnect { .. })));
    assert_eq!(room.status().leds.status, LedPattern::Blink);
    room.handle(5_000, connected(1));
    assert_eq!(state(&room), "in-call");
    assert_eq!(room.status().leds.status, LedPattern::On);
}

#[test]
fn reconnecting_gives_up_after_the_timeout_or_when_the_session_does() {
    let mut room = in_call();
    room.handle(1_000, reconnecting(1));
    let step = room.handle(1_000 + settings().reconnect_timeout_ms, Input::Tick);
    assert_eq!(state(&room), "failed");
    assert!(step.effects.contains(&Effect::Disconnect { session: 1 }));
    assert!(room
        .status()
        .last_error
        .unwrap()
        .contains("did not come back"));

    let mut room = in_call();
    room.handle(1_000, reconnecting(1));
    room.handle(2_000, failed(1, "Janus: the session timed out"));
    assert_eq!(state(&room), "failed");
}

#[test]
fn the_join_button_leaves_while_reconnecting_and_a_join_does_not_reconnect() {
    let mut room = in_call();
    room.handle(1_000, reconnecting(1));
    let step = room.handle(2_000, press(Button::Join));
    assert!(step.effects.contains(&Effect::Disconnect { session: 1 }));
    assert_eq!(state(&room), "leaving");

    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(100, reconnecting(1));
    assert_eq!(state(&room), "joining", "a join keeps its own timeout");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_event_sequences(
        steps in proptest::collection::vec((0u64..20_000, any_input()), 1..300)
    ) {
        let mut room = Room::new(with_calendar(true), 0);
        let mut now = 0;
        // The calendar meetings joined so far: auto-join joins each at most once.
        let mut calendar_joined: Vec<String> = Vec::new();
        // The driver's view, rebuilt from effects only.
        let mut open_session: Option<SessionId> = None;
        let mut closed_session: Option<SessionId> = None;
        let mut mic_muted = room.status().mic_muted;
        let mut leds = room.status().leds;
        // When the room asked to be woken: one step in four is that wake, a Tick at that time.
        let mut wake_due: Option<Millis> = None;
        for (advance, input) in steps {
            let (input, woken) = match wake_due.take() {
                Some(at) if advance % 4 == 0 => (Input::Tick, Some(at)),
                _ => (input, None),
            };
            now = woken.unwrap_or(now + advance);
            let before = room.status();
            let from_room = matches!(
                input,
                Input::Button { .. } | Input::Command { origin: Origin::InRoom, .. }
            );
            // A session that reports its own end or failure is closed on the driver's side.
            if let Input::Session(SessionEvent::Ended { session } | SessionEvent::Failed { session, .. }) = &input {
                if open_session == Some(*session) {
                    closed_session = open_session.take();
                }
            }
            let input_kind = match &input {
                Input::Button { .. } => "button",
                Input::Command { .. } => "command",
                _ => "other",
            };
            let step = room.handle(now, input);
            // Time as an input: the room says when it needs waking, never in the past, and a
            // wake at that time moves it on (the daemon sleeps until then, it never spins).
            prop_assert_eq!(step.wake_at, room.wake_at());
            if let Some(woken) = woken {
                prop_assert_ne!(step.wake_at, Some(woken), "woken for nothing");
            }
            if let Some(wake_at) = step.wake_at {
                prop_assert!(wake_at >= now, "wake at {} before {}", wake_at, now);
            }
            wake_due = step.wake_at;
            for effect in &step.effects {
                match effect {
                    Effect::Connect { session, url, .. } => {
                        prop_assert!(open_session.is_none(), "two sessions at once");
                        open_session = Some(*session);
                        if url.starts_with("test://calendar-") {
                            let again = calendar_joined.contains(url);
                            let asked = matches!(input_kind, "button" | "command");
                            prop_assert!(asked || !again, "auto-joined {} twice", url);
                            calendar_joined.push(url.clone());
                        }
                    }
                    Effect::Disconnect { session } => {
                        // Either the open session, or cleanup of one that just closed itself.
                        let known = open_session == Some(*session) || closed_session == Some(*session);
                        prop_assert!(known, "disconnect of unknown session {}", session);
                        closed_session = open_session.take().or(closed_session);
                    }
                    Effect::SetMicMuted(muted) => mic_muted = *muted,
                    Effect::Leds(l) => leds = *l,
                    _ => {}
                }
            }
            let after = room.status();
            // Only people in the room unmute.
            if before.mic_muted && !after.mic_muted {
                prop_assert!(from_room, "unmuted by something outside the room");
            }
            // Drivers always end up where the machine is.
            prop_assert_eq!(mic_muted, after.mic_muted);
            prop_assert_eq!(leds, after.leds);
            prop_assert_eq!(after.leds.mute == LedPattern::On, after.mic_muted);
            // A session is open exactly while joining or in a call.
            let active = matches!(
                after.call,
                CallStatus::Joining { .. } | CallStatus::InCall { .. } | CallStatus::Reconnecting { .. }
            );
            prop_assert_eq!(open_session.is_some(), active, "open session vs state");
            // A failure always says why.
            if let CallStatus::Failed { reason } = &after.call {
                prop_assert!(!reason.is_empty());
                prop_assert!(after.last_error.is_some());
            }
            // In a call only through a session that connected.
            if matches!(after.call, CallStatus::InCall { .. }) {
                let was_in_session = matches!(
                    before.call,
                    CallStatus::InCall { .. } | CallStatus::Joining { .. } | CallStatus::Reconnecting { .. }
                );
                prop_assert!(was_in_session, "entered a call from {:?}", before.call);
            }
        }
    }
}

fn waiting(session: SessionId) -> Input {
    Input::Session(SessionEvent::Waiting {
        session,
        reason: "waiting for the host to admit Salle Monge".into(),
    })
}

#[test]
fn a_lobby_wait_is_shown_and_admission_puts_the_room_in_the_call() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(100, waiting(1));
    assert_eq!(
        room.status().call,
        CallStatus::Waiting {
            url: URL.into(),
            reason: "waiting for the host to admit Salle Monge".into()
        }
    );
    assert_eq!(room.status().leds.status, LedPattern::SlowBlink);
    // The host takes longer than a join may: waiting is not joining.
    let later = settings().join_timeout_ms + 1_000;
    room.handle(later, Input::Tick);
    assert_eq!(state(&room), "waiting");
    room.handle(later + 10, connected(1));
    assert_eq!(state(&room), "in-call");
}

#[test]
fn the_lobby_wait_gives_up_after_its_timeout_and_a_long_press_cancels_it() {
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(100, waiting(1));
    // A poll that repeats the reason does not restart the lobby's clock.
    room.handle(200_000, waiting(1));
    let step = room.handle(100 + settings().lobby_timeout_ms, Input::Tick);
    assert!(step.effects.contains(&Effect::Disconnect { session: 1 }));
    match room.status().call {
        CallStatus::Failed { reason } => assert!(reason.contains("lobby"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(100, waiting(1));
    let step = room.handle(
        200,
        Input::Button {
            button: Button::Join,
            press: Press::Long,
        },
    );
    assert!(step.effects.contains(&Effect::Disconnect { session: 1 }));
    assert_eq!(state(&room), "leaving");
}

#[test]
fn a_lobby_event_from_another_session_or_outside_a_join_changes_nothing() {
    let mut room = in_call();
    room.handle(100, waiting(1));
    assert_eq!(state(&room), "in-call");
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    room.handle(100, waiting(7));
    assert_eq!(state(&room), "joining");
}

#[test]
fn the_meeting_can_mute_the_room_but_never_unmute_it() {
    let mut room = in_call();
    let step = room.handle(
        100,
        Input::Session(SessionEvent::MuteRequested { session: 1 }),
    );
    assert_eq!(
        step.effects,
        vec![
            Effect::SetMicMuted(true),
            Effect::Leds(room.status().leds),
            Effect::SpeakerphoneMuteLed(true)
        ]
    );
    assert!(room.status().mic_muted);
    // Asked again: nothing more to do.
    let step = room.handle(
        200,
        Input::Session(SessionEvent::MuteRequested { session: 1 }),
    );
    assert!(step.effects.is_empty());
    // Only the room's own button unmutes.
    room.handle(300, press(Button::Mute));
    assert!(!room.status().mic_muted);
    // A request from a session that is no longer the room's is ignored.
    let step = room.handle(
        400,
        Input::Session(SessionEvent::MuteRequested { session: 9 }),
    );
    assert!(step.effects.is_empty());
    assert!(!room.status().mic_muted);
}

fn with_calendar(auto_join: bool) -> RoomSettings {
    RoomSettings {
        calendar: Some(CalendarSettings { auto_join }),
        ..settings()
    }
}

fn meeting(id: &str, started: bool, url: Option<&str>) -> CalendarMeeting {
    CalendarMeeting {
        id: id.into(),
        title: format!("Meeting {id}"),
        start: "2026-03-10T10:00:00+01:00".into(),
        end: "2026-03-10T11:00:00+01:00".into(),
        all_day: false,
        url: url.map(String::from),
        started,
    }
}

fn calendar(current: Option<CalendarMeeting>) -> Input {
    Input::Calendar(CalendarStatus {
        current,
        updated: Some("2026-03-10T09:58:00+01:00".into()),
        ..CalendarStatus::default()
    })
}

/// Calendar meeting `n` as current, with a link `test://calendar-<n>` or none.
fn calendar_now(n: u8, started: bool, link: bool) -> Input {
    let url = format!("test://calendar-{n}");
    calendar(Some(meeting(
        &format!("m{n}"),
        started,
        link.then_some(url.as_str()),
    )))
}

fn connect_url(step: &Step) -> Option<&str> {
    step.effects.iter().find_map(|e| match e {
        Effect::Connect { url, .. } => Some(url.as_str()),
        _ => None,
    })
}

const CALENDAR_URL: &str = "https://visio.example/cal-ndar-url";

#[test]
fn the_join_button_joins_the_calendar_meeting_else_the_rooms_own() {
    let mut room = Room::new(with_calendar(false), 0);
    assert_eq!(room.status().calendar, Some(CalendarStatus::default()));
    // About to start (not started): the button joins it.
    room.handle(0, calendar(Some(meeting("a", false, Some(CALENDAR_URL)))));
    let step = room.handle(10, press(Button::Join));
    assert_eq!(connect_url(&step), Some(CALENDAR_URL));
    assert_eq!(
        room.status().call,
        CallStatus::Joining {
            url: CALENDAR_URL.into()
        }
    );
    // `salle join` without a URL means the same meeting: not refused.
    let step = room.handle(20, command(Origin::InRoom, Command::Join { url: None }));
    assert_eq!(step.refused, None);
    room.handle(30, connected(1));
    room.handle(40, press(Button::Join));
    room.handle(50, ended(1));
    // A current meeting without a link (in person): the room's own meeting.
    room.handle(60, calendar(Some(meeting("b", true, None))));
    let step = room.handle(70, press(Button::Join));
    assert_eq!(connect_url(&step), Some(URL));
    room.handle(80, command(Origin::InRoom, Command::Leave));
    room.handle(90, ended(2));
    // Nothing in the calendar: the room's own meeting.
    room.handle(100, calendar(None));
    let step = room.handle(110, press(Button::Join));
    assert_eq!(connect_url(&step), Some(URL));
}

#[test]
fn without_any_meeting_the_failure_says_so() {
    let mut room = Room::new(
        RoomSettings {
            meeting_url: None,
            ..with_calendar(false)
        },
        0,
    );
    room.handle(0, press(Button::Join));
    assert_eq!(
        room.status().last_error.as_deref(),
        Some("no meeting to join: none with a link in the calendar now, and no [meeting] url")
    );
}

#[test]
fn auto_join_joins_a_meeting_with_a_link_when_it_starts_once() {
    let mut room = Room::new(with_calendar(true), 0);
    let step = room.handle(0, calendar(Some(meeting("a", false, Some(CALENDAR_URL)))));
    assert_eq!(connect_url(&step), None, "not before it starts");
    let step = room.handle(
        1_000,
        calendar(Some(meeting("a", true, Some(CALENDAR_URL)))),
    );
    assert_eq!(connect_url(&step), Some(CALENDAR_URL));
    room.handle(1_500, connected(1));
    // People leave: the room stays out of it, whatever the calendar says next.
    room.handle(2_000, press(Button::Join));
    room.handle(2_100, ended(1));
    assert_eq!(state(&room), "idle");
    for at in [3_000, 4_000] {
        let step = room.handle(at, calendar(Some(meeting("a", true, Some(CALENDAR_URL)))));
        assert_eq!(connect_url(&step), None);
        room.handle(at + 1, Input::Tick);
        assert_eq!(state(&room), "idle");
    }
    // The next occurrence is another meeting.
    let step = room.handle(
        5_000,
        calendar(Some(meeting("a-next", true, Some(CALENDAR_URL)))),
    );
    assert_eq!(connect_url(&step), Some(CALENDAR_URL));
}

#[test]
fn auto_join_skips_meetings_without_links_and_rooms_without_it() {
    let mut room = Room::new(with_calendar(true), 0);
    let step = room.handle(0, calendar(Some(meeting("a", true, None))));
    assert_eq!(connect_url(&step), None);
    let mut room = Room::new(with_calendar(false), 0);
    let step = room.handle(0, calendar(Some(meeting("a", true, Some(CALENDAR_URL)))));
    assert_eq!(connect_url(&step), None);
}

#[test]
fn a_meeting_joined_early_by_the_button_is_not_auto_joined_again() {
    let mut room = Room::new(with_calendar(true), 0);
    room.handle(0, calendar(Some(meeting("a", false, Some(CALENDAR_URL)))));
    room.handle(10, press(Button::Join));
    room.handle(20, connected(1));
    room.handle(30, calendar(Some(meeting("a", true, Some(CALENDAR_URL)))));
    room.handle(40, press(Button::Join));
    let step = room.handle(50, ended(1));
    assert_eq!(connect_url(&step), None);
    assert_eq!(state(&room), "idle");
}

#[test]
fn auto_join_waits_for_the_room_to_be_free() {
    let mut room = in_call_with(with_calendar(true));
    room.handle(100, calendar(Some(meeting("a", true, Some(CALENDAR_URL)))));
    assert_eq!(room.status().call, CallStatus::InCall { url: URL.into() });
    room.handle(200, press(Button::Join));
    let step = room.handle(300, ended(1));
    assert_eq!(
        connect_url(&step),
        Some(CALENDAR_URL),
        "free, and the meeting is on"
    );
    // A failed auto-join is not retried: people press the button.
    room.handle(400, failed(2, "room is full"));
    let later = 400 + settings().failed_hold_ms;
    let step = room.handle(later, Input::Tick);
    assert_eq!((state(&room), connect_url(&step)), ("idle", None));
}

fn in_call_with(settings: RoomSettings) -> Room {
    let mut room = Room::new(settings, 0);
    room.handle(0, press(Button::Join));
    room.handle(10, connected(1));
    assert_eq!(state(&room), "in-call");
    room
}

#[test]
fn calendar_errors_are_in_status_with_the_meetings_the_room_had() {
    let mut room = Room::new(with_calendar(false), 0);
    let upcoming = vec![meeting("b", false, Some(CALENDAR_URL))];
    room.handle(
        0,
        Input::Calendar(CalendarStatus {
            current: None,
            upcoming: upcoming.clone(),
            error: Some(
                "calendar https://cal.example/room/: answered 500 Internal Server Error: oops"
                    .into(),
            ),
            updated: Some("2026-03-10T09:00:00+01:00".into()),
            warnings: vec![],
        }),
    );
    let status = room.status();
    let calendar = status.calendar.unwrap();
    assert_eq!(calendar.upcoming, upcoming);
    assert!(calendar.error.unwrap().contains("500"));
    assert_eq!(state(&room), "idle", "an error is no failure of the room");
    assert_eq!(
        Room::new(settings(), 0).status().calendar,
        None,
        "no calendar"
    );
}

#[test]
fn a_meeting_joined_by_its_url_counts_as_joined_too() {
    let mut room = Room::new(with_calendar(true), 0);
    room.handle(0, calendar(Some(meeting("a", false, Some(CALENDAR_URL)))));
    let join = Command::Join {
        url: Some(CALENDAR_URL.into()),
    };
    room.handle(10, command(Origin::InRoom, join));
    room.handle(20, connected(1));
    room.handle(30, calendar(Some(meeting("a", true, Some(CALENDAR_URL)))));
    room.handle(40, command(Origin::InRoom, Command::Leave));
    let step = room.handle(50, ended(1));
    assert_eq!((state(&room), connect_url(&step)), ("idle", None));
}

// The screen's power: the room feeds `screen_power` from its own state; the decision's edges
// (hours, midnight, delays) are tested in `screen_power`.

/// Saturday 03:00: outside "Mon-Fri 07:00-19:00".
const NIGHT: WallTime = WallTime {
    weekday: 5,
    minute: 180,
};

fn after_hours(settings: RoomSettings) -> Room {
    let settings = RoomSettings {
        screen_power: ScreenPowerSettings {
            awake_hours: Some(AwakeHours::parse("Mon-Fri 07:00-19:00").unwrap()),
            sleep_after_ms: 2_000,
        },
        ..settings
    };
    Room::new(settings, 0)
}

fn power_effects(step: &Step) -> Vec<ScreenPower> {
    (step.effects.iter())
        .filter_map(|e| match e {
            Effect::ScreenPower(p) => Some(*p),
            _ => None,
        })
        .collect()
}

#[test]
fn the_screen_sleeps_after_hours_and_a_press_wakes_it_doing_its_job_too() {
    let mut room = after_hours(settings());
    assert!(room
        .initial_effects()
        .contains(&Effect::ScreenPower(ScreenPower::Awake)));
    assert!(power_effects(&room.handle(1_000, Input::Clock(NIGHT))).is_empty());
    let step = room.handle(2_000, Input::Clock(NIGHT));
    assert_eq!(power_effects(&step), [ScreenPower::Standby]);
    assert_eq!(room.status().screen_power, ScreenPower::Standby);
    let json = serde_json::to_value(room.status()).unwrap();
    assert_eq!(json["screen_power"], "standby");
    // The mute button wakes the screen and mutes: a button has one meaning.
    let step = room.handle(3_000, press(Button::Mute));
    assert_eq!(power_effects(&step), [ScreenPower::Awake]);
    assert!(step.effects.contains(&Effect::SetMicMuted(true)));
    assert_eq!(room.status().screen_power, ScreenPower::Awake);
    assert!(power_effects(&room.handle(4_999, Input::Clock(NIGHT))).is_empty());
    let step = room.handle(5_000, Input::Clock(NIGHT));
    assert_eq!(power_effects(&step), [ScreenPower::Standby]);
    // The join button wakes it and joins.
    let step = room.handle(6_000, press(Button::Join));
    assert_eq!(power_effects(&step), [ScreenPower::Awake]);
    assert_eq!(connect_url(&step), Some(URL));
}

#[test]
fn the_screen_stays_awake_through_a_call_and_sleeps_again_after_it() {
    let mut room = after_hours(settings());
    room.handle(0, Input::Clock(NIGHT));
    room.handle(500, press(Button::Join));
    room.handle(1_000, connected(1));
    // An hour in a call, ticking: never asleep.
    for now in (1_000..3_600_000).step_by(1_000) {
        let step = room.handle(now, Input::Clock(NIGHT));
        assert!(power_effects(&step).is_empty(), "at {now}");
    }
    room.handle(3_600_000, reconnecting(1));
    assert!(power_effects(&room.handle(3_700_000, Input::Clock(NIGHT))).is_empty());
    let step = room.handle(3_700_000, ended(1));
    assert_eq!(state(&room), "idle");
    assert!(power_effects(&step).is_empty());
    // The delay runs from the call's end.
    assert!(power_effects(&room.handle(3_701_999, Input::Clock(NIGHT))).is_empty());
    let step = room.handle(3_702_000, Input::Clock(NIGHT));
    assert_eq!(power_effects(&step), [ScreenPower::Standby]);
    // A remote join (the control socket, a calendar auto-join) wakes it too.
    let step = room.handle(
        3_800_000,
        command(Origin::InRoom, Command::Join { url: None }),
    );
    assert_eq!(power_effects(&step), [ScreenPower::Awake]);
}

#[test]
fn a_failure_or_a_meeting_in_the_calendar_keeps_the_screen_awake() {
    let mut room = after_hours(RoomSettings {
        meeting_url: None,
        ..with_calendar(false)
    });
    room.handle(0, Input::Clock(NIGHT));
    // No meeting to join: failed, on show for `failed_hold_ms`, awake all along.
    room.handle(1_000, press(Button::Join));
    assert_eq!(state(&room), "failed");
    for now in (1_000..11_000).step_by(250) {
        assert!(power_effects(&room.handle(now, Input::Clock(NIGHT))).is_empty());
    }
    room.handle(11_000, Input::Clock(NIGHT));
    assert_eq!(state(&room), "idle");
    // A meeting about to start (no link): the screen stays on for it.
    room.handle(12_000, calendar_now(1, false, false));
    for now in (12_000..100_000).step_by(1_000) {
        assert!(power_effects(&room.handle(now, Input::Clock(NIGHT))).is_empty());
    }
    room.handle(100_000, Input::Clock(NIGHT));
    room.handle(100_000, calendar(None));
    assert!(power_effects(&room.handle(101_999, Input::Clock(NIGHT))).is_empty());
    let step = room.handle(102_000, Input::Clock(NIGHT));
    assert_eq!(power_effects(&step), [ScreenPower::Standby]);
}

#[test]
fn without_working_hours_the_screen_is_never_touched() {
    let mut room = Room::new(settings(), 0);
    assert!(!room
        .initial_effects()
        .iter()
        .any(|e| matches!(e, Effect::ScreenPower(_))));
    for now in (0..10_000_000).step_by(100_000) {
        assert!(power_effects(&room.handle(now, Input::Clock(NIGHT))).is_empty());
    }
    assert_eq!(room.status().screen_power, ScreenPower::Awake);
}

// ---- time as an input: when the room asks to be woken ---------------------------------------

#[test]
fn a_join_asks_to_be_woken_at_its_timeout_and_fails_then() {
    let mut room = Room::new(settings(), 0);
    assert_eq!(room.wake_at(), None, "idle: nothing to wait for");
    let step = room.handle(1_000, press(Button::Join));
    let timeout = 1_000 + settings().join_timeout_ms;
    assert_eq!(step.wake_at, Some(timeout));
    // Woken a little early (a timer's slack): nothing yet, and the same wake.
    let step = room.handle(timeout - 1, Input::Tick);
    assert_eq!((state(&room), step.wake_at), ("joining", Some(timeout)));
    let step = room.handle(timeout, Input::Tick);
    assert_eq!(state(&room), "failed");
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
    // The failure stays on show for its hold, then the room is idle and sleeps.
    assert_eq!(step.wake_at, Some(timeout + settings().failed_hold_ms));
    let step = room.handle(timeout + settings().failed_hold_ms, Input::Tick);
    assert_eq!((state(&room), step.wake_at), ("idle", None));
}

#[test]
fn a_call_needs_no_waking_and_a_lost_connection_does() {
    let mut room = in_call();
    assert_eq!(room.wake_at(), None);
    let step = room.handle(50_000, reconnecting(1));
    assert_eq!(step.wake_at, Some(50_000 + settings().reconnect_timeout_ms));
    let step = room.handle(51_000, connected(1));
    assert_eq!(step.wake_at, None);
    let step = room.handle(52_000, press(Button::Join));
    assert_eq!(step.wake_at, Some(52_000 + settings().leave_timeout_ms));
}

#[test]
fn any_input_after_a_timeout_ran_out_finds_it_run_out() {
    // The Tick came late (a loaded machine): the session's Connected that arrives after the
    // join's timeout does not bring the room into a call it gave up on.
    let mut room = Room::new(settings(), 0);
    room.handle(0, press(Button::Join));
    let step = room.handle(settings().join_timeout_ms + 5, connected(1));
    assert_eq!(state(&room), "failed");
    assert_eq!(step.effects[0], Effect::Disconnect { session: 1 });
}

#[test]
fn after_hours_the_room_asks_to_be_woken_when_the_screen_should_sleep() {
    let mut room = after_hours(settings());
    let step = room.handle(1_000, Input::Clock(NIGHT));
    // `after_hours` sleeps 2 s after the last activity (the start, at 0).
    assert_eq!(step.wake_at, Some(2_000));
    let step = room.handle(2_000, Input::Tick);
    assert_eq!(power_effects(&step), [ScreenPower::Standby]);
    assert_eq!(step.wake_at, None, "asleep: only an input wakes it");
    // In a call the screen stays awake without waking the room.
    room.handle(3_000, press(Button::Join));
    let step = room.handle(3_500, connected(1));
    assert_eq!(step.wake_at, None);
}
