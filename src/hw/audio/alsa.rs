//! The real sound backend: ALSA through the `alsa` crate.

use super::{classify, Direction, MixerControl, Pcm, SoundCard};
use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Ctl, ValueOr};
use std::time::{Duration, Instant};

/// Every sound card with its capture and playback PCMs and mixer controls.
pub fn list_cards() -> Vec<SoundCard> {
    alsa::card::Iter::new()
        .filter_map(|card| card.ok())
        .filter_map(|card| match describe(&card) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!("skipping sound card {}: {e}", card.get_index());
                None
            }
        })
        .collect()
}

fn describe(card: &alsa::Card) -> alsa::Result<SoundCard> {
    let ctl = Ctl::from_card(card, false)?;
    let info = ctl.card_info()?;
    let id = info.get_id()?.to_string();
    let driver = info.get_driver()?.to_string();
    let name = card.get_name()?;
    let longname = card.get_longname()?;
    let mut capture = Vec::new();
    let mut playback = Vec::new();
    for device in alsa::ctl::DeviceIter::new(&ctl) {
        let device = device as u32;
        for (direction, list) in [
            (Direction::Capture, &mut capture),
            (Direction::Playback, &mut playback),
        ] {
            let alsa_direction = match direction {
                Direction::Capture => alsa::Direction::Capture,
                Direction::Playback => alsa::Direction::Playback,
            };
            let Ok(pcm_info) = ctl.pcm_info(device, 0, alsa_direction) else {
                continue;
            };
            let description = pcm_info.get_name().unwrap_or_default().to_string();
            list.push(probe_pcm(&id, device, description, alsa_direction));
        }
    }
    let mixer = mixer_controls(&format!("hw:{}", card.get_index())).unwrap_or_default();
    let (kind, processed_channel) = classify(&driver, &id, &name, &longname, &capture, &playback);
    Ok(SoundCard {
        index: card.get_index(),
        id,
        name,
        longname,
        driver,
        kind,
        processed_channel,
        capture,
        playback,
        mixer,
    })
}

/// Opens the PCM briefly (non-blocking) to read its channel and rate ranges.
fn probe_pcm(card_id: &str, device: u32, description: String, direction: alsa::Direction) -> Pcm {
    let name = format!("hw:CARD={card_id},DEV={device}");
    let mut pcm = Pcm {
        name: name.clone(),
        device,
        description,
        channels_min: 0,
        channels_max: 0,
        rate_min: 0,
        rate_max: 0,
        busy: false,
    };
    let ranges = PCM::new(&name, direction, true).and_then(|handle| {
        let params = HwParams::any(&handle)?;
        Ok((
            params.get_channels_min()?,
            params.get_channels_max()?,
            params.get_rate_min()?,
            params.get_rate_max()?,
        ))
    });
    match ranges {
        Ok((cmin, cmax, rmin, rmax)) => {
            pcm.channels_min = cmin;
            pcm.channels_max = cmax;
            pcm.rate_min = rmin;
            pcm.rate_max = rmax;
        }
        Err(e) => {
            tracing::debug!("{name}: {e}");
            pcm.busy = true;
        }
    }
    pcm
}

/// The simple mixer controls of a card (`hw:N`).
pub fn mixer_controls(card: &str) -> alsa::Result<Vec<MixerControl>> {
    let mixer = alsa::Mixer::new(card, false)?;
    Ok(mixer
        .iter()
        .filter_map(alsa::mixer::Selem::new)
        .map(|selem| MixerControl {
            name: selem.get_id().get_name().unwrap_or_default().to_string(),
            capture_volume: selem
                .has_capture_volume()
                .then(|| selem.get_capture_volume_range()),
            playback_volume: selem
                .has_playback_volume()
                .then(|| selem.get_playback_volume_range()),
            capture_switch: selem.has_capture_switch(),
            playback_switch: selem.has_playback_switch(),
        })
        .collect())
}

/// Runs `f` on a card's simple mixer control; errors name the card and the control.
fn with_selem<T>(
    card: &str,
    control: &str,
    f: impl FnOnce(&alsa::mixer::Selem) -> Result<T, String>,
) -> Result<T, String> {
    let mixer = alsa::Mixer::new(card, false).map_err(|e| format!("{card}: {e}"))?;
    let selem = mixer
        .find_selem(&alsa::mixer::SelemId::new(control, 0))
        .ok_or_else(|| format!("{card}: no mixer control \"{control}\""))?;
    f(&selem).map_err(|e| format!("{card}: {control}: {e}"))
}

/// Sets a mixer control's volume as a percentage of its range, in `direction`.
pub fn set_volume(
    card: &str,
    control: &str,
    direction: Direction,
    percent: u8,
) -> Result<(), String> {
    let percent = i64::from(percent.min(100));
    with_selem(card, control, |selem| {
        let result = match direction {
            Direction::Capture => {
                let (min, max) = selem.get_capture_volume_range();
                selem.set_capture_volume_all(min + (max - min) * percent / 100)
            }
            Direction::Playback => {
                let (min, max) = selem.get_playback_volume_range();
                selem.set_playback_volume_all(min + (max - min) * percent / 100)
            }
        };
        result.map_err(|e| e.to_string())
    })
}

/// Reads a mixer control's volume as a percentage of its range (first channel).
pub fn volume(card: &str, control: &str, direction: Direction) -> Result<u8, String> {
    with_selem(card, control, |selem| {
        let channel = alsa::mixer::SelemChannelId::FrontLeft;
        let ((min, max), value) = match direction {
            Direction::Capture => (
                selem.get_capture_volume_range(),
                selem.get_capture_volume(channel),
            ),
            Direction::Playback => (
                selem.get_playback_volume_range(),
                selem.get_playback_volume(channel),
            ),
        };
        let value = value.map_err(|e| e.to_string())?;
        Ok(if max > min {
            ((value - min) * 100 / (max - min)) as u8
        } else {
            0
        })
    })
}

/// Turns a mixer control's switch on (sound passes) or off (muted), in `direction`.
pub fn set_switch(card: &str, control: &str, direction: Direction, on: bool) -> Result<(), String> {
    with_selem(card, control, |selem| {
        let has_switch = match direction {
            Direction::Capture => selem.has_capture_switch(),
            Direction::Playback => selem.has_playback_switch(),
        };
        if !has_switch {
            return Err(format!(
                "has no {} switch",
                format!("{direction:?}").to_lowercase()
            ));
        }
        let result = match direction {
            Direction::Capture => selem.set_capture_switch_all(i32::from(on)),
            Direction::Playback => selem.set_playback_switch_all(i32::from(on)),
        };
        result.map_err(|e| e.to_string())
    })
}

/// Reads a mixer control's switch (first channel).
pub fn switch(card: &str, control: &str, direction: Direction) -> Result<bool, String> {
    with_selem(card, control, |selem| {
        let channel = alsa::mixer::SelemChannelId::FrontLeft;
        let value = match direction {
            Direction::Capture => selem.get_capture_switch(channel),
            Direction::Playback => selem.get_playback_switch(channel),
        };
        value.map(|v| v != 0).map_err(|e| e.to_string())
    })
}

/// The input level meter: captures `duration` from `pcm` (16-bit, `channels` interleaved, at
/// `rate`) and returns its RMS level in dBFS.
pub fn measure_input_level(
    pcm_name: &str,
    channels: u32,
    rate: u32,
    duration: Duration,
) -> Result<f64, String> {
    let fail = |e: alsa::Error| format!("{pcm_name}: {e}");
    let pcm = PCM::new(pcm_name, alsa::Direction::Capture, false).map_err(fail)?;
    {
        let params = HwParams::any(&pcm).map_err(fail)?;
        params.set_channels(channels).map_err(fail)?;
        params.set_rate(rate, ValueOr::Nearest).map_err(fail)?;
        params.set_format(Format::s16()).map_err(fail)?;
        params.set_access(Access::RWInterleaved).map_err(fail)?;
        pcm.hw_params(&params).map_err(fail)?;
    }
    let io = pcm.io_i16().map_err(fail)?;
    let mut all = Vec::new();
    let mut buffer = vec![0i16; 1024 * channels as usize];
    let deadline = Instant::now() + duration;
    pcm.start().ok();
    while Instant::now() < deadline {
        match io.readi(&mut buffer) {
            Ok(frames) => all.extend_from_slice(&buffer[..frames * channels as usize]),
            Err(e) => pcm.try_recover(e, true).map_err(fail)?,
        }
    }
    Ok(super::rms_dbfs(&all))
}
