//! Who is asking: sessions (cookie + CSRF token), API tokens, roles, and the lockout that
//! slows password guessing.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What a person or a token may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Sees the status, events and metrics.
    Viewer,
    /// Also joins, leaves, mutes, turns the camera off.
    Operator,
    /// Also settings, people, tokens and the audit log.
    Admin,
}

/// Someone authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `alice`, or `token:<name>`.
    pub who: String,
    pub role: Role,
    /// Session callers must echo this in `X-CSRF-Token` on changes; None for tokens (a token
    /// is never sent by a browser on its own, so it cannot be forged cross-site).
    pub csrf: Option<String>,
}

pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub expires: Instant,
}

/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Failures before a user name (or an address) is locked out, and for how long.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    pub fn open(&mut self, user: &str, role: Role) -> (String, String) {
        let id = super::store::random_string(32);
        let csrf = super::store::random_string(32);
        self.by_id.insert(
            id.clone(),
            Session {
                user: user.into(),
                role,
                csrf: csrf.clone(),
                expires: Instant::now() + SESSION_IDLE,
            },
        );
        (id, csrf)
    }

    pub fn find(&mut self, id: &str) -> Option<Principal> {
        let now = Instant::now();
        self.by_id.retain(|_, s| s.expires > now);
        let session = self.by_id.get_mut(id)?;
        session.expires = now + SESSION_IDLE;
        Some(Principal {
            who: session.user.clone(),
            role: session.role,
            csrf: Some(session.csrf.clone()),
        })
    }

    pub fn close(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// Ends every session of a user (removed, or their role changed).
    pub fn close_user(&mut self, user: &str) {
        self.by_id.retain(|_, s| s.user != user);
    }
}

/// Failed attempts by user name and by address; either one locks.
#[derive(Default)]
pub struct Lockout {
    failures: HashMap<String, (u32, Instant)>,
}

impl Lockout {
    fn keys(user: &str, from: IpAddr) -> [String; 2] {
        [format!("user:{user}"), format!("addr:{from}")]
    }

    /// Whether attempts for this user or from this address are refused now.
    pub fn locked(&mut self, user: &str, from: IpAddr) -> bool {
        let now = Instant::now();
        self.failures
            .retain(|_, (_, last)| now.duration_since(*last) < LOCKOUT);
        Self::keys(user, from).iter().any(|k| {
            self.failures
                .get(k)
                .is_some_and(|(count, _)| *count >= MAX_FAILURES)
        })
    }

    pub fn failed(&mut self, user: &str, from: IpAddr) {
        let now = Instant::now();
        for key in Self::keys(user, from) {
            let entry = self.failures.entry(key).or_insert((0, now));
            entry.0 += 1;
            entry.1 = now;
        }
    }

    pub fn succeeded(&mut self, user: &str) {
        self.failures.remove(&format!("user:{user}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    }

    #[test]
    fn five_failures_lock_the_user_from_anywhere() {
        let mut lockout = Lockout::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!lockout.locked("alice", a));
            lockout.failed("alice", a);
        }
        assert!(lockout.locked("alice", b));
        assert!(lockout.locked("bob", a), "the address is locked too");
        assert!(!lockout.locked("bob", b));
    }
}
