//! The send-audio pipeline on real ALSA drivers, under QEMU: capture from snd-aloop, and echo
//! cancellation measured on a real playback -> capture loop.
//!
//! `send_audio_under_qemu` (the only test that runs on the host) boots Debian's kernel with
//! snd-aloop (see tests/qemu/README.md) and runs this same test binary inside the guest with the
//! `guest_` tests included. Those tests are ignored anywhere else: they need the guest's sound
//! cards, and play to them.
//!
//! snd-aloop: what is played to `hw:Loopback,0,N` is captured from `hw:Loopback,1,N`. That is
//! the room's speaker-to-microphone echo path without the room: a pure delay, no acoustics.

mod common;

use common::media::{appsrc, decode_opus, dominant_frequency, launch, rms_dbfs, Playing, Sending};
use common::qemu::{self, GuestTests};
use salle::media;
use salle::media::send_audio::{share_echo_timeline, AudioSettings, AudioSource, SendAudio, RATE};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

const GUEST_TESTS: usize = 3;

#[test]
fn send_audio_under_qemu() {
    GuestTests {
        // Knobs for investigating echo cancellation by hand (see the echo test).
        pass_env: &["SALLE_AEC_SINK_BUFFER_US", "GST_DEBUG"],
        ..GuestTests::of_this_binary("guest_", GUEST_TESTS)
    }
    .run();
}

// ---- inside the guest -------------------------------------------------------------------

fn in_guest() {
    qemu::assert_in_guest("guest tests play to and capture from the guest's sound cards");
    media::init().unwrap();
}

type Running = Sending<SendAudio>;

fn start(settings: AudioSettings) -> Running {
    Sending::start(&settings, 4096, SendAudio::start)
}

fn loopback_mic(substream: u32, channels_in: u32) -> AudioSource {
    AudioSource::Alsa {
        device: format!("hw:Loopback,1,{substream}"),
        channels_in,
    }
}

#[test]
#[ignore = "runs in the QEMU guest: see send_audio_under_qemu"]
fn guest_alsa_capture_from_the_loopback_sends_what_is_played() {
    in_guest();
    let tone = Playing::start(
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! alsasink device=hw:Loopback,0,0",
    );
    let mut run = start(AudioSettings {
        source: loopback_mic(0, 1),
        ..AudioSettings::default()
    });
    let frames = run.collect(Duration::from_secs(2));
    tone.assert_healthy("playback");
    assert!(frames.len() >= 80, "{} packets in 2 s", frames.len());
    let samples = decode_opus(&frames);
    let steady = &samples[samples.len() / 2..];
    let (level, freq) = (rms_dbfs(steady), dominant_frequency(steady));
    println!(
        "loopback capture: {} packets, {level:.1} dBFS, {freq} Hz, meter {:.1} dBFS",
        frames.len(),
        run.send.level_dbfs()
    );
    assert!(level > -30.0, "{level:.1} dBFS");
    assert!((freq - 440.0).abs() <= 10.0, "{freq} Hz");
    assert!(run.send.level_dbfs() > -15.0);
}

#[test]
#[ignore = "runs in the QEMU guest: see send_audio_under_qemu"]
fn guest_channel_selection_picks_one_channel_of_a_multichannel_capture() {
    in_guest();
    // Left 440 Hz, right 1000 Hz, on the loopback's second substream.
    let stereo: Vec<i16> = (0..RATE as usize)
        .flat_map(|n| {
            let t = n as f64 / RATE as f64;
            [440.0, 1000.0].map(|f| ((2.0 * std::f64::consts::PI * f * t).sin() * 16000.0) as i16)
        })
        .collect();
    let tones = looped(
        "appsrc name=stereo ! alsasink device=hw:Loopback,0,1",
        &[("stereo", 2, Arc::new(stereo))],
        false,
    );
    for (channel, expected) in [(0u32, 440.0), (1, 1000.0)] {
        let mut run = start(AudioSettings {
            source: loopback_mic(1, 2),
            channels: vec![channel],
            ..AudioSettings::default()
        });
        let samples = decode_opus(&run.collect(Duration::from_millis(1500)));
        tones.assert_healthy("playback");
        let steady = &samples[samples.len() / 2..];
        let freq = dominant_frequency(steady);
        println!(
            "channel {channel} of 2: {freq} Hz at {:.1} dBFS",
            rms_dbfs(steady)
        );
        assert!(
            (freq - expected).abs() <= 10.0,
            "channel {channel}: {freq} Hz"
        );
    }
}

/// A deterministic speech-like signal: syllables of a harmonic voice (pitch gliding between
/// 100 and 220 Hz, harmonics falling off like a voice's) with noisy consonants and pauses.
/// Echo cancellers treat a steady sine as noise; this is what they are built for.
fn speech_like(seconds: f64, seed: u32) -> Vec<i16> {
    let mut seed = seed;
    let mut random = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f64 / (1u32 << 24) as f64
    };
    let total = (seconds * RATE as f64) as usize;
    let mut out = Vec::with_capacity(total);
    let mut phase = 0.0f64;
    while out.len() < total {
        let syllable = ((0.12 + 0.2 * random()) * RATE as f64) as usize;
        let pause = ((0.04 + 0.2 * random()) * RATE as f64) as usize;
        let (f0_start, f0_end) = (100.0 + 120.0 * random(), 100.0 + 120.0 * random());
        let consonant = random() < 0.5;
        for n in 0..syllable {
            let t = n as f64 / syllable as f64;
            let envelope = (std::f64::consts::PI * t).sin().powf(0.7);
            let f0 = f0_start + (f0_end - f0_start) * t;
            phase += 2.0 * std::f64::consts::PI * f0 / RATE as f64;
            let voice: f64 = (1..=20)
                .map(|k| (phase * k as f64).sin() / k as f64)
                .sum::<f64>()
                * 0.25;
            let noise = if consonant && t < 0.2 {
                (random() - 0.5) * 0.6
            } else {
                0.0
            };
            out.push(((voice + noise) * envelope * 0.5 * 32767.0) as i16);
        }
        out.extend(std::iter::repeat_n(0, pause));
    }
    out.truncate(total);
    out
}

/// A playback pipeline whose appsrcs, named in `sources` with their channel count, play
/// interleaved S16 at 48 kHz in a loop. On the echo timeline (`share_echo_timeline`, what the
/// receive pipeline does), timestamps start at the current running time.
fn looped(
    description: &str,
    sources: &[(&str, usize, Arc<Vec<i16>>)],
    echo_timeline: bool,
) -> Playing {
    let pipeline = launch(description);
    let mut start = gst::ClockTime::ZERO;
    if echo_timeline {
        share_echo_timeline(&pipeline);
        let now = gst::SystemClock::obtain().time();
        // A little lead, so that the first buffers are not late.
        start = now.saturating_sub(pipeline.base_time().unwrap_or_default())
            + gst::ClockTime::from_mseconds(100);
    }
    for (name, channels, samples) in sources {
        let src = appsrc(&pipeline, name);
        src.set_format(gst::Format::Time);
        src.set_caps(Some(
            &gst::Caps::builder("audio/x-raw")
                .field("format", "S16LE")
                .field("layout", "interleaved")
                .field("rate", RATE as i32)
                .field("channels", *channels as i32)
                .build(),
        ));
        src.set_callbacks(loop_callbacks(samples.clone(), *channels, start));
    }
    Playing::play(pipeline)
}

/// Pushes 10 ms at a time, timestamped by sample count; the sink paces it on its clock.
fn loop_callbacks(
    samples: Arc<Vec<i16>>,
    channels: usize,
    start: gst::ClockTime,
) -> gst_app::AppSrcCallbacks {
    let chunk = RATE as usize / 100 * channels;
    let played = Mutex::new(0u64);
    gst_app::AppSrcCallbacks::builder()
        .need_data(move |src, _| {
            let mut played = played.lock().unwrap();
            let at = (*played as usize * channels) % (samples.len() / chunk * chunk);
            let bytes: Vec<u8> = samples[at..at + chunk]
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect();
            let mut buffer = gst::Buffer::from_slice(bytes);
            {
                let buffer = buffer.get_mut().unwrap();
                let offset = gst::ClockTime::from_nseconds(*played * 1_000_000_000 / RATE as u64);
                buffer.set_pts(start + offset);
                buffer.set_duration(gst::ClockTime::from_mseconds(10));
            }
            *played += (chunk / channels) as u64;
            let _ = src.push_buffer(buffer);
        })
        .build()
}

/// When the near-end talker starts talking over the far end, in seconds.
const DOUBLE_TALK_FROM: f64 = 5.0;

/// The room, on snd-aloop: the far end goes through the echo probe to the "speaker"
/// (hw:Loopback,0,0) and comes back on the "microphone" (hw:Loopback,1,0). From 5 s a near-end
/// talker is mixed in after the probe: it reaches the microphone without the canceller knowing
/// it, like a person in the room.
fn room(probe: &str, far: &Arc<Vec<i16>>, near: &Arc<Vec<i16>>) -> Playing {
    // alsasink's default buffer (200 ms) unless SALLE_AEC_SINK_BUFFER_US says otherwise. Under
    // QEMU's emulation, 60 ms and less underruns now and then: each underrun shifts the echo
    // path and costs snd-aloop capture data, and the measure swings (11-30 dB at 60 ms).
    let sink_buffer_us: u64 = std::env::var("SALLE_AEC_SINK_BUFFER_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    looped(
        &format!(
            "appsrc name=far ! webrtcechoprobe name={probe} ! audiomixer name=air \
               ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
               ! alsasink device=hw:Loopback,0,0 buffer-time={sink_buffer_us} latency-time=10000 \
             appsrc name=near ! air."
        ),
        &[("far", 1, far.clone()), ("near", 1, near.clone())],
        true,
    )
}

struct EchoRun {
    /// Far end alone (after convergence), dBFS.
    echo_only: f64,
    /// Far end and near end together, dBFS.
    double_talk: f64,
    /// Times the capture lost audio because the pipeline fell behind real time.
    overruns: u32,
}

/// Counts the microphone's discontinuities after its first buffer: alsasrc marks the buffer
/// after an overrun (audio it had to drop) DISCONT.
fn count_overruns(run: &Running) -> Arc<std::sync::atomic::AtomicU32> {
    let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let first = std::sync::atomic::AtomicBool::new(true);
    let pad = run
        .send
        .pipeline()
        .by_name("mic")
        .unwrap()
        .static_pad("src")
        .unwrap();
    let counter = count.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            let first = first.swap(false, std::sync::atomic::Ordering::Relaxed);
            if !first && buffer.flags().contains(gst::BufferFlags::DISCONT) {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });
    count
}

fn echo_run(probe: &str, echo_processing: bool) -> EchoRun {
    let far = Arc::new(speech_like(10.0, 0x5a11e));
    // Silent, then another voice.
    let mut near = speech_like(10.0, 0xbeef);
    near[..(DOUBLE_TALK_FROM * RATE as f64) as usize].fill(0);
    let near = Arc::new(near);
    let room = room(probe, &far, &near);
    let mut run = start(AudioSettings {
        source: loopback_mic(0, 1),
        echo_processing,
        probe: Some(probe.into()),
        ..AudioSettings::default()
    });
    let overruns = count_overruns(&run);
    let frames = run.collect(Duration::from_secs(8));
    room.assert_healthy("playback");
    let samples = decode_opus(&frames);
    let window = |from: f64, to: f64| {
        let (from, to) = ((from * RATE as f64) as usize, (to * RATE as f64) as usize);
        rms_dbfs(&samples[from.min(samples.len())..to.min(samples.len())])
    };
    let per_second: Vec<String> = samples
        .chunks(RATE as usize)
        .map(|s| format!("{:.0}", rms_dbfs(s)))
        .collect();
    // Margins around the start of double talk cover the loopback's delay.
    let result = EchoRun {
        echo_only: window(2.5, DOUBLE_TALK_FROM - 0.3),
        double_talk: window(DOUBLE_TALK_FROM + 0.5, 8.0),
        overruns: overruns.load(std::sync::atomic::Ordering::Relaxed),
    };
    println!(
        "echo processing {echo_processing}: far end alone {:.1} dBFS, with a near-end talker \
         {:.1} dBFS ({} packets, {} capture overruns; dBFS per second: {})",
        result.echo_only,
        result.double_talk,
        frames.len(),
        result.overruns,
        per_second.join(" ")
    );
    result
}

/// A measurement only counts when the guest kept real time. Under QEMU's emulation on a busy
/// host it sometimes cannot: the capture overruns, the playback underruns, the echo path
/// shifts under the canceller, and the run measures the emulator, not the canceller.
fn echo_run_in_real_time(probe: &str, echo_processing: bool) -> EchoRun {
    const ATTEMPTS: u32 = 3;
    for attempt in 1..=ATTEMPTS {
        let run = echo_run(&format!("{probe}-{attempt}"), echo_processing);
        if run.overruns == 0 {
            return run;
        }
        println!(
            "the guest fell behind real time ({} overruns): measuring again",
            run.overruns
        );
    }
    panic!("the guest never kept real time in {ATTEMPTS} attempts: the host is too busy");
}

#[test]
#[ignore = "runs in the QEMU guest: see send_audio_under_qemu"]
fn guest_echo_cancellation_attenuates_the_far_end_by_10_db() {
    in_guest();
    let off = echo_run_in_real_time("far-end-off", false);
    let on = echo_run_in_real_time("far-end-on", true);
    let attenuation = off.echo_only - on.echo_only;
    println!(
        "echo cancellation: far end {:.1} -> {:.1} dBFS: attenuated by {attenuation:.1} dB; \
         with a near-end talker: {:.1} -> {:.1} dBFS",
        off.echo_only, on.echo_only, off.double_talk, on.double_talk
    );
    assert!(
        off.echo_only > -30.0,
        "the echo must reach the microphone: {:.1} dBFS",
        off.echo_only
    );
    assert!(
        attenuation >= 10.0,
        "echo attenuated by {attenuation:.1} dB only"
    );
    // Not by muting the room: a person talking in the room still comes through, well above
    // what is left of the echo.
    assert!(
        on.double_talk >= on.echo_only + 10.0 && on.double_talk > -40.0,
        "the near-end talker is lost: {:.1} dBFS (echo alone {:.1} dBFS)",
        on.double_talk,
        on.echo_only
    );
}
