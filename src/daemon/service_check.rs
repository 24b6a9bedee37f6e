//! The start-up health check of the room's meeting service: can the room reach it at all?
//! People in the room and facilities staff must learn that before someone presses join, so the
//! service's web origin is asked at start and then periodically, and the answer becomes a
//! problem on the screen and in status (or stops being one). Any HTTP answer counts as
//! reachable, an error page included: the question is the network path (DNS, routes,
//! firewalls, TLS), not whether a meeting exists.

use super::{problem, problem_gone, Event};
use crate::config::Config;
use crate::room::ProblemSource;
use crate::signal::{http, MeetingTarget};
use std::time::Duration;
use tokio::sync::mpsc;

/// One request's limit: long enough for a slow link, short enough to tell people soon.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a reachable service is asked again.
const PERIOD: Duration = Duration::from_secs(60);
/// How often an unreachable one is: the problem should go away soon after it is fixed.
const RETRY: Duration = Duration::from_secs(10);

/// Starts checking the room's fixed meeting service, when it has one on the network (not the
/// simulated service). Its verdicts come as the room's problem (or its end), only when they
/// change.
pub fn start(config: &Config, events: mpsc::Sender<Event>) {
    let Some(target) = (config.meeting.url.as_deref()).and_then(|u| MeetingTarget::parse(u).ok())
    else {
        return;
    };
    let Some(origin) = target.origin() else {
        return;
    };
    let client = match http::client(REQUEST_TIMEOUT) {
        Ok(client) => client,
        Err(e) => {
            let _ = events.try_send(problem(
                ProblemSource::MeetingService,
                "meeting service check",
                e,
            ));
            return;
        }
    };
    let service = target.service();
    tokio::spawn(async move {
        let mut told = None;
        loop {
            let unreachable = match client.get(origin.clone()).send().await {
                Ok(_) => None,
                Err(e) => Some(format!(
                    "{service} at {}: {}",
                    origin.host_str().unwrap_or_default(),
                    http::describe(&e)
                )),
            };
            if told.as_ref() != Some(&unreachable) {
                let event = match &unreachable {
                    Some(why) => {
                        tracing::warn!("meeting service unreachable: {why}");
                        problem(
                            ProblemSource::MeetingService,
                            "Meeting service unreachable",
                            why,
                        )
                    }
                    None => {
                        tracing::info!("meeting service reachable");
                        problem_gone(ProblemSource::MeetingService)
                    }
                };
                if events.send(event).await.is_err() {
                    return;
                }
                told = Some(unreachable);
            }
            let wait = match &told {
                Some(Some(_)) => RETRY,
                _ => PERIOD,
            };
            tokio::time::sleep(wait).await;
        }
    });
}
