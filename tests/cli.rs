//! The `salle` command line and daemon, end to end: real binary, real control socket,
//! simulated devices and the simulated meeting service.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn simulated() -> String {
    simulated_room("Salle Test", "test://standup?connect_ms=200")
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["devices", "--help"],
        vec!["config", "--help"],
        vec!["config", "check", "--help"],
        vec!["status", "--help"],
        vec!["join", "--help"],
        vec!["leave", "--help"],
        vec!["mute", "--help"],
        vec!["camera", "--help"],
        vec!["press", "--help"],
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Usage: salle"), "{args:?}: {help}");
    }
    let help = text(&run(&["press", "--help"]).stdout);
    assert!(
        help.contains("camera-privacy") && help.contains("--long"),
        "{help}"
    );
}

#[test]
fn config_check_accepts_the_annotated_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/salle.toml");
    let out = run(&["config", "check", example]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with(": ok\n"));
}

#[test]
fn config_check_names_file_line_column_and_field_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    write(
        &file,
        "[room]\nname = \"Salle Monge\"\n\n[buttons.mute]\nline = 4\nlong_press_ms = \"3s\"\n",
    );
    let out = run(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    let expected = format!(
        "{}:6:17: field `buttons.mute.long_press_ms`: invalid type",
        file.display()
    );
    assert!(message.starts_with(&expected), "{message}");

    write(&file, "[camera]\ndevise = \"auto\"\n");
    let out = run(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            ":2:1: field `camera.devise`: unknown field `devise`, expected one of `device`"
        ),
        "{}",
        text(&out.stderr)
    );

    write(&file, "[buttons.join]\npin = 17\n[leds.status]\npin = 17\n");
    let out = run(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(
        message.contains(":3:1: field `leds.status`: BCM pin 17 is already used by [buttons.join]"),
        "{message}"
    );
}

#[test]
fn run_with_a_broken_config_exits_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("salle.toml");
    write(&file, "[meeting]\nurl = \"sip:room@example.org\"\n");
    let out = run(&["run", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("field `meeting.url`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_client_without_a_daemon_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("salle.toml");
    write(
        &file,
        &format!(
            "[control]\nsocket = \"{}/none.sock\"\n",
            dir.path().display()
        ),
    );
    let out = run(&["status", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no salle daemon is running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_daemon_runs_on_simulated_devices_and_says_so() {
    let daemon = Daemon::start("[room]\nname = \"Bare\"\n");
    let status = daemon.status();
    assert_eq!(status["room"], "Bare");
    assert_eq!(status["call"]["state"], "idle");
    // This build machine has no camera: everything is simulated, and status says so.
    let simulated: Vec<&str> = status["simulated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(simulated.contains(&"camera"), "{status}");
    assert!(
        daemon.log().contains("running with simulated devices"),
        "{}",
        daemon.log()
    );
    let human = text(&daemon.cli(&["status"]).stdout);
    assert!(
        human.contains("state       idle") && human.contains("simulated"),
        "{human}"
    );
}

#[test]
fn join_button_mute_and_leave_through_the_control_socket() {
    let daemon = Daemon::start(&simulated());
    let out = daemon.cli(&["press", "join"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("joining test://standup"),
        "{}",
        text(&out.stdout)
    );
    let status = daemon.wait_state("in-call", Duration::from_secs(5));
    assert_eq!(status["leds"]["status"], "on");

    let out = daemon.cli(&["mute", "on"]);
    assert!(text(&out.stdout).contains("microphone  muted"));
    let status = daemon.status();
    assert_eq!(
        (
            status["mic_muted"].as_bool(),
            status["leds"]["mute"].as_str()
        ),
        (Some(true), Some("on"))
    );
    daemon.cli(&["press", "mute"]);
    assert_eq!(daemon.status()["mic_muted"], false);

    daemon.cli(&["camera", "off"]);
    assert_eq!(daemon.status()["camera_off"], true);

    let out = daemon.cli(&["leave"]);
    assert!(out.status.success());
    daemon.wait_state("idle", Duration::from_secs(5));
    let out = daemon.cli(&["leave"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "salle: not in a meeting\n");
}

#[test]
fn a_long_press_cancels_a_stuck_join() {
    let daemon = Daemon::start(&simulated().replace("connect_ms=200", "connect_ms=600000"));
    daemon.cli(&["press", "join"]);
    assert_eq!(daemon.state(), "joining");
    assert_eq!(daemon.status()["leds"]["status"], "blink");
    daemon.cli(&["press", "join"]); // impatience: ignored
    assert_eq!(daemon.state(), "joining");
    daemon.cli(&["press", "join", "--long"]);
    daemon.wait_state("idle", Duration::from_secs(5));
}

#[test]
fn a_failing_meeting_says_why() {
    let daemon = Daemon::start(&simulated());
    daemon.cli(&["join", "test://x?connect_ms=10&fail=room%20is%20full"]);
    let status = daemon.wait_state("failed", Duration::from_secs(5));
    assert_eq!(
        status["call"]["reason"],
        "simulated meeting \"x\": room is full"
    );
    assert_eq!(status["leds"]["status"], "fast-blink");
    // A meeting server that is not there fails with its address and why, never a crash.
    daemon.cli(&["press", "join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(5));
    daemon.cli(&["join", "janus+ws://127.0.0.1:1/?room=1"]);
    let status = daemon.wait_state("failed", Duration::from_secs(15));
    let reason = status["call"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Janus ws://127.0.0.1:1/") && reason.contains("cannot connect"),
        "{status}"
    );
}

#[test]
fn joining_another_meeting_while_in_one_is_refused() {
    let daemon = Daemon::start(&simulated());
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
    let out = daemon.cli(&["join", "test://other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("leave first"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn garbage_on_the_control_socket_gets_an_error_and_the_daemon_lives_on() {
    let daemon = Daemon::start(&simulated());
    let answer = daemon.raw("this is not json\n");
    assert!(
        answer.contains("\"ok\":false") && answer.contains("bad request"),
        "{answer}"
    );
    let answer = daemon.raw("{\"request\":\"self-destruct\"}\n");
    assert!(
        answer.contains("unknown variant `self-destruct`"),
        "{answer}"
    );
    let answer = daemon.raw("{\"request\":\"mute\"}\n");
    assert!(answer.contains("missing field `muted`"), "{answer}");
    assert_eq!(daemon.state(), "idle");
}

#[test]
fn control_socket_is_group_only() {
    use std::os::unix::fs::PermissionsExt;
    let daemon = Daemon::start(&simulated());
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let daemon = Daemon::start(&simulated());
    let out = salle()
        .args(["run", "--config"])
        .arg(&daemon.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("another salle daemon is running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(daemon.state(), "idle");
}

#[test]
fn sigterm_leaves_the_call_and_removes_the_socket() {
    let mut daemon = Daemon::start(&simulated());
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
    let status = daemon.stop();
    assert!(status.success(), "{status:?}");
    assert!(!daemon.socket.exists());
    let log = daemon.log();
    assert!(log.contains("leaving") && log.contains("stopping"), "{log}");
}

#[test]
fn auto_join_joins_at_start() {
    let daemon = Daemon::start(&simulated().replace("[meeting]", "[meeting]\nauto_join = true"));
    daemon.wait_state("in-call", Duration::from_secs(5));
}

#[test]
fn systemd_notify_ready_and_watchdog() {
    // Speak the real sd_notify protocol: a datagram socket in NOTIFY_SOCKET.
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let daemon = Daemon::start_with(&simulated(), |command| {
        command
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "200000");
    });
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !(seen.contains("READY=1") && seen.matches("WATCHDOG=1").count() >= 3) {
        let n = listener
            .recv(&mut buffer)
            .expect("notifications from the daemon");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        seen.push('\n');
    }
    assert!(seen.contains("STATUS=Salle Test: idle"), "{seen}");
    daemon.cli(&["join"]);
    while !seen.contains("STATUS=Salle Test: in-call") {
        let n = listener.recv(&mut buffer).expect("status notifications");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
}

#[test]
fn in_a_call_media_flows_and_follows_mute_and_privacy() {
    let daemon = Daemon::start(&simulated());
    assert_eq!(daemon.status()["media"]["video"], serde_json::Value::Null);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
    let status = wait_for("video and audio frames", Duration::from_secs(15), || {
        let status = daemon.status();
        let media = &status["media"];
        (media["video"]["frames"].as_u64() > Some(20)
            && media["audio"]["packets"].as_u64() > Some(20))
        .then_some(status)
    });
    let media = &status["media"];
    assert_eq!(
        (
            media["video"]["width"].as_u64(),
            media["video"]["height"].as_u64()
        ),
        (Some(1280), Some(720)),
        "{media}"
    );
    assert!(media["video"]["keyframes"].as_u64() >= Some(1), "{media}");
    // The screen runs (no remote people yet) with the self-view; a simulated speaker gives the
    // echo canceller nothing to hear.
    let screen = &media["screen"];
    assert_eq!(screen["output"], "none", "{media}");
    assert_eq!(
        (screen["width"].as_u64(), screen["tiles"].as_u64()),
        (Some(640), Some(0))
    );
    assert_eq!(screen["self_view"], true, "{media}");
    assert_eq!(screen["echo_cancellation"], false, "{media}");
    // The simulated microphone is a tone: the level meter sees it.
    let level = media["audio"]["level_dbfs"].as_f64().unwrap();
    assert!(level > -30.0, "level {level} dBFS");

    daemon.cli(&["mute", "on"]);
    let before = daemon.status()["media"]["audio"]["packets"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let status = daemon.status();
    assert_eq!(
        status["media"]["audio"]["packets"].as_u64().unwrap(),
        before,
        "no audio leaves while muted"
    );
    assert!(
        status["media"]["audio"]["level_dbfs"].as_f64().unwrap() > -30.0,
        "the meter still hears the room"
    );

    daemon.cli(&["camera", "off"]);
    std::thread::sleep(Duration::from_millis(300));
    let before = daemon.status()["media"]["video"]["frames"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        daemon.status()["media"]["video"]["frames"]
            .as_u64()
            .unwrap(),
        before,
        "no video while the camera is off"
    );

    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(5));
    let media = &daemon.status()["media"];
    assert_eq!(media["video"], serde_json::Value::Null);
    assert_eq!(media["screen"], serde_json::Value::Null);
}

#[test]
fn a_configured_speakerphone_that_is_not_there_is_a_problem_not_a_failure() {
    for (hid, problem) in [
        (
            "/dev/salle-no-such-hidraw",
            "speakerphone /dev/salle-no-such-hidraw: No such file or directory",
        ),
        (
            "/dev/null",
            "speakerphone /dev/null: not a HID device with a telephony mute button or mute LED",
        ),
    ] {
        let daemon = Daemon::start(&format!("{}[speakerphone]\nhid = \"{hid}\"\n", simulated()));
        let status = daemon.status();
        let problems = common::problem_texts(&status).join("\n");
        assert!(problems.contains(problem), "{status}");
        assert_eq!(status["speakerphones"], serde_json::json!([]), "{status}");
        daemon.cli(&["mute", "on"]);
        assert_eq!(daemon.status()["mic_muted"], true);
    }
}

#[test]
fn a_join_to_an_address_that_is_not_a_meeting_is_refused_at_once() {
    let daemon = Daemon::start(&simulated());
    for url in [
        "javascript:alert(1)",
        "file:///etc/shadow",
        "not a url at all",
    ] {
        let answer = daemon.raw(&format!("{{\"request\":\"join\",\"url\":\"{url}\"}}\n"));
        // Refused, naming the forms a meeting address takes...
        assert!(
            answer.contains("\"ok\":false")
                && answer.contains("\"code\":\"not-a-meeting\"")
                && answer.contains("https://<meet-host>/<slug>")
                && answer.contains("janus+wss://"),
            "{answer}"
        );
        // ... and nothing changed: never "joining" that address, no error left in status.
        let status = daemon.status();
        assert_eq!(status["call"]["state"], "idle", "{status}");
        assert!(status["last_error"].is_null(), "{status}");
    }
    // The command line says the same and fails.
    let out = daemon.cli(&["join", "javascript:alert(1)"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("https://<meet-host>/<slug>"),
        "{}",
        text(&out.stderr)
    );
    // A real meeting address is still taken.
    daemon.cli(&["join", "test://other?connect_ms=10"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
}

/// A GStreamer registry of this machine's plugins less `left_out` (a real install that lacks
/// one package's plugin): its directory and the environment that makes GStreamer use it.
fn plugins_without(left_out: &str) -> (tempfile::TempDir, Vec<(&'static str, PathBuf)>) {
    let system = Path::new("/usr/lib/x86_64-linux-gnu/gstreamer-1.0");
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for entry in std::fs::read_dir(system).expect("the system's GStreamer plugins") {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != left_out) && path.is_file() {
            std::os::unix::fs::symlink(&path, plugins.join(path.file_name().unwrap())).unwrap();
        }
    }
    let env = vec![
        ("GST_PLUGIN_SYSTEM_PATH_1_0", plugins),
        ("GST_PLUGIN_PATH_1_0", dir.path().join("none")),
        ("GST_REGISTRY_1_0", dir.path().join("registry.bin")),
    ];
    (dir, env)
}

#[test]
fn a_missing_gstreamer_element_names_its_package_in_status_and_devices() {
    // gstreamer1.0-x's Pango plugin: without it a room once joined calls with no video.
    let (_plugins, env) = plugins_without("libgstpango.so");
    let daemon = Daemon::start_with(&simulated(), |command| {
        command.envs(env.iter().map(|(k, v)| (k, v)));
    });
    let status = daemon.status();
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("GStreamer element textoverlay missing (install gstreamer1.0-x)"),
        "{status}"
    );
    let human = text(&daemon.cli(&["status"]).stdout);
    assert!(human.contains("(install gstreamer1.0-x)"), "{human}");

    let mut devices = salle();
    devices
        .args(["devices"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let listed = text(&devices.output().unwrap().stdout);
    assert!(
        listed.contains("missing     textoverlay: install gstreamer1.0-x"),
        "{listed}"
    );
    assert!(listed.contains("x264enc"), "encoders listed: {listed}");
}
