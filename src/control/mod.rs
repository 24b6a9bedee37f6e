//! The local control socket: how `salle status`, `salle join` & co. talk to the running daemon.
//!
//! One JSON object per line each way (request, then response), over a Unix socket of mode 0660
//! owned by the service's group. Being on the device, its users count as people in the room.

mod client;
mod server;
mod socket_path;

pub use client::{request, ClientError};
pub use server::{bind, serve, ControlRequest};
pub use socket_path::{client_socket_path, server_socket_path};
