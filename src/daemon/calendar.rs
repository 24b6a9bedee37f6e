//! The calendar task: reads the room's calendar at start and every `refresh_s` (at once on
//! SIGHUP, or when the wall clock jumps), and tells the room its current and next meetings
//! whenever they change. That is checked every second against the wall clock rather than by
//! sleeping until the next start: a board without a real-time clock sets its time from the
//! network after boot, and a sleep would not notice. A refresh that fails keeps the meetings
//! from the last one that worked and puts the error in status.

use super::Event;
use crate::calendar::fetch::Source;
use crate::calendar::link::MeetingHosts;
use crate::calendar::occurrences::Occurrence;
use crate::calendar::{self, zones};
use crate::config::Config;
use crate::room::{CalendarStatus, Input};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;
use tokio::sync::mpsc;

/// One request's limit: a calendar server that hangs must not hold the room's view for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// After a failure, try again sooner than `refresh_s` (but no sooner than this).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// How often the wall clock is compared with the monotonic one, and how far it may move.
const CLOCK_CHECK: Duration = Duration::from_secs(5);
const CLOCK_JUMP: SignedDuration = SignedDuration::from_secs(60);

/// Starts the calendar task when `[calendar] url` is set; a problem that stops it goes to
/// `problems`.
pub fn start(
    config: &Config,
    events: mpsc::Sender<Event>,
    problems: &mut Vec<crate::room::ProblemReport>,
) {
    use crate::room::{ProblemReport, ProblemSource};
    let settings = &config.calendar;
    let Some(url) = settings.url.clone() else {
        return;
    };
    let room = zones::room_zone(settings.timezone.as_deref()).unwrap_or_else(|e| {
        let setting = "[calendar] timezone";
        problems.push(
            ProblemReport::new(ProblemSource::Setting(setting.into()), setting)
                .with_detail(format!("{e}: using UTC")),
        );
        TimeZone::UTC
    });
    let client = match crate::signal::http::client(REQUEST_TIMEOUT) {
        Ok(client) => client,
        Err(e) => {
            problems.push(
                ProblemReport::new(ProblemSource::Calendar, "calendar")
                    .with_detail(format!("{url}: {e}")),
            );
            return;
        }
    };
    let fetcher = Fetcher {
        source: Source {
            url,
            kind: settings.kind,
            username: settings.username.clone(),
            password_file: settings.password_file.clone(),
        },
        client,
        room: room.clone(),
        hosts: MeetingHosts::from_urls(config.meeting.url.as_deref()),
        refresh: Duration::from_secs(settings.refresh_s),
    };
    let (results, inbox) = mpsc::channel(4);
    tokio::spawn(fetcher.run(results));
    let join_early = SignedDuration::from_secs(settings.join_early_s as i64);
    tokio::spawn(report(inbox, events, room, join_early));
}

struct Fetcher {
    source: Source,
    client: reqwest::Client,
    room: TimeZone,
    hosts: MeetingHosts,
    refresh: Duration,
}

/// What one refresh gave: the meetings around now and warnings, or why there are none.
type Refresh = Result<calendar::Loaded, String>;

impl Fetcher {
    async fn run(self, results: mpsc::Sender<Refresh>) {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let result = self.refresh().await;
            let wait = match &result {
                Ok(_) => self.refresh,
                Err(_) => self.refresh.min(RETRY_AFTER_FAILURE),
            };
            if results.send(result).await.is_err() {
                return;
            }
            let asked = async {
                match &mut hangup {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = asked => tracing::info!("calendar: refresh asked (SIGHUP)"),
                _ = clock_jump() => tracing::info!("calendar: the clock changed, reading again"),
            }
        }
    }

    async fn refresh(&self) -> Refresh {
        let window = calendar::window(Timestamp::now());
        let texts = self.source.fetch(&self.client, window).await;
        texts
            .and_then(|texts| calendar::load(&texts, &self.room, &self.hosts, window))
            .map_err(|e| format!("calendar {}: {e}", self.source.url))
    }
}

/// Returns when the wall clock jumps (a board without a real-time clock sets it from the
/// network after boot): the window read before is then the wrong one.
async fn clock_jump() {
    let wall = Timestamp::now();
    let steady = std::time::Instant::now();
    let mut check = tokio::time::interval(CLOCK_CHECK);
    loop {
        check.tick().await;
        let drift = Timestamp::now().duration_since(wall)
            - SignedDuration::try_from(steady.elapsed()).unwrap_or_default();
        if drift.abs() > CLOCK_JUMP {
            return;
        }
    }
}

/// Keeps the last good meetings and tells the room what is current whenever it changes.
async fn report(
    mut results: mpsc::Receiver<Refresh>,
    events: mpsc::Sender<Event>,
    room: TimeZone,
    join_early: SignedDuration,
) {
    let mut occurrences: Vec<Occurrence> = Vec::new();
    let mut status = CalendarStatus::default();
    let mut told = None::<CalendarStatus>;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            result = results.recv() => match result {
                None => return,
                Some(Ok(loaded)) => {
                    if loaded.warnings != status.warnings {
                        for warning in &loaded.warnings {
                            tracing::warn!("calendar: {warning}");
                        }
                    }
                    tracing::debug!(occurrences = loaded.occurrences.len(), "calendar read");
                    if status.error.is_some() {
                        tracing::info!("calendar: read again");
                    }
                    occurrences = loaded.occurrences;
                    status.warnings = loaded.warnings;
                    status.error = None;
                    status.updated = Some(calendar::local_time(Timestamp::now(), &room));
                }
                Some(Err(error)) => {
                    tracing::warn!("{error}");
                    status.error = Some(error);
                }
            },
            _ = tick.tick() => {}
        }
        (status.current, status.upcoming) =
            calendar::view(&occurrences, Timestamp::now(), join_early, &room);
        if told.as_ref() != Some(&status) {
            if events
                .send(Event::Room(Input::Calendar(status.clone())))
                .await
                .is_err()
            {
                return;
            }
            told = Some(status.clone());
        }
    }
}
