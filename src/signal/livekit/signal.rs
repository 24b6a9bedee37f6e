//! LiveKit's signalling connection: a WebSocket carrying protobuf `SignalRequest`s out and
//! `SignalResponse`s in (`/rtc?access_token=...`), as LiveKit's own SDKs speak it.
//!
//! What the server sends is decoded on a reader task: a message that does not decode is
//! logged with its size and skipped (a newer server may send what we do not know; a broken one
//! must not take the room down). The channel of responses closes when the connection is lost.

use futures_util::{SinkExt, StreamExt};
use livekit_protocol::{signal_request, signal_response, SignalRequest, SignalResponse};
use prost::Message as _;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

/// The protocol version we speak (LiveKit's `protocol=` query parameter): the current one,
/// livekit-server 1.13's `CurrentProtocol`. 17 over 16 only allows packet trailers, which the
/// server strips anyway for a client without the `CAP_PACKET_TRAILER` capability (ours); the
/// behaviours we rely on came earlier (identity-based reconnection at 12, LeaveRequest actions
/// at 13, non-error RequestResponses at 15).
pub const PROTOCOL_VERSION: u32 = 17;

/// How long the WebSocket may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected signalling socket: send requests; responses come on the channel given back by
/// `connect`.
pub struct Signal {
    /// The server, for messages to people (`LiveKit wss://host`).
    pub server: String,
    outgoing: mpsc::UnboundedSender<SignalRequest>,
}

/// How to connect: a fresh join, or resuming the session `sid` after a short loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<'a> {
    Join,
    Resume { sid: &'a str },
}

impl Signal {
    /// Opens `<url>/rtc` with the token. Errors name the server and what it said: LiveKit
    /// refuses a bad token with 401 and a short text before the WebSocket opens.
    pub async fn connect(
        url: &Url,
        token: &str,
        attempt: Attempt<'_>,
    ) -> Result<(Signal, mpsc::UnboundedReceiver<signal_response::Message>), String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = format!("LiveKit {}", url.as_str().trim_end_matches('/'));
        let rtc = rtc_url(url, token, attempt)?;
        let (socket, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            crate::net::websocket::connect(rtc.as_str()),
        )
        .await
        .map_err(|_| format!("{server}: no answer in time"))?
        .map_err(|e| format!("{server}: {}", refusal(e)))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<SignalRequest>();
        let (incoming, responses) = mpsc::unbounded_channel();
        let reader_server = server.clone();
        // One task owns the socket: requests out, responses in, until either side ends.
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    request = to_send.recv() => {
                        let Some(request) = request else { break };
                        let bytes = request.encode_to_vec();
                        if sink.send(Message::Binary(bytes.into())).await.is_err() {
                            break;
                        }
                    }
                    message = stream.next() => {
                        let bytes = match message {
                            Some(Ok(Message::Binary(bytes))) => bytes,
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                            Some(Ok(other)) => {
                                tracing::debug!("{reader_server}: ignoring a non-binary message ({} bytes)", other.len());
                                continue;
                            }
                        };
                        match decode(&bytes) {
                            Ok(Some(response)) => {
                                if incoming.send(response).is_err() {
                                    break;
                                }
                            }
                            Ok(None) => tracing::debug!("{reader_server}: a message of a kind this client does not know ({} bytes)", bytes.len()),
                            Err(e) => tracing::warn!("{reader_server}: skipping a message that does not decode ({} bytes): {e}", bytes.len()),
                        }
                    }
                }
            }
            let _ = sink.close().await;
        });
        Ok((Signal { server, outgoing }, responses))
    }

    /// Sends one request; false once the connection is gone.
    pub fn send(&self, message: signal_request::Message) -> bool {
        self.outgoing
            .send(SignalRequest {
                message: Some(message),
            })
            .is_ok()
    }

    /// `what`, said about this server.
    pub fn says(&self, what: &str) -> String {
        format!("{}: {what}", self.server)
    }
}

/// A response, or None for a well-formed message of a kind we do not know.
pub fn decode(bytes: &[u8]) -> Result<Option<signal_response::Message>, prost::DecodeError> {
    SignalResponse::decode(bytes).map(|r| r.message)
}

/// `wss://host/rtc?access_token=...&auto_subscribe=1&sdk=...&protocol=17`, from the room's URL
/// (`wss://host` or `wss://host/prefix`); `http(s)` is taken as `ws(s)`, as the SDKs do.
pub fn rtc_url(url: &Url, token: &str, attempt: Attempt<'_>) -> Result<Url, String> {
    let mut rtc = url.clone();
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(format!("LiveKit {url}: {other}: is not a WebSocket URL")),
    };
    rtc.set_scheme(scheme)
        .map_err(|_| format!("LiveKit {url}: cannot use as a WebSocket URL"))?;
    let path = format!("{}/rtc", rtc.path().trim_end_matches('/'));
    rtc.set_path(&path);
    rtc.set_query(None);
    rtc.set_fragment(None);
    {
        let mut query = rtc.query_pairs_mut();
        query
            .append_pair("access_token", token)
            .append_pair("auto_subscribe", "1")
            .append_pair("sdk", "rust")
            .append_pair("version", concat!("salle-", env!("CARGO_PKG_VERSION")))
            .append_pair("protocol", &PROTOCOL_VERSION.to_string())
            .append_pair("adaptive_stream", "0");
        if let Attempt::Resume { sid } = attempt {
            query.append_pair("reconnect", "1").append_pair("sid", sid);
        }
    }
    Ok(rtc)
}

/// What a failed WebSocket open means to people: LiveKit answers a bad or expired token with
/// 401 and a line of text, an unknown room or a server error with other statuses.
fn refusal(e: tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            let hint = match status.as_u16() {
                401 | 403 => " (the server refused the room's token)",
                _ => "",
            };
            if body.is_empty() {
                format!("refused with {status}{hint}")
            } else {
                format!("refused with {status}{hint}: {body}")
            }
        }
        e => format!("cannot connect: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtc_url_carries_the_token_and_the_protocol() {
        let url = Url::parse("https://meet.example.org/lk").unwrap();
        let rtc = rtc_url(&url, "a.b.c", Attempt::Join).unwrap();
        assert_eq!(rtc.scheme(), "wss");
        assert_eq!(rtc.path(), "/lk/rtc");
        let query: Vec<(String, String)> = rtc.query_pairs().into_owned().collect();
        assert!(query.contains(&("access_token".into(), "a.b.c".into())));
        assert!(query.contains(&("protocol".into(), "17".into())));
        assert!(!query.iter().any(|(k, _)| k == "reconnect"));

        let resume = rtc_url(&url, "t", Attempt::Resume { sid: "PA_1" }).unwrap();
        let query: Vec<(String, String)> = resume.query_pairs().into_owned().collect();
        assert!(query.contains(&("reconnect".into(), "1".into())));
        assert!(query.contains(&("sid".into(), "PA_1".into())));

        assert!(rtc_url(&Url::parse("ftp://x/").unwrap(), "t", Attempt::Join).is_err());
    }

    #[test]
    fn broken_and_unknown_messages_are_told_apart() {
        // Field 1 (join) as a length-delimited message that runs past the end: broken.
        assert!(decode(&[0x0a, 0x40, 0x01]).is_err());
        // Field 999 (unknown to this client) with a varint: well-formed, unknown.
        assert_eq!(decode(&[0xb8, 0x3e, 0x01]).unwrap(), None);
        // A pong.
        let pong = SignalResponse {
            message: Some(signal_response::Message::Pong(42)),
        }
        .encode_to_vec();
        assert_eq!(
            decode(&pong).unwrap(),
            Some(signal_response::Message::Pong(42))
        );
    }
}
