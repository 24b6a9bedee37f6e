//! Cameras: what a V4L2 capture device offers, and which device and mode the room should use.
//!
//! The descriptions are plain data (serialisable), so the choice logic is tested on captured
//! descriptions of real devices without the devices.

pub mod simulated;
pub mod v4l2;

use serde::{Deserialize, Serialize};

/// How a pixel format carries pictures, in the order the room prefers them: a camera that
/// encodes H.264 itself saves the board's encoder; MJPEG is cheap on USB bandwidth; raw last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    H264,
    Mjpeg,
    Raw,
    /// Formats the media engine does not take (e.g. compressed formats other than the above).
    Other,
}

impl Encoding {
    pub fn of_fourcc(fourcc: &str) -> Encoding {
        match fourcc {
            "H264" => Encoding::H264,
            "MJPG" | "JPEG" => Encoding::Mjpeg,
            "YUYV" | "UYVY" | "YVYU" | "VYUY" | "NV12" | "NV21" | "YU12" | "YV12" | "NV16"
            | "NV61" | "RGB3" | "BGR3" | "RGBP" | "XR24" | "XB24" | "AR24" | "AB24" | "BA24"
            | "RX24" | "GREY" => Encoding::Raw,
            _ => Encoding::Other,
        }
    }
}

/// A frame size with the frame rates the device offers at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameSize {
    pub width: u32,
    pub height: u32,
    /// Frames per second, highest first.
    pub fps: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelFormat {
    /// The V4L2 four-character code, e.g. "MJPG".
    pub fourcc: String,
    pub description: String,
    pub encoding: Encoding,
    pub sizes: Vec<FrameSize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraControl {
    /// Name as the room's config uses it: the driver's name in snake_case.
    pub name: String,
    pub id: u32,
    /// "integer", "boolean", "menu", "button", ...
    pub kind: String,
    pub min: i64,
    pub max: i64,
    pub step: u64,
    pub default: i64,
    /// Current value, when readable.
    pub value: Option<i64>,
    /// Menu entries (value, label) for menu controls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<(i64, String)>,
}

/// Everything `salle devices` says about one camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    pub path: String,
    pub driver: String,
    pub card: String,
    pub bus: String,
    pub formats: Vec<PixelFormat>,
    pub controls: Vec<CameraControl>,
}

/// What the room wants from its camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// A mode to capture in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mode {
    pub fourcc: String,
    pub encoding: Encoding,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}x{}@{}",
            self.fourcc, self.width, self.height, self.fps
        )
    }
}

/// The best mode for `wanted`: among modes that give at least the wanted size and rate, the
/// smallest such size (no 4K capture for a 720p call), then H.264 over MJPEG over raw, then the
/// rate closest to the wanted one. When nothing is big enough at that rate, the largest mode that
/// keeps the rate (a call needs motion more than pixels), else the fastest mode.
pub fn choose_mode(camera: &CameraInfo, wanted: Wanted) -> Option<Mode> {
    let candidates = camera
        .formats
        .iter()
        .filter(|f| f.encoding != Encoding::Other)
        .flat_map(|format| {
            format.sizes.iter().flat_map(move |size| {
                size.fps.iter().map(move |&fps| Mode {
                    fourcc: format.fourcc.clone(),
                    encoding: format.encoding,
                    width: size.width,
                    height: size.height,
                    fps,
                })
            })
        });
    let wanted_fps = f64::from(wanted.fps);
    let rank = |m: &Mode| {
        let big_enough = m.width >= wanted.width && m.height >= wanted.height;
        let fast_enough = m.fps + 0.5 >= wanted_fps;
        let pixels = u64::from(m.width) * u64::from(m.height);
        // Lower ranks better, compared lexicographically. A satisfying mode: the smallest.
        // Otherwise motion matters more than size in a call: the largest mode that keeps the
        // rate, and failing that the fastest one.
        let size_rank = match (big_enough && fast_enough, fast_enough) {
            (true, _) => pixels,
            (false, true) => u64::MAX - pixels,
            (false, false) => u64::MAX - (m.fps * 1000.0) as u64,
        };
        (
            !(big_enough && fast_enough),
            !fast_enough,
            size_rank,
            m.encoding,
            ((m.fps - wanted_fps).abs() * 1000.0) as u64,
        )
    };
    candidates.min_by_key(rank)
}

/// A camera the room could use, and why it is or is not the one `auto` picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraChoice {
    pub path: String,
    pub mode: Mode,
    pub reason: String,
}

/// Picks the camera for "auto": USB cameras first (the room's camera is a USB camera; platform
/// devices are test or ISP nodes), then the best mode, then the lowest device path.
pub fn choose_camera(cameras: &[CameraInfo], wanted: Wanted) -> Option<CameraChoice> {
    let mut usable: Vec<(&CameraInfo, Mode)> = cameras
        .iter()
        .filter_map(|c| choose_mode(c, wanted).map(|m| (c, m)))
        .collect();
    usable.sort_by_key(|(c, m)| {
        let satisfies = m.width >= wanted.width
            && m.height >= wanted.height
            && m.fps + 0.5 >= f64::from(wanted.fps);
        (
            !c.bus.starts_with("usb-"),
            !satisfies,
            m.encoding,
            c.path.clone(),
        )
    });
    let (camera, mode) = usable.first()?;
    let mut reason = format!(
        "{} camera \"{}\" gives {}",
        if camera.bus.starts_with("usb-") {
            "USB"
        } else {
            "non-USB"
        },
        camera.card,
        mode
    );
    if usable.len() > 1 {
        reason.push_str(&format!(" (best of {} cameras)", usable.len()));
    }
    Some(CameraChoice {
        path: camera.path.clone(),
        mode: mode.clone(),
        reason,
    })
}

/// A control value to set, checked against what the camera offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlSetting {
    pub id: u32,
    pub boolean: bool,
    pub value: i64,
}

/// Resolves the configured controls (by name) against the camera's controls: what to set, and
/// one message per control that does not exist or is out of range.
pub fn resolve_controls(
    controls: &[CameraControl],
    wanted: &std::collections::BTreeMap<String, i64>,
) -> (Vec<ControlSetting>, Vec<String>) {
    let mut settings = Vec::new();
    let mut problems = Vec::new();
    for (name, &value) in wanted {
        match controls.iter().find(|c| &c.name == name) {
            None => problems.push(format!("camera has no control named \"{name}\"")),
            Some(c) if value < c.min || value > c.max => problems.push(format!(
                "camera control {name} = {value} is outside {}..={}",
                c.min, c.max
            )),
            Some(c) => settings.push(ControlSetting {
                id: c.id,
                boolean: c.kind == "boolean",
                value,
            }),
        }
    }
    (settings, problems)
}

/// Turns a driver's control name ("Power Line Frequency") into the config's ("power_line_frequency").
pub fn control_key(name: &str) -> String {
    let mut key = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests;
