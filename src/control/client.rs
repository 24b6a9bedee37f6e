//! The command line's side of the control socket.

use crate::api::{Answer, Request};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a request got no answer from the daemon (an answer that is an error is an `Answer`).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no salle daemon is running (no control socket at {0})")]
    NoSocket(String),
    #[error("no salle daemon is running at {} ({source})", socket.display())]
    NoDaemon {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: permission denied (are you in the daemon's group?)", socket.display())]
    PermissionDenied { socket: PathBuf },
    #[error("{}: {source}", socket.display())]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: bad answer from the daemon: {source}", socket.display())]
    BadAnswer {
        socket: PathBuf,
        source: serde_json::Error,
    },
}

/// Sends one request and waits for its answer.
pub fn request(socket: &Path, request: &Request) -> Result<Answer, ClientError> {
    let io = |source: std::io::Error| ClientError::Io {
        socket: socket.into(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NoDaemon {
                socket: socket.into(),
                source,
            }
        }
        std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
            socket: socket.into(),
        },
        _ => io(source),
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let mut line = serde_json::to_string(request).expect("requests serialise");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    serde_json::from_str(&answer).map_err(|source| ClientError::BadAnswer {
        socket: socket.into(),
        source,
    })
}
