//! How the room reaches servers on locked-down networks: TLS trust (the system's roots plus
//! `[network] ca_file`) and TURN over TCP or TLS, bridged for a WebRTC stack that relays over
//! UDP only; the HTTP proxy every outgoing connection goes through (`proxy`, `websocket`).

pub mod proxy;
pub mod tls;
pub mod turn_bridge;
pub mod websocket;
