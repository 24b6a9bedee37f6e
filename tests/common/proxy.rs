//! A real HTTP proxy (Debian's tinyproxy) on loopback, per test: CONNECT allowed to the given
//! ports only, every request logged, running as `nobody` so that a firewall rule on the
//! socket's owner can tell its connections from everyone else's. Stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

pub struct Tinyproxy {
    pub port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    pub fn start(connect_ports: &[u16]) -> Tinyproxy {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // tinyproxy writes its log as `nobody`.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let log = dir.path().join("tinyproxy.log");
        std::fs::write(&log, "").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = format!(
            "User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 600\n\
             LogFile \"{}\"\nLogLevel Connect\nMaxClients 100\nAllow 127.0.0.1\n",
            log.display()
        );
        for allowed in connect_ports {
            conf.push_str(&format!("ConnectPort {allowed}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .spawn()
            .expect("run tinyproxy (Debian package tinyproxy)");
        super::wait_for("tinyproxy listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Tinyproxy {
            port,
            log,
            child,
            _dir: dir,
        }
    }

    /// Everything tinyproxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
