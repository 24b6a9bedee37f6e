//! The send-video pipeline: camera -> (MJPEG decode) -> scale -> encoder -> H.264 access units.
//!
//! ```text
//! source ! convert/scale/rate ! capsfilter(step) ! tee ─ queue ! valve(gate) ! encoder ! caps
//!                                                   │          ! h264parse ! appsink(out)
//!                                                   └ queue ! scale ! selector ! appsink(preview)
//!                                  "camera off" card ─────────────────┘   (+ intervideosink
//!                                                                           for the self-view)
//! ```
//! With a camera that encodes H.264 itself the encoder is skipped (pass-through) and only the
//! preview branch decodes. Raw video never reaches Rust: the appsink hands out access units
//! (Annex B, SPS/PPS in front of every keyframe) and small preview frames.

use super::elements::{self, *};
use super::encoder::{Encoder, Step};
use super::{pts_of, EncodedFrame};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where pictures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// The simulated camera: a test pattern (`videotestsrc` pattern name, e.g. "ball";
    /// "snow" is noise, which makes encoders work as hard as a busy room).
    TestPattern(String),
    /// A simulated camera that encodes H.264 itself (for pass-through tests).
    TestH264,
    /// A V4L2 camera in one of its modes.
    V4l2 {
        device: String,
        format: CaptureFormat,
    },
}

/// The camera mode's pixel format, as the mode choice picked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Raw,
    Mjpeg,
    H264,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoSettings {
    pub source: VideoSource,
    /// The capture mode (what the camera delivers).
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// None: the best on the ladder.
    pub encoder: Option<Encoder>,
    /// Starting bitrate; None: the step's default.
    pub kbps: Option<u32>,
    /// Preview (self-view) size.
    pub preview: (u32, u32),
    /// Also hand the preview to other pipelines of this process on this `intervideosink`
    /// channel (the receive pipeline's self-view), raw and without passing through Rust.
    pub self_view_channel: Option<String>,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            source: VideoSource::TestPattern("ball".into()),
            width: 1280,
            height: 720,
            fps: 30,
            encoder: None,
            kbps: None,
            preview: (320, 180),
            self_view_channel: None,
        }
    }
}

/// Counters the room's status and the tests read.
#[derive(Debug, Default)]
pub struct VideoStats {
    pub frames: AtomicU64,
    pub keyframes: AtomicU64,
    pub bytes: AtomicU64,
    /// Frames the consumer was too slow to take.
    pub dropped: AtomicU64,
    /// Capture-to-appsink latency of recent frames, in microseconds (the last 4096).
    pub latency_us: std::sync::Mutex<std::collections::VecDeque<u32>>,
}

impl VideoStats {
    fn record_latency(&self, latency: gst::ClockTime) {
        if let Ok(mut list) = self.latency_us.lock() {
            if list.len() == 4096 {
                list.pop_front();
            }
            list.push_back(latency.useconds().min(u64::from(u32::MAX)) as u32);
        }
    }
}

pub struct SendVideo {
    pipeline: gst::Pipeline,
    encoder: Encoder,
    encoder_element: Option<gst::Element>,
    size_filter: Option<gst::Element>,
    gate: gst::Element,
    out_pad: gst::Pad,
    selector: gst::Element,
    camera_pad: gst::Pad,
    privacy_pad: gst::Pad,
    preview: gst_app::AppSink,
    step: Step,
    max_step: Step,
    kbps: u32,
    gop: u32,
    camera_off: bool,
    pub stats: Arc<VideoStats>,
}

impl SendVideo {
    /// Builds and starts the pipeline. Access units go to `frames`; pipeline errors (with the
    /// element that raised them) to `errors`.
    pub fn start(
        settings: &VideoSettings,
        frames: mpsc::Sender<EncodedFrame>,
        errors: mpsc::UnboundedSender<String>,
    ) -> Result<SendVideo, String> {
        let gives_h264 = matches!(
            settings.source,
            VideoSource::TestH264
                | VideoSource::V4l2 {
                    format: CaptureFormat::H264,
                    ..
                }
        );
        let encoder = Encoder::choose(settings.encoder, gives_h264)?;
        if gives_h264 && encoder != Encoder::Camera {
            return Err(
                "re-encoding a camera's H.264 is not supported: use the camera's stream".into(),
            );
        }
        let max_step = Step::fitting(settings.width, settings.height);
        let step = max_step;
        let kbps = settings.kbps.unwrap_or(step.default_kbps());
        let gop = settings.fps * 2;
        let (pw, ph) = settings.preview;
        let preview_caps =
            format!("video/x-raw,format=I420,width={pw},height={ph},pixel-aspect-ratio=1/1");

        // The description is built in one place so the whole graph reads at a glance.
        let camera = source_description(settings);
        let description = if encoder == Encoder::Camera {
            format!(
                "{camera} ! {H264PARSE} ! {TEE} name=t \
                 t. ! {QUEUE} max-size-buffers=30 ! {VALVE} name=gate ! {H264PARSE} name=outparse config-interval=-1 \
                    ! video/x-h264,stream-format=byte-stream,alignment=au ! {APPSINK} name=out sync=false \
                 t. ! {QUEUE} leaky=downstream max-size-buffers=2 ! {AVDEC_H264} ! {VIDEOCONVERT} ! {VIDEOSCALE} \
                    ! {preview_caps} ! selector.sink_0 \
                 {privacy} ! selector.sink_1 {preview}",
                privacy = privacy_card(settings.preview, settings.fps),
                preview = preview_output(settings.self_view_channel.as_deref()),
            )
        } else {
            let (w, h, fps) = step.size();
            format!(
                "{camera} ! {VIDEOCONVERT} ! {VIDEOSCALE} ! {VIDEORATE} \
                 ! {CAPSFILTER} name=size caps=video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1 \
                 ! {TEE} name=t \
                 t. ! {QUEUE} leaky=downstream max-size-buffers=2 ! {VALVE} name=gate \
                 t. ! {QUEUE} leaky=downstream max-size-buffers=2 ! {VIDEOSCALE} ! {preview_caps} ! selector.sink_0 \
                 {privacy} ! selector.sink_1 {preview}",
                privacy = privacy_card(settings.preview, settings.fps),
                preview = preview_output(settings.self_view_channel.as_deref()),
            )
        };
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| format!("video pipeline: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "video pipeline: not a pipeline")?;
        let by_name = |name: &str| {
            pipeline
                .by_name(name)
                .ok_or_else(|| format!("video pipeline: no element {name}"))
        };

        let gate = by_name("gate")?;
        let (encoder_element, out) = if encoder == Encoder::Camera {
            (None, by_name("out")?)
        } else {
            let element = encoder.make(kbps, gop)?;
            let caps = gst::ElementFactory::make(CAPSFILTER)
                .property("caps", encoder.output_caps())
                .build()
                .map_err(|e| e.to_string())?;
            let parse = gst::ElementFactory::make(H264PARSE)
                .property("config-interval", -1i32)
                .build()
                .map_err(|e| e.to_string())?;
            let au = gst::ElementFactory::make(CAPSFILTER)
                .property(
                    "caps",
                    gst::Caps::builder("video/x-h264")
                        .field("stream-format", "byte-stream")
                        .field("alignment", "au")
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?;
            let out = gst::ElementFactory::make(APPSINK)
                .name("out")
                .property("sync", false)
                .build()
                .map_err(|e| e.to_string())?;
            pipeline
                .add_many([&element, &caps, &parse, &au, &out])
                .map_err(|e| e.to_string())?;
            gst::Element::link_many([&gate, &element, &caps, &parse, &au, &out])
                .map_err(|e| format!("video pipeline: {e}"))?;
            (Some(element), out)
        };
        let out = out
            .downcast::<gst_app::AppSink>()
            .map_err(|_| "out is not an appsink")?;
        let stats = Arc::new(VideoStats::default());
        out.set_callbacks(access_unit_callbacks(frames, stats.clone()));

        let selector = by_name("selector")?;
        let camera_pad = selector
            .static_pad("sink_0")
            .ok_or("selector has no sink_0")?;
        let privacy_pad = selector
            .static_pad("sink_1")
            .ok_or("selector has no sink_1")?;
        selector.set_property("active-pad", &camera_pad);
        let preview = by_name("preview")?
            .downcast::<gst_app::AppSink>()
            .map_err(|_| "preview is not an appsink")?;

        let last_error = super::watch_bus(&pipeline, errors, |_| {});
        super::play(&pipeline, &last_error).map_err(|e| format!("video pipeline: {e}"))?;
        let size_filter = pipeline.by_name("size");
        let out_pad = out.static_pad("sink").ok_or("appsink without sink pad")?;
        Ok(SendVideo {
            pipeline,
            encoder,
            encoder_element,
            size_filter,
            gate,
            out_pad,
            selector,
            camera_pad,
            privacy_pad,
            preview,
            step,
            max_step,
            kbps,
            gop,
            camera_off: false,
            stats,
        })
    }

    pub fn encoder(&self) -> Encoder {
        self.encoder
    }

    pub fn step(&self) -> Step {
        self.step
    }

    pub fn kbps(&self) -> u32 {
        self.kbps
    }

    /// Sets the target bitrate, live (congestion control calls this often).
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), String> {
        let element = self
            .encoder_element
            .as_ref()
            .ok_or("the camera's own H.264 has a fixed bitrate")?;
        self.kbps = kbps.clamp(50, 20_000);
        self.encoder.apply_bitrate(element, self.kbps, self.gop);
        Ok(())
    }

    /// Asks for a keyframe now (a receiver lost pictures: PLI/FIR).
    pub fn force_keyframe(&self) {
        let event = gstreamer_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        // Pushed from the appsink's sink pad, it travels upstream to the encoder.
        self.out_pad.push_event(event);
    }

    /// Changes the picture size and rate, live; never above what the camera captures.
    pub fn set_step(&mut self, step: Step) -> Result<Step, String> {
        let filter = self
            .size_filter
            .as_ref()
            .ok_or("the camera's own H.264 cannot change size live")?;
        let step = step.min(self.max_step);
        let (w, h, fps) = step.size();
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", w as i32)
            .field("height", h as i32)
            .field("framerate", gst::Fraction::new(fps as i32, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build();
        filter.set_property("caps", caps);
        self.step = step;
        Ok(step)
    }

    /// Camera privacy: nothing is encoded or sent, and the preview shows the "camera off" card.
    pub fn set_camera_off(&mut self, off: bool) {
        if self.camera_off == off {
            return;
        }
        self.camera_off = off;
        self.gate.set_property("drop", off);
        let pad = if off {
            &self.privacy_pad
        } else {
            &self.camera_pad
        };
        self.selector.set_property("active-pad", pad);
        if !off {
            // Receivers need a fresh keyframe to show the picture again at once.
            self.force_keyframe();
        }
    }

    /// The latest preview frame (I420 at the preview size), for the self-view.
    pub fn preview_frame(&self, timeout: std::time::Duration) -> Option<gst::Sample> {
        self.preview
            .try_pull_sample(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64))
    }

    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for SendVideo {
    fn drop(&mut self) {
        super::shut_down(&self.pipeline);
    }
}

/// The preview's end: the selector (camera or "camera off" card) to the preview appsink and,
/// for the self-view, to an `intervideosink` on `channel`.
fn preview_output(channel: Option<&str>) -> String {
    let appsink = format!("{APPSINK} name=preview sync=false drop=true max-buffers=1");
    match channel {
        None => format!("{INPUT_SELECTOR} name=selector ! {appsink}"),
        Some(channel) => format!(
            "{INPUT_SELECTOR} name=selector ! {TEE} name=preview_tee \
             preview_tee. ! {QUEUE} leaky=downstream max-size-buffers=1 ! {appsink} \
             preview_tee. ! {QUEUE} leaky=downstream max-size-buffers=1 \
                ! {INTERVIDEOSINK} channel=\"{channel}\" sync=false"
        ),
    }
}

fn source_description(settings: &VideoSettings) -> String {
    let (w, h, fps) = (settings.width, settings.height, settings.fps);
    let size = format!("width={w},height={h},framerate={fps}/1");
    match &settings.source {
        VideoSource::TestPattern(pattern) => {
            format!("{VIDEOTESTSRC} is-live=true pattern={pattern} ! video/x-raw,{size}")
        }
        VideoSource::TestH264 => format!(
            "{VIDEOTESTSRC} is-live=true pattern=ball ! video/x-raw,{size} \
             ! {X264ENC} tune=zerolatency speed-preset=ultrafast key-int-max={gop} ! video/x-h264,profile=constrained-baseline",
            gop = fps * 2
        ),
        VideoSource::V4l2 { device, format } => {
            let device = device.replace('"', "");
            match format {
                CaptureFormat::Raw => format!("{V4L2SRC} device=\"{device}\" ! video/x-raw,{size}"),
                CaptureFormat::Mjpeg => {
                    // The hardware JPEG decoder where the board has one (its element only exists then).
                    let decoder = if elements::installed(V4L2JPEGDEC) { V4L2JPEGDEC } else { JPEGDEC };
                    format!("{V4L2SRC} device=\"{device}\" ! image/jpeg,{size} ! {JPEGPARSE} ! {decoder}")
                }
                CaptureFormat::H264 => format!("{V4L2SRC} device=\"{device}\" ! video/x-h264,{size}"),
            }
        }
    }
}

/// The card the self-view shows while the camera is off.
fn privacy_card((w, h): (u32, u32), fps: u32) -> String {
    format!(
        "{VIDEOTESTSRC} is-live=true pattern=black ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1 \
         ! {TEXTOVERLAY} text=\"Camera off\" valignment=center halignment=center font-desc=\"Sans Bold 20\""
    )
}

fn access_unit_callbacks(
    frames: mpsc::Sender<EncodedFrame>,
    stats: Arc<VideoStats>,
) -> gst_app::AppSinkCallbacks {
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
            // Encoders shift timestamps (x264 by 1000 h, to keep DTS positive): the segment
            // maps them back to the pipeline's running time, which is the capture time.
            let captured = sample
                .segment()
                .and_then(|s| s.downcast_ref::<gst::ClockTime>())
                .and_then(|s| s.to_running_time(buffer.pts()));
            if let (Some(now), Some(captured)) = (sink.current_running_time(), captured) {
                stats.record_latency(now.saturating_sub(captured));
            }
            let frame = EncodedFrame {
                data: map.as_slice().to_vec(),
                pts: captured
                    .map(|t| std::time::Duration::from_nanos(t.nseconds()))
                    .unwrap_or_else(|| pts_of(buffer)),
                duration: buffer
                    .duration()
                    .map(|d| std::time::Duration::from_nanos(d.nseconds())),
                keyframe,
                audio_level: None,
            };
            stats.frames.fetch_add(1, Ordering::Relaxed);
            stats
                .bytes
                .fetch_add(frame.data.len() as u64, Ordering::Relaxed);
            if keyframe {
                stats.keyframes.fetch_add(1, Ordering::Relaxed);
            }
            // Never block the streaming thread on a slow consumer: a late frame is a lost frame.
            if let Err(mpsc::error::TrySendError::Full(_)) = frames.try_send(frame) {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}
