//! Driving the media engine from the room's effects: pipelines start when a session starts,
//! follow mute, camera privacy and camera presence, and stop when the session ends. Encoded
//! frames go to the session (the WebRTC layer plugs in at `FrameSink`; until then they are
//! counted, which is what status shows).

use super::Event;
use crate::config::Config;
use crate::hw::camera::Encoding;
use crate::hw::inventory::{Selected, Selection};
use crate::media::encoder::Encoder;
use crate::media::send_audio::{AudioSettings, AudioSource, SendAudio};
use crate::media::send_video::{CaptureFormat, SendVideo, VideoSettings, VideoSource};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What status shows about media.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaStatus {
    pub video: Option<VideoStatus>,
    pub audio: Option<AudioStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStatus {
    pub encoder: Encoder,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub kbps: u32,
    pub frames: u64,
    pub keyframes: u64,
    pub camera_off: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStatus {
    pub muted: bool,
    /// The input level meter (dBFS); it keeps measuring while muted.
    pub level_dbfs: f64,
    pub packets: u64,
}

pub struct Media {
    config: Config,
    events: mpsc::Sender<Event>,
    video: Option<SendVideo>,
    audio: Option<SendAudio>,
    audio_packets: Arc<AtomicU64>,
    in_session: bool,
    mic_muted: bool,
    camera_off: bool,
    camera_available: bool,
}

impl Media {
    pub fn new(config: &Config, events: mpsc::Sender<Event>) -> Media {
        if let Err(e) = crate::media::init() {
            let _ = events.try_send(Event::Problem(e));
        }
        Media {
            config: config.clone(),
            events,
            video: None,
            audio: None,
            audio_packets: Arc::new(AtomicU64::new(0)),
            in_session: false,
            mic_muted: config.meeting.join_muted,
            camera_off: false,
            camera_available: true,
        }
    }

    /// A session starts: capture and encode.
    pub fn start(&mut self, selection: &Selection, mic_muted: bool, camera_off: bool) {
        self.in_session = true;
        self.mic_muted = mic_muted;
        self.camera_off = camera_off;
        self.start_video(selection);
        self.start_audio(selection);
    }

    /// The session ended: stop everything.
    pub fn stop(&mut self) {
        self.in_session = false;
        self.video = None;
        self.audio = None;
    }

    pub fn set_mic_muted(&mut self, muted: bool) {
        self.mic_muted = muted;
        if let Some(audio) = &self.audio {
            audio.set_muted(muted);
        }
    }

    pub fn set_camera_off(&mut self, off: bool) {
        self.camera_off = off;
        if let Some(video) = &mut self.video {
            video.set_camera_off(off);
        }
    }

    /// The camera came or went: video stops with it and starts again when it is back.
    pub fn camera_available(&mut self, available: bool, selection: &Selection) {
        self.camera_available = available;
        if !available {
            self.video = None;
        } else if self.in_session && self.video.is_none() {
            self.start_video(selection);
        }
    }

    /// A video pipeline error: the call goes on without video (like a lost camera).
    pub fn video_failed(&mut self) {
        self.video = None;
    }

    pub fn status(&self) -> MediaStatus {
        MediaStatus {
            video: self.video.as_ref().map(|v| {
                let (width, height, fps) = v.step().size();
                VideoStatus {
                    encoder: v.encoder(),
                    width,
                    height,
                    fps,
                    kbps: v.kbps(),
                    frames: v.stats.frames.load(Ordering::Relaxed),
                    keyframes: v.stats.keyframes.load(Ordering::Relaxed),
                    camera_off: self.camera_off,
                }
            }),
            audio: self.audio.as_ref().map(|a| AudioStatus {
                muted: a.is_muted(),
                level_dbfs: if a.level_dbfs().is_finite() {
                    a.level_dbfs()
                } else {
                    -120.0
                },
                packets: self.audio_packets.load(Ordering::Relaxed),
            }),
        }
    }

    fn start_video(&mut self, selection: &Selection) {
        if !self.camera_available {
            return;
        }
        let source = match &selection.camera {
            Selected::Device(choice) => VideoSource::V4l2 {
                device: choice.path.clone(),
                format: match choice.mode.encoding {
                    Encoding::H264 => CaptureFormat::H264,
                    Encoding::Mjpeg => CaptureFormat::Mjpeg,
                    Encoding::Raw | Encoding::Other => CaptureFormat::Raw,
                },
            },
            Selected::Simulated { .. } => VideoSource::TestPattern("ball".into()),
            Selected::Missing { .. } => return,
        };
        let (width, height, fps) = match &selection.camera {
            Selected::Device(choice) => (
                choice.mode.width,
                choice.mode.height,
                choice.mode.fps.round() as u32,
            ),
            _ => (
                self.config.camera.width,
                self.config.camera.height,
                self.config.camera.fps,
            ),
        };
        let settings = VideoSettings {
            source,
            width,
            height,
            fps,
            encoder: self.config.media.encoder,
            kbps: self.config.media.video_kbps,
            ..VideoSettings::default()
        };
        let (frames, received) = mpsc::channel(256);
        let errors = self.errors("video");
        match SendVideo::start(&settings, frames, errors) {
            Ok(mut video) => {
                video.set_camera_off(self.camera_off);
                tracing::info!(
                    "video: {:?} {width}x{height}@{fps} with {}",
                    settings.source,
                    video.encoder().name()
                );
                tokio::spawn(frame_sink(received, None));
                self.video = Some(video);
            }
            Err(e) => {
                let _ = self.events.try_send(Event::MediaProblem {
                    video: true,
                    reason: e,
                });
            }
        }
    }

    fn start_audio(&mut self, selection: &Selection) {
        let (source, channels, on_board) = match &selection.microphone {
            Selected::Device(choice) => (
                AudioSource::Alsa {
                    device: choice.pcm.clone(),
                    channels_in: choice.device_channels.max(1),
                },
                choice.channels.clone(),
                choice.echo_cancelled_on_board,
            ),
            Selected::Simulated { .. } => (AudioSource::Tone { freq: 440.0 }, Vec::new(), true),
            Selected::Missing { .. } => return,
        };
        let settings = AudioSettings {
            source,
            channels,
            // The echo canceller needs the speaker path's probe, which the receive side owns;
            // until it runs, noise suppression and gain control only.
            echo_processing: !on_board,
            probe: None,
            muted: self.mic_muted,
            ..AudioSettings::default()
        };
        let (frames, received) = mpsc::channel(256);
        let errors = self.errors("audio");
        match SendAudio::start(&settings, frames, errors) {
            Ok(audio) => {
                tokio::spawn(frame_sink(received, Some(self.audio_packets.clone())));
                self.audio = Some(audio);
            }
            Err(e) => {
                let _ = self.events.try_send(Event::MediaProblem {
                    video: false,
                    reason: e,
                });
            }
        }
    }

    /// A channel whose messages come back to the main loop as media problems.
    fn errors(&self, what: &'static str) -> mpsc::UnboundedSender<String> {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let events = self.events.clone();
        tokio::spawn(async move {
            while let Some(reason) = rx.recv().await {
                let video = what == "video";
                if events
                    .send(Event::MediaProblem { video, reason })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        tx
    }
}

/// Where encoded frames go until the WebRTC session takes them: counted and released.
async fn frame_sink(
    mut frames: mpsc::Receiver<crate::media::EncodedFrame>,
    count: Option<Arc<AtomicU64>>,
) {
    while frames.recv().await.is_some() {
        if let Some(count) = &count {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}
