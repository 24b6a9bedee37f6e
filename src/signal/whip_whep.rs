//! A meeting made of standard endpoints: the room publishes with WHIP and, when a WHEP partner
//! is given, plays what the WHEP endpoint serves (the other side of the meeting).

use super::whip::{HttpSignalling, Protocol};
use crate::rtc::peer::{ConnectionState, Peer, PeerEvent, PeerSettings, Role};
use crate::rtc::publish::OutgoingTrack;
use crate::rtc::remote::RemoteTrackInfo;
use crate::rtc::session::{state_name, wait_connected, Call, Meeting, Session};
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::time::Duration;
use tokio::sync::mpsc;
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
        let reason = loop {
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
                    if let Some(reason) = leg_event(&mut publish, event, "WHIP", call).await {
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
                        if let Some(reason) = leg_event(&mut play, other, "WHEP", call).await {
                            break Some(reason);
                        }
                    }
                },
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
        settings.ice_servers.extend(signalling.ice_servers().await);
        let (events_tx, events) = mpsc::unbounded_channel();
        let peer = Peer::new(&settings, role, events_tx).await?;
        Ok((peer, events))
    }
}

/// What a leg's event means for the session: a reason to end it, or nothing.
async fn leg_event(
    leg: &mut Option<Leg>,
    event: Option<PeerEvent>,
    protocol: &str,
    call: &Call<'_>,
) -> Option<String> {
    match event {
        Some(PeerEvent::State(ConnectionState::Failed)) => {
            Some(format!("the connection to the {protocol} server failed"))
        }
        Some(PeerEvent::State(state)) => {
            tracing::info!("{protocol} connection: {state:?}");
            if let Some(leg) = leg {
                // ICE may get a path back by itself: say so while it tries.
                if state == ConnectionState::Disconnected {
                    let why = format!("the connection to the {protocol} server is interrupted");
                    call.interrupted(Some(why)).await;
                } else if state == ConnectionState::Connected && leg.state == "disconnected" {
                    call.interrupted(None).await;
                }
                leg.state = state_name(state);
            }
            None
        }
        Some(PeerEvent::Track(_) | PeerEvent::Data { .. }) => None,
        None => Some(format!("the {protocol} connection closed")),
    }
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
        };
        // The server's name in every failure: "the remote answer: SdpInvalidSyntax" alone
        // does not say whom to call.
        let connected = match leg.peer.accept_answer(&created.answer).await {
            Ok(()) => wait_connected(events)
                .await
                .map_err(|e| format!("{}: {e}", leg.resource)),
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
