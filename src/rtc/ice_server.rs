//! A STUN or TURN server, in its own module because both the peer connection (`peer`) and the
//! TURN bridges (`relay`) speak of it, and `peer` builds on `relay`.

/// A STUN or TURN server, from the room's configuration or from the meeting service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp|tcp`, `turns:host:443?transport=tcp`
    /// (TCP and TLS through a bridge each: `super::relay`).
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}
