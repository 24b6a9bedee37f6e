//! The answer to a request: the room's status, or an error with its code and message.
//!
//! On the wire (one JSON object per line): `{"ok":true,"status":{...}}` or
//! `{"ok":false,"error":"<message>","code":"<code>"}`. `code` came later: answers without it
//! (an older daemon) still read.

use super::{ApiError, DaemonStatus, ErrorCode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Status {
        ok: bool,
        status: Box<DaemonStatus>,
    },
    Error {
        ok: bool,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
    },
}

impl Answer {
    pub fn status(status: DaemonStatus) -> Answer {
        Answer::Status {
            ok: true,
            status: Box::new(status),
        }
    }
}

impl From<ApiError> for Answer {
    fn from(error: ApiError) -> Answer {
        Answer::Error {
            ok: false,
            error: error.to_string(),
            code: Some(error.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_has_the_message_and_the_code() {
        let answer = Answer::from(ApiError::RequestTooLong);
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"ok":false,"error":"request too long","code":"request-too-long"}"#
        );
    }

    #[test]
    fn an_older_daemons_error_without_a_code_still_reads() {
        let answer: Answer = serde_json::from_str(r#"{"ok":false,"error":"no"}"#).unwrap();
        assert_eq!(
            answer,
            Answer::Error {
                ok: false,
                error: "no".into(),
                code: None
            }
        );
    }
}
