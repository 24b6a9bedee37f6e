//! The real LiveKit server (`livekit-server` v1.13.5, built by tests/fixtures/livekit/setup.sh)
//! on loopback, one per test with a config of its own, and La Suite Meet's room API in front of
//! it (tests/fixtures/livekit/meet.py: real tokens for that server, real LiveKit participants
//! from the Python SDK, the server API for moderator actions). Both stop when dropped.

// What it needs of its surroundings, through one module so the webrtc benchmark can include
// this file too (tests/common/mod.rs and benches/webrtc.rs each define `livekit_support`).
use super::livekit_support::{loopback_only_shim, python};
use serde_json::Value;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server version the tier is proven with (setup.sh installs it under this name).
pub const SERVER_VERSION: &str = "v1.13.5";

const MEET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/livekit/meet.py"
);

/// Where setup.sh put the server: `$SALLE_LIVEKIT_SERVER`, or its cache.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SALLE_LIVEKIT_SERVER") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    cache
        .join("salle-fixtures/go/bin")
        .join(format!("livekit-server-{SERVER_VERSION}"))
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `livekit-server`.
pub struct LiveKitServer {
    child: Child,
    dir: tempfile::TempDir,
    /// `ws://127.0.0.1:P`
    pub ws: String,
    pub api_key: String,
    pub api_secret: String,
    /// The embedded TURN server's TLS port and the CA that signed its certificate (issue 14).
    pub turn_tls_port: u16,
    pub turn_ca: PathBuf,
    /// The ICE-TCP port (LiveKit's 7881), where the server takes RFC 4571 framed media.
    pub rtc_tcp_port: u16,
}

impl LiveKitServer {
    pub fn start() -> LiveKitServer {
        LiveKitServer::start_logging("info")
    }

    /// Started with its log at `level` (`debug` logs each track's first packet).
    pub fn start_logging(level: &str) -> LiveKitServer {
        LiveKitServer::start_with(level, free_tcp_port())
    }

    /// With its embedded TURN/TLS server on 443, the port its JoinResponse names whatever the
    /// server listens on (`turns:<domain>:443?transport=tcp`): for tests in a network
    /// namespace of their own.
    pub fn start_with_turn_on_443() -> LiveKitServer {
        LiveKitServer::start_with("info", 443)
    }

    fn start_with(level: &str, turn_tls_port: u16) -> LiveKitServer {
        let binary = server_binary();
        assert!(
            binary.exists(),
            "{} is missing: run tests/fixtures/livekit/setup.sh",
            binary.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let turn_ca = make_test_ca(&dir);
        let port = free_tcp_port();
        let rtc_tcp_port = free_tcp_port();
        let api_key = "APIsalle".to_string();
        let api_secret = format!("salle-test-secret-{:016x}{:016x}", rand_u64(), rand_u64());
        // Everything on 127.0.0.1; no public STUN: the only STUN server is a loopback port
        // nobody answers (the JoinResponse always lists one; the client must not wait on it).
        let config = format!(
            r#"port: {port}
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: {tcp}
  udp_port: {udp}
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: ["127.0.0.1/32"]
  stun_servers: ["127.0.0.1:{silent}"]
keys:
  {api_key}: {api_secret}
turn:
  enabled: true
  # An address, not a name: nothing resolves turn.localhost here (the certificate names both).
  domain: 127.0.0.1
  bind_addresses: ["127.0.0.1"]
  tls_port: {turn_tls_port}
  udp_port: {turn_udp}
  cert_file: {dir}/turn.pem
  key_file: {dir}/turn.key
  # The server's own media ports are on loopback, which its TURN refuses to relay to unless told.
  allow_restricted_peer_cidrs: ["127.0.0.1/32"]
logging:
  level: {level}
"#,
            tcp = rtc_tcp_port,
            udp = free_udp_port(),
            silent = free_udp_port(),
            turn_udp = free_udp_port(),
            dir = dir.path().display(),
        );
        let config_path = dir.path().join("livekit.yaml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("livekit.log")).unwrap();
        let child = Command::new(&binary)
            .arg("--config")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let server = LiveKitServer {
            child,
            ws: format!("ws://127.0.0.1:{port}"),
            api_key,
            api_secret,
            turn_tls_port,
            turn_ca,
            rtc_tcp_port,
            dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "livekit-server did not listen: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("livekit.log")).unwrap_or_default()
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish()
}

/// A test CA and a certificate for `turn.localhost` and 127.0.0.1 signed by it (`turn.pem`,
/// `turn.key` in `dir`: the embedded TURN/TLS server's, coturn's in tests/common/turn.rs);
/// returns the CA's certificate.
pub fn make_test_ca(dir: &tempfile::TempDir) -> PathBuf {
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Salle test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "turn.key",
        "-out",
        "turn.csr",
        "-subj",
        "/CN=turn.localhost",
    ]);
    std::fs::write(
        d.join("turn.ext"),
        "subjectAltName=DNS:turn.localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "turn.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "turn.pem",
        "-days",
        "2",
        "-extfile",
        "turn.ext",
    ]);
    d.join("ca.pem")
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        stop(&mut self.child);
        if std::thread::panicking() {
            eprintln!("--- livekit-server log ---\n{}", tail(&self.log(), 6000));
        }
    }
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// La Suite Meet's API (meet.py) in front of a real server, and its participants.
pub struct Meet {
    child: Child,
    /// `http://127.0.0.1:P`: Meet's API and the control API.
    pub url: String,
    pub server: LiveKitServer,
}

impl Meet {
    /// A real server and Meet's API with `args` (meet.py's: `--room slug=access[:sources]`,
    /// `--lobby`, `--token-ttl`).
    pub fn start(args: &[&str]) -> Meet {
        Meet::start_on(LiveKitServer::start(), args)
    }

    /// Meet's API in front of `server`.
    pub fn start_on(server: LiveKitServer, args: &[&str]) -> Meet {
        let mut child = Command::new(python())
            .arg(MEET)
            .args(["--port", "0", "--livekit", &server.ws])
            .args([
                "--api-key",
                &server.api_key,
                "--api-secret",
                &server.api_secret,
            ])
            .args(args)
            // The SDK's libwebrtc skips loopback interfaces when gathering: show it `lo` only,
            // as a normal interface not named `lo` (the same shim as Janus's).
            .env("LD_PRELOAD", loopback_only_shim())
            .env("SALLE_IFADDRS_NAME", "salle0")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/fixtures/livekit/meet.py");
        let ready = super::livekit_support::ready_event(&mut child, "meet.py");
        Meet {
            child,
            url: ready["url"].as_str().unwrap().to_string(),
            server,
        }
    }

    /// The La Suite Meet meeting URL of room `slug`.
    pub fn meeting_url(&self, slug: &str) -> String {
        format!("{}/{slug}", self.url)
    }

    /// What the server and every fixture participant see (room `salle-test`).
    pub fn state(&self) -> Value {
        self.control("state", serde_json::json!({}))
    }

    /// `POST /_fixture/<action>` with `body`; panics on the fixture's errors.
    pub fn control(&self, action: &str, body: Value) -> Value {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "60", "-X", "POST"])
            .arg(format!("{}/_fixture/{action}", self.url))
            .args(["-H", "Content-Type: application/json"])
            .args(["--data-binary", &body.to_string()])
            .output()
            .expect("run curl");
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "meet.py {action}: not JSON: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        assert!(value.get("error").is_none(), "meet.py {action}: {value}");
        value
    }

    /// Polls the state until `check` finds something, for up to `limit`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        super::livekit_support::wait_for(what, limit, || check(&self.state()))
    }
}

impl Drop for Meet {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

const CHROMIUM_PARTICIPANT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chromium/livekit_participant.py"
);

/// Headless Chromium running livekit-client as La Suite Meet's web client does
/// (tests/fixtures/chromium/livekit_participant.py), in the meeting of `salle-test`.
pub struct Chromium {
    child: Child,
    lines: Option<std::io::Lines<std::io::BufReader<std::process::ChildStdout>>>,
    pub ready: Value,
}

/// How a Chromium participant publishes.
pub struct ChromiumOptions<'a> {
    pub identity: &'a str,
    pub name: &'a str,
    /// `vp9` (Meet's), `vp8`, `h264`.
    pub codec: &'a str,
    pub simulcast: bool,
    /// How long it stays after it published.
    pub seconds: u32,
}

impl Meet {
    /// Starts a Chromium participant and waits until it has published its camera and microphone.
    pub fn chromium(&self, options: &ChromiumOptions) -> Chromium {
        use std::io::BufRead;
        let token = self.control(
            "token",
            serde_json::json!({"identity": options.identity, "name": options.name}),
        );
        let mut command = Command::new("/usr/bin/python3");
        command
            .arg(CHROMIUM_PARTICIPANT)
            .args(["--url", token["url"].as_str().unwrap()])
            .args(["--token", token["token"].as_str().unwrap()])
            .args(["--codec", options.codec])
            .args(["--seconds", &options.seconds.to_string()]);
        if !options.simulcast {
            command.arg("--no-simulcast");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/fixtures/chromium/livekit_participant.py");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut ready = Value::Null;
        for line in lines.by_ref() {
            let value: Value = serde_json::from_str(&line.unwrap()).unwrap_or(Value::Null);
            assert_ne!(
                value["event"], "result",
                "Chromium never published: {value}"
            );
            if value["event"] == "ready" {
                ready = value;
                break;
            }
        }
        assert!(
            !ready.is_null(),
            "livekit_participant.py ended before it was ready"
        );
        Chromium {
            child,
            lines: Some(lines),
            ready,
        }
    }
}

impl Chromium {
    /// Its process id (to measure it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads what it reports every second until `check` finds something in its `remotes`
    /// (getStats() and mute flags by name); panics, saying `what`, if it leaves first.
    pub fn wait_for<T>(&mut self, what: &str, mut check: impl FnMut(&Value) -> Option<T>) -> T {
        let lines = self.lines.as_mut().unwrap();
        for line in lines.map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if value["event"] == "stats" {
                if let Some(found) = check(&value["remotes"]) {
                    return found;
                }
            }
            assert_ne!(
                value["event"], "result",
                "Chromium left before {what}: {value}"
            );
        }
        panic!("Chromium ended before {what}");
    }

    /// Waits for it to leave (after its `seconds`) and returns its result: getStats() of what
    /// it sent and of everyone it received.
    pub fn result(mut self) -> Value {
        let lines = self.lines.take().unwrap();
        let result = lines
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .find(|v| v["event"] == "result")
            .expect("livekit_participant.py printed no result");
        let _ = self.child.wait();
        result
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // participant.py's own SIGTERM handling closes the browser and the driver.
        stop(&mut self.child);
    }
}
