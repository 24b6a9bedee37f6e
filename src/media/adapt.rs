//! The picture size from the network's estimate: a size needs a bitrate, and a picture starved
//! of bits looks worse than a smaller one given enough. Pure: estimates and times in, a size out.
//!
//! Down quickly (3 s under 60 % of what the size wants), up slowly (10 s above what the next size
//! wants, with 10 % to spare), so a short dip does not shrink the picture and the picture does
//! not flap between two sizes.

use super::encoder::Step;

const DOWN_BELOW: f64 = 0.6;
const DOWN_AFTER_MS: u64 = 3_000;
const UP_ABOVE: f64 = 1.1;
const UP_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeAdapter {
    step: Step,
    /// Never above what the camera captures.
    max: Step,
    low_since: Option<u64>,
    high_since: Option<u64>,
}

impl SizeAdapter {
    pub fn new(step: Step, max: Step) -> SizeAdapter {
        SizeAdapter {
            step: step.min(max),
            max,
            low_since: None,
            high_since: None,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// Takes the estimate at `now_ms`; returns the new size when it should change.
    pub fn update(&mut self, now_ms: u64, target_kbps: u32) -> Option<Step> {
        let target = f64::from(target_kbps);
        let low = target < f64::from(self.step.default_kbps()) * DOWN_BELOW;
        let up = self.step.up().filter(|s| *s <= self.max);
        let high = up.is_some_and(|s| target > f64::from(s.default_kbps()) * UP_ABOVE);
        self.low_since = if low {
            self.low_since.or(Some(now_ms))
        } else {
            None
        };
        self.high_since = if high {
            self.high_since.or(Some(now_ms))
        } else {
            None
        };
        let next = match (self.low_since, self.high_since) {
            (Some(since), _) if now_ms - since >= DOWN_AFTER_MS => self.step.down(),
            (_, Some(since)) if now_ms - since >= UP_AFTER_MS => up,
            _ => None,
        }?;
        self.step = next;
        self.low_since = None;
        self.high_since = None;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `kbps` every 500 ms from `from` to `to` (ms); the changes it made.
    fn feed(adapter: &mut SizeAdapter, kbps: u32, from: u64, to: u64) -> Vec<(u64, Step)> {
        (from..to)
            .step_by(500)
            .filter_map(|t| adapter.update(t, kbps).map(|s| (t, s)))
            .collect()
    }

    #[test]
    fn a_starved_picture_shrinks_after_3_s_one_size_at_a_time() {
        let mut adapter = SizeAdapter::new(Step::P720, Step::P720);
        assert_eq!(feed(&mut adapter, 700, 0, 2_500), vec![]);
        assert_eq!(
            feed(&mut adapter, 700, 2_500, 6_000),
            vec![(3_000, Step::P360)]
        );
        // 700 kbit/s suits 360p: it stays.
        assert_eq!(feed(&mut adapter, 700, 6_000, 20_000), vec![]);
        // Very little: 180p (at 15 fps) after another 3 s.
        assert_eq!(
            feed(&mut adapter, 150, 20_000, 24_000),
            vec![(23_000, Step::P180)]
        );
    }

    #[test]
    fn a_short_dip_changes_nothing() {
        let mut adapter = SizeAdapter::new(Step::P720, Step::P720);
        assert_eq!(feed(&mut adapter, 300, 0, 2_000), vec![]);
        assert_eq!(feed(&mut adapter, 1_800, 2_000, 4_000), vec![]);
        assert_eq!(feed(&mut adapter, 300, 4_000, 6_500), vec![]);
        assert_eq!(adapter.step(), Step::P720);
    }

    #[test]
    fn it_grows_back_slowly_and_never_past_the_camera() {
        let mut adapter = SizeAdapter::new(Step::P180, Step::P720);
        assert_eq!(feed(&mut adapter, 5_000, 0, 9_500), vec![]);
        assert_eq!(
            feed(&mut adapter, 5_000, 9_500, 10_500),
            vec![(10_000, Step::P360)]
        );
        let later = feed(&mut adapter, 5_000, 10_500, 60_000);
        assert_eq!(
            later,
            vec![(20_500, Step::P720)],
            "then no further than 720p"
        );
    }

    #[test]
    fn just_enough_for_the_next_size_is_not_enough() {
        let mut adapter = SizeAdapter::new(Step::P360, Step::P1080);
        // 720p wants 1800: 1900 is less than 10 % to spare.
        assert_eq!(feed(&mut adapter, 1_900, 0, 30_000), vec![]);
    }
}
