//! The daemon's management requests: answers them from what the daemon gives it (its status),
//! and tells the daemon what to do beyond answering (restart, reboot).

use super::diff::{diff, takes_effect};
use super::store::ConfigStore;
use super::trial::{judge, Verdict, Working};
use super::{logs, metrics, secrets};
use crate::api::{
    Answer, ApiError, ConfigLocation, ConfigReport, ConfigView, DaemonStatus, Diagnostics,
    ManagementStatus, Metrics, Origin, Request, RestartWhen, SetupStatus, TakesEffect, Versions,
    API_VERSION,
};
use crate::config::{Config, ConfigError};
use crate::i18n::Text;
use crate::room::management::{in_a_meeting, snapshot_allowed};
use crate::room::{DeviceKind, LedPattern, LedState};
use std::path::{Path, PathBuf};

/// What the daemon must do after answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop, for systemd to start the daemon again (on new settings); the reason is logged.
    Restart(String),
    /// Reboot the device.
    Reboot,
}

/// Lines of log a request gets unless it asks for another number.
const DEFAULT_LOG_LINES: usize = 200;

pub struct Manager {
    store: Option<ConfigStore>,
    /// The settings in effect (those taken at once included).
    running: Config,
    setup: SetupStatus,
    restart_pending: Vec<String>,
    last_rollback: Option<String>,
    /// What worked before the settings the daemon started on, when they are on trial.
    trial: Option<Working>,
    /// The meeting service's last health check (None: not answered yet).
    service: Option<Result<(), String>>,
    /// The room identifies itself until then (daemon's monotonic clock, ms).
    identify_until_ms: Option<u64>,
}

/// How long the room identifies itself (LEDs blinking, its name on the screen).
pub const IDENTIFY_MS: u64 = 30_000;

impl Manager {
    pub fn new(config: &Config, config_file: Option<&Path>) -> Manager {
        let store = config_file.map(ConfigStore::new);
        let read = |suffix: &str| {
            let path = side_file(store.as_ref()?, suffix);
            std::fs::read_to_string(path).ok()
        };
        let trial = read(".trial").and_then(|t| serde_json::from_str(&t).ok());
        let last_rollback = read(".rollback").map(|r| r.trim().to_string());
        Manager {
            store,
            running: config.clone(),
            setup: SetupStatus::default(),
            restart_pending: Vec::new(),
            last_rollback,
            trial,
            service: None,
            identify_until_ms: None,
        }
    }

    /// The requests this module answers (the others are the room's).
    pub fn handles(request: &Request) -> bool {
        !matches!(
            request,
            Request::Status
                | Request::Join { .. }
                | Request::Leave
                | Request::Mute { .. }
                | Request::Camera { .. }
                | Request::Press { .. }
        )
    }

    /// The settings in effect.
    pub fn config(&self) -> &Config {
        &self.running
    }

    pub fn setup(&self) -> &SetupStatus {
        &self.setup
    }

    pub fn status(&self) -> ManagementStatus {
        ManagementStatus {
            api: API_VERSION.into(),
            remote_viewing: false,
            identify_until_ms: self.identify_until_ms,
            restart_pending: self.restart_pending.clone(),
            last_rollback: self.last_rollback.clone(),
            language: self.running.room.language.code().into(),
        }
    }

    /// The LEDs while the room identifies itself (both blinking), None otherwise; the time
    /// is the daemon's monotonic clock. Ends identification when its time is up.
    pub fn identify_leds(&mut self, now_ms: u64) -> Option<LedState> {
        let until = self.identify_until_ms?;
        if now_ms >= until {
            self.identify_until_ms = None;
            return None;
        }
        Some(LedState {
            status: LedPattern::Blink,
            mute: LedPattern::Blink,
        })
    }

    /// Lines for the bottom of the room's own screen, in the room's language: the setup code
    /// and the certificate's fingerprint until the room is claimed.
    pub fn screen_lines(&self) -> Vec<String> {
        let language = self.running.room.language;
        let mut lines = Vec::new();
        if self.identify_until_ms.is_some() {
            lines.push(language.fill(Text::ThisRoomIs, &self.running.room.name));
        }
        let Some(code) = &self.setup.code else {
            return lines;
        };
        lines.push(language.fill(Text::SetupCode, code));
        lines.extend(self.setup.urls.iter().cloned());
        lines.extend(
            (self.setup.fingerprint.iter()).map(|f| language.fill(Text::SetupFingerprint, f)),
        );
        lines
    }

    /// The work of a request that reads the disk or runs programs (logs with the journal,
    /// diagnostics with the device inventory), to be done off the daemon's main loop so a call
    /// never waits for it: what it needs of the daemon is taken now, the rest is in the
    /// returned work. None for every other request (`handle` answers them).
    pub fn slow(
        &self,
        request: &Request,
        status: &DaemonStatus,
    ) -> Option<Box<dyn FnOnce() -> Answer + Send>> {
        match request {
            Request::Logs { lines } => {
                let lines = lines.unwrap_or(DEFAULT_LOG_LINES);
                Some(Box::new(move || Answer::Logs {
                    ok: true,
                    logs: logs::recent(lines),
                }))
            }
            Request::Diagnostics => {
                let mut status = status.clone();
                status.setup = None;
                let config = self.view();
                Some(Box::new(move || match config {
                    Err(e) => Answer::from(e),
                    Ok(config) => Answer::Diagnostics {
                        ok: true,
                        diagnostics: Box::new(diagnostics(status, config)),
                    },
                }))
            }
            _ => None,
        }
    }

    /// Answers one request; `status` is the daemon's status as the asker may see it.
    pub fn handle(
        &mut self,
        request: Request,
        origin: Origin,
        status: &DaemonStatus,
    ) -> (Answer, Option<Action>) {
        match self.answer(request, origin, status) {
            Ok(done) => done,
            Err(error) => (Answer::from(error), None),
        }
    }

    fn answer(
        &mut self,
        request: Request,
        origin: Origin,
        status: &DaemonStatus,
    ) -> Result<(Answer, Option<Action>), ApiError> {
        let busy = in_a_meeting(&status.room.call);
        let answer = match request {
            Request::ConfigGet => Answer::Config {
                ok: true,
                config: self.view()?,
            },
            Request::ConfigCheck { text } => {
                let (_, config) = self.check(&text)?;
                Answer::Report {
                    ok: true,
                    report: ConfigReport {
                        changes: diff(&self.running, &config),
                        written: false,
                        restart: None,
                    },
                }
            }
            Request::ConfigApply { text } => {
                let (text, config) = self.check(&text)?;
                return self.apply(&text, config, status);
            }
            Request::ConfigRollback => {
                let store = self.store.as_ref().ok_or(ApiError::NoConfigFile)?;
                if !store.has_previous() {
                    return Err(ApiError::NoPreviousConfig);
                }
                let previous = std::fs::read_to_string(store.previous_path())
                    .map_err(|e| ApiError::ConfigWriteFailed(e.to_string()))?;
                let config = parse(&previous, store.path())?;
                return self.apply(&previous, config, status);
            }
            Request::Restart { force } | Request::Reboot { force } if busy && !force => {
                return Err(ApiError::InACall)
            }
            Request::Restart { .. } => {
                let why = format!("restart asked ({})", origin_name(origin));
                return Ok((Answer::done("restarting"), Some(Action::Restart(why))));
            }
            Request::Reboot { .. } => {
                return Ok((Answer::done("rebooting"), Some(Action::Reboot)));
            }
            Request::Snapshot { .. } => {
                if !snapshot_allowed(
                    &status.room.call,
                    self.running.management.snapshots_in_calls,
                ) {
                    return Err(ApiError::SnapshotsNotInCalls);
                }
                return Err(ApiError::NotYet("snapshots".into()));
            }
            Request::Identify => {
                self.identify_until_ms = Some(status.uptime_ms + IDENTIFY_MS);
                Answer::done("identifying for 30 s")
            }
            Request::TestTone => return Err(ApiError::NotYet("test tone".into())),
            Request::Logs { .. } | Request::Diagnostics => match self.slow(&request, status) {
                Some(work) => work(),
                None => return Err(ApiError::BadRequest("not a slow request".into())),
            },
            Request::Metrics => Answer::Metrics {
                ok: true,
                metrics: Metrics {
                    text: metrics::render(status),
                },
            },
            Request::Setup {
                code,
                fingerprint,
                urls,
            } => {
                // The connection refuses it from remote already; this is the second lock.
                if origin != Origin::InRoom {
                    return Err(ApiError::LocalOnly);
                }
                self.setup = SetupStatus {
                    code: code.filter(|c| !c.trim().is_empty()),
                    fingerprint,
                    urls,
                };
                Answer::done(if self.setup.code.is_some() {
                    "setup code shown"
                } else {
                    "room claimed: setup code no longer shown"
                })
            }
            Request::Subscribe { .. } => {
                return Err(ApiError::BadRequest(
                    "subscribe is served by the socket, not the daemon".into(),
                ))
            }
            Request::Status
            | Request::Join { .. }
            | Request::Leave
            | Request::Mute { .. }
            | Request::Camera { .. }
            | Request::Press { .. } => {
                return Err(ApiError::BadRequest("not a management request".into()))
            }
        };
        Ok((answer, None))
    }

    fn view(&self) -> Result<ConfigView, ApiError> {
        Ok(match &self.store {
            None => ConfigView {
                file: None,
                text: String::new(),
                has_previous: false,
                restart_pending: self.restart_pending.clone(),
            },
            Some(store) => ConfigView {
                file: Some(store.path().display().to_string()),
                text: secrets::redact(
                    &store
                        .read()
                        .map_err(|e| ApiError::Unavailable(format!("configuration: {e}")))?,
                ),
                has_previous: store.has_previous(),
                restart_pending: self.restart_pending.clone(),
            },
        })
    }

    /// The text with its secrets put back, and the configuration it makes (or where it is
    /// wrong, as `salle config check` says).
    fn check(&self, text: &str) -> Result<(String, Config), ApiError> {
        let store = self.store.as_ref().ok_or(ApiError::NoConfigFile)?;
        let current = store.read().unwrap_or_default();
        let text = secrets::restore(text, &current);
        let config = parse(&text, store.path())?;
        Ok((text, config))
    }

    fn apply(
        &mut self,
        text: &str,
        config: Config,
        status: &DaemonStatus,
    ) -> Result<(Answer, Option<Action>), ApiError> {
        let store = self.store.as_ref().ok_or(ApiError::NoConfigFile)?;
        let changes = diff(&self.running, &config);
        let written = store.read().map_or(true, |current| current != text);
        if written {
            store
                .write(text)
                .map_err(|e| ApiError::ConfigWriteFailed(e.to_string()))?;
            tracing::info!(
                "configuration written: {}",
                changes
                    .iter()
                    .map(|c| c.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        // What can be taken at once is; the rest waits for a restart.
        self.running.management = config.management.clone();
        self.restart_pending = changes
            .iter()
            .filter(|c| c.takes_effect == TakesEffect::Restart)
            .map(|c| c.field.clone())
            .collect();
        debug_assert!(changes
            .iter()
            .all(|c| takes_effect(&c.field) == c.takes_effect));
        let mut action = None;
        let restart = if self.restart_pending.is_empty() {
            None
        } else if in_a_meeting(&status.room.call) {
            Some(RestartWhen::AfterTheCall)
        } else {
            action = self.restart_onto_new_settings(status);
            Some(RestartWhen::Now)
        };
        Ok((
            Answer::Report {
                ok: true,
                report: ConfigReport {
                    changes,
                    written,
                    restart,
                },
            },
            action,
        ))
    }

    /// Puts the new settings on trial (what works now is recorded) and restarts onto them.
    fn restart_onto_new_settings(&mut self, status: &DaemonStatus) -> Option<Action> {
        let store = self.store.as_ref()?;
        let working = Working {
            service_reachable: self.service.as_ref().map(Result::is_ok),
            devices: real_devices(status),
        };
        let record = serde_json::to_string(&working).expect("serialises");
        if let Err(e) = std::fs::write(side_file(store, ".trial"), record) {
            tracing::warn!("cannot record what works before new settings: {e}");
        }
        Some(Action::Restart(format!(
            "new settings: {}",
            self.restart_pending.join(", ")
        )))
    }

    /// A restart waiting for the call to end, now due.
    pub fn restart_due(&mut self, status: &DaemonStatus) -> Option<Action> {
        if self.restart_pending.is_empty() || in_a_meeting(&status.room.call) {
            return None;
        }
        self.restart_onto_new_settings(status)
    }

    /// The meeting service's health check answered (None: reachable).
    pub fn service_checked(&mut self, problem: Option<&str>) {
        self.service = Some(match problem {
            None => Ok(()),
            Some(problem) => Err(problem.to_string()),
        });
    }

    /// While settings are on trial: keeps them once they prove to work as well as the previous
    /// ones, or puts the previous ones back and restarts when they broke something.
    pub fn judge_trial(&mut self, status: &DaemonStatus) -> Option<Action> {
        let before = self.trial.as_ref()?;
        let store = self.store.as_ref()?;
        let service_checked = self
            .running
            .meeting
            .url
            .as_deref()
            .and_then(|u| crate::signal::MeetingTarget::parse(u).ok())
            .is_some_and(|t| t.origin().is_some());
        match judge(
            before,
            &real_devices(status),
            service_checked,
            self.service.as_ref(),
        ) {
            Verdict::Wait => None,
            Verdict::Keep => {
                tracing::info!("the new settings work: kept");
                let _ = std::fs::remove_file(side_file(store, ".trial"));
                self.trial = None;
                None
            }
            Verdict::RollBack(reason) => {
                tracing::warn!("{reason}: rolling the settings back");
                let _ = std::fs::remove_file(side_file(store, ".trial"));
                self.trial = None;
                if let Err(e) = store.rollback() {
                    tracing::error!("cannot roll the settings back: {e}");
                    return None;
                }
                let _ = std::fs::write(side_file(store, ".rollback"), &reason);
                self.last_rollback = Some(reason.clone());
                Some(Action::Restart(format!("settings rolled back: {reason}")))
            }
        }
    }
}

/// The diagnostics bundle (the slow part: logs, device inventory, versions).
fn diagnostics(status: DaemonStatus, config: ConfigView) -> Diagnostics {
    Diagnostics {
        time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        versions: versions(),
        status,
        config,
        logs: logs::recent(1000),
        inventory: serde_json::to_value(crate::hw::inventory::Inventory::scan())
            .unwrap_or_default(),
    }
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::InRoom => "on the device",
        Origin::Remote => "remotely",
    }
}

fn side_file(store: &ConfigStore, suffix: &str) -> PathBuf {
    let mut name = store.path().as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn real_devices(status: &DaemonStatus) -> Vec<DeviceKind> {
    let devices = &status.room.devices;
    [
        (DeviceKind::Camera, &devices.camera),
        (DeviceKind::Microphone, &devices.microphone),
        (DeviceKind::Speaker, &devices.speaker),
    ]
    .into_iter()
    .filter(|(_, d)| d.present && !d.simulated)
    .map(|(k, _)| k)
    .collect()
}

fn parse(text: &str, file: &Path) -> Result<Config, ApiError> {
    crate::config::parse(text, file).map_err(|e: ConfigError| ApiError::InvalidConfig {
        message: e.to_string(),
        location: ConfigLocation {
            line: e.line,
            column: e.column,
            field: e.field.clone(),
        },
    })
}

fn versions() -> Versions {
    let first_line = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    Versions {
        salle: env!("CARGO_PKG_VERSION").into(),
        api: API_VERSION.into(),
        gstreamer: crate::media::init()
            .ok()
            .map(|_| gstreamer::version_string().to_string()),
        kernel: first_line("uname", &["-srm"]),
        os,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_code_is_on_the_screen_in_the_rooms_language_until_claimed() {
        let config =
            crate::config::parse("[room]\nname = \"Salle\"\n", Path::new("x.toml")).unwrap();
        let mut manager = Manager::new(&config, None);
        assert!(manager.screen_lines().is_empty());
        manager.setup = SetupStatus {
            code: Some("482-913".into()),
            fingerprint: Some("AB:CD".into()),
            urls: vec!["https://192.0.2.7:8443/".into()],
        };
        assert_eq!(
            manager.screen_lines(),
            [
                "Code d'installation : 482-913",
                "https://192.0.2.7:8443/",
                "Empreinte du certificat : AB:CD"
            ]
        );
        manager.running.room.language = crate::i18n::Language::En;
        assert_eq!(manager.screen_lines()[0], "Setup code: 482-913");
        manager.setup.code = None;
        assert!(manager.screen_lines().is_empty(), "claimed");
        // Identify: the name on the screen and the LEDs blinking, for 30 s.
        manager.identify_until_ms = Some(1000 + IDENTIFY_MS);
        assert_eq!(manager.screen_lines(), ["This room is Salle"]);
        assert!(manager.identify_leds(1000).is_some());
        assert!(manager.identify_leds(1000 + IDENTIFY_MS).is_none());
        assert!(manager.screen_lines().is_empty());
    }

    #[test]
    fn the_management_socket_cannot_be_the_control_socket() {
        let e = crate::config::parse(
            "[control]\nsocket = \"/run/x.sock\"\n[management]\nsocket = \"/run/x.sock\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("management.socket", 4));
    }
}
