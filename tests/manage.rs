//! Remote management, the daemon's side (issue 16), end to end: the real daemon on simulated
//! devices, over its control socket (local) and its management socket (remote).

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn simulated() -> String {
    simulated_room("Salle Test", "test://standup?connect_ms=200")
}

/// One request on `socket`, its answer parsed.
fn ask(socket: &Path, request: Value) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn manage(daemon: &Daemon) -> std::path::PathBuf {
    daemon.path("manage.sock")
}

/// Starts the daemon again on the same configuration (what systemd does after it exits).
fn start_again(daemon: &mut Daemon, env: &[(&str, &str)]) {
    let mut command = salle();
    command
        .args(["run", "--config"])
        .arg(&daemon.config)
        .env("SALLE_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&daemon.log)
                .unwrap(),
        );
    for (k, v) in env {
        command.env(k, v);
    }
    let _ = std::fs::remove_file(&daemon.socket);
    let _ = std::fs::remove_file(manage(daemon));
    daemon.child = Some(command.spawn().unwrap());
    wait_for("both sockets", Duration::from_secs(20), || {
        UnixStream::connect(&daemon.socket).ok()?;
        UnixStream::connect(manage(daemon)).ok()
    });
}

/// Waits for the daemon to exit by itself; its exit status.
fn exited(daemon: &mut Daemon) -> std::process::ExitStatus {
    let mut child = daemon.child.take().unwrap();
    wait_for("the daemon to exit", Duration::from_secs(20), || {
        child.try_wait().unwrap()
    })
}

#[test]
fn a_remote_user_may_mute_never_unmute_and_never_press_buttons() {
    let daemon = Daemon::start(&simulated());
    let remote = manage(&daemon);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&remote).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o660);
    let answer = ask(&remote, json!({"request": "mute", "muted": true}));
    assert_eq!(answer["status"]["mic_muted"], true, "{answer}");
    let answer = ask(&remote, json!({"request": "mute", "muted": false}));
    assert_eq!(answer["code"], "unmute-in-room-only", "{answer}");
    let answer = ask(&remote, json!({"request": "press", "button": "mute"}));
    assert_eq!(answer["code"], "forbidden", "{answer}");
    assert_eq!(daemon.status()["mic_muted"], true);
    // In the room, the same request is taken.
    let answer = ask(&daemon.socket, json!({"request": "mute", "muted": false}));
    assert_eq!(answer["status"]["mic_muted"], false, "{answer}");
}

#[test]
fn the_setup_code_is_handed_over_locally_and_never_shown_remotely() {
    let daemon = Daemon::start(&simulated());
    let remote = manage(&daemon);
    let setup = json!({"request": "setup", "code": "482-913", "fingerprint": "AB:CD:EF"});
    let answer = ask(&remote, setup.clone());
    assert_eq!(answer["code"], "local-only", "{answer}");
    let answer = ask(&daemon.socket, setup);
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(daemon.status()["setup"]["code"], "482-913");
    let shown = text(&daemon.cli(&["status"]).stdout);
    assert!(
        shown.contains("482-913") && shown.contains("AB:CD:EF"),
        "{shown}"
    );
    let remote_status = ask(&remote, json!({"request": "status"}));
    assert!(
        remote_status["status"]["setup"].is_null(),
        "{remote_status}"
    );
    let bundle = ask(&remote, json!({"request": "diagnostics"})).to_string();
    assert!(!bundle.contains("482-913"), "the bundle holds the code");
    // Claimed: the code is no longer shown.
    ask(
        &daemon.socket,
        json!({"request": "setup", "fingerprint": "AB:CD:EF"}),
    );
    assert!(daemon.status()["setup"]["code"].is_null());
}

#[test]
fn a_subscriber_gets_the_changes_at_its_paths() {
    let daemon = Daemon::start(&simulated());
    let mut stream = UnixStream::connect(manage(&daemon)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"{\"request\":\"subscribe\",\"paths\":[\"call.state\",\"mic_muted\"]}\n")
        .unwrap();
    let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    assert_eq!(next()["subscribed"], json!(["call.state", "mic_muted"]));
    let first = [next(), next()];
    assert!(
        first.contains(&json!({"event": {"path": "call.state", "value": "idle"}})),
        "{first:?}"
    );
    assert!(
        first.contains(&json!({"event": {"path": "mic_muted", "value": false}})),
        "{first:?}"
    );
    daemon.cli(&["join"]);
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("in-call") {
        let event = next();
        assert_eq!(
            event["event"]["path"], "call.state",
            "only changes: {event}"
        );
        states.push(event["event"]["value"].as_str().unwrap().to_string());
    }
    assert_eq!(states, ["joining", "in-call"]);
    daemon.cli(&["mute", "on"]);
    assert_eq!(
        next(),
        json!({"event": {"path": "mic_muted", "value": true}})
    );
    // A path the status cannot have is refused.
    let answer = ask(
        &manage(&daemon),
        json!({"request": "subscribe", "paths": ["setup"]}),
    );
    assert_eq!(answer["code"], "unknown-path", "{answer}");
}

const TURN: &str = r#"
[[network.ice_servers]]
urls = ["turn:127.0.0.1:3478"]
username = "room"
credential = "turn-secret-42"
"#;

#[test]
fn the_configuration_is_read_without_secrets_checked_with_locations_and_applied() {
    let daemon = Daemon::start(&format!("{}{TURN}", simulated()));
    let remote = manage(&daemon);
    let answer = ask(&remote, json!({"request": "config-get"}));
    let shown = answer["config"]["text"].as_str().unwrap().to_string();
    assert!(
        !shown.contains("turn-secret-42") && shown.contains("********"),
        "{shown}"
    );
    assert_eq!(answer["config"]["has_previous"], false);

    // An invalid change: refused with where it is, nothing written.
    let bad = shown.replace("width = 640", "width = 64000");
    let answer = ask(&remote, json!({"request": "config-apply", "text": bad}));
    assert_eq!(answer["code"], "invalid-config", "{answer}");
    assert_eq!(answer["location"]["field"], "screen.width", "{answer}");
    assert!(answer["location"]["line"].as_u64().unwrap() > 1, "{answer}");
    assert!(!daemon.path("salle.toml.previous").exists());

    // Check: what would change, and how.
    let edited = shown.replace(
        "[room]",
        "[management]\nsnapshots_in_calls = true\n\n[room]",
    );
    let answer = ask(&remote, json!({"request": "config-check", "text": edited}));
    assert_eq!(
        answer["report"]["changes"],
        json!([{"field": "management.snapshots_in_calls", "before": "false", "after": "true",
                "takes_effect": "now"}]),
        "{answer}"
    );
    // Apply: written (the secret kept), taken at once, no restart.
    let answer = ask(&remote, json!({"request": "config-apply", "text": edited}));
    assert_eq!(answer["report"]["written"], true, "{answer}");
    assert!(answer["report"]["restart"].is_null(), "{answer}");
    let on_disk = std::fs::read_to_string(&daemon.config).unwrap();
    assert!(
        on_disk.contains("credential = \"turn-secret-42\""),
        "{on_disk}"
    );
    assert!(on_disk.contains("snapshots_in_calls = true"));
    assert!(daemon.path("salle.toml.previous").exists());
    // The rule follows at once: a snapshot in a call is no longer refused for being in one.
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(10));
    let answer = ask(&remote, json!({"request": "snapshot", "source": "screen"}));
    assert_ne!(answer["code"], "snapshots-not-in-calls", "{answer}");
    let answer = ask(&remote, json!({"request": "config-rollback"}));
    assert_eq!(answer["report"]["written"], true, "{answer}");
    let answer = ask(&remote, json!({"request": "snapshot", "source": "screen"}));
    assert_eq!(answer["code"], "snapshots-not-in-calls", "{answer}");
    // A restart is refused in a call unless forced.
    let answer = ask(&remote, json!({"request": "restart"}));
    assert_eq!(answer["code"], "in-a-call", "{answer}");
    // No secret anywhere in what a remote administrator can read.
    for request in ["diagnostics", "logs", "metrics", "status"] {
        let answer = ask(&remote, json!({"request": request})).to_string();
        assert!(!answer.contains("turn-secret-42"), "{request}: {answer}");
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap()["ok"],
            true,
            "{answer}"
        );
    }
}

#[test]
fn a_change_that_needs_a_restart_waits_for_the_call_to_end() {
    let mut daemon = Daemon::start(&simulated());
    let remote = manage(&daemon);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(10));
    let text = std::fs::read_to_string(&daemon.config)
        .unwrap()
        .replace("name = \"Salle Test\"", "name = \"Salle Monge\"");
    let answer = ask(&remote, json!({"request": "config-apply", "text": text}));
    assert_eq!(answer["report"]["restart"], "after-the-call", "{answer}");
    assert_eq!(
        daemon.status()["management"]["restart_pending"],
        json!(["room.name"])
    );
    assert_eq!(daemon.state(), "in-call", "the call goes on");
    daemon.cli(&["leave"]);
    let status = exited(&mut daemon);
    assert_eq!(
        status.code(),
        Some(1),
        "a failure exit, for systemd to restart it"
    );
    assert!(
        daemon.log().contains("restarting: new settings: room.name"),
        "{}",
        daemon.log()
    );
    start_again(&mut daemon, &[]);
    assert_eq!(daemon.status()["room"], "Salle Monge");
}

/// A meeting service that answers any HTTP request (the health check asks its origin).
fn http_service() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (listener, port)
}

#[test]
fn settings_that_lose_the_meeting_service_are_rolled_back_by_themselves() {
    let (_service, port) = http_service();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = |port: u16| format!("whip+http://127.0.0.1:{port}/whip/room");
    let mut daemon = Daemon::start(&simulated_room("Salle Test", &url(port)));
    wait_for("the service check", Duration::from_secs(20), || {
        daemon
            .log()
            .contains("meeting service reachable")
            .then_some(())
    });
    let before = std::fs::read_to_string(&daemon.config).unwrap();
    let broken = before.replace(&url(port), &url(closed_port));
    let answer = ask(
        &manage(&daemon),
        json!({"request": "config-apply", "text": broken}),
    );
    assert_eq!(answer["report"]["restart"], "now", "{answer}");
    exited(&mut daemon);
    // systemd starts it on the new settings; they lose the service; it rolls them back.
    start_again(&mut daemon, &[]);
    let status = exited(&mut daemon);
    assert_eq!(status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&daemon.config).unwrap(), before);
    start_again(&mut daemon, &[]);
    let rollback = daemon.status()["management"]["last_rollback"].clone();
    assert!(
        rollback
            .as_str()
            .unwrap()
            .contains("meeting service is no longer reachable"),
        "{rollback}"
    );
}

#[test]
fn a_power_cut_at_any_point_of_a_write_leaves_a_valid_file() {
    for point in salle::manage::store::CRASH_POINTS {
        let mut daemon = Daemon::start_with(&simulated(), |c| {
            c.env("SALLE_TEST_CRASH_AT", point);
        });
        let before = std::fs::read_to_string(&daemon.config).unwrap();
        let after = before.replace("name = \"Salle Test\"", "name = \"Salle Neuve\"");
        // Two writes, so that the second also replaces a previous version.
        let mut stream = UnixStream::connect(manage(&daemon)).unwrap();
        let apply = json!({"request": "config-apply", "text": after.replace("[room]", "[management]\n\n[room]")});
        let _ = stream.write_all(format!("{apply}\n").as_bytes());
        let mut answer = String::new();
        let _ = BufReader::new(stream).read_line(&mut answer);
        let status = exited(&mut daemon);
        assert!(
            !status.success(),
            "{point}: the daemon was to stop there ({answer})"
        );
        let file = std::fs::read_to_string(&daemon.config).unwrap();
        let config =
            salle::config::parse(&file, &daemon.config).unwrap_or_else(|e| panic!("{point}: {e}"));
        assert!(
            ["Salle Test", "Salle Neuve"].contains(&config.room.name.as_str()),
            "{point}: {}",
            config.room.name
        );
        let previous = daemon.path("salle.toml.previous");
        if previous.exists() {
            let text = std::fs::read_to_string(&previous).unwrap();
            salle::config::parse(&text, &previous).unwrap_or_else(|e| panic!("{point}: {e}"));
        }
        // And the daemon starts again on it, and writes again over any leftover.
        start_again(&mut daemon, &[]);
        let answer = ask(
            &manage(&daemon),
            json!({"request": "config-apply", "text": after}),
        );
        assert_eq!(answer["ok"], true, "{point}: {answer}");
    }
}

#[test]
fn logs_metrics_identify_and_a_reboot_request() {
    let reboot = tempfile::tempdir().unwrap();
    let marker = reboot.path().join("rebooted");
    let daemon = Daemon::start_with(&simulated(), |c| {
        c.env("SALLE_TEST_REBOOT_FILE", &marker);
    });
    let remote = manage(&daemon);
    let logs = ask(&remote, json!({"request": "logs", "lines": 50}));
    let lines = logs["logs"]["lines"].as_array().unwrap();
    assert!(lines.len() <= 50 && !lines.is_empty(), "{logs}");
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("ready")),
        "{logs}"
    );
    let answer = ask(&remote, json!({"request": "identify"}));
    assert_eq!(answer["done"], "identifying for 30 s", "{answer}");
    let status = daemon.status();
    let until = status["management"]["identify_until_ms"].as_u64().unwrap();
    assert!(until > status["uptime_ms"].as_u64().unwrap(), "{status}");
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(10));
    let metrics = ask(&remote, json!({"request": "metrics"}));
    let text = metrics["metrics"]["text"].as_str().unwrap();
    assert!(
        text.contains("salle_call_state{state=\"in-call\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE salle_uptime_seconds gauge"), "{text}");
    let answer = ask(&remote, json!({"request": "reboot"}));
    assert_eq!(answer["code"], "in-a-call", "{answer}");
    let answer = ask(&remote, json!({"request": "reboot", "force": true}));
    assert_eq!(answer["done"], "rebooting", "{answer}");
    wait_for("the reboot", Duration::from_secs(5), || {
        marker.exists().then_some(())
    });
}
