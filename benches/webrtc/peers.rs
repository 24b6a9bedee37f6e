//! The processes the benchmark runs: the real `salle` daemon, the GStreamer WebRTC peer
//! (`tests/fixtures/gst-peer`), the Janus fixture and headless Chromium
//! (`tests/fixtures/chromium`). Started the way the tests start them (tests/common).

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The daemon: $SALLE_BIN, else the `salle` binary cargo built for this benchmark (cargo
/// builds the package's binaries, with the bench profile, before running a benchmark).
pub fn salle_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SALLE_BIN") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_salle"))
}

/// The gst-peer fixture and the profile it was built with. The release build when there is
/// one (or GST_PEER_PROFILE asks for a profile): the dev build's Rust code (webrtcsink,
/// signaller) is unoptimised, which costs whipclientsink CPU salle's release build does not
/// pay. Otherwise build.sh's default (dev, cached in target/gst-peer).
pub fn gst_peer_binary() -> (PathBuf, String) {
    let release = Path::new(ROOT).join("target/gst-peer/release/gst-peer");
    let profile = match std::env::var("GST_PEER_PROFILE") {
        Ok(p) => p,
        Err(_) if release.exists() => "release".into(),
        Err(_) => "dev".into(),
    };
    (crate::test_peers::build_gst_peer(&profile), profile)
}

pub use crate::test_peers::loopback_only_shim;

/// A child whose stdout JSON lines are read by a thread and handed over with the instant
/// each arrived (so a `connected` line is timed when it is printed, not when it is looked at).
pub struct Lines {
    pub child: Child,
    lines: mpsc::Receiver<(Instant, Value)>,
}

impl Lines {
    pub fn spawn(mut command: Command, what: &str) -> Lines {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(line.trim()) {
                    if tx.send((Instant::now(), value)).is_err() {
                        break;
                    }
                }
            }
        });
        Lines { child, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line whose `event` is `event`, with when it came; None after `limit` or once
    /// the child's stdout closed.
    pub fn wait_event(&mut self, event: &str, limit: Duration) -> Option<(Instant, Value)> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok((at, value)) if value["event"] == event => return Some((at, value)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Sends SIGTERM (the fixtures then print their result and clean up).
    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }

    /// The `result` line: waits `limit` for it, then asks with SIGTERM and waits again.
    pub fn result(&mut self, limit: Duration) -> Option<Value> {
        let result = self.wait_event("result", limit).or_else(|| {
            self.terminate();
            self.wait_event("result", Duration::from_secs(15))
        });
        self.reap(Duration::from_secs(15));
        result.map(|(_, v)| v)
    }

    /// Waits for the exit, killing the child after `limit`.
    pub fn reap(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
            self.reap(Duration::from_secs(10));
        }
    }
}

/// gst-peer in one of its modes, on loopback only.
pub struct GstPeer {
    pub lines: Lines,
    /// The URL a server mode serves.
    pub url: String,
}

impl GstPeer {
    pub fn start(binary: &Path, shim: &Path, mode: &str, args: &[&str]) -> GstPeer {
        let mut command = Command::new(binary);
        command
            .env("LD_PRELOAD", shim)
            .arg(mode)
            .args(args)
            .stderr(Stdio::null());
        let mut lines = Lines::spawn(command, "gst-peer");
        let mut url = String::new();
        if mode.ends_with("-server") {
            let (_, ready) = lines
                .wait_event("ready", Duration::from_secs(30))
                .expect("gst-peer server never got ready");
            url = ready["url"].as_str().expect("ready has a url").to_string();
        }
        GstPeer { lines, url }
    }
}

/// The real daemon on its own config and control socket, in a temporary directory.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    socket: PathBuf,
    pub child: Child,
}

impl Daemon {
    /// `body` is the configuration after the [control] section.
    pub fn start(body: &str) -> Daemon {
        Daemon::start_with(body, &[])
    }

    /// Started with `env` added to its environment.
    pub fn start_with(body: &str, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let config = dir.path().join("salle.toml");
        std::fs::write(
            &config,
            format!("[control]\nsocket = \"{}\"\n{body}", socket.display()),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let child = Command::new(salle_binary())
            .args(["run", "--config"])
            .arg(&config)
            // The default filter plus the WebRTC stack's INFO lines (signalling and connection
            // states: the join's steps, timed); nothing is logged per packet at this level.
            .env(
                "SALLE_LOG",
                "salle=info,webrtc=info,rtc=info,warn,rtc_dtls=error",
            )
            .env_remove("JOURNAL_STREAM")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the salle daemon");
        let daemon = Daemon {
            dir,
            config,
            socket,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&daemon.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "the daemon's control socket never came up; its log:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `salle ARGS --config CONFIG`, as a person would type it; its output.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(salle_binary())
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("run salle")
    }

    /// The room's status through the control socket (what `salle status --json` shows),
    /// without starting a process: polling it must not cost the machine much.
    pub fn status(&self) -> Value {
        let ask = || -> Option<Value> {
            let mut stream = UnixStream::connect(&self.socket).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            stream.write_all(b"{\"request\":\"status\"}\n").ok()?;
            let mut answer = String::new();
            BufReader::new(stream).read_line(&mut answer).ok()?;
            let answer: Value = serde_json::from_str(&answer).ok()?;
            Some(answer["status"].clone())
        };
        ask().unwrap_or(Value::Null)
    }

    pub fn state(&self) -> String {
        self.status()["call"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls every 20 ms until the call state is `state`; false after `limit`.
    pub fn wait_state(&self, state: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.state() == state {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Janus 1.1 VideoRoom fixture (tests/fixtures/janus/start.sh), stopped when dropped.
pub struct Janus {
    pub info: Value,
    dir: tempfile::TempDir,
}

impl Janus {
    pub fn start() -> Result<Janus, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new(format!("{ROOT}/tests/fixtures/janus/start.sh"))
            .arg(dir.path())
            .env("JANUS_FIXTURE_OWNER_PID", std::process::id().to_string())
            .output()
            .map_err(|e| format!("run tests/fixtures/janus/start.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the Janus fixture did not start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let info = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok(Janus { info, dir })
    }

    pub fn ws(&self) -> &str {
        self.info["janus_ws"].as_str().unwrap_or_default()
    }

    pub fn room(&self) -> u64 {
        self.info["room"].as_u64().unwrap_or(1234)
    }

    /// One admin API request (Janus' HTTP admin endpoint, with curl: the fixture needs it).
    fn admin(&self, path: &str, request: &str) -> Option<Value> {
        let url = format!("{}{path}", self.info["admin"]["url"].as_str()?);
        let body = serde_json::json!({
            "janus": request,
            "transaction": "bench",
            "admin_secret": self.info["admin"]["secret"],
        });
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                "-H",
                "Content-Type: application/json",
            ])
            .args(["--data-binary", &body.to_string(), &url])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// What Janus received so far from the publisher named `display`: (audio bytes, video
    /// bytes, video packets), from its handle's `stats.in`.
    pub fn received_from(&self, display: &str) -> Option<(u64, u64, u64)> {
        let sessions = self.admin("", "list_sessions")?;
        for session in sessions["sessions"].as_array()? {
            let path = format!("/{session}");
            let Some(handles) = self.admin(&path, "list_handles") else {
                continue;
            };
            for handle in handles["handles"].as_array().into_iter().flatten() {
                let Some(info) = self.admin(&format!("{path}/{handle}"), "handle_info") else {
                    continue;
                };
                let info = &info["info"];
                let plugin = &info["plugin_specific"];
                if plugin["type"] != "publisher" || plugin["display"] != display {
                    continue;
                }
                let (mut audio, mut video, mut packets) = (0, 0, 0);
                for medium in info["webrtc"]["media"].as_object()?.values() {
                    let bytes = medium["stats"]["in"]["bytes"].as_u64().unwrap_or(0);
                    if medium["type"] == "video" {
                        video += bytes;
                        packets += medium["stats"]["in"]["packets"].as_u64().unwrap_or(0);
                    } else {
                        audio += bytes;
                    }
                }
                return Some((audio, video, packets));
            }
        }
        None
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/tests/fixtures/janus/stop.sh"))
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .status();
    }
}

/// tests/fixtures/chromium/participant.py, when it is there.
pub fn chromium_participant() -> Option<PathBuf> {
    let path = Path::new(ROOT).join("tests/fixtures/chromium/participant.py");
    path.exists().then_some(path)
}
