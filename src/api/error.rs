//! Why a request was not carried out: a stable code for programs, a message for people.
//!
//! In Firecracker's style, each error's doc comment is its message (`displaydoc`), so the
//! list below is also the reference of every message the API can give.

use crate::room::Refusal;
use crate::signal::TargetError;
use serde::{Deserialize, Serialize};

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum ApiError {
    /// bad request: {0}
    BadRequest(String),
    /// request too long
    RequestTooLong,
    /// {0}
    NotAMeeting(#[from] TargetError),
    /// {0}
    Refused(#[from] Refusal),
    /// the daemon is shutting down
    ShuttingDown,
    /// not available yet: {0}
    NotYet(String),
    /// only on the device's local control socket
    LocalOnly,
    /// {message}
    InvalidConfig {
        message: String,
        location: super::ConfigLocation,
    },
    /// the daemon runs without a configuration file: there is nowhere to write settings
    NoConfigFile,
    /// no previous configuration is kept
    NoPreviousConfig,
    /// the configuration could not be written: {0}
    ConfigWriteFailed(String),
    /// the room is in a call (ask again with force to do it anyway)
    InACall,
    /// snapshots are not taken during calls (`[management] snapshots_in_calls` is off)
    SnapshotsNotInCalls,
    /// unavailable: {0}
    Unavailable(String),
    /// no such status path: {0}
    UnknownPath(String),
    /// forbidden: {0}
    Forbidden(String),
}

/// The stable name of an error, for programs (`"code"` in an error answer). Never renamed:
/// consoles and scripts match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    BadRequest,
    RequestTooLong,
    NotAMeeting,
    InAnotherMeeting,
    StillLeaving,
    NotInAMeeting,
    UnmuteInRoomOnly,
    CameraOnInRoomOnly,
    ShuttingDown,
    NotYet,
    LocalOnly,
    InvalidConfig,
    NoConfigFile,
    NoPreviousConfig,
    ConfigWriteFailed,
    InACall,
    SnapshotsNotInCalls,
    Unavailable,
    UnknownPath,
    /// Not the daemon's: the web surface's, for a missing or too weak credential (HTTP 401
    /// and 403), listed here so every client matches one list.
    Unauthorized,
    Forbidden,
    /// A code this client does not know yet (a newer daemon).
    #[serde(other)]
    Other,
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::RequestTooLong => ErrorCode::RequestTooLong,
            ApiError::NotAMeeting(_) => ErrorCode::NotAMeeting,
            ApiError::Refused(refusal) => match refusal {
                Refusal::InAnotherMeeting(_) => ErrorCode::InAnotherMeeting,
                Refusal::StillLeaving => ErrorCode::StillLeaving,
                Refusal::NotInAMeeting => ErrorCode::NotInAMeeting,
                Refusal::UnmuteInRoomOnly => ErrorCode::UnmuteInRoomOnly,
                Refusal::CameraOnInRoomOnly => ErrorCode::CameraOnInRoomOnly,
            },
            ApiError::ShuttingDown => ErrorCode::ShuttingDown,
            ApiError::NotYet(_) => ErrorCode::NotYet,
            ApiError::LocalOnly => ErrorCode::LocalOnly,
            ApiError::InvalidConfig { .. } => ErrorCode::InvalidConfig,
            ApiError::NoConfigFile => ErrorCode::NoConfigFile,
            ApiError::NoPreviousConfig => ErrorCode::NoPreviousConfig,
            ApiError::ConfigWriteFailed(_) => ErrorCode::ConfigWriteFailed,
            ApiError::InACall => ErrorCode::InACall,
            ApiError::SnapshotsNotInCalls => ErrorCode::SnapshotsNotInCalls,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::UnknownPath(_) => ErrorCode::UnknownPath,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
        }
    }

    /// Where a configuration error is, for an editor to put it in place.
    pub fn location(&self) -> Option<&super::ConfigLocation> {
        match self {
            ApiError::InvalidConfig { location, .. } => Some(location),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_kebab_case_names() {
        let code = |e: ApiError| serde_json::to_value(e.code()).unwrap();
        assert_eq!(code(ApiError::RequestTooLong), "request-too-long");
        assert_eq!(
            code(ApiError::Refused(Refusal::UnmuteInRoomOnly)),
            "unmute-in-room-only"
        );
        assert_eq!(
            code(ApiError::NotAMeeting(
                crate::signal::MeetingTarget::parse("file:///etc/shadow").unwrap_err()
            )),
            "not-a-meeting"
        );
        // A newer daemon's code does not break an older client.
        let unknown: ErrorCode = serde_json::from_str("\"on-fire\"").unwrap();
        assert_eq!(unknown, ErrorCode::Other);
    }

    #[test]
    fn messages_are_the_doc_comments() {
        assert_eq!(
            ApiError::BadRequest("missing field `muted`".into()).to_string(),
            "bad request: missing field `muted`"
        );
        assert_eq!(
            ApiError::ShuttingDown.to_string(),
            "the daemon is shutting down"
        );
        assert_eq!(
            ApiError::Refused(Refusal::NotInAMeeting).to_string(),
            "not in a meeting"
        );
    }
}
