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
    daemon.cli(&["join"]);
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
