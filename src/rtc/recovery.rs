//! Getting a lost connection back without leaving the meeting: when ICE loses its path, wait
//! a little (a disconnection often heals by itself), then restart ICE through the meeting's
//! signalling, trying every few seconds while the signalling does not answer, and give up (the
//! session joins again from scratch) only after a while.
//!
//! A restart changes nothing until the server has answered: the restart offer is made, its
//! signalling round trip (a probe that the server answers at all, then the restart) runs on a
//! task of its own, and only the server's answer applies the new ICE credentials. Meanwhile
//! the old path may heal by itself (a network back after a cut): the room is back in the call
//! at once, and a restart already sent still completes (the server has moved to the new
//! credentials).
//!
//! `IceWatch` is the policy, one per peer connection, with no I/O: the service adapters feed it
//! the connection's states and the outcome of their restarts, and it says when to restart next.
//! `RoundTrips` runs the signalling round trips.

use super::peer::ConnectionState;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long a disconnection may heal by itself before ICE is restarted. ICE says
/// "disconnected" after 5 s without an answer; a short hiccup is often back within 2-3 s more.
pub const GRACE: Duration = Duration::from_millis(2500);
/// How soon a restart is tried again when the signalling could not be reached (the network
/// is still down).
pub const RETRY: Duration = Duration::from_secs(2);
/// How long the signalling may take to show it works (a ping answered) before a restart goes
/// out. A server applies a restart as soon as it gets it: sent over a network that is still
/// down, it would arrive once the network is back and break a path that had healed by itself.
pub const PROBE: Duration = Duration::from_secs(2);
/// How long a restart that went through may take to bring the connection back before
/// another one is tried: as long as its connectivity checks run (`peer::ICE_CHECKING`). A
/// restart made while the path is still down has its checks fail; only a newer one finds the
/// path once it is back.
pub const RESTART_WAIT: Duration = Duration::from_secs(5);
/// How long restarting is tried in all before the session joins the meeting again.
pub const GIVE_UP: Duration = Duration::from_secs(20);

/// Why a restart did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartError {
    /// The signalling could not be reached or did not answer: try again soon.
    Unreachable(String),
    /// The server cannot restart ICE (a WHIP server answering 405 or 501) or refused this
    /// one: only joining again brings the call back.
    Refused(String),
}

impl From<RestartError> for String {
    fn from(error: RestartError) -> String {
        match error {
            RestartError::Unreachable(text) | RestartError::Refused(text) => text,
        }
    }
}

/// What a connection's new state means for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The path is lost (the room shows "reconnecting").
    Lost,
    /// The path is back (the room is in the call again), by itself or by an ICE restart.
    Back {
        by_restart: bool,
    },
    Nothing,
}

/// How a connection came back, for the log.
pub fn how_back(by_restart: bool) -> &'static str {
    if by_restart {
        "by ICE restart"
    } else {
        "by itself"
    }
}

/// What to do now about a lost connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Restart,
    /// Restarting did not bring it back in time: join again.
    GiveUp,
}

/// One connection's loss and its restarts.
#[derive(Debug, Default)]
pub struct IceWatch {
    lost: Option<Loss>,
    /// A restart's signalling round trip is under way (it may outlive the loss).
    in_flight: bool,
}

#[derive(Debug, Clone, Copy)]
struct Loss {
    since: Instant,
    /// When the next restart is due.
    next: Instant,
    /// Whether a restart went through during this loss (then a "failed" that follows is its
    /// checks running out, not a reason to restart at once).
    restarted: bool,
}

impl IceWatch {
    /// Takes the connection's new state.
    pub fn on_state(&mut self, state: ConnectionState, now: Instant) -> Change {
        match (state, &mut self.lost) {
            (ConnectionState::Connected, lost) => match lost.take() {
                Some(loss) => Change::Back {
                    by_restart: loss.restarted,
                },
                None => Change::Nothing,
            },
            (ConnectionState::Disconnected, None) => {
                self.lost = Some(Loss {
                    since: now,
                    next: now + GRACE,
                    restarted: false,
                });
                Change::Lost
            }
            // Failed: ICE will not heal by itself, no need to wait.
            (ConnectionState::Failed, None) => {
                self.lost = Some(Loss {
                    since: now,
                    next: now,
                    restarted: false,
                });
                Change::Lost
            }
            (ConnectionState::Failed, Some(loss)) if !loss.restarted => {
                loss.next = loss.next.min(now);
                Change::Nothing
            }
            _ => Change::Nothing,
        }
    }

    /// Whether the connection is lost now.
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// When something is due (a restart, or giving up), if the connection is lost.
    pub fn due_at(&self) -> Option<Instant> {
        let loss = self.lost?;
        let give_up = loss.since + GIVE_UP;
        Some(if self.in_flight {
            give_up
        } else {
            loss.next.min(give_up)
        })
    }

    /// What to do at `now`, if anything.
    pub fn step(&self, now: Instant) -> Option<Step> {
        let loss = self.lost?;
        if now >= loss.since + GIVE_UP {
            Some(Step::GiveUp)
        } else if now >= loss.next && !self.in_flight {
            Some(Step::Restart)
        } else {
            None
        }
    }

    /// A restart's round trip started.
    pub fn started(&mut self) {
        self.in_flight = true;
    }

    /// Takes the outcome of a restart (its round trip and applying the answer); a refusal is
    /// the caller's to act on (join again).
    pub fn restarted(&mut self, outcome: &Result<(), RestartError>, now: Instant) {
        self.in_flight = false;
        if let Some(loss) = &mut self.lost {
            match outcome {
                Ok(()) => {
                    loss.restarted = true;
                    loss.next = now + RESTART_WAIT;
                }
                Err(_) => loss.next = now + RETRY,
            }
        }
    }
}

/// A restart's signalling round trip, done: our restart offer (when we made one) and what
/// the other side sent back (its answer, or an offer of its own).
#[derive(Debug)]
pub struct RoundTrip {
    pub ours: Option<String>,
    pub theirs: String,
}

/// Restarts' signalling round trips under way, each on a task of its own, tagged with the
/// connection it is for. Dropping it abandons them.
pub struct RoundTrips<K> {
    tasks: JoinSet<(K, Result<RoundTrip, RestartError>)>,
}

impl<K: Send + 'static> Default for RoundTrips<K> {
    fn default() -> Self {
        RoundTrips {
            tasks: JoinSet::new(),
        }
    }
}

impl<K: Send + 'static> RoundTrips<K> {
    pub fn start(
        &mut self,
        key: K,
        trip: impl Future<Output = Result<RoundTrip, RestartError>> + Send + 'static,
    ) {
        self.tasks.spawn(async move { (key, trip.await) });
    }

    /// The next round trip done; never, while none is under way.
    pub async fn next(&mut self) -> (K, Result<RoundTrip, RestartError>) {
        loop {
            match self.tasks.join_next().await {
                Some(Ok(done)) => return done,
                Some(Err(e)) => tracing::warn!("an ICE restart's signalling task ended: {e}"),
                None => std::future::pending().await,
            }
        }
    }
}

/// The earliest of some connections' due times.
pub fn earliest(due: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    due.into_iter().flatten().min()
}

/// Sleeps until `at`; for ever without it.
pub async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disconnection_that_heals_within_the_grace_needs_no_restart() {
        let start = Instant::now();
        let mut watch = IceWatch::default();
        assert_eq!(
            watch.on_state(ConnectionState::Disconnected, start),
            Change::Lost
        );
        assert_eq!(watch.step(start + GRACE / 2), None);
        assert_eq!(
            watch.on_state(ConnectionState::Connected, start + GRACE / 2),
            Change::Back { by_restart: false }
        );
        assert_eq!(watch.due_at(), None);
    }

    #[test]
    fn a_lasting_disconnection_restarts_then_retries_while_the_signalling_is_down() {
        let start = Instant::now();
        let mut watch = IceWatch::default();
        watch.on_state(ConnectionState::Disconnected, start);
        assert_eq!(watch.due_at(), Some(start + GRACE));
        assert_eq!(watch.step(start + GRACE), Some(Step::Restart));
        let unreachable = Err(RestartError::Unreachable("down".into()));
        watch.restarted(&unreachable, start + GRACE);
        assert_eq!(watch.step(start + GRACE + RETRY / 2), None);
        assert_eq!(watch.due_at(), Some(start + GRACE + RETRY));
        watch.restarted(&Ok(()), start + GRACE + RETRY);
        assert_eq!(watch.due_at(), Some(start + GRACE + RETRY + RESTART_WAIT));
        // The restart's checks running out do not restart again at once.
        watch.on_state(ConnectionState::Failed, start + GRACE + RETRY + RETRY);
        assert_eq!(watch.step(start + GRACE + RETRY + RETRY), None);
        assert_eq!(
            watch.on_state(ConnectionState::Connected, start + GIVE_UP / 2),
            Change::Back { by_restart: true }
        );
    }

    #[test]
    fn no_second_restart_while_one_is_under_way_and_it_may_outlive_the_loss() {
        let start = Instant::now();
        let mut watch = IceWatch::default();
        watch.on_state(ConnectionState::Disconnected, start);
        watch.started();
        let later = start + GRACE + RETRY;
        assert_eq!(watch.step(later), None);
        assert_eq!(watch.due_at(), Some(start + GIVE_UP));
        // The path heals by itself before the server answers.
        assert_eq!(
            watch.on_state(ConnectionState::Connected, later),
            Change::Back { by_restart: false }
        );
        watch.restarted(&Ok(()), later + RETRY);
        assert_eq!(watch.due_at(), None);
        // A new loss restarts again after its grace.
        let again = later + RESTART_WAIT;
        watch.on_state(ConnectionState::Disconnected, again);
        assert_eq!(watch.step(again + GRACE), Some(Step::Restart));
    }

    #[test]
    fn a_failure_restarts_at_once_and_restarting_gives_up_in_time() {
        let start = Instant::now();
        let mut watch = IceWatch::default();
        assert_eq!(watch.on_state(ConnectionState::Failed, start), Change::Lost);
        assert_eq!(watch.step(start), Some(Step::Restart));
        watch.restarted(&Ok(()), start);
        assert_eq!(watch.step(start + GIVE_UP), Some(Step::GiveUp));
        assert_eq!(watch.due_at(), Some(start + RESTART_WAIT));
    }

    #[test]
    fn a_failure_during_the_grace_cuts_it_short() {
        let start = Instant::now();
        let mut watch = IceWatch::default();
        watch.on_state(ConnectionState::Disconnected, start);
        let later = start + Duration::from_secs(1);
        assert_eq!(
            watch.on_state(ConnectionState::Failed, later),
            Change::Nothing
        );
        assert_eq!(watch.step(later), Some(Step::Restart));
    }
}
