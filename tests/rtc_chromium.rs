//! The room and headless Chromium (Debian's, janus.js from Debian) in one Janus 1.1 VideoRoom:
//! each decodes the other. Everything runs in a network namespace this test makes, with only
//! the loopback interface: Chromium prefers any other interface to loopback, and tests never use
//! one.

mod common;

use common::janus::Janus;
use common::{in_own_network, simulated_room, wait_for, Daemon};
use std::process::{Command, Stdio};
use std::time::Duration;

const PARTICIPANT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chromium/participant.py"
);

#[test]
fn chromium_and_the_room_see_each_other_in_a_janus_room() {
    if !in_own_network("chromium_and_the_room_see_each_other_in_a_janus_room") {
        return;
    }
    let janus = Janus::start();
    let daemon = Daemon::start(&simulated_room("Salle Chromium", &janus.meeting_url()));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));

    let chromium = Command::new("/usr/bin/python3")
        .arg(PARTICIPANT)
        .args([
            "--janus-ws",
            janus.ws(),
            "--room",
            &janus.room().to_string(),
        ])
        .args([
            "--display",
            "Chromium",
            "--seconds",
            "12",
            "--expect-remote",
            "Salle Chromium",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start participant.py");

    // The room decodes Chromium's fake camera, under its name.
    let status = wait_for(
        "Chromium decoded on the room's screen",
        Duration::from_secs(40),
        || {
            let status = daemon.status();
            let people = status["media"]["screen"]["people"].as_array()?.clone();
            let chromium = people.iter().find(|p| p["name"] == "Chromium")?.clone();
            (chromium["decoded_frames"].as_u64() > Some(30)).then_some(chromium)
        },
    );
    assert!(status["width"].as_u64() > Some(0), "{status}");

    // Chromium decodes the room: its getStats() for the room's feed.
    let out = chromium.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "result")
        .unwrap_or_else(|| panic!("participant.py printed no result: {text}"));
    assert!(out.status.success(), "{result}");
    let room = &result["remotes"]["Salle Chromium"];
    assert!(room["framesDecoded"].as_u64() > Some(60), "{result}");
    assert_eq!(
        (room["frameWidth"].as_u64(), room["frameHeight"].as_u64()),
        (Some(1280), Some(720)),
        "{result}"
    );
    assert_eq!(result["video_codec"], "h264", "{result}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}
