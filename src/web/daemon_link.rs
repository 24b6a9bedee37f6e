//! The web surface's only way to the room: the daemon's control socket and the `api` model.
//! A few requests at a time at most, and a status shared by callers for a moment, so a flood
//! of web requests never floods the daemon's control queue.

use crate::api::{Answer, ApiError, Request};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// How long a status answer is reused for other callers.
const STATUS_FRESH: Duration = Duration::from_millis(250);
/// Requests in flight to the daemon at once.
const IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    #[error("the room daemon does not answer: {0}")]
    Unreachable(String),
}

pub struct DaemonLink {
    /// The management socket: the daemon counts every request on it as remote.
    manage: PathBuf,
    /// The local control socket, for the one request only the device may make (`setup`:
    /// handing the daemon the setup code to show on the room's screen).
    control: PathBuf,
    gate: Semaphore,
    status: Mutex<Option<(Instant, Arc<serde_json::Value>)>>,
    /// The daemon's Prometheus text (None: it does not give it), shared like the status.
    metrics: Mutex<Option<(Instant, Option<String>)>>,
}

impl DaemonLink {
    pub fn new(manage: PathBuf, control: PathBuf) -> DaemonLink {
        DaemonLink {
            manage,
            control,
            gate: Semaphore::new(IN_FLIGHT),
            status: Mutex::new(None),
            metrics: Mutex::new(None),
        }
    }

    /// The socket remote requests go to: the management socket; the control socket only
    /// while a daemon without one runs (the web surface refuses unmuting on its own too).
    fn remote_socket(&self) -> PathBuf {
        if self.manage.exists() {
            self.manage.clone()
        } else {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                tracing::warn!(
                    "no management socket at {}: using the control socket",
                    self.manage.display()
                )
            });
            self.control.clone()
        }
    }

    /// Hands the daemon the setup code (None once claimed), the certificate's fingerprint
    /// and the console's address, over the local control socket.
    pub async fn setup(&self, code: Option<String>, fingerprint: String, url: String) {
        let socket = self.control.clone();
        let request = Request::Setup {
            code,
            fingerprint: Some(fingerprint),
            urls: vec![url],
        };
        let answer =
            tokio::task::spawn_blocking(move || crate::control::request(&socket, &request)).await;
        match answer {
            // Not the message: it may repeat the request, code included.
            Ok(Ok(Answer::Error { code, .. })) => {
                tracing::info!("the daemon does not show the setup code ({code:?})")
            }
            Ok(Err(e)) => tracing::warn!("setup code to the daemon: {e}"),
            _ => {}
        }
    }

    /// Sends a request as a remote one; the answer is the daemon's (maybe an error answer).
    pub async fn request(&self, request: Request) -> Result<Answer, LinkError> {
        let _permit = self.gate.acquire().await.expect("never closed");
        let socket = self.remote_socket();
        let answer =
            tokio::task::spawn_blocking(move || crate::control::request(&socket, &request))
                .await
                .map_err(|e| LinkError::Unreachable(e.to_string()))?
                .map_err(|e| LinkError::Unreachable(e.to_string()))?;
        if let Answer::Status { status, .. } = &answer {
            let value = serde_json::to_value(status).expect("status serialises");
            *self.status.lock().await = Some((Instant::now(), Arc::new(value)));
        }
        Ok(answer)
    }

    /// The daemon's own Prometheus figures, recent enough; None when it gives none (then
    /// `/metrics` is made from the status).
    pub async fn metrics(&self) -> Option<String> {
        let mut cached = self.metrics.lock().await;
        if let Some((at, text)) = cached.as_ref() {
            if at.elapsed() < STATUS_FRESH {
                return text.clone();
            }
        }
        let text = match self.request(Request::Metrics).await {
            Ok(Answer::Metrics { metrics, .. }) => Some(metrics.text),
            _ => None,
        };
        *cached = Some((Instant::now(), text.clone()));
        text
    }

    /// The room's status as JSON, recent enough.
    pub async fn status(&self) -> Result<Arc<serde_json::Value>, LinkError> {
        let mut cached = self.status.lock().await;
        if let Some((at, value)) = cached.as_ref() {
            if at.elapsed() < STATUS_FRESH {
                return Ok(value.clone());
            }
        }
        // Hold the lock while asking: concurrent callers wait for this answer instead of
        // each asking the daemon.
        let _permit = self.gate.acquire().await.expect("never closed");
        let socket = self.remote_socket();
        let answer =
            tokio::task::spawn_blocking(move || crate::control::request(&socket, &Request::Status))
                .await
                .map_err(|e| LinkError::Unreachable(e.to_string()))?
                .map_err(|e| LinkError::Unreachable(e.to_string()))?;
        match answer {
            Answer::Status { status, .. } => {
                let value = Arc::new(serde_json::to_value(status).expect("status serialises"));
                *cached = Some((Instant::now(), value.clone()));
                Ok(value)
            }
            Answer::Error { error, .. } => Err(LinkError::Unreachable(error)),
            other => Err(LinkError::Unreachable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(_: LinkError) -> ApiError {
        ApiError::ShuttingDown
    }
}
