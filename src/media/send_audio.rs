//! The send-audio pipeline: microphone -> channel selection -> 48 kHz -> echo cancellation ->
//! level meter -> mute valve -> Opus -> packets.
//!
//! ```text
//! alsasrc | audiotestsrc ! caps(channels_in) ! audioconvert(mix-matrix) ! audioresample
//!   ! caps(S16LE, 48 kHz, mono|stereo) ! [webrtcdsp probe=<name>] ! level ! valve(mute)
//!   ! opusenc ! appsink -> mpsc::Sender<EncodedFrame>
//! ```
//!
//! Mute is enforced twice: the valve drops raw audio before the encoder, and the appsink callback
//! drops any packet that was already on its way when mute was pressed. The level meter sits in
//! front of the valve so the room can say "you are muted but speaking".
//!
//! Echo cancellation: `webrtcdsp` reads the far-end audio from a `webrtcechoprobe` on the
//! playback path (the receive pipeline), found by its name. What the receive pipeline must do:
//! - create the probe (48 kHz) before this pipeline starts (else: "No echo probe with name ...");
//! - call [`share_echo_timeline`] on its pipeline before PLAYING: the DSP matches microphone and
//!   far-end samples by running time, which only means the same thing across two pipelines
//!   that share clock and base time.
//!
//! A probe serves one send pipeline at a time; it is released when this pipeline stops.

use super::elements::{make, *};
use super::{pts_of, EncodedFrame};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Where the room's voice comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioSource {
    /// An ALSA capture device (e.g. "hw:ArrayUAC10,0") delivering `channels_in` channels.
    Alsa { device: String, channels_in: u32 },
    /// The simulated microphone: a continuous sine tone at `freq` Hz, about -9 dBFS RMS.
    Tone { freq: f64 },
}

impl AudioSource {
    fn channels_in(&self) -> u32 {
        match self {
            AudioSource::Alsa { channels_in, .. } => *channels_in,
            AudioSource::Tone { .. } => 1,
        }
    }
}

impl std::fmt::Display for AudioSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AudioSource::Alsa { device, .. } => write!(f, "ALSA device \"{device}\""),
            AudioSource::Tone { freq } => write!(f, "test tone {freq} Hz"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioSettings {
    pub source: AudioSource,
    /// Input channels to mix into the output, e.g. `[0]` for a ReSpeaker's processed channel 0
    /// of 6. Empty: all of them.
    pub channels: Vec<u32>,
    /// 1 (mono: one voice, the usual case) or 2. With 2 and exactly two selected channels, the
    /// first goes left and the second right; otherwise both sides carry the mix.
    pub channels_out: u32,
    /// Echo cancellation, noise suppression and gain control (`webrtcdsp`). False when the
    /// device does this on board (USB speakerphones, XVF3000/3800 arrays).
    pub echo_processing: bool,
    /// Name of the `webrtcechoprobe` on the playback path. None: nothing is played (or the
    /// playback is not ours), so only noise suppression and gain control run.
    pub probe: Option<String>,
    /// Opus target bitrate, bits per second.
    pub bitrate: u32,
    /// Expected packet loss, which sizes Opus' in-band FEC.
    pub packet_loss_percentage: u32,
    /// Start muted: not one packet leaves before `set_muted(false)` (`join_muted`).
    pub muted: bool,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            source: AudioSource::Tone { freq: 440.0 },
            channels: Vec::new(),
            channels_out: 1,
            echo_processing: false,
            probe: None,
            bitrate: 32_000,
            packet_loss_percentage: 10,
            muted: false,
        }
    }
}

/// The pipeline rate: Opus' native rate, and one webrtcdsp supports.
pub const RATE: u32 = 48_000;

/// What the meter says before its first measurement.
pub const SILENCE_DBFS: f64 = f64::NEG_INFINITY;

/// A running send-audio pipeline. Dropping it stops the pipeline.
pub struct SendAudio {
    pipeline: gst::Pipeline,
    valve: gst::Element,
    /// Checked by the appsink under the lock while it hands a packet over, so once
    /// `set_muted(true)` returns no packet can still be on its way into the channel.
    muted: Arc<Mutex<bool>>,
    /// Last RMS in dBFS (loudest channel), as f64 bits.
    level: Arc<AtomicU64>,
}

impl SendAudio {
    /// Builds and starts the pipeline. Opus packets (20 ms each) go to `frames`; pipeline errors,
    /// prefixed with the element that raised them, go to `errors`. A pipeline that cannot start
    /// (no such device, no echo probe, missing plugin) is an `Err` naming the reason.
    pub fn start(
        settings: &AudioSettings,
        frames: mpsc::Sender<EncodedFrame>,
        errors: mpsc::UnboundedSender<String>,
    ) -> Result<SendAudio, String> {
        super::init()?;
        let context = |e: String| format!("send audio from the {}: {e}", settings.source);
        let pipeline = gst::Pipeline::with_name("send-audio");
        let valve = build(&pipeline, settings).map_err(context)?;
        share_echo_timeline(&pipeline);

        let muted = Arc::new(Mutex::new(settings.muted));
        let level = Arc::new(AtomicU64::new(SILENCE_DBFS.to_bits()));
        let sink = pipeline
            .by_name("packets")
            .and_downcast::<gst_app::AppSink>()
            .ok_or("send audio: no appsink")?;
        sink.set_callbacks(packet_callbacks(frames, muted.clone(), level.clone()));
        let last_error = watch_bus(&pipeline, errors, level.clone());
        super::play(&pipeline, &last_error).map_err(context)?;
        Ok(SendAudio {
            pipeline,
            valve,
            muted,
            level,
        })
    }

    /// Mutes or unmutes, at once. While muted not one packet reaches `frames`.
    pub fn set_muted(&self, muted: bool) {
        // The appsink's flag first when muting: packets already encoded are dropped from now on.
        if muted {
            *lock(&self.muted) = true;
        }
        self.valve.set_property("drop", muted);
        if !muted {
            *lock(&self.muted) = false;
        }
    }

    pub fn is_muted(&self) -> bool {
        *lock(&self.muted)
    }

    /// The microphone's level (RMS of the last 100 ms, loudest channel, after echo cancellation),
    /// in dBFS. It keeps measuring while muted. `-inf` before the first measurement.
    pub fn level_dbfs(&self) -> f64 {
        f64::from_bits(self.level.load(Ordering::Relaxed))
    }

    /// The pipeline, for diagnostics and tests (element names: mic, channels, resample, dsp,
    /// level, mute, opus, packets).
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Stops the pipeline (to NULL) and waits for its streaming threads to end. Idempotent; the
    /// echo probe is released for the next send pipeline.
    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for SendAudio {
    fn drop(&mut self) {
        // Also releases the error sender, so the consumer sees the channel close.
        super::shut_down(&self.pipeline);
    }
}

/// Puts `pipeline` on the process' echo timeline: the system's monotonic clock and one base
/// time shared by every pipeline that calls this, so that their running times are the same
/// time. webrtcdsp lines the microphone up with the far-end audio its probe saw by comparing
/// running times, so **the pipeline holding the `webrtcechoprobe` must call this before it goes
/// to PLAYING** (the send pipeline always does). Without it the canceller compares unrelated
/// times and cancels nothing (measured: 0 dB).
pub fn share_echo_timeline(pipeline: &gst::Pipeline) {
    static BASE: std::sync::OnceLock<gst::ClockTime> = std::sync::OnceLock::new();
    let clock = gst::SystemClock::obtain();
    let base = *BASE.get_or_init(|| clock.time());
    pipeline.use_clock(Some(&clock));
    // No start time: the pipeline keeps the base time we give it across state changes.
    pipeline.set_start_time(gst::ClockTime::NONE);
    pipeline.set_base_time(base);
}

/// The `audioconvert` mix matrix: one row per output channel, one column per input channel.
/// Selected channels are averaged, which keeps the level of a voice that all of them hear.
pub fn mix_matrix(
    channels_in: u32,
    selection: &[u32],
    channels_out: u32,
) -> Result<Vec<Vec<f32>>, String> {
    if channels_in == 0 {
        return Err("the microphone has no channels".into());
    }
    if !(1..=2).contains(&channels_out) {
        return Err(format!(
            "{channels_out} output channels: only mono or stereo"
        ));
    }
    if let Some(bad) = selection.iter().find(|&&c| c >= channels_in) {
        return Err(format!(
            "channel {bad} selected, but the microphone has channels 0 to {}",
            channels_in - 1
        ));
    }
    let sources: Vec<u32> = if selection.is_empty() {
        (0..channels_in).collect()
    } else {
        selection.to_vec()
    };
    let row_of = |picked: &[u32]| {
        let mut row = vec![0.0f32; channels_in as usize];
        for &c in picked {
            row[c as usize] += 1.0 / picked.len() as f32;
        }
        row
    };
    Ok(if channels_out == 2 && sources.len() == 2 {
        vec![row_of(&sources[..1]), row_of(&sources[1..])]
    } else {
        vec![row_of(&sources); channels_out as usize]
    })
}

/// The mute flag survives a panicking holder: it is a plain bool.
fn lock(muted: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    muted
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn caps_filter(name: &str, caps: gst::Caps) -> Result<gst::Element, String> {
    let filter = make(CAPSFILTER, name)?;
    filter.set_property("caps", caps);
    Ok(filter)
}

/// Adds and links the whole chain; returns the mute valve.
fn build(pipeline: &gst::Pipeline, settings: &AudioSettings) -> Result<gst::Element, String> {
    let channels_in = settings.source.channels_in();
    let matrix = mix_matrix(channels_in, &settings.channels, settings.channels_out)?;

    let mic = match &settings.source {
        AudioSource::Alsa { device, .. } => {
            let mic = make(ALSASRC, "mic")?;
            mic.set_property("device", device);
            mic
        }
        AudioSource::Tone { freq } => {
            let mic = make(AUDIOTESTSRC, "mic")?;
            mic.set_property("is-live", true);
            mic.set_property_from_str("wave", "sine");
            mic.set_property("freq", freq);
            mic.set_property("volume", 0.5f64);
            // 10 ms buffers: a live source's buffer size is latency.
            mic.set_property("samplesperbuffer", (RATE / 100) as i32);
            mic
        }
    };
    // Fix the channel count (the mix matrix is sized for it); prefer the device at 48 kHz, but
    // take any rate it has (arrays often run at 16 kHz) and resample.
    let mic_caps = caps_filter(
        "mic-caps",
        gst::Caps::builder_full()
            .structure(
                gst::Structure::builder("audio/x-raw")
                    .field("channels", channels_in as i32)
                    .field("rate", RATE as i32)
                    .build(),
            )
            .structure(
                gst::Structure::builder("audio/x-raw")
                    .field("channels", channels_in as i32)
                    .build(),
            )
            .build(),
    )?;
    let channels = make(AUDIOCONVERT, "channels")?;
    channels.set_property(
        "mix-matrix",
        gst::Array::new(
            matrix
                .iter()
                .map(|row| gst::Array::new(row.iter().copied())),
        ),
    );
    let resample = make(AUDIORESAMPLE, "resample")?;
    // webrtcdsp and opusenc both take interleaved S16 at 48 kHz.
    let format = caps_filter(
        "format",
        gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("layout", "interleaved")
            .field("rate", RATE as i32)
            .field("channels", settings.channels_out as i32)
            .build(),
    )?;
    let dsp = if settings.echo_processing {
        let dsp = make(WEBRTCDSP, "dsp")?;
        match &settings.probe {
            Some(probe) => {
                dsp.set_property("probe", probe);
                // Align by timestamps (see share_echo_timeline), not by the canceller's own
                // delay estimate. On the snd-aloop loop (tests/media_audio_hardware.rs) the
                // delay-agnostic mode gave 5-9 dB with gain control on (16-23 dB without) and
                // fell apart with playback buffers over ~60 ms; timestamps gave 27-70 dB with
                // alsasink's default 200 ms buffer.
                dsp.set_property("delay-agnostic", false);
            }
            None => dsp.set_property("echo-cancel", false),
        }
        dsp.set_property("noise-suppression", true);
        // Gain control also raises whatever echo is left (it cost 10 dB and more in the
        // delay-agnostic mode); aligned by timestamps the residual stays far down, and the
        // echo test runs with it on.
        dsp.set_property("gain-control", true);
        Some(dsp)
    } else {
        None
    };
    let level = make(LEVEL, "level")?;
    level.set_property("interval", gst::ClockTime::from_mseconds(100).nseconds());
    level.set_property("post-messages", true);
    let valve = make(VALVE, "mute")?;
    // Caps and other sticky events still pass while muted, so unmuting needs no renegotiation.
    valve.set_property_from_str("drop-mode", "forward-sticky-events");
    valve.set_property("drop", settings.muted);
    let opus = make(OPUSENC, "opus")?;
    opus.set_property("bitrate", settings.bitrate.clamp(6_000, 510_000) as i32);
    opus.set_property("inband-fec", true);
    opus.set_property(
        "packet-loss-percentage",
        settings.packet_loss_percentage.min(100) as i32,
    );
    opus.set_property("dtx", true);
    opus.set_property_from_str("audio-type", "voice");
    opus.set_property_from_str("frame-size", "20");
    let packets = make(APPSINK, "packets")?;
    packets.set_property("caps", gst::Caps::builder("audio/x-opus").build());
    // Live data: hand packets over as soon as they exist, never wait on the clock.
    packets.set_property("sync", false);
    packets.set_property("enable-last-sample", false);
    packets.set_property("max-buffers", 16u32);
    packets.set_property("drop", true);

    let chain: Vec<&gst::Element> = [&mic, &mic_caps, &channels, &resample, &format]
        .into_iter()
        .chain(dsp.as_ref())
        .chain([&level, &valve, &opus, &packets])
        .collect();
    pipeline
        .add_many(chain.iter().copied())
        .map_err(|e| e.to_string())?;
    gst::Element::link_many(chain.iter().copied()).map_err(|e| e.to_string())?;
    Ok(valve)
}

/// An RMS level in dBFS as RFC 6464 writes it: -dBov from 0 (loudest) to 127 (silence, and
/// `-inf` before the first measurement). The meter's RMS is relative to a full-scale square
/// wave, which is what dBov is relative to, so the number carries over.
pub fn rfc6464_level(dbfs: f64) -> u8 {
    if dbfs.is_nan() {
        return 127;
    }
    (-dbfs).round().clamp(0.0, 127.0) as u8
}

fn packet_callbacks(
    frames: mpsc::Sender<EncodedFrame>,
    muted: Arc<Mutex<bool>>,
    level: Arc<AtomicU64>,
) -> gst_app::AppSinkCallbacks {
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            let frame = EncodedFrame {
                data: map.as_slice().to_vec(),
                pts: pts_of(buffer),
                duration: buffer
                    .duration()
                    .map(|d| std::time::Duration::from_nanos(d.nseconds())),
                keyframe: true,
                // The meter's last 100 ms: a packet is 20 ms, and the server averages over
                // hundreds of milliseconds anyway.
                audio_level: Some(rfc6464_level(f64::from_bits(level.load(Ordering::Relaxed)))),
            };
            // The second lock on mute: a packet encoded just before the valve closed is dropped.
            let muted = lock(&muted);
            if !*muted {
                // Never block the streaming thread on a slow consumer: late audio is lost audio.
                let _ = frames.try_send(frame);
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

/// Watches the bus (see [`super::watch_bus`]): errors and an unexpected end of stream to
/// `errors`, level measurements into `level`. Returns the last error, for a failed start.
fn watch_bus(
    pipeline: &gst::Pipeline,
    errors: mpsc::UnboundedSender<String>,
    level: Arc<AtomicU64>,
) -> super::LastError {
    let ended = errors.clone();
    super::watch_bus(pipeline, errors, move |message| match message.view() {
        gst::MessageView::Element(element) => {
            if let Some(rms) = element
                .structure()
                .filter(|s| s.name() == "level")
                .and_then(|s| s.get::<glib::ValueArray>("rms").ok())
            {
                let loudest = rms
                    .iter()
                    .filter_map(|v| v.get::<f64>().ok())
                    .fold(SILENCE_DBFS, f64::max);
                level.store(loudest.to_bits(), Ordering::Relaxed);
            }
        }
        gst::MessageView::Eos(_) => {
            let _ = ended.send("send-audio: the microphone stream ended".into());
        }
        _ => {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_written_as_rfc_6464_says() {
        assert_eq!(rfc6464_level(-9.4), 9);
        assert_eq!(rfc6464_level(0.0), 0);
        assert_eq!(
            rfc6464_level(3.0),
            0,
            "over full scale is still the loudest"
        );
        assert_eq!(rfc6464_level(-200.0), 127);
        assert_eq!(rfc6464_level(SILENCE_DBFS), 127);
        assert_eq!(rfc6464_level(f64::NAN), 127);
    }

    #[test]
    fn one_channel_of_six_is_picked_alone() {
        let m = mix_matrix(6, &[0], 1).unwrap();
        assert_eq!(m, vec![vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]);
    }

    #[test]
    fn no_selection_averages_every_channel() {
        let m = mix_matrix(4, &[], 1).unwrap();
        assert_eq!(m, vec![vec![0.25; 4]]);
    }

    #[test]
    fn two_channels_to_stereo_keep_their_sides() {
        let m = mix_matrix(6, &[1, 4], 2).unwrap();
        assert_eq!(
            m,
            vec![
                vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ]
        );
        let m = mix_matrix(1, &[], 2).unwrap();
        assert_eq!(m, vec![vec![1.0], vec![1.0]]);
    }

    #[test]
    fn bad_selections_are_refused_with_the_reason() {
        let e = mix_matrix(6, &[6], 1).unwrap_err();
        assert!(e.contains("channel 6") && e.contains("0 to 5"), "{e}");
        assert!(mix_matrix(0, &[], 1).is_err());
        assert!(mix_matrix(2, &[], 3)
            .unwrap_err()
            .contains("mono or stereo"));
    }
}
