//! Every GStreamer element the daemon can create, in one table: its factory name, the Debian
//! package that ships it, what it is for, and whether a room needs it.
//!
//! Why one table: a package missing from the install (`gstreamer1.0-x`, which ships
//! `textoverlay`) once left a new device with no video while every test passed on a machine
//! that had it from an earlier manual install. With every name here, and the pipelines using
//! the constants below (never a string literal), one test can check that each element is
//! installed or is hardware-only for a stated reason, and that each package is on the runtime
//! list the installer and the Debian package use (`scripts/packages/runtime.txt`); the daemon
//! names a missing element and its package in `salle status` at start-up; `salle devices` lists
//! what was found.

use serde::Serialize;

/// Why a room needs an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "need", content = "why")]
pub enum Need {
    /// Every room: without it a pipeline cannot be built.
    Required,
    /// Optional: used when present, with a fallback otherwise (the reason says which).
    Optional(&'static str),
    /// Registered only where the hardware (or its kernel driver) exists; the reason says which.
    Hardware(&'static str),
}

/// What an element does, for `salle devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Source,
    Encoder,
    Decoder,
    Parser,
    Processing,
    Drawing,
    Plumbing,
    Sink,
}

impl Role {
    /// Every role, in the order `salle devices` lists them.
    pub const ALL: [Role; 8] = [
        Role::Encoder,
        Role::Decoder,
        Role::Sink,
        Role::Source,
        Role::Parser,
        Role::Processing,
        Role::Drawing,
        Role::Plumbing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Source => "sources",
            Role::Encoder => "encoders",
            Role::Decoder => "decoders",
            Role::Parser => "parsers",
            Role::Processing => "processing",
            Role::Drawing => "drawing",
            Role::Plumbing => "plumbing",
            Role::Sink => "sinks",
        }
    }
}

/// One element of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Element {
    /// The factory name (`gst-inspect-1.0 <name>`).
    pub name: &'static str,
    /// The Debian package that ships it (bookworm).
    pub package: &'static str,
    pub role: Role,
    #[serde(flatten)]
    pub need: Need,
}

macro_rules! elements {
    ($( $(#[$doc:meta])* $constant:ident = $name:literal, $package:literal, $role:ident, $need:expr; )*) => {
        $( $(#[$doc])* pub const $constant: &str = $name; )*

        /// Every element the daemon can create.
        pub const ALL: &[Element] = &[
            $( Element { name: $name, package: $package, role: Role::$role, need: $need }, )*
        ];
    };
}

elements! {
    // Sources
    /// The camera.
    V4L2SRC = "v4l2src", "gstreamer1.0-plugins-good", Source, Need::Required;
    /// The microphone.
    ALSASRC = "alsasrc", "gstreamer1.0-alsa", Source, Need::Required;
    /// The simulated camera, the camera-off card, the screen's background and panels.
    VIDEOTESTSRC = "videotestsrc", "gstreamer1.0-plugins-base", Source, Need::Required;
    /// The daemon's slow-start test hook (`SALLE_TEST_SLOW_START_FIFO`): a file source whose
    /// start blocks on a FIFO; in GStreamer's core, so always there.
    FILESRC = "filesrc", "libgstreamer1.0-0", Source, Need::Required;
    /// The simulated microphone (a tone) and the speaker's silence.
    AUDIOTESTSRC = "audiotestsrc", "gstreamer1.0-plugins-base", Source, Need::Required;
    /// Remote people's encoded frames, handed over by the WebRTC layer.
    APPSRC = "appsrc", "gstreamer1.0-plugins-base", Source, Need::Required;
    /// The self-view, from the send pipeline into the screen's.
    INTERVIDEOSRC = "intervideosrc", "gstreamer1.0-plugins-bad", Source, Need::Required;

    // Encoders: the H.264 ladder (see `encoder`), hardware first; x264 is the software floor.
    /// The Raspberry Pi 4's hardware encoder.
    V4L2H264ENC = "v4l2h264enc", "gstreamer1.0-plugins-good", Encoder,
        Need::Hardware("a V4L2 memory-to-memory H.264 encoder (the Pi 4's bcm2835-codec, in the Raspberry Pi kernel only)");
    /// VA-API through GStreamer's `va` plugin.
    VAH264ENC = "vah264enc", "gstreamer1.0-plugins-bad", Encoder,
        Need::Hardware("a GPU with a VA-API driver (Intel, AMD); registered only when a VA device opens");
    /// VA-API through gstreamer-vaapi (older Intel boxes).
    VAAPIH264ENC = "vaapih264enc", "gstreamer1.0-vaapi", Encoder,
        Need::Hardware("a GPU with a VA-API driver, and gstreamer1.0-vaapi installed by hand");
    /// The software encoder every room can use.
    X264ENC = "x264enc", "gstreamer1.0-plugins-ugly", Encoder, Need::Required;
    /// The second software encoder (Cisco's OpenH264).
    OPENH264ENC = "openh264enc", "gstreamer1.0-plugins-bad", Encoder,
        Need::Optional("x264enc is preferred; openh264enc is the ladder's last step");
    /// The microphone's Opus.
    OPUSENC = "opusenc", "gstreamer1.0-plugins-base", Encoder, Need::Required;

    // Decoders
    /// The Pi 4's hardware H.264 decoder.
    V4L2H264DEC = "v4l2h264dec", "gstreamer1.0-plugins-good", Decoder,
        Need::Hardware("a V4L2 memory-to-memory H.264 decoder (the Pi 4's bcm2835-codec)");
    /// H.264 in software: remote people, and the preview of a camera that gives H.264.
    AVDEC_H264 = "avdec_h264", "gstreamer1.0-libav", Decoder, Need::Required;
    /// H.264 in software, when libav is not there.
    OPENH264DEC = "openh264dec", "gstreamer1.0-plugins-bad", Decoder,
        Need::Optional("avdec_h264 is preferred");
    VP8DEC = "vp8dec", "gstreamer1.0-plugins-good", Decoder, Need::Required;
    /// Also VP9 with SVC, as La Suite Meet's web clients send it.
    VP9DEC = "vp9dec", "gstreamer1.0-plugins-good", Decoder, Need::Required;
    /// A board's hardware JPEG decoder, for MJPEG cameras.
    V4L2JPEGDEC = "v4l2jpegdec", "gstreamer1.0-plugins-good", Decoder,
        Need::Hardware("a V4L2 memory-to-memory JPEG decoder; jpegdec decodes MJPEG cameras without one");
    /// MJPEG cameras (most USB webcams).
    JPEGDEC = "jpegdec", "gstreamer1.0-plugins-good", Decoder, Need::Required;
    OPUSDEC = "opusdec", "gstreamer1.0-plugins-base", Decoder, Need::Required;

    // Parsers
    H264PARSE = "h264parse", "gstreamer1.0-plugins-bad", Parser, Need::Required;
    JPEGPARSE = "jpegparse", "gstreamer1.0-plugins-bad", Parser, Need::Required;

    // Processing
    VIDEOCONVERT = "videoconvert", "gstreamer1.0-plugins-base", Processing, Need::Required;
    VIDEOSCALE = "videoscale", "gstreamer1.0-plugins-base", Processing, Need::Required;
    /// Converts and scales in one pass (GStreamer 1.22).
    VIDEOCONVERTSCALE = "videoconvertscale", "gstreamer1.0-plugins-base", Processing, Need::Required;
    VIDEORATE = "videorate", "gstreamer1.0-plugins-base", Processing, Need::Required;
    /// The self-view's mirror.
    VIDEOFLIP = "videoflip", "gstreamer1.0-plugins-good", Processing, Need::Required;
    AUDIOCONVERT = "audioconvert", "gstreamer1.0-plugins-base", Processing, Need::Required;
    AUDIORESAMPLE = "audioresample", "gstreamer1.0-plugins-base", Processing, Need::Required;
    /// Echo cancellation, noise suppression, gain control.
    WEBRTCDSP = "webrtcdsp", "gstreamer1.0-plugins-bad", Processing, Need::Required;
    /// What the speaker plays, for the echo canceller.
    WEBRTCECHOPROBE = "webrtcechoprobe", "gstreamer1.0-plugins-bad", Processing, Need::Required;
    /// The microphone's level meter.
    LEVEL = "level", "gstreamer1.0-plugins-good", Processing, Need::Required;
    /// Mixes remote people's sound.
    AUDIOMIXER = "audiomixer", "gstreamer1.0-plugins-base", Processing, Need::Required;

    // Drawing the room screen
    /// The screen: people's tiles and the room's panels.
    COMPOSITOR = "compositor", "gstreamer1.0-plugins-base", Drawing, Need::Required;
    /// Every text: names, the clock, messages, captions, the camera-off card (Pango).
    TEXTOVERLAY = "textoverlay", "gstreamer1.0-x", Drawing, Need::Required;

    // Plumbing
    CAPSFILTER = "capsfilter", "libgstreamer1.0-0", Plumbing, Need::Required;
    TEE = "tee", "libgstreamer1.0-0", Plumbing, Need::Required;
    QUEUE = "queue", "libgstreamer1.0-0", Plumbing, Need::Required;
    /// Mute and the gate before the encoder: nothing leaves while closed.
    VALVE = "valve", "libgstreamer1.0-0", Plumbing, Need::Required;
    /// Camera or camera-off card.
    INPUT_SELECTOR = "input-selector", "libgstreamer1.0-0", Plumbing, Need::Required;

    // Sinks
    /// Encoded frames to the WebRTC layer; the screen's frames in tests.
    APPSINK = "appsink", "gstreamer1.0-plugins-base", Sink, Need::Required;
    /// The self-view's channel to the screen pipeline.
    INTERVIDEOSINK = "intervideosink", "gstreamer1.0-plugins-bad", Sink, Need::Required;
    /// The HDMI screen without a desktop (`[screen] output = "kms"`).
    KMSSINK = "kmssink", "gstreamer1.0-plugins-bad", Sink, Need::Required;
    /// A window on a desktop (`[screen] output = "window"`).
    AUTOVIDEOSINK = "autovideosink", "gstreamer1.0-plugins-good", Sink, Need::Required;
    /// The speaker.
    ALSASINK = "alsasink", "gstreamer1.0-alsa", Sink, Need::Required;
    AUTOAUDIOSINK = "autoaudiosink", "gstreamer1.0-plugins-good", Sink, Need::Required;
    /// No speaker.
    FAKESINK = "fakesink", "libgstreamer1.0-0", Sink, Need::Required;
}

/// The table's entry for `name`.
pub fn find(name: &str) -> Option<&'static Element> {
    ALL.iter().find(|e| e.name == name)
}

/// Whether an element factory is installed.
pub fn installed(name: &str) -> bool {
    gstreamer::ElementFactory::find(name).is_some()
}

/// A required element that is not installed, with the package to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub element: &'static str,
    pub package: &'static str,
}

/// One line with no ": ", so that the room screen, which shows a problem's words before the
/// first ": ", shows the package too: the person installing the room is looking at it.
impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GStreamer element {} missing (install {})",
            self.element, self.package
        )
    }
}

/// Makes a `factory` element called `name`; a factory that is not installed is an error naming
/// its package.
pub fn make(factory: &str, name: &str) -> Result<gstreamer::Element, String> {
    gstreamer::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| not_installed(factory))
}

/// Every required element that is not installed (GStreamer must be initialised).
pub fn missing_required() -> Vec<Missing> {
    ALL.iter()
        .filter(|e| e.need == Need::Required && !installed(e.name))
        .map(|e| Missing {
            element: e.name,
            package: e.package,
        })
        .collect()
}

/// The message for an element that could not be made: its package when it is in the table.
pub fn not_installed(name: &str) -> String {
    match find(name) {
        Some(e) => Missing {
            element: e.name,
            package: e.package,
        }
        .to_string(),
        None => format!("GStreamer element {name} missing"),
    }
}

/// An element of the table and whether this machine has it: the media capabilities that
/// `salle devices` lists beside the devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capability {
    #[serde(flatten)]
    pub element: Element,
    pub installed: bool,
}

/// Every element of the table, found or not (GStreamer must be initialised).
pub fn capabilities() -> Vec<Capability> {
    ALL.iter()
        .map(|element| Capability {
            element: *element,
            installed: installed(element.name),
        })
        .collect()
}
