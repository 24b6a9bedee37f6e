//! Remote management, the daemon's side (issue 16): status events for subscribers, the
//! configuration at run time (read without secrets, check, diff, atomic writes with the
//! previous version kept, rollback), diagnostics (log ring, bundle, metrics) and the
//! setup hand-over from the web surface. The web surface itself is another process that
//! speaks the `api` model over the management socket, where every request is remote.

pub mod diff;
pub mod events;
pub mod logs;
mod manager;
pub mod metrics;
pub mod secrets;
pub mod store;
pub mod trial;

pub use manager::{Action, Manager};
