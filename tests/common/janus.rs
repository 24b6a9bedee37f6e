//! A real Janus 1.1 VideoRoom (and simple-whip-server in front of it) per test, on loopback,
//! from tests/fixtures/janus; stopped when dropped.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/janus");

pub struct Janus {
    /// start.sh's JSON: janus_ws, janus_http, whip, whip_token, room...
    pub info: Value,
    dir: tempfile::TempDir,
}

impl Janus {
    pub fn start() -> Janus {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(format!("{FIXTURE}/start.sh"))
            .arg(dir.path())
            .env("JANUS_FIXTURE_OWNER_PID", std::process::id().to_string())
            .output()
            .expect("run tests/fixtures/janus/start.sh");
        assert!(
            out.status.success(),
            "the Janus fixture did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info = serde_json::from_slice(&out.stdout).expect("start.sh prints JSON");
        Janus { info, dir }
    }

    pub fn ws(&self) -> &str {
        self.info["janus_ws"].as_str().unwrap()
    }

    pub fn room(&self) -> u64 {
        self.info["room"].as_u64().unwrap()
    }

    /// The meeting URL of the fixture's room.
    pub fn meeting_url(&self) -> String {
        format!("janus+{}/?room={}", self.ws(), self.room())
    }

    /// Decodes `seconds` of what publisher `display` sends into the room (VideoRoom
    /// rtp_forward + GStreamer, tests/fixtures/janus/receive.py); its JSON result.
    pub fn receive(&self, display: &str, seconds: u32) -> Value {
        let out = Command::new("/usr/bin/python3")
            .arg(format!("{FIXTURE}/receive.py"))
            .args(["--janus", self.info["janus_http"].as_str().unwrap()])
            .args(["--room", &self.room().to_string(), "--display", display])
            .args(["--seconds", &seconds.to_string(), "--wait", "20"])
            .output()
            .expect("run receive.py");
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
            panic!(
                "receive.py gave no JSON: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// An independent participant (aiortc, tests/fixtures/janus/janus_peer.py) publishing a
    /// test pattern and a tone as `display` for `seconds`.
    pub fn publish_peer(&self, display: &str, seconds: u32) -> std::process::Child {
        Command::new(python())
            .arg(format!("{FIXTURE}/janus_peer.py"))
            .args(["--ws", self.ws(), "--room", &self.room().to_string()])
            // --seconds belongs to the program, --display to its `publish` command.
            .args([
                "--seconds",
                &seconds.to_string(),
                "publish",
                "--display",
                display,
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start janus_peer.py")
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// The Python with aiortc: $SALLE_PYTHON, else python3 on PATH.
pub fn python() -> String {
    std::env::var("SALLE_PYTHON").unwrap_or_else(|_| "python3".into())
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = Command::new(format!("{FIXTURE}/stop.sh"))
            .arg(self.dir.path())
            .status();
    }
}
