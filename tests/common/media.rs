//! GStreamer helpers for the media tests: small pipelines to encode and decode with, what a send
//! pipeline sends collected from its channels, and measures of decoded audio.
#![allow(dead_code)]

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use salle::media::send_audio::RATE;
use salle::media::EncodedFrame;
use std::fmt::Debug;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A gst-launch description as a pipeline, not started yet.
pub fn launch(description: &str) -> gst::Pipeline {
    gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("{description}: {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap()
}

pub fn appsrc(pipeline: &gst::Pipeline, name: &str) -> gst_app::AppSrc {
    pipeline
        .by_name(name)
        .and_downcast::<gst_app::AppSrc>()
        .unwrap_or_else(|| panic!("no appsrc named {name}"))
}

pub fn appsink(pipeline: &gst::Pipeline, name: &str) -> gst_app::AppSink {
    pipeline
        .by_name(name)
        .and_downcast::<gst_app::AppSink>()
        .unwrap_or_else(|| panic!("no appsink named {name}"))
}

/// A pipeline that plays while this lives (a tone into a sound card, a picture into a camera);
/// stopped when dropped.
pub struct Playing(pub gst::Pipeline);

impl Playing {
    /// Launches `description` and sets it playing.
    pub fn start(description: &str) -> Playing {
        Playing::play(launch(description))
    }

    /// Sets `pipeline` playing.
    pub fn play(pipeline: gst::Pipeline) -> Playing {
        pipeline.set_state(gst::State::Playing).unwrap();
        Playing(pipeline)
    }

    /// Panics with the pipeline's error, if it had one, as "`what` failed: ..." (a silent
    /// capture is confusing).
    pub fn assert_healthy(&self, what: &str) {
        let bus = self.0.bus().unwrap();
        if let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
            panic!(
                "{what} failed: {}",
                salle::media::bus_error(&message).unwrap()
            );
        }
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// Every sample `sink` gives until the end of the stream (or until none came for 5 s).
pub fn pull_all(sink: &gst_app::AppSink) -> Vec<gst::Sample> {
    std::iter::from_fn(|| sink.try_pull_sample(gst::ClockTime::from_seconds(5))).collect()
}

/// Runs `description` (ending in `appsink name=out`) to its end and returns every sample that
/// came out.
pub fn run_to_end(description: &str) -> Vec<gst::Sample> {
    let pipeline = launch(description);
    let sink = appsink(&pipeline, "out");
    pipeline.set_state(gst::State::Playing).unwrap();
    let samples = pull_all(&sink);
    pipeline.set_state(gst::State::Null).unwrap();
    samples
}

/// Pushes `frames` through `description` (`appsrc name=in ... ! appsink name=out`) as a
/// receiver would: each with its timestamp and duration, then the end of the stream. Returns
/// every sample that came out.
pub fn run_through(description: &str, frames: &[EncodedFrame]) -> Vec<gst::Sample> {
    let pipeline = launch(description);
    let (src, sink) = (appsrc(&pipeline, "in"), appsink(&pipeline, "out"));
    pipeline.set_state(gst::State::Playing).unwrap();
    for frame in frames {
        let mut buffer = gst::Buffer::from_slice(frame.data.clone());
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.set_pts(gst::ClockTime::from_nseconds(frame.pts.as_nanos() as u64));
            if let Some(d) = frame.duration {
                buffer.set_duration(gst::ClockTime::from_nseconds(d.as_nanos() as u64));
            }
        }
        src.push_buffer(buffer).unwrap();
    }
    src.end_of_stream().unwrap();
    let samples = pull_all(&sink);
    pipeline.set_state(gst::State::Null).unwrap();
    samples
}

/// Decodes Opus packets back to mono S16 samples at 48 kHz with a small appsrc ! opusdec
/// pipeline, as a receiver would.
pub fn decode_opus(frames: &[EncodedFrame]) -> Vec<i16> {
    let decoded = run_through(
        "appsrc name=in format=time caps=audio/x-opus,channel-mapping-family=0,channels=1,rate=48000 \
         ! opusdec ! audioconvert ! audio/x-raw,format=S16LE,channels=1,rate=48000 \
         ! appsink name=out sync=false",
        frames,
    );
    let mut samples = Vec::new();
    for sample in &decoded {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        samples.extend(
            map.as_slice()
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]])),
        );
    }
    samples
}

/// The RMS level of S16 samples, in dBFS.
pub fn rms_dbfs(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum();
    10.0 * (sum / samples.len().max(1) as f64).log10()
}

/// The strongest frequency of 48 kHz samples between 100 Hz and 2 kHz, in 2 Hz steps
/// (Goertzel over the first 0.5 s).
pub fn dominant_frequency(samples: &[i16]) -> f64 {
    let window = &samples[..samples.len().min(RATE as usize / 2)];
    let power = |freq: f64| {
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / RATE as f64).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in window {
            let s0 = x as f64 + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    };
    (50..=1000)
        .map(|step| step as f64 * 2.0)
        .map(|freq| (freq, power(freq)))
        .fold(
            (0.0, f64::MIN),
            |best, f| if f.1 > best.1 { f } else { best },
        )
        .0
}

/// The sending ends a send pipeline starts with: its frames and its errors.
type FrameSender = mpsc::Sender<EncodedFrame>;
type ErrorSender = mpsc::UnboundedSender<String>;

/// A running send pipeline (`send`: a `SendAudio` or a `SendVideo`) and the receiving ends of
/// its frame and error channels.
pub struct Sending<P> {
    pub send: P,
    pub frames: mpsc::Receiver<EncodedFrame>,
    pub errors: mpsc::UnboundedReceiver<String>,
}

impl<P> Sending<P> {
    /// Starts a send pipeline with its `start` (`SendAudio::start`, `SendVideo::start`) and a
    /// channel for `capacity` frames; panics with the settings and the reason when it does not.
    pub fn start<S: Debug>(
        settings: &S,
        capacity: usize,
        start: impl FnOnce(&S, FrameSender, ErrorSender) -> Result<P, String>,
    ) -> Sending<P> {
        let (tx, frames) = mpsc::channel(capacity);
        let (etx, errors) = mpsc::unbounded_channel();
        let send = start(settings, tx, etx).unwrap_or_else(|e| panic!("{settings:?}: {e}"));
        Sending {
            send,
            frames,
            errors,
        }
    }

    /// What is sent during `span`; panics if the pipeline reported an error.
    pub fn collect(&mut self, span: Duration) -> Vec<EncodedFrame> {
        let deadline = Instant::now() + span;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            match self.frames.try_recv() {
                Ok(f) => out.push(f),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        self.no_errors();
        out
    }

    /// The next `n` frames; panics when they take more than 20 s.
    pub fn collect_n(&mut self, n: usize) -> Vec<EncodedFrame> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        while out.len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} frames",
                out.len()
            );
            match self.frames.try_recv() {
                Ok(f) => out.push(f),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        out
    }

    /// Waits for the next frame; None after `limit`.
    pub fn next_within(&mut self, limit: Duration) -> Option<EncodedFrame> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(f) = self.frames.try_recv() {
                return Some(f);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    /// Forgets the frames sent so far.
    pub fn drain(&mut self) {
        while self.frames.try_recv().is_ok() {}
    }

    /// Panics with the pipeline's error, if it reported one.
    pub fn no_errors(&mut self) {
        if let Ok(e) = self.errors.try_recv() {
            panic!("pipeline error: {e}");
        }
    }
}

/// Why a send pipeline's `start` refuses `settings`; panics if it starts.
pub fn refusal<S, P>(
    settings: &S,
    start: impl FnOnce(&S, FrameSender, ErrorSender) -> Result<P, String>,
) -> String {
    let (tx, _frames) = mpsc::channel(16);
    let (etx, _errors) = mpsc::unbounded_channel();
    start(settings, tx, etx).err().expect("must fail")
}

/// The process's threads and open file descriptors, for the leak tests.
pub fn threads_and_fds() -> (usize, usize) {
    let count = |dir| std::fs::read_dir(dir).unwrap().count();
    (count("/proc/self/task"), count("/proc/self/fd"))
}
