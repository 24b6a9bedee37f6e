//! The room in a Janus 1.1 VideoRoom (Debian's janus), with independent participants: aiortc
//! (Python) publishing into the room, and Janus' own RTP forwarding decoded by GStreamer to see
//! what the room sends. All on loopback.

mod common;

use common::janus::Janus;
use common::network::{loopback, media_path, on_media_address};
use common::{in_own_network, simulated_room, wait_for, Daemon};
use std::time::{Duration, Instant};

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
    let whip = janus.info["whip"].as_str().unwrap();
    let daemon = Daemon::start(&janus.whip_room("Salle WHIP", whip));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let display = janus.whip_display();
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

#[test]
fn unreachable_tcp_and_tls_turn_servers_offered_by_a_whip_server_are_named_and_the_call_goes_on() {
    let janus = Janus::start();
    // TURN over TLS on 443 and over TCP, where nothing listens: the room tries them (through
    // its bridges), says why they failed, and the call goes on over UDP.
    let servers = serde_json::json!([
        {"uri": "turns:127.0.0.1:443?transport=tcp", "username": "room", "credential": "secret"},
        {"uri": "turn:127.0.0.1:3478?transport=tcp", "username": "room", "credential": "secret"},
    ]);
    let endpoint = janus.whip_endpoint_offering("salle-turn", servers);
    let daemon = Daemon::start(&janus.whip_room("Salle TURN", &endpoint));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let connection = wait_for(
        "the failed TURN servers in status",
        Duration::from_secs(20),
        || {
            let status = daemon.status();
            let connection = status["session"]["connections"][0].clone();
            let problems = connection["relay_problems"].to_string();
            (problems.contains("turns:127.0.0.1:443")
                && problems.contains("turn:127.0.0.1:3478?transport=tcp")
                && problems.contains("cannot connect"))
            .then_some(connection)
        },
    );
    assert_eq!(connection["path"], "udp", "{connection}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

/// Breaks the network with `cut` for `length`, checks the room said "reconnecting" meanwhile,
/// and returns once it is back.
fn break_for(daemon: &Daemon, cut: fn(bool), length: Duration) {
    cut(false);
    let start = Instant::now();
    let mut states = Vec::new();
    while start.elapsed() < length {
        let state = daemon.state();
        if states.last() != Some(&state) {
            states.push(state);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cut(true);
    assert!(
        states.contains(&"reconnecting".to_string()),
        "states during the cut: {states:?}"
    );
}

/// Waits for the room to be back in the call by itself; says on stderr how long it took and
/// how (the session's ICE restarts and rejoins, the log's lines about them). Returns the log.
fn back_in_call(daemon: &Daemon, what: &str) -> String {
    let back = Instant::now();
    let status = daemon.wait_state("in-call", Duration::from_secs(60));
    let session = &status["session"];
    eprintln!(
        "{what}: back in the call {:?} after the network, {} ICE restart(s) and {} rejoin(s) so far",
        back.elapsed(),
        session["ice_restarts"],
        session["rejoins"],
    );
    let log = daemon.log();
    let telling = ["ICE restart", " back ", "joining again", "connection: "];
    for line in log
        .lines()
        .filter(|l| telling.iter().any(|t| l.contains(t)))
    {
        eprintln!("  {line}");
    }
    log
}

/// Waits until the session's status field `key` reaches `at_least`; the session's status.
fn wait_session(daemon: &Daemon, key: &str, at_least: u64) -> serde_json::Value {
    wait_for(
        &format!("{key} >= {at_least}"),
        Duration::from_secs(30),
        || {
            let session = daemon.status()["session"].clone();
            (session[key].as_u64() >= Some(at_least)).then_some(session)
        },
    )
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

    // The cut: nothing gets through for 10 s, the signalling neither. The room says it is
    // reconnecting, and is back in the call without anyone touching it (its path heals, an
    // ICE restart or a rejoin: whichever gets there).
    break_for(&daemon, loopback, Duration::from_secs(10));
    back_in_call(&daemon, "a 10 s cut");
    // Media flows again; the picture needs a keyframe first.
    let sent = janus.receive("Salle Cut", 5);
    assert!(sent["video_frames"].as_u64() > Some(50), "{sent}");
    assert!(sent["audio_rms_dbfs"].as_f64() > Some(-30.0), "{sent}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

/// The number of frames of `name` the room's screen decoded, once it has.
fn decoded(daemon: &Daemon, name: &str) -> Option<u64> {
    let status = daemon.status();
    let people = status["media"]["screen"]["people"].as_array()?.clone();
    people.iter().find(|p| p["name"] == name)?["decoded_frames"].as_u64()
}

#[test]
fn when_the_media_path_is_lost_ice_restarts_bring_both_ways_back_in_the_same_janus_session() {
    let test =
        "when_the_media_path_is_lost_ice_restarts_bring_both_ways_back_in_the_same_janus_session";
    if !in_own_network(test) {
        return;
    }
    let janus = Janus::start();
    let mut alice = janus.publish_peer("Alice", 120);
    let room = on_media_address(&simulated_room("Salle Restart", &janus.meeting_url()));
    let daemon = Daemon::start(&room);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let before = janus.receive("Salle Restart", 2);
    assert!(before["video_frames"].as_u64() > Some(20), "{before}");
    let alice_before = wait_for("Alice decoded", Duration::from_secs(30), || {
        decoded(&daemon, "Alice").filter(|&frames| frames > 30)
    });

    // The media path is gone for 12 s; the signalling stays. ICE gives the path up (5 s),
    // the grace passes (2.5 s), the room restarts ICE on both its connections through
    // Janus; the new checks get through once the path is back. The old path cannot heal by
    // itself: only the restart brings the call back.
    break_for(&daemon, media_path, Duration::from_secs(12));
    let log = back_in_call(&daemon, "the media path lost for 12 s");
    let session = wait_session(&daemon, "ice_restarts", 2);
    assert_eq!(session["rejoins"], 0, "{session}");
    assert!(
        log.contains("publishing connection back by ICE restart"),
        "{log}"
    );
    // Still the same publisher in the room (a rejoin would have a new id), and what it sends
    // decodes again.
    let after = janus.receive("Salle Restart", 4);
    assert_eq!(after["publisher_id"], before["publisher_id"], "{after}");
    assert!(after["video_frames"].as_u64() > Some(50), "{after}");
    assert!(after["audio_rms_dbfs"].as_f64() > Some(-30.0), "{after}");
    // And Alice shows again on the room's screen, through her restarted subscription.
    wait_for("Alice decoded again", Duration::from_secs(30), || {
        decoded(&daemon, "Alice").filter(|&frames| frames > alice_before + 60)
    });
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
    let _ = alice.kill();
    let _ = alice.wait();
}

#[test]
fn when_the_media_path_is_lost_a_whip_ice_restart_by_patch_brings_the_call_back() {
    let test = "when_the_media_path_is_lost_a_whip_ice_restart_by_patch_brings_the_call_back";
    if !in_own_network(test) {
        return;
    }
    let janus = Janus::start();
    let whip = janus.info["whip"].as_str().unwrap();
    let daemon = Daemon::start(&on_media_address(&janus.whip_room("Salle WHIP", whip)));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let before = janus.receive(&janus.whip_display(), 2);
    assert!(before["video_frames"].as_u64() > Some(20), "{before}");

    // simple-whip-server restarts ICE on a PATCH with new credentials (RFC 9725 4.4.2).
    break_for(&daemon, media_path, Duration::from_secs(12));
    let log = back_in_call(&daemon, "WHIP, the media path lost for 12 s");
    let session = wait_session(&daemon, "ice_restarts", 1);
    assert_eq!(session["rejoins"], 0, "{session}");
    assert!(log.contains("WHIP connection back by ICE restart"), "{log}");
    // The same WHIP session: the same publisher in Janus.
    let after = janus.receive(&janus.whip_display(), 4);
    assert_eq!(after["publisher_id"], before["publisher_id"], "{after}");
    assert!(after["video_frames"].as_u64() > Some(50), "{after}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

#[test]
fn a_whip_server_that_cannot_restart_ice_gets_the_call_back_by_a_rejoin() {
    let test = "a_whip_server_that_cannot_restart_ice_gets_the_call_back_by_a_rejoin";
    if !in_own_network(test) {
        return;
    }
    let janus = Janus::start();
    let whip = janus.whip_without_ice_restarts();
    let daemon = Daemon::start(&on_media_address(&janus.whip_room("Salle WHIP", &whip)));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let before = janus.receive(&janus.whip_display(), 2);
    assert!(before["video_frames"].as_u64() > Some(20), "{before}");

    // The PATCH gets 405: the room leaves the WHIP session (DELETE) and publishes anew.
    break_for(&daemon, media_path, Duration::from_secs(12));
    let log = back_in_call(
        &daemon,
        "WHIP without restarts, the media path lost for 12 s",
    );
    let session = daemon.status()["session"].clone();
    assert_eq!(session["ice_restarts"], 0, "{session}");
    assert!(session["rejoins"].as_u64() >= Some(1), "{session}");
    assert!(log.contains("cannot restart ICE (it answered 405"), "{log}");
    let after = janus.receive(&janus.whip_display(), 4);
    assert_ne!(after["publisher_id"], before["publisher_id"], "{after}");
    assert!(after["video_frames"].as_u64() > Some(50), "{after}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}
