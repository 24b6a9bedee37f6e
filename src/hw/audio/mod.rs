//! Sound: the ALSA cards, what they can do, which ones a room uses, and a level meter.
//!
//! As for cameras, descriptions are plain data so the choice logic is tested without hardware.

pub mod alsa;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Capture,
    Playback,
}

/// One PCM device of a card in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pcm {
    /// The ALSA name to open, stable across reboots: `hw:CARD=<id>,DEV=<n>`.
    pub name: String,
    pub device: u32,
    pub description: String,
    pub channels_min: u32,
    pub channels_max: u32,
    pub rate_min: u32,
    pub rate_max: u32,
    /// Opened by another program when we looked: its ranges are unknown (zero).
    #[serde(default)]
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixerControl {
    pub name: String,
    /// (min, max) raw volume range, when the control has a volume.
    pub capture_volume: Option<(i64, i64)>,
    pub playback_volume: Option<(i64, i64)>,
    pub capture_switch: bool,
    pub playback_switch: bool,
}

/// What kind of sound device a card is, as far as a room cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardKind {
    /// A USB speakerphone (Jabra, Poly, ...): microphone and speaker in one, echo cancelled on
    /// board, so the room must not run its own echo canceller.
    Speakerphone,
    /// A microphone array (more than two capture channels), e.g. a ReSpeaker.
    MicArray,
    /// HDMI audio: the screen's speakers.
    Hdmi,
    /// Any other USB audio device.
    Usb,
    /// Built-in or other hardware.
    Onboard,
    /// A virtual card (snd-aloop, snd-dummy): real ALSA, no sound in the room.
    Virtual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoundCard {
    pub index: i32,
    pub id: String,
    pub name: String,
    pub longname: String,
    pub driver: String,
    pub kind: CardKind,
    /// For a known mic array, the channel that carries the processed (beamformed, echo
    /// cancelled) signal.
    pub processed_channel: Option<u32>,
    pub capture: Vec<Pcm>,
    pub playback: Vec<Pcm>,
    pub mixer: Vec<MixerControl>,
}

/// Names of USB speakerphones; they do echo cancellation themselves.
const SPEAKERPHONES: &[&str] = &[
    "jabra",
    "speak",
    "poly",
    "sync 20",
    "sync 40",
    "powerconf",
    "emeet",
    "yealink cp",
    "anker",
];

/// Known mic arrays and their processed channel: ReSpeaker USB 4-mic/6-channel firmware
/// (XVF3000, "ArrayUAC10") and XVF3800 put the processed signal on channel 0.
const MIC_ARRAYS: &[(&str, u32)] = &[
    ("arrayuac10", 0),
    ("respeaker", 0),
    ("xvf3800", 0),
    ("xvf3000", 0),
];

/// Decides the kind of a card from its driver, names and channel counts.
pub fn classify(
    driver: &str,
    id: &str,
    name: &str,
    longname: &str,
    capture: &[Pcm],
    playback: &[Pcm],
) -> (CardKind, Option<u32>) {
    let names = format!("{id} {name} {longname}").to_lowercase();
    let max_capture = capture.iter().map(|p| p.channels_max).max().unwrap_or(0);
    if let Some((_, channel)) = MIC_ARRAYS.iter().find(|(n, _)| names.contains(n)) {
        return (CardKind::MicArray, Some(*channel));
    }
    if matches!(driver, "Loopback" | "Dummy")
        || names.contains("loopback")
        || names.contains("dummy")
    {
        return (CardKind::Virtual, None);
    }
    let usb = driver == "USB-Audio" || longname.contains(" at usb-");
    if usb
        && !capture.is_empty()
        && !playback.is_empty()
        && SPEAKERPHONES.iter().any(|n| names.contains(n))
    {
        return (CardKind::Speakerphone, None);
    }
    if max_capture > 2 {
        return (CardKind::MicArray, None);
    }
    if names.contains("hdmi") || driver.contains("hdmi") {
        return (CardKind::Hdmi, None);
    }
    if usb {
        return (CardKind::Usb, None);
    }
    (CardKind::Onboard, None)
}

/// A sound device the room could use, with the reason for the choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioChoice {
    pub pcm: String,
    pub card: String,
    pub kind: CardKind,
    /// Channels to take from the device (capture only), already resolved from "auto".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<u32>,
    /// Channels to open the device with (capture): all of a mic array's, else one or two.
    #[serde(default)]
    pub device_channels: u32,
    /// The device cancels echo itself: the room's own echo canceller stays off.
    pub echo_cancelled_on_board: bool,
    pub reason: String,
}

fn preference(kind: CardKind, direction: Direction) -> u8 {
    match (direction, kind) {
        (_, CardKind::Speakerphone) => 0,
        (Direction::Capture, CardKind::MicArray) => 1,
        (Direction::Playback, CardKind::Hdmi) => 1,
        (_, CardKind::Usb) => 2,
        (_, CardKind::Onboard) => 3,
        (Direction::Capture, CardKind::Hdmi) | (Direction::Playback, CardKind::MicArray) => 4,
        (_, CardKind::Virtual) => 5,
    }
}

/// Picks the device for "auto": a speakerphone for both directions, else a mic array to
/// capture and HDMI to play, then other USB, onboard, and virtual cards last.
pub fn choose(cards: &[SoundCard], direction: Direction) -> Option<AudioChoice> {
    let (card, pcm) = cards
        .iter()
        .flat_map(|card| {
            let pcms = match direction {
                Direction::Capture => &card.capture,
                Direction::Playback => &card.playback,
            };
            pcms.iter().map(move |pcm| (card, pcm))
        })
        .min_by_key(|(card, pcm)| (preference(card.kind, direction), card.index, pcm.device))?;
    let channels = match direction {
        Direction::Playback => Vec::new(),
        Direction::Capture => match card.processed_channel {
            Some(channel) => vec![channel],
            None => (0..pcm.channels_max.clamp(1, 2)).collect(),
        },
    };
    let kind_text = match card.kind {
        CardKind::Speakerphone => "USB speakerphone (echo cancelled on board)",
        CardKind::MicArray => "microphone array",
        CardKind::Hdmi => "HDMI audio",
        CardKind::Usb => "USB audio",
        CardKind::Onboard => "onboard audio",
        CardKind::Virtual => "virtual card (no real sound: nothing better found)",
    };
    let mut reason = format!("{kind_text} \"{}\"", card.name);
    if direction == Direction::Capture {
        if let Some(ch) = card.processed_channel {
            reason.push_str(&format!(", processed channel {ch}"));
        }
    }
    let device_channels = match card.kind {
        CardKind::MicArray => pcm.channels_max.max(1),
        _ => pcm.channels_max.clamp(1, 2),
    };
    Some(AudioChoice {
        pcm: pcm.name.clone(),
        card: card.name.clone(),
        kind: card.kind,
        channels,
        device_channels,
        echo_cancelled_on_board: card.kind == CardKind::Speakerphone
            || card.processed_channel.is_some(),
        reason,
    })
}

/// Root-mean-square level of interleaved 16-bit samples, in dB relative to full scale
/// (a full-scale sine is about -3 dBFS; silence is -inf, clamped to -120).
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return -120.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / samples.len() as f64).sqrt() / 32768.0;
    if rms <= 1e-6 {
        -120.0
    } else {
        20.0 * rms.log10()
    }
}

#[cfg(test)]
mod tests;
