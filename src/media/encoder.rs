//! The H.264 encoder ladder: which encoders exist here, in what order the room prefers them,
//! and how each one is set up and steered live (bitrate, keyframes, size).
//!
//! Every encoder differs in units and knobs; this file is the one place that knows them, so the
//! send pipeline can say "bitrate 1500 kbit/s" without caring which encoder runs.

use super::elements;
use gstreamer as gst;
use gstreamer::prelude::*;
use serde::{Deserialize, Serialize};

/// An H.264 encoder the room can use, in preference order (hardware first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoder {
    /// The camera encodes H.264 itself: passed through, no encoding on the board.
    Camera,
    /// Raspberry Pi 4 hardware encoder (bcm2835-codec).
    V4l2,
    /// VA-API through the `va` plugin (Intel/AMD boards).
    Va,
    /// VA-API through the older `vaapi` plugin.
    Vaapi,
    /// Software: x264, zerolatency/ultrafast.
    X264,
    /// Software: Cisco's OpenH264.
    OpenH264,
}

impl Encoder {
    /// The ladder, best first.
    pub const LADDER: [Encoder; 6] = [
        Encoder::Camera,
        Encoder::V4l2,
        Encoder::Va,
        Encoder::Vaapi,
        Encoder::X264,
        Encoder::OpenH264,
    ];

    /// The GStreamer element, or None for camera pass-through.
    pub fn element_name(self) -> Option<&'static str> {
        match self {
            Encoder::Camera => None,
            Encoder::V4l2 => Some(elements::V4L2H264ENC),
            Encoder::Va => Some(elements::VAH264ENC),
            Encoder::Vaapi => Some(elements::VAAPIH264ENC),
            Encoder::X264 => Some(elements::X264ENC),
            Encoder::OpenH264 => Some(elements::OPENH264ENC),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoder::Camera => "camera",
            Encoder::V4l2 => "v4l2",
            Encoder::Va => "va",
            Encoder::Vaapi => "vaapi",
            Encoder::X264 => "x264",
            Encoder::OpenH264 => "openh264",
        }
    }

    /// Is this encoder usable here? Hardware encoders' elements only exist when their device
    /// does (GStreamer registers v4l2h264enc per encoder device found).
    pub fn available(self, camera_gives_h264: bool) -> bool {
        match self.element_name() {
            None => camera_gives_h264,
            Some(name) => elements::installed(name),
        }
    }

    /// The best encoder available, or the configured one when it is available.
    pub fn choose(wanted: Option<Encoder>, camera_gives_h264: bool) -> Result<Encoder, String> {
        match wanted {
            Some(e) if e.available(camera_gives_h264) => Ok(e),
            Some(e) => Err(format!(
                "encoder \"{}\" is not available on this device",
                e.name()
            )),
            None => Encoder::LADDER
                .into_iter()
                .find(|e| e.available(camera_gives_h264))
                .ok_or_else(|| elements::not_installed(elements::X264ENC)),
        }
    }

    /// Makes and sets up the encoder for a live call at `kbps`, a keyframe at least every
    /// `gop` frames.
    pub fn make(self, kbps: u32, gop: u32) -> Result<gst::Element, String> {
        let name = self
            .element_name()
            .ok_or("camera pass-through has no encoder element")?;
        let element = gst::ElementFactory::make(name)
            .name("encoder")
            .build()
            .map_err(|e| format!("{name}: {e}"))?;
        match self {
            Encoder::X264 => {
                element.set_property_from_str("tune", "zerolatency");
                element.set_property_from_str("speed-preset", "ultrafast");
                element.set_property("key-int-max", gop);
                element.set_property("bframes", 0u32);
            }
            Encoder::OpenH264 => {
                element.set_property_from_str("rate-control", "bitrate");
                element.set_property_from_str("complexity", "low");
                element.set_property("gop-size", gop);
                // Without frame skipping OpenH264 overshoots its target many times on busy
                // pictures (measured: 14.8 Mbit/s for a 1.2 Mbit/s target on noise).
                element.set_property("enable-frame-skip", true);
            }
            Encoder::Va | Encoder::Vaapi => {
                element.set_property("key-int-max", gop);
            }
            // The Pi's encoder hangs with an I-frame period of 1 (docs/architecture.md, "Facts
            // the code relies on"): never go below 2.
            Encoder::V4l2 | Encoder::Camera => {}
        }
        let gop = gop.max(2);
        self.apply_bitrate(&element, kbps, gop);
        Ok(element)
    }

    /// Sets the target bitrate, live.
    pub fn apply_bitrate(self, element: &gst::Element, kbps: u32, gop: u32) {
        match self {
            Encoder::X264 | Encoder::Va | Encoder::Vaapi => element.set_property("bitrate", kbps),
            Encoder::OpenH264 => element.set_property("bitrate", kbps * 1000),
            Encoder::V4l2 => {
                let controls = gst::Structure::builder("controls")
                    .field("video_bitrate", (kbps * 1000) as i32)
                    .field("h264_i_frame_period", gop.max(2) as i32)
                    .field("repeat_sequence_header", 1i32)
                    .build();
                element.set_property("extra-controls", controls);
            }
            Encoder::Camera => {}
        }
    }

    /// Caps right after the encoder: a profile every browser decodes, and the Pi's level quirk.
    pub fn output_caps(self) -> gst::Caps {
        match self {
            // bcm2835-codec needs the level pinned after it or negotiation fails
            // (docs/architecture.md, "Facts the code relies on").
            Encoder::V4l2 => gst::Caps::builder("video/x-h264")
                .field("level", "4")
                .build(),
            Encoder::X264 | Encoder::OpenH264 => gst::Caps::builder("video/x-h264")
                .field("profile", "constrained-baseline")
                .build(),
            Encoder::Va | Encoder::Vaapi | Encoder::Camera => {
                gst::Caps::new_empty_simple("video/x-h264")
            }
        }
    }
}

impl std::str::FromStr for Encoder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Encoder::LADDER
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                format!("unknown encoder \"{s}\" (camera, v4l2, va, vaapi, x264, openh264)")
            })
    }
}

/// The picture sizes the room steps through when the network or the CPU cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    P180,
    P360,
    P720,
    P1080,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::P180, Step::P360, Step::P720, Step::P1080];

    /// (width, height, fps)
    pub fn size(self) -> (u32, u32, u32) {
        match self {
            Step::P1080 => (1920, 1080, 30),
            Step::P720 => (1280, 720, 30),
            Step::P360 => (640, 360, 30),
            Step::P180 => (320, 180, 15),
        }
    }

    /// The largest step that fits in `width` x `height`.
    pub fn fitting(width: u32, height: u32) -> Step {
        Step::ALL
            .into_iter()
            .rev()
            .find(|s| s.size().0 <= width && s.size().1 <= height)
            .unwrap_or(Step::P180)
    }

    pub fn down(self) -> Option<Step> {
        Step::ALL.into_iter().rev().find(|s| *s < self)
    }

    pub fn up(self) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s > self)
    }

    /// A bitrate that suits the size, for when the network estimate is unknown.
    pub fn default_kbps(self) -> u32 {
        match self {
            Step::P1080 => 3500,
            Step::P720 => 1800,
            Step::P360 => 600,
            Step::P180 => 200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_go_down_and_up_the_ladder() {
        assert_eq!(Step::P1080.down(), Some(Step::P720));
        assert_eq!(Step::P360.down(), Some(Step::P180));
        assert_eq!(Step::P180.down(), None);
        assert_eq!(Step::P180.up(), Some(Step::P360));
        assert_eq!(Step::P1080.up(), None);
        assert_eq!(Step::P180.size(), (320, 180, 15));
    }

    #[test]
    fn the_step_fits_the_camera() {
        assert_eq!(Step::fitting(1280, 720), Step::P720);
        assert_eq!(Step::fitting(1920, 1080), Step::P1080);
        assert_eq!(Step::fitting(640, 480), Step::P360);
        assert_eq!(Step::fitting(100, 100), Step::P180);
    }

    #[test]
    fn encoder_names_parse() {
        assert_eq!("x264".parse::<Encoder>(), Ok(Encoder::X264));
        assert!("h265"
            .parse::<Encoder>()
            .unwrap_err()
            .contains("unknown encoder"));
    }

    #[test]
    fn the_ladder_prefers_hardware_and_honours_overrides() {
        crate::media::init().unwrap();
        // On this build machine there is no hardware encoder: x264 is the best available.
        let best = Encoder::choose(None, false).unwrap();
        assert!(
            matches!(
                best,
                Encoder::X264 | Encoder::V4l2 | Encoder::Va | Encoder::Vaapi
            ),
            "{best:?}"
        );
        assert_eq!(Encoder::choose(None, true).unwrap(), Encoder::Camera);
        assert_eq!(
            Encoder::choose(Some(Encoder::OpenH264), true).unwrap(),
            Encoder::OpenH264
        );
        assert!(Encoder::choose(Some(Encoder::Camera), false).is_err());
    }
}
