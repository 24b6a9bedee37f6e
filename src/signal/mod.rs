//! Meeting services. Each service is an adapter behind the `MeetingSession` seam; this issue
//! provides the meeting-URL forms and a simulated service, the real adapters (La Suite Meet /
//! LiveKit, WHIP+WHEP, Janus) plug in behind the same seam.

mod http;
pub mod janus;
pub mod janus_api;
mod simulated;
mod target;
pub mod whip;
pub mod whip_whep;

pub use simulated::SimulatedMeeting;
pub use target::{MeetingTarget, TargetError};
