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
