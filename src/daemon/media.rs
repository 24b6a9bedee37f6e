//! Driving the media engine from the room's effects: pipelines start when a session starts,
//! follow mute, camera privacy and camera presence, and stop when the session ends. Encoded
//! frames go to the meeting session through `MediaPorts`; the network's feedback (keyframe
//! requests, the congestion controller's estimate) comes back to the encoder here.
//!
//! The main loop never waits for GStreamer: `MediaWorker` runs `Media` on a thread of its own.
//! The loop hands it jobs (start, stop, mute, what the screen shows...) and reads a snapshot
//! of its status; a pipeline that takes seconds to start (`Receive::new` waits up to 5 s for
//! one to play, a branch's detach up to 1 s) holds the worker, never the loop. The network's
//! feedback (keyframe requests, bitrate) goes straight to the worker too.
//!
//! The receive pipeline (screen and speaker) starts first: it holds the echo probe that the
//! microphone's echo canceller names, and the self-view that the camera's preview feeds.
//!
//! The room's screen: when the room has one (`[screen] output` is not "none"), the receive
//! pipeline also runs between calls, from start-up on, to show the idle screen and the
//! messages (joining, failed...), and a session takes it over as it is. `show_screen` gives it
//! what to show from the room's status whenever the main loop runs; the pipeline redraws only
//! what changed (the clock once a minute).

use super::Event;
use crate::api::{AudioStatus, MediaStatus, ScreenStatus, VideoStatus};
use crate::config::{Config, ScreenConfig, ScreenOutput};
use crate::hw::camera::Encoding;
use crate::hw::inventory::{Selected, Selection};
use crate::media::adapt::SizeAdapter;
use crate::media::layout::Size;
use crate::media::receive::{
    AudioOutput, Receive, ReceiveSettings, SelfViewSource, VideoOutput, DEFAULT_ECHO_PROBE,
};
use crate::media::send_audio::{AudioSettings, AudioSource, SendAudio};
use crate::media::send_video::{CaptureFormat, SendVideo, VideoSettings, VideoSource};
use crate::media::EncodedFrame;
use crate::room::{
    screen_content, MediaEvent, MediaPart, MeetingRecording, RoomStatus, ScreenContent, ScreenFacts,
};
use crate::rtc::stats::CaptionLine;
use crate::rtc::{EncoderFeedback, MediaPorts, Switches};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct Media {
    config: Config,
    events: mpsc::Sender<Event>,
    video: Option<SendVideo>,
    audio: Option<SendAudio>,
    receive: Option<Arc<Receive>>,
    /// How the running receive pipeline was asked to be set up (before any fallback to no
    /// screen): a session keeps the pipeline when it would ask for the same.
    receive_settings: Option<ReceiveSettings>,
    /// How the running receive pipeline was set up, for status.
    screen: Option<ScreenStatus>,
    /// What the room's screen shows, for a pipeline that starts.
    content: Option<ScreenContent>,
    /// When a screen that could not open between calls may be tried again.
    screen_retry: Option<Instant>,
    addresses: DeviceAddresses,
    audio_packets: Arc<AtomicU64>,
    /// Where this session's encoded frames go: one channel per session, kept across camera and
    /// pipeline restarts, so the meeting's tracks keep their senders.
    session_video: Option<mpsc::Sender<EncodedFrame>>,
    /// The picture size the network estimate allows (while video runs).
    size: Option<SizeAdapter>,
    started: std::time::Instant,
    session_audio: Option<mpsc::Sender<EncodedFrame>>,
    in_session: bool,
    mic_muted: bool,
    /// Mute and privacy, for meeting sessions (shared with `MediaWorker`, which says them
    /// at once, without waiting for the worker).
    switches: Arc<tokio::sync::watch::Sender<Switches>>,
    /// The worker's own inbox: the encoder's feedback comes straight here.
    jobs: std::sync::mpsc::Sender<Job>,
    camera_off: bool,
    camera_available: bool,
}

impl Media {
    fn new(
        config: &Config,
        events: mpsc::Sender<Event>,
        switches: Arc<tokio::sync::watch::Sender<Switches>>,
        jobs: std::sync::mpsc::Sender<Job>,
    ) -> Media {
        // The daemon reports GStreamer missing at start; this only makes sure it is ready.
        let _ = crate::media::init();
        Media {
            config: config.clone(),
            events,
            video: None,
            audio: None,
            receive: None,
            receive_settings: None,
            screen: None,
            content: None,
            screen_retry: None,
            addresses: DeviceAddresses::default(),
            audio_packets: Arc::new(AtomicU64::new(0)),
            session_video: None,
            size: None,
            started: std::time::Instant::now(),
            session_audio: None,
            in_session: false,
            // Muted until the room says (its first effects): nothing is heard by mistake.
            mic_muted: true,
            switches,
            jobs,
            camera_off: false,
            camera_available: true,
        }
    }

    /// A session starts: capture and encode. Returns what the meeting session sends and
    /// where it puts what it receives.
    pub fn start(
        &mut self,
        selection: &Selection,
        mic_muted: bool,
        camera_off: bool,
    ) -> MediaPorts {
        self.in_session = true;
        self.mic_muted = mic_muted;
        self.camera_off = camera_off;
        self.switches.send_replace(Switches {
            mic_muted,
            camera_off,
        });
        let (video_tx, video) = mpsc::channel(FRAME_QUEUE);
        let (audio_tx, audio) = mpsc::channel(FRAME_QUEUE);
        self.session_video = Some(video_tx);
        self.session_audio = Some(audio_tx);
        self.audio_packets.store(0, Ordering::Relaxed);
        let echo_probe = self.start_receive(selection);
        self.start_video(selection);
        self.start_audio(selection, echo_probe);
        MediaPorts {
            video: Some(video),
            audio: Some(audio),
            receive: self.receive.clone(),
            feedback: self.feedback(),
            switches: self.switches.subscribe(),
        }
    }

    /// What the network asks of the encoder.
    pub fn feedback_received(&mut self, feedback: EncoderFeedback) {
        let Some(video) = &mut self.video else { return };
        match feedback {
            EncoderFeedback::Keyframe => video.force_keyframe(),
            EncoderFeedback::TargetKbps(kbps) => {
                // The size first: a starved 720p looks worse than a well-fed 360p.
                let now_ms = self.started.elapsed().as_millis() as u64;
                if let Some(step) = self.size.as_mut().and_then(|s| s.update(now_ms, kbps)) {
                    match video.set_step(step) {
                        Ok(step) => {
                            tracing::info!("video size {:?} for {kbps} kbit/s", step.size())
                        }
                        Err(e) => tracing::debug!("video size stays: {e}"),
                    }
                }
                // Leave room for sound and packet headers; never above what the room allows.
                let kbps = (kbps * 9 / 10).min(self.config.network.max_video_kbps);
                if kbps.abs_diff(video.kbps()) * 20 > video.kbps() {
                    let _ = video.set_bitrate(kbps);
                }
            }
        }
    }

    /// The session ended: stop everything, senders first (the microphone's echo canceller
    /// names the receive pipeline's probe). A room screen stays, without the people.
    pub fn stop(&mut self) {
        self.in_session = false;
        self.session_video = None;
        self.session_audio = None;
        self.video = None;
        self.audio = None;
        if !self.on_a_screen() {
            self.close_receive();
            return;
        }
        if let Some(receive) = &self.receive {
            receive.remove_everyone();
            let _ = receive.set_self_view(None);
        }
        if let Some(screen) = &mut self.screen {
            screen.self_view = false;
        }
    }

    /// The daemon stops: everything goes, the room's screen too.
    pub fn close(&mut self) {
        self.stop();
        self.close_receive();
    }

    /// Shows what `status` means on the room's screen (its problems included), with
    /// `captions` (the meeting's). Between calls,
    /// starts the screen when the room has one and it is not running (at start-up, or again
    /// a while after it failed).
    pub fn show_screen(
        &mut self,
        status: &RoomStatus,
        captions: &[CaptionLine],
        recording: MeetingRecording,
        reactions: &[String],
        selection: &Selection,
    ) {
        let now = jiff::Zoned::now();
        let facts = ScreenFacts {
            clock: now.strftime("%H:%M").to_string(),
            today: now.date().to_string(),
            addresses: self.addresses.get(),
            captions: captions
                .iter()
                .map(|c| format!("{}: {}", c.speaker, c.text))
                .collect(),
            recording,
            reactions: reactions.to_vec(),
        };
        let content = screen_content(status, &facts);
        if self.receive.is_none() && !self.in_session && self.has_a_screen() {
            let due = self.screen_retry.is_none_or(|at| Instant::now() >= at);
            if due {
                self.start_idle_screen(selection);
            }
        }
        self.content = Some(content);
        self.draw_content();
    }

    /// Draws what the screen shows on the running pipeline, when it drives a screen (without
    /// one, nobody would see it).
    fn draw_content(&self) {
        let Some(receive) = self.receive.as_ref().filter(|_| self.on_a_screen()) else {
            return;
        };
        if let Err(e) = receive.set_screen(self.content.as_ref()) {
            self.problem(MediaPart::Screen, "screen", e.to_string());
        }
    }

    /// The running receive pipeline drives a screen (not only the speaker).
    fn on_a_screen(&self) -> bool {
        (self.screen.as_ref()).is_some_and(|s| s.output != output_name(&VideoOutput::AppSink))
    }

    pub fn set_mic_muted(&mut self, muted: bool) {
        self.mic_muted = muted;
        self.switches.send_modify(|s| s.mic_muted = muted);
        if let Some(audio) = &self.audio {
            audio.set_muted(muted);
        }
    }

    pub fn set_camera_off(&mut self, off: bool) {
        self.camera_off = off;
        self.switches.send_modify(|s| s.camera_off = off);
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

    /// A pipeline failed. Video: the call goes on without it (like a lost camera). Screen:
    /// the pipeline may be broken, so it goes, and with it what the speaker played (the call
    /// goes on; the room is told; between calls it is tried again a while later). Audio
    /// failures end the call, which stops everything.
    pub fn failed(&mut self, part: MediaPart) {
        match part {
            MediaPart::Video => self.video = None,
            MediaPart::Screen => {
                self.close_receive();
                self.screen_retry = Some(Instant::now() + SCREEN_RETRY);
            }
            MediaPart::Audio => {}
        }
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
            screen: self.screen.clone().map(|screen| ScreenStatus {
                tiles: self
                    .receive
                    .as_ref()
                    .map_or(0, |r| r.layout().placements.len()),
                people: self
                    .receive
                    .as_ref()
                    .map(|r| r.people())
                    .unwrap_or_default(),
                text: (self.receive.as_ref())
                    .map(|r| r.drawing().texts.into_iter().map(|t| t.text).collect())
                    .unwrap_or_default(),
                ..screen
            }),
        }
    }

    /// Starts the screen and speaker for a session, or keeps the ones running (the room's
    /// screen between calls) when they are set up the same way. Returns the echo probe's name
    /// when the microphone's echo canceller is to use it: a real speaker and a microphone
    /// without on-board AEC.
    fn start_receive(&mut self, selection: &Selection) -> Option<String> {
        let mut settings = self.receive_settings(selection);
        let running = self.receive_settings.as_ref() == Some(&settings);
        match &self.receive {
            // A late track of the last call, if any, is not this one's.
            Some(receive) if running => receive.remove_everyone(),
            _ => {
                // One at a time: a display takes one user.
                self.close_receive();
                let requested = settings.clone();
                let receive = match Receive::new(settings.clone()) {
                    Ok(receive) => receive,
                    Err(e) if settings.video_output != VideoOutput::AppSink => {
                        // No screen is no reason to lose the sound: go on without a picture.
                        self.problem(
                            MediaPart::Screen,
                            &format!("screen ({})", output_name(&settings.video_output)),
                            e,
                        );
                        settings.video_output = VideoOutput::AppSink;
                        match Receive::new(settings.clone()) {
                            Ok(receive) => receive,
                            Err(e) => return self.receive_failed(e),
                        }
                    }
                    Err(e) => return self.receive_failed(e),
                };
                if settings == requested {
                    self.running(MediaPart::Screen);
                }
                self.receive_started(receive, requested, &settings);
            }
        }
        let receive = self.receive.clone()?;
        let self_view = self.config.screen.self_view && self.show_self_view(&receive, selection);
        if let Some(screen) = &mut self.screen {
            screen.self_view = self_view;
        }
        settings.echo_probe
    }

    /// The room's screen between calls, when it opens (no fallback: without the screen there
    /// is nothing to show).
    fn start_idle_screen(&mut self, selection: &Selection) {
        let settings = self.receive_settings(selection);
        match Receive::new(settings.clone()) {
            Ok(receive) => {
                tracing::info!("screen: {}", output_name(&settings.video_output));
                self.screen_retry = None;
                self.running(MediaPart::Screen);
                self.receive_started(receive, settings.clone(), &settings);
            }
            Err(e) => {
                self.screen_retry = Some(Instant::now() + SCREEN_RETRY);
                self.problem(
                    MediaPart::Screen,
                    &format!("screen ({})", output_name(&settings.video_output)),
                    e,
                );
            }
        }
    }

    /// How the receive pipeline is set up for `selection`: the configured screen, the
    /// speaker, and the echo probe when the microphone needs one.
    fn receive_settings(&self, selection: &Selection) -> ReceiveSettings {
        let screen = &self.config.screen;
        let (audio_output, speaker_is_real) = match &selection.speaker {
            Selected::Device(choice) => (
                AudioOutput::Alsa {
                    device: choice.pcm.clone(),
                },
                true,
            ),
            _ => (AudioOutput::Discard, false),
        };
        let mic_needs_aec = matches!(&selection.microphone,
            Selected::Device(mic) if !mic.echo_cancelled_on_board);
        ReceiveSettings {
            screen: Size::new(screen.width, screen.height),
            fps: screen.fps,
            video_output: video_output(screen),
            audio_output,
            echo_probe: (speaker_is_real && mic_needs_aec).then(|| DEFAULT_ECHO_PROBE.to_string()),
            ..ReceiveSettings::default()
        }
    }

    /// A receive pipeline runs, set up as `settings` (asked as `requested`): its errors come
    /// back as screen problems, status describes it, and it shows what the screen shows now.
    fn receive_started(
        &mut self,
        receive: Receive,
        requested: ReceiveSettings,
        settings: &ReceiveSettings,
    ) {
        if let Some(mut errors) = receive.take_errors() {
            let events = self.events.clone();
            tokio::spawn(async move {
                while let Some(reason) = errors.recv().await {
                    let problem = Event::Media(MediaEvent::Failed {
                        part: MediaPart::Screen,
                        summary: "screen".into(),
                        reason,
                    });
                    if events.send(problem).await.is_err() {
                        return;
                    }
                }
            });
        }
        self.screen = Some(ScreenStatus {
            output: output_name(&settings.video_output).into(),
            width: settings.screen.width,
            height: settings.screen.height,
            tiles: 0,
            people: Vec::new(),
            self_view: false,
            echo_cancellation: settings.echo_probe.is_some(),
            text: Vec::new(),
        });
        self.receive_settings = Some(requested);
        self.receive = Some(Arc::new(receive));
        self.draw_content();
    }

    fn close_receive(&mut self) {
        self.receive = None;
        self.receive_settings = None;
        self.screen = None;
    }

    /// The configuration gives the room a screen to show things on between calls.
    fn has_a_screen(&self) -> bool {
        let screen = &self.config.screen;
        video_output(screen) != VideoOutput::AppSink
    }

    fn receive_failed(&mut self, reason: String) -> Option<String> {
        self.problem(MediaPart::Screen, "speaker and screen", reason);
        None
    }

    /// The self-view shows what the camera sends (the "camera off" card included), or the
    /// test pattern of a simulated camera; none without a camera.
    fn show_self_view(&self, receive: &Receive, selection: &Selection) -> bool {
        if matches!(selection.camera, Selected::Missing { .. }) {
            return false;
        }
        let source = SelfViewSource::Channel(SELF_VIEW_CHANNEL.into());
        match receive.set_self_view(Some(source)) {
            Ok(()) => true,
            Err(e) => {
                self.problem(MediaPart::Screen, "self-view", e.to_string());
                false
            }
        }
    }

    fn problem(&self, part: MediaPart, summary: &str, reason: String) {
        let _ = self.events.try_send(Event::Media(MediaEvent::Failed {
            part,
            summary: summary.into(),
            reason,
        }));
    }

    /// A pipeline of `part` runs: a problem it had is gone.
    fn running(&self, part: MediaPart) {
        let _ = (self.events).try_send(Event::Media(MediaEvent::Running { part }));
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
            self_view_channel: Some(SELF_VIEW_CHANNEL.into()),
            ..VideoSettings::default()
        };
        let Some(frames) = self.session_video.clone() else {
            return;
        };
        let errors = self.errors(MediaPart::Video);
        match SendVideo::start(&settings, frames, errors) {
            Ok(mut video) => {
                video.set_camera_off(self.camera_off);
                self.size = Some(SizeAdapter::new(video.step(), video.step()));
                tracing::info!(
                    "video: {:?} {width}x{height}@{fps} with {}",
                    settings.source,
                    video.encoder().name()
                );
                self.video = Some(video);
                self.running(MediaPart::Video);
            }
            Err(e) => self.problem(MediaPart::Video, "video", e),
        }
    }

    fn start_audio(&mut self, selection: &Selection, echo_probe: Option<String>) {
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
            // Without the speaker's probe (no speaker of ours, or a screen pipeline that did
            // not start), noise suppression and gain control only.
            echo_processing: !on_board,
            probe: echo_probe,
            muted: self.mic_muted,
            ..AudioSettings::default()
        };
        let Some(session_audio) = self.session_audio.clone() else {
            return;
        };
        // Counted on the way, for status.
        let (frames, mut counted) = mpsc::channel::<EncodedFrame>(FRAME_QUEUE);
        let packets = self.audio_packets.clone();
        tokio::spawn(async move {
            while let Some(frame) = counted.recv().await {
                packets.fetch_add(1, Ordering::Relaxed);
                if session_audio.send(frame).await.is_err() {
                    return;
                }
            }
        });
        let errors = self.errors(MediaPart::Audio);
        match SendAudio::start(&settings, frames, errors) {
            Ok(audio) => {
                self.audio = Some(audio);
            }
            Err(e) => self.problem(MediaPart::Audio, "microphone", e),
        }
    }

    /// A channel whose messages go straight to the encoder's worker (not the main loop).
    fn feedback(&self) -> mpsc::UnboundedSender<EncoderFeedback> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let jobs = self.jobs.clone();
        tokio::spawn(async move {
            while let Some(feedback) = rx.recv().await {
                if jobs.send(Job::Feedback(feedback)).is_err() {
                    return;
                }
            }
        });
        tx
    }

    /// A channel whose messages come back to the main loop as media problems.
    fn errors(&self, part: MediaPart) -> mpsc::UnboundedSender<String> {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let events = self.events.clone();
        let summary = match part {
            MediaPart::Video => "video",
            MediaPart::Audio => "microphone",
            MediaPart::Screen => "screen",
        };
        tokio::spawn(async move {
            while let Some(reason) = rx.recv().await {
                let failed = MediaEvent::Failed {
                    part,
                    summary: summary.into(),
                    reason,
                };
                if events.send(Event::Media(failed)).await.is_err() {
                    return;
                }
            }
        });
        tx
    }
}

/// Encoded frames waiting for the session: a second of video; a full queue drops (a live
/// source must not wait for the network).
const FRAME_QUEUE: usize = 32;

/// The channel the camera's preview reaches the self-view on (in-process, raw).
const SELF_VIEW_CHANNEL: &str = "salle-self-view";

/// How long a room screen that could not open waits before it is tried again (a screen
/// plugged in after start-up shows within this).
const SCREEN_RETRY: Duration = Duration::from_secs(30);

/// How often the device's addresses are looked up again.
const ADDRESSES_REFRESH: Duration = Duration::from_secs(10);

/// The addresses people reach the device at, for the room's screen: the source address of
/// its route to the Internet, IPv4 and IPv6. Connecting a UDP socket sends nothing; it only
/// asks the kernel for the route, so no route (no network) gives no address. Looked up at
/// most every `ADDRESSES_REFRESH`.
#[derive(Default)]
struct DeviceAddresses {
    known: Vec<String>,
    looked_up: Option<Instant>,
}

impl DeviceAddresses {
    fn get(&mut self) -> Vec<String> {
        if self
            .looked_up
            .is_none_or(|at| at.elapsed() >= ADDRESSES_REFRESH)
        {
            // Documentation addresses (RFC 5737, RFC 3849): any address off the device would
            // do; these are nobody's.
            let routes = [("0.0.0.0:0", "192.0.2.1:9"), ("[::]:0", "[2001:db8::1]:9")];
            self.known = routes
                .iter()
                .filter_map(|(bind, to)| {
                    let socket = std::net::UdpSocket::bind(bind).ok()?;
                    socket.connect(to).ok()?;
                    let ip = socket.local_addr().ok()?.ip();
                    (!ip.is_unspecified() && !ip.is_loopback()).then(|| ip.to_string())
                })
                .collect();
            self.looked_up = Some(Instant::now());
        }
        self.known.clone()
    }
}

/// What `[screen] output` means on this machine.
fn video_output(screen: &ScreenConfig) -> VideoOutput {
    let kms = || VideoOutput::Kms {
        connector_id: screen.connector,
        driver: screen.kms_driver.clone(),
    };
    let display_controller = || {
        std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("card"))
        })
    };
    match screen.output {
        ScreenOutput::Kms => kms(),
        ScreenOutput::Window => VideoOutput::Window,
        ScreenOutput::None => VideoOutput::AppSink,
        ScreenOutput::Auto if crate::media::receive::has_desktop() => VideoOutput::Window,
        ScreenOutput::Auto if display_controller() => kms(),
        ScreenOutput::Auto => VideoOutput::AppSink,
    }
}

fn output_name(output: &VideoOutput) -> &'static str {
    match output {
        VideoOutput::Kms { .. } => "kms",
        VideoOutput::Window => "window",
        VideoOutput::AppSink => "none",
    }
}

/// What the main loop asks of the media worker.
enum Job {
    /// A session starts: its ports go back through `ports`.
    Start {
        selection: Selection,
        mic_muted: bool,
        camera_off: bool,
        ports: tokio::sync::oneshot::Sender<MediaPorts>,
    },
    Stop,
    SetMicMuted(bool),
    SetCameraOff(bool),
    CameraAvailable(bool, Selection),
    Failed(MediaPart),
    Feedback(EncoderFeedback),
    ShowScreen(Box<ScreenJob>),
    /// The daemon stops: everything goes, then `done` fires.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// What the room's screen should show, as the main loop last saw it.
struct ScreenJob {
    status: RoomStatus,
    captions: Vec<CaptionLine>,
    recording: MeetingRecording,
    reactions: Vec<String>,
    selection: Selection,
}

/// The media engine's handle in the main loop: every call returns at once.
pub struct MediaWorker {
    jobs: std::sync::mpsc::Sender<Job>,
    switches: Arc<tokio::sync::watch::Sender<Switches>>,
    /// What status shows, as the worker last wrote it.
    status: Arc<std::sync::Mutex<MediaStatus>>,
}

/// How often the worker looks at its pipelines with no job: status figures (frames, levels)
/// stay this fresh, and the screen's addresses and retry are checked.
const WORKER_LOOK: Duration = Duration::from_millis(500);

/// A test hook: a FIFO whose opening holds the start of every session's media (a real
/// GStreamer state change that blocks, `filesrc` on a FIFO nobody writes to), to show that
/// the main loop does not wait for pipelines. Never set outside tests.
const SLOW_START_ENV: &str = "SALLE_TEST_SLOW_START_FIFO";

impl MediaWorker {
    pub fn start(config: &Config, events: mpsc::Sender<Event>) -> MediaWorker {
        let (jobs, inbox) = std::sync::mpsc::channel();
        let switches = Arc::new(tokio::sync::watch::Sender::new(Switches {
            mic_muted: true,
            camera_off: false,
        }));
        let status = Arc::new(std::sync::Mutex::new(MediaStatus::default()));
        let media = Media::new(config, events, switches.clone(), jobs.clone());
        let runtime = tokio::runtime::Handle::current();
        let shown = status.clone();
        std::thread::Builder::new()
            .name("media".into())
            .spawn(move || {
                // Media's helpers spawn small forwarding tasks.
                let _runtime = runtime.enter();
                work(media, inbox, shown);
            })
            .expect("spawn the media worker");
        MediaWorker {
            jobs,
            switches,
            status,
        }
    }

    fn send(&self, job: Job) {
        // The worker ends only with the daemon.
        let _ = self.jobs.send(job);
    }

    /// A session starts: its ports come when the worker has started the pipelines.
    pub fn start_session(
        &self,
        selection: &Selection,
        mic_muted: bool,
        camera_off: bool,
    ) -> impl std::future::Future<Output = Option<MediaPorts>> + Send + 'static {
        let (ports, ready) = tokio::sync::oneshot::channel();
        self.send(Job::Start {
            selection: selection.clone(),
            mic_muted,
            camera_off,
            ports,
        });
        async move { ready.await.ok() }
    }

    pub fn stop(&self) {
        self.send(Job::Stop);
    }

    pub fn set_mic_muted(&self, muted: bool) {
        // The meeting hears of it now, whatever the worker is busy with.
        self.switches.send_modify(|s| s.mic_muted = muted);
        self.send(Job::SetMicMuted(muted));
    }

    pub fn set_camera_off(&self, off: bool) {
        self.switches.send_modify(|s| s.camera_off = off);
        self.send(Job::SetCameraOff(off));
    }

    pub fn camera_available(&self, available: bool, selection: &Selection) {
        self.send(Job::CameraAvailable(available, selection.clone()));
    }

    pub fn failed(&self, part: MediaPart) {
        self.send(Job::Failed(part));
    }

    pub fn show_screen(
        &self,
        status: &RoomStatus,
        captions: &[CaptionLine],
        recording: MeetingRecording,
        reactions: &[String],
        selection: &Selection,
    ) {
        self.send(Job::ShowScreen(Box::new(ScreenJob {
            status: status.clone(),
            captions: captions.to_vec(),
            recording,
            reactions: reactions.to_vec(),
            selection: selection.clone(),
        })));
    }

    pub fn status(&self) -> MediaStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The daemon stops: waits a while for the worker to close everything.
    pub async fn close(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        self.send(Job::Close(done));
        let _ = tokio::time::timeout(Duration::from_secs(10), closed).await;
    }
}

/// The worker's loop: jobs in order, the screen's latest content only (a worker that was busy
/// starting a pipeline skips the screens it missed), status written after each turn.
fn work(
    mut media: Media,
    inbox: std::sync::mpsc::Receiver<Job>,
    status: Arc<std::sync::Mutex<MediaStatus>>,
) {
    let slow_start = std::env::var_os(SLOW_START_ENV).map(std::path::PathBuf::from);
    let mut screen: Option<Box<ScreenJob>> = None;
    loop {
        let mut jobs: Vec<Job> = match inbox.recv_timeout(WORKER_LOOK) {
            Ok(job) => vec![job],
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Vec::new(),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        jobs.extend(inbox.try_iter());
        let last_screen = jobs.iter().rposition(|j| matches!(j, Job::ShowScreen(_)));
        let mut redraw = jobs.is_empty();
        for (at, job) in jobs.into_iter().enumerate() {
            match job {
                Job::Start {
                    selection,
                    mic_muted,
                    camera_off,
                    ports,
                } => {
                    if let Some(fifo) = &slow_start {
                        block_on_fifo(fifo);
                    }
                    let _ = ports.send(media.start(&selection, mic_muted, camera_off));
                }
                Job::Stop => media.stop(),
                Job::SetMicMuted(muted) => media.set_mic_muted(muted),
                Job::SetCameraOff(off) => media.set_camera_off(off),
                Job::CameraAvailable(available, selection) => {
                    media.camera_available(available, &selection)
                }
                Job::Failed(part) => media.failed(part),
                Job::Feedback(feedback) => media.feedback_received(feedback),
                Job::ShowScreen(job) if Some(at) == last_screen => {
                    screen = Some(job);
                    redraw = true;
                }
                Job::ShowScreen(_) => {}
                Job::Close(done) => {
                    media.close();
                    let _ = done.send(());
                    return;
                }
            }
        }
        // With no job: the clock's minute is the main loop's, but a screen retry or new
        // addresses are the worker's own to notice.
        if let (true, Some(job)) = (redraw, &screen) {
            media.show_screen(
                &job.status,
                &job.captions,
                job.recording,
                &job.reactions,
                &job.selection,
            );
        }
        let now = media.status();
        *status.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

/// The test hook's blocking state change: `filesrc` opens the FIFO in its READY->PAUSED
/// change, which waits until something opens the FIFO for writing.
fn block_on_fifo(fifo: &std::path::Path) {
    use crate::media::elements::{FAKESINK, FILESRC};
    use gstreamer::prelude::*;
    let description = format!("{FILESRC} location={} ! {FAKESINK}", fifo.display());
    let Ok(pipeline) = gstreamer::parse::launch(&description) else {
        return;
    };
    tracing::info!("media: starting, held by {} (test hook)", fifo.display());
    let _ = pipeline.set_state(gstreamer::State::Paused);
    let _ = pipeline.state(gstreamer::ClockTime::from_seconds(60));
    let _ = pipeline.set_state(gstreamer::State::Null);
    tracing::info!("media: starting, released");
}
