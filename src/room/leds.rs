//! LED patterns: what the room shows on its status and mute LEDs in each state.

use serde::{Deserialize, Serialize};

/// A pattern an LED driver knows how to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedPattern {
    Off,
    /// Low duty cycle: "powered, nothing going on".
    Dim,
    On,
    /// 1 Hz: "working on it" (joining, leaving).
    Blink,
    /// 4 Hz: "something is wrong".
    FastBlink,
    /// A short flash every 2 s: "waiting for someone else" (the meeting's lobby).
    SlowBlink,
}

impl LedPattern {
    /// The pattern as (level, duration in ms) steps repeated forever; a single step is steady.
    /// Drivers without hardware PWM render `Dim` as a short pulse in a slow period so it costs
    /// little CPU while still reading as "dimmer than on".
    pub fn steps(self) -> &'static [(bool, u64)] {
        match self {
            LedPattern::Off => &[(false, 0)],
            LedPattern::On => &[(true, 0)],
            LedPattern::Dim => &[(true, 2), (false, 18)],
            LedPattern::Blink => &[(true, 500), (false, 500)],
            LedPattern::FastBlink => &[(true, 125), (false, 125)],
            LedPattern::SlowBlink => &[(true, 250), (false, 1750)],
        }
    }
}

/// The patterns of every LED the room knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedState {
    /// The call-state LED (documented in the README: idle dim, joining blink, waiting in a
    /// lobby slow blink, in call on, failed fast blink).
    pub status: LedPattern,
    /// The microphone-muted LED: on while muted.
    pub mute: LedPattern,
}
