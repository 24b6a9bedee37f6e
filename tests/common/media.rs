//! GStreamer helpers for the media tests: small pipelines to encode and decode with, what a send
//! pipeline sends collected from its channels, measures of decoded audio, and people streaming
//! into the receive pipeline whose screen is read back and saved as PNG.
#![allow(dead_code)]

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use salle::media::receive::{Frame, Receive, RemoteVideo, VideoCodec};
use salle::media::send_audio::RATE;
use salle::media::EncodedFrame;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

// The receive pipeline: encoded people to push into it, and its screen read back.

/// Runs `description` (ending in `appsink name=out`) to the end and returns what came out as
/// encoded frames, with the encoder's timestamps and keyframe flags.
pub fn encode(description: &str) -> Vec<EncodedFrame> {
    salle::media::init().unwrap();
    let frames: Vec<EncodedFrame> = run_to_end(description)
        .iter()
        .map(|sample| {
            let buffer = sample.buffer().unwrap();
            EncodedFrame {
                data: buffer.map_readable().unwrap().to_vec(),
                pts: salle::media::pts_of(buffer),
                duration: buffer
                    .duration()
                    .map(|d| Duration::from_nanos(d.nseconds())),
                keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                audio_level: None,
            }
        })
        .collect();
    assert!(!frames.is_empty(), "nothing came out of {description}");
    frames
}

pub fn solid(colour: [u8; 3], frames: u32) -> String {
    let [r, g, b] = colour;
    format!(
        "videotestsrc num-buffers={frames} pattern=solid-color \
         foreground-color=0xff{r:02x}{g:02x}{b:02x} \
         ! video/x-raw,width=320,height=180,framerate=30/1"
    )
}

pub fn h264(colour: [u8; 3]) -> Vec<EncodedFrame> {
    encode(&format!(
        "{} ! x264enc tune=zerolatency speed-preset=ultrafast \
         ! h264parse config-interval=-1 \
         ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false",
        solid(colour, 10)
    ))
}

/// Adds a participant sending `frames`, and pushes them all (a burst, as after a network
/// hiccup: the pipeline must pace them itself).
pub fn join(receive: &Receive, id: &str, name: &str, codec: VideoCodec, frames: Vec<EncodedFrame>) {
    let video = receive.add_video(id, name, codec).unwrap();
    for frame in frames {
        video.push(frame).unwrap();
    }
}

/// A participant streaming as a real sender does: `frames` over and over in real time, until
/// dropped. Tiles that change size get fresh frames at their new size.
pub struct Sender {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    pub fn start(video: RemoteVideo, frames: Vec<EncodedFrame>) -> Sender {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            // Encoders may start their timestamps anywhere (x264enc at 1000 hours): pace by
            // the time since the first frame.
            let first = frames[0].pts;
            let span = frames.last().unwrap().pts + Duration::from_millis(33) - first;
            let start = Instant::now();
            for round in 0u32.. {
                for frame in &frames {
                    let pts = frame.pts + span * round;
                    if let Some(wait) = (pts - first).checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let frame = EncodedFrame {
                        pts,
                        ..frame.clone()
                    };
                    if stopped.load(Ordering::Relaxed) || video.push(frame).is_err() {
                        return;
                    }
                }
            }
        });
        Sender {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Adds a participant streaming `frames` (see `Sender`).
pub fn stream(
    receive: &Receive,
    id: &str,
    name: &str,
    codec: VideoCodec,
    frames: Vec<EncodedFrame>,
) -> Sender {
    Sender::start(receive.add_video(id, name, codec).unwrap(), frames)
}

pub fn close(pixel: [u8; 4], colour: [u8; 3]) -> bool {
    (0..3).all(|i| pixel[i].abs_diff(colour[i]) <= 40)
}

/// Pulls frames until `check` holds, or fails after 5 s with the last frame saved.
pub fn wait_for_screen(receive: &Receive, what: &str, check: impl Fn(&Frame) -> bool) -> Frame {
    let start = Instant::now();
    let (mut last, mut frames) = (None, 0);
    while start.elapsed() < Duration::from_secs(5) {
        if let Some(frame) = receive.pull_frame(Duration::from_millis(500)) {
            if check(&frame) {
                return frame;
            }
            last = Some(frame);
            frames += 1;
        }
    }
    // What a reviewer needs to see why: the last frame, and the pipeline with its states and
    // caps (render with `dot -Tpng`).
    let name = format!("failed-{}", what.replace(' ', "-"));
    if let Some(frame) = &last {
        save_png(frame, &format!("{name}.png"));
    }
    let graph = receive
        .pipeline()
        .debug_to_dot_data(gst::DebugGraphDetails::all());
    std::fs::write(output_dir().join(format!("{name}.dot")), graph.as_str()).unwrap();
    panic!("timed out waiting for {what} after {frames} frames: target/test-output/{name}.*");
}

pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `frame` as a PNG with GStreamer's own encoder.
pub fn save_png(frame: &Frame, name: &str) {
    let path = output_dir().join(name);
    let pipeline = launch(&format!(
        "appsrc name=in caps=video/x-raw,format=RGBA,width={},height={},framerate=0/1 \
         ! videoconvert ! pngenc ! filesink location={}",
        frame.width,
        frame.height,
        path.display()
    ));
    let source = appsrc(&pipeline, "in");
    pipeline.set_state(gst::State::Playing).unwrap();
    source
        .push_buffer(gst::Buffer::from_slice(frame.data.clone()))
        .unwrap();
    source.end_of_stream().unwrap();
    let bus = pipeline.bus().unwrap();
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(5),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("png written");
    assert!(matches!(message.view(), gst::MessageView::Eos(_)));
    pipeline.set_state(gst::State::Null).unwrap();
}
