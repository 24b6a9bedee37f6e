//! The daemon's recent log lines, kept in memory for remote management (a ring: the oldest go
//! first), and the journal's when the daemon runs under systemd.

use crate::api::{LogLine, Logs};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Lines kept: about a day of a quiet room, minutes of a noisy one; ~200 kB.
const CAPACITY: usize = 1000;

/// The ring, shared by the logging layer (which fills it) and the daemon (which reads it).
#[derive(Clone, Default)]
pub struct LogRing(Arc<Mutex<VecDeque<LogLine>>>);

/// The process's ring: logging fills it from start-up on.
pub fn ring() -> &'static LogRing {
    static RING: OnceLock<LogRing> = OnceLock::new();
    RING.get_or_init(LogRing::default)
}

impl LogRing {
    pub fn push(&self, line: LogLine) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The newest `count` lines, oldest first.
    pub fn recent(&self, count: usize) -> Vec<LogLine> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .skip(lines.len().saturating_sub(count))
            .cloned()
            .collect()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A `tracing` layer that copies every event (as filtered for the log) into the ring.
pub struct RingLayer(pub LogRing);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.push(LogLine {
            time_ms: now_ms(),
            level: event.metadata().level().as_str().to_ascii_lowercase(),
            source: "daemon".into(),
            message: message.0,
        });
    }
}

/// The ring's newest lines, and the journal's warnings of this boot when under systemd.
pub fn recent(count: usize) -> Logs {
    let mut lines = ring().recent(count);
    let journal_error = match journal(count) {
        Ok(journal) => {
            lines.extend(journal);
            lines.sort_by_key(|l| l.time_ms);
            let drop = lines.len().saturating_sub(count);
            lines.drain(..drop);
            None
        }
        Err(e) => Some(e),
    };
    Logs {
        lines,
        journal_error,
    }
}

/// The system journal's warnings and errors of this boot (the kernel's USB and device
/// messages explain many a lost camera). Only under systemd, where the daemon's own lines
/// are in the ring already.
fn journal(count: usize) -> Result<Vec<LogLine>, String> {
    if std::env::var_os("JOURNAL_STREAM").is_none() {
        return Err("not running under systemd".into());
    }
    let output = std::process::Command::new("journalctl")
        .args([
            "--boot",
            "--priority=warning",
            "--output=json",
            "--no-pager",
            "--lines",
        ])
        .arg(count.to_string())
        .output()
        .map_err(|e| format!("journalctl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "journalctl: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|entry| {
            let text = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
            let priority = text("PRIORITY").parse::<u8>().unwrap_or(6);
            LogLine {
                time_ms: text("__REALTIME_TIMESTAMP").parse::<u64>().unwrap_or(0) / 1000,
                level: if priority <= 3 { "error" } else { "warn" }.into(),
                source: "journal".into(),
                message: format!("{}: {}", text("SYSLOG_IDENTIFIER"), text("MESSAGE")),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        let ring = LogRing::default();
        for i in 0..CAPACITY + 5 {
            ring.push(LogLine {
                time_ms: i as u64,
                level: "info".into(),
                source: "daemon".into(),
                message: format!("line {i}"),
            });
        }
        let recent = ring.recent(3);
        assert_eq!(
            recent
                .iter()
                .map(|l| l.message.as_str())
                .collect::<Vec<_>>(),
            [
                format!("line {}", CAPACITY + 2),
                format!("line {}", CAPACITY + 3),
                format!("line {}", CAPACITY + 4)
            ]
        );
        assert_eq!(ring.recent(usize::MAX).len(), CAPACITY);
    }
}
