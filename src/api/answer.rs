//! The answer to a request: the room's status, or an error with its code and message.
//!
//! On the wire (one JSON object per line): `{"ok":true,"status":{...}}` or
//! `{"ok":false,"error":"<message>","code":"<code>"}`. `code` came later: answers without it
//! (an older daemon) still read.

use super::{
    ApiError, ConfigLocation, ConfigReport, ConfigView, DaemonStatus, Diagnostics, ErrorCode, Logs,
    Metrics, Snapshot, StatusEvent,
};
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
        /// For `invalid-config`: where the error is in the text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<ConfigLocation>,
    },
    /// A subscription is in place (the paths, as asked); events follow.
    Subscribed {
        ok: bool,
        subscribed: Vec<String>,
    },
    /// A change in the status tree, on a subscribed connection.
    Event {
        event: StatusEvent,
    },
    Config {
        ok: bool,
        config: ConfigView,
    },
    Report {
        ok: bool,
        report: ConfigReport,
    },
    Snapshot {
        ok: bool,
        snapshot: Box<Snapshot>,
    },
    Logs {
        ok: bool,
        logs: Logs,
    },
    Diagnostics {
        ok: bool,
        diagnostics: Box<Diagnostics>,
    },
    Metrics {
        ok: bool,
        metrics: Metrics,
    },
    /// A command carried out, or under way, with nothing to show but what it does
    /// (`"restarting"`, `"rebooting"`, `"setup shown"`).
    Done {
        ok: bool,
        done: String,
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
            location: error.location().cloned(),
        }
    }
}

impl Answer {
    pub fn done(what: impl Into<String>) -> Answer {
        Answer::Done {
            ok: true,
            done: what.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_answer_reads_back_as_itself() {
        let answers = [
            Answer::done("restarting"),
            Answer::Subscribed {
                ok: true,
                subscribed: vec!["call".into()],
            },
            Answer::Event {
                event: StatusEvent {
                    path: "call".into(),
                    value: serde_json::json!({"state": "idle"}),
                },
            },
            Answer::Metrics {
                ok: true,
                metrics: Metrics {
                    text: "salle_uptime_seconds 1\n".into(),
                },
            },
            Answer::from(ApiError::InvalidConfig {
                message: "x".into(),
                location: ConfigLocation {
                    line: 3,
                    column: 7,
                    field: "room.name".into(),
                },
            }),
        ];
        for answer in answers {
            let text = serde_json::to_string(&answer).unwrap();
            assert_eq!(
                serde_json::from_str::<Answer>(&text).unwrap(),
                answer,
                "{text}"
            );
        }
    }

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
                code: None,
                location: None,
            }
        );
    }
}
