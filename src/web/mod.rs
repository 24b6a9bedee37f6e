//! The web surface (`salle web`): the room's HTTPS API and console, in a process of its own.
//!
//! Why a separate process: a flood of web requests, a slow client or a bug here must never
//! stall or crash a call. This process talks to the daemon only through its control socket
//! and the `api` model (a few requests at a time, status answers shared), runs as its own
//! unprivileged user with its own systemd unit, and can be stopped or crash without the room
//! noticing.
//!
//! Layout: `tls` (the device certificate), `store` (accounts, tokens, the setup code),
//! `auth` (roles, sessions, lockout), `audit` (the audit log), `daemon_link` (the control
//! socket), `http` (the routes), `console` (the browser side and its catalogues), `metrics`
//! (Prometheus), `redact` (no secret leaves), `files` (0600, atomic writes).

mod audit;
mod auth;
mod console;
mod daemon_link;
mod files;
mod http;
mod metrics;
mod redact;
mod store;
mod tls;

pub use auth::Role;
pub use store::SetupInfo;

use crate::config::Config;
use crate::i18n::Language;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The OpenAPI 3 document of `/api/v1`, kept in the repository (a test compares it with what
/// the server serves).
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// How often the status feed asks the daemon while someone subscribes to events.
const FEED_PERIOD: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("control socket: {0}")]
    Control(#[from] crate::control::ClientError),
}

/// Everything the routes share.
pub struct Web {
    store: Mutex<store::Store>,
    sessions: Mutex<auth::Sessions>,
    lockout: Mutex<auth::Lockout>,
    audit: audit::Audit,
    daemon: daemon_link::DaemonLink,
    config_path: Option<PathBuf>,
    language: Language,
    fingerprint: String,
    url: String,
    status_feed: tokio::sync::broadcast::Sender<Arc<serde_json::Value>>,
    feed_wanted: tokio::sync::Notify,
}

/// Where `salle status` finds the setup code and fingerprint the web surface published.
pub fn setup_info(config: &Config) -> Option<SetupInfo> {
    let bytes = std::fs::read(config.web.state_dir.join("setup.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Runs the web surface until it is stopped.
pub async fn run(config: Config, config_path: Option<PathBuf>) -> Result<(), WebError> {
    let state_dir = config.web.state_dir.clone();
    let store = store::Store::open(&state_dir)?;
    let identity = tls::identity(
        config.web.certificate.as_deref(),
        config.web.key.as_deref(),
        &state_dir,
        &host_name(),
    )?;
    let listener = listener(config.web.listen)?;
    let local = listener.local_addr().map_err(|source| WebError::Listen {
        addr: config.web.listen.to_string(),
        source,
    })?;
    let url = format!("https://{}:{}/", host_for_url(&local), local.port());
    store.write_setup_info(&identity.fingerprint, &url)?;
    let control = crate::control::client_socket_path(&config)?;
    let manage = config
        .management
        .socket
        .clone()
        .unwrap_or_else(|| control.with_file_name("manage.sock"));
    let (status_feed, _) = tokio::sync::broadcast::channel(16);
    let web = Arc::new(Web {
        store: Mutex::new(store),
        sessions: Mutex::default(),
        lockout: Mutex::default(),
        audit: audit::Audit::new(state_dir.join("audit.log")),
        daemon: daemon_link::DaemonLink::new(manage, control),
        config_path,
        language: config.room.language,
        fingerprint: identity.fingerprint.clone(),
        url: url.clone(),
        status_feed,
        feed_wanted: tokio::sync::Notify::new(),
    });
    tracing::info!(
        "web console at {url} (certificate SHA-256 {})",
        identity.fingerprint
    );
    if web.store.lock().unwrap().setup_code.is_some() {
        tracing::info!("unclaimed: the setup code is on the room's screen and in `salle status`");
    }
    // The line tests and scripts wait for.
    println!("listening on {local}");
    let code = web.store.lock().unwrap().setup_code.clone();
    web.daemon
        .setup(code, web.fingerprint.clone(), web.url.clone())
        .await;
    tokio::spawn(feed(web.clone()));
    crate::system::notify::ready("web console ready");
    serve(listener, identity.config, http::router(web)).await;
    Ok(())
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "salle".into())
}

fn host_for_url(addr: &std::net::SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => "localhost".into(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// The socket systemd passed (`salle-web.socket`, e.g. on 443), else our own on a high port.
fn listener(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, WebError> {
    let io = |source| WebError::Listen {
        addr: addr.to_string(),
        source,
    };
    let from_systemd = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id())
        && std::env::var("LISTEN_FDS").ok().as_deref() == Some("1");
    let std_listener = if from_systemd {
        use std::os::fd::FromRawFd;
        // SAFETY: systemd passes the listening socket as fd 3 (SD_LISTEN_FDS_START) to this
        // process alone (LISTEN_PID checked above), and nothing else owns it.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
        tracing::info!("listening on the socket systemd passed");
        listener
    } else {
        std::net::TcpListener::bind(addr).map_err(io)?
    };
    std_listener.set_nonblocking(true).map_err(io)?;
    tokio::net::TcpListener::from_std(std_listener).map_err(io)
}

/// Asks the daemon for its status while someone subscribes to events, and passes it on.
async fn feed(web: Arc<Web>) {
    loop {
        if web.status_feed.receiver_count() == 0 {
            web.feed_wanted.notified().await;
            continue;
        }
        if let Ok(status) = web.daemon.status().await {
            let _ = web.status_feed.send(status);
        }
        tokio::time::sleep(FEED_PERIOD).await;
    }
}

/// Accepts TLS connections and serves HTTP/1.1 on each, within limits: a bounded number of
/// connections, a TLS handshake and request headers that must arrive in time.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: axum::Router,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (tcp, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!("{from}: TLS: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let service = hyper::service::service_fn(
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(from));
                    let mut router = router.clone();
                    async move {
                        use tower::Service;
                        router.call(request).await
                    }
                },
            );
            let result = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            if let Err(e) = result {
                tracing::debug!("{from}: {e}");
            }
        });
    }
}
