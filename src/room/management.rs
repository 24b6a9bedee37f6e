//! The room's rules for remote management: when its pictures may be taken, when the daemon
//! may restart. (A remote user may mute, never unmute: see `Origin` and the machine.)

use super::CallStatus;

/// The room is busy with a meeting: joining, in it, waiting or leaving. A restart or a reboot
/// would cut people off; a snapshot would show them.
pub fn in_a_meeting(call: &CallStatus) -> bool {
    !matches!(call, CallStatus::Idle | CallStatus::Failed { .. })
}

/// Whether a remote administrator may take a snapshot of the camera or the screen now: always
/// outside meetings, during one only when the room's owner allowed it. (It is never silent:
/// the screen says so while it happens.)
pub fn snapshot_allowed(call: &CallStatus, snapshots_in_calls: bool) -> bool {
    snapshots_in_calls || !in_a_meeting(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_in_meetings_only_when_allowed() {
        let in_call = CallStatus::InCall { url: "x".into() };
        let waiting = CallStatus::Waiting {
            url: "x".into(),
            reason: "lobby".into(),
        };
        assert!(snapshot_allowed(&CallStatus::Idle, false));
        assert!(snapshot_allowed(
            &CallStatus::Failed { reason: "r".into() },
            false
        ));
        assert!(!snapshot_allowed(&in_call, false));
        assert!(!snapshot_allowed(&waiting, false));
        assert!(!snapshot_allowed(&CallStatus::Leaving, false));
        assert!(snapshot_allowed(&in_call, true));
    }
}
