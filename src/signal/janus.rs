//! A Janus VideoRoom meeting: the room joins as a publisher with its name, publishes its
//! camera and microphone, and subscribes to every other publisher, following joins and leaves.
//!
//! One peer connection publishes; one per remote publisher receives (the VideoRoom's classic
//! subscriber: a handle per feed, Janus offers, we answer).

use super::janus_api::JanusApi;
use super::janus_restart::{finish_restart, start_due_restarts};
use crate::rtc::peer::{Peer, PeerEvent, PeerSettings, Role};
use crate::rtc::publish::OutgoingTrack;
use crate::rtc::recovery::{self, Change, IceWatch, RestartError, RoundTrip, RoundTrips};
use crate::rtc::remote::RemoteTrackInfo;
use crate::rtc::session::{state_name, wait_connected, Call, Meeting, Session};
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

const PLUGIN: &str = "janus.plugin.videoroom";
const TICK: Duration = Duration::from_millis(500);

pub struct JanusMeeting {
    pub url: Url,
    pub room: u64,
    /// How the room appears to the others.
    pub display: String,
    pub peer: PeerSettings,
}

/// A remote publisher we receive.
pub(super) struct Feed {
    pub(super) display: String,
    pub(super) handle: u64,
    pub(super) peer: Peer,
    state: String,
    pub(super) watch: IceWatch,
    /// Restarting did not bring it back: to be subscribed to again.
    pub(super) stuck: bool,
}

/// The room's own publishing connection, in the call.
pub(super) struct Publishing {
    pub(super) handle: u64,
    pub(super) peer: Peer,
    state: String,
    pub(super) watch: IceWatch,
}

/// What the session loop hears from a subscription: its handle tells a resubscribed feed's
/// events from the old connection's last ones.
struct FeedEvent {
    feed: u64,
    handle: u64,
    event: Option<PeerEvent>,
}

impl JanusMeeting {
    /// The call, until the room leaves (None) or the meeting is lost (Some(why)).
    async fn call(
        &self,
        joined: Joined,
        media: &mut Session,
        call: &mut Call<'_>,
    ) -> Option<String> {
        let Joined {
            api,
            publisher,
            events: mut janus_events,
        } = joined;
        let Published {
            handle,
            peer,
            events: mut publisher_events,
            tracks,
            others,
        } = publisher;
        media.send(tracks).await;
        let mut publishing = Publishing {
            handle,
            peer,
            state: "connected".into(),
            watch: IceWatch::default(),
        };
        let mut feeds: HashMap<u64, Feed> = HashMap::new();
        let (feed_tx, mut feed_events) = mpsc::unbounded_channel::<FeedEvent>();
        for (id, display) in others {
            self.subscribe(&api, id, display, &mut feeds, &feed_tx)
                .await;
        }
        let mut tick = tokio::time::interval(TICK);
        let mut ticks = 0u32;
        let mut round_trips = RoundTrips::default();
        let lost = loop {
            self.resubscribe_stuck(&api, &mut feeds, &feed_tx).await;
            let due = recovery::earliest(
                std::iter::once(publishing.watch.due_at())
                    .chain(feeds.values().map(|f| f.watch.due_at())),
            );
            tokio::select! {
                _ = call.left() => break None,
                _ = tick.tick() => {
                    media.tick(Some(&publishing.peer));
                    ticks += 1;
                    if ticks % 4 == 1 {
                        let mut legs = vec![(&publishing.peer, "publish".to_string(), publishing.state.clone())];
                        legs.extend(feeds.values().map(|f| (&f.peer, format!("receive {}", f.display), f.state.clone())));
                        let legs: Vec<_> = legs.iter().map(|(p, r, s)| (*p, r.as_str(), s.as_str())).collect();
                        media.record_connections(&legs).await;
                    }
                }
                event = publisher_events.recv() => match event {
                    Some(PeerEvent::State(state)) => {
                        tracing::info!("Janus publishing connection: {state:?}");
                        publishing.state = state_name(state);
                        match publishing.watch.on_state(state, Instant::now()) {
                            Change::Lost => call.interrupted(Some(api.says("the connection is interrupted"))).await,
                            Change::Back { by_restart } => {
                                let how = recovery::how_back(by_restart);
                                tracing::info!("Janus publishing connection back {how}");
                                call.interrupted(None).await;
                            }
                            Change::Nothing => {}
                        }
                    }
                    // Full ICE: the candidates are in the descriptions.
                    Some(PeerEvent::Track(_) | PeerEvent::Data { .. } | PeerEvent::LocalCandidate(_)) => {}
                    None => break Some(api.says("the publishing connection closed")),
                },
                _ = recovery::until(due) => {
                    let due = start_due_restarts(&api, &mut publishing, &mut feeds, &mut round_trips);
                    if let Err(why) = due.await {
                        break Some(why);
                    }
                }
                (connection, trip) = round_trips.next() => {
                    let done = finish_restart(&api, &mut publishing, &mut feeds, connection, trip, media);
                    if let Err(why) = done.await {
                        break Some(why);
                    }
                }
                event = janus_events.recv() => {
                    let Some(event) = event else {
                        break Some(api.says("the signalling connection was lost"));
                    };
                    match classify(&event) {
                        Janus::Publishers(list) => {
                            for (id, display) in list {
                                if !feeds.contains_key(&id) {
                                    self.subscribe(&api, id, display, &mut feeds, &feed_tx).await;
                                }
                            }
                        }
                        Janus::Gone(id) => {
                            if let Some(feed) = feeds.remove(&id) {
                                tracing::info!("{} left", feed.display);
                                api.detach(feed.handle);
                                feed.peer.close().await;
                            }
                        }
                        Janus::SessionTimeout => break Some(api.says("the session timed out")),
                        Janus::Hangup { handle, reason } if handle == publishing.handle => {
                            break Some(api.says(&format!("closed the room's connection ({reason})")));
                        }
                        Janus::Hangup { handle, reason } => {
                            // A subscription: the publisher's `unpublished` follows, or it
                            // comes back; either way nothing to do but note it.
                            tracing::info!("Janus closed subscription {handle}: {reason}");
                        }
                        Janus::Other => tracing::debug!("Janus event: {event}"),
                    }
                }
                Some(FeedEvent { feed: id, handle, event }) = feed_events.recv() => {
                    let Some(feed) = feeds.get_mut(&id).filter(|f| f.handle == handle) else {
                        continue;
                    };
                    match event {
                        Some(PeerEvent::Track(track)) => {
                            let info = RemoteTrackInfo { id: format!("janus-{id}"), name: feed.display.clone() };
                            media.play(track, info).await;
                        }
                        Some(PeerEvent::State(state)) => {
                            feed.state = state_name(state);
                            // Only the publishing connection says whether the room is in the
                            // call; a subscription just comes back.
                            if let Change::Back { by_restart } = feed.watch.on_state(state, Instant::now()) {
                                let how = recovery::how_back(by_restart);
                                tracing::info!("receiving {} again, {how}", feed.display);
                            }
                        }
                        Some(PeerEvent::Data { .. } | PeerEvent::LocalCandidate(_)) | None => {}
                    }
                }
            }
        };
        if lost.is_none() {
            // Leaving: say goodbye (a lost connection has nobody to say it to).
            let _ = api
                .message(publishing.handle, json!({"request": "leave"}), None)
                .await;
        }
        for feed in feeds.into_values() {
            feed.peer.close().await;
        }
        publishing.peer.close().await;
        api.destroy();
        lost
    }

    /// Joins the room as a publisher and publishes; returns who else is there.
    async fn publish(&self, api: &Arc<JanusApi>, media: &Session) -> Result<Published, String> {
        let handle = api.attach(PLUGIN).await?;
        let (joined, _) = api
            .message(
                handle,
                json!({"request": "join", "ptype": "publisher", "room": self.room, "display": self.display}),
                None,
            )
            .await?;
        if joined["videoroom"] != "joined" {
            return Err(api.says(&format!("joining room {} gave {}", self.room, joined)));
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        let peer = Peer::new(&self.peer, Role::Publish, events_tx).await?;
        let mut tracks = Vec::new();
        for (wanted, kind) in [
            (media.has_video(), RtpCodecKind::Video),
            (media.has_audio(), RtpCodecKind::Audio),
        ] {
            if wanted {
                tracks.push(OutgoingTrack::add(&peer, kind).await?);
            }
        }
        let offer = peer.offer().await?;
        let request =
            json!({"request": "publish", "audio": media.has_audio(), "video": media.has_video()});
        let trip = offer_round_trip(api.clone(), handle, request, offer).await?;
        api.candidates_done(handle);
        peer.accept_answer(&trip.theirs)
            .await
            .map_err(|e| api.says(&e))?;
        let events = wait_connected(events)
            .await
            .map_err(|e| api.says(&peer.explain_failure(e)))?;
        Ok(Published {
            handle,
            peer,
            events,
            tracks,
            others: publishers(&joined),
        })
    }

    /// Subscribes again to the feeds that ICE restarts did not bring back.
    async fn resubscribe_stuck(
        &self,
        api: &JanusApi,
        feeds: &mut HashMap<u64, Feed>,
        feed_events: &mpsc::UnboundedSender<FeedEvent>,
    ) {
        let stuck: Vec<u64> = feeds
            .iter()
            .filter(|(_, f)| f.stuck)
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            if let Some(feed) = feeds.remove(&id) {
                tracing::warn!("receiving {}: subscribing again", feed.display);
                api.detach(feed.handle);
                feed.peer.close().await;
                self.subscribe(api, id, feed.display, feeds, feed_events)
                    .await;
            }
        }
    }

    /// Receives one remote publisher. A failure is logged, not fatal: the others still show.
    async fn subscribe(
        &self,
        api: &JanusApi,
        id: u64,
        name: String,
        feeds: &mut HashMap<u64, Feed>,
        feed_events: &mpsc::UnboundedSender<FeedEvent>,
    ) {
        let subscribed = async {
            let handle = api.attach(PLUGIN).await?;
            let (_, offer) = api
                .message(
                    handle,
                    json!({"request": "join", "ptype": "subscriber", "room": self.room, "streams": [{"feed": id}]}),
                    None,
                )
                .await?;
            let offer = sdp(offer)
                .ok_or_else(|| api.says(&format!("subscribing to {name} gave no offer")))?;
            let (events_tx, mut events) = mpsc::unbounded_channel();
            let peer = Peer::new(&self.peer, Role::Receive, events_tx).await?;
            answer_and_start(api, handle, &peer, &offer).await?;
            // The feed's events go to the session loop, tagged with the feed.
            let tagged = feed_events.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    let event = Some(event);
                    if tagged
                        .send(FeedEvent {
                            feed: id,
                            handle,
                            event,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = tagged.send(FeedEvent {
                    feed: id,
                    handle,
                    event: None,
                });
            });
            Ok::<_, String>(Feed {
                display: name.clone(),
                handle,
                peer,
                state: "connecting".into(),
                watch: IceWatch::default(),
                stuck: false,
            })
        };
        match subscribed.await {
            Ok(feed) => {
                tracing::info!("receiving {name}");
                feeds.insert(id, feed);
            }
            Err(e) => tracing::warn!("receiving {name}: {e}"),
        }
    }
}

/// Sends our offer with `request` (publish, configure) and takes Janus's answer.
pub(super) async fn offer_round_trip(
    api: Arc<JanusApi>,
    handle: u64,
    request: Value,
    offer: String,
) -> Result<RoundTrip, RestartError> {
    let jsep = json!({"type": "offer", "sdp": offer});
    let (_, answer) = api.message(handle, request, Some(jsep)).await?;
    let theirs = sdp(answer)
        .ok_or_else(|| RestartError::Refused(api.says("answered the offer without an SDP")))?;
    Ok(RoundTrip {
        ours: Some(offer),
        theirs,
    })
}

/// Answers Janus's offer for a subscription and starts receiving.
pub(super) async fn answer_and_start(
    api: &JanusApi,
    handle: u64,
    peer: &Peer,
    offer: &str,
) -> Result<(), RestartError> {
    let answer = peer
        .answer(offer)
        .await
        .map_err(|e| RestartError::Refused(api.says(&e)))?;
    api.message(
        handle,
        json!({"request": "start"}),
        Some(json!({"type": "answer", "sdp": answer})),
    )
    .await?;
    api.candidates_done(handle);
    Ok(())
}

/// The SDP of a message's `jsep`.
pub(super) fn sdp(jsep: Option<Value>) -> Option<String> {
    jsep.and_then(|j| j["sdp"].as_str().map(String::from))
}

/// The room in the VideoRoom: the signalling session, the published connection, and the
/// events Janus sends about the room.
pub struct Joined {
    api: Arc<JanusApi>,
    publisher: Published,
    events: mpsc::UnboundedReceiver<Value>,
}

#[async_trait::async_trait]
impl Meeting for JanusMeeting {
    type Joined = Joined;

    async fn join(&self, media: &mut Session) -> Result<Joined, String> {
        let (janus_tx, events) = mpsc::unbounded_channel();
        let api = Arc::new(JanusApi::connect(&self.url, janus_tx).await?);
        let publisher = self.publish(&api, media).await?;
        Ok(Joined {
            api,
            publisher,
            events,
        })
    }

    async fn in_call(
        &self,
        joined: Joined,
        media: &mut Session,
        call: &mut Call<'_>,
    ) -> Option<String> {
        self.call(joined, media, call).await
    }
}

struct Published {
    handle: u64,
    peer: Peer,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    tracks: Vec<OutgoingTrack>,
    others: Vec<(u64, String)>,
}

/// What a Janus event means for the meeting.
enum Janus {
    /// Publishers that are (now) in the room.
    Publishers(Vec<(u64, String)>),
    /// A publisher stopped publishing or left.
    Gone(u64),
    SessionTimeout,
    /// Janus closed a handle's peer connection (ICE failed on its side, DTLS alert).
    Hangup {
        handle: u64,
        reason: String,
    },
    Other,
}

fn classify(event: &Value) -> Janus {
    if event["janus"] == "timeout" {
        return Janus::SessionTimeout;
    }
    if event["janus"] == "hangup" {
        return Janus::Hangup {
            handle: event["sender"].as_u64().unwrap_or_default(),
            reason: event["reason"].as_str().unwrap_or("hangup").to_string(),
        };
    }
    let data = &event["plugindata"]["data"];
    let list = publishers(data);
    if !list.is_empty() {
        return Janus::Publishers(list);
    }
    for key in ["unpublished", "leaving"] {
        if let Some(id) = data[key].as_u64() {
            return Janus::Gone(id);
        }
    }
    Janus::Other
}

/// The `publishers` list of a `joined` or `event` message: id and display name.
fn publishers(data: &Value) -> Vec<(u64, String)> {
    data["publishers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    let id = p["id"].as_u64()?;
                    let display = p["display"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| format!("participant {id}"));
                    Some((id, display))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the room reads out of one message from Janus without a connection: the pure part of
/// the call's event loop (`classify`, `sdp`), which a malformed message could trip. For the
/// fuzzer (`fuzz/fuzz_targets/janus_json.rs`); the publishers it names, if any.
#[doc(hidden)]
pub fn read_event_offline(text: &str) -> Vec<(u64, String)> {
    let Ok(event) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let _ = sdp(Some(event["jsep"].clone()));
    match classify(&event) {
        Janus::Publishers(list) => list,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn janus_events_as_the_meeting_sees_them() {
        let joined = json!({"janus": "event", "plugindata": {"plugin": PLUGIN, "data": {
            "videoroom": "event", "room": 1234,
            "publishers": [{"id": 42, "display": "Alice", "video_codec": "h264"}, {"id": 7}]}}});
        match classify(&joined) {
            Janus::Publishers(list) => {
                assert_eq!(
                    list,
                    vec![(42, "Alice".to_string()), (7, "participant 7".to_string())]
                )
            }
            _ => panic!("publishers not seen"),
        }
        let gone = json!({"janus": "event", "plugindata": {"data": {"videoroom": "event", "unpublished": 42}}});
        assert!(matches!(classify(&gone), Janus::Gone(42)));
        let left =
            json!({"janus": "event", "plugindata": {"data": {"videoroom": "event", "leaving": 7}}});
        assert!(matches!(classify(&left), Janus::Gone(7)));
        // "unpublished": "ok" answers our own unpublish: not someone leaving.
        let own = json!({"janus": "event", "plugindata": {"data": {"videoroom": "event", "unpublished": "ok"}}});
        assert!(matches!(classify(&own), Janus::Other));
        assert!(matches!(
            classify(&json!({"janus": "timeout"})),
            Janus::SessionTimeout
        ));
    }
}
