//! The daemon's configuration file (`/etc/salle/salle.toml`): its shape, its defaults, and
//! loading with errors that name the file, line, column and field.
//!
//! Every field has a default, so an empty file (or no file) is a working simulated room.
//! Unknown keys are errors: a typo must never pass silently.

mod load;
mod validate;

pub use load::{load_file, parse, ConfigError};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the daemon looks when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/salle/salle.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub room: RoomConfig,
    pub meeting: MeetingConfig,
    pub calendar: CalendarConfig,
    pub camera: CameraConfig,
    pub audio: AudioConfig,
    pub buttons: ButtonsConfig,
    pub leds: LedsConfig,
    pub speakerphone: SpeakerphoneConfig,
    pub media: MediaConfig,
    pub screen: ScreenConfig,
    pub network: NetworkConfig,
    pub control: ControlConfig,
    pub management: ManagementConfig,
    pub web: WebConfig,
}

/// How the room reaches meetings over WebRTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Local addresses for host candidates: `0.0.0.0:0` is every interface but loopback, on
    /// ephemeral ports; a fixed port (`0.0.0.0:50000`) eases firewall rules.
    pub bind: Vec<std::net::SocketAddr>,
    /// STUN/TURN servers. None by default: nothing is contacted that the room's owner did not
    /// name (meeting services may add theirs).
    pub ice_servers: Vec<IceServerConfig>,
    /// Send media only through the TURN servers (networks that allow nothing else, or to hide
    /// the room's addresses).
    pub relay_only: bool,
    /// PEM certificates trusted beside the system's roots for TLS to TURN servers: a private
    /// CA, or the CA of a TLS-inspecting proxy.
    pub ca_file: Option<PathBuf>,
    /// The HTTP proxy every outgoing connection goes through (`http://host:port`, CONNECT for
    /// WebSockets and TURN/TLS). Unset: `https_proxy`/`no_proxy` from the environment, if any.
    pub proxy: Option<String>,
    /// `user:password` for the proxy (Basic), in a file of mode 0600.
    pub proxy_credentials_file: Option<PathBuf>,
    /// The video bitrate range congestion control may use, kbit/s.
    pub min_video_kbps: u32,
    pub max_video_kbps: u32,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            bind: vec![std::net::SocketAddr::from(([0, 0, 0, 0], 0))],
            ice_servers: Vec::new(),
            relay_only: false,
            ca_file: None,
            proxy: None,
            proxy_credentials_file: None,
            min_video_kbps: 150,
            max_video_kbps: 2500,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceServerConfig {
    /// `stun:host:3478`, `turn:host:3478?transport=udp`, `turns:host:443?transport=tcp`.
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The H.264 encoder: "camera", "v4l2", "va", "vaapi", "x264", "openh264"; unset: the best
    /// one found (hardware first).
    pub encoder: Option<crate::media::encoder::Encoder>,
    /// Starting video bitrate in kbit/s; unset: suited to the picture size.
    pub video_kbps: Option<u32>,
}

/// Where the room's screen (remote people, the self-view) is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScreenOutput {
    /// A window when a desktop session is present (`DISPLAY`/`WAYLAND_DISPLAY`), else the
    /// HDMI screen through KMS when the board has a display controller, else nowhere.
    #[default]
    Auto,
    /// The HDMI screen straight through KMS (the device, no desktop).
    Kms,
    /// A window on a desktop (development).
    Window,
    /// Nowhere: remote media is still decoded and its sound played.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenConfig {
    pub output: ScreenOutput,
    /// The composed picture's size: the screen's mode (1280x720 keeps a Pi 4's compositor
    /// light; 1920x1080 for large rooms).
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The KMS connector id (`modetest -c`) when the board has several; unset: the first
    /// connected one.
    pub connector: Option<u32>,
    /// The display's DRM driver (e.g. "virtio_gpu") when kmssink cannot find it by itself:
    /// GStreamer 1.22's kmssink only probes a fixed list of drivers (vc4, i915, ...), which
    /// lacks QEMU's virtio_gpu. Unset: kmssink's own probe (right on a Pi).
    pub kms_driver: Option<String>,
    /// Show the room itself as a small picture in a corner during calls.
    pub self_view: bool,
    /// When the screen stays awake, e.g. "Mon-Fri 07:00-19:00, Sat 08:00-12:00" (local time).
    /// Outside them it sleeps once the room has been left alone for `sleep_after_s`. Unset:
    /// always awake.
    #[serde(with = "awake_hours")]
    pub awake_hours: Option<crate::room::AwakeHours>,
    pub sleep_after_s: u64,
    /// The HDMI-CEC adapter that puts the TV to standby and wakes it.
    pub cec: CecChoice,
}

/// `[screen] cec`: `"auto"` (the first /dev/cecN, if any), `"none"`, or an adapter's path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CecChoice {
    #[default]
    Auto,
    None,
    Path(PathBuf),
}

impl Serialize for CecChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CecChoice::Auto => s.serialize_str("auto"),
            CecChoice::None => s.serialize_str("none"),
            CecChoice::Path(path) => path.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CecChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "auto" => CecChoice::Auto,
            "none" => CecChoice::None,
            _ => CecChoice::Path(text.into()),
        })
    }
}

/// `awake_hours` as people write it, checked when the file is read.
mod awake_hours {
    use crate::room::AwakeHours;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hours: &Option<AwakeHours>, s: S) -> Result<S::Ok, S::Error> {
        match hours {
            Some(hours) => s.serialize_str(&hours.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AwakeHours>, D::Error> {
        let text = String::deserialize(d)?;
        AwakeHours::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

impl Default for ScreenConfig {
    fn default() -> Self {
        ScreenConfig {
            output: ScreenOutput::Auto,
            width: 1280,
            height: 720,
            fps: 30,
            connector: None,
            kms_driver: None,
            self_view: true,
            awake_hours: None,
            sleep_after_s: 600,
            cec: CecChoice::Auto,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomConfig {
    /// How the room appears in meetings and in the fleet. Default: the host name.
    pub name: String,
    /// The language of the room's screen (and of the web console): French by default.
    pub language: crate::i18n::Language,
}

impl Default for RoomConfig {
    fn default() -> Self {
        let name = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "Salle".into());
        RoomConfig {
            name,
            language: crate::i18n::Language::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingConfig {
    /// The room's meeting (see the URL forms in the README). None: joins need a URL.
    pub url: Option<String>,
    /// Join the room's meeting as soon as the daemon starts.
    pub auto_join: bool,
    /// Join every meeting with the microphone muted.
    pub join_muted: bool,
    /// A file holding the bearer token for WHIP/WHEP endpoints (keep it 0600 or 0640 root:salle).
    pub token_file: Option<PathBuf>,
    /// Give up a join that has not connected after this many seconds.
    pub join_timeout_s: u64,
    /// Give up waiting in a meeting's lobby (La Suite Meet) after this many seconds.
    pub lobby_timeout_s: u64,
}

impl Default for MeetingConfig {
    fn default() -> Self {
        MeetingConfig {
            url: None,
            auto_join: false,
            join_muted: false,
            token_file: None,
            join_timeout_s: 60,
            lobby_timeout_s: 300,
        }
    }
}

/// How the calendar is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarKind {
    /// A CalDAV calendar collection (Nextcloud, SOGo, Radicale, BlueMind...), asked only for
    /// the days the room shows.
    #[default]
    Caldav,
    /// A plain iCalendar file (an "ICS link", Outlook's published calendar), read whole.
    Ics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// The room's calendar: a CalDAV collection or an iCalendar file. None: no calendar, the
    /// join button joins `[meeting] url`.
    pub url: Option<String>,
    pub kind: CalendarKind,
    /// For HTTP Basic auth, with `password_file`.
    pub username: Option<String>,
    /// A file holding the password (mode 0600, or 0640 root:salle).
    pub password_file: Option<PathBuf>,
    /// Read the calendar again after this many seconds.
    pub refresh_s: u64,
    /// A meeting is the room's this many seconds before it starts (the join button joins it).
    pub join_early_s: u64,
    /// Join each meeting that has a link when it starts (once: not again after people leave).
    pub auto_join: bool,
    /// The room's time zone for showing times and for events without one (IANA name, e.g.
    /// "Europe/Paris"). Default: the system's.
    pub timezone: Option<String>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig {
            url: None,
            kind: CalendarKind::Caldav,
            username: None,
            password_file: None,
            refresh_s: 300,
            join_early_s: 300,
            auto_join: false,
            timezone: None,
        }
    }
}

/// `"auto"` (the best device found, else simulated), `"test"` (simulated), or a device name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Simulated,
    Named(String),
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Simulated => "test",
            DeviceChoice::Named(name) => name,
        })
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "auto" => DeviceChoice::Auto,
            "test" => DeviceChoice::Simulated,
            _ => DeviceChoice::Named(text),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// `"auto"`, `"test"` or a V4L2 device path such as `/dev/salle/camera0`.
    pub device: DeviceChoice,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// V4L2 controls set when the camera is opened, by name as `salle devices` lists them
    /// (e.g. `brightness = 128`, `power_line_frequency = 1`).
    pub controls: BTreeMap<String, i64>,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            device: DeviceChoice::Auto,
            width: 1280,
            height: 720,
            fps: 30,
            controls: BTreeMap::new(),
        }
    }
}

/// Which capture channels to use from a multi-channel device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChannelSelection {
    /// `"auto"`: a known mic array's processed channel, otherwise a downmix.
    #[default]
    Auto,
    /// A list of channel indexes, mixed together, e.g. `[0]` for a ReSpeaker's processed output.
    Channels(Vec<u32>),
}

impl Serialize for ChannelSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ChannelSelection::Auto => s.serialize_str("auto"),
            ChannelSelection::Channels(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ChannelSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ChannelSelection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\" or a list of channel numbers such as [0]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "auto" => Ok(ChannelSelection::Auto),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                while let Some(channel) = seq.next_element::<u32>()? {
                    list.push(channel);
                }
                Ok(ChannelSelection::Channels(list))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// `"auto"`, `"test"` (a tone) or an ALSA device name such as `hw:CARD=ArrayUAC10,DEV=0`.
    pub capture: DeviceChoice,
    /// `"auto"`, `"test"` (discarded) or an ALSA device name.
    pub playback: DeviceChoice,
    pub channels: ChannelSelection,
    pub rate: u32,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            capture: DeviceChoice::Auto,
            playback: DeviceChoice::Auto,
            channels: ChannelSelection::Auto,
            rate: 48_000,
        }
    }
}

/// A GPIO line: `pin` (Raspberry Pi BCM number) or `line` (offset or name) on `chip`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LineRef {
    Offset(u32),
    Name(String),
}

impl<'de> Deserialize<'de> for LineRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = LineRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a line offset (a number) or a line name (a string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(LineRef::Offset)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(LineRef::Offset)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LineRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bias {
    /// Leave the line's bias as the board set it (default; right for boards with resistors).
    #[default]
    AsIs,
    PullUp,
    PullDown,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonConfig {
    /// Raspberry Pi BCM pin number (uses the Pi's GPIO block directly).
    pub pin: Option<u8>,
    /// GPIO chip, e.g. `"gpiochip0"`, `"/dev/gpiochip0"` or a chip label. Default: search all.
    pub chip: Option<String>,
    /// Line offset on the chip, or the line's name.
    pub line: Option<LineRef>,
    /// The button pulls the line low when pressed (the usual wiring, with a pull-up).
    #[serde(default = "yes")]
    pub active_low: bool,
    #[serde(default)]
    pub bias: Bias,
    /// Edges closer together than this are contact bounce.
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
    /// Held this long, a press is a long press.
    #[serde(default = "default_long_press_ms")]
    pub long_press_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ButtonsConfig {
    pub join: Option<ButtonConfig>,
    pub mute: Option<ButtonConfig>,
    pub camera_privacy: Option<ButtonConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedConfig {
    pub pin: Option<u8>,
    pub chip: Option<String>,
    pub line: Option<LineRef>,
    /// The LED lights when the line is low.
    #[serde(default)]
    pub active_low: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedsConfig {
    /// The call-state LED.
    pub status: Option<LedConfig>,
    /// The microphone-muted LED.
    pub mute: Option<LedConfig>,
}

/// Which USB speakerphones' mute buttons and LEDs (HID telephony) follow the room's mute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HidChoice {
    /// `"auto"`: every HID device with a telephony mute button or mute LED.
    #[default]
    Auto,
    /// `"none"`: leave HID devices alone.
    None,
    /// One hidraw node, e.g. `/dev/hidraw0` or a udev link to it.
    Path(PathBuf),
}

impl Serialize for HidChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            HidChoice::Auto => s.serialize_str("auto"),
            HidChoice::None => s.serialize_str("none"),
            HidChoice::Path(path) => path.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for HidChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "auto" => HidChoice::Auto,
            "none" => HidChoice::None,
            _ => HidChoice::Path(text.into()),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeakerphoneConfig {
    pub hid: HidChoice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// The control socket. Default: `/run/salle/control.sock` when that directory is usable,
    /// else `$XDG_RUNTIME_DIR/salle/control.sock`, else `/tmp/salle-<uid>/control.sock`.
    pub socket: Option<PathBuf>,
    /// The group that may use the socket (mode 0660).
    pub group: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: None,
            group: "salle".into(),
        }
    }
}

/// Remote management (the web console, the fleet): what it may do in the room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementConfig {
    /// The management socket, whose every request counts as remote (a remote user may mute
    /// the room, never unmute it). Default: `manage.sock` beside the control socket.
    pub socket: Option<PathBuf>,
    /// The group that may use it (mode 0660): the web surface's. Default: the control
    /// socket's group.
    pub group: Option<String>,
    /// Let remote administrators take snapshots of the camera and the screen during calls
    /// (the screen always says so while it happens). Off: only outside calls.
    pub snapshots_in_calls: bool,
}

fn yes() -> bool {
    true
}

fn default_debounce_ms() -> u64 {
    30
}

fn default_long_press_ms() -> u64 {
    3_000
}

impl Config {
    /// The room state machine's settings.
    pub fn room_settings(&self) -> crate::room::RoomSettings {
        crate::room::RoomSettings {
            room_name: self.room.name.clone(),
            meeting_url: self.meeting.url.clone(),
            join_muted: self.meeting.join_muted,
            auto_join: self.meeting.auto_join,
            join_timeout_ms: self.meeting.join_timeout_s * 1000,
            lobby_timeout_ms: self.meeting.lobby_timeout_s * 1000,
            calendar: self
                .calendar
                .url
                .as_ref()
                .map(|_| crate::room::CalendarSettings {
                    auto_join: self.calendar.auto_join,
                }),
            screen_power: crate::room::ScreenPowerSettings {
                awake_hours: self.screen.awake_hours.clone(),
                sleep_after_ms: self.screen.sleep_after_s * 1000,
            },
            ..crate::room::RoomSettings::default()
        }
    }
}

/// The web surface (`salle web`): the HTTPS API and console, a process of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Where HTTPS listens. A high port, so the process needs no privilege; for 443 use the
    /// systemd socket unit (`salle-web.socket`), whose socket the process takes over.
    pub listen: std::net::SocketAddr,
    /// Users, tokens, the device certificate and the audit log (mode 0700, files 0600).
    pub state_dir: PathBuf,
    /// A certificate chain and its key (PEM) to use instead of the generated one.
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: std::net::SocketAddr::from(([0u16; 8], 8443)),
            state_dir: PathBuf::from("/var/lib/salle-web"),
            certificate: None,
            key: None,
        }
    }
}
