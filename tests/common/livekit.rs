//! The LiveKit + La Suite Meet fixture (tests/fixtures/livekit/server.py: a Python server
//! following LiveKit's signalling flow with aiortc for media, and La Suite Meet's room API),
//! one per test on loopback; stopped when dropped. Its README lists what it reproduces.

use super::janus::python;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/livekit/server.py"
);

pub struct LiveKit {
    child: Child,
    /// `http://127.0.0.1:P`: La Suite Meet's API and the control API.
    pub url: String,
    /// `ws://127.0.0.1:P`: LiveKit's signalling.
    pub ws: String,
}

impl LiveKit {
    /// Starts the fixture with `args` (see its README) and waits until it listens.
    pub fn start(args: &[&str]) -> LiveKit {
        let mut child = Command::new(python())
            .arg(FIXTURE)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/fixtures/livekit/server.py");
        let ready = super::peers::ready_event(&mut child, "the LiveKit fixture");
        LiveKit {
            child,
            url: ready["url"].as_str().unwrap().to_string(),
            ws: ready["ws"].as_str().unwrap().to_string(),
        }
    }

    /// The La Suite Meet meeting URL of room `slug`.
    pub fn meeting_url(&self, slug: &str) -> String {
        format!("{}/{slug}", self.url)
    }

    /// Everything the fixture observed.
    pub fn state(&self) -> Value {
        self.request("GET", "state", None)
    }

    /// A control request: `POST /_fixture/<path>` with `body`.
    pub fn control(&self, path: &str, body: Value) -> Value {
        self.request("POST", path, Some(body))
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut command = Command::new("curl");
        command
            .args(["-s", "--max-time", "20", "-X", method])
            .arg(format!("{}/_fixture/{path}", self.url));
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json"])
                .args(["--data-binary", &body.to_string()]);
        }
        let out = command.output().expect("run curl");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "fixture {method} {path}: not JSON: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Polls the state until `check` finds something, for up to `limit`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        super::wait_for(what, limit, || check(&self.state()))
    }
}

impl Drop for LiveKit {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
