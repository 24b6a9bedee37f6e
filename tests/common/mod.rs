//! What the integration tests share: running the real `salle` binary (here), GStreamer helpers
//! for the media tests (`media`) and the QEMU hardware tier (`qemu`). Each test file is its own
//! crate and uses some of it: nothing here is dead code for being unused by one of them.
#![allow(dead_code)]

pub mod janus;
pub mod livekit;
pub mod livekit_server;
/// What livekit_server.rs uses from here (the webrtc benchmark gives it the same names).
pub mod livekit_support {
    pub use super::janus::python;
    pub use super::peers::{loopback_only_shim, ready_event};
    pub use super::wait_for;
}
pub mod media;
pub mod network;
pub mod peers;
pub mod proxy;
pub mod qemu;
pub mod turn;
pub mod web;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A room on simulated devices (test pattern, tone, no speaker, no screen) named `name`,
/// whose meeting is `url`, with its WebRTC on loopback only.
pub fn simulated_room(name: &str, url: &str) -> String {
    format!(
        r#"
[room]
name = "{name}"

[meeting]
url = "{url}"

[camera]
device = "test"

[audio]
capture = "test"
playback = "test"

[screen]
output = "none"
width = 640
height = 360

[network]
bind = ["127.0.0.1:0"]
"#
    )
}

/// `[screen] awake_hours` that do not include now (local time): one minute on the day after
/// tomorrow, so the screen sleeps once it has been left alone.
pub fn awake_hours_not_now() -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let today = jiff::Zoned::now().weekday().to_monday_zero_offset() as usize;
    format!("{} 12:00-12:01", DAYS[(today + 2) % 7])
}

/// Runs the test `test` of this test binary again, alone, inside a new network namespace with
/// only `lo` up (so nothing it does can use another interface, and it may cut its own network).
/// Returns true in the re-run, which does the work; false in the caller, after checking that the
/// re-run passed.
pub fn in_own_network(test: &str) -> bool {
    if std::env::var_os("SALLE_NETNS").is_some() {
        return true;
    }
    let me = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(&me)
        // Ignored tests too: the QEMU tier's guest tests are ignored on the host.
        .args(["--exact", test, "--include-ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env("SALLE_NETNS", "1")
        .output()
        .expect("run unshare (util-linux)");
    let stdout = text(&out.stdout);
    print!("{stdout}");
    eprint!("{}", text(&out.stderr));
    assert!(
        out.status.success(),
        "{test} failed in its network namespace"
    );
    // A filter that matches nothing passes too: make sure the test itself ran.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in its network namespace"
    );
    false
}

pub fn salle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_salle"))
}

/// Runs `salle ARGS` and returns its output.
pub fn run(args: &[&str]) -> Output {
    salle().args(args).output().expect("run salle")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Status's problems as people read them, "summary: detail" (status gives each as an object
/// with its source, summary, detail and since).
#[allow(dead_code)]
pub fn problem_texts(status: &serde_json::Value) -> Vec<String> {
    let problems = status["problems"].as_array().cloned().unwrap_or_default();
    problems
        .iter()
        .map(|p| {
            let summary = p["summary"].as_str().unwrap_or_default();
            match p["detail"].as_str() {
                Some(detail) => format!("{summary}: {detail}"),
                None => summary.to_string(),
            }
        })
        .collect()
}

/// Polls `check` every 50 ms until it gives Some, or panics after `limit` with `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon on its own config and socket in a temporary directory; killed when dropped.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Writes `extra` after a [control] section pointing at the temp socket, and starts.
    pub fn start(extra: &str) -> Daemon {
        Self::start_with(extra, |_| {})
    }

    pub fn start_with(extra: &str, customise: impl FnOnce(&mut Command)) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let config = dir.path().join("salle.toml");
        std::fs::write(
            &config,
            format!("[control]\nsocket = \"{}\"\n\n{extra}", socket.display()),
        )
        .unwrap();
        let log = dir.path().join("daemon.log");
        let mut command = salle();
        command
            .args(["run", "--config"])
            .arg(&config)
            .env("SALLE_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        customise(&mut command);
        let child = command.spawn().expect("start the daemon");
        let daemon = Daemon {
            dir,
            config,
            socket,
            child: Some(child),
            log,
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&self) {
        wait_for("the control socket", Duration::from_secs(20), || {
            UnixStream::connect(&self.socket).ok()
        });
    }

    /// Runs a client subcommand against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        salle()
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }

    /// `salle status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--json"]);
        assert!(out.status.success(), "status failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits for the room's last error (a failed join) and returns it.
    pub fn wait_error(&self, limit: Duration) -> String {
        wait_for("the room's error", limit, || {
            self.status()["last_error"].as_str().map(String::from)
        })
    }

    pub fn state(&self) -> String {
        self.status()["call"]["state"].as_str().unwrap().to_string()
    }

    /// Waits until the call state is `state`.
    pub fn wait_state(&self, state: &str, limit: Duration) -> serde_json::Value {
        wait_for(&format!("state {state}"), limit, || {
            let status = self.status();
            (status["call"]["state"] == state).then_some(status)
        })
    }

    /// Sends a raw line on the control socket and returns the raw answer.
    pub fn raw(&self, line: &str) -> String {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(line.as_bytes()).unwrap();
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).unwrap();
        answer
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        wait_for("the daemon to exit", Duration::from_secs(10), || {
            child.try_wait().unwrap()
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}
