//! The Janus gateway's JSON API over WebSocket (subprotocol `janus-protocol`): requests matched
//! to their answers by transaction, events for the rest, and the session keepalive.
//!
//! A request is answered at once (`success` or `error`), or acknowledged (`ack`) and answered
//! later by an `event` carrying the same transaction (plugin requests such as VideoRoom
//! `join`). The event can come before the ack; either way the first non-ack message with the
//! transaction is the answer.

use super::http::excerpt;
use crate::rtc::recovery::RestartError;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

/// Janus drops a session after 60 s without a message; keep well inside that.
const KEEPALIVE: Duration = Duration::from_secs(25);
/// How long a request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// Why a request failed; the text names the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JanusError {
    /// No answer in time, or the connection closed.
    NoAnswer(String),
    /// Janus or its plugin answered with an error.
    Refused(String),
}

impl From<JanusError> for String {
    fn from(error: JanusError) -> String {
        match error {
            JanusError::NoAnswer(text) | JanusError::Refused(text) => text,
        }
    }
}

impl From<JanusError> for RestartError {
    fn from(error: JanusError) -> RestartError {
        match error {
            JanusError::NoAnswer(text) => RestartError::Unreachable(text),
            JanusError::Refused(text) => RestartError::Refused(text),
        }
    }
}

/// One Janus session over one WebSocket.
pub struct JanusApi {
    url: Url,
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_transaction: AtomicU64,
    session: u64,
}

impl JanusApi {
    /// Connects, creates a session and starts its keepalive. Messages that answer no request
    /// (plugin events, `webrtcup`, `hangup`, `timeout`...) arrive on `events`; the channel
    /// closes when the connection is lost.
    pub async fn connect(
        url: &Url,
        events: mpsc::UnboundedSender<Value>,
    ) -> Result<JanusApi, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("Janus {url}: {e}"))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "janus-protocol".parse().expect("a valid header value"),
        );
        let (socket, _) =
            tokio::time::timeout(ANSWER_TIMEOUT, crate::net::websocket::connect(request))
                .await
                .map_err(|_| format!("Janus {url}: no answer in time"))?
                .map_err(|e| format!("Janus {url}: cannot connect: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        let pending: Pending = Arc::default();
        let answers = pending.clone();
        let source = url.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    tracing::warn!("Janus {source}: not JSON: {}", excerpt(&text));
                    continue;
                };
                if value["janus"] == "ack" {
                    continue;
                }
                let waiting = value["transaction"]
                    .as_str()
                    .and_then(|t| answers.lock().unwrap_or_else(|e| e.into_inner()).remove(t));
                match waiting {
                    Some(answer) => {
                        let _ = answer.send(value);
                    }
                    None => {
                        if events.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
            // Dropping `events` tells the session the connection is gone.
        });
        let mut api = JanusApi {
            url: url.clone(),
            outgoing,
            pending,
            next_transaction: AtomicU64::new(1),
            session: 0,
        };
        let created = api.request(json!({"janus": "create"})).await?;
        api.session = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| api.says("created a session without an id"))?;
        let keepalive = api.outgoing.clone();
        let session = api.session;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEPALIVE);
            tick.tick().await;
            loop {
                tick.tick().await;
                let message = json!({"janus": "keepalive", "session_id": session, "transaction": "keepalive"});
                if keepalive.send(Message::text(message.to_string())).is_err() {
                    return;
                }
            }
        });
        Ok(api)
    }

    /// Attaches to a plugin; returns the handle id.
    pub async fn attach(&self, plugin: &str) -> Result<u64, String> {
        let answer = self
            .request(json!({"janus": "attach", "session_id": self.session, "plugin": plugin}))
            .await?;
        answer["data"]["id"]
            .as_u64()
            .ok_or_else(|| self.says("attached without a handle id"))
    }

    /// A plugin message (with an SDP when `jsep` is given); returns the plugin's answer: its
    /// `plugindata.data`, and the answer's `jsep` if any.
    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<(Value, Option<Value>), JanusError> {
        let mut request = json!({"janus": "message", "session_id": self.session, "handle_id": handle, "body": body});
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        let answer = self.request(request).await?;
        let data = answer["plugindata"]["data"].clone();
        if let Some(error) = data["error"].as_str() {
            let code = data["error_code"].as_u64().unwrap_or_default();
            return Err(JanusError::Refused(
                self.says(&format!("{error} (VideoRoom error {code})")),
            ));
        }
        let jsep = answer.get("jsep").cloned();
        Ok((data, jsep))
    }

    /// Tells Janus all our candidates are in the SDP (full ICE).
    pub fn candidates_done(&self, handle: u64) {
        self.send(
            json!({"janus": "trickle", "session_id": self.session, "handle_id": handle,
                         "candidate": {"completed": true}, "transaction": "trickle"}),
        );
    }

    /// Whether Janus answers within `limit`: the signalling works now, both ways.
    pub async fn ping(&self, limit: Duration) -> Result<(), JanusError> {
        self.request_within(json!({"janus": "ping"}), limit)
            .await
            .map(|_| ())
    }

    pub fn detach(&self, handle: u64) {
        self.send(json!({"janus": "detach", "session_id": self.session, "handle_id": handle, "transaction": "detach"}));
    }

    /// Ends the session (Janus hangs every handle up).
    pub fn destroy(&self) {
        self.send(
            json!({"janus": "destroy", "session_id": self.session, "transaction": "destroy"}),
        );
        let _ = self.outgoing.send(Message::Close(None));
    }

    pub fn says(&self, what: &str) -> String {
        format!("Janus {}: {what}", self.url)
    }

    fn send(&self, message: Value) {
        let _ = self.outgoing.send(Message::text(message.to_string()));
    }

    async fn request(&self, request: Value) -> Result<Value, JanusError> {
        self.request_within(request, ANSWER_TIMEOUT).await
    }

    async fn request_within(
        &self,
        mut request: Value,
        limit: Duration,
    ) -> Result<Value, JanusError> {
        let transaction = format!("t{}", self.next_transaction.fetch_add(1, Ordering::Relaxed));
        request["transaction"] = json!(transaction);
        let (answer_tx, answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(transaction.clone(), answer_tx);
        let what = request["body"]["request"]
            .as_str()
            .or(request["janus"].as_str())
            .unwrap_or("request")
            .to_string();
        self.send(request);
        let answer = tokio::time::timeout(limit, answer).await;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&transaction);
        let answer = answer
            .map_err(|_| {
                JanusError::NoAnswer(
                    self.says(&format!("no answer to \"{what}\" within {limit:?}")),
                )
            })?
            .map_err(|_| JanusError::NoAnswer(self.says("the connection closed")))?;
        if answer["janus"] == "error" {
            let reason = answer["error"]["reason"].as_str().unwrap_or("error");
            let code = answer["error"]["code"].as_u64().unwrap_or_default();
            return Err(JanusError::Refused(
                self.says(&format!("\"{what}\" refused: {reason} (code {code})")),
            ));
        }
        Ok(answer)
    }
}
