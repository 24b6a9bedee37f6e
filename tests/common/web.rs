//! The web surface (`salle web`) beside a daemon, and an HTTPS client for it (curl, trusting
//! the device's own certificate: the test checks it as a browser pinning it would).

use super::{salle, text, wait_for, Daemon};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct WebSurface {
    pub daemon: Daemon,
    pub state_dir: PathBuf,
    pub port: u16,
    pub child: Option<Child>,
    pub log: PathBuf,
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Token(&'a str),
    /// A cookie jar file and the CSRF token to send (None: sent without one).
    Session(&'a std::path::Path, Option<&'a str>),
}

impl WebSurface {
    /// A daemon on simulated devices (with `extra` configuration) and its web surface on a
    /// free loopback port.
    pub fn start(extra: &str) -> WebSurface {
        let port = free_port();
        // Beside the daemon's files, in a directory removed when the test ends.
        let state_dir =
            std::env::temp_dir().join(format!("salle-web-{port}-{}", std::process::id()));
        let daemon = Daemon::start(&format!(
            "{extra}\n[web]\nlisten = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\n",
            state_dir.display()
        ));
        let log = daemon.dir.path().join("web.log");
        let mut child = salle()
            .args(["web", "--config"])
            .arg(&daemon.config)
            .env("SALLE_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start salle web");
        // Its first line says it listens.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("listening on"),
            "salle web did not start: {line}{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        WebSurface {
            daemon,
            state_dir,
            port,
            child: Some(child),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// The setup code, as `salle status` on the device shows it.
    pub fn setup_code(&self) -> Option<String> {
        self.daemon.status()["web"]["setup_code"]
            .as_str()
            .map(String::from)
    }

    pub fn request(&self, method: &str, path: &str, auth: Auth, body: Option<&Value>) -> Reply {
        let headers = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new("curl");
        command
            .args(["-s", "--max-time", "30", "-X", method])
            .arg("--cacert")
            .arg(self.state_dir.join("device-cert.pem"))
            .args(["--resolve", &format!("localhost:{}:127.0.0.1", self.port)])
            .arg("-D")
            .arg(headers.path())
            .args(["-w", "\n%{http_code}"]);
        match auth {
            Auth::None => {}
            Auth::Token(token) => {
                command.args(["-H", &format!("Authorization: Bearer {token}")]);
            }
            Auth::Session(jar, csrf) => {
                command.arg("-b").arg(jar).arg("-c").arg(jar);
                if let Some(csrf) = csrf {
                    command.args(["-H", &format!("X-CSRF-Token: {csrf}")]);
                }
            }
        }
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json"])
                .args(["--data-binary", &body.to_string()]);
        }
        command.arg(self.url(path));
        let out = command.output().expect("run curl");
        let all = text(&out.stdout);
        let (body, status) = all.rsplit_once('\n').unwrap_or(("", &all));
        Reply {
            status: status.trim().parse().unwrap_or_else(|_| {
                panic!(
                    "{method} {path}: no HTTP answer: {all} {}",
                    text(&out.stderr)
                )
            }),
            headers: std::fs::read_to_string(headers.path())
                .unwrap_or_default()
                .to_lowercase(),
            body: body.to_string(),
        }
    }

    /// Claims the room with the code from `salle status`; returns the session's CSRF token.
    pub fn claim(&self, jar: &std::path::Path, user: &str, password: &str) -> String {
        let code = self.setup_code().expect("an unclaimed room shows its code");
        let reply = self.request(
            "POST",
            "/api/v1/setup",
            Auth::Session(jar, None),
            Some(&serde_json::json!({"code": code, "user": user, "password": password})),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["csrf"].as_str().unwrap().to_string()
    }

    /// Makes an API token with `role` (signed in as an admin through `jar`/`csrf`).
    pub fn token(&self, jar: &std::path::Path, csrf: &str, role: &str) -> String {
        let reply = self.request(
            "POST",
            "/api/v1/tokens",
            Auth::Session(jar, Some(csrf)),
            Some(&serde_json::json!({"name": format!("{role}-script"), "role": role})),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["token"].as_str().unwrap().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn audit(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("audit.log")).unwrap_or_default()
    }
}

impl Drop for WebSurface {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the room's call state (as the daemon says) is `state`.
pub fn wait_state(web: &WebSurface, state: &str) {
    wait_for(&format!("state {state}"), Duration::from_secs(20), || {
        (web.daemon.state() == state).then_some(())
    });
}
