//! What hardware is there, and which devices the room uses: the `salle devices` report and the
//! daemon's device selection, from one piece of logic.

use super::audio::{self, AudioChoice, Direction, SoundCard};
use super::camera::{self, CameraChoice, CameraInfo, Wanted};
use super::gpio::{self, GpioChip};
use crate::config::{Config, DeviceChoice};
use crate::room::{DeviceKind, DevicePresence};
use serde::{Deserialize, Serialize};

/// Everything found on the system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub cameras: Vec<CameraInfo>,
    pub sound_cards: Vec<SoundCard>,
    pub gpio_chips: Vec<GpioChip>,
}

impl Inventory {
    /// Looks at every camera, sound card and GPIO chip.
    pub fn scan() -> Inventory {
        Inventory {
            gpio_chips: gpio::list_chips(),
            ..Inventory::scan_media()
        }
    }

    /// Cameras and sound cards only (what hotplug changes).
    pub fn scan_media() -> Inventory {
        Inventory {
            cameras: camera::v4l2::list_cameras(),
            sound_cards: audio::alsa::list_cards(),
            gpio_chips: Vec::new(),
        }
    }
}

/// The device the room uses for one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "use")]
pub enum Selected<T> {
    Device(T),
    /// The simulated stand-in (test pattern, tone, discard).
    Simulated {
        reason: String,
    },
    /// A configured device that is not there.
    Missing {
        reason: String,
    },
}

impl<T> Selected<T> {
    fn summary(&self, device: impl FnOnce(&T) -> String) -> String {
        match self {
            Selected::Device(d) => device(d),
            Selected::Simulated { reason } => format!("simulated ({reason})"),
            Selected::Missing { reason } => format!("missing ({reason})"),
        }
    }

    fn presence(&self, name: impl FnOnce(&T) -> String) -> DevicePresence {
        match self {
            Selected::Device(d) => DevicePresence {
                present: true,
                simulated: false,
                name: Some(name(d)),
            },
            Selected::Simulated { .. } => DevicePresence {
                present: true,
                simulated: true,
                name: Some("simulated".into()),
            },
            Selected::Missing { reason } => DevicePresence {
                present: false,
                simulated: false,
                name: Some(reason.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub camera: Selected<CameraChoice>,
    pub microphone: Selected<AudioChoice>,
    pub speaker: Selected<AudioChoice>,
}

impl Selection {
    pub fn presence(&self, kind: DeviceKind) -> DevicePresence {
        match kind {
            DeviceKind::Camera => self.camera.presence(|c| format!("{} ({})", c.path, c.mode)),
            DeviceKind::Microphone => self
                .microphone
                .presence(|a| format!("{} ({})", a.card, a.pcm)),
            DeviceKind::Speaker => self.speaker.presence(|a| format!("{} ({})", a.card, a.pcm)),
        }
    }

    /// One line for people: the device and why, or why not.
    pub fn describe(&self, kind: DeviceKind) -> String {
        match kind {
            DeviceKind::Camera => self
                .camera
                .summary(|c| format!("{} {}: {}", c.path, c.mode, c.reason)),
            DeviceKind::Microphone => self
                .microphone
                .summary(|a| format!("{}: {}", a.pcm, a.reason)),
            DeviceKind::Speaker => self.speaker.summary(|a| format!("{}: {}", a.pcm, a.reason)),
        }
    }

    /// True when any device is simulated: the daemon says so in its log and status.
    pub fn any_simulated(&self) -> bool {
        DeviceKind::ALL.iter().any(|&k| self.presence(k).simulated)
    }
}

/// Chooses the room's devices from the config and what was found.
pub fn select(config: &Config, inventory: &Inventory) -> Selection {
    let wanted = Wanted {
        width: config.camera.width,
        height: config.camera.height,
        fps: config.camera.fps,
    };
    let camera = match &config.camera.device {
        DeviceChoice::Simulated => Selected::Simulated {
            reason: "configured \"test\": test pattern".into(),
        },
        DeviceChoice::Auto => match camera::choose_camera(&inventory.cameras, wanted) {
            Some(choice) => Selected::Device(choice),
            None => Selected::Simulated {
                reason: "no camera found: test pattern".into(),
            },
        },
        DeviceChoice::Named(path) => {
            let real = std::fs::canonicalize(path)
                .ok()
                .map(|p| p.display().to_string());
            let found = inventory
                .cameras
                .iter()
                .find(|c| &c.path == path || Some(&c.path) == real.as_ref());
            match found.and_then(|c| camera::choose_mode(c, wanted).map(|m| (c, m))) {
                Some((c, mode)) => Selected::Device(CameraChoice {
                    path: c.path.clone(),
                    reason: format!("configured {path}: \"{}\" gives {mode}", c.card),
                    mode,
                }),
                None => Selected::Missing {
                    reason: format!("configured camera {path} is not there"),
                },
            }
        }
    };
    let audio = |choice: &DeviceChoice, direction: Direction| -> Selected<AudioChoice> {
        let what = match direction {
            Direction::Capture => ("microphone", "tone"),
            Direction::Playback => ("speaker", "discarded"),
        };
        match choice {
            DeviceChoice::Simulated => Selected::Simulated {
                reason: format!("configured \"test\": {}", what.1),
            },
            DeviceChoice::Auto => match audio::choose(&inventory.sound_cards, direction) {
                Some(mut c) => {
                    if direction == Direction::Capture {
                        if let crate::config::ChannelSelection::Channels(list) =
                            &config.audio.channels
                        {
                            c.channels = list.clone();
                        }
                    }
                    Selected::Device(c)
                }
                None => Selected::Simulated {
                    reason: format!("no {} found: {}", what.0, what.1),
                },
            },
            DeviceChoice::Named(name) => {
                named_audio(&inventory.sound_cards, name, direction, config)
            }
        }
    };
    Selection {
        camera,
        microphone: audio(&config.audio.capture, Direction::Capture),
        speaker: audio(&config.audio.playback, Direction::Playback),
    }
}

fn named_audio(
    cards: &[SoundCard],
    name: &str,
    direction: Direction,
    config: &Config,
) -> Selected<AudioChoice> {
    let found = cards.iter().find_map(|card| {
        let pcms = if direction == Direction::Capture {
            &card.capture
        } else {
            &card.playback
        };
        pcms.iter()
            .find(|p| {
                p.name == name
                    || name == format!("hw:{},{}", card.index, p.device)
                    || name == format!("hw:{}", card.id)
            })
            .map(|p| (card, p))
    });
    let channels = match &config.audio.channels {
        crate::config::ChannelSelection::Channels(list) if direction == Direction::Capture => {
            list.clone()
        }
        _ => Vec::new(),
    };
    match found {
        Some((card, pcm)) => Selected::Device(AudioChoice {
            pcm: pcm.name.clone(),
            card: card.name.clone(),
            kind: card.kind,
            channels,
            device_channels: pcm.channels_max.max(1),
            echo_cancelled_on_board: card.kind == audio::CardKind::Speakerphone
                || card.processed_channel.is_some(),
            reason: format!("configured {name}"),
        }),
        // A hardware name we can check is missing; other names are ALSA plugins we trust.
        None if name.starts_with("hw:") || name.starts_with("plughw:") => Selected::Missing {
            reason: format!("configured ALSA device {name} is not there"),
        },
        None => Selected::Device(AudioChoice {
            pcm: name.to_string(),
            card: name.to_string(),
            kind: audio::CardKind::Onboard,
            channels,
            device_channels: 2,
            echo_cancelled_on_board: false,
            reason: format!("configured ALSA device {name} (a plugin: not checked)"),
        }),
    }
}

/// Applies the rule for devices that go away: once the room has used a real device, losing it
/// shows as lost (the room must not silently send a test pattern or a tone to a meeting);
/// the simulated stand-ins are only for rooms that had no such hardware to begin with.
pub fn keep_lost(previous: &Selection, next: Selection) -> Selection {
    fn one<T: Clone>(
        previous: &Selected<T>,
        next: Selected<T>,
        what: &str,
        name: impl Fn(&T) -> String,
    ) -> Selected<T> {
        match (previous, next) {
            (Selected::Device(old), Selected::Simulated { .. }) => Selected::Missing {
                reason: format!("{what} {} was lost", name(old)),
            },
            (Selected::Missing { reason }, Selected::Simulated { .. }) => Selected::Missing {
                reason: reason.clone(),
            },
            (_, next) => next,
        }
    }
    Selection {
        camera: one(&previous.camera, next.camera, "camera", |c| c.path.clone()),
        microphone: one(&previous.microphone, next.microphone, "microphone", |a| {
            a.pcm.clone()
        }),
        speaker: one(&previous.speaker, next.speaker, "speaker", |a| {
            a.pcm.clone()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn c920() -> CameraInfo {
        let path = format!(
            "{}/tests/data/cameras/logitech-c920.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn config(text: &str) -> Config {
        crate::config::parse(text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn nothing_found_means_simulated_and_flagged() {
        let selection = select(&Config::default(), &Inventory::default());
        assert!(matches!(selection.camera, Selected::Simulated { .. }));
        assert!(selection.any_simulated());
        assert!(selection.presence(DeviceKind::Microphone).simulated);
        assert!(selection
            .describe(DeviceKind::Camera)
            .starts_with("simulated (no camera found"));
    }

    #[test]
    fn auto_picks_the_real_camera() {
        let inventory = Inventory {
            cameras: vec![c920()],
            ..Inventory::default()
        };
        let selection = select(&Config::default(), &inventory);
        let presence = selection.presence(DeviceKind::Camera);
        assert!(presence.present && !presence.simulated);
        assert_eq!(
            presence.name.as_deref(),
            Some("/dev/video0 (H264 1280x720@30)")
        );
    }

    #[test]
    fn a_configured_camera_that_is_absent_is_missing_not_simulated() {
        let selection = select(
            &config("[camera]\ndevice = \"/dev/video9\"\n"),
            &Inventory::default(),
        );
        assert!(!selection.presence(DeviceKind::Camera).present);
        assert!(selection
            .describe(DeviceKind::Camera)
            .contains("/dev/video9 is not there"));
    }

    #[test]
    fn test_devices_are_simulated_even_when_hardware_exists() {
        let inventory = Inventory {
            cameras: vec![c920()],
            ..Inventory::default()
        };
        let selection = select(&config("[camera]\ndevice = \"test\"\n"), &inventory);
        assert!(selection.presence(DeviceKind::Camera).simulated);
    }

    #[test]
    fn a_lost_camera_is_lost_not_replaced_by_the_test_pattern_and_comes_back() {
        let config = Config::default();
        let with = Inventory {
            cameras: vec![c920()],
            ..Inventory::default()
        };
        let before = select(&config, &with);
        let after = keep_lost(&before, select(&config, &Inventory::default()));
        assert!(!after.presence(DeviceKind::Camera).present);
        assert!(after
            .describe(DeviceKind::Camera)
            .contains("camera /dev/video0 was lost"));
        // Still lost on the next unrelated event, back when it returns.
        let still = keep_lost(&after, select(&config, &Inventory::default()));
        assert!(!still.presence(DeviceKind::Camera).present);
        let back = keep_lost(&still, select(&config, &with));
        assert!(back.presence(DeviceKind::Camera).present);
        // A room that never had a microphone keeps its simulated one.
        assert!(back.presence(DeviceKind::Microphone).simulated);
    }
}
