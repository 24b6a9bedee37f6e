//! What every meeting session does with its peer connections, whatever the signalling: wait
//! for a connection, start sending, play remote tracks, and keep the session's figures.

use super::peer::{ConnectionState, Peer, PeerEvent};
use super::publish::{OutgoingTrack, SendCounters, SharedFrames};
use super::remote::{self, ReceiveCounters, RemoteTrackInfo};
use super::stats::{
    connection_status, record_received, record_sent, CaptionLine, ConnectionStatus, RateMeter,
    Reaction, SessionMonitor,
};
use super::{EncoderFeedback, MediaPorts, Switches};
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

/// A meeting service, as the session driver sees it: joining (signalling and connections up,
/// media ready to send) and being in the call until the room leaves or the meeting is lost.
/// One implementation per service (`signal/`); `run` does the rest, the same for all.
#[async_trait::async_trait]
pub trait Meeting: Send + Sync {
    /// What a successful join holds (connections, signalling) for `in_call`.
    type Joined: Send;

    /// Joins; an error is for people (it names the server and what it said).
    async fn join(&self, media: &mut Session) -> Result<Self::Joined, String>;

    /// The call, until the room leaves (None) or the meeting is lost (Some(why)). Tells the
    /// room when the connection is interrupted (`Reconnecting`) and back (`Connected`).
    async fn in_call(
        &self,
        joined: Self::Joined,
        media: &mut Session,
        call: &mut Call<'_>,
    ) -> Option<String>;
}

/// What `in_call` needs of the session: whether the room left, and a way to tell it things.
pub struct Call<'a> {
    pub session: SessionId,
    events: &'a mpsc::Sender<SessionEvent>,
    leave: std::pin::Pin<&'a mut tokio::sync::oneshot::Receiver<()>>,
    /// Set when the meeting sent the room away for good (a host removed it): no rejoin.
    sent_away: Option<String>,
}

impl Call<'_> {
    /// Resolves when the room leaves the meeting.
    pub async fn left(&mut self) {
        let _ = self.leave.as_mut().await;
    }

    /// Someone in the meeting asked the room to mute (the room decides: it only ever mutes).
    pub async fn mute_requested(&self) {
        let session = self.session;
        let _ = self
            .events
            .send(SessionEvent::MuteRequested { session })
            .await;
    }

    /// The meeting sent the room away for good (`why` is for people: "removed by the host"):
    /// `in_call` then returns, and the session ends as failed with that reason, not rejoining.
    pub fn sent_away(&mut self, why: String) {
        self.sent_away = Some(why);
    }

    /// The connection is interrupted (`Some(why)`) or back (`None`).
    pub async fn interrupted(&self, reason: Option<String>) {
        let session = self.session;
        let event = match reason {
            Some(reason) => SessionEvent::Reconnecting { session, reason },
            None => SessionEvent::Connected { session },
        };
        let _ = self.events.send(event).await;
    }
}

/// Runs a meeting session until the room leaves or it cannot go on. A first join that fails
/// fails the session; a call that is lost says so and joins again, with backoff, for up to
/// `Rejoin::WINDOW`.
pub async fn run<M: Meeting>(
    meeting: M,
    session: SessionId,
    events: mpsc::Sender<SessionEvent>,
    leave: tokio::sync::oneshot::Receiver<()>,
    ports: MediaPorts,
    monitor: SessionMonitor,
) {
    tokio::pin!(leave);
    let mut media = Session::new(ports, monitor);
    let mut rejoin: Option<(Rejoin, String)> = None;
    loop {
        let attempt = tokio::select! {
            attempt = meeting.join(&mut media) => attempt,
            _ = &mut leave => break,
        };
        let joined = match (attempt, &mut rejoin) {
            (Ok(joined), _) => joined,
            (Err(reason), None) => {
                let _ = events.send(SessionEvent::Failed { session, reason }).await;
                return;
            }
            (Err(reason), Some((backoff, lost))) => {
                let Some(delay) = backoff.next_delay(std::time::Instant::now()) else {
                    let reason = format!("{lost}; joining again failed: {reason}");
                    let _ = events.send(SessionEvent::Failed { session, reason }).await;
                    return;
                };
                tracing::info!("joining again in {delay:?}: {reason}");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = &mut leave => break,
                }
            }
        };
        // In the meeting: for the first time, or back after a rejoin.
        let _ = events.send(SessionEvent::Connected { session }).await;
        let mut call = Call {
            session,
            events: &events,
            leave: leave.as_mut(),
            sent_away: None,
        };
        let lost = meeting.in_call(joined, &mut media, &mut call).await;
        if let Some(reason) = call.sent_away.take() {
            tracing::warn!("{reason}: not joining again");
            let _ = events.send(SessionEvent::Failed { session, reason }).await;
            return;
        }
        let Some(reason) = lost else {
            break;
        };
        tracing::warn!("{reason}: joining again");
        media.stop_sending();
        media.monitor.update(|status| status.rejoins += 1);
        let lost = SessionEvent::Reconnecting {
            session,
            reason: reason.clone(),
        };
        let _ = events.send(lost).await;
        rejoin = Some((Rejoin::new(std::time::Instant::now()), reason));
    }
    drop(media);
    let _ = events.send(SessionEvent::Ended { session }).await;
}

/// How a session that lost its meeting spaces its attempts to join again, and when it gives up.
/// Time is an input (`now`), so the backoff is tested on virtual time.
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

    /// The call was lost at `now`.
    pub fn new(now: std::time::Instant) -> Rejoin {
        Rejoin {
            since: now,
            delay: Self::FIRST,
        }
    }

    /// The wait before the next attempt at `now`, or None once the window is over.
    pub fn next_delay(&mut self, now: std::time::Instant) -> Option<Duration> {
        if now.saturating_duration_since(self.since) >= Self::WINDOW {
            return None;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::LONGEST);
        Some(delay)
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
    switches: tokio::sync::watch::Receiver<Switches>,
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
            switches: ports.switches,
        }
    }

    /// Where the screen shows each remote person now (None without a screen).
    pub fn layout(&self) -> Option<crate::media::layout::Layout> {
        self.receive.as_ref().map(|r| r.layout())
    }

    /// Someone left: their tile and their sound go now, whatever their tracks still do.
    /// Taking a branch out waits up to a second: on the daemon's runtime, the worker hands its
    /// other tasks (the control socket, the timers) over meanwhile (`block_in_place`); the
    /// removal stays in order with what the caller does next.
    pub fn remove_person(&self, id: &str) {
        if let Some(receive) = &self.receive {
            let remove = || {
                let _ = receive.remove_video(id);
                let _ = receive.remove_audio(id);
            };
            let multi_thread = tokio::runtime::Handle::try_current()
                .is_ok_and(|r| r.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi_thread {
                tokio::task::block_in_place(remove);
            } else {
                remove();
            }
        }
    }

    /// Covers `id`'s tile with their camera-off card, or uncovers it.
    pub fn set_camera_off(&self, id: &str, off: bool) {
        if let Some(receive) = &self.receive {
            if let Err(e) = receive.set_camera_off(id, off) {
                tracing::warn!("{id}: {e}");
            }
        }
    }

    /// Draws `id`'s tile as a shared screen (large).
    pub fn mark_screen_share(&self, id: &str) {
        if let Some(receive) = &self.receive {
            let _ = receive.set_screen_share(id, true);
        }
    }

    /// A lost connection came back by an ICE restart.
    pub fn count_ice_restart(&self) {
        self.monitor.update(|status| status.ice_restarts += 1);
    }

    /// Something the room could not use, in status (once) and in the log.
    pub fn warn(&self, warning: String) {
        self.monitor.update(|status| {
            if !status.warnings.contains(&warning) {
                tracing::warn!("{warning}");
                status.warnings.push(warning);
            }
        });
    }

    /// Shows the meeting's captions in status (and, through it, on the screen).
    pub fn show_captions(&self, lines: Vec<CaptionLine>) {
        self.monitor.update(|status| status.captions = lines);
    }

    /// Takes the meeting server's word on whether a recording runs (LiveKit's
    /// `active_recording`).
    pub fn recording_on_server(&self, active: bool) {
        self.monitor.update(|status| {
            status.recording.on_server(active);
        });
    }

    /// Takes a meeting-service notification's `type` (La Suite Meet's "transcriptionStarted",
    /// ...): whether the meeting is being recorded or transcribed shows in status and on the
    /// screen.
    pub fn recording_notification(&self, kind: &str) {
        self.monitor.update(|status| {
            status.recording.on_notification(kind);
        });
    }

    /// Takes a reaction (an emoji) from the person called `from`: the daemon decides what the
    /// screen shows (`room::Reactions`).
    pub fn reaction(&self, from: &str, emoji: &str) {
        self.monitor.update(|status| {
            status.reactions_received += 1;
            status.new_reactions.push(Reaction {
                from: from.to_string(),
                emoji: emoji.to_string(),
            });
        });
    }

    /// Marks who speaks: their tiles (by track id) and their names in status.
    pub fn show_speaking(&self, speaking: &[(String, String)], silent: &[String]) {
        if let Some(receive) = &self.receive {
            for (id, _) in speaking {
                let _ = receive.set_speaking(id, true);
            }
            for id in silent {
                let _ = receive.set_speaking(id, false);
            }
        }
        let names = speaking.iter().map(|(_, name)| name.clone()).collect();
        self.monitor.update(|status| status.speaking = names);
    }

    /// The room's microphone mute and camera privacy, as they change.
    pub fn switches(&self) -> tokio::sync::watch::Receiver<Switches> {
        self.switches.clone()
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
        let lost = std::time::Instant::now();
        let mut rejoin = Rejoin::new(lost);
        // On virtual time: each attempt after the wait before it.
        let mut now = lost;
        let delays: Vec<Duration> = (0..6)
            .map(|_| {
                let delay = rejoin.next_delay(now).unwrap();
                now += delay;
                delay
            })
            .collect();
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn rejoining_gives_up_after_the_window() {
        let lost = std::time::Instant::now();
        let mut rejoin = Rejoin::new(lost);
        let just_before = lost + Rejoin::WINDOW - Duration::from_millis(1);
        assert!(rejoin.next_delay(just_before).is_some());
        assert_eq!(rejoin.next_delay(lost + Rejoin::WINDOW), None);
    }
}
