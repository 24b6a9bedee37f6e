//! The audit log: every change and command through the web surface, and every sign-in, as
//! one JSON line each in `audit.log` (0600) in the state directory: who, from where, what,
//! when, and whether it was done. Never a password, a token or a setup code.

use super::files;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// UTC, RFC 3339.
    pub time: String,
    pub who: String,
    pub from: String,
    pub what: String,
    /// "done", or why not (an error code).
    pub outcome: String,
}

pub struct Audit {
    path: PathBuf,
}

impl Audit {
    pub fn new(path: PathBuf) -> Audit {
        Audit { path }
    }

    pub fn record(&self, who: &str, from: &str, what: &str, outcome: &str) {
        let entry = Entry {
            time: now(),
            who: who.into(),
            from: from.into(),
            what: what.into(),
            outcome: outcome.into(),
        };
        tracing::info!(who, from, what, outcome, "audit");
        let line = serde_json::to_string(&entry).expect("entries serialise");
        if let Err(e) = files::append_private(&self.path, &line) {
            tracing::error!("audit log {}: {e}", self.path.display());
        }
    }

    /// The newest `limit` entries, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Entry> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(limit)
            .collect()
    }
}

pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
