//! What every meeting session does with its peer connections, whatever the signalling: wait
//! for a connection, start sending, play remote tracks, and keep the session's figures.

use super::peer::{ConnectionState, Peer, PeerEvent};
use super::publish::{OutgoingTrack, SendCounters};
use super::remote::{self, ReceiveCounters, RemoteTrackInfo};
use super::stats::{
    connection_status, record_received, record_sent, ConnectionStatus, RateMeter, SessionMonitor,
};
use super::{EncoderFeedback, MediaPorts};
use crate::media::receive::Receive;
use crate::room::{SessionEvent, SessionId};
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_remote::TrackRemote;

/// How long ICE and DTLS may take once the answer is in.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Waits until the connection is up. Tracks that arrive meanwhile are kept: the returned
/// channel gives them first, then every later event.
pub async fn wait_connected(
    mut events: mpsc::UnboundedReceiver<PeerEvent>,
) -> Result<mpsc::UnboundedReceiver<PeerEvent>, String> {
    let mut kept = Vec::new();
    let connected = async {
        while let Some(event) = events.recv().await {
            match event {
                PeerEvent::State(ConnectionState::Connected) => return Ok(()),
                PeerEvent::State(ConnectionState::Failed | ConnectionState::Closed) => {
                    return Err("ICE/DTLS failed".to_string())
                }
                PeerEvent::State(_) => {}
                track => kept.push(track),
            }
        }
        Err("the connection closed".into())
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connected)
        .await
        .unwrap_or_else(|_| Err(format!("no connection within {CONNECT_TIMEOUT:?}")))?;
    let (merged, merged_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for event in kept {
            let _ = merged.send(event);
        }
        while let Some(event) = events.recv().await {
            if merged.send(event).is_err() {
                return;
            }
        }
    });
    Ok(merged_rx)
}

/// Runs a session's set-up unless the room leaves first. On failure or leave, tells the room
/// (`Failed` with the reason, or `Ended`) and returns None.
pub async fn set_up<T>(
    setup: impl std::future::Future<Output = Result<T, String>>,
    leave: &mut std::pin::Pin<&mut tokio::sync::oneshot::Receiver<()>>,
    session: SessionId,
    events: &mpsc::Sender<SessionEvent>,
) -> Option<T> {
    tokio::select! {
        result = setup => match result {
            Ok(value) => Some(value),
            Err(reason) => {
                let _ = events.send(SessionEvent::Failed { session, reason }).await;
                None
            }
        },
        _ = leave.as_mut() => {
            let _ = events.send(SessionEvent::Ended { session }).await;
            None
        }
    }
}

/// The sending side of a session and the figures of both sides.
pub struct Session {
    monitor: SessionMonitor,
    feedback: mpsc::UnboundedSender<EncoderFeedback>,
    receive: Option<Arc<Receive>>,
    video: Option<mpsc::Receiver<crate::media::EncodedFrame>>,
    audio: Option<mpsc::Receiver<crate::media::EncodedFrame>>,
    sent_video: Vec<Arc<SendCounters>>,
    sent_audio: Vec<Arc<SendCounters>>,
    received_video: Arc<ReceiveCounters>,
    received_audio: Arc<ReceiveCounters>,
    sent_rate: RateMeter,
    received_rate: RateMeter,
    tasks: Vec<JoinHandle<()>>,
}

impl Session {
    pub fn new(ports: MediaPorts, monitor: SessionMonitor) -> Session {
        Session {
            monitor,
            feedback: ports.feedback,
            receive: ports.receive,
            video: ports.video,
            audio: ports.audio,
            sent_video: Vec::new(),
            sent_audio: Vec::new(),
            received_video: Arc::default(),
            received_audio: Arc::default(),
            sent_rate: RateMeter::default(),
            received_rate: RateMeter::default(),
            tasks: Vec::new(),
        }
    }

    /// Which of the room's media there is to send.
    pub fn has_video(&self) -> bool {
        self.video.is_some()
    }

    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// Starts sending on tracks added before the offer; each takes the matching media.
    pub async fn send(&mut self, tracks: Vec<OutgoingTrack>) {
        for track in tracks {
            let frames = match track.kind {
                RtpCodecKind::Video => self.video.take(),
                _ => self.audio.take(),
            };
            let Some(frames) = frames else { continue };
            match track.kind {
                RtpCodecKind::Video => self.sent_video.push(track.counters.clone()),
                _ => self.sent_audio.push(track.counters.clone()),
            }
            self.tasks
                .extend(track.start(frames, self.feedback.clone()).await);
        }
    }

    /// Plays a remote track on the screen or the speaker until it ends.
    pub async fn play(&mut self, track: Arc<dyn TrackRemote>, info: RemoteTrackInfo) {
        let Some(receive) = self.receive.clone() else {
            return;
        };
        let counters = match track.kind().await {
            RtpCodecKind::Video => self.received_video.clone(),
            _ => self.received_audio.clone(),
        };
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = remote::play(track, receive, info, counters).await {
                tracing::warn!("remote track: {e}");
            }
        }));
    }

    /// Hands the congestion controller's estimate to the encoder and updates the figures.
    /// Call it every half second or so.
    pub fn tick(&mut self, publisher: Option<&Peer>) {
        let target = publisher.and_then(|p| p.target.as_ref());
        let target_kbps = target.map_or(0, |t| (t.bps() / 1000) as u32);
        if target.is_some() {
            let _ = self.feedback.send(EncoderFeedback::TargetKbps(target_kbps));
        }
        let video: Vec<&SendCounters> = self.sent_video.iter().map(|c| c.as_ref()).collect();
        let audio: Vec<&SendCounters> = self.sent_audio.iter().map(|c| c.as_ref()).collect();
        let (sent_rate, received_rate) = (&mut self.sent_rate, &mut self.received_rate);
        let (received_video, received_audio) = (&self.received_video, &self.received_audio);
        self.monitor.update(|status| {
            record_sent(&mut status.sent, &video, &audio, sent_rate);
            status.sent.target_kbps = target_kbps;
            record_received(
                &mut status.received,
                received_video,
                received_audio,
                received_rate,
            );
        });
    }

    /// Records each connection's state, candidate pair and round trip.
    pub async fn record_connections(&self, connections: &[(&Peer, &str, &str)]) {
        let mut statuses: Vec<ConnectionStatus> = Vec::new();
        for (peer, role, state) in connections {
            statuses.push(connection_status(peer, role, state).await);
        }
        self.monitor.update(|status| status.connections = statuses);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A connection state as status shows it.
pub fn state_name(state: ConnectionState) -> String {
    format!("{state:?}").to_lowercase()
}
