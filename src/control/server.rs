//! The daemon's side of the control socket.

use crate::api::{Answer, ApiError, Request};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// A request from a client, with the way back.
pub struct ControlRequest {
    pub request: Request,
    pub reply: oneshot::Sender<Answer>,
}

/// Longest request line accepted: requests are tiny; anything bigger is a confused client.
const MAX_LINE: usize = 64 * 1024;

/// Binds the socket (replacing a stale one) and sets mode 0660 and the group.
pub fn bind(path: &Path, group: &str) -> std::io::Result<UnixListener> {
    if path.exists() {
        // Refuse to steal the socket of a daemon that is still running.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{}: another salle daemon is running", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => give_to_group(path, group, g.gid),
        _ => tracing::debug!("group {group} does not exist: the socket keeps our group"),
    }
    tracing::info!("control socket at {}", path.display());
    Ok(listener)
}

/// Gives the socket to `gid` unless it has that group already. Under systemd the daemon runs
/// with `Group=salle`, so the socket is born with the right group; and the unit's
/// `SystemCallFilter=~@privileged` (which includes `@chown`) makes any chown fail with EPERM,
/// even a no-op one, which is why the socket's group is compared first.
fn give_to_group(path: &Path, group: &str, gid: nix::unistd::Gid) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) if m.gid() == gid.as_raw() => {}
        _ => {
            if let Err(e) = nix::unistd::chown(path, None, Some(gid)) {
                tracing::warn!("cannot give {} to group {group}: {e}", path.display());
            }
        }
    }
}

/// Answers clients until the listener fails.
pub async fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<ControlRequest>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(stream, requests.clone()));
    }
}

async fn connection(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(MAX_LINE as u64 * 16));
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = if line.len() > MAX_LINE {
            Answer::from(ApiError::RequestTooLong)
        } else {
            match serde_json::from_str::<Request>(&line) {
                Err(e) => Answer::from(ApiError::BadRequest(e.to_string())),
                Ok(request) => {
                    let (reply, answer) = oneshot::channel();
                    if requests
                        .send(super::ControlRequest { request, reply })
                        .await
                        .is_err()
                    {
                        return; // shutting down
                    }
                    answer
                        .await
                        .unwrap_or_else(|_| Answer::from(ApiError::ShuttingDown))
                }
            }
        };
        let mut text = serde_json::to_string(&response).expect("responses serialise");
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

use tokio::io::AsyncReadExt;
