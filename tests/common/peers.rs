//! Independent WebRTC peers the tests talk to, as subprocesses: GStreamer's own WebRTC
//! elements (`tests/fixtures/gst-peer`, built on first use). Each prints JSON lines on stdout:
//! a `ready` line when it listens, a `result` line with what it decoded when it ends.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The fixture binary, built once per test process (the build is cached in target/gst-peer).
pub fn gst_peer_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            build_gst_peer(&std::env::var("GST_PEER_PROFILE").unwrap_or_else(|_| "dev".into()))
        })
        .clone()
}

/// Builds the fixture with cargo `profile` (tests/fixtures/gst-peer/build.sh; cached, so a
/// second call is quick) and returns its path. The benchmark uses the release build.
pub fn build_gst_peer(profile: &str) -> PathBuf {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gst-peer/build.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .env("GST_PEER_PROFILE", profile)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/fixtures/gst-peer/build.sh");
    assert!(out.status.success(), "building the gst-peer fixture failed");
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    PathBuf::from(path)
}

/// An LD_PRELOAD library that shows a program only the loopback interface (as a normal one):
/// libnice (in GStreamer and Janus) skips loopback when gathering candidates, and the tests
/// must not use any other interface. Built once from tests/fixtures/janus/lo_only_ifaddrs.c.
pub fn loopback_only_shim() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let source = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/janus/lo_only_ifaddrs.c"
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let shim = dir.join("lo_only_ifaddrs.so");
        // Built under a name of its own, then renamed: test processes running at the same
        // time never load a half-written library.
        let built = dir.join(format!("lo_only_ifaddrs.{}.so", std::process::id()));
        let status = Command::new("gcc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&built)
            .arg(source)
            .arg("-ldl")
            .status()
            .expect("run gcc for the loopback shim");
        assert!(status.success(), "building the loopback shim failed");
        std::fs::rename(&built, &shim).expect("install the loopback shim");
        shim
    })
    .clone()
}

/// A running gst-peer.
pub struct GstPeer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The URL it serves (server modes).
    pub url: String,
}

impl GstPeer {
    /// Starts `gst-peer MODE ARGS` and, for a server mode, waits for its ready line.
    pub fn start(mode: &str, args: &[&str]) -> GstPeer {
        let mut child = Command::new(gst_peer_binary())
            .env("LD_PRELOAD", loopback_only_shim())
            .arg(mode)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gst-peer");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut peer = GstPeer {
            child,
            stdout,
            url: String::new(),
        };
        if mode.ends_with("-server") {
            let ready = peer
                .next_event()
                .expect("gst-peer exited before it was ready");
            assert_eq!(ready["event"], "ready", "{ready}");
            peer.url = ready["url"].as_str().expect("ready line has a url").into();
        }
        peer
    }

    /// The next JSON line, or None once it exited.
    pub fn next_event(&mut self) -> Option<serde_json::Value> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Ok(value) = serde_json::from_str(line.trim()) {
                return Some(value);
            }
        }
    }

    /// Waits for the `result` line (the peer ends by itself after its `--seconds`).
    pub fn result(&mut self, limit: Duration) -> serde_json::Value {
        let deadline = std::time::Instant::now() + limit;
        let pid = self.child.id();
        // A watchdog: a stuck peer is stopped (SIGTERM makes it print its result).
        let watchdog = std::thread::spawn(move || {
            while std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
                if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                    return;
                }
            }
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        });
        let mut result = None;
        while let Some(event) = self.next_event() {
            if event["event"] == "result" {
                result = Some(event);
                break;
            }
        }
        let _ = self.child.wait();
        let _ = watchdog.join();
        result.expect("gst-peer ended without a result line")
    }

    /// Stops it now; its result, if it printed one.
    pub fn stop(mut self) -> Option<serde_json::Value> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut result = None;
        while let Some(event) = self.next_event() {
            if event["event"] == "result" {
                result = Some(event);
            }
        }
        let _ = self.child.wait();
        result
    }
}

impl Drop for GstPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a fixture's stdout up to its `{"event": "ready", ...}` line and returns that line; the
/// rest of its output is read on and dropped, so it never blocks on a full pipe.
pub fn ready_event(child: &mut std::process::Child, fixture: &str) -> serde_json::Value {
    let stdout = child.stdout.take().expect("the fixture's stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let ready = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{fixture} ended before it was ready"))
            .unwrap();
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
            if value["event"] == "ready" {
                break value;
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    ready
}
