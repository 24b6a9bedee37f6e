//! Meeting servers that answer nonsense: the room names the server and what was wrong, the
//! daemon stays up, and the room is ready again after showing the failure.
//!
//! Each server here is a plain TCP listener that writes one canned answer to every request:
//! the point is what a broken or hostile server can send, not a protocol implementation.
mod common;

use common::{simulated_room, Daemon};
use std::io::{Read, Write};
use std::time::Duration;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// A listener on loopback that answers every connection with `answer` (bytes as they go on
/// the wire) after reading the request; its URL's authority.
fn canned_server(answer: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 65536];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    address.to_string()
}

/// An HTTP/1.1 answer with `status`, extra header lines and a body.
fn http(status: &str, headers: &[&str], body: &str) -> String {
    let mut answer = format!("HTTP/1.1 {status}\r\n");
    for header in headers {
        answer += header;
        answer += "\r\n";
    }
    answer += &format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    answer
}

/// Joins `url`, waits for the failure, and checks that it names `server` and says `what`,
/// that the daemon still answers, and that the room is idle again once the failure was shown.
fn assert_clear_failure(url: &str, server: &str, what: &[&str]) {
    let daemon = Daemon::start(&simulated_room("Salle bad input", url));
    let out = daemon.cli(&["join"]);
    assert!(
        out.status.success(),
        "the join request itself is accepted: {}",
        common::text(&out.stderr)
    );
    let error = daemon.wait_error(Duration::from_secs(30));
    assert!(error.contains(server), "the error names {server}: {error}");
    for word in what {
        assert!(error.contains(word), "the error says {word:?}: {error}");
    }
    assert_eq!(daemon.state(), "failed", "the room shows the failure");
    daemon.wait_state("idle", Duration::from_secs(25));
    assert!(
        daemon.log().lines().all(|l| !l.contains("panicked")),
        "no panic in the daemon:\n{}",
        daemon.log()
    );
}

#[test]
fn a_whip_answer_that_is_not_sdp_is_a_clear_error() {
    let server = canned_server(http(
        "201 Created",
        &["Location: /whip/1", "Content-Type: application/sdp"],
        "<html><body>Welcome to nginx!</body></html>",
    ));
    assert_clear_failure(
        &format!("whip+http://{server}/whip"),
        &server,
        &["not SDP", "Welcome to nginx"],
    );
}

#[test]
fn a_malformed_whip_answer_sdp_is_a_clear_error() {
    // Starts like SDP, then no origin, no session name, a media line that cannot be parsed.
    let server = canned_server(http(
        "201 Created",
        &["Location: /whip/1", "Content-Type: application/sdp"],
        "v=0\r\nm=video banana RTP/AVP\r\na=ice-ufrag\r\n",
    ));
    assert_clear_failure(&format!("whip+http://{server}/whip"), &server, &["answer"]);
}

#[test]
fn a_whip_answer_without_location_is_a_clear_error() {
    let server = canned_server(http(
        "201 Created",
        &["Content-Type: application/sdp"],
        "v=0\r\n",
    ));
    assert_clear_failure(
        &format!("whip+http://{server}/whip"),
        &server,
        &["without a Location"],
    );
}

#[test]
fn a_server_that_does_not_speak_http_is_a_clear_error() {
    let server = canned_server("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".into());
    assert_clear_failure(&format!("whip+http://{server}/whip"), &server, &[]);
}

#[test]
fn a_janus_url_on_a_plain_web_server_is_a_clear_error() {
    // The WebSocket upgrade is answered by an ordinary page.
    let server = canned_server(http(
        "200 OK",
        &["Content-Type: text/html"],
        "<html>It works</html>",
    ));
    assert_clear_failure(
        &format!("janus+ws://{server}/?room=1234"),
        &server,
        &["Janus"],
    );
}

#[test]
fn a_janus_server_that_sends_garbage_is_a_clear_error() {
    // A proper WebSocket upgrade, then a text frame that is not JSON: what a misconfigured
    // proxy or another service on the port could send.
    let key_answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 65536];
            let n = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..n]).to_string();
            let Some(key) = request.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_string())
            }) else {
                continue;
            };
            let accept = derive_accept_key(key.as_bytes());
            let protocol = if request.contains("janus-protocol") {
                "Sec-WebSocket-Protocol: janus-protocol\r\n"
            } else {
                ""
            };
            let _ = write!(
                stream,
                "{key_answer}Sec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
            );
            let garbage = b"%%% not json %%%";
            let mut frame = vec![0x81, garbage.len() as u8];
            frame.extend_from_slice(garbage);
            // Answer every frame the client sends with garbage, for a while.
            for _ in 0..20 {
                if stream.write_all(&frame).is_err() {
                    break;
                }
                let mut buffer = [0u8; 4096];
                if stream.read(&mut buffer).unwrap_or(0) == 0 {
                    break;
                }
            }
        }
    });
    assert_clear_failure(
        &format!("janus+ws://{server}/?room=1234"),
        &server,
        &["Janus"],
    );
}

#[test]
fn a_ca_file_without_certificates_is_named_and_the_room_still_runs() {
    // TURN over TCP and TLS are used (through a bridge, src/net); a `ca_file` that trusts
    // nothing is a problem status names, with the file, and the room still joins.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("proxy-ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let config = simulated_room("Salle TURN", "test://demo").replace(
        "[network]",
        &format!("[network]\nca_file = \"{}\"", ca.display()),
    );
    let daemon = Daemon::start(&config);
    let status = daemon.status();
    let problems = common::problem_texts(&status);
    assert!(
        problems.iter().any(|p| {
            p.contains("ca_file") && p.contains("proxy-ca.pem") && p.contains("no PEM certificate")
        }),
        "{problems:?}"
    );
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
}
