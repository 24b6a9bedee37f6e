//! Status events: which parts of the status tree changed, for subscribers (xAPI's feedback).
//!
//! A path is dotted into the status JSON (`call`, `devices.camera`, `media.video.fps`). Its
//! first part must be a part of the status tree; deeper parts may be absent for a while
//! (`session.rtt_ms` outside calls): their value is then `null`.

use crate::api::{ApiError, StatusEvent};
use serde_json::Value;

/// The value at `path` in `status`, `null` when absent.
pub fn value_at(status: &Value, path: &str) -> Value {
    path.split('.')
        .try_fold(status, |value, part| match value {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// Refuses a subscription to paths the status tree cannot have.
pub fn check_paths(status: &Value, paths: &[String]) -> Result<(), ApiError> {
    if paths.is_empty() {
        return Err(ApiError::BadRequest(
            "subscribe needs at least one path".into(),
        ));
    }
    for path in paths {
        let first = path.split('.').next().unwrap_or_default();
        let known = matches!(status, Value::Object(map) if map.contains_key(first));
        if !known || path.split('.').any(str::is_empty) {
            return Err(ApiError::UnknownPath(path.clone()));
        }
    }
    Ok(())
}

/// One subscriber's view: the last value sent at each of its paths.
pub struct Subscription {
    last: Vec<(String, Option<Value>)>,
}

impl Subscription {
    pub fn new(paths: &[String]) -> Subscription {
        Subscription {
            last: paths.iter().map(|p| (p.clone(), None)).collect(),
        }
    }

    /// The events for the paths whose value differs from what was last sent (all of them the
    /// first time).
    pub fn changes(&mut self, status: &Value) -> Vec<StatusEvent> {
        let mut events = Vec::new();
        for (path, last) in &mut self.last {
            let value = value_at(status, path);
            if last.as_ref() != Some(&value) {
                *last = Some(value.clone());
                events.push(StatusEvent {
                    path: path.clone(),
                    value,
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_paths_are_sent_after_the_first_values() {
        let paths = vec!["call".to_string(), "devices.camera.present".to_string()];
        let mut sub = Subscription::new(&paths);
        let idle = json!({"call": {"state": "idle"}, "devices": {"camera": {"present": true}},
                          "uptime_ms": 1});
        assert_eq!(sub.changes(&idle).len(), 2);
        let later = json!({"call": {"state": "idle"}, "devices": {"camera": {"present": true}},
                           "uptime_ms": 2});
        assert!(sub.changes(&later).is_empty(), "uptime is not subscribed");
        let unplugged = json!({"call": {"state": "idle"},
                               "devices": {"camera": {"present": false}}});
        let events = sub.changes(&unplugged);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].path, "devices.camera.present");
        assert_eq!(events[0].value, json!(false));
    }

    #[test]
    fn unknown_paths_are_refused_and_absent_depths_are_null() {
        let status = json!({"call": {"state": "idle"}, "session": null});
        assert!(check_paths(&status, &["session.rtt_ms".into()]).is_ok());
        assert_eq!(value_at(&status, "session.rtt_ms"), Value::Null);
        assert_eq!(
            check_paths(&status, &["setup".into()]),
            Err(ApiError::UnknownPath("setup".into()))
        );
        assert!(check_paths(&status, &["call.".into()]).is_err());
        assert!(check_paths(&status, &[]).is_err());
    }
}
