//! The daemon's side of the control socket and of the management socket: the same model on
//! both; what differs is who the daemon takes the caller for (`Origin`), decided by which
//! socket the request came through, never by the client.

use crate::api::{Answer, ApiError, Origin, Request};
use crate::manage::events::{check_paths, Subscription};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

/// A request from a client, with the way back.
pub struct ControlRequest {
    pub request: Request,
    /// Who asked: in the room (the local control socket) or remote (the management socket).
    pub origin: Origin,
    pub reply: oneshot::Sender<Answer>,
}

/// The status tree as JSON, published by the daemon for subscribers (never with `setup`).
pub type StatusFeed = Arc<watch::Sender<serde_json::Value>>;

/// A new status feed (`null` until the daemon publishes its first status).
pub fn status_feed() -> StatusFeed {
    Arc::new(watch::Sender::new(serde_json::Value::Null))
}

/// Longest request line accepted: requests are small (a configuration text is the biggest);
/// anything bigger is a confused client.
const MAX_LINE: usize = 256 * 1024;

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
        Ok(Some(g)) => {
            if let Err(e) = nix::unistd::chown(path, None, Some(g.gid)) {
                tracing::warn!("cannot give {} to group {group}: {e}", path.display());
            }
        }
        _ => tracing::debug!("group {group} does not exist: the socket keeps our group"),
    }
    tracing::info!("listening at {}", path.display());
    Ok(listener)
}

/// Answers clients until the listener fails; every request through it is from `origin`.
pub async fn serve(
    listener: UnixListener,
    origin: Origin,
    requests: mpsc::Sender<ControlRequest>,
    feed: StatusFeed,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(stream, origin, requests.clone(), feed.clone()));
    }
}

async fn write_answer(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    answer: &Answer,
) -> std::io::Result<()> {
    let mut text = serde_json::to_string(answer).expect("answers serialise");
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

async fn connection(
    stream: UnixStream,
    origin: Origin,
    requests: mpsc::Sender<ControlRequest>,
    feed: StatusFeed,
) {
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
                Ok(request) if origin == Origin::Remote && request.local_only() => {
                    Answer::from(ApiError::LocalOnly)
                }
                Ok(Request::Subscribe { paths }) => {
                    let status = feed.borrow().clone();
                    match check_paths(&status, &paths) {
                        Err(e) => Answer::from(e),
                        Ok(()) => {
                            let _ = write_answer(
                                &mut write,
                                &Answer::Subscribed {
                                    ok: true,
                                    subscribed: paths.clone(),
                                },
                            )
                            .await;
                            subscription(lines, write, &paths, &feed).await;
                            return;
                        }
                    }
                }
                Ok(request) => {
                    let (reply, answer) = oneshot::channel();
                    if requests
                        .send(ControlRequest {
                            request,
                            origin,
                            reply,
                        })
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
        if write_answer(&mut write, &response).await.is_err() {
            return;
        }
    }
}

/// Sends the subscribed paths' values, then each change, until the client hangs up or the
/// daemon stops.
async fn subscription<R: tokio::io::AsyncBufRead + Unpin>(
    mut read: R,
    mut write: tokio::net::unix::OwnedWriteHalf,
    paths: &[String],
    feed: &StatusFeed,
) {
    let mut updates = feed.subscribe();
    let mut subscription = Subscription::new(paths);
    let mut ignored = String::new();
    loop {
        let status = updates.borrow_and_update().clone();
        for event in subscription.changes(&status) {
            if write_answer(&mut write, &Answer::Event { event })
                .await
                .is_err()
            {
                return;
            }
        }
        tokio::select! {
            changed = updates.changed() => if changed.is_err() { return },
            // Anything the client sends now is ignored; end of file is its hang-up.
            read = read.read_line(&mut ignored) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => ignored.clear(),
            },
        }
    }
}
