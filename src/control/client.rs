//! The command line's side of the control socket.

use super::{Request, Response};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Sends one request and waits for its response.
pub fn request(socket: &Path, request: &Request) -> Result<Response, String> {
    let fail = |e: std::io::Error| format!("{}: {e}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            format!("no salle daemon is running at {} ({e})", socket.display())
        }
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "{}: permission denied (are you in the daemon's group?)",
                socket.display()
            )
        }
        _ => fail(e),
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(fail)?;
    let mut line = serde_json::to_string(request).expect("requests serialise");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(fail)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(fail)?;
    serde_json::from_str(&answer)
        .map_err(|e| format!("{}: bad answer from the daemon: {e}", socket.display()))
}
