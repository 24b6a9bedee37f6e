//! Carrying out the room's effects: meeting sessions, LEDs, media switches.

use super::gpio::Leds;
use super::media::MediaWorker;
use super::screen_power::ScreenPowerDriver;
use super::speakerphone::Speakerphones;
use super::Event;
use crate::api::MediaStatus;
use crate::config::{Config, NetworkConfig};
use crate::hw::inventory::Selection;
use crate::room::{
    Effect, Input, LedPattern, MediaPart, Millis, ProblemReport, ProblemSource, Reactions,
    RoomStatus, SessionEvent, SessionId,
};
use crate::rtc::peer::{BitrateRange, IceServer, PeerSettings};
use crate::rtc::session::run as run_meeting;
use crate::rtc::stats::{SessionMonitor, SessionStatus};
use crate::rtc::MediaPorts;
use crate::signal::janus::JanusMeeting;
use crate::signal::livekit::{Access, LiveKitMeeting};
use crate::signal::meet::{LiveKitAccess, MeetRoom};
use crate::signal::whip_whep::WhipWhepMeeting;
use crate::signal::{MeetingTarget, SimulatedMeeting};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct Effects {
    network: Network,
    /// The figures of the meeting session in progress.
    monitor: Option<SessionMonitor>,
    /// The meeting's reactions on the screen.
    reactions: Reactions,
    leds: Leds,
    /// USB speakerphones: their mute LEDs are mute LEDs too.
    speakerphones: Speakerphones,
    media: MediaWorker,
    screen_power: ScreenPowerDriver,
    events: mpsc::Sender<Event>,
    /// Running sessions, by id: dropping or firing the sender makes the session leave.
    sessions: HashMap<SessionId, oneshot::Sender<()>>,
    sessions_done: Vec<tokio::task::JoinHandle<()>>,
}

/// What sessions need to know about the network.
struct Network {
    /// How the room appears to the others.
    room_name: String,
    config: NetworkConfig,
    token_file: Option<std::path::PathBuf>,
    start_kbps: u32,
    /// The camera's size, which LiveKit wants announced with the track.
    camera: (u32, u32),
}

/// Runs a meeting session once its media ports are there (the media worker starts the
/// pipelines meanwhile); without them (the daemon stopping), it does not start.
async fn with_ports<F: std::future::Future<Output = ()>>(
    ports: impl std::future::Future<Output = Option<MediaPorts>>,
    session: impl FnOnce(MediaPorts) -> F,
) {
    if let Some(ports) = ports.await {
        session(ports).await
    }
}

/// Consumes a session's media when nothing sends it anywhere.
fn drain(ports: MediaPorts) {
    for mut frames in [ports.video, ports.audio].into_iter().flatten() {
        tokio::spawn(async move { while frames.recv().await.is_some() {} });
    }
}

impl Effects {
    pub fn new(
        config: &Config,
        leds: Leds,
        media: MediaWorker,
        events: mpsc::Sender<Event>,
    ) -> Effects {
        Effects {
            network: Network {
                room_name: config.room.name.clone(),
                config: config.network.clone(),
                token_file: config.meeting.token_file.clone(),
                start_kbps: config
                    .media
                    .video_kbps
                    .unwrap_or(1200)
                    .clamp(config.network.min_video_kbps, config.network.max_video_kbps),
                camera: (config.camera.width, config.camera.height),
            },
            monitor: None,
            reactions: Reactions::default(),
            leds,
            speakerphones: Speakerphones::start(&config.speakerphone.hid, events.clone()),
            media,
            screen_power: ScreenPowerDriver::start(config, events.clone()),
            events,
            sessions: HashMap::new(),
            sessions_done: Vec::new(),
        }
    }

    pub fn speakerphones(&self) -> &Speakerphones {
        &self.speakerphones
    }

    pub fn speakerphones_mut(&mut self) -> &mut Speakerphones {
        &mut self.speakerphones
    }

    pub fn media_status(&self) -> MediaStatus {
        self.media.status()
    }

    pub fn media_failed(&mut self, part: MediaPart) {
        self.media.failed(part);
    }

    /// Shows the room's state on its screen at `now`, with the meeting's captions and
    /// reactions (see `Media::show_screen`).
    pub fn show_screen(&mut self, now: Millis, status: &RoomStatus, selection: &Selection) {
        for reaction in self
            .monitor
            .as_ref()
            .map(|m| m.take_reactions())
            .unwrap_or_default()
        {
            self.reactions
                .on_reaction(&reaction.from, &reaction.emoji, now);
        }
        self.reactions.expire(now);
        let reactions = self.reactions.lines(now);
        let captions = self
            .monitor
            .as_ref()
            .map(|m| m.captions())
            .unwrap_or_default();
        let recording = self
            .monitor
            .as_ref()
            .map(|m| m.recording())
            .unwrap_or_default();
        self.media
            .show_screen(status, &captions, recording, &reactions, selection);
    }

    pub fn apply(&mut self, effects: Vec<Effect>, selection: &Selection) {
        for effect in effects {
            match effect {
                Effect::Connect {
                    session,
                    url,
                    mic_muted,
                    camera_off,
                } => {
                    tracing::info!(session, %url, mic_muted, camera_off, "joining");
                    // Capture and encoding warm up while the session is set up; the session
                    // gets its ports when the media worker has started the pipelines.
                    let ports = self.media.start_session(selection, mic_muted, camera_off);
                    self.connect(session, &url, ports);
                }
                Effect::Disconnect { session } => {
                    tracing::info!(session, "leaving");
                    self.media.stop();
                    self.monitor = None;
                    if let Some(leave) = self.sessions.remove(&session) {
                        let _ = leave.send(());
                    }
                }
                Effect::Leds(state) => self.leds.show(state),
                Effect::SpeakerphoneMuteLed(muted) => self.speakerphones.show(muted),
                // The picture follows the room's status (`show_screen`); the TV is told here.
                Effect::ScreenPower(power) => self.screen_power.set(power),
                Effect::SetMicMuted(muted) => {
                    tracing::info!(muted, "microphone");
                    self.media.set_mic_muted(muted);
                }
                Effect::SetCameraOff(off) => {
                    tracing::info!(off, "camera privacy");
                    self.media.set_camera_off(off);
                }
                Effect::CameraAvailable(available) => {
                    tracing::info!(available, "camera");
                    self.media.camera_available(available, selection);
                }
            }
        }
        self.sessions_done.retain(|t| !t.is_finished());
    }

    fn connect(
        &mut self,
        session: SessionId,
        url: &str,
        ports: impl std::future::Future<Output = Option<MediaPorts>> + Send + 'static,
    ) {
        let (session_tx, mut session_rx) = mpsc::channel::<SessionEvent>(8);
        let events = self.events.clone();
        // Forward the session's events to the main loop as room inputs.
        tokio::spawn(async move {
            while let Some(event) = session_rx.recv().await {
                if events
                    .send(Event::Room(Input::Session(event)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let (leave_tx, leave_rx) = oneshot::channel();
        self.sessions.insert(session, leave_tx);
        let task = match MeetingTarget::parse(url) {
            Err(e) => return self.fail_at_once(session, session_tx, e.to_string()),
            Ok(MeetingTarget::Simulated {
                name,
                connect_ms,
                fail,
            }) => {
                // No network: the encoded media goes nowhere (status still counts it).
                tokio::spawn(async move {
                    let meeting = SimulatedMeeting {
                        name,
                        connect_ms,
                        fail,
                    };
                    let run = meeting.run(session, session_tx, leave_rx);
                    if let Some(ports) = ports.await {
                        drain(ports);
                    }
                    run.await
                })
            }
            Ok(MeetingTarget::Whip { endpoint, whep }) => {
                let meeting = WhipWhepMeeting {
                    whip: Some(endpoint),
                    whep,
                    token: self.token(),
                    peer: self.peer_settings(),
                };
                let monitor = self.monitor("WHIP");
                tokio::spawn(with_ports(ports, move |ports| {
                    run_meeting(meeting, session, session_tx, leave_rx, ports, monitor)
                }))
            }
            Ok(MeetingTarget::Janus { url, room }) => {
                let meeting = JanusMeeting {
                    url,
                    room,
                    display: self.network.room_name.clone(),
                    peer: self.peer_settings(),
                };
                let monitor = self.monitor("Janus VideoRoom");
                tokio::spawn(with_ports(ports, move |ports| {
                    run_meeting(meeting, session, session_tx, leave_rx, ports, monitor)
                }))
            }
            Ok(target @ (MeetingTarget::LaSuiteMeet { .. } | MeetingTarget::LiveKit { .. })) => {
                let (access, service) = match target {
                    MeetingTarget::LaSuiteMeet { base, slug } => {
                        match MeetRoom::new(base, slug, self.network.room_name.clone()) {
                            Ok(room) => (Access::Meet(room), "La Suite Meet"),
                            Err(reason) => return self.fail_at_once(session, session_tx, reason),
                        }
                    }
                    MeetingTarget::LiveKit { url, token } => {
                        (Access::Direct(LiveKitAccess { url, token }), "LiveKit")
                    }
                    _ => unreachable!("matched above"),
                };
                let meeting = LiveKitMeeting {
                    access,
                    camera: self.network.camera,
                    peer: self.peer_settings(),
                    session,
                    events: session_tx.clone(),
                    refreshed: Default::default(),
                };
                let monitor = self.monitor(service);
                tokio::spawn(with_ports(ports, move |ports| {
                    run_meeting(meeting, session, session_tx, leave_rx, ports, monitor)
                }))
            }
            Ok(MeetingTarget::Whep { endpoint }) => {
                let meeting = WhipWhepMeeting {
                    whip: None,
                    whep: Some(endpoint),
                    token: self.token(),
                    peer: self.peer_settings(),
                };
                let monitor = self.monitor("WHEP");
                tokio::spawn(with_ports(ports, move |ports| {
                    run_meeting(meeting, session, session_tx, leave_rx, ports, monitor)
                }))
            }
        };
        self.sessions_done.push(task);
    }

    /// A session that cannot even start: the room hears why.
    fn fail_at_once(
        &mut self,
        session: SessionId,
        session_tx: mpsc::Sender<SessionEvent>,
        reason: String,
    ) {
        self.sessions_done.push(tokio::spawn(async move {
            let _ = session_tx
                .send(SessionEvent::Failed { session, reason })
                .await;
        }));
    }

    /// A fresh monitor for the session starting now, which status shows.
    fn monitor(&mut self, service: &str) -> SessionMonitor {
        let monitor = SessionMonitor::new(service);
        self.monitor = Some(monitor.clone());
        monitor
    }

    /// Completes when what the room's screen shows of the meeting (captions, recording)
    /// changed; never without a meeting session.
    pub fn screen_changed(&self) -> impl std::future::Future<Output = ()> {
        let monitor = self.monitor.clone();
        async move {
            match monitor {
                Some(monitor) => monitor.screen_changed().await,
                None => std::future::pending().await,
            }
        }
    }

    pub fn session_status(&self) -> Option<SessionStatus> {
        self.monitor.as_ref().map(SessionMonitor::get)
    }

    /// The bearer token for WHIP/WHEP, read at each join (it may have been rotated).
    fn token(&self) -> Option<String> {
        let path = self.network.token_file.as_ref()?;
        match std::fs::read_to_string(path) {
            Ok(token) => {
                // A token file that was fixed is no problem any more.
                let _ = (self.events).try_send(super::problem_gone(ProblemSource::MeetingToken));
                Some(token.trim().to_string()).filter(|t| !t.is_empty())
            }
            Err(e) => {
                let detail = format!("{}: {e}", path.display());
                let problem = super::problem(ProblemSource::MeetingToken, "meeting token", detail);
                let _ = self.events.try_send(problem);
                None
            }
        }
    }

    /// What in `[network]` cannot work, for status (the daemon still runs without it).
    pub fn network_problem(&self) -> Option<ProblemReport> {
        let path = self.network.config.ca_file.as_deref()?;
        let error = crate::net::tls::client_config(Some(path)).err()?;
        let setting = "[network] ca_file";
        Some(
            ProblemReport::new(ProblemSource::Setting(setting.into()), setting)
                .with_detail(error.to_string()),
        )
    }

    fn peer_settings(&self) -> PeerSettings {
        let network = &self.network.config;
        PeerSettings {
            ice_servers: network
                .ice_servers
                .iter()
                .map(|s| IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                })
                .collect(),
            bind: network.bind.clone(),
            relay_only: network.relay_only,
            gather_wait: crate::rtc::peer::GATHER_TIMEOUT,
            ca_file: network.ca_file.clone(),
            ice_tcp: false,
            video_bps: BitrateRange {
                start: u64::from(self.network.start_kbps) * 1000,
                min: u64::from(network.min_video_kbps) * 1000,
                max: u64::from(network.max_video_kbps) * 1000,
            },
        }
    }

    /// Lets sessions that were told to leave finish, for a short while.
    pub async fn shutdown(&mut self) {
        self.sessions.clear();
        self.media.close().await;
        self.leds.show(crate::room::LedState {
            status: LedPattern::Off,
            mute: LedPattern::Off,
        });
        self.speakerphones.show(false);
        for task in self.sessions_done.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}
