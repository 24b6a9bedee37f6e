//! The room in a La Suite Meet (Visio) meeting, as one native LiveKit participant, against the
//! fixture in tests/fixtures/livekit (LiveKit's signalling flow and La Suite Meet's API in
//! Python, aiortc on the media side: an independent WebRTC stack decodes what the room sends).
mod common;

use common::livekit::LiveKit;
use common::{simulated_room, wait_for, Daemon};
use serde_json::{json, Value};
use std::time::Duration;

const SLUG: &str = "salle-test";

/// The fixture's view of the room's own participant.
fn room_client(state: &Value) -> Option<Value> {
    state["clients"]
        .as_array()?
        .iter()
        .rev()
        .find(|c| c["name"] == "Salle Visio")
        .cloned()
}

/// What the fixture decoded of the room's track of `source` (CAMERA, MICROPHONE).
fn decoded(state: &Value, source: &str) -> Option<Value> {
    room_client(state)?["tracks"]
        .as_array()?
        .iter()
        .find(|t| t["source"] == source)
        .cloned()
}

/// The remote person called `name` on the room's screen, once decoded.
fn on_screen(daemon: &Daemon, name: &str) -> Option<Value> {
    let status = daemon.status();
    status["media"]["screen"]["people"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
}

fn joined(fixture: &LiveKit) -> Daemon {
    let daemon = Daemon::start(&simulated_room("Salle Visio", &fixture.meeting_url(SLUG)));
    // The join button, as someone in the room presses it.
    daemon.cli(&["press", "join"]);
    daemon.wait_state("in-call", Duration::from_secs(30));
    daemon
}

#[test]
fn the_room_joins_a_public_visio_room_and_sees_and_is_seen() {
    let fixture = LiveKit::start(&[]);
    let daemon = joined(&fixture);

    // The room published its camera and microphone with LiveKit's sources.
    let state = fixture.state();
    let client = room_client(&state).expect("the room joined the fixture");
    assert_eq!(
        client["announced"]["camera"]["source"], "CAMERA",
        "{client}"
    );
    assert_eq!(client["announced"]["camera"]["type"], "VIDEO", "{client}");
    assert_eq!(client["announced"]["microphone"]["source"], "MICROPHONE");
    // Its candidates came trickled, after its descriptions, as LiveKit's clients send them.
    let requests = client["requests"].as_array().unwrap();
    assert!(requests.contains(&json!("trickle")), "{client}");
    let announced = (
        client["announced"]["camera"]["width"].as_u64(),
        client["announced"]["camera"]["height"].as_u64(),
    );

    // aiortc decodes at least 5 s of its video at the announced size, and its sound.
    let video = fixture.wait_for("5 s of the room's video", Duration::from_secs(30), |s| {
        decoded(s, "CAMERA").filter(|v| v["frames"].as_u64() >= Some(150))
    });
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        announced,
        "{video}"
    );
    assert_eq!(video["mime"], "video/H264");
    let audio = decoded(&fixture.state(), "MICROPHONE").expect("the room's sound");
    let rms = audio["audio_rms_dbfs"]
        .as_f64()
        .unwrap_or(f64::NEG_INFINITY);
    assert!(rms > -30.0, "{audio}");

    // A remote participant: decoded on the room's screen under her name.
    fixture.control(
        "publish",
        json!({"identity": "alice", "name": "Alice Martin", "width": 320, "height": 180}),
    );
    let alice = wait_for("Alice decoded", Duration::from_secs(30), || {
        on_screen(&daemon, "Alice Martin").filter(|p| p["decoded_frames"].as_u64() > Some(30))
    });
    assert_eq!(
        (alice["width"].as_u64(), alice["height"].as_u64()),
        (Some(320), Some(180)),
        "{alice}"
    );
    // Her sound goes into the room's mix.
    let status = daemon.status();
    assert!(
        status["session"]["received"]["audio_frames"].as_u64() > Some(25),
        "{}",
        status["session"]
    );
    // The room asked for her video at her tile's size (the whole 640x360 test screen, less
    // the margins), not more.
    let settings = fixture.wait_for("track settings", Duration::from_secs(10), |s| {
        let settings = room_client(s)?["track_settings"].as_array()?.clone();
        settings.last().cloned()
    });
    assert_eq!(settings["disabled"], false, "{settings}");
    let width = settings["width"].as_u64().unwrap_or(0);
    assert!(width > 0 && width <= 640, "{settings}");

    // Who speaks, and what they say, in status.
    fixture.control("speakers", json!({"identities": ["alice"]}));
    wait_for("Alice speaking", Duration::from_secs(10), || {
        let status = daemon.status();
        let speaking = status["session"]["speaking"].as_array()?.clone();
        speaking.contains(&json!("Alice Martin")).then_some(())
    });
    // Meet's transcriber is an agent; the server forwards Transcription packets only from
    // agents: one Alice forges is dropped (the double answers that it dropped it).
    fixture.control(
        "publish",
        json!({"identity": "transcriber", "name": "Transcription", "kind": "agent", "media": false}),
    );
    let forged = fixture.control(
        "transcription",
        json!({"identity": "alice", "from": "alice", "text": "Faux sous-titre", "final": true}),
    );
    assert_eq!(forged["dropped"], "not an agent", "{forged}");
    fixture.control(
        "transcription",
        json!({"identity": "alice", "text": "Bonjour à la salle", "final": true}),
    );
    let caption = wait_for("a caption", Duration::from_secs(10), || {
        let status = daemon.status();
        status["session"]["captions"].as_array()?.last().cloned()
    });
    assert_eq!(caption["speaker"], "Alice Martin", "{caption}");
    assert_eq!(caption["text"], "Bonjour à la salle", "{caption}");
    let captions = daemon.status()["session"]["captions"].clone();
    assert_eq!(captions.as_array().map(Vec::len), Some(1), "{captions}");

    // Data that is not JSON, and a JSON message: the room carries on.
    fixture.control("data", json!({"payload_b64": "AP8Abm90IGpzb24="}));
    fixture.control("data", json!({"json": {"type": "raise-hand"}}));

    // A second participant comes and goes; Alice stays.
    fixture.control("publish", json!({"identity": "bob", "name": "Bob"}));
    wait_for("Bob decoded", Duration::from_secs(30), || {
        on_screen(&daemon, "Bob").filter(|p| p["decoded_frames"].as_u64() > Some(10))
    });
    fixture.control("unpublish", json!({"identity": "bob"}));
    wait_for("Bob gone", Duration::from_secs(15), || {
        on_screen(&daemon, "Bob").is_none().then_some(())
    });
    assert!(on_screen(&daemon, "Alice Martin").is_some());

    // Leaving says so to the server.
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
    let state = fixture.state();
    let client = room_client(&state).unwrap();
    assert!(
        client["requests"]
            .as_array()
            .unwrap()
            .contains(&json!("leave")),
        "{client}"
    );
}

/// A room whose meeting is the fixture's, with `extra` configuration.
fn room_with(fixture: &LiveKit, extra: &str) -> Daemon {
    let config = simulated_room("Salle Visio", &fixture.meeting_url(SLUG));
    Daemon::start(&format!("{config}\n{extra}"))
}

#[test]
fn the_lobby_admits_the_room_after_some_polls() {
    let fixture = LiveKit::start(&["--access", "trusted", "--lobby", "accept-after=4"]);
    let daemon = room_with(&fixture, "");
    daemon.cli(&["join"]);
    let status = daemon.wait_state("waiting", Duration::from_secs(20));
    assert_eq!(
        status["call"]["reason"], "waiting for the host to admit Salle Visio",
        "{status}"
    );
    assert_eq!(status["leds"]["status"], "slow-blink", "{status}");
    daemon.wait_state("in-call", Duration::from_secs(30));
    let state = fixture.state();
    // One lobby entry, kept by its cookie across the polls.
    assert!(state["lobby_polls"].as_u64() >= Some(4), "{state}");
    assert_eq!(state["lobby_entries"], 1, "{state}");
    fixture.wait_for("the room's video", Duration::from_secs(30), |s| {
        decoded(s, "CAMERA").filter(|v| v["frames"].as_u64() > Some(30))
    });
}

#[test]
fn a_denied_room_says_so_and_is_idle_again() {
    let fixture = LiveKit::start(&["--access", "trusted", "--lobby", "deny-after=2"]);
    let daemon = room_with(&fixture, "");
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(20));
    assert!(
        error.contains("did not admit Salle Visio") && error.contains(&fixture.url),
        "{error}"
    );
    daemon.wait_state("idle", Duration::from_secs(20));
}

#[test]
fn a_host_who_never_answers_is_given_up_after_the_configured_time() {
    let fixture = LiveKit::start(&["--access", "trusted", "--lobby", "never"]);
    let daemon = room_with(&fixture, "");
    // The configuration's lobby_timeout_s, set in the [meeting] section written by
    // simulated_room: rewrite the file with a short one and restart.
    drop(daemon);
    let config = simulated_room("Salle Visio", &fixture.meeting_url(SLUG))
        .replace("[meeting]\n", "[meeting]\nlobby_timeout_s = 5\n");
    let daemon = Daemon::start(&config);
    daemon.cli(&["join"]);
    daemon.wait_state("waiting", Duration::from_secs(20));
    let error = daemon.wait_error(Duration::from_secs(30));
    assert!(error.contains("lobby within 5 s"), "{error}");
    // The room stopped polling: the fixture forgets the entry.
    let polls = fixture.state()["lobby_polls"].as_u64();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fixture.state()["lobby_polls"].as_u64(), polls);
}

/// How many loud audio frames the fixture decoded while the room's microphone was muted.
fn loud_while_muted(fixture: &LiveKit) -> u64 {
    decoded(&fixture.state(), "MICROPHONE")
        .map_or(0, |t| t["loud_frames_while_muted"].as_u64().unwrap_or(0))
}

#[test]
fn mute_and_privacy_follow_the_room_and_the_meeting_can_only_mute() {
    let fixture = LiveKit::start(&[]);
    let daemon = joined(&fixture);
    fixture.wait_for("the room's sound", Duration::from_secs(30), |s| {
        decoded(s, "MICROPHONE").filter(|t| t["frames"].as_u64() > Some(50))
    });

    // The room's mute button becomes a MuteTrackRequest, and silence.
    daemon.cli(&["press", "mute"]);
    let state = fixture.wait_for("the mute request", Duration::from_secs(10), |s| {
        let client = room_client(s)?;
        (client["announced"]["microphone"]["muted"] == true).then_some(client)
    });
    assert!(
        state["requests"]
            .as_array()
            .unwrap()
            .contains(&json!("mute")),
        "{state}"
    );
    std::thread::sleep(Duration::from_secs(1)); // what was in flight
    let before = loud_while_muted(&fixture);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(loud_while_muted(&fixture), before, "sound while muted");
    daemon.cli(&["press", "mute"]);
    fixture.wait_for("the unmute", Duration::from_secs(10), |s| {
        (room_client(s)?["announced"]["microphone"]["muted"] == false).then_some(())
    });

    // Camera privacy: the camera track is muted for the others too, and back.
    daemon.cli(&["press", "camera-privacy"]);
    fixture.wait_for("the camera muted", Duration::from_secs(10), |s| {
        (room_client(s)?["announced"]["camera"]["muted"] == true).then_some(())
    });
    daemon.cli(&["press", "camera-privacy"]);
    fixture.wait_for("the camera back", Duration::from_secs(10), |s| {
        (room_client(s)?["announced"]["camera"]["muted"] == false).then_some(())
    });

    // A moderator mutes the room: it mutes. Asked to unmute: it does not.
    fixture.control("mute", json!({"source": "microphone"}));
    wait_for("the room muted", Duration::from_secs(10), || {
        (daemon.status()["mic_muted"] == true).then_some(())
    });
    fixture.control("mute", json!({"source": "microphone", "muted": false}));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.status()["mic_muted"], true);
}

#[test]
fn a_lost_signalling_socket_is_resumed_and_a_restarted_server_rejoined() {
    let fixture = LiveKit::start(&[]);
    let daemon = joined(&fixture);
    let frames = |s: &Value| decoded(s, "CAMERA").and_then(|v| v["frames"].as_u64());
    fixture.wait_for("video", Duration::from_secs(30), |s| {
        frames(s).filter(|f| *f > 30)
    });

    // The socket drops: the room resumes the same session (same participant, media going on).
    fixture.control("drop-signal", json!({}));
    let state = fixture.wait_for("a resume", Duration::from_secs(20), |s| {
        let resumed = s["connections"]
            .as_array()?
            .iter()
            .any(|c| c["reconnect"] == true && c["outcome"] == "resumed");
        resumed.then(|| s.clone())
    });
    let sid = room_client(&state).unwrap()["sid"].clone();
    let after = frames(&state).unwrap_or(0);
    fixture.wait_for("video after the resume", Duration::from_secs(20), |s| {
        (room_client(s)?["sid"] == sid && frames(s)? > after + 30).then_some(())
    });
    assert_eq!(daemon.state(), "in-call");

    // The server restarts (forgets everything): the resume is refused, the room joins again.
    fixture.control("restart", json!({}));
    fixture.wait_for("a new join", Duration::from_secs(60), |s| {
        let client = room_client(s)?;
        (client["sid"] != sid && client["left"] == false && frames(s)? > 30).then_some(())
    });
    daemon.wait_state("in-call", Duration::from_secs(30));
}

#[test]
fn bad_input_from_the_meeting_is_a_clear_error_or_ignored() {
    // The room API fails: the error names the server, the request and the answer.
    let fixture = LiveKit::start(&["--room-api-error", "500"]);
    let daemon = room_with(&fixture, "");
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(20));
    assert!(
        error.contains(&fixture.url)
            && error.contains("/api/v1.0/rooms/salle-test/")
            && error.contains("500"),
        "{error}"
    );
    drop(daemon);

    // A token the server refuses (a raw LiveKit URL).
    let fixture = LiveKit::start(&[]);
    let url = format!(
        "livekit+{}?token=eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
        fixture.ws
    );
    let daemon = Daemon::start(&simulated_room("Salle Visio", &url));
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(20));
    assert!(
        error.contains("401") && error.contains("refused the room's token"),
        "{error}"
    );
    drop(daemon);

    // In a call: malformed protobuf and a message of a kind the client does not know are
    // skipped; the call goes on (the JoinResponse had no ICE servers: loopback needs none).
    let daemon = joined(&fixture);
    let frames = |s: &Value| decoded(s, "CAMERA").and_then(|v| v["frames"].as_u64());
    let before = fixture.wait_for("video", Duration::from_secs(30), |s| {
        frames(s).filter(|f| *f > 10)
    });
    // 0x0a 0x40: field 1 (join) claiming 64 bytes that are not there.
    fixture.control("raw", json!({"bytes_b64": "CkAB"}));
    // Field 999, a varint: well-formed, unknown.
    fixture.control("raw", json!({"bytes_b64": "uD4B"}));
    fixture.wait_for("video going on", Duration::from_secs(20), |s| {
        frames(s).filter(|f| *f > before + 30)
    });
    assert_eq!(daemon.state(), "in-call");
    assert!(daemon.status()["session"]["service"] == "La Suite Meet");
}
