//! USB speakerphones' mute buttons and mute LEDs: found at start and after each hotplug event,
//! each device read by its own thread. A press is a press of the room's mute button (the room
//! decides what it does); the LED shows the room's mute, written when it changes and once
//! when the device appears. A device that goes away or fails is shown in status, never fatal.

use super::Event;
use crate::api::SpeakerphoneStatus;
use crate::config::HidChoice;
use crate::hw::hid::speakerphone::{self, Speakerphone, Telephony};
use crate::room::{Button, Input, Press, ProblemReport, ProblemSource};
use std::fs::File;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use tokio::sync::mpsc;

pub struct Speakerphones {
    choice: HidChoice,
    events: mpsc::Sender<Event>,
    open: Vec<Open>,
    /// Devices that went away or failed, until they (or one of the same name) come back.
    failed: Vec<SpeakerphoneStatus>,
    /// Why the configured device is not in use.
    missing: Option<ProblemReport>,
    /// The room's mute as last shown; None until the room has said.
    muted: Option<bool>,
    next_id: u64,
}

struct Open {
    /// Tells this device's threads' reports apart from those of a device opened later.
    id: u64,
    device: Speakerphone,
    /// The HID device behind the node (its sysfs path): a device plugged in after another
    /// one left may get the same /dev/hidrawN.
    identity: String,
    led: Option<std_mpsc::Sender<bool>>,
}

const CLASS: &str = "/sys/class/hidraw";

impl Speakerphones {
    pub fn start(choice: &HidChoice, events: mpsc::Sender<Event>) -> Speakerphones {
        let mut speakerphones = Speakerphones {
            choice: choice.clone(),
            events,
            open: Vec::new(),
            failed: Vec::new(),
            missing: None,
            muted: None,
            next_id: 0,
        };
        speakerphones.rescan();
        speakerphones
    }

    /// Looks for devices again (after a hotplug event): opens new ones, forgets removed ones.
    pub fn rescan(&mut self) {
        let found = match self.choice.clone() {
            HidChoice::None => return,
            HidChoice::Auto => speakerphone::scan(Path::new(CLASS), Path::new("/dev")),
            HidChoice::Path(path) => self.configured(&path),
        };
        let found: Vec<(Speakerphone, String)> = found
            .into_iter()
            .map(|d| {
                let identity = identity(&d);
                (d, identity)
            })
            .collect();
        let gone: Vec<u64> = self
            .open
            .iter()
            .filter(|o| !found.iter().any(|(_, i)| *i == o.identity))
            .map(|o| o.id)
            .collect();
        for id in gone {
            self.lose(id, "unplugged");
        }
        for (device, identity) in found {
            if !self.open.iter().any(|o| o.identity == identity) {
                self.add(device, identity);
            }
        }
    }

    /// The configured node, when it is a speakerphone; otherwise says why in `missing`.
    fn configured(&mut self, path: &Path) -> Vec<Speakerphone> {
        let all = speakerphone::scan(Path::new(CLASS), Path::new("/dev"));
        let wanted: Vec<Speakerphone> = match speakerphone::resolve(path) {
            Ok(node) => all
                .into_iter()
                .filter(|d| speakerphone::resolve(Path::new(&d.path)).ok() == Some(node.clone()))
                .collect(),
            Err(e) => {
                self.missing = Some(missing(path, e.to_string()));
                return Vec::new();
            }
        };
        self.missing = wanted.is_empty().then(|| {
            let why = "not a HID device with a telephony mute button or mute LED";
            missing(path, why.into())
        });
        wanted
    }

    fn add(&mut self, device: Speakerphone, identity: String) {
        let file = match speakerphone::open(&device) {
            Ok(file) => Arc::new(file),
            Err(e) => {
                tracing::warn!("speakerphone {} ({}): {e}", device.name, device.path);
                self.fail(device, format!("cannot open: {e}"));
                return;
            }
        };
        tracing::info!(
            "speakerphone {} ({}, {}): mute button {}, mute LED {}",
            device.name,
            device.path,
            device.id,
            device.mute_button,
            device.mute_led
        );
        self.failed
            .retain(|f| f.device.name != device.name || f.device.id != device.id);
        self.next_id += 1;
        let id = self.next_id;
        let device_thread = DeviceThread {
            id,
            file,
            telephony: device.telephony(),
            events: self.events.clone(),
        };
        if device.mute_button {
            device_thread.spawn("button", |file, telephony, events| {
                speakerphone::watch_button(file, telephony, || {
                    let press = Input::Button {
                        button: Button::Mute,
                        press: Press::Short,
                    };
                    events.blocking_send(Event::Room(press)).is_ok()
                })
            });
        }
        let led = device.mute_led.then(|| {
            let (tx, rx) = std_mpsc::channel();
            device_thread.spawn("led", move |file, telephony, _| {
                speakerphone::drive_led(file, telephony, rx)
            });
            if let Some(muted) = self.muted {
                let _ = tx.send(muted);
            }
            tx
        });
        self.open.push(Open {
            id,
            device,
            identity,
            led,
        });
    }

    /// Device `id` failed or went away: its threads end, status shows it.
    pub fn lose(&mut self, id: u64, reason: &str) {
        let Some(at) = self.open.iter().position(|o| o.id == id) else {
            return;
        };
        let open = self.open.remove(at);
        tracing::warn!(
            "speakerphone {} ({}): {reason}",
            open.device.name,
            open.device.path
        );
        self.fail(open.device, format!("lost: {reason}"));
    }

    fn fail(&mut self, device: Speakerphone, reason: String) {
        self.failed.retain(|f| f.device.path != device.path);
        self.failed.push(SpeakerphoneStatus {
            device,
            error: Some(reason),
        });
    }

    /// Shows the room's mute on every speakerphone's LED (written only when it changes).
    pub fn show(&mut self, muted: bool) {
        if self.muted == Some(muted) {
            return;
        }
        self.muted = Some(muted);
        for led in self.open.iter().filter_map(|o| o.led.as_ref()) {
            let _ = led.send(muted);
        }
    }

    pub fn status(&self) -> Vec<SpeakerphoneStatus> {
        let working = self.open.iter().map(|o| SpeakerphoneStatus {
            device: o.device.clone(),
            error: None,
        });
        working.chain(self.failed.iter().cloned()).collect()
    }

    /// What people must know: devices that failed, a configured one that is not there.
    pub fn problems(&self) -> Vec<ProblemReport> {
        let failed = self.failed.iter().map(|f| {
            let summary = format!("speakerphone {} ({})", f.device.name, f.device.path);
            ProblemReport::new(ProblemSource::Speakerphone(f.device.path.clone()), summary)
                .with_detail(f.error.clone().unwrap_or_default())
        });
        failed.chain(self.missing.clone()).collect()
    }
}

/// The configured speakerphone at `path` cannot be used.
fn missing(path: &Path, why: String) -> ProblemReport {
    let path = path.display().to_string();
    let summary = format!("speakerphone {path}");
    ProblemReport::new(ProblemSource::Speakerphone(path), summary).with_detail(why)
}

/// What a device's reader and LED threads share.
struct DeviceThread {
    id: u64,
    file: Arc<File>,
    telephony: Telephony,
    events: mpsc::Sender<Event>,
}

impl DeviceThread {
    /// Runs `work` on its own thread; an error it returns ends the device (status says why).
    fn spawn(
        &self,
        what: &str,
        work: impl FnOnce(&File, Telephony, &mpsc::Sender<Event>) -> std::io::Result<()>
            + Send
            + 'static,
    ) {
        let (id, file, telephony) = (self.id, self.file.clone(), self.telephony);
        let events = self.events.clone();
        std::thread::Builder::new()
            .name(format!("speakerphone-{what}"))
            .spawn(move || {
                if let Err(e) = work(&file, telephony, &events) {
                    let reason = e.to_string();
                    let _ = events.blocking_send(Event::SpeakerphoneLost { id, reason });
                }
            })
            .expect("spawn a speakerphone thread");
    }
}

/// The HID device behind a hidraw node, e.g. `/sys/devices/.../0003:0B0E:0422.0005`.
fn identity(device: &Speakerphone) -> String {
    let node = Path::new(&device.path)
        .file_name()
        .unwrap_or_default()
        .to_owned();
    let link = Path::new(CLASS).join(node).join("device");
    std::fs::canonicalize(&link)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| device.path.clone())
}
