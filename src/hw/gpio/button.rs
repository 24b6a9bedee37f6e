//! Turning a button line's edges into presses: debounce and long-press detection, pure.
//!
//! Times are milliseconds on the kernel's monotonic clock (what GPIO edge timestamps use).

use crate::room::Press;

#[derive(Debug, Clone)]
pub struct ButtonTracker {
    debounce_ms: u64,
    long_press_ms: u64,
    /// The debounced state: pressed since this time.
    pressed_since: Option<u64>,
    /// A long press was already reported for the current hold.
    long_reported: bool,
    /// The last accepted edge, for the debounce window.
    last_edge: Option<u64>,
    /// An edge was ignored as bounce: read the real level once the window is over.
    recheck_at: Option<u64>,
}

impl ButtonTracker {
    pub fn new(debounce_ms: u64, long_press_ms: u64) -> Self {
        ButtonTracker {
            debounce_ms,
            long_press_ms,
            pressed_since: None,
            long_reported: false,
            last_edge: None,
            recheck_at: None,
        }
    }

    /// An edge (or a level read after bounce): `active` is true when the button is pressed.
    pub fn edge(&mut self, active: bool, at: u64) -> Option<Press> {
        if let Some(last) = self.last_edge {
            if at < last + self.debounce_ms {
                self.recheck_at = Some(last + self.debounce_ms);
                return None;
            }
        }
        match (active, self.pressed_since) {
            (true, None) => {
                self.last_edge = Some(at);
                self.pressed_since = Some(at);
                self.long_reported = false;
                None
            }
            (false, Some(since)) => {
                self.last_edge = Some(at);
                self.pressed_since = None;
                if self.long_reported {
                    None
                } else if at - since >= self.long_press_ms {
                    Some(Press::Long)
                } else {
                    Some(Press::Short)
                }
            }
            _ => None, // no change of state
        }
    }

    /// When the driver must call `timeout` (and, if `needs_level`, read the line) next.
    pub fn deadline(&self) -> Option<u64> {
        let long = match (self.pressed_since, self.long_reported) {
            (Some(since), false) => Some(since + self.long_press_ms),
            _ => None,
        };
        match (long, self.recheck_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the line's level must be read and fed to `edge` at `now` (bounce recheck).
    pub fn needs_level(&self, now: u64) -> bool {
        self.recheck_at.is_some_and(|t| now >= t)
    }

    /// Time passed with no edge: reports a long press as soon as the hold is long enough,
    /// so people get feedback without having to let go.
    pub fn timeout(&mut self, now: u64, level: Option<bool>) -> Option<Press> {
        if self.needs_level(now) {
            self.recheck_at = None;
            if let Some(active) = level {
                if let Some(press) = self.edge(active, now) {
                    return Some(press);
                }
            }
        }
        match self.pressed_since {
            Some(since) if !self.long_reported && now >= since + self.long_press_ms => {
                self.long_reported = true;
                Some(Press::Long)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> ButtonTracker {
        ButtonTracker::new(30, 3000)
    }

    #[test]
    fn short_press_is_reported_on_release() {
        let mut t = tracker();
        assert_eq!(t.edge(true, 1000), None);
        assert_eq!(t.edge(false, 1200), Some(Press::Short));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn bounces_inside_the_window_are_ignored() {
        let mut t = tracker();
        assert_eq!(t.edge(true, 1000), None);
        assert_eq!(t.edge(false, 1002), None);
        assert_eq!(t.edge(true, 1004), None);
        assert_eq!(t.edge(false, 1300), Some(Press::Short));
        assert_eq!(t.edge(true, 1310), None);
        assert_eq!(t.edge(false, 1312), None);
    }

    #[test]
    fn a_release_hidden_in_bounce_is_found_by_the_level_recheck() {
        let mut t = tracker();
        t.edge(true, 1000);
        assert_eq!(t.edge(false, 1010), None); // a real, very short tap: inside the window
        assert_eq!(t.deadline(), Some(1030));
        assert!(t.needs_level(1030));
        assert_eq!(t.timeout(1030, Some(false)), Some(Press::Short));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn long_hold_fires_while_held_and_release_is_silent() {
        let mut t = tracker();
        t.edge(true, 0);
        assert_eq!(t.deadline(), Some(3000));
        assert_eq!(t.timeout(2999, None), None);
        assert_eq!(t.timeout(3000, None), Some(Press::Long));
        assert_eq!(t.timeout(3500, None), None);
        assert_eq!(t.edge(false, 5000), None);
    }

    #[test]
    fn long_hold_released_before_the_timer_ran_is_long() {
        let mut t = tracker();
        t.edge(true, 0);
        assert_eq!(t.edge(false, 3200), Some(Press::Long));
    }

    #[test]
    fn repeated_levels_are_not_presses() {
        let mut t = tracker();
        assert_eq!(t.edge(false, 0), None);
        t.edge(true, 100);
        assert_eq!(t.edge(true, 200), None);
        assert_eq!(t.edge(false, 300), Some(Press::Short));
    }
}
