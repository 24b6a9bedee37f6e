//! A new configuration on trial: what worked before it was applied, and whether it still works
//! with it. The daemon restarts onto new settings with a trial record beside the file; the
//! new daemon compares (meeting service reachable, devices present) and rolls the settings
//! back by itself when they broke what worked. Pure: the daemon feeds the facts in.

use crate::room::DeviceKind;
use serde::{Deserialize, Serialize};

/// What worked: the facts a trial compares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Working {
    /// The meeting service answered (None: it was not checked, e.g. no fixed meeting).
    pub service_reachable: Option<bool>,
    /// Real (not simulated) devices present.
    pub devices: Vec<DeviceKind>,
}

/// The trial's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not all facts are in yet.
    Wait,
    /// The new settings work at least as well: keep them.
    Keep,
    /// They broke something that worked: roll back, for this reason.
    RollBack(String),
}

/// Compares what worked before with what is known now. `service` is None until the first
/// health check of the meeting service has answered (or forever, when there is none to ask:
/// `service_checked` false).
pub fn judge(
    before: &Working,
    devices_now: &[DeviceKind],
    service_checked: bool,
    service: Option<&Result<(), String>>,
) -> Verdict {
    if let Some(lost) = before.devices.iter().find(|k| !devices_now.contains(k)) {
        return Verdict::RollBack(format!(
            "the {} no longer opens with the new settings",
            lost.name()
        ));
    }
    if before.service_reachable != Some(true) || !service_checked {
        return Verdict::Keep;
    }
    match service {
        None => Verdict::Wait,
        Some(Ok(())) => Verdict::Keep,
        Some(Err(reason)) => Verdict::RollBack(format!(
            "the meeting service is no longer reachable with the new settings ({reason})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn working(reachable: Option<bool>, devices: &[DeviceKind]) -> Working {
        Working {
            service_reachable: reachable,
            devices: devices.to_vec(),
        }
    }

    #[test]
    fn a_lost_device_rolls_back_at_once() {
        let before = working(Some(true), &[DeviceKind::Camera, DeviceKind::Speaker]);
        let v = judge(&before, &[DeviceKind::Speaker], true, None);
        assert_eq!(
            v,
            Verdict::RollBack("the camera no longer opens with the new settings".into())
        );
    }

    #[test]
    fn an_unreachable_service_rolls_back_only_if_it_was_reachable() {
        let before = working(Some(true), &[]);
        assert_eq!(judge(&before, &[], true, None), Verdict::Wait);
        assert_eq!(judge(&before, &[], true, Some(&Ok(()))), Verdict::Keep);
        assert!(matches!(
            judge(&before, &[], true, Some(&Err("refused".into()))),
            Verdict::RollBack(r) if r.contains("refused")
        ));
        // It did not work before either: the new settings are not to blame.
        let before = working(Some(false), &[]);
        assert_eq!(
            judge(&before, &[], true, Some(&Err("refused".into()))),
            Verdict::Keep
        );
        // Nothing to ask (no fixed meeting any more): nothing to compare.
        assert_eq!(
            judge(&working(Some(true), &[]), &[], false, None),
            Verdict::Keep
        );
    }
}
