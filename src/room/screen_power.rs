//! Whether the room's screen is on: awake during working hours; outside them it sleeps (HDMI-CEC
//! standby, and a black picture for screens without CEC) once the room has been left alone for
//! a while, and any button press wakes it.
//!
//! Pure like the rest of `room`: the wall clock (local weekday and time of day) comes in as an
//! input, because the room machine itself only knows a monotonic clock, and people's working
//! hours are about the clock on the wall.

use super::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The screen's power state, as drivers and status know it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScreenPower {
    #[default]
    Awake,
    /// The TV is asked to go to standby and the picture is black.
    Standby,
}

/// Minutes in a day: a time of day is `0..MINUTES_PER_DAY`.
const MINUTES_PER_DAY: u16 = 24 * 60;
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The local wall-clock time: what people's working hours are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallTime {
    /// 0 is Monday, 6 is Sunday.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub minute: u16,
}

impl WallTime {
    /// `weekday` 0 (Monday) to 6, `hour` 0-23, `minute` 0-59; out of range values wrap.
    pub fn new(weekday: u8, hour: u8, minute: u8) -> WallTime {
        WallTime {
            weekday: weekday % 7,
            minute: (u16::from(hour) * 60 + u16::from(minute)) % MINUTES_PER_DAY,
        }
    }
}

/// One "Mon-Fri 07:00-19:00": the days it starts on, and the time span. A span whose end is not
/// after its start crosses midnight: "Fri 22:00-02:00" is awake until 02:00 on Saturday.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    days: [bool; 7],
    start: u16,
    /// Up to `MINUTES_PER_DAY` ("24:00").
    end: u16,
}

/// When the screen stays awake, e.g. "Mon-Fri 07:00-19:00, Sat 08:00-12:00".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwakeHours {
    spans: Vec<Span>,
    /// As written, for status and error messages.
    text: String,
}

impl AwakeHours {
    /// Parses a comma-separated list of `[DAYS] HH:MM-HH:MM`, where DAYS is a day (`Mon`...
    /// `Sun`) or a range of days (`Mon-Fri`, `Fri-Mon` wraps) and no DAYS means every day.
    pub fn parse(text: &str) -> Result<AwakeHours, String> {
        let spans = text
            .split(',')
            .map(|part| parse_span(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AwakeHours {
            spans,
            text: text.trim().to_string(),
        })
    }

    pub fn contains(&self, at: WallTime) -> bool {
        let yesterday = (usize::from(at.weekday) + 6) % 7;
        self.spans.iter().any(|span| {
            if span.start < span.end {
                span.days[usize::from(at.weekday)] && (span.start..span.end).contains(&at.minute)
            } else {
                // Crosses midnight: the evening of its own days, the morning after them.
                (span.days[usize::from(at.weekday)] && at.minute >= span.start)
                    || (span.days[yesterday] && at.minute < span.end)
            }
        })
    }
}

impl fmt::Display for AwakeHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_span(part: &str) -> Result<Span, String> {
    let (days, times) = match part.rsplit_once(char::is_whitespace) {
        Some((days, times)) => (parse_days(days.trim())?, times),
        None => ([true; 7], part),
    };
    let hours = times.contains(|c: char| c.is_ascii_digit());
    let Some((start, end)) = times.split_once('-').filter(|_| hours) else {
        return Err(format!(
            "\"{part}\": expected days and hours such as \"Mon-Fri 07:00-19:00\""
        ));
    };
    let (start, end) = (parse_time(start)?, parse_time(end)?);
    if start == MINUTES_PER_DAY {
        return Err(format!("\"{part}\": a span cannot start at 24:00"));
    }
    if start == end {
        return Err(format!("\"{part}\": the span is empty"));
    }
    Ok(Span { days, start, end })
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |name: &str| {
        DAYS.iter()
            .position(|d| d.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                format!("\"{name}\" is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
            })
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (day(first)?, day(last)?),
        None => (day(text)?, day(text)?),
    };
    let mut days = [false; 7];
    let mut d = first;
    loop {
        days[d] = true;
        if d == last {
            return Ok(days);
        }
        d = (d + 1) % 7;
    }
}

/// "HH:MM", 00:00 to 24:00.
fn parse_time(text: &str) -> Result<u16, String> {
    let bad = || format!("\"{text}\" is not a time: use HH:MM, 00:00 to 24:00");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h * 60 + m > MINUTES_PER_DAY {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// What the room does with its screen's power.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenPowerSettings {
    /// None: always awake.
    pub awake_hours: Option<AwakeHours>,
    /// Outside working hours, sleep after this long without anything happening.
    pub sleep_after_ms: Millis,
}

impl Default for ScreenPowerSettings {
    fn default() -> Self {
        ScreenPowerSettings {
            awake_hours: None,
            sleep_after_ms: 600_000,
        }
    }
}

/// What happened that keeps the screen awake, as the room machine sees it after an input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// A button was pressed (it wakes the screen and does its normal job).
    pub pressed: bool,
    /// The room is not idle: joining, waiting, in a call, reconnecting, leaving or failed.
    pub busy: bool,
    /// The calendar has a current meeting (on, or about to start).
    pub meeting_soon: bool,
}

/// The screen's power state and what it is decided from.
#[derive(Debug, Clone)]
pub struct ScreenPowerState {
    settings: ScreenPowerSettings,
    power: ScreenPower,
    /// The last time something kept the screen awake.
    last_activity: Millis,
    /// None until the daemon says what time it is: awake until then.
    wall: Option<WallTime>,
    /// The last input kept the screen awake by itself (a call, a meeting soon): only another
    /// input can let it sleep.
    kept_awake: bool,
}

impl ScreenPowerState {
    /// Awake at `now`, for at least `sleep_after` (someone just started the device).
    pub fn new(settings: ScreenPowerSettings, now: Millis) -> ScreenPowerState {
        ScreenPowerState {
            settings,
            power: ScreenPower::Awake,
            last_activity: now,
            wall: None,
            kept_awake: false,
        }
    }

    pub fn power(&self) -> ScreenPower {
        self.power
    }

    /// The screen's power is managed at all (working hours are set).
    pub fn managed(&self) -> bool {
        self.settings.awake_hours.is_some()
    }

    pub fn set_wall_time(&mut self, wall: WallTime) {
        self.wall = Some(wall);
    }

    /// Decides after an input; returns the new state when it changed.
    pub fn update(&mut self, now: Millis, activity: Activity) -> Option<ScreenPower> {
        if activity.pressed || activity.busy || activity.meeting_soon {
            self.last_activity = now;
        }
        self.kept_awake = activity.busy || activity.meeting_soon;
        let quiet = now.saturating_sub(self.last_activity);
        let wanted = if self.working() || quiet < self.settings.sleep_after_ms {
            ScreenPower::Awake
        } else {
            ScreenPower::Standby
        };
        (wanted != self.power).then(|| {
            self.power = wanted;
            wanted
        })
    }
}

impl ScreenPowerState {
    /// Inside working hours, or hours unknown (no hours set, no wall time yet).
    fn working(&self) -> bool {
        match (&self.settings.awake_hours, self.wall) {
            (None, _) | (_, None) => true,
            (Some(hours), Some(wall)) => hours.contains(wall),
        }
    }

    /// When the screen goes to standby if nothing happens until then: outside working hours,
    /// awake, and nothing keeping it awake. (Working hours end on a new wall time, an input.)
    pub fn wake_at(&self) -> Option<Millis> {
        let sleeps = self.power == ScreenPower::Awake && !self.kept_awake && !self.working();
        sleeps.then(|| self.last_activity + self.settings.sleep_after_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u8 = 0;
    const FRI: u8 = 4;
    const SAT: u8 = 5;
    const SUN: u8 = 6;

    fn at(weekday: u8, hour: u8, minute: u8) -> WallTime {
        WallTime::new(weekday, hour, minute)
    }

    fn hours(text: &str) -> AwakeHours {
        AwakeHours::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn office_hours_edges_are_start_inclusive_end_exclusive() {
        let h = hours("Mon-Fri 07:00-19:00");
        assert!(!h.contains(at(MON, 6, 59)));
        assert!(h.contains(at(MON, 7, 0)));
        assert!(h.contains(at(FRI, 18, 59)));
        assert!(!h.contains(at(FRI, 19, 0)));
        assert!(!h.contains(at(MON, 0, 0)));
    }

    #[test]
    fn weekends_are_outside_weekday_hours() {
        let h = hours("Mon-Fri 07:00-19:00");
        for day in [SAT, SUN] {
            assert!(!h.contains(at(day, 12, 0)), "day {day}");
        }
        for day in MON..=FRI {
            assert!(h.contains(at(day, 12, 0)), "day {day}");
        }
    }

    #[test]
    fn several_spans_each_count() {
        let h = hours("Mon-Fri 07:00-19:00, Sat 08:00-12:00");
        assert!(h.contains(at(SAT, 8, 0)));
        assert!(h.contains(at(SAT, 11, 59)));
        assert!(!h.contains(at(SAT, 12, 0)));
        assert!(!h.contains(at(SUN, 9, 0)));
        assert!(h.contains(at(MON, 9, 0)));
        assert_eq!(h.to_string(), "Mon-Fri 07:00-19:00, Sat 08:00-12:00");
    }

    #[test]
    fn spans_across_midnight_belong_to_the_day_they_start() {
        let h = hours("Fri 22:00-02:00");
        assert!(!h.contains(at(FRI, 21, 59)));
        assert!(h.contains(at(FRI, 22, 0)));
        assert!(h.contains(at(FRI, 23, 59)));
        assert!(h.contains(at(SAT, 0, 0)));
        assert!(h.contains(at(SAT, 1, 59)));
        assert!(!h.contains(at(SAT, 2, 0)));
        // Friday's morning is Thursday's night, which is not in the hours.
        assert!(!h.contains(at(FRI, 1, 0)));
        // The week wraps: Sunday night runs into Monday.
        let h = hours("Sun 20:00-06:00");
        assert!(h.contains(at(MON, 5, 59)));
        assert!(!h.contains(at(MON, 6, 0)));
        assert!(!h.contains(at(SUN, 5, 0)));
    }

    #[test]
    fn day_ranges_wrap_days_default_to_all_and_24_00_ends_the_day() {
        let h = hours("Fri-Mon 10:00-11:00");
        for (day, awake) in [
            (0, true),
            (1, false),
            (3, false),
            (4, true),
            (5, true),
            (6, true),
        ] {
            assert_eq!(h.contains(at(day, 10, 30)), awake, "day {day}");
        }
        let h = hours("08:00-09:00");
        assert!((0..7).all(|day| h.contains(at(day, 8, 30))));
        let h = hours("sat 00:00-24:00");
        assert!(h.contains(at(SAT, 0, 0)) && h.contains(at(SAT, 23, 59)));
        assert!(!h.contains(at(SUN, 0, 0)));
    }

    #[test]
    fn bad_hours_say_what_is_wrong() {
        for (text, says) in [
            ("", "expected days and hours"),
            ("Mon-Fri", "expected days and hours"),
            ("Mon-Fry 07:00-19:00", "\"Fry\" is not a day"),
            ("Mon-Fri 7h-19h", "\"7h\" is not a time"),
            ("Mon-Fri 07:00-25:00", "\"25:00\" is not a time"),
            ("Mon-Fri 07:60-19:00", "\"07:60\" is not a time"),
            ("Mon-Fri 07:00-07:00", "empty"),
            ("Mon 24:00-01:00", "cannot start at 24:00"),
            ("Mon-Fri 07:00-19:00,", "expected days and hours"),
            ("Mon-Fri -07:00-19:00", "is not a time"),
        ] {
            let e = AwakeHours::parse(text).expect_err(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    fn managed(sleep_after_ms: Millis) -> ScreenPowerState {
        let mut state = ScreenPowerState::new(
            ScreenPowerSettings {
                awake_hours: Some(hours("Mon-Fri 07:00-19:00")),
                sleep_after_ms,
            },
            0,
        );
        state.set_wall_time(at(SAT, 3, 0));
        state
    }

    const QUIET: Activity = Activity {
        pressed: false,
        busy: false,
        meeting_soon: false,
    };

    #[test]
    fn outside_hours_an_idle_room_sleeps_after_the_delay_and_a_press_wakes_it() {
        let mut s = managed(2_000);
        assert_eq!(s.update(1_999, QUIET), None);
        assert_eq!(s.power(), ScreenPower::Awake);
        assert_eq!(s.update(2_000, QUIET), Some(ScreenPower::Standby));
        // On change only.
        assert_eq!(s.update(5_000, QUIET), None);
        let press = Activity {
            pressed: true,
            ..QUIET
        };
        assert_eq!(s.update(6_000, press), Some(ScreenPower::Awake));
        assert_eq!(s.update(7_999, QUIET), None);
        assert_eq!(s.update(8_000, QUIET), Some(ScreenPower::Standby));
    }

    #[test]
    fn a_call_or_a_meeting_soon_keeps_it_awake_and_the_delay_runs_from_their_end() {
        for keep in [
            Activity {
                busy: true,
                ..QUIET
            },
            Activity {
                meeting_soon: true,
                ..QUIET
            },
        ] {
            let mut s = managed(2_000);
            for now in (0..=60_000).step_by(250) {
                assert_eq!(s.update(now, keep), None, "{keep:?} at {now}");
            }
            assert_eq!(s.update(61_999, QUIET), None);
            assert_eq!(s.update(62_000, QUIET), Some(ScreenPower::Standby));
            // Something starting again wakes it at once.
            assert_eq!(s.update(62_250, keep), Some(ScreenPower::Awake));
        }
    }

    #[test]
    fn working_hours_wake_it_and_keep_it_awake() {
        let mut s = managed(2_000);
        assert_eq!(s.update(10_000, QUIET), Some(ScreenPower::Standby));
        s.set_wall_time(at(MON, 7, 0));
        assert_eq!(s.update(10_250, QUIET), Some(ScreenPower::Awake));
        assert_eq!(s.update(3_600_000, QUIET), None);
        // The day ends: quiet for long enough already, so it sleeps at once.
        s.set_wall_time(at(MON, 19, 0));
        assert_eq!(s.update(3_600_250, QUIET), Some(ScreenPower::Standby));
    }

    #[test]
    fn without_hours_or_before_the_time_is_known_it_stays_awake() {
        let mut s = ScreenPowerState::new(ScreenPowerSettings::default(), 0);
        s.set_wall_time(at(SUN, 3, 0));
        assert!(!s.managed());
        assert_eq!(s.update(100_000_000, QUIET), None);
        let mut s = ScreenPowerState::new(
            ScreenPowerSettings {
                awake_hours: Some(hours("Mon 07:00-08:00")),
                sleep_after_ms: 1,
            },
            0,
        );
        assert_eq!(s.update(100_000_000, QUIET), None);
        assert_eq!(s.power(), ScreenPower::Awake);
    }
}
