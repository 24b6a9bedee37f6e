//! The local control socket: how `salle status`, `salle join` & co. talk to the running daemon.
//!
//! One JSON object per line each way (request, then response), over a Unix socket of mode 0660
//! owned by the service's group. Being on the device, its users count as people in the room.
//!
//! The management socket (`manage.sock` beside it) serves the same model to the web surface
//! (and later the fleet agent): every request through it is remote, whatever the client says
//! (a remote user may mute the room, never unmute it; the setup code is never given to it).

mod client;
mod server;
mod socket_path;

pub use client::{request, ClientError};
pub use server::{bind, serve, status_feed, ControlRequest, StatusFeed};
pub use socket_path::{client_socket_path, manage_socket_path, server_socket_path};
