//! The send-audio pipeline with real GStreamer, on the simulated tone microphone: packets are
//! decoded back and measured; mute, the level meter, webrtcdsp with an echo probe, errors and
//! restarts. The ALSA paths (snd-aloop, echo cancellation) are in media_audio_hardware.rs.

mod common;

use common::media::{
    decode_opus, dominant_frequency, launch, refusal, rms_dbfs, threads_and_fds, Sending,
};
use salle::media;
use salle::media::send_audio::{share_echo_timeline, AudioSettings, AudioSource, SendAudio, RATE};
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use gstreamer as gst;
use gstreamer::prelude::*;

/// The restart test counts the process' threads and descriptors: it runs alone (write), the
/// others side by side (read).
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

type Running = Sending<SendAudio>;

fn start(settings: AudioSettings) -> Running {
    Sending::start(&settings, 1024, SendAudio::start)
}

fn tone(freq: f64) -> AudioSettings {
    AudioSettings {
        source: AudioSource::Tone { freq },
        ..AudioSettings::default()
    }
}

#[test]
fn unmuted_tone_decodes_to_its_energy_and_frequency() {
    let _guard = shared();
    let mut run = start(tone(440.0));
    let frames = run.collect(Duration::from_secs(2));
    assert!(
        (85..=105).contains(&frames.len()),
        "about 100 packets of 20 ms in 2 s, got {}",
        frames.len()
    );
    assert!(frames.iter().all(|f| f.keyframe && !f.data.is_empty()));
    // The first packet is shorter: the encoder's look-ahead (6.5 ms) is trimmed from it.
    for pair in frames[1..].windows(2) {
        let step = pair[1].pts.saturating_sub(pair[0].pts);
        assert_eq!(step, Duration::from_millis(20), "packets are 20 ms apart");
    }
    assert_eq!(frames[1].duration, Some(Duration::from_millis(20)));

    let samples = decode_opus(&frames);
    // ~1.9 s of audio at 48 kHz (the encoder's look-ahead trims a few ms).
    assert!(
        samples.len() as f64 > 0.9 * frames.len() as f64 * 960.0,
        "{} samples from {} packets",
        samples.len(),
        frames.len()
    );
    let steady = &samples[RATE as usize / 5..];
    let level = rms_dbfs(steady);
    let freq = dominant_frequency(steady);
    println!("decoded: {level:.1} dBFS, {freq} Hz");
    assert!(level > -30.0, "decoded tone at {level:.1} dBFS");
    assert!((freq - 440.0).abs() <= 10.0, "dominant frequency {freq} Hz");
    // And a different tone is told apart, so the check is not a coincidence.
    drop(run);
    let mut run = start(tone(1000.0));
    let samples = decode_opus(&run.collect(Duration::from_millis(800)));
    let freq = dominant_frequency(&samples[RATE as usize / 5..]);
    assert!(
        (freq - 1000.0).abs() <= 10.0,
        "dominant frequency {freq} Hz"
    );
}

#[test]
fn muted_sends_nothing_and_unmute_resumes_at_once() {
    let _guard = shared();
    let mut run = start(AudioSettings {
        muted: true,
        ..tone(440.0)
    });
    assert!(run.send.is_muted());
    let frames = run.collect(Duration::from_secs(1));
    assert_eq!(frames.len(), 0, "muted from the start: no packet at all");
    let valve = run.send.pipeline().by_name("mute").unwrap();
    assert!(
        valve.property::<bool>("drop"),
        "nothing reaches the encoder"
    );

    let unmuted = Instant::now();
    run.send.set_muted(false);
    let first = run.next_within(Duration::from_secs(2));
    let delay = unmuted.elapsed();
    assert!(first.is_some(), "no packet after unmuting");
    println!("first packet {delay:?} after unmuting");
    assert!(
        delay < Duration::from_millis(200),
        "first packet after {delay:?}"
    );
    assert!(run.collect(Duration::from_millis(500)).len() >= 20);

    run.send.set_muted(true);
    // What is in the channel was handed over before set_muted returned; nothing may follow.
    run.drain();
    let frames = run.collect(Duration::from_secs(1));
    assert_eq!(frames.len(), 0, "muted again: no packet");

    // Quick toggles keep working.
    run.send.set_muted(false);
    assert!(run.next_within(Duration::from_millis(200)).is_some());
    run.send.set_muted(true);
    run.drain();
    assert_eq!(run.collect(Duration::from_millis(300)).len(), 0);
}

#[test]
fn level_meter_measures_the_tone_while_muted() {
    let _guard = shared();
    let mut run = start(AudioSettings {
        muted: true,
        ..tone(440.0)
    });
    // A sine of amplitude 0.5 has an RMS of 0.354: -9.0 dBFS.
    let level = wait_for_level(&run, Duration::from_secs(2));
    println!("level while muted: {level:.2} dBFS");
    assert!((-10.5..=-7.5).contains(&level), "level {level:.1} dBFS");
    std::thread::sleep(Duration::from_millis(300));
    let again = run.send.level_dbfs();
    assert!((again - level).abs() < 1.0, "{level} then {again}");
    assert_eq!(
        run.collect(Duration::from_millis(200)).len(),
        0,
        "still muted"
    );
}

fn wait_for_level(run: &Running, limit: Duration) -> f64 {
    let deadline = Instant::now() + limit;
    loop {
        let level = run.send.level_dbfs();
        if level.is_finite() {
            return level;
        }
        assert!(Instant::now() < deadline, "no level measurement");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The playback side of echo cancellation, as the receive pipeline does it: far-end audio
/// through a webrtcechoprobe, on the shared echo timeline.
fn playback_with_probe(probe: &str) -> gst::Pipeline {
    let pipeline = launch(&format!(
        "audiotestsrc is-live=true wave=pink-noise volume=0.2 samplesperbuffer=480 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
         ! webrtcechoprobe name={probe} ! fakesink sync=true"
    ));
    share_echo_timeline(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    pipeline
}

#[test]
fn echo_processing_with_a_probe_runs_and_sends() {
    let _guard = shared();
    media::init().unwrap();
    let playback = playback_with_probe("probe-dsp-test");
    let mut run = start(AudioSettings {
        echo_processing: true,
        probe: Some("probe-dsp-test".into()),
        ..tone(440.0)
    });
    let dsp = run
        .send
        .pipeline()
        .by_name("dsp")
        .expect("webrtcdsp in the pipeline");
    assert!(dsp.property::<bool>("echo-cancel"));
    assert_eq!(dsp.property::<String>("probe"), "probe-dsp-test");
    // Same clock and base time: running times mean the same in both pipelines.
    let send = run.send.pipeline();
    assert_eq!(send.base_time(), playback.base_time());
    assert_eq!(send.clock(), playback.clock());
    let frames = run.collect(Duration::from_millis(1500));
    assert!(frames.len() >= 60, "{} packets in 1.5 s", frames.len());
    let samples = decode_opus(&frames);
    assert!(rms_dbfs(&samples[RATE as usize / 2..]) > -40.0);
    drop(run);
    playback.set_state(gst::State::Null).unwrap();
}

#[test]
fn echo_processing_without_its_probe_is_a_clear_error() {
    let _guard = shared();
    let settings = AudioSettings {
        echo_processing: true,
        probe: Some("no-such-probe".into()),
        ..tone(440.0)
    };
    let error = refusal(&settings, SendAudio::start);
    println!("{error}");
    assert!(
        error.contains("no-such-probe") && error.contains("dsp"),
        "{error}"
    );
}

#[test]
fn noise_suppression_alone_needs_no_probe() {
    let _guard = shared();
    let mut run = start(AudioSettings {
        echo_processing: true,
        probe: None,
        ..tone(440.0)
    });
    let dsp = run.send.pipeline().by_name("dsp").unwrap();
    assert!(!dsp.property::<bool>("echo-cancel"));
    assert!(run.collect(Duration::from_millis(600)).len() >= 20);
}

#[test]
fn a_missing_alsa_device_is_an_error_naming_it() {
    let _guard = shared();
    let settings = AudioSettings {
        source: AudioSource::Alsa {
            device: "hw:NoSuchCard,0".into(),
            channels_in: 1,
        },
        ..AudioSettings::default()
    };
    let error = refusal(&settings, SendAudio::start);
    println!("{error}");
    assert!(error.contains("hw:NoSuchCard,0"), "{error}");
    assert!(error.contains("mic"), "the element is named: {error}");
}

#[test]
fn a_bad_channel_selection_is_refused_before_starting() {
    let _guard = shared();
    let settings = AudioSettings {
        source: AudioSource::Alsa {
            device: "hw:Whatever".into(),
            channels_in: 6,
        },
        channels: vec![0, 7],
        ..AudioSettings::default()
    };
    let error = refusal(&settings, SendAudio::start);
    assert!(error.contains("channel 7"), "{error}");
}

#[test]
fn stopping_closes_the_error_channel() {
    let _guard = shared();
    let mut run = start(tone(440.0));
    assert!(run.next_within(Duration::from_secs(2)).is_some());
    run.send.stop();
    run.send.stop(); // idempotent
    let Sending {
        send, mut errors, ..
    } = run;
    drop(send);
    assert!(matches!(
        errors.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected)
    ));
}

/// Resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_hundred_restarts_leak_no_threads_or_descriptors() {
    let _alone = EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner());
    media::init().unwrap();
    let cycle = |n: usize| {
        for _ in 0..n {
            let mut run = start(AudioSettings {
                echo_processing: true,
                ..tone(440.0)
            });
            assert!(run.next_within(Duration::from_secs(2)).is_some());
            run.send.stop();
        }
    };
    // Warm up: GStreamer's first use creates long-lived things (registry, thread pools).
    cycle(5);
    std::thread::sleep(Duration::from_millis(200));
    let ((threads, fds), rss) = (threads_and_fds(), rss_kib());
    let started = Instant::now();
    cycle(100);
    std::thread::sleep(Duration::from_millis(200));
    let ((threads_after, fds_after), rss_after) = (threads_and_fds(), rss_kib());
    println!(
        "100 restarts in {:?}: threads {threads} -> {threads_after}, fds {fds} -> {fds_after}, \
         RSS {rss} -> {rss_after} KiB",
        started.elapsed()
    );
    assert!(
        threads_after <= threads + 3,
        "threads {threads} -> {threads_after}"
    );
    assert!(fds_after <= fds + 3, "fds {fds} -> {fds_after}");
    // A leaked pipeline (webrtcdsp, opusenc, buffers) costs several hundred KiB: 100 of them
    // would be tens of MiB. The margin is for the allocator's own caching.
    assert!(rss_after <= rss + 8 * 1024, "RSS {rss} -> {rss_after} KiB");
}
