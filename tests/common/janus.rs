//! A real Janus 1.1 VideoRoom (and simple-whip-server in front of it) per test, on loopback,
//! from tests/fixtures/janus; stopped when dropped.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

    /// A simulated room named `name` publishing to the WHIP `endpoint` (the fixture's
    /// simple-whip-server, or a proxy in front of it) with the fixture's token.
    pub fn whip_room(&self, name: &str, endpoint: &str) -> String {
        let token = self.path().join("whip.token");
        std::fs::write(&token, self.info["whip_token"].as_str().unwrap()).unwrap();
        super::simulated_room(name, &format!("whip+{endpoint}")).replace(
            "[camera]",
            &format!("token_file = \"{}\"\n\n[camera]", token.display()),
        )
    }

    /// How a WHIP publisher appears in the room.
    pub fn whip_display(&self) -> String {
        self.info["whip_display"]
            .as_str()
            .unwrap_or("whip-salle")
            .to_string()
    }

    /// A WHIP endpoint `id` of its own on the fixture's simple-whip-server (same room, same
    /// token), whose OPTIONS offers `ice_servers` as `Link` headers
    /// (`[{"uri": "turn:...", "username": ..., "credential": ...}]`). Its URL.
    pub fn whip_endpoint_offering(&self, id: &str, ice_servers: Value) -> String {
        let api = self.info["whip_api"].as_str().unwrap();
        let body = serde_json::json!({
            "id": id, "room": self.room(), "label": id,
            "token": self.info["whip_token"], "iceServers": ice_servers,
        });
        let out = Command::new("curl")
            .args(["-sf", "-X", "POST", "-H", "Content-Type: application/json"])
            .args(["-d", &body.to_string(), &format!("{api}/create")])
            .output()
            .expect("run curl");
        assert!(out.status.success(), "creating WHIP endpoint {id}: {out:?}");
        format!("{api}/endpoint/{id}")
    }

    /// The fixture's WHIP endpoint behind a proxy that answers PATCH with 405 Method Not
    /// Allowed, as WHIP servers without ICE restarts (or trickle) do; everything else goes
    /// through. The proxy lives as long as the test process.
    pub fn whip_without_ice_restarts(&self) -> String {
        let whip = url::Url::parse(self.info["whip"].as_str().unwrap()).unwrap();
        let upstream = format!("{}:{}", whip.host_str().unwrap(), whip.port().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    if let Err(e) = relay_refusing_patch(client, &upstream) {
                        eprintln!("WHIP proxy: {e}");
                    }
                });
            }
        });
        format!("http://127.0.0.1:{port}{}", whip.path())
    }
}

/// One HTTP request from `client`: PATCH is refused, anything else goes to `upstream` (with
/// `Connection: close`, so that one connection carries one exchange) and its answer back.
fn relay_refusing_patch(mut client: TcpStream, upstream: &str) -> std::io::Result<()> {
    let request = read_request(&mut client)?;
    if request.starts_with(b"PATCH ") {
        return client.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nAllow: POST, DELETE\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let head_end = find(&request, b"\r\n\r\n").unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..head_end]);
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.insert(1, "Connection: close");
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(lines.join("\r\n").as_bytes())?;
    server.write_all(&request[head_end..])?;
    std::io::copy(&mut server, &mut client)?;
    Ok(())
}

/// Reads a request's head and its body (by Content-Length).
fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 16384];
    loop {
        if let Some(end) = find(&request, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return Ok(request);
            }
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Ok(request);
        }
        request.extend_from_slice(&buffer[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
