//! The management model's own shapes (issue 16): configuration at run time, events,
//! diagnostics, snapshots and the setup hand-over. The control socket, the management socket
//! (`manage.sock`, every request remote) and the web surface all speak these.
//!
//! Versioned as `API_VERSION`; changes are additive only (new optional fields, new variants).

use serde::{Deserialize, Serialize};

/// The management model's version, as in `/api/v1`.
pub const API_VERSION: &str = "v1";

/// What replaces a secret's value in every answer (configuration text, diffs, bundles). Sent
/// back unchanged in `config-apply`, it keeps the secret the daemon has.
pub const REDACTED: &str = "********";

/// The configuration as it is on disk, secrets replaced by `REDACTED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    /// The file the daemon reads and writes; None when it runs on defaults with nowhere to
    /// write (`config-apply` is then refused with `no-config-file`).
    pub file: Option<String>,
    /// The file's TOML text (secrets redacted); empty when there is no file yet.
    pub text: String,
    /// A previous version is kept (`config-rollback` restores it).
    pub has_previous: bool,
    /// Settings changed on disk that wait for a restart of the daemon (done when the room is
    /// not in a call).
    #[serde(default)]
    pub restart_pending: Vec<String>,
}

/// One setting that differs between the running configuration and a proposed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// Dotted path (`meeting.url`, `network.ice_servers`).
    pub field: String,
    /// The values as TOML text (None: absent, i.e. the default); secrets redacted.
    pub before: Option<String>,
    pub after: Option<String>,
    /// How the daemon takes the change.
    pub takes_effect: TakesEffect,
}

/// When a changed setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TakesEffect {
    /// At once, without restarting anything.
    Now,
    /// At the next call (what a call uses is fixed when it starts).
    NextCall,
    /// After the daemon restarts; done by itself as soon as the room is not in a call.
    Restart,
}

/// The answer to `config-check` and `config-apply`: what changes, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReport {
    pub changes: Vec<ConfigChange>,
    /// `config-apply` only: the file was written (false for `config-check`, or no change).
    pub written: bool,
    /// `config-apply` only: the daemon restarts to take some changes, now (not in a call) or
    /// when the call ends.
    pub restart: Option<RestartWhen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartWhen {
    Now,
    AfterTheCall,
}

/// Where a configuration error is, as `salle config check` says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigLocation {
    /// 1-based; 0 when the error is not in the text (e.g. the file cannot be written).
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field; empty for syntax errors.
    pub field: String,
}

/// Which picture a snapshot is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotSource {
    /// What the room's camera sees.
    Camera,
    /// What the room's screen shows.
    Screen,
}

/// A JPEG picture taken for a remote administrator (the room's screen said so meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub source: SnapshotSource,
    pub width: u32,
    pub height: u32,
    /// The JPEG file, base64 (standard alphabet, padded).
    pub jpeg_base64: String,
}

/// One line of the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// "error", "warn", "info", "debug", "trace".
    pub level: String,
    /// Where it came from: "daemon" (the in-memory ring) or "journal".
    pub source: String,
    pub message: String,
}

/// Recent logs, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logs {
    pub lines: Vec<LogLine>,
    /// Why the journal's lines are missing (not under systemd, journalctl absent...).
    #[serde(default)]
    pub journal_error: Option<String>,
}

/// Everything support needs in one download (no secrets in any of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// When the bundle was made, milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub versions: Versions,
    pub status: super::DaemonStatus,
    pub config: ConfigView,
    pub logs: Logs,
    /// Every camera, microphone, speaker and button line found, as `salle devices` lists them.
    pub inventory: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    pub salle: String,
    pub api: String,
    pub gstreamer: Option<String>,
    /// `uname -srm`.
    pub kernel: Option<String>,
    /// PRETTY_NAME of /etc/os-release.
    pub os: Option<String>,
}

/// Prometheus figures, in the text exposition format (version 0.0.4), ready to serve at
/// `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub text: String,
}

/// One change in the status tree, sent to a subscriber: the new value at one subscribed path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// The subscribed path (dotted, into the status JSON: `call`, `devices.camera`).
    pub path: String,
    /// Its new value; `null` when the path is absent now.
    pub value: serde_json::Value,
}

/// The first-start setup: the one-time code that claims the room in the web console, and the
/// fingerprint of the console's HTTPS certificate. Only in answers on the local control
/// socket (and on the room's screen), never in answers to remote requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStatus {
    /// None once the room is claimed (the web surface hands an empty code).
    pub code: Option<String>,
    /// SHA-256 of the certificate, `AB:CD:...`.
    pub fingerprint: Option<String>,
    /// The console's address(es), e.g. `https://192.0.2.7:8443/`.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// What management-related state the room shows (in `salle status` and the events).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementStatus {
    pub api: String,
    /// The room's screen says a remote administrator is viewing it (a snapshot is being taken).
    pub remote_viewing: bool,
    /// The room identifies itself (LEDs blink, the name is on the screen) until this time on
    /// the daemon's monotonic clock.
    pub identify_until_ms: Option<u64>,
    /// Settings changed on disk that wait for a restart.
    pub restart_pending: Vec<String>,
    /// The last automatic rollback of the configuration, and why it happened.
    pub last_rollback: Option<String>,
    /// The room screen's language: "fr" or "en".
    pub language: String,
}
