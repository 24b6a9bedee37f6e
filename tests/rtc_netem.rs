//! The room's call over a bad network: `tc netem` between the room and a Janus VideoRoom.
//!
//! The build machine's kernel has no netem, so these run in the QEMU guest (tests/qemu, the
//! Debian kernel with sch_prio, cls_u32 and sch_netem), each in a network namespace of its own
//! with only `lo`. The room's media goes from its own loopback address (127.0.0.2) and netem
//! shapes only what it sends (the uplink; see `MediaNetem`); the signalling and the server's
//! feedback are left alone. What the
//! room sends is seen as Janus forwards it (receive.py: RTP forwarding decoded by GStreamer,
//! which asks for a keyframe with a PLI until its first picture).
//!
//! The guest is slow (TCG), so the room sends a small picture (320x180 at 15 fps).

mod common;

use common::janus::Janus;
use common::network::{on_media_address, MediaNetem};
use common::qemu::{self, GuestTests};
use common::{in_own_network, simulated_room, Daemon};
use serde_json::Value;
use std::time::{Duration, Instant};

const GUEST_TESTS: usize = 2;

#[test]
fn network_faults_under_qemu() {
    // The guest runs the host's Janus fixture (read-only): build its loopback shim here, and
    // give the guest the cache it lives in (the guest's HOME is elsewhere).
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/janus/fixture.py"
    );
    let shim = std::process::Command::new("/usr/bin/python3")
        .args([fixture, "shim"])
        .output()
        .expect("run the Janus fixture");
    assert!(shim.status.success(), "{}", common::text(&shim.stderr));
    let shim = common::text(&shim.stdout);
    let cache = std::path::Path::new(shim.trim()).parent().unwrap();
    GuestTests {
        set_env: vec![
            ("JANUS_FIXTURE_CACHE".into(), cache.display().to_string()),
            // Janus and simple-whip-server start slowly under TCG.
            ("JANUS_FIXTURE_TIMEOUT".into(), "90".into()),
        ],
        timeout: Duration::from_secs(900),
        ..GuestTests::of_this_binary("guest_", GUEST_TESTS)
    }
    .run();
}

// ---- inside the guest -------------------------------------------------------------------

/// A room named `name` in `janus`'s room, its media on the shaped address, a small picture.
fn room_in(janus: &Janus, name: &str) -> Daemon {
    let config = on_media_address(&simulated_room(name, &janus.meeting_url()))
        .replace("[camera]", "[camera]\nwidth = 320\nheight = 180\nfps = 15");
    let daemon = Daemon::start(&config);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(90));
    daemon
}

/// The session's counter `key` (under `session.sent` or a connection), summed over its
/// publishing connections.
fn sent(status: &Value, key: &str) -> u64 {
    status["session"]["sent"][key].as_u64().unwrap_or(0)
}

/// Samples the congestion target (kbit/s) every 500 ms for `span`.
fn targets(daemon: &Daemon, span: Duration) -> Vec<u64> {
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < span {
        samples.push(sent(&daemon.status(), "target_kbps"));
        std::thread::sleep(Duration::from_millis(500));
    }
    samples
}

#[test]
#[ignore = "runs in the QEMU guest: see network_faults_under_qemu"]
fn guest_with_5_percent_loss_the_video_keeps_flowing_and_a_pli_yields_a_keyframe() {
    qemu::assert_in_guest("netem needs the guest's kernel");
    if !in_own_network(
        "guest_with_5_percent_loss_the_video_keeps_flowing_and_a_pli_yields_a_keyframe",
    ) {
        return;
    }
    let janus = Janus::start();
    let netem = MediaNetem::install(&[]);
    let daemon = room_in(&janus, "Salle Loss");
    let clean = janus.receive("Salle Loss", 8);
    eprintln!("clean path: {clean}");

    netem.set(&["loss", "5%"]);
    let before = daemon.status();
    // A new receiver under loss: it asks for a keyframe (PLI, relayed by Janus) until its
    // first picture decodes, then counts what keeps coming.
    let lossy = janus.receive("Salle Loss", 10);
    let after = daemon.status();
    eprintln!("5 % loss: {lossy}");
    eprintln!("room: {}", after["session"]);
    eprintln!("{}", netem.counters());

    assert!(lossy["plis_sent"].as_u64() >= Some(1), "{lossy}");
    assert!(
        sent(&after, "keyframe_requests") > sent(&before, "keyframe_requests"),
        "the receiver's PLI reached the room: {}",
        after["session"]
    );
    // The keyframe arrived through the loss: pictures decode at the sent size.
    assert_eq!(
        (lossy["width"].as_u64(), lossy["height"].as_u64()),
        (Some(320), Some(180)),
        "{lossy}"
    );
    // Against the clean path in the same guest (TCG's pace varies with the host's load): the
    // loss is not repaired end to end (Janus does not ask the room to resend), so pictures
    // with a lost slice are dropped until the next keyframe, but most keep coming. (At least
    // 10 frames: a host busy enough can slow the guest to a few frames a second.)
    let clean_fps = clean["video_fps"].as_f64().unwrap_or(0.0);
    let lossy_fps = lossy["video_fps"].as_f64().unwrap_or(0.0);
    let frames = lossy["video_frames"].as_u64().unwrap_or(0);
    assert!(
        frames >= 10 && lossy_fps >= 0.4 * clean_fps,
        "{frames} frames at {lossy_fps} fps in 10 s at 5 % loss, {clean_fps} fps clean: {lossy}"
    );
    // The loss was real.
    assert!(netem.dropped() > 20, "{}", netem.counters());
}

#[test]
#[ignore = "runs in the QEMU guest: see network_faults_under_qemu"]
fn guest_a_congested_lossy_uplink_lowers_the_estimate_and_it_recovers() {
    qemu::assert_in_guest("netem needs the guest's kernel");
    if !in_own_network("guest_a_congested_lossy_uplink_lowers_the_estimate_and_it_recovers") {
        return;
    }
    let janus = Janus::start();
    let netem = MediaNetem::install(&[]);
    let daemon = room_in(&janus, "Salle Congestion");

    let clean = targets(&daemon, Duration::from_secs(15));
    let status = daemon.status();
    eprintln!(
        "clean: targets {clean:?}, sending {} kbit/s",
        sent(&status, "kbps")
    );
    let clean_target = *clean.last().unwrap();

    // A bottleneck on a lossy uplink: 5 % loss, room for 100 kbit/s (less than the room sends
    // with its sound) and a shallow buffer (50 packets, about a second): it soon overflows.
    netem.set(&["loss", "5%", "rate", "100kbit", "limit", "50"]);
    let congested = targets(&daemon, Duration::from_secs(20));
    eprintln!("congested: targets {congested:?}");
    for line in daemon
        .log()
        .lines()
        .filter(|l| l.contains("congestion control"))
    {
        eprintln!("  {line}");
    }
    // Below the room's floor (min_video_kbps and the sound): hardly a picture gets through,
    // but the room stays in the call.
    let squeezed = janus.receive("Salle Congestion", 4);
    eprintln!("congested: {squeezed}");
    let low = *congested.iter().min().unwrap();

    netem.set(&[]);
    let recovered = targets(&daemon, Duration::from_secs(40));
    eprintln!("recovered: targets {recovered:?}");
    eprintln!("{}", netem.counters());
    let high = *recovered.iter().max().unwrap();
    let after = janus.receive("Salle Congestion", 8);
    eprintln!("after: {after}");

    // The clean path's estimate is the controller's ceiling (it climbs while the room sends
    // less than it allows: see README, "Meetings over WebRTC"); the bottleneck takes at least
    // 30 % off it, and the clean path gives most of it back.
    assert!(
        low * 10 <= clean_target * 7,
        "the estimate fell: {clean_target} -> {low} kbit/s"
    );
    assert!(
        high * 10 >= clean_target * 8,
        "the estimate recovered: {clean_target} -> {low} -> {high} kbit/s"
    );
    assert_eq!(daemon.state(), "in-call");
    assert!(
        after["video_frames"].as_u64() >= Some(10),
        "the picture flows again: {after}"
    );
}
