//! ICE restarts in a Janus VideoRoom: the room's publishing connection restarts by offering
//! again (`configure` with a restart offer); a subscription asks Janus for a restart offer
//! (`configure` with `"restart": true`) and answers it (`start`). Each waits until Janus
//! answers a ping first (see `recovery::PROBE`).

use super::janus::{answer_and_start, offer_round_trip, sdp, Feed, Publishing};
use super::janus_api::JanusApi;
use crate::rtc::recovery::{self, RestartError, RoundTrip, RoundTrips, Step};
use crate::rtc::session::Session;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;

/// Starts the ICE restarts that are due: the publishing connection's (Err(why) when it is given
/// up: the session joins again) and the subscriptions' (given up: marked stuck).
pub(super) async fn start_due_restarts(
    api: &Arc<JanusApi>,
    publishing: &mut Publishing,
    feeds: &mut HashMap<u64, Feed>,
    round_trips: &mut RoundTrips<Connection>,
) -> Result<(), String> {
    let now = Instant::now();
    match publishing.watch.step(now) {
        Some(Step::GiveUp) => {
            return Err(api.says(&format!(
                "the publishing connection did not come back within {:?} of ICE restarts",
                recovery::GIVE_UP
            )))
        }
        Some(Step::Restart) => {
            // A publisher restarts by offering again (VideoRoom `configure`).
            let offer = publishing
                .peer
                .restart_offer()
                .await
                .map_err(|e| api.says(&e))?;
            let (api, handle) = (api.clone(), publishing.handle);
            let trip = async move {
                api.ping(recovery::PROBE).await?;
                let request = json!({"request": "configure"});
                offer_round_trip(api, handle, request, offer).await
            };
            publishing.watch.started();
            round_trips.start(Connection::Publisher, trip);
        }
        None => {}
    }
    for (&id, feed) in feeds.iter_mut() {
        match feed.watch.step(now) {
            Some(Step::Restart) => {
                let trip = restart_offer_round_trip(api.clone(), feed.handle, feed.display.clone());
                feed.watch.started();
                round_trips.start(
                    Connection::Feed {
                        id,
                        handle: feed.handle,
                    },
                    trip,
                );
            }
            Some(Step::GiveUp) => feed.stuck = true,
            None => {}
        }
    }
    Ok(())
}

/// Completes an ICE restart whose round trip is done. Err(why) when the publishing connection
/// cannot be restarted (the session joins again); a subscription that cannot is marked stuck.
pub(super) async fn finish_restart(
    api: &JanusApi,
    publishing: &mut Publishing,
    feeds: &mut HashMap<u64, Feed>,
    connection: Connection,
    trip: Result<RoundTrip, RestartError>,
    media: &Session,
) -> Result<(), String> {
    let outcome = match (connection, trip) {
        (_, Err(e)) => Err(e),
        (Connection::Publisher, Ok(trip)) => {
            api.candidates_done(publishing.handle);
            let offer = trip.ours.unwrap_or_default();
            let applied = publishing.peer.apply_restart(&offer, &trip.theirs).await;
            applied.map_err(|e| RestartError::Refused(api.says(&e)))
        }
        (Connection::Feed { id, handle }, Ok(trip)) => match feeds.get(&id) {
            Some(feed) if feed.handle == handle => {
                answer_and_start(api, handle, &feed.peer, &trip.theirs).await
            }
            _ => return Ok(()), // Gone, or subscribed to again, meanwhile.
        },
    };
    let (what, watch) = match connection {
        Connection::Publisher => ("publishing connection".to_string(), &mut publishing.watch),
        Connection::Feed { id, handle } => match feeds.get_mut(&id) {
            Some(feed) if feed.handle == handle => {
                if matches!(outcome, Err(RestartError::Refused(_))) {
                    feed.stuck = true;
                }
                (format!("receiving {}", feed.display), &mut feed.watch)
            }
            _ => return Ok(()),
        },
    };
    watch.restarted(&outcome, Instant::now());
    match outcome {
        Ok(()) => {
            tracing::info!("{}", api.says(&format!("{what}: ICE restarted")));
            media.count_ice_restart();
            Ok(())
        }
        Err(RestartError::Unreachable(why)) => {
            tracing::info!("ICE restart of the {what}: {why}; trying again");
            Ok(())
        }
        Err(RestartError::Refused(why)) => match connection {
            Connection::Publisher => Err(why),
            Connection::Feed { .. } => {
                tracing::warn!("{why}");
                Ok(())
            }
        },
    }
}

/// A subscription asks Janus for an offer that restarts ICE (VideoRoom `configure` with
/// `restart`), once Janus answers at all.
async fn restart_offer_round_trip(
    api: Arc<JanusApi>,
    handle: u64,
    display: String,
) -> Result<RoundTrip, RestartError> {
    api.ping(recovery::PROBE).await?;
    let request = json!({"request": "configure", "restart": true});
    let (_, offer) = api.message(handle, request, None).await?;
    let theirs = sdp(offer).ok_or_else(|| {
        RestartError::Refused(api.says(&format!(
            "restarting the subscription to {display} gave no offer"
        )))
    })?;
    Ok(RoundTrip { ours: None, theirs })
}

/// Which connection a restart is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Connection {
    Publisher,
    Feed { id: u64, handle: u64 },
}
