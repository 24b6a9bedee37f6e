//! TURN over TCP or TLS for a WebRTC stack that relays over UDP only (webrtc-rs 0.21 skips
//! `turns:` and `?transport=tcp` URLs): a loopback UDP socket stands for the server, and each
//! local socket that talks to it gets its own stream to the real server (TURN allocations are
//! per 5-tuple, so per stream).
//!
//! The bridge only frames, it speaks no TURN: the stack's Allocate, permissions, channel
//! bindings and refreshes pass through unchanged, and the server sees an ordinary TCP or TLS
//! client asking for a UDP relay (RFC 8656 §3.1: the relayed side stays UDP). Over a stream,
//! ChannelData is padded to a multiple of 4 (RFC 8656 §12.5); the way back is split by the
//! messages' own lengths (`TurnStreamDecoder`). When webrtc-rs relays over streams itself
//! (webrtc-rs#539), this module goes.

use rtc::shared::turn_framing::TurnStreamDecoder;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long connecting (TCP and the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After a stream failed this soon, datagrams are dropped (the stack retransmits) rather than
/// each opening a new connection.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Datagrams waiting for the stream, per local socket; more are dropped, as UDP would.
const QUEUE: usize = 512;

/// How the bridge reaches the TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamTransport {
    Tcp,
    Tls,
}

/// A TURN server reached over a stream: `turn:host:port?transport=tcp` or `turns:host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTurnServer {
    /// The URL as given, for messages and status.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub transport: StreamTransport,
}

impl StreamTurnServer {
    /// The server a URL names if it needs a stream; None for UDP TURN and STUN.
    pub fn parse(url: &str) -> Option<StreamTurnServer> {
        let lower = url.trim().to_ascii_lowercase();
        let (rest, transport) = if let Some(rest) = lower.strip_prefix("turns:") {
            (rest, StreamTransport::Tls)
        } else if let Some(rest) = lower.strip_prefix("turn:") {
            if !rest.contains("transport=tcp") {
                return None;
            }
            (rest, StreamTransport::Tcp)
        } else {
            return None;
        };
        let authority = rest.split('?').next().unwrap_or_default();
        let default_port = match transport {
            StreamTransport::Tcp => 3478,
            StreamTransport::Tls => 5349,
        };
        let (host, port) = split_host_port(authority, default_port)?;
        Some(StreamTurnServer {
            url: url.trim().to_string(),
            host,
            port,
            transport,
        })
    }

    /// The path's name in status.
    pub fn path(&self) -> &'static str {
        match self.transport {
            StreamTransport::Tcp => "turn/tcp",
            StreamTransport::Tls => "turn/tls",
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if rest.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None if !authority.is_empty() => Some((authority.to_string(), default_port)),
        None => None,
    }
}

/// A running bridge: its loopback socket, the server behind it, and the last failure (for
/// status); stopped when dropped.
pub struct TurnBridge {
    pub server: StreamTurnServer,
    local: SocketAddr,
    last_error: Arc<Mutex<Option<String>>>,
    /// Whether the last stream to the server went through the HTTP proxy.
    via_proxy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl TurnBridge {
    /// Opens the loopback socket (on `loopback`) and serves it. `tls` is needed for `turns:`.
    pub async fn start(
        server: StreamTurnServer,
        loopback: IpAddr,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> std::io::Result<TurnBridge> {
        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(loopback, 0)).await?);
        let local = socket.local_addr()?;
        let last_error = Arc::new(Mutex::new(None));
        let via_proxy = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            last_error: last_error.clone(),
            via_proxy: via_proxy.clone(),
        };
        let task = tokio::spawn(serve(socket, server.clone(), tls, shared));
        tracing::debug!("TURN bridge {local} -> {}", server.url);
        Ok(TurnBridge {
            server,
            local,
            last_error,
            via_proxy,
            task,
        })
    }

    /// What the WebRTC stack is given instead of the server's URL.
    pub fn udp_url(&self) -> String {
        let host = match self.local.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        format!("turn:{host}:{}?transport=udp", self.local.port())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The path's name in status: the server's (`turn/tls`), `via proxy` when tunnelled.
    pub fn path(&self) -> String {
        let path = self.server.path();
        if self.via_proxy.load(Ordering::Relaxed) {
            format!("{path} via proxy")
        } else {
            path.to_string()
        }
    }

    /// Why the stream to the server last failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

impl Drop for TurnBridge {
    fn drop(&mut self) {
        // Aborting the task drops its JoinSet, which aborts every stream.
        self.task.abort();
    }
}

/// What the streams report to the bridge's owner.
#[derive(Clone)]
struct Shared {
    last_error: Arc<Mutex<Option<String>>>,
    via_proxy: Arc<AtomicBool>,
}

/// One local socket's stream: its queue, and when it was opened.
struct Link {
    queue: mpsc::Sender<Vec<u8>>,
    opened: Instant,
}

async fn serve(
    socket: Arc<UdpSocket>,
    server: StreamTurnServer,
    tls: Option<Arc<rustls::ClientConfig>>,
    shared: Shared,
) {
    let mut links: std::collections::HashMap<SocketAddr, Link> = Default::default();
    let mut streams = JoinSet::new();
    let mut buffer = vec![0u8; 65536];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                let (n, from) = match received {
                    Ok(received) => received,
                    Err(e) => {
                        // ICMP errors on a loopback socket: nothing to do but go on.
                        tracing::trace!("TURN bridge {}: {e}", server.url);
                        continue;
                    }
                };
                let stale = links
                    .get(&from)
                    .is_none_or(|l| l.queue.is_closed() && l.opened.elapsed() >= RETRY_AFTER);
                if stale {
                    let (queue, outgoing) = mpsc::channel(QUEUE);
                    streams.spawn(carry(
                        socket.clone(),
                        from,
                        server.clone(),
                        tls.clone(),
                        outgoing,
                        shared.clone(),
                    ));
                    links.insert(from, Link { queue, opened: Instant::now() });
                }
                if let Some(link) = links.get(&from) {
                    let _ = link.queue.try_send(buffer[..n].to_vec());
                }
            }
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Opens the stream to the server, then carries `from`'s datagrams to it and its messages back
/// to `from` until either side ends. A failure is logged and kept for status.
async fn carry(
    socket: Arc<UdpSocket>,
    from: SocketAddr,
    server: StreamTurnServer,
    tls: Option<Arc<rustls::ClientConfig>>,
    outgoing: mpsc::Receiver<Vec<u8>>,
    shared: Shared,
) {
    let result = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&server, tls)).await {
        Err(_) => Err(format!("no connection in {CONNECT_TIMEOUT:?}")),
        Ok(Err(e)) => Err(e),
        Ok(Ok((stream, via_proxy))) => {
            let how = if via_proxy { " via proxy" } else { "" };
            tracing::info!(
                "TURN server {}: connected ({}{how})",
                server.url,
                server.path()
            );
            shared.via_proxy.store(via_proxy, Ordering::Relaxed);
            *shared.last_error.lock().unwrap() = None;
            pump(stream, &socket, from, outgoing).await
        }
    };
    if let Err(why) = result {
        let why = format!("TURN server {}: {why}", server.url);
        tracing::warn!("{why}");
        *shared.last_error.lock().unwrap() = Some(why);
    }
}

/// The stream to the server (directly or through the HTTP proxy: true then).
async fn connect(
    server: &StreamTurnServer,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(Box<dyn Stream>, bool), String> {
    let (tcp, via_proxy) = super::proxy::connect(&server.host, server.port)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    match server.transport {
        StreamTransport::Tcp => Ok((Box::new(tcp), via_proxy)),
        StreamTransport::Tls => {
            let config = tls.ok_or("no TLS configuration")?;
            let name = rustls::pki_types::ServerName::try_from(server.host.clone())
                .map_err(|e| format!("not a TLS server name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {}", super::tls::describe(&e)))?;
            Ok((Box::new(stream), via_proxy))
        }
    }
}

/// Both directions of one stream, until one ends.
async fn pump(
    stream: Box<dyn Stream>,
    socket: &UdpSocket,
    from: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
) -> Result<(), String> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let up = async {
        while let Some(datagram) = outgoing.recv().await {
            writer
                .write_all(&framed(datagram))
                .await
                .map_err(|e| format!("sending: {e}"))?;
        }
        Ok::<(), String>(())
    };
    let down = async {
        let mut decoder = TurnStreamDecoder::new();
        let mut buffer = vec![0u8; 16384];
        loop {
            let n = reader
                .read(&mut buffer)
                .await
                .map_err(|e| format!("receiving: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_string());
            }
            decoder.extend_from_slice(&buffer[..n]);
            while let Some(message) = decoder.next_message().map_err(|e| e.to_string())? {
                let _ = socket.send_to(&message, from).await;
            }
        }
    };
    tokio::select! {
        result = up => result,
        result = down => result,
    }
}

/// A datagram as it goes on a stream: STUN as it is (always a multiple of 4 long), ChannelData
/// padded to a multiple of 4.
pub fn framed(mut datagram: Vec<u8>) -> Vec<u8> {
    let is_channel_data = datagram.first().is_some_and(|b| b >> 6 == 0b01);
    if is_channel_data {
        datagram.resize(datagram.len().next_multiple_of(4), 0);
    }
    datagram
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls_are_recognised_and_udp_ones_are_not() {
        let tls = StreamTurnServer::parse("turns:turn.example.fr:443?transport=tcp").unwrap();
        assert_eq!((tls.host.as_str(), tls.port), ("turn.example.fr", 443));
        assert_eq!(tls.transport, StreamTransport::Tls);
        let tcp = StreamTurnServer::parse("turn:10.0.0.1?transport=tcp").unwrap();
        assert_eq!((tcp.host.as_str(), tcp.port), ("10.0.0.1", 3478));
        assert_eq!(tcp.path(), "turn/tcp");
        let v6 = StreamTurnServer::parse("turns:[::1]:5349").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5349));
        assert_eq!(StreamTurnServer::parse("turn:h:3478?transport=udp"), None);
        assert_eq!(StreamTurnServer::parse("turn:h:3478"), None);
        assert_eq!(StreamTurnServer::parse("stun:h:3478"), None);
        assert_eq!(StreamTurnServer::parse("turns::443"), None);
    }

    #[test]
    fn channel_data_is_padded_and_stun_is_not() {
        assert_eq!(
            framed(vec![0x40, 0, 0, 3, 1, 2, 3]),
            vec![0x40, 0, 0, 3, 1, 2, 3, 0]
        );
        let stun = vec![
            0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        assert_eq!(framed(stun.clone()), stun);
    }

    /// The bridge against a stream server that echoes what it reads: a datagram sent to the
    /// bridge comes back whole, padding included, and two local sockets get two streams.
    #[tokio::test]
    async fn datagrams_cross_a_stream_and_come_back_per_local_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let server =
            StreamTurnServer::parse(&format!("turn:127.0.0.1:{port}?transport=tcp")).unwrap();
        let bridge = TurnBridge::start(server, "127.0.0.1".parse().unwrap(), None)
            .await
            .unwrap();
        assert!(bridge.udp_url().starts_with("turn:127.0.0.1:"));
        for _ in 0..2 {
            let local = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let channel_data = vec![0x40, 0x01, 0, 5, 1, 2, 3, 4, 5];
            local
                .send_to(&channel_data, bridge.local_addr())
                .await
                .unwrap();
            let mut back = [0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(10), local.recv(&mut back))
                .await
                .expect("the datagram back")
                .unwrap();
            assert_eq!(&back[..n], &[0x40, 0x01, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(bridge.last_error(), None);
    }
}
