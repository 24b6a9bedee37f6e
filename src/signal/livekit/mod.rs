//! A LiveKit meeting (La Suite Meet's media server) as one native participant: the room joins
//! under its name, publishes its camera (H.264) and microphone (Opus) with LiveKit's sources,
//! and receives everyone else, their names, who speaks, and the meeting's captions.
//!
//! LiveKit's flow (docs/architecture.md, "Facts the code relies on"): the signalling socket
//! answers the join with a `JoinResponse`; the server offers the subscriber connection (we
//! answer); to publish, we ask for each track (`AddTrackRequest`), wait for
//! `TrackPublishedResponse`, then offer on the publisher connection. The server trickles its
//! candidates; ours are in our SDP. Ping/pong keeps the socket alive; a lost socket is resumed
//! (`reconnect=1&sid=`) before a full rejoin.

pub mod data;
pub mod signal;

use super::meet::{LiveKitAccess, MeetRoom};
use crate::room::{SessionEvent, SessionId};
use crate::rtc::peer::{ConnectionState, IceServer, Peer, PeerEvent, PeerSettings, Role};
use crate::rtc::publish::OutgoingTrack;
use crate::rtc::remote::RemoteTrackInfo;
use crate::rtc::session::{state_name, Call, Meeting, Session};
use crate::rtc::Switches;
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use data::{Captions, Received};
use livekit_protocol::{
    self as proto, signal_request::Message as Request, signal_response::Message as Response,
};
use signal::{Attempt, Signal};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Joining (signalling, publishing, the publisher connection up) may take this long.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
/// The figures' refresh.
const TICK: Duration = Duration::from_millis(500);
/// How long a lost signalling socket is resumed before the session rejoins from scratch.
const RESUME_FOR: Duration = Duration::from_secs(10);
/// How long a description waits for candidates before it goes: LiveKit takes the later ones
/// trickled. The server always lists a STUN server (a public one unless configured); one that
/// does not answer held each description 5 s (the full-ICE wait), the join 10 s.
const GATHER_WAIT: Duration = Duration::from_millis(20);

/// Where the credentials come from.
pub enum Access {
    /// A La Suite Meet room: its API gives them, maybe after the lobby.
    Meet(MeetRoom),
    /// A raw `livekit+wss://host?token=...` URL.
    Direct(LiveKitAccess),
}

pub struct LiveKitMeeting {
    pub access: Access,
    /// The camera's size, announced with the track.
    pub camera: (u32, u32),
    pub peer: PeerSettings,
    /// To tell the room it waits in a lobby.
    pub session: SessionId,
    pub events: mpsc::Sender<SessionEvent>,
    /// The newest token the server sent (`RefreshToken`), for a rejoin after the URL's has
    /// expired. Start with `Default::default()`.
    pub refreshed: std::sync::Mutex<Option<String>>,
}

/// The people in the meeting, by participant sid.
#[derive(Default)]
struct Participants {
    names: HashMap<String, String>,
    identities: HashMap<String, String>,
    /// Every remote video track: track sid -> (participant sid, screen share).
    videos: HashMap<String, (String, bool)>,
    /// identity -> the sid of their current session.
    sessions: HashMap<String, String>,
    /// The tiles of video tracks the last `update` found unpublished.
    stopped: Vec<String>,
    /// Whether the camera of the participant the last `update` was about is off: their
    /// camera track published but muted (how Meet's web client turns a camera off).
    camera_muted: bool,
}

impl Participants {
    /// Takes in what the server says of someone. Returns the sid of a session this one
    /// replaces: someone who came back under the same identity (a browser refresh), whose old
    /// session the server ends without a DISCONNECTED update (identity-based reconnection,
    /// protocol > 11). Its tiles must go.
    fn update(&mut self, info: &proto::ParticipantInfo) -> Option<String> {
        self.stopped.clear();
        self.camera_muted = info.tracks.iter().any(|t| {
            t.r#type == proto::TrackType::Video as i32
                && t.source != proto::TrackSource::ScreenShare as i32
                && t.muted
        });
        let before: Vec<(String, bool)> = self
            .videos
            .iter()
            .filter(|(_, (participant, _))| *participant == info.sid)
            .map(|(track, (_, share))| (track.clone(), *share))
            .collect();
        self.videos
            .retain(|_, (participant, _)| *participant != info.sid);
        if info.state == proto::participant_info::State::Disconnected as i32 {
            self.names.remove(&info.sid);
            if self.sessions.get(&info.identity) == Some(&info.sid) {
                self.sessions.remove(&info.identity);
            }
            return None;
        }
        let replaced = self
            .sessions
            .insert(info.identity.clone(), info.sid.clone())
            .filter(|old| *old != info.sid);
        if let Some(old) = &replaced {
            self.names.remove(old);
            self.videos.retain(|_, (participant, _)| participant != old);
        }
        for track in &info.tracks {
            if track.r#type == proto::TrackType::Video as i32 {
                let share = track.source == proto::TrackSource::ScreenShare as i32;
                self.videos
                    .insert(track.sid.clone(), (info.sid.clone(), share));
            }
        }
        let name = if info.name.is_empty() {
            info.identity.clone()
        } else {
            info.name.clone()
        };
        self.identities.insert(info.identity.clone(), name.clone());
        self.names.insert(info.sid.clone(), name);
        // Video tracks they no longer publish (a screen share stopped): their tiles go.
        for (track, share) in before {
            if !self.videos.contains_key(&track) {
                self.stopped.push(if share {
                    format!("{}/screen", info.sid)
                } else {
                    info.sid.clone()
                });
            }
        }
        replaced
    }

    /// The screen tile a track goes to: the person's, or their shared screen's.
    fn tile(&self, participant: &str, track: &str) -> (String, bool) {
        match self.videos.get(track) {
            Some((_, true)) => (format!("{participant}/screen"), true),
            _ => (participant.to_string(), false),
        }
    }

    fn name(&self, sid: &str) -> String {
        self.names.get(sid).cloned().unwrap_or_else(|| sid.into())
    }

    fn name_of_identity(&self, identity: &str) -> String {
        self.identities
            .get(identity)
            .cloned()
            .unwrap_or_else(|| identity.into())
    }
}

/// Remote candidates that came before their connection had the other side's description.
#[derive(Default)]
struct Candidates {
    ready: bool,
    early: Vec<String>,
}

impl Candidates {
    async fn add(&mut self, peer: &Peer, init: String) {
        if !self.ready {
            self.early.push(init);
        } else if let Err(e) = peer.add_remote_candidate(&init).await {
            tracing::debug!("{e}");
        }
    }

    async fn described(&mut self, peer: &Peer) {
        self.ready = true;
        for init in std::mem::take(&mut self.early) {
            if let Err(e) = peer.add_remote_candidate(&init).await {
                tracing::debug!("{e}");
            }
        }
    }
}

/// The room in the meeting.
pub struct Joined {
    signal: Signal,
    responses: mpsc::UnboundedReceiver<Response>,
    access: LiveKitAccess,
    /// Ours, to resume the session.
    sid: String,
    publisher: Peer,
    publisher_events: mpsc::UnboundedReceiver<PeerEvent>,
    publisher_candidates: Candidates,
    subscriber: Peer,
    subscriber_events: mpsc::UnboundedReceiver<PeerEvent>,
    subscriber_candidates: Candidates,
    tracks: Vec<OutgoingTrack>,
    /// Our microphone's track sid, for mute requests both ways.
    microphone: Option<String>,
    /// Our camera's track sid: muted while the room's camera is off (privacy), so the others
    /// see the camera-off icon rather than a still card.
    camera: Option<String>,
    participants: Participants,
    ping_interval: Duration,
    ping_timeout: Duration,
    /// The candidates already sent, per connection (in a description or trickled): the
    /// gatherer reports every one, those in the description too.
    trickled: std::collections::HashSet<(i32, String)>,
    /// The signalling round trip, from the last `PongResp` (LiveKit's `PingReq` carries it:
    /// the server uses it to choose ICE/TCP or TURN/TLS when UDP fails).
    rtt_ms: i64,
}

impl LiveKitMeeting {
    /// The credentials: from La Suite Meet (through its lobby when it has one) or the URL.
    async fn credentials(&self) -> Result<LiveKitAccess, String> {
        match &self.access {
            Access::Direct(access) => {
                let mut access = access.clone();
                if let Some(token) = self.refreshed.lock().ok().and_then(|t| t.clone()) {
                    access.token = token;
                }
                Ok(access)
            }
            Access::Meet(room) => {
                let (session, events) = (self.session, self.events.clone());
                room.enter(move |reason| {
                    let _ = events.try_send(SessionEvent::Waiting { session, reason });
                })
                .await
            }
        }
    }

    /// Signalling, the join, both connections, the tracks published.
    async fn join_meeting(&self, media: &mut Session) -> Result<Joined, String> {
        let access = self.credentials().await?;
        let (signal, mut responses) =
            Signal::connect(&access.url, &access.token, Attempt::Join).await?;
        let join = tokio::time::timeout(JOIN_TIMEOUT, responses.recv())
            .await
            .map_err(|_| signal.says("no answer to the join"))?;
        let join = match join {
            Some(Response::Join(join)) => join,
            Some(Response::Leave(leave)) => {
                return Err(signal.says(&format!("refused the join ({})", leave_reason(&leave))))
            }
            Some(other) => {
                return Err(signal.says(&format!("answered the join with {}", kind(&other))))
            }
            None => return Err(signal.says("closed the connection instead of answering the join")),
        };
        let sid = join
            .participant
            .as_ref()
            .map(|p| p.sid.clone())
            .unwrap_or_default();
        tracing::info!(
            "LiveKit: joined room {:?} as {sid} (server {}), {} others",
            join.room
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or_default(),
            join.server_version,
            join.other_participants.len()
        );
        if let Some(room) = &join.room {
            media.recording_on_server(room.active_recording);
        }
        let mut participants = Participants::default();
        for info in &join.other_participants {
            let _ = participants.update(info);
        }
        let mut settings = self.peer.clone();
        let offered: Vec<IceServer> = join
            .ice_servers
            .iter()
            .map(|s| IceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        settings.ice_servers.extend(offered);
        settings.gather_wait = GATHER_WAIT;
        // LiveKit offers ICE over TCP (its 7881) to clients whose networks drop UDP.
        settings.ice_tcp = true;
        let (publisher_tx, mut publisher_events) = mpsc::unbounded_channel();
        let publisher = Peer::new(&settings, Role::Publish, publisher_tx).await?;
        let (subscriber_tx, subscriber_events) = mpsc::unbounded_channel();
        let subscriber = Peer::new(&settings, Role::Receive, subscriber_tx).await?;

        // Ask for our tracks; the publisher's offer waits for the server to know them.
        let switches = *media.switches().borrow();
        let muted = switches.mic_muted;
        // cid -> kind, until the server says yes (TrackPublished) or no (RequestResponse).
        let mut wanted = HashMap::new();
        let tracks = Vec::new();
        if media.has_video() {
            let (width, height) = self.camera;
            signal.send(Request::AddTrack(proto::AddTrackRequest {
                cid: "camera".into(),
                name: "camera".into(),
                r#type: proto::TrackType::Video as i32,
                source: proto::TrackSource::Camera as i32,
                width,
                height,
                muted: switches.camera_off,
                ..Default::default()
            }));
            wanted.insert("camera".to_string(), RtpCodecKind::Video);
        }
        if media.has_audio() {
            signal.send(Request::AddTrack(proto::AddTrackRequest {
                cid: "microphone".into(),
                name: "microphone".into(),
                r#type: proto::TrackType::Audio as i32,
                source: proto::TrackSource::Microphone as i32,
                muted,
                ..Default::default()
            }));
            wanted.insert("microphone".to_string(), RtpCodecKind::Audio);
        }

        let mut joined = Joined {
            signal,
            responses,
            access,
            sid,
            publisher,
            publisher_events: mpsc::unbounded_channel().1,
            publisher_candidates: Candidates::default(),
            subscriber,
            subscriber_events,
            subscriber_candidates: Candidates::default(),
            tracks,
            microphone: None,
            camera: None,
            participants,
            ping_interval: seconds(join.ping_interval, 5),
            ping_timeout: seconds(join.ping_timeout, 15),
            rtt_ms: 0,
            trickled: Default::default(),
        };
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        let mut offered = false;
        loop {
            if !offered && wanted.is_empty() && joined.tracks.is_empty() {
                // The meeting lets the room publish nothing: it watches and listens.
                break;
            }
            if !offered && wanted.is_empty() {
                let offer = joined.publisher.offer().await?;
                joined.describe("offer", &offer, proto::SignalTarget::Publisher);
                offered = true;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let step = if !wanted.is_empty() { "publishing the tracks" } else { "connecting" };
                    return Err(joined.signal.says(&format!("no connection within {JOIN_TIMEOUT:?} ({step})")));
                }
                response = joined.responses.recv() => {
                    let Some(response) = response else {
                        return Err(joined.signal.says("closed the connection while joining"));
                    };
                    match response {
                        Response::TrackPublished(published) => {
                            // The transceiver only now: one the server refused must not be in
                            // the offer.
                            if let Some(kind) = wanted.remove(&published.cid) {
                                joined.tracks.push(OutgoingTrack::add(&joined.publisher, kind).await?);
                            }
                            let sid = published.track.map(|t| t.sid);
                            match published.cid.as_str() {
                                "microphone" => joined.microphone = sid,
                                "camera" => joined.camera = sid,
                                _ => {}
                            }
                        }
                        Response::Answer(answer) => {
                            joined.publisher.accept_answer(&answer.sdp).await.map_err(|e| joined.signal.says(&e))?;
                            joined.publisher_candidates.described(&joined.publisher).await;
                        }
                        Response::Leave(leave) => {
                            return Err(joined.signal.says(&format!("sent the room away ({})", leave_reason(&leave))));
                        }
                        Response::RequestResponse(answer) => {
                            if let Some(refused) = refused_track(&answer) {
                                if wanted.remove(&refused.cid).is_some() {
                                    media.warn(joined.signal.says(&refused.why));
                                }
                            }
                        }
                        other => joined.on_response(other, media, None).await?,
                    }
                }
                event = publisher_events.recv() => match event {
                    Some(PeerEvent::State(ConnectionState::Connected)) => break,
                    Some(PeerEvent::LocalCandidate(init)) if offered => {
                        joined.late_candidate(&init, proto::SignalTarget::Publisher);
                    }
                    Some(PeerEvent::State(ConnectionState::Failed | ConnectionState::Closed)) | None => {
                        return Err(joined.signal.says("the publishing connection failed (ICE/DTLS)"));
                    }
                    Some(_) => {}
                },
            }
        }
        joined.publisher_events = publisher_events;
        Ok(joined)
    }
}

impl Joined {
    /// Sends a description and remembers its candidates.
    fn describe(&mut self, kind: &str, sdp: &str, target: proto::SignalTarget) {
        for init in send_description(&self.signal, kind, sdp, target) {
            self.trickled.insert((target as i32, candidate_line(&init)));
        }
    }

    /// A candidate found after the description went (or while it was being made): trickled
    /// once.
    fn late_candidate(&mut self, init: &str, target: proto::SignalTarget) {
        if self.trickled.insert((target as i32, candidate_line(init))) {
            trickle(&self.signal, init, target);
        }
    }

    /// A response that means the same while joining and in the call. Errors are for people.
    async fn on_response(
        &mut self,
        response: Response,
        media: &mut Session,
        call: Option<&Call<'_>>,
    ) -> Result<(), String> {
        match response {
            Response::Offer(offer) => {
                // The server's offer for what we receive (again whenever someone comes or goes).
                let answer = self
                    .subscriber
                    .answer(&offer.sdp)
                    .await
                    .map_err(|e| self.signal.says(&e))?;
                self.subscriber_candidates.described(&self.subscriber).await;
                self.describe("answer", &answer, proto::SignalTarget::Subscriber);
            }
            Response::Trickle(trickle) => {
                if trickle.target == proto::SignalTarget::Subscriber as i32 {
                    self.subscriber_candidates
                        .add(&self.subscriber, trickle.candidate_init)
                        .await;
                } else {
                    self.publisher_candidates
                        .add(&self.publisher, trickle.candidate_init)
                        .await;
                }
            }
            Response::Update(update) => {
                for info in &update.participants {
                    if info.sid == self.sid {
                        continue;
                    }
                    if info.state == proto::participant_info::State::Disconnected as i32 {
                        tracing::info!("{} left", self.participants.name(&info.sid));
                        remove_tiles(media, &info.sid);
                    }
                    if let Some(old) = self.participants.update(info) {
                        tracing::info!("{} came back as {}", info.identity, info.sid);
                        remove_tiles(media, &old);
                    }
                    for tile in &self.participants.stopped {
                        media.remove_person(tile);
                    }
                    media.set_camera_off(&info.sid, self.participants.camera_muted);
                }
            }
            Response::SpeakersChanged(changed) => {
                let mut speaking = Vec::new();
                let mut silent = Vec::new();
                for speaker in changed.speakers {
                    if speaker.active {
                        let name = self.participants.name(&speaker.sid);
                        speaking.push((speaker.sid, name));
                    } else {
                        silent.push(speaker.sid);
                    }
                }
                media.show_speaking(&speaking, &silent);
            }
            Response::Mute(mute) if Some(&mute.sid) == self.microphone.as_ref() => {
                if mute.muted {
                    tracing::info!("the meeting asked the room to mute");
                    if let Some(call) = call {
                        call.mute_requested().await;
                    }
                } else {
                    tracing::info!("the meeting asked to unmute: only people in the room can");
                }
            }
            Response::PongResp(pong) => {
                self.rtt_ms = (unix_ms() - pong.last_ping_timestamp).max(0);
            }
            Response::RefreshToken(token) => {
                // The server's fresh token (at join, then every few minutes): resume and rejoin
                // with it, the first one may have expired by then.
                self.access.token = token;
            }
            Response::Pong(_) => {}
            // The server's `active_recording` (an egress runs), which Meet's UI shows too.
            Response::RoomUpdate(update) => {
                if let Some(room) = update.room {
                    media.recording_on_server(room.active_recording);
                }
            }
            other => tracing::debug!("LiveKit: {} (not used)", kind(&other)),
        }
        Ok(())
    }

    /// Asks the server for each remote video at the size its tile has on the screen, and not
    /// at all when it has no tile (more people than fit): the Pi never decodes more than it
    /// shows. Only changes are sent; `sent` remembers what was asked.
    fn ask_for_sizes(&self, media: &Session, sent: &mut HashMap<String, (bool, u32, u32)>) {
        let Some(layout) = media.layout() else { return };
        for (track, (participant, _)) in &self.participants.videos {
            let (tile, _) = self.participants.tile(participant, track);
            let wanted = match layout.placement(&tile) {
                Some(placement) => {
                    let size = placement.needed();
                    (false, size.width, size.height)
                }
                None if layout.hidden.contains(&tile) => (true, 0, 0),
                None => continue, // Not playing yet.
            };
            if sent.get(track) != Some(&wanted) {
                let (disabled, width, height) = wanted;
                self.signal
                    .send(Request::TrackSetting(proto::UpdateTrackSettings {
                        track_sids: vec![track.clone()],
                        disabled,
                        width,
                        height,
                        ..Default::default()
                    }));
                sent.insert(track.clone(), wanted);
            }
        }
    }

    /// Keeps the meeting's mute icons in step with what the room switched off.
    fn tell_switches(&self, before: Switches, now: Switches) {
        let changes = [
            (&self.microphone, before.mic_muted, now.mic_muted),
            (&self.camera, before.camera_off, now.camera_off),
        ];
        for (sid, was, is) in changes {
            if let (Some(sid), true) = (sid, was != is) {
                self.signal.send(Request::Mute(proto::MuteTrackRequest {
                    sid: sid.clone(),
                    muted: is,
                }));
            }
        }
    }

    /// Sends a ping in both the old and the new form (servers answer the one they know), with
    /// the wall-clock time in milliseconds and the last measured round trip, as LiveKit's
    /// JavaScript SDK does.
    fn ping(&self) {
        let now = unix_ms();
        self.signal.send(Request::Ping(now));
        self.signal.send(Request::PingReq(proto::Ping {
            timestamp: now,
            rtt: self.rtt_ms,
        }));
    }

    /// After the signalling socket was lost: resume the same session for a while.
    async fn resume(&mut self) -> Result<(), String> {
        let until = Instant::now() + RESUME_FOR;
        let mut last = String::new();
        while Instant::now() < until {
            let attempt = Attempt::Resume { sid: &self.sid };
            match Signal::connect(&self.access.url, &self.access.token, attempt).await {
                Ok((signal, mut responses)) => {
                    // The server answers a resume with ReconnectResponse, or sends us away.
                    match tokio::time::timeout(Duration::from_secs(5), responses.recv()).await {
                        Ok(Some(Response::Reconnect(_))) => {
                            tracing::info!("LiveKit: signalling resumed");
                            self.signal = signal;
                            self.responses = responses;
                            return Ok(());
                        }
                        Ok(Some(Response::Leave(leave))) => {
                            return Err(signal.says(&format!(
                                "would not resume the session ({})",
                                leave_reason(&leave)
                            )))
                        }
                        Ok(Some(other)) => {
                            // Some servers go straight on; keep what they said.
                            self.signal = signal;
                            self.responses = responses;
                            tracing::info!("LiveKit: signalling resumed ({} first)", kind(&other));
                            return Ok(());
                        }
                        _ => last = signal.says("no answer to the resume"),
                    }
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(last)
    }
}

#[async_trait::async_trait]
impl Meeting for LiveKitMeeting {
    type Joined = Joined;

    async fn join(&self, media: &mut Session) -> Result<Joined, String> {
        let joined = self.join_meeting(media).await?;
        Ok(joined)
    }

    async fn in_call(
        &self,
        mut joined: Joined,
        media: &mut Session,
        call: &mut Call<'_>,
    ) -> Option<String> {
        media.send(std::mem::take(&mut joined.tracks)).await;
        let mut switches = media.switches();
        let mut told = *switches.borrow_and_update();
        let mut captions = Captions::default();
        let mut publisher_state = "connected".to_string();
        let mut subscriber_state = "connecting".to_string();
        let mut last_pong = Instant::now();
        let mut last_ping = Instant::now();
        let mut tick = tokio::time::interval(TICK);
        let mut ticks = 0u32;
        let mut sizes = HashMap::new();
        let lost = loop {
            tokio::select! {
                _ = call.left() => break None,
                _ = tick.tick() => {
                    media.tick(Some(&joined.publisher));
                    ticks += 1;
                    if ticks % 4 == 1 {
                        let legs = [(&joined.publisher, "publish", publisher_state.as_str()), (&joined.subscriber, "receive", subscriber_state.as_str())];
                        media.record_connections(&legs).await;
                    }
                    joined.ask_for_sizes(media, &mut sizes);
                    if last_ping.elapsed() >= joined.ping_interval {
                        joined.ping();
                        last_ping = Instant::now();
                    }
                    if last_pong.elapsed() >= joined.ping_timeout {
                        tracing::warn!("{}", joined.signal.says("no pong in time"));
                        if let Err(e) = joined.resume().await {
                            break Some(e);
                        }
                        last_pong = Instant::now();
                    }
                }
                changed = switches.changed() => {
                    if changed.is_ok() {
                        let now = *switches.borrow_and_update();
                        joined.tell_switches(told, now);
                        told = now;
                    }
                }
                response = joined.responses.recv() => {
                    let Some(response) = response else {
                        tracing::warn!("{}", joined.signal.says("the signalling connection was lost: resuming"));
                        call.interrupted(Some(joined.signal.says("the signalling connection was lost"))).await;
                        if let Err(e) = joined.resume().await {
                            break Some(e);
                        }
                        call.interrupted(None).await;
                        last_pong = Instant::now();
                        continue;
                    };
                    last_pong = Instant::now();
                    match response {
                        Response::Leave(leave) => match after_leave(&leave) {
                            AfterLeave::StayOut(why) => {
                                call.sent_away(joined.signal.says(&why));
                                break Some(why);
                            }
                            AfterLeave::JoinAgain => {
                                break Some(joined.signal.says(&format!("ended the room's participation ({})", leave_reason(&leave))));
                            }
                        },
                        Response::Answer(answer) => {
                            if let Err(e) = joined.publisher.accept_answer(&answer.sdp).await {
                                tracing::warn!("{}", joined.signal.says(&e));
                            }
                        }
                        other => {
                            if let Err(e) = joined.on_response(other, media, Some(call)).await {
                                tracing::warn!("{e}");
                            }
                        }
                    }
                }
                event = joined.publisher_events.recv() => match event {
                    Some(PeerEvent::State(ConnectionState::Failed)) | None => {
                        break Some(joined.signal.says("the publishing connection failed"));
                    }
                    Some(PeerEvent::LocalCandidate(init)) => {
                        joined.late_candidate(&init, proto::SignalTarget::Publisher);
                    }
                    Some(PeerEvent::State(state)) => {
                        if state == ConnectionState::Disconnected {
                            call.interrupted(Some(joined.signal.says("the connection is interrupted"))).await;
                        } else if state == ConnectionState::Connected && publisher_state == "disconnected" {
                            call.interrupted(None).await;
                        }
                        publisher_state = state_name(state);
                    }
                    Some(_) => {}
                },
                event = joined.subscriber_events.recv() => match event {
                    Some(PeerEvent::Track(track)) => {
                        // LiveKit names the stream "<participant sid>|<track sid>".
                        let stream = track.stream_id().await;
                        let (participant, track_sid) = stream.split_once('|').unwrap_or((&stream, ""));
                        let name = joined.participants.name(participant);
                        let (id, share) = joined.participants.tile(participant, track_sid);
                        tracing::info!("receiving {name} ({stream})");
                        media.play(track, RemoteTrackInfo { id: id.clone(), name }).await;
                        if share {
                            media.mark_screen_share(&id);
                        }
                    }
                    Some(PeerEvent::Data { channel, data }) => {
                        let participants = &joined.participants;
                        match captions.receive(&data, |identity| participants.name_of_identity(identity)) {
                            Received::Captions => media.show_captions(captions.lines()),
                            Received::Json { from, value } => {
                                tracing::debug!("data on {channel} from {from}: {value}");
                                if let Some(kind) = value["type"].as_str() {
                                    media.recording_notification(kind);
                                }
                                // La Suite Meet's reaction button (ReactionsToggle).
                                if value["type"] == "reactionReceived" {
                                    if let Some(emoji) = value["data"]["emoji"].as_str() {
                                        media.reaction(&participants.name_of_identity(&from), emoji);
                                    }
                                }
                            }
                            Received::Ignored(why) => tracing::debug!("data on {channel} ignored: {why}"),
                        }
                    }
                    Some(PeerEvent::State(state)) => subscriber_state = state_name(state),
                    Some(PeerEvent::LocalCandidate(init)) => {
                        joined.late_candidate(&init, proto::SignalTarget::Subscriber);
                    }
                    None => break Some(joined.signal.says("the receiving connection closed")),
                },
            }
        };
        if let Ok(mut refreshed) = self.refreshed.lock() {
            *refreshed = Some(joined.access.token.clone());
        }
        if lost.is_none() {
            // Leaving on purpose: say so, so the others see the room go at once.
            joined.signal.send(Request::Leave(proto::LeaveRequest {
                can_reconnect: false,
                reason: proto::DisconnectReason::ClientInitiated as i32,
                action: proto::leave_request::Action::Disconnect as i32,
                regions: None,
            }));
            // Let the writer put it on the wire before the socket goes.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        joined.publisher.close().await;
        joined.subscriber.close().await;
        lost
    }
}

/// Our description without its candidates, and the candidates as LiveKit's trickle JSON
/// (`{"candidate", "sdpMid", "sdpMLineIndex"}`), which is how LiveKit's clients send them: the
/// server takes the description first and each candidate as it comes.
fn split_candidates(sdp: &str) -> (String, Vec<String>) {
    let mut kept = String::with_capacity(sdp.len());
    let mut candidates = Vec::new();
    let (mut index, mut mid) = (-1i32, None::<String>);
    for line in sdp.lines() {
        if line.starts_with("m=") {
            index += 1;
            mid = None;
        } else if let Some(value) = line.strip_prefix("a=mid:") {
            mid = Some(value.to_string());
        }
        if let Some(candidate) = line.strip_prefix("a=") {
            if candidate.starts_with("candidate:") {
                let init = serde_json::json!({
                    "candidate": candidate,
                    "sdpMid": mid,
                    "sdpMLineIndex": index.max(0),
                });
                candidates.push(init.to_string());
                continue;
            }
            if candidate == "end-of-candidates" {
                continue;
            }
        }
        kept.push_str(line);
        kept.push_str("\r\n");
    }
    (kept, candidates)
}

/// Sends `sdp` as an offer or answer for `target`, its candidates trickled after it; returns
/// them (trickle JSON).
fn send_description(
    signal: &Signal,
    kind: &str,
    sdp: &str,
    target: proto::SignalTarget,
) -> Vec<String> {
    let (sdp, candidates) = split_candidates(sdp);
    let description = description(kind, sdp);
    signal.send(match kind {
        "offer" => Request::Offer(description),
        _ => Request::Answer(description),
    });
    for candidate_init in &candidates {
        trickle(signal, candidate_init, target);
    }
    candidates
}

fn trickle(signal: &Signal, candidate_init: &str, target: proto::SignalTarget) {
    signal.send(Request::Trickle(proto::TrickleRequest {
        candidate_init: candidate_init.to_string(),
        target: target as i32,
        r#final: false,
    }));
}

/// The `candidate` of a trickle JSON, what tells two reports of one candidate apart.
fn candidate_line(init: &str) -> String {
    serde_json::from_str::<serde_json::Value>(init)
        .ok()
        .and_then(|v| v["candidate"].as_str().map(String::from))
        .unwrap_or_else(|| init.to_string())
}

fn description(kind: &str, sdp: String) -> proto::SessionDescription {
    proto::SessionDescription {
        r#type: kind.into(),
        sdp,
        ..Default::default()
    }
}

/// Takes someone's tiles (their camera's and their shared screen's) off the screen.
fn remove_tiles(media: &Session, sid: &str) {
    media.remove_person(sid);
    media.remove_person(&format!("{sid}/screen"));
}

/// Milliseconds since the Unix epoch (LiveKit's ping timestamps).
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// LiveKit's intervals are whole seconds; 0 means "the default".
fn seconds(value: i32, default: u64) -> Duration {
    Duration::from_secs(if value > 0 { value as u64 } else { default })
}

/// A track the server would not let the room publish, and why (for people).
struct Refused {
    cid: String,
    why: String,
}

/// The server's no to an `AddTrackRequest` (a room whose `can_publish_sources` leaves out the
/// camera: `NOT_ALLOWED`), or None for any other answer.
fn refused_track(answer: &proto::RequestResponse) -> Option<Refused> {
    use proto::request_response::{Reason, Request as Asked};
    let Some(Asked::AddTrack(asked)) = &answer.request else {
        return None;
    };
    let reason = Reason::try_from(answer.reason).ok()?;
    if reason == Reason::Ok {
        return None;
    }
    let what = match proto::TrackSource::try_from(asked.source) {
        Ok(proto::TrackSource::Camera) => "camera",
        Ok(proto::TrackSource::Microphone) => "microphone",
        _ => asked.cid.as_str(),
    };
    let why = match reason {
        Reason::NotAllowed => format!("the meeting does not allow the room's {what}"),
        other => format!(
            "refused the room's {what} ({})",
            other.as_str_name().to_lowercase().replace('_', " ")
        ),
    };
    Some(Refused {
        cid: asked.cid.clone(),
        why,
    })
}

/// What the room does when the server sends it a `LeaveRequest` in a call.
#[derive(Debug, PartialEq, Eq)]
enum AfterLeave {
    /// RESUME and RECONNECT (and older servers' `can_reconnect`): join again.
    JoinAgain,
    /// DISCONNECT: the server (a host removing the room, the meeting ended) wants it out, as
    /// LiveKit's own SDKs take it: leave and stay out; the reason is for people.
    StayOut(String),
}

fn after_leave(leave: &proto::LeaveRequest) -> AfterLeave {
    use proto::leave_request::Action;
    use proto::DisconnectReason as Reason;
    // Servers before the action field (protocol < 13) send only can_reconnect; theirs is 0
    // (DISCONNECT) then, so can_reconnect decides.
    if leave.action != Action::Disconnect as i32 || leave.can_reconnect {
        return AfterLeave::JoinAgain;
    }
    AfterLeave::StayOut(match Reason::try_from(leave.reason) {
        Ok(Reason::ParticipantRemoved) => "removed by the host".into(),
        Ok(Reason::RoomDeleted | Reason::RoomClosed) => "the meeting was ended".into(),
        _ => format!(
            "the server ended the room's participation ({})",
            leave_reason(leave)
        ),
    })
}

fn leave_reason(leave: &proto::LeaveRequest) -> String {
    proto::DisconnectReason::try_from(leave.reason)
        .map(|r| r.as_str_name().to_lowercase().replace('_', " "))
        .unwrap_or_else(|_| format!("reason {}", leave.reason))
}

/// A response's kind, for messages.
fn kind(response: &Response) -> String {
    let text = format!("{response:?}");
    text.split(['(', ' ', '{'])
        .next()
        .unwrap_or("a message")
        .to_string()
}

/// What the room reads out of one signalling message from the server without a connection:
/// the pure part of `join_meeting` and `on_response`, which a malformed message could trip.
/// For the fuzzer (`fuzz/fuzz_targets/livekit_signal.rs`); returns the message's kind, None
/// when it is not a message the room knows.
#[doc(hidden)]
pub fn read_response_offline(bytes: &[u8]) -> Option<String> {
    let response = signal::decode(bytes).ok()??;
    let mut participants = Participants::default();
    let mut update = |info: &proto::ParticipantInfo| {
        let _ = participants.update(info);
        for track in &info.tracks {
            let _ = participants.tile(&info.sid, &track.sid);
        }
        let _ = (
            participants.name(&info.sid),
            participants.name_of_identity(&info.identity),
        );
    };
    match &response {
        Response::Join(join) => {
            join.other_participants.iter().for_each(&mut update);
            let _ = (
                seconds(join.ping_interval, 5),
                seconds(join.ping_timeout, 15),
            );
        }
        Response::Update(changed) => changed.participants.iter().for_each(&mut update),
        Response::Offer(description) | Response::Answer(description) => {
            let _ = split_candidates(&description.sdp);
        }
        Response::Trickle(trickle) => {
            let _ = candidate_line(&trickle.candidate_init);
        }
        Response::Leave(leave) => {
            let _ = (after_leave(leave), leave_reason(leave));
        }
        Response::RequestResponse(answer) => {
            let _ = refused_track(answer);
        }
        _ => {}
    }
    Some(kind(&response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn someone_back_under_the_same_identity_replaces_their_old_session() {
        let info = |sid: &str| proto::ParticipantInfo {
            sid: sid.into(),
            identity: "alice".into(),
            name: "Alice".into(),
            tracks: vec![proto::TrackInfo {
                sid: format!("TR_{sid}"),
                r#type: proto::TrackType::Video as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut participants = Participants::default();
        assert_eq!(participants.update(&info("PA_1")), None);
        assert_eq!(participants.update(&info("PA_1")), None);
        assert_eq!(participants.update(&info("PA_2")), Some("PA_1".into()));
        assert_eq!(participants.name("PA_2"), "Alice");
        assert_eq!(
            participants.name("PA_1"),
            "PA_1",
            "the old session is forgotten"
        );
        assert_eq!(participants.videos.len(), 1);
        assert!(participants.videos.contains_key("TR_PA_2"));
    }

    #[test]
    fn a_video_track_no_longer_published_names_its_tile() {
        let track = |sid: &str, source: proto::TrackSource| proto::TrackInfo {
            sid: sid.into(),
            r#type: proto::TrackType::Video as i32,
            source: source as i32,
            ..Default::default()
        };
        let info = |tracks: Vec<proto::TrackInfo>| proto::ParticipantInfo {
            sid: "PA_1".into(),
            identity: "alice".into(),
            tracks,
            ..Default::default()
        };
        let camera = track("TR_cam", proto::TrackSource::Camera);
        let screen = track("TR_scr", proto::TrackSource::ScreenShare);
        let mut participants = Participants::default();
        let _ = participants.update(&info(vec![camera.clone(), screen]));
        assert!(participants.stopped.is_empty());
        let _ = participants.update(&info(vec![camera]));
        assert_eq!(participants.stopped, ["PA_1/screen"]);
        let _ = participants.update(&info(vec![]));
        assert_eq!(participants.stopped, ["PA_1"]);
    }

    #[test]
    fn a_host_removing_the_room_keeps_it_out_and_a_reconnect_brings_it_back() {
        use proto::leave_request::Action;
        let leave = |action: Action, reason: proto::DisconnectReason, can_reconnect| {
            after_leave(&proto::LeaveRequest {
                can_reconnect,
                reason: reason as i32,
                action: action as i32,
                regions: None,
            })
        };
        assert_eq!(
            leave(
                Action::Disconnect,
                proto::DisconnectReason::ParticipantRemoved,
                false
            ),
            AfterLeave::StayOut("removed by the host".into())
        );
        assert_eq!(
            leave(
                Action::Disconnect,
                proto::DisconnectReason::RoomDeleted,
                false
            ),
            AfterLeave::StayOut("the meeting was ended".into())
        );
        assert_eq!(
            leave(Action::Resume, proto::DisconnectReason::SignalClose, false),
            AfterLeave::JoinAgain
        );
        assert_eq!(
            leave(
                Action::Reconnect,
                proto::DisconnectReason::ServerShutdown,
                false
            ),
            AfterLeave::JoinAgain
        );
        // An old server: no action, can_reconnect says.
        assert_eq!(
            leave(
                Action::Disconnect,
                proto::DisconnectReason::ServerShutdown,
                true
            ),
            AfterLeave::JoinAgain
        );
    }

    #[test]
    fn candidates_leave_the_description_and_are_trickled_with_their_section() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                   a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
                   a=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:1\r\n";
        let (kept, candidates) = split_candidates(sdp);
        assert!(!kept.contains("candidate"), "{kept}");
        assert!(kept.contains("a=mid:1\r\n"), "{kept}");
        assert_eq!(candidates.len(), 1);
        let init: serde_json::Value = serde_json::from_str(&candidates[0]).unwrap();
        assert_eq!(init["sdpMid"], "0");
        assert_eq!(init["sdpMLineIndex"], 0);
        assert_eq!(
            init["candidate"],
            "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
        );
    }
}
