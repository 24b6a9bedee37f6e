//! What every meeting session does with its peer connections, whatever the signalling: wait
//! for a connection, start sending, play remote tracks, and keep the session's figures.

use super::peer::{ConnectionState, Peer, PeerEvent};
use super::publish::{OutgoingTrack, SendCounters, SharedFrames};
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

/// How a session that lost its meeting spaces its attempts to join again, and when it gives up.
#[derive(Debug)]
pub struct Rejoin {
    since: std::time::Instant,
    delay: Duration,
}

impl Rejoin {
    /// How long to keep trying: a network back within this long brings the call back.
    pub const WINDOW: Duration = Duration::from_secs(60);
    const FIRST: Duration = Duration::from_millis(500);
    const LONGEST: Duration = Duration::from_secs(5);

    /// The wait before the next attempt, or None once the window is over.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.since.elapsed() >= Self::WINDOW {
            return None;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::LONGEST);
        Some(delay)
    }
}

impl Default for Rejoin {
    fn default() -> Self {
        Rejoin {
            since: std::time::Instant::now(),
            delay: Self::FIRST,
        }
    }
}

/// The sending side of a session and the figures of both sides.
pub struct Session {
    monitor: SessionMonitor,
    feedback: mpsc::UnboundedSender<EncoderFeedback>,
    receive: Option<Arc<Receive>>,
    video: Option<SharedFrames>,
    audio: Option<SharedFrames>,
    sent_video: Vec<Arc<SendCounters>>,
    sent_audio: Vec<Arc<SendCounters>>,
    received_video: Arc<ReceiveCounters>,
    received_audio: Arc<ReceiveCounters>,
    sent_rate: RateMeter,
    received_rate: RateMeter,
    /// Sending to the current connection: stopped when it is lost.
    send_tasks: Vec<JoinHandle<()>>,
    /// Playing remote tracks: each ends with its track (and takes its tile away).
    play_tasks: Vec<JoinHandle<()>>,
}

impl Session {
    pub fn new(ports: MediaPorts, monitor: SessionMonitor) -> Session {
        Session {
            monitor,
            feedback: ports.feedback,
            receive: ports.receive,
            video: ports.video.map(|v| Arc::new(tokio::sync::Mutex::new(v))),
            audio: ports.audio.map(|a| Arc::new(tokio::sync::Mutex::new(a))),
            sent_video: Vec::new(),
            sent_audio: Vec::new(),
            received_video: Arc::default(),
            received_audio: Arc::default(),
            sent_rate: RateMeter::default(),
            received_rate: RateMeter::default(),
            send_tasks: Vec::new(),
            play_tasks: Vec::new(),
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
                RtpCodecKind::Video => self.video.clone(),
                _ => self.audio.clone(),
            };
            let Some(frames) = frames else { continue };
            match track.kind {
                RtpCodecKind::Video => self.sent_video.push(track.counters.clone()),
                _ => self.sent_audio.push(track.counters.clone()),
            }
            self.send_tasks
                .extend(track.start(frames, self.feedback.clone()).await);
        }
    }

    /// The connection is lost: stop sending to it (the next connection takes the media).
    pub fn stop_sending(&mut self) {
        for task in self.send_tasks.drain(..) {
            task.abort();
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
        self.play_tasks.retain(|t| !t.is_finished());
        self.play_tasks.push(tokio::spawn(async move {
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
        for task in self.send_tasks.iter().chain(&self.play_tasks) {
            task.abort();
        }
    }
}

/// A connection state as status shows it.
pub fn state_name(state: ConnectionState) -> String {
    format!("{state:?}").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejoining_backs_off_to_a_ceiling() {
        let mut rejoin = Rejoin::default();
        let delays: Vec<Duration> = (0..6).map(|_| rejoin.next_delay().unwrap()).collect();
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn rejoining_gives_up_after_the_window() {
        let mut rejoin = Rejoin {
            since: std::time::Instant::now() - Rejoin::WINDOW,
            delay: Rejoin::FIRST,
        };
        assert_eq!(rejoin.next_delay(), None);
    }
}
