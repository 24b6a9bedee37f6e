//! Meeting services: one adapter per service behind `rtc::session::Meeting` (La Suite Meet /
//! LiveKit, WHIP+WHEP, Janus VideoRoom), the meeting-URL forms, and a simulated service.

pub(crate) mod http;
pub mod janus;
pub mod janus_api;
mod janus_restart;
pub mod livekit;
pub mod meet;
pub mod sdpfrag;
mod simulated;
mod target;
pub mod whip;
pub mod whip_whep;

pub use simulated::SimulatedMeeting;
pub(crate) use target::is_loopback;
pub use target::{MeetingTarget, TargetError};
