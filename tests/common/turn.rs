//! coturn (Debian) on loopback with one long-term credential (`room`/`secret`); killed when
//! dropped. Plain UDP TURN, or TCP and TLS only (on 443, with a certificate from a test CA),
//! for the locked-down network tests.

use super::wait_for;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Turn {
    child: Child,
    /// The UDP (or, with `start_streams`, TCP) listening port.
    pub port: u16,
    /// With `start_streams`: the TLS port and the CA that signed the server's certificate.
    pub tls_port: Option<u16>,
    pub ca: Option<std::path::PathBuf>,
    dir: tempfile::TempDir,
}

impl Turn {
    /// Listens on UDP only, on a free port.
    pub fn start() -> Turn {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Self::spawn(&dir, &["--no-tls", "--no-dtls"], port);
        // Ready when it answers a STUN binding request.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(b"salle-probe!");
        wait_for("turnserver answering", Duration::from_secs(10), || {
            probe.send_to(&request, ("127.0.0.1", port)).ok()?;
            let mut answer = [0u8; 512];
            probe.recv(&mut answer).ok().map(|_| ())
        });
        Turn {
            child,
            port,
            tls_port: None,
            ca: None,
            dir,
        }
    }

    /// Listens on TCP `port` and TLS `tls_port` only (no UDP listener); relays over UDP.
    pub fn start_streams(port: u16, tls_port: u16) -> Turn {
        let dir = tempfile::tempdir().unwrap();
        let ca = super::livekit_server::make_test_ca(&dir);
        let cert = dir.path().join("turn.pem");
        let key = dir.path().join("turn.key");
        let mut args = vec!["--no-udp".to_string(), "--no-dtls".to_string()];
        args.extend(["--tls-listening-port".into(), tls_port.to_string()]);
        args.extend(["--cert".into(), cert.display().to_string()]);
        args.extend(["--pkey".into(), key.display().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = Self::spawn(&dir, &args, port);
        for p in [port, tls_port] {
            wait_for("turnserver listening", Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", p)).ok()
            });
        }
        Turn {
            child,
            port,
            tls_port: Some(tls_port),
            ca: Some(ca),
            dir,
        }
    }

    fn spawn(dir: &tempfile::TempDir, transports: &[&str], port: u16) -> Child {
        Command::new("turnserver")
            .args(["-n", "--no-cli", "--no-stun-backward-compatibility"])
            .args(transports)
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
            .args(["--listening-port", &port.to_string()])
            .args(["--min-port", "49160", "--max-port", "49200"])
            .args([
                "--allow-loopback-peers",
                "--lt-cred-mech",
                "--realm",
                "salle.test",
            ])
            .args(["--user", "room:secret", "--pidfile"])
            .arg(dir.path().join("turn.pid"))
            .args(["--log-file"])
            .arg(dir.path().join("turn.log"))
            .arg("--simple-log")
            .stdout(Stdio::null())
            .spawn()
            .expect("start turnserver (Debian package coturn)")
    }

    /// What coturn logged so far.
    pub fn log(&self) -> String {
        std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("turn"))
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
