//! The room's TURN servers as the WebRTC stack gets them: UDP ones as they are, TCP and TLS
//! ones through a loopback bridge each (`crate::net::turn_bridge`), kept for the life of the
//! peer connection; and the name of the path a candidate pair takes, for status.

use super::ice_server::IceServer;
use crate::net::turn_bridge::{StreamTransport, StreamTurnServer, TurnBridge};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The bridges a peer connection's TURN servers need; they stop when this is dropped.
#[derive(Default)]
pub struct Relays {
    bridges: Vec<TurnBridge>,
}

/// `servers` for the stack, with every TCP or TLS TURN URL replaced by its bridge's loopback
/// UDP URL (same credentials). `bind` are the stack's local addresses: the bridge listens where
/// they reach it without leaving the machine: on the loopback address the stack itself is
/// bound to if it is (a room confined to loopback, as in the tests), else on 127.0.0.1 (::1).
pub async fn bridge(
    servers: &[IceServer],
    bind: &[SocketAddr],
    ca_file: Option<&Path>,
) -> Result<(Vec<IceServer>, Relays), String> {
    let loopback = bind
        .iter()
        .map(SocketAddr::ip)
        .find(IpAddr::is_loopback)
        .unwrap_or(if bind.iter().any(SocketAddr::is_ipv4) {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        });
    let needs_tls = servers
        .iter()
        .flat_map(|s| &s.urls)
        .filter_map(|u| StreamTurnServer::parse(u))
        .any(|s| s.transport == StreamTransport::Tls);
    let tls = if needs_tls {
        Some(crate::net::tls::client_config(ca_file).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mut relays = Relays::default();
    let mut out = Vec::new();
    for server in servers {
        let mut direct = Vec::new();
        for url in &server.urls {
            let Some(stream) = StreamTurnServer::parse(url) else {
                direct.push(url.clone());
                continue;
            };
            let bridge = TurnBridge::start(stream, loopback, tls.clone())
                .await
                .map_err(|e| format!("TURN bridge for {url}: {e}"))?;
            out.push(IceServer {
                urls: vec![bridge.udp_url()],
                ..server.clone()
            });
            relays.bridges.push(bridge);
        }
        if !direct.is_empty() {
            out.push(IceServer {
                urls: direct,
                ..server.clone()
            });
        }
    }
    Ok((out, relays))
}

impl Relays {
    /// The path a local candidate takes: `udp`, `tcp` (ICE-TCP), `turn/udp`, `turn/tcp`,
    /// `turn/tls`, `turn/tls via proxy`. `url` is the TURN URL a relayed candidate came from.
    pub fn path(&self, candidate_type: &str, protocol: &str, url: &str) -> String {
        if candidate_type != "relay" {
            return protocol.to_ascii_lowercase();
        }
        self.bridges
            .iter()
            .find(|b| !url.is_empty() && url.contains(&b.local_addr().to_string()))
            .map_or("turn/udp".to_string(), TurnBridge::path)
    }

    /// Why the streams to TCP and TLS TURN servers failed, if they did.
    pub fn problems(&self) -> Vec<String> {
        self.bridges
            .iter()
            .filter_map(TurnBridge::last_error)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stream_urls_are_bridged_and_the_others_kept() {
        let servers = [IceServer {
            urls: vec![
                "stun:127.0.0.1:3478".into(),
                "turn:127.0.0.1:3478?transport=tcp".into(),
                "turn:127.0.0.1:3478?transport=udp".into(),
            ],
            username: "room".into(),
            credential: "secret".into(),
        }];
        let bind = [SocketAddr::from(([127, 0, 0, 1], 0))];
        let (out, relays) = bridge(&servers, &bind, None).await.unwrap();
        assert_eq!(out.len(), 2);
        assert!(out[0].urls[0].starts_with("turn:127.0.0.1:"), "{out:?}");
        assert!(out[0].urls[0].ends_with("?transport=udp"), "{out:?}");
        assert_eq!(out[0].username, "room");
        assert_eq!(
            out[1].urls,
            ["stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"]
        );
        let bridged = &out[0].urls[0];
        assert_eq!(relays.path("relay", "udp", bridged), "turn/tcp");
        assert_eq!(
            relays.path("relay", "udp", "turn:10.0.0.1:3478"),
            "turn/udp"
        );
        assert_eq!(relays.path("host", "udp", ""), "udp");
        assert_eq!(relays.path("host", "TCP", ""), "tcp");
    }
}
