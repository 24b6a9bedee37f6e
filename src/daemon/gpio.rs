//! Starting the button and LED threads from the config.

use super::{problem, Event};
use crate::config::{ButtonConfig, Config, LedConfig};
use crate::hw::gpio;
use crate::room::{Button, Input, LedPattern, LedState, ProblemReport, ProblemSource};
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// The LED threads' inboxes; an LED that is not configured (or failed) has none.
#[derive(Default)]
pub struct Leds {
    status: Option<std_mpsc::Sender<LedPattern>>,
    mute: Option<std_mpsc::Sender<LedPattern>>,
}

impl Leds {
    pub fn show(&self, state: LedState) {
        for (led, pattern) in [(&self.status, state.status), (&self.mute, state.mute)] {
            if let Some(led) = led {
                let _ = led.send(pattern);
            }
        }
    }
}

/// Opens every configured button and LED; a line that cannot be opened is a problem in
/// status, not a reason to stop the room (it still works from `salle press` and the API).
pub fn start(
    config: &Config,
    events: mpsc::Sender<Event>,
    problems: &mut Vec<ProblemReport>,
) -> Leds {
    let buttons: [(Button, &Option<ButtonConfig>); 3] = [
        (Button::Join, &config.buttons.join),
        (Button::Mute, &config.buttons.mute),
        (Button::CameraPrivacy, &config.buttons.camera_privacy),
    ];
    for (button, button_config) in buttons {
        let Some(button_config) = button_config.clone() else {
            continue;
        };
        match gpio::open_button(&button_config) {
            Err(e) => problems.push(
                ProblemReport::new(
                    ProblemSource::Button(button),
                    format!("{} button", button.name()),
                )
                .with_detail(e.to_string()),
            ),
            Ok(line) => {
                let events = events.clone();
                std::thread::Builder::new()
                    .name(format!("button-{}", button.name()))
                    .spawn(move || {
                        let send = |button, press| {
                            events
                                .blocking_send(Event::Room(Input::Button { button, press }))
                                .is_ok()
                        };
                        if let Err(e) = gpio::watch_button(button, line, &button_config, send) {
                            let _ = events.blocking_send(problem(
                                ProblemSource::Button(button),
                                &format!("{} button", button.name()),
                                e,
                            ));
                        }
                    })
                    .expect("spawn a button thread");
            }
        }
    }
    Leds {
        status: led("status", &config.leds.status, &events, problems),
        mute: led("mute", &config.leds.mute, &events, problems),
    }
}

fn led(
    name: &'static str,
    config: &Option<LedConfig>,
    events: &mpsc::Sender<Event>,
    problems: &mut Vec<ProblemReport>,
) -> Option<std_mpsc::Sender<LedPattern>> {
    let source = || ProblemSource::Led(name.into());
    let summary = format!("{name} LED");
    let line = match gpio::open_led(config.as_ref()?) {
        Ok(line) => line,
        Err(e) => {
            problems.push(ProblemReport::new(source(), &summary).with_detail(e.to_string()));
            return None;
        }
    };
    let (tx, rx) = std_mpsc::channel();
    let events = events.clone();
    std::thread::Builder::new()
        .name(format!("led-{name}"))
        .spawn(move || {
            if let Err(e) = gpio::drive_led(line, rx) {
                let _ = events.blocking_send(problem(source(), &summary, e));
            }
        })
        .expect("spawn an LED thread");
    Some(tx)
}
