//! The room and headless Chromium running livekit-client (the SDK La Suite Meet's frontend
//! uses, with Meet's room options) in one meeting on the REAL LiveKit server: each decodes the
//! other. Meet's web client publishes VP9 with SVC (L3T3_KEY); a second run publishes VP8
//! simulcast. Everything runs in a network namespace of the test's own with only `lo`
//! (Chromium prefers any other interface to loopback).
mod common;

use common::livekit_server::{ChromiumOptions, Meet};
use common::{in_own_network, simulated_room, wait_for, Daemon};
use serde_json::Value;
use std::time::Duration;

const SLUG: &str = "salle-test";
const ROOM_NAME: &str = "Salle Visio";

/// The remote person called `name` on the room's screen.
fn on_screen(daemon: &Daemon, name: &str) -> Option<Value> {
    let status = daemon.status();
    status["media"]["screen"]["people"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
}

/// What the room and a Chromium participant publishing `codec` see of each other: the room's
/// tile of Chromium, Chromium's result, and the server's track of Chromium's camera.
struct Seen {
    tile: Value,
    chromium: Value,
    track: Value,
}

fn chromium_and_the_room(codec: &str, name: &str) -> Seen {
    let meet = Meet::start(&["--room", &format!("{SLUG}=public")]);
    let daemon = Daemon::start(&simulated_room(ROOM_NAME, &meet.meeting_url(SLUG)));
    daemon.cli(&["press", "join"]);
    daemon.wait_state("in-call", Duration::from_secs(60));
    let mut chromium = meet.chromium(&ChromiumOptions {
        identity: "chromium",
        name,
        codec,
        simulcast: true,
        seconds: 20,
    });
    // The room decodes Chromium's camera under its name.
    let tile = wait_for(
        &format!("{name} on the room's screen"),
        Duration::from_secs(60),
        || on_screen(&daemon, name).filter(|p| p["decoded_frames"].as_u64() > Some(60)),
    );
    // And its sound (Chromium's fake microphone, the only sound in this meeting).
    wait_for(
        "Chromium's sound in the room",
        Duration::from_secs(30),
        || {
            let status = daemon.status();
            (status["session"]["received"]["audio_frames"].as_u64() > Some(100)).then_some(())
        },
    );
    let state = meet.state();
    let track = state["server"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identity"] == "chromium")
        .and_then(|p| {
            p["tracks"]
                .as_array()?
                .iter()
                .find(|t| t["source"] == "CAMERA")
        })
        .cloned()
        .unwrap_or_else(|| panic!("Chromium's camera not on the server: {state}"));
    // The room's mute and camera privacy, as livekit-client shows them to a Meet user (the
    // microphone and camera icons of the room's tile), and back.
    let room_flag = |flag: &'static str, on: bool| {
        move |remotes: &Value| (remotes[ROOM_NAME][flag] == on).then_some(())
    };
    chromium.wait_for("the room unmuted", room_flag("audioMuted", false));
    daemon.cli(&["press", "mute"]);
    chromium.wait_for("the room muted", room_flag("audioMuted", true));
    daemon.cli(&["press", "mute"]);
    chromium.wait_for("the room unmuted again", room_flag("audioMuted", false));
    daemon.cli(&["press", "camera-privacy"]);
    chromium.wait_for("the room's camera off", room_flag("videoMuted", true));
    daemon.cli(&["press", "camera-privacy"]);
    chromium.wait_for("the room's camera on", room_flag("videoMuted", false));
    let result = chromium.result();
    // Still in the call, and the tile still decoding after the whole run.
    assert_eq!(daemon.state(), "in-call");
    Seen {
        tile,
        chromium: result,
        track,
    }
}

/// Chromium decoded the room's H.264 at its size (1280x720), and its picture is a picture.
fn chromium_decoded_the_room(result: &Value) {
    let room = &result["remotes"][ROOM_NAME];
    assert!(room["framesDecoded"].as_u64() > Some(60), "{result}");
    assert_eq!(room["videoCodec"], "video/H264", "{result}");
    assert_eq!(
        (room["frameWidth"].as_u64(), room["frameHeight"].as_u64()),
        (Some(1280), Some(720)),
        "{result}"
    );
    // Pixels: the room's simulated camera, videotestsrc's white ball moving over black.
    let pixels = &room["pixels"];
    assert!(pixels["luma_mean"].as_u64() < Some(40), "black: {pixels}");
    assert!(
        pixels["luma_max"].as_u64() > Some(200),
        "a white ball: {pixels}"
    );
    let centres: Vec<&Value> = room["bright_centres"].as_array().unwrap().iter().collect();
    let mut places = centres.clone();
    places.dedup();
    assert!(places.len() > 2, "moving: {centres:?}");
    // Its sound.
    assert_eq!(room["audioCodec"], "audio/opus", "{result}");
    assert!(room["audioEnergy"].as_f64() > Some(0.0), "{result}");
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
}

#[test]
fn chromium_publishing_vp9_svc_as_meet_does_and_the_room_see_each_other() {
    if !in_own_network("chromium_publishing_vp9_svc_as_meet_does_and_the_room_see_each_other") {
        return;
    }
    let seen = chromium_and_the_room("vp9", "Chloé Chromium");
    println!(
        "VP9: room's tile {} ; Chromium sent {} ; received {}",
        seen.tile, seen.chromium["outbound"]["video"], seen.chromium["remotes"][ROOM_NAME]
    );
    assert_eq!(seen.track["mime"], "video/VP9", "{}", seen.track);
    // One encoding, three spatial layers (Meet's L3T3_KEY, livekit-client's default for VP9).
    let sent = seen.chromium["outbound"]["video"].as_array().unwrap();
    let vp9: Vec<&Value> = sent.iter().filter(|s| s["codec"] == "video/VP9").collect();
    assert_eq!(vp9.len(), 1, "{sent:?}");
    assert_eq!(vp9[0]["scalabilityMode"], "L3T3_KEY", "{sent:?}");
    // The room asked for its 640x360 tile: the server forwards the spatial layer that fits.
    let size = (seen.tile["width"].as_u64(), seen.tile["height"].as_u64());
    assert_eq!(size, (Some(640), Some(360)), "{}", seen.tile);
    chromium_decoded_the_room(&seen.chromium);
}

#[test]
fn chromium_publishing_vp8_simulcast_and_the_room_see_each_other() {
    if !in_own_network("chromium_publishing_vp8_simulcast_and_the_room_see_each_other") {
        return;
    }
    let seen = chromium_and_the_room("vp8", "Victor Chromium");
    println!(
        "VP8: room's tile {} ; Chromium sent {} ; received {}",
        seen.tile, seen.chromium["outbound"]["video"], seen.chromium["remotes"][ROOM_NAME]
    );
    assert_eq!(seen.track["mime"], "video/VP8", "{}", seen.track);
    // Three simulcast encodings (q, h, f).
    let sent = seen.chromium["outbound"]["video"].as_array().unwrap();
    let rids: Vec<&Value> = sent.iter().map(|s| &s["rid"]).collect();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(rids.contains(&&serde_json::json!("f")), "{sent:?}");
    // The layer that fits the room's 640x360 tile.
    let size = (seen.tile["width"].as_u64(), seen.tile["height"].as_u64());
    assert_eq!(size, (Some(640), Some(360)), "{}", seen.tile);
    chromium_decoded_the_room(&seen.chromium);
}

#[test]
fn chromium_publishing_h264_simulcast_and_the_room_see_each_other() {
    if !in_own_network("chromium_publishing_h264_simulcast_and_the_room_see_each_other") {
        return;
    }
    let seen = chromium_and_the_room("h264", "Hugo Chromium");
    println!(
        "H.264: room's tile {} ; Chromium sent {} ; received {}",
        seen.tile, seen.chromium["outbound"]["video"], seen.chromium["remotes"][ROOM_NAME]
    );
    assert_eq!(seen.track["mime"], "video/H264", "{}", seen.track);
    let sent = seen.chromium["outbound"]["video"].as_array().unwrap();
    assert_eq!(sent.len(), 3, "simulcast q, h, f: {sent:?}");
    assert!(sent.iter().all(|s| s["codec"] == "video/H264"), "{sent:?}");
    let size = (seen.tile["width"].as_u64(), seen.tile["height"].as_u64());
    assert_eq!(size, (Some(640), Some(360)), "{}", seen.tile);
    chromium_decoded_the_room(&seen.chromium);
}
