//! Buttons and LEDs on GPIO lines: `rppal` on a Raspberry Pi (for `pin = N`), the kernel's GPIO
//! character device (`gpiocdev`) everywhere else and for `chip`/`line` on any board.
//!
//! A button is watched by its own thread, blocked on the kernel's edge events (no polling);
//! edges go through the pure `ButtonTracker`, and presses go to the daemon as room inputs.
//! An LED has its own thread that renders the room's patterns.

mod button;
mod cdev;
mod pi;

pub use button::ButtonTracker;

use crate::config::{Bias, ButtonConfig, LedConfig, LineRef};
use crate::room::{Button, LedPattern, Press};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

/// One edge seen on a button line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The button is pressed (active-low already applied).
    pub active: bool,
    /// Kernel monotonic time, in ms.
    pub at_ms: u64,
}

/// A button line, as a backend provides it.
pub trait ButtonLine: Send {
    /// Waits for the next edge, up to `timeout` (forever when None).
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Option<Edge>>;
    /// The current level (true = pressed).
    fn level(&mut self) -> io::Result<bool>;
}

/// An LED line, as a backend provides it.
pub trait LedLine: Send {
    fn set(&mut self, on: bool) -> io::Result<()>;
}

/// Where a line is, resolved from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineSpec {
    /// A Raspberry Pi BCM pin, through rppal.
    PiPin(u8),
    /// A line on a chip (or any chip when `chip` is None and the line is named).
    Cdev { chip: Option<String>, line: LineRef },
}

impl LineSpec {
    pub fn new(pin: Option<u8>, chip: &Option<String>, line: &Option<LineRef>) -> LineSpec {
        match (pin, line) {
            (Some(pin), _) => LineSpec::PiPin(pin),
            (None, Some(line)) => LineSpec::Cdev {
                chip: chip.clone(),
                line: line.clone(),
            },
            // The config check makes sure one of the two is there.
            (None, None) => LineSpec::Cdev {
                chip: chip.clone(),
                line: LineRef::Offset(0),
            },
        }
    }
}

impl std::fmt::Display for LineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineSpec::PiPin(pin) => write!(f, "BCM pin {pin}"),
            LineSpec::Cdev { chip, line } => {
                match line {
                    LineRef::Offset(o) => write!(f, "line {o}")?,
                    LineRef::Name(n) => write!(f, "line \"{n}\"")?,
                }
                match chip {
                    Some(chip) => write!(f, " of {chip}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Is this board a Raspberry Pi? (rppal drives its GPIO block directly.)
pub fn is_raspberry_pi() -> bool {
    std::fs::read_to_string("/proc/device-tree/model").is_ok_and(|m| m.starts_with("Raspberry Pi"))
}

/// Opens a button line for edge events.
pub fn open_button(config: &ButtonConfig) -> io::Result<Box<dyn ButtonLine>> {
    let spec = LineSpec::new(config.pin, &config.chip, &config.line);
    match &spec {
        LineSpec::PiPin(pin) => pi::button(*pin, config.active_low, config.bias),
        LineSpec::Cdev { chip, line } => {
            cdev::button(chip.as_deref(), line, config.active_low, config.bias)
        }
    }
    .map_err(|e| io::Error::new(e.kind(), format!("{spec}: {e}")))
}

/// Opens an LED line as an output, initially off.
pub fn open_led(config: &LedConfig) -> io::Result<Box<dyn LedLine>> {
    let spec = LineSpec::new(config.pin, &config.chip, &config.line);
    match &spec {
        LineSpec::PiPin(pin) => pi::led(*pin, config.active_low),
        LineSpec::Cdev { chip, line } => cdev::led(chip.as_deref(), line, config.active_low),
    }
    .map_err(|e| io::Error::new(e.kind(), format!("{spec}: {e}")))
}

/// The kernel's monotonic clock in ms: the clock GPIO edge timestamps use.
pub fn monotonic_ms() -> u64 {
    let now =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    now.tv_sec() as u64 * 1000 + now.tv_nsec() as u64 / 1_000_000
}

/// Watches one button until `presses` is closed or the line fails; the error is returned so
/// the daemon can report it (a broken button must not take the daemon down).
pub fn watch_button(
    button: Button,
    mut line: Box<dyn ButtonLine>,
    config: &ButtonConfig,
    mut presses: impl FnMut(Button, Press) -> bool,
) -> io::Result<()> {
    let mut tracker = ButtonTracker::new(config.debounce_ms, config.long_press_ms);
    loop {
        let timeout = tracker
            .deadline()
            .map(|d| Duration::from_millis(d.saturating_sub(monotonic_ms())));
        let press = match line.wait(timeout)? {
            Some(edge) => tracker.edge(edge.active, edge.at_ms),
            None => {
                let now = monotonic_ms();
                let level = if tracker.needs_level(now) {
                    Some(line.level()?)
                } else {
                    None
                };
                tracker.timeout(now, level)
            }
        };
        if let Some(press) = press {
            tracing::info!(button = button.name(), ?press, "button");
            if !presses(button, press) {
                return Ok(());
            }
        }
    }
}

/// Renders LED patterns on `line` until the pattern channel closes.
pub fn drive_led(
    mut line: Box<dyn LedLine>,
    patterns: std_mpsc::Receiver<LedPattern>,
) -> io::Result<()> {
    let mut pattern = LedPattern::Off;
    let mut step = 0;
    loop {
        let steps = pattern.steps();
        let (on, hold_ms) = steps[step % steps.len()];
        line.set(on)?;
        let next = if hold_ms == 0 {
            patterns.recv().map_err(|_| ())
        } else {
            match patterns.recv_timeout(Duration::from_millis(hold_ms)) {
                Ok(p) => Ok(p),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    step += 1;
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(()),
            }
        };
        match next {
            Ok(p) => {
                if p != pattern {
                    pattern = p;
                    step = 0;
                }
            }
            Err(()) => {
                line.set(false)?;
                return Ok(());
            }
        }
    }
}

/// One GPIO chip as `salle devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpioChip {
    pub path: String,
    pub name: String,
    pub label: String,
    pub lines: Vec<GpioLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpioLine {
    pub offset: u32,
    pub name: String,
    pub used: bool,
    pub consumer: String,
    pub direction: String,
}

/// Every GPIO chip and line on the system.
pub fn list_chips() -> Vec<GpioChip> {
    cdev::list_chips()
}

fn bias_name(bias: Bias) -> &'static str {
    match bias {
        Bias::AsIs => "as-is",
        Bias::PullUp => "pull-up",
        Bias::PullDown => "pull-down",
        Bias::Disabled => "disabled",
    }
}
