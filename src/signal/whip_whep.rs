//! A meeting made of standard endpoints: the room publishes with WHIP and, when a WHEP partner
//! is given, plays what the WHEP endpoint serves (the other side of the meeting).

use super::sdpfrag;
use super::whip::{HttpSignalling, Protocol};
use crate::rtc::peer::{Peer, PeerEvent, PeerSettings, Role};
use crate::rtc::publish::OutgoingTrack;
use crate::rtc::recovery::{self, Change, IceWatch, RestartError, RoundTrip, RoundTrips, Step};
use crate::rtc::remote::RemoteTrackInfo;
use crate::rtc::session::{state_name, wait_connected, Call, Meeting, Session};
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

/// How often figures are taken and the estimate handed to the encoder.
const TICK: Duration = Duration::from_millis(500);

pub struct WhipWhepMeeting {
    /// Where the room publishes; none: it only plays (a WHEP-only session).
    pub whip: Option<Url>,
    pub whep: Option<Url>,
    /// Bearer token for both endpoints.
    pub token: Option<String>,
    pub peer: PeerSettings,
}

/// One direction's live session, to be ended with DELETE.
struct Leg {
    peer: Peer,
    signalling: HttpSignalling,
    resource: Url,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    /// The connection's state, for status.
    state: String,
    /// Its losses and ICE restarts.
    watch: IceWatch,
}

impl WhipWhepMeeting {
    /// The call, until the room leaves (None) or a connection is lost (Some(why)).
    async fn call(&self, legs: Legs, media: &mut Session, call: &mut Call<'_>) -> Option<String> {
        let Legs { publish, mut play } = legs;
        let mut publish = match publish {
            Some((leg, tracks)) => {
                media.send(tracks).await;
                Some(leg)
            }
            None => None,
        };
        let mut tick = tokio::time::interval(TICK);
        let (mut ticks, mut remote_serial) = (0u32, 0);
        let mut round_trips = RoundTrips::default();
        let reason = 'call: loop {
            let due = recovery::earliest([due(&publish), due(&play)]);
            tokio::select! {
                _ = call.left() => break None,
                _ = tick.tick() => {
                    media.tick(publish.as_ref().map(|leg| &leg.peer));
                    ticks += 1;
                    if ticks % 4 == 1 {
                        let legs: Vec<_> = [(&publish, "publish (WHIP)"), (&play, "play (WHEP)")]
                            .into_iter()
                            .filter_map(|(leg, role)| leg.as_ref().map(|l| (&l.peer, role, l.state.as_str())))
                            .collect();
                        media.record_connections(&legs).await;
                    }
                }
                event = next_event(&mut publish) => {
                    if let Some(reason) = self.leg_event(&mut publish, &play, event, call).await {
                        break Some(reason);
                    }
                }
                event = next_event(&mut play) => match event {
                    Some(PeerEvent::Track(track)) => {
                        remote_serial += 1;
                        let info = RemoteTrackInfo {
                            id: format!("whep-{remote_serial}"),
                            name: self.whep.as_ref().and_then(|u| u.host_str()).unwrap_or("WHEP").to_string(),
                        };
                        media.play(track, info).await;
                    }
                    other => {
                        if let Some(reason) = self.leg_event(&mut play, &publish, other, call).await {
                            break Some(reason);
                        }
                    }
                },
                _ = recovery::until(due) => {
                    for (direction, leg) in [(Direction::Publish, &mut publish), (Direction::Play, &mut play)] {
                        let Some(leg) = leg else { continue };
                        if let Err(why) = leg.restart_if_due(direction, &mut round_trips).await {
                            break 'call Some(why);
                        }
                    }
                }
                (direction, trip) = round_trips.next() => {
                    let leg = match direction {
                        Direction::Publish => &mut publish,
                        Direction::Play => &mut play,
                    };
                    let Some(leg) = leg else { continue };
                    if let Err(why) = leg.finish_restart(trip, media).await {
                        break Some(why);
                    }
                }
            }
        };
        for leg in [publish, play].into_iter().flatten() {
            leg.end().await;
        }
        reason
    }
    async fn publish(
        &self,
        whip: &Url,
        media: &Session,
    ) -> Result<(Leg, Vec<OutgoingTrack>), String> {
        let signalling = HttpSignalling::new(Protocol::Whip, whip.clone(), self.token.clone())?;
        let (peer, events) = self.peer(&signalling, Role::Publish).await?;
        let mut tracks = Vec::new();
        for (wanted, kind) in [
            (media.has_video(), RtpCodecKind::Video),
            (media.has_audio(), RtpCodecKind::Audio),
        ] {
            if wanted {
                tracks.push(OutgoingTrack::add(&peer, kind).await?);
            }
        }
        let leg = Leg::negotiate(peer, signalling, events).await?;
        Ok((leg, tracks))
    }

    async fn play(&self, whep: &Url) -> Result<Leg, String> {
        let signalling = HttpSignalling::new(Protocol::Whep, whep.clone(), self.token.clone())?;
        let (peer, events) = self.peer(&signalling, Role::Receive).await?;
        peer.add_receiver(RtpCodecKind::Video).await?;
        peer.add_receiver(RtpCodecKind::Audio).await?;
        Leg::negotiate(peer, signalling, events).await
    }

    /// A peer connection with the configured ICE servers and those the endpoint offers.
    async fn peer(
        &self,
        signalling: &HttpSignalling,
        role: Role,
    ) -> Result<(Peer, mpsc::UnboundedReceiver<PeerEvent>), String> {
        let mut settings = self.peer.clone();
        let offered = signalling.ice_servers().await;
        settings.ice_servers.extend(offered);
        let (events_tx, events) = mpsc::unbounded_channel();
        let peer = Peer::new(&settings, role, events_tx).await?;
        Ok((peer, events))
    }

    /// What a leg's event means for the session: a reason to end it, or nothing. The room
    /// hears of a loss at once, and of the way back once no leg is lost.
    async fn leg_event(
        &self,
        leg: &mut Option<Leg>,
        other: &Option<Leg>,
        event: Option<PeerEvent>,
        call: &Call<'_>,
    ) -> Option<String> {
        let leg = leg.as_mut()?;
        let protocol = leg.signalling.protocol();
        match event {
            Some(PeerEvent::State(state)) => {
                tracing::info!("{protocol} connection: {state:?}");
                leg.state = state_name(state);
                let other_lost = other.as_ref().is_some_and(|o| o.watch.is_lost());
                match leg.watch.on_state(state, Instant::now()) {
                    Change::Lost => {
                        let why = format!("the connection to the {protocol} server is interrupted");
                        call.interrupted(Some(why)).await;
                    }
                    Change::Back { by_restart } => {
                        let how = recovery::how_back(by_restart);
                        tracing::info!("{protocol} connection back {how}");
                        if !other_lost {
                            call.interrupted(None).await;
                        }
                    }
                    Change::Nothing => {}
                }
                None
            }
            // Full ICE: the candidates are in the descriptions.
            Some(PeerEvent::Track(_) | PeerEvent::Data { .. } | PeerEvent::LocalCandidate(_)) => {
                None
            }
            None => Some(format!("the {protocol} connection closed")),
        }
    }
}

/// When something is due about an optional leg's lost connection.
fn due(leg: &Option<Leg>) -> Option<Instant> {
    leg.as_ref().and_then(|l| l.watch.due_at())
}

/// Which leg a restart is for.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Publish,
    Play,
}

/// The room's legs of a WHIP/WHEP meeting.
pub struct Legs {
    publish: Option<(Leg, Vec<OutgoingTrack>)>,
    play: Option<Leg>,
}

#[async_trait::async_trait]
impl Meeting for WhipWhepMeeting {
    type Joined = Legs;

    async fn join(&self, media: &mut Session) -> Result<Legs, String> {
        let publish = match &self.whip {
            Some(whip) => Some(self.publish(whip, media).await?),
            None => None,
        };
        let play = match &self.whep {
            Some(whep) => match self.play(whep).await {
                Ok(leg) => Some(leg),
                Err(e) => {
                    if let Some((leg, _)) = publish {
                        leg.end().await;
                    }
                    return Err(e);
                }
            },
            None => None,
        };
        Ok(Legs { publish, play })
    }

    async fn in_call(
        &self,
        legs: Legs,
        media: &mut Session,
        call: &mut Call<'_>,
    ) -> Option<String> {
        self.call(legs, media, call).await
    }
}

impl Leg {
    /// Offer, answer, and wait until media can flow.
    async fn negotiate(
        peer: Peer,
        signalling: HttpSignalling,
        events: mpsc::UnboundedReceiver<PeerEvent>,
    ) -> Result<Leg, String> {
        let offer = peer.offer().await?;
        let created = signalling.create(&offer).await?;
        let mut leg = Leg {
            peer,
            signalling,
            resource: created.resource,
            events: mpsc::unbounded_channel().1,
            state: "connecting".into(),
            watch: IceWatch::default(),
        };
        // The server's name in every failure: "the remote answer: SdpInvalidSyntax" alone
        // does not say whom to call.
        let connected = match leg.peer.accept_answer(&created.answer).await {
            Ok(()) => wait_connected(events)
                .await
                .map_err(|e| format!("{}: {}", leg.resource, leg.peer.explain_failure(e))),
            Err(e) => Err(leg.signalling.says(&e)),
        };
        match connected {
            Ok(events) => {
                leg.events = events;
                leg.state = "connected".into();
                Ok(leg)
            }
            Err(e) => {
                leg.end().await;
                Err(e)
            }
        }
    }

    /// Starts restarting ICE through the server when it is due (RFC 9725 section 4.4.2): a
    /// restart offer here; its round trip (the server reachable, then our ICE lines out by
    /// PATCH and the server's back) on its own task. Err(why) when restarting is given up.
    async fn restart_if_due(
        &mut self,
        direction: Direction,
        round_trips: &mut RoundTrips<Direction>,
    ) -> Result<(), String> {
        match self.watch.step(Instant::now()) {
            Some(Step::GiveUp) => Err(self.signalling.says(&format!(
                "the connection did not come back within {:?} of ICE restarts",
                recovery::GIVE_UP
            ))),
            Some(Step::Restart) => {
                let says = |e: String| self.signalling.says(&e);
                let offer = self.peer.restart_offer().await.map_err(says)?;
                let fragment = sdpfrag::restart_fragment(&offer).map_err(says)?;
                let (signalling, resource) = (self.signalling.clone(), self.resource.clone());
                self.watch.started();
                round_trips.start(direction, async move {
                    signalling.reachable(recovery::PROBE).await?;
                    let theirs = signalling.restart_ice(&resource, &fragment).await?;
                    Ok(RoundTrip {
                        ours: Some(offer),
                        theirs,
                    })
                });
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Completes a restart whose round trip is done: the server's fragment put into its last
    /// answer. Err(why) when the server cannot restart ICE (the session joins again).
    async fn finish_restart(
        &mut self,
        trip: Result<RoundTrip, RestartError>,
        media: &Session,
    ) -> Result<(), String> {
        let outcome = match trip {
            Ok(trip) => self.apply_restart(trip).await,
            Err(e) => Err(e),
        };
        self.watch.restarted(&outcome, Instant::now());
        match outcome {
            Ok(()) => {
                tracing::info!("{}: ICE restarted", self.resource);
                media.count_ice_restart();
                Ok(())
            }
            Err(RestartError::Unreachable(why)) => {
                tracing::info!("ICE restart: {why}; trying again");
                Ok(())
            }
            Err(RestartError::Refused(why)) => Err(why),
        }
    }

    async fn apply_restart(&self, trip: RoundTrip) -> Result<(), RestartError> {
        let refused = |e: String| RestartError::Refused(self.signalling.says(&e));
        let previous = self
            .peer
            .remote_description()
            .await
            .ok_or_else(|| refused("no answer to restart from".into()))?;
        let answer = sdpfrag::apply_fragment(&previous, &trip.theirs).map_err(refused)?;
        let offer = trip.ours.unwrap_or_default();
        self.peer
            .apply_restart(&offer, &answer)
            .await
            .map_err(refused)
    }

    async fn end(self) {
        if let Err(e) = self.signalling.delete(&self.resource).await {
            tracing::info!("leaving: {e}");
        }
        self.peer.close().await;
    }
}

/// The next event of an optional leg; never, without one.
async fn next_event(leg: &mut Option<Leg>) -> Option<PeerEvent> {
    match leg {
        Some(leg) => leg.events.recv().await,
        None => std::future::pending().await,
    }
}
