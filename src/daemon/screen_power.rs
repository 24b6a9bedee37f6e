//! Carrying out the screen's power (the room decides it, see `room::screen_power`): HDMI-CEC
//! standby and wake through the configured adapter, on a thread of its own because CEC
//! transmits block on the bus. The black picture needs no driver: the room screen draws it
//! from the status. A CEC error is a problem in status, never a stop.

use super::{problem, problem_gone, Event};
use crate::config::{CecChoice, Config};
use crate::hw::cec::{physical_address_text, Cec};
use crate::room::{ProblemSource, ScreenPower, WallTime};
use std::path::PathBuf;
use std::sync::mpsc as sync_mpsc;
use tokio::sync::mpsc;

/// The local wall-clock time, for the screen's working hours: the system's time zone, the
/// same as the clock on the room's screen.
pub fn wall_time() -> WallTime {
    let now = jiff::Zoned::now();
    WallTime::new(
        now.weekday().to_monday_zero_offset() as u8,
        now.hour() as u8,
        now.minute() as u8,
    )
}

/// How long until the wall clock's next minute (a little after it): the screen's clock and
/// working hours change only then.
pub fn until_next_minute() -> std::time::Duration {
    let now = jiff::Zoned::now();
    let into_minute = std::time::Duration::from_secs(now.second().max(0) as u64)
        + std::time::Duration::from_nanos(now.subsec_nanosecond().max(0) as u64);
    std::time::Duration::from_secs(60).saturating_sub(into_minute)
        + std::time::Duration::from_millis(5)
}

pub struct ScreenPowerDriver {
    /// None without a CEC adapter: the picture alone goes dark.
    cec: Option<sync_mpsc::Sender<ScreenPower>>,
}

impl ScreenPowerDriver {
    pub fn start(config: &Config, events: mpsc::Sender<Event>) -> ScreenPowerDriver {
        let path = match &config.screen.cec {
            CecChoice::None => None,
            CecChoice::Path(path) => Some(path.clone()),
            CecChoice::Auto => crate::hw::cec::first_adapter(),
        };
        let Some(path) = path else {
            tracing::info!("no HDMI-CEC adapter: the screen's standby is a black picture");
            return ScreenPowerDriver { cec: None };
        };
        let (tx, rx) = sync_mpsc::channel();
        let name = config.room.name.clone();
        let spawned = std::thread::Builder::new()
            .name("cec".into())
            .spawn(move || run(path, name, rx, events));
        if let Err(e) = spawned {
            tracing::warn!("HDMI-CEC thread: {e}");
        }
        ScreenPowerDriver { cec: Some(tx) }
    }

    pub fn set(&self, power: ScreenPower) {
        tracing::info!(?power, "screen");
        if let Some(cec) = &self.cec {
            let _ = cec.send(power);
        }
    }
}

/// Sends what the room wants, the latest only; opens (again) the adapter when needed.
fn run(
    path: PathBuf,
    name: String,
    wanted: sync_mpsc::Receiver<ScreenPower>,
    events: mpsc::Sender<Event>,
) {
    let mut cec: Option<Cec> = None;
    while let Ok(mut power) = wanted.recv() {
        while let Ok(later) = wanted.try_recv() {
            power = later;
        }
        let result = match cec.take() {
            Some(open) => Ok(open),
            None => Cec::open(&path, &name),
        }
        .and_then(|open| {
            let sent = match power {
                ScreenPower::Standby => open.standby(),
                ScreenPower::Awake => open.wake(),
            };
            // After a failure the adapter is opened and claimed afresh next time.
            sent.map(|()| open)
        });
        match result {
            Ok(open) => {
                let address = open.physical_address().ok().flatten();
                tracing::info!(
                    ?power,
                    adapter = %open.path().display(),
                    physical_address = address.map(physical_address_text).unwrap_or_default(),
                    "HDMI-CEC"
                );
                cec = Some(open);
                // An adapter that answers again is no problem any more.
                let _ = events.blocking_send(problem_gone(ProblemSource::Cec));
            }
            Err(e) => {
                tracing::warn!("HDMI-CEC {e}");
                let _ = events.blocking_send(problem(ProblemSource::Cec, "HDMI-CEC", e));
            }
        }
    }
}
