//! The daemon: feeds the room state machine with everything that happens, and carries out
//! what it decides. All decisions are in `room`; this module only wires inputs and drivers.

mod calendar;
mod devices;
mod effects;
mod gpio;
mod media;
mod screen_power;
mod service_check;
mod speakerphone;

use crate::api::{Answer, ApiError, DaemonStatus, Request};
use crate::config::Config;
use crate::control::{self, ControlRequest};
use crate::room::{
    Command, DeviceKind, Input, MediaEvent, Origin, Press, ProblemReport, ProblemSource, Room,
};
use crate::signal::MeetingTarget;
use crate::system::notify;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Everything that reaches the main loop.
pub enum Event {
    Room(Input),
    Control(ControlRequest),
    /// Devices may have changed (udev event).
    Hotplug,
    /// What a rescan after a hotplug event found.
    Scanned(Box<crate::hw::inventory::Inventory>),
    /// A media pipeline failed, or runs: its driver learns it first (a failed pipeline is
    /// closed), then the room.
    Media(MediaEvent),
    /// A speakerphone's mute button or LED stopped working (unplugged, an I/O error).
    SpeakerphoneLost {
        id: u64,
        reason: String,
    },
}

/// A driver's problem, for the room.
pub fn problem(source: ProblemSource, summary: &str, detail: impl ToString) -> Event {
    Event::Room(Input::Problem(
        ProblemReport::new(source, summary).with_detail(detail.to_string()),
    ))
}

/// The cause of a driver's problem is gone.
pub fn problem_gone(source: ProblemSource) -> Event {
    Event::Room(Input::ProblemGone(source))
}

/// How the daemon was started.
pub struct Options {
    pub config: Config,
    /// The file the config came from; None when running on defaults.
    pub config_file: Option<PathBuf>,
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(options: Options) -> Result<(), String> {
    let Options {
        config,
        config_file,
    } = options;
    let started = Instant::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let (events, mut inbox) = mpsc::channel::<Event>(256);

    match &config_file {
        Some(path) => tracing::info!("configuration {}", path.display()),
        None => tracing::info!("no configuration file: running on defaults"),
    }
    let network = &config.network;
    let proxy = crate::net::proxy::Proxy::from_settings(
        network.proxy.as_deref(),
        network.proxy_credentials_file.as_deref(),
        |name| std::env::var(name).ok(),
    )
    .map_err(|e| format!("HTTP proxy (from [network] proxy or https_proxy): {e}"))?;
    crate::net::proxy::install(proxy);
    let mut room = Room::new(config.room_settings(), now_ms());
    let mut devices = devices::Devices::start(&config, events.clone()).await;
    if devices.selection().any_simulated() {
        tracing::warn!(
            "running with simulated devices: {}",
            devices.simulated().join(", ")
        );
    }
    let mut problems: Vec<ProblemReport> = Vec::new();
    // An installer must learn at once which package is missing, not from a call without video.
    match crate::media::init() {
        Ok(()) => problems.extend(crate::media::elements::missing_required().iter().map(|m| {
            ProblemReport::new(ProblemSource::Installation(m.element.into()), m.to_string())
        })),
        Err(e) => problems.push(
            ProblemReport::new(ProblemSource::Installation("gstreamer".into()), "GStreamer")
                .with_detail(e),
        ),
    }
    let leds = gpio::start(&config, events.clone(), &mut problems);
    let mut effects = effects::Effects::new(
        &config,
        leds,
        media::MediaWorker::start(&config, events.clone()),
        events.clone(),
    );
    problems.extend(effects.network_problem());
    calendar::start(&config, events.clone(), &mut problems);
    service_check::start(&config, events.clone());
    let mut speakerphones_reported = Vec::new();
    let inputs = problems.into_iter().map(Input::Problem);
    let inputs = inputs.chain(speakerphone_problems(&effects, &mut speakerphones_reported));
    for input in inputs.collect::<Vec<_>>() {
        let step = room.handle(now_ms(), input);
        effects.apply(step.effects, devices.selection());
    }

    let socket =
        control::server_socket_path(&config).map_err(|e| format!("control socket: {e}"))?;
    let listener = control::bind(&socket, &config.control.group)
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(16);
    let problem = events.clone();
    tokio::spawn(async move {
        if let Err(e) = control::serve(listener, control_tx).await {
            let _ = problem
                .send(self::problem(
                    ProblemSource::ControlSocket,
                    "control socket",
                    e,
                ))
                .await;
        }
    });
    let forward = events.clone();
    tokio::spawn(async move {
        while let Some(request) = control_rx.recv().await {
            if forward.send(Event::Control(request)).await.is_err() {
                return;
            }
        }
    });

    effects.apply(room.initial_effects(), devices.selection());
    for kind in DeviceKind::ALL {
        let step = room.handle(
            now_ms(),
            Input::Device {
                kind,
                presence: devices.selection().presence(kind),
            },
        );
        effects.apply(step.effects, devices.selection());
    }
    // The wall clock from the start (working hours), then at each minute.
    let step = room.handle(now_ms(), Input::Clock(screen_power::wall_time()));
    effects.apply(step.effects, devices.selection());
    // Every device known: the room may join its meeting (`[meeting] auto_join`).
    let step = room.handle(now_ms(), Input::Started);
    effects.apply(step.effects, devices.selection());

    // From start-up on: the room's name, address and problems within seconds.
    effects.show_screen(&room.status(), devices.selection());

    let status_line = |room: &Room| {
        let s = room.status();
        format!("{}: {}", s.room, s.call.name())
    };
    notify::ready(&status_line(&room));
    tracing::info!("room \"{}\" ready", config.room.name);

    let watchdog_every = notify::watchdog_interval().unwrap_or(Duration::from_secs(3600));
    let mut watchdog = tokio::time::interval(watchdog_every);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    let mut last_status = status_line(&room);

    loop {
        // No ticking: the loop sleeps until the next event, or until the room or the wall
        // clock's next minute needs it (time is an input). The media worker looks after the
        // screen's own timers.
        let room_wake = room.wake_at().map(|ms| started + Duration::from_millis(ms));
        let minute = Instant::now() + screen_power::until_next_minute();
        let wake = [room_wake, Some(minute)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(minute);
        let event = tokio::select! {
            event = inbox.recv() => match event { Some(e) => Some(e), None => break },
            // With the wall clock: the screen sleeps outside working hours.
            _ = tokio::time::sleep_until(wake.into()) => {
                Some(Event::Room(Input::Clock(screen_power::wall_time())))
            }
            // The meeting's captions or recording changed: only the screen needs redrawing.
            _ = effects.screen_changed() => None,
            // Fed from the main loop itself: if the loop hangs, systemd restarts us.
            _ = watchdog.tick() => { notify::watchdog(); continue; }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        // None: nothing for the room, only the screen to redraw.
        if let Some(event) = event {
            match event {
                Event::Room(input) => {
                    let step = room.handle(now_ms(), input);
                    effects.apply(step.effects, devices.selection());
                }
                Event::Control(ControlRequest { request, reply }) => {
                    let refused = match control_input(request) {
                        None => None,
                        Some(Err(error)) => Some(error),
                        Some(Ok(input)) => {
                            let step = room.handle(now_ms(), input);
                            effects.apply(step.effects, devices.selection());
                            step.refused.map(ApiError::from)
                        }
                    };
                    let response = match refused {
                        Some(error) => Answer::from(error),
                        None => Answer::status(DaemonStatus {
                            room: room.status(),
                            version: env!("CARGO_PKG_VERSION").into(),
                            config_file: config_file.as_ref().map(|p| p.display().to_string()),
                            simulated: devices.simulated(),
                            selection: devices.selection().clone(),
                            speakerphones: effects.speakerphones().status(),
                            media: effects.media_status(),
                            session: effects.session_status(),
                            uptime_ms: now_ms(),
                        }),
                    };
                    let _ = reply.send(response);
                }
                Event::Hotplug => {
                    devices.rescan(&events);
                    effects.speakerphones_mut().rescan();
                    for input in speakerphone_problems(&effects, &mut speakerphones_reported) {
                        let step = room.handle(now_ms(), input);
                        effects.apply(step.effects, devices.selection());
                    }
                }
                Event::Scanned(inventory) => {
                    for (kind, presence) in devices.scanned(&inventory, &events) {
                        tracing::info!(
                            "{}: {}",
                            kind.name(),
                            if presence.present { "present" } else { "lost" }
                        );
                        let step = room.handle(now_ms(), Input::Device { kind, presence });
                        effects.apply(step.effects, devices.selection());
                    }
                }
                Event::Media(event) => {
                    if let MediaEvent::Failed {
                        part,
                        summary,
                        reason,
                    } = &event
                    {
                        tracing::warn!("media: {summary}: {reason}");
                        effects.media_failed(*part);
                    }
                    let step = room.handle(now_ms(), Input::Media(event));
                    effects.apply(step.effects, devices.selection());
                }
                Event::SpeakerphoneLost { id, reason } => {
                    effects.speakerphones_mut().lose(id, &reason);
                    for input in speakerphone_problems(&effects, &mut speakerphones_reported) {
                        let step = room.handle(now_ms(), input);
                        effects.apply(step.effects, devices.selection());
                    }
                }
            }
        }
        // The screen follows the room, the clock and the captions; only changes are redrawn.
        effects.show_screen(&room.status(), devices.selection());
        let line = status_line(&room);
        if line != last_status {
            tracing::info!("{line}");
            notify::status(&line);
            last_status = line;
        }
    }

    notify::stopping();
    tracing::info!("stopping");
    let step = room.handle(
        now_ms(),
        Input::Command {
            origin: Origin::InRoom,
            command: Command::Leave,
        },
    );
    effects.apply(step.effects, devices.selection());
    effects.shutdown().await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// Tells the room about the speakerphones' problems: those of devices that failed or are
/// missing now, and the end of those that came back (`reported` is what it was told last).
fn speakerphone_problems(
    effects: &effects::Effects,
    reported: &mut Vec<ProblemSource>,
) -> Vec<Input> {
    let now_problems = effects.speakerphones().problems();
    let gone = reported
        .iter()
        .filter(|gone| !now_problems.iter().any(|p| &p.source == *gone))
        .map(|gone| Input::ProblemGone(gone.clone()));
    let mut inputs: Vec<Input> = gone.collect();
    *reported = now_problems.iter().map(|p| p.source.clone()).collect();
    inputs.extend(now_problems.into_iter().map(Input::Problem));
    inputs
}

/// The room input for a control request; None for a plain status query. A request the room
/// must never see (a join to an address that is not a meeting) is refused here, before
/// anything changes.
fn control_input(request: Request) -> Option<Result<Input, ApiError>> {
    let command = |command| {
        Some(Ok(Input::Command {
            origin: Origin::InRoom,
            command,
        }))
    };
    match request {
        Request::Status => None,
        Request::Join { url: Some(url) } => match MeetingTarget::parse(&url) {
            Ok(_) => command(Command::Join { url: Some(url) }),
            Err(e) => Some(Err(ApiError::NotAMeeting(e))),
        },
        Request::Join { url: None } => command(Command::Join { url: None }),
        Request::Leave => command(Command::Leave),
        Request::Mute { muted } => command(Command::SetMicMuted { muted }),
        Request::Camera { off } => command(Command::SetCameraOff { off }),
        Request::Press { button, long } => Some(Ok(Input::Button {
            button,
            press: if long { Press::Long } else { Press::Short },
        })),
    }
}
