//! USB speakerphones' mute button and mute LED (Jabra Speak, Poly Sync, ...), over hidraw.
//!
//! Such a device reports its mute button as Telephony (0x0B) Phone Mute (0x2F) in an input
//! report, usually 1 while pressed, and lights its mute LED from LEDs (0x08) Mute (0x09) in an
//! output report. The room decides what a press means; here we only find the devices, turn
//! their reports into presses and write the LED.
//!
//! Like a GPIO button, a device is read by its own thread blocked in read(2) (one report per
//! read); its LED has its own thread too, because a write to a USB device can block while the
//! device is busy or going away.

use super::descriptor::{self, Descriptor, Field, ReportKind, Usage};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

pub const PHONE_MUTE: Usage = Usage::new(0x0B, 0x2F);
pub const LED_MUTE: Usage = Usage::new(0x08, 0x09);

/// Where a device keeps its mute button and LED, from its report descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Telephony {
    pub button: Option<Field>,
    pub led: Option<Field>,
    /// Reports start with their id byte.
    numbered: bool,
    /// The LED's output report length, without the id byte.
    led_report_len: usize,
}

impl Telephony {
    /// The mute controls in `descriptor`; None when it has neither.
    pub fn of(descriptor: &Descriptor) -> Option<Telephony> {
        let button = descriptor.find(ReportKind::Input, PHONE_MUTE).copied();
        let led = descriptor.find(ReportKind::Output, LED_MUTE).copied();
        if button.is_none() && led.is_none() {
            return None;
        }
        Some(Telephony {
            button,
            led,
            numbered: descriptor.numbered,
            led_report_len: led.map_or(0, |f| {
                descriptor.report_len(ReportKind::Output, f.report_id)
            }),
        })
    }

    /// What to write to the hidraw node to show `muted`: the report id (0 when reports are not
    /// numbered: hidraw wants it anyway) then the report, every bit but the mute LED at 0.
    pub fn led_report(&self, muted: bool) -> Option<Vec<u8>> {
        let led = self.led?;
        let mut report = vec![0u8; 1 + self.led_report_len];
        report[0] = led.report_id;
        led.write(&mut report[1..], u32::from(muted));
        Some(report)
    }

    /// The mute button's value in `report` as read from hidraw (with its id byte when reports
    /// are numbered); None when this report does not carry the button.
    pub fn button_value(&self, report: &[u8]) -> Option<u32> {
        let button = self.button?;
        let data = if self.numbered {
            let (&id, data) = report.split_first()?;
            if id != button.report_id {
                return None;
            }
            data
        } else {
            report
        };
        button.read(data)
    }
}

/// Turns the mute button's values into presses.
#[derive(Debug, Default)]
pub struct MuteButton {
    held: bool,
}

impl MuteButton {
    /// True when this value is a new press: a 0 -> 1 edge of an absolute button (which reports
    /// 1 for as long as it is held, and repeats it in reports about other controls), or any
    /// non-zero value of a relative one.
    pub fn press(&mut self, value: u32, relative: bool) -> bool {
        let held = value != 0;
        let press = held && (relative || !self.held);
        self.held = held && !relative;
        press
    }
}

/// A speakerphone found on the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Speakerphone {
    /// The hidraw node, e.g. `/dev/hidraw0`.
    pub path: String,
    /// The device's name as the kernel has it (`HID_NAME`), e.g. "Jabra SPEAK 510 USB".
    pub name: String,
    /// USB vendor and product ids, e.g. "0b0e:0422".
    pub id: String,
    pub mute_button: bool,
    pub mute_led: bool,
    #[serde(skip)]
    pub telephony: Option<Telephony>,
}

impl Speakerphone {
    pub fn telephony(&self) -> Telephony {
        self.telephony
            .expect("a speakerphone has telephony controls")
    }
}

/// Every hidraw device under `class` (`/sys/class/hidraw`) with a mute button or mute LED,
/// its node under `dev` (`/dev`), by node number. Devices whose descriptor cannot be read or
/// parsed are not speakerphones as far as the room can tell: they are skipped (logged).
pub fn scan(class: &Path, dev: &Path) -> Vec<Speakerphone> {
    let Ok(entries) = std::fs::read_dir(class) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((name.strip_prefix("hidraw")?.parse().ok()?, name))
        })
        .collect();
    nodes.sort();
    nodes
        .into_iter()
        .filter_map(|(_, node)| describe(&class.join(&node), &dev.join(&node)))
        .collect()
}

/// The speakerphone at one hidraw class directory, if it is one.
fn describe(sysfs: &Path, node: &Path) -> Option<Speakerphone> {
    let bytes = std::fs::read(sysfs.join("device/report_descriptor")).ok()?;
    let descriptor = match descriptor::parse(&bytes) {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!("{}: report descriptor: {e}", sysfs.display());
            return None;
        }
    };
    let telephony = Telephony::of(&descriptor)?;
    let uevent = std::fs::read_to_string(sysfs.join("device/uevent")).unwrap_or_default();
    let value = |key: &str| {
        uevent
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    // HID_ID=0003:00000B0E:00000422 (bus, vendor, product).
    let id = value("HID_ID")
        .and_then(|v| {
            let mut parts = v.split(':').skip(1);
            let vendor = u32::from_str_radix(parts.next()?, 16).ok()?;
            let product = u32::from_str_radix(parts.next()?, 16).ok()?;
            Some(format!("{vendor:04x}:{product:04x}"))
        })
        .unwrap_or_default();
    Some(Speakerphone {
        path: node.display().to_string(),
        name: value("HID_NAME").unwrap_or_else(|| "HID device".into()),
        id,
        mute_button: telephony.button.is_some(),
        mute_led: telephony.led.is_some(),
        telephony: Some(telephony),
    })
}

/// The hidraw node a configured path (a node, or a udev link to one) stands for.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// Opens the device for reading reports and writing the LED.
pub fn open(speakerphone: &Speakerphone) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&speakerphone.path)
}

/// Reads reports until the device goes away or `press` returns false; calls `press` for each
/// press of the mute button. Returns the error that ended it (the device unplugged: EIO/ENODEV).
pub fn watch_button(
    mut file: &File,
    telephony: Telephony,
    mut press: impl FnMut() -> bool,
) -> io::Result<()> {
    let Some(button) = telephony.button else {
        return Ok(());
    };
    let mut tracker = MuteButton::default();
    // hidraw's largest report (HID_MAX_BUFFER_SIZE).
    let mut report = vec![0u8; 16_384];
    loop {
        let n = match file.read(&mut report) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(value) = telephony.button_value(&report[..n]) {
            if tracker.press(value, button.relative) && !press() {
                return Ok(());
            }
        }
    }
}

/// Writes the mute LED each time `muted` changes, until the sender is dropped.
pub fn drive_led(
    mut file: &File,
    telephony: Telephony,
    muted: std_mpsc::Receiver<bool>,
) -> io::Result<()> {
    let mut shown = None;
    while let Ok(mut next) = muted.recv() {
        // Only the latest state matters.
        while let Ok(later) = muted.try_recv() {
            next = later;
        }
        if shown == Some(next) {
            continue;
        }
        if let Some(report) = telephony.led_report(next) {
            file.write_all(&report)?;
        }
        shown = Some(next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A telephony collection in report 3 behind a consumer one in report 1; the LED report
    /// also carries Off-Hook and Ring, which must stay 0.
    const DESCRIPTOR: &[u8] = &[
        0x05, 0x0C, 0x09, 0x01, 0xA1, 0x01, 0x85, 0x01, 0x15, 0x00, 0x25, 0x01, 0x09, 0xE9, 0x09,
        0xEA, 0x75, 0x01, 0x95, 0x02, 0x81, 0x06, 0x95, 0x06, 0x81, 0x01, 0xC0, //
        0x05, 0x0B, 0x09, 0x05, 0xA1, 0x01, 0x85, 0x03, 0x15, 0x00, 0x25, 0x01, //
        0x09, 0x20, 0x09, 0x2F, 0x75, 0x01, 0x95, 0x02, 0x81, 0x22, 0x95, 0x06, 0x81, 0x01, //
        0x05, 0x08, 0x09, 0x17, 0x09, 0x18, 0x09, 0x09, 0x95, 0x03, 0x91, 0x22, 0x95, 0x05, 0x91,
        0x01, 0xC0,
    ];

    fn telephony() -> Telephony {
        Telephony::of(&descriptor::parse(DESCRIPTOR).unwrap()).unwrap()
    }

    #[test]
    fn led_report_sets_only_the_mute_bit() {
        let t = telephony();
        assert_eq!(t.led_report(true), Some(vec![3, 0b100]));
        assert_eq!(t.led_report(false), Some(vec![3, 0]));
    }

    #[test]
    fn button_value_only_from_its_report() {
        let t = telephony();
        assert_eq!(t.button_value(&[3, 0b10]), Some(1));
        assert_eq!(t.button_value(&[3, 0b01]), Some(0), "hook switch only");
        assert_eq!(t.button_value(&[1, 0b10]), None, "volume report");
        assert_eq!(t.button_value(&[3]), None, "too short");
        assert_eq!(t.button_value(&[]), None);
    }

    #[test]
    fn a_keyboard_is_not_a_speakerphone() {
        // Usage Page (Generic Desktop), Usage (Keyboard), Collection, LEDs Num/Caps Lock out.
        let keyboard = [
            0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x02, 0x75, 0x01,
            0x95, 0x02, 0x91, 0x02, 0xC0,
        ];
        assert_eq!(Telephony::of(&descriptor::parse(&keyboard).unwrap()), None);
    }

    #[test]
    fn presses_are_edges_of_absolute_buttons() {
        let mut b = MuteButton::default();
        let presses: Vec<bool> = [0, 1, 1, 0, 0, 1, 0]
            .iter()
            .map(|&v| b.press(v, false))
            .collect();
        assert_eq!(presses, [false, true, false, false, false, true, false]);
        // Relative: each non-zero value is a press, even without a 0 between.
        let mut b = MuteButton::default();
        let presses: Vec<bool> = [1, 1, 0, 1].iter().map(|&v| b.press(v, true)).collect();
        assert_eq!(presses, [true, true, false, true]);
    }

    /// A sysfs tree shaped like the kernel's: a speakerphone, a keyboard, a broken descriptor.
    #[test]
    fn scan_finds_speakerphones_only() {
        let root = tempfile::tempdir().unwrap();
        let class = root.path().join("class");
        let add = |node: &str, descriptor: &[u8], uevent: &str| {
            let device = class.join(node).join("device");
            std::fs::create_dir_all(&device).unwrap();
            std::fs::write(device.join("report_descriptor"), descriptor).unwrap();
            std::fs::write(device.join("uevent"), uevent).unwrap();
        };
        add(
            "hidraw10",
            DESCRIPTOR,
            "DRIVER=hid-generic\nHID_ID=0003:00000B0E:00000422\nHID_NAME=Jabra SPEAK 510 USB\n",
        );
        add("hidraw2", &[0x05, 0x01, 0x09, 0x06], "HID_NAME=Keyboard\n");
        add("hidraw3", &[0xB4], "HID_NAME=Broken\n");
        let found = scan(&class, Path::new("/dev"));
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!(
            (s.path.as_str(), s.name.as_str(), s.id.as_str()),
            ("/dev/hidraw10", "Jabra SPEAK 510 USB", "0b0e:0422")
        );
        assert!(s.mute_button && s.mute_led);
        assert!(scan(&root.path().join("nothing"), Path::new("/dev")).is_empty());
    }
}
