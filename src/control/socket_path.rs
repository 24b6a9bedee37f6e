//! Where the control socket lives. One rule for the daemon and its clients: the configured
//! path, else the first usable of /run/salle (the service's RuntimeDirectory),
//! $XDG_RUNTIME_DIR/salle (a developer's session), /tmp/salle-<uid>.

use super::ClientError;
use crate::config::Config;
use std::path::{Path, PathBuf};

const NAME: &str = "control.sock";

fn candidates() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/run/salle")];
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        dirs.push(Path::new(&runtime).join("salle"));
    }
    dirs.push(PathBuf::from(format!(
        "/tmp/salle-{}",
        nix::unistd::getuid()
    )));
    dirs
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .is_ok()
}

/// The path the daemon listens on, creating its directory when it is ours to create.
pub fn server_socket_path(config: &Config) -> std::io::Result<PathBuf> {
    if let Some(path) = &config.control.socket {
        return Ok(path.clone());
    }
    for dir in candidates() {
        if dir.is_dir() && writable(&dir) {
            return Ok(dir.join(NAME));
        }
        let parent_ok = dir.parent().is_some_and(writable);
        if !dir.exists() && parent_ok && std::fs::create_dir(&dir).is_ok() {
            use std::os::unix::fs::PermissionsExt;
            // Private unless it is the service's directory (which systemd makes for us).
            let mode = if dir == Path::new("/run/salle") {
                0o750
            } else {
                0o700
            };
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))?;
            return Ok(dir.join(NAME));
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "no usable directory for the control socket",
    ))
}

/// The path a client connects to: the configured one, else the first that exists.
pub fn client_socket_path(config: &Config) -> Result<PathBuf, ClientError> {
    if let Some(path) = &config.control.socket {
        return Ok(path.clone());
    }
    let candidates: Vec<PathBuf> = candidates().into_iter().map(|d| d.join(NAME)).collect();
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .ok_or_else(|| {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            ClientError::NoSocket(list.join(", "))
        })
}

/// The management socket (every request through it is remote): the configured path, else
/// `manage.sock` beside the control socket.
pub fn manage_socket_path(config: &Config, control_socket: &Path) -> PathBuf {
    if let Some(path) = &config.management.socket {
        return path.clone();
    }
    control_socket.with_file_name("manage.sock")
}
