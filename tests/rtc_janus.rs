//! The room in a Janus 1.1 VideoRoom (Debian's janus), with independent participants: aiortc
//! (Python) publishing into the room, and Janus' own RTP forwarding decoded by GStreamer to see
//! what the room sends. All on loopback.

mod common;

use common::janus::Janus;
use common::{in_own_network, simulated_room, wait_for, Daemon};
use std::time::Duration;

#[test]
fn the_room_and_a_remote_participant_see_and_hear_each_other() {
    let janus = Janus::start();
    let mut remote = janus.publish_peer("Alice", 40);
    let daemon = Daemon::start(&simulated_room("Salle Janus", &janus.meeting_url()));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));

    // What the room sends, as Janus forwards it: the test pattern at its size, and the tone.
    let sent = janus.receive("Salle Janus", 5);
    assert!(sent["video_frames"].as_u64() > Some(100), "{sent}");
    assert_eq!(
        (sent["width"].as_u64(), sent["height"].as_u64()),
        (Some(1280), Some(720)),
        "{sent}"
    );
    assert_eq!(sent["video_codec"], "h264", "{sent}");
    let rms = sent["audio_rms_dbfs"].as_f64().unwrap_or(f64::NEG_INFINITY);
    assert!(rms > -30.0, "{sent}");
    let freq = sent["audio_freq_hz"].as_f64().unwrap_or(0.0);
    assert!((freq - 440.0).abs() < 20.0, "{sent}");
    // receive.py asks for a keyframe (PLI, relayed by Janus) until its first frame decodes:
    // the room's encoder answered it.
    assert!(sent["plis_sent"].as_u64() >= Some(1), "{sent}");
    let status = daemon.status();
    let requests = status["session"]["sent"]["keyframe_requests"].as_u64();
    assert!(
        requests >= Some(1),
        "keyframe requests seen by the room: {requests:?}"
    );
    // On a clean path the congestion estimate stays well above its floor (150 kbit/s): the
    // audio, which transport feedback does not cover, is not counted as lost.
    let target = status["session"]["sent"]["target_kbps"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        target > 300,
        "congestion target {target} kbit/s: {}",
        status["session"]
    );

    // What the room receives: Alice, by name, decoded on the screen.
    let status = wait_for(
        "Alice decoded on the screen",
        Duration::from_secs(30),
        || {
            let status = daemon.status();
            let people = status["media"]["screen"]["people"].as_array()?.clone();
            let alice = people.iter().find(|p| p["name"] == "Alice")?;
            (alice["decoded_frames"].as_u64() > Some(60)).then_some(status)
        },
    );
    let alice = status["media"]["screen"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Alice")
        .unwrap()
        .clone();
    assert!(
        alice["width"].as_u64() > Some(0) && alice["height"].as_u64() > Some(0),
        "{alice}"
    );
    assert!(
        status["session"]["received"]["audio_frames"].as_u64() > Some(50),
        "{status}"
    );

    // Alice leaves: her picture goes.
    let _ = remote.kill();
    let _ = remote.wait();
    wait_for(
        "Alice gone from the screen",
        Duration::from_secs(20),
        || {
            let status = daemon.status();
            (status["media"]["screen"]["people"].as_array()?.is_empty()).then_some(())
        },
    );
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

#[test]
fn a_janus_room_that_does_not_exist_is_a_clear_error_and_the_room_goes_back_to_idle() {
    let janus = Janus::start();
    let url = format!("janus+{}/?room=999999", janus.ws());
    let daemon = Daemon::start(&simulated_room("Salle Janus", &url));
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(20));
    assert!(
        error.contains("Janus") && error.contains("999999"),
        "{error}"
    );
    // The failure stays on the screen for 10 s, then the room is ready again.
    daemon.wait_state("idle", Duration::from_secs(25));
}

#[test]
fn the_room_publishes_through_simple_whip_server_into_janus() {
    let janus = Janus::start();
    let token = janus.path().join("whip.token");
    std::fs::write(&token, janus.info["whip_token"].as_str().unwrap()).unwrap();
    let whip = janus.info["whip"].as_str().unwrap();
    let config = simulated_room("Salle WHIP", &format!("whip+{whip}")).replace(
        "[camera]",
        &format!("token_file = \"{}\"\n\n[camera]", token.display()),
    );
    let daemon = Daemon::start(&config);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let display = janus.info["whip_display"]
        .as_str()
        .unwrap_or("whip-salle")
        .to_string();
    let sent = janus.receive(&display, 5);
    assert!(sent["video_frames"].as_u64() > Some(100), "{sent}");
    assert_eq!(
        (sent["width"].as_u64(), sent["height"].as_u64()),
        (Some(1280), Some(720)),
        "{sent}"
    );
    assert!(sent["audio_rms_dbfs"].as_f64() > Some(-30.0), "{sent}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

/// Sets the network namespace's only interface up or down.
fn loopback(up: bool) {
    let state = if up { "up" } else { "down" };
    let status = std::process::Command::new("ip")
        .args(["link", "set", "lo", state])
        .status()
        .expect("run ip");
    assert!(status.success(), "ip link set lo {state}");
}

#[test]
fn after_a_10_s_network_cut_the_call_comes_back_by_itself() {
    if !in_own_network("after_a_10_s_network_cut_the_call_comes_back_by_itself") {
        return;
    }
    let janus = Janus::start();
    let daemon = Daemon::start(&simulated_room("Salle Cut", &janus.meeting_url()));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    assert!(janus.receive("Salle Cut", 2)["video_frames"].as_u64() > Some(20));

    // The cut: nothing gets through for 10 s. The room says it is reconnecting.
    loopback(false);
    let cut = std::time::Instant::now();
    let mut states = Vec::new();
    while cut.elapsed() < Duration::from_secs(10) {
        let state = daemon.state();
        if states.last() != Some(&state) {
            states.push(state);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    loopback(true);
    assert!(
        states.contains(&"reconnecting".to_string()),
        "states during the cut: {states:?}"
    );

    // Back in the call without anyone touching the room, and media flows again.
    let back = std::time::Instant::now();
    daemon.wait_state("in-call", Duration::from_secs(30));
    eprintln!("back in the call {:?} after the network", back.elapsed());
    // The picture needs a keyframe first.
    let sent = janus.receive("Salle Cut", 5);
    assert!(sent["video_frames"].as_u64() > Some(50), "{sent}");
    assert!(sent["audio_rms_dbfs"].as_f64() > Some(-30.0), "{sent}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}
