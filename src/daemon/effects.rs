//! Carrying out the room's effects: meeting sessions, LEDs, media switches.

use super::gpio::Leds;
use super::media::{Media, MediaPart, MediaStatus};
use super::Event;
use crate::hw::inventory::Selection;
use crate::room::{Effect, Input, SessionEvent, SessionId};
use crate::signal::{MeetingTarget, SimulatedMeeting};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct Effects {
    leds: Leds,
    media: Media,
    events: mpsc::Sender<Event>,
    /// Running sessions, by id: dropping or firing the sender makes the session leave.
    sessions: HashMap<SessionId, oneshot::Sender<()>>,
    sessions_done: Vec<tokio::task::JoinHandle<()>>,
}

impl Effects {
    pub fn new(leds: Leds, media: Media, events: mpsc::Sender<Event>) -> Effects {
        Effects {
            leds,
            media,
            events,
            sessions: HashMap::new(),
            sessions_done: Vec::new(),
        }
    }

    pub fn media_status(&self) -> MediaStatus {
        self.media.status()
    }

    pub fn media_failed(&mut self, part: MediaPart) {
        self.media.failed(part);
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
                    self.connect(session, &url);
                    // Capture and encoding warm up while the session is set up.
                    self.media.start(selection, mic_muted, camera_off);
                }
                Effect::Disconnect { session } => {
                    tracing::info!(session, "leaving");
                    self.media.stop();
                    if let Some(leave) = self.sessions.remove(&session) {
                        let _ = leave.send(());
                    }
                }
                Effect::Leds(state) => self.leds.show(state),
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

    fn connect(&mut self, session: SessionId, url: &str) {
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
            Err(e) => tokio::spawn(async move {
                let _ = session_tx
                    .send(SessionEvent::Failed {
                        session,
                        reason: e.to_string(),
                    })
                    .await;
            }),
            Ok(MeetingTarget::Simulated {
                name,
                connect_ms,
                fail,
            }) => tokio::spawn(
                SimulatedMeeting {
                    name,
                    connect_ms,
                    fail,
                }
                .run(session, session_tx, leave_rx),
            ),
            Ok(other) => {
                let service = other.service();
                tokio::spawn(async move {
                    let reason =
                        format!("joining {service} meetings is not supported by this build yet");
                    let _ = session_tx
                        .send(SessionEvent::Failed { session, reason })
                        .await;
                })
            }
        };
        self.sessions_done.push(task);
    }

    /// Lets sessions that were told to leave finish, for a short while.
    pub async fn shutdown(&mut self) {
        self.sessions.clear();
        self.media.stop();
        self.leds.show(crate::room::LedState {
            status: crate::room::LedPattern::Off,
            mute: crate::room::LedPattern::Off,
        });
        for task in self.sessions_done.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}
