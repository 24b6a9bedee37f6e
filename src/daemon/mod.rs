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
use crate::manage::{Action, Manager};
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

    let mut manager = Manager::new(&config, config_file.as_deref());
    let socket =
        control::server_socket_path(&config).map_err(|e| format!("control socket: {e}"))?;
    // The management socket first: once the control socket answers, both do.
    let manage_socket = control::manage_socket_path(&config, &socket);
    let manage_group = (config.management.group.as_ref()).unwrap_or(&config.control.group);
    let manage_listener = control::bind(&manage_socket, manage_group)
        .map_err(|e| format!("management socket {}: {e}", manage_socket.display()))?;
    let listener = control::bind(&socket, &config.control.group)
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    let feed = control::status_feed();
    // Subscriptions check their paths against it from the first connection on.
    feed.send_replace(
        serde_json::to_value(daemon_status(
            &room,
            &devices,
            &effects,
            &manager,
            &config_file,
            now_ms(),
            Origin::Remote,
        ))
        .expect("status serialises"),
    );
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(16);
    for (listener, origin, name) in [
        (listener, Origin::InRoom, "control socket"),
        (manage_listener, Origin::Remote, "management socket"),
    ] {
        let problem = events.clone();
        let serving = control::serve(listener, origin, control_tx.clone(), feed.clone());
        tokio::spawn(async move {
            if let Err(e) = serving.await {
                let _ = problem
                    .send(self::problem(ProblemSource::ControlSocket, name, e))
                    .await;
            }
        });
    }
    drop(control_tx);
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
    effects.show_screen(now_ms(), &room.status(), devices.selection());

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
    // Why the daemon stops to be started again (new settings, a request), if it does.
    let mut restart: Option<String> = None;
    let mut identifying = false;

    loop {
        // No ticking: the loop sleeps until the next event, or until the room or the wall
        // clock's next minute needs it (time is an input). The media worker looks after the
        // screen's own timers.
        let room_wake = room.wake_at().map(|ms| started + Duration::from_millis(ms));
        let manage_wake = (manager.wake_at()).map(|ms| started + Duration::from_millis(ms));
        let minute = Instant::now() + screen_power::until_next_minute();
        let wake = [room_wake, manage_wake, Some(minute)]
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
                    // The meeting service's health check, for settings on trial.
                    match &input {
                        Input::Problem(p) if p.source == ProblemSource::MeetingService => {
                            manager.service_checked(Some(&p.summary))
                        }
                        Input::ProblemGone(ProblemSource::MeetingService) => {
                            manager.service_checked(None)
                        }
                        _ => {}
                    }
                    let step = room.handle(now_ms(), input);
                    effects.apply(step.effects, devices.selection());
                }
                Event::Control(ControlRequest {
                    request,
                    origin,
                    reply,
                }) if Manager::handles(&request) => {
                    let status = daemon_status(
                        &room,
                        &devices,
                        &effects,
                        &manager,
                        &config_file,
                        now_ms(),
                        origin,
                    );
                    // Reading the disk or running programs is done off the loop: a call never
                    // waits for a diagnostics bundle.
                    if let Some(work) = manager.slow(&request, &status) {
                        tokio::task::spawn_blocking(move || reply.send(work()));
                    } else {
                        let (answer, action) = manager.handle(request, origin, &status);
                        let _ = reply.send(answer);
                        if let Some(why) = action.and_then(act) {
                            restart = Some(why);
                            break;
                        }
                    }
                }
                Event::Control(ControlRequest {
                    request,
                    origin,
                    reply,
                }) => {
                    let refused = match control_input(request, origin) {
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
                        None => Answer::status(daemon_status(
                            &room,
                            &devices,
                            &effects,
                            &manager,
                            &config_file,
                            now_ms(),
                            origin,
                        )),
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
        // Identify: the LEDs blink while it lasts, then show the room's state again.
        let identify = manager.identify_leds(now_ms());
        if identify.is_some() != identifying {
            identifying = identify.is_some();
            let leds = identify.unwrap_or(room.status().leds);
            effects.apply(vec![crate::room::Effect::Leds(leds)], devices.selection());
        }
        // The screen follows the room, the clock and the captions; only changes are redrawn.
        effects.show_screen(now_ms(), &room.status(), devices.selection());
        // Management: new settings on trial, a restart waiting for the call's end, subscribers.
        let status = daemon_status(
            &room,
            &devices,
            &effects,
            &manager,
            &config_file,
            now_ms(),
            Origin::Remote,
        );
        if let Some(why) = (manager.judge_trial(&status))
            .or_else(|| manager.restart_due(&status))
            .and_then(act)
        {
            restart = Some(why);
            break;
        }
        if feed.receiver_count() > 0 {
            feed.send_replace(serde_json::to_value(&status).expect("status serialises"));
        }
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
    if restart.is_some() {
        // The answer to the request that asked for it is on its way to the client.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&manage_socket);
    match restart {
        // A failure exit: systemd's Restart=on-failure starts the daemon again.
        Some(why) => Err(format!("restarting: {why}")),
        None => Ok(()),
    }
}

/// Carries out a management action; returns why the daemon must stop, when it must.
fn act(action: Action) -> Option<String> {
    match action {
        Action::Restart(why) => Some(why),
        Action::Reboot => {
            tracing::warn!("rebooting the device (asked by management)");
            crate::system::reboot::reboot();
            None
        }
    }
}

/// Everything `salle status` shows, as `origin` may see it (the setup code only locally).
fn daemon_status(
    room: &Room,
    devices: &devices::Devices,
    effects: &effects::Effects,
    manager: &Manager,
    config_file: &Option<PathBuf>,
    uptime_ms: u64,
    origin: Origin,
) -> DaemonStatus {
    DaemonStatus {
        room: room.status(),
        version: env!("CARGO_PKG_VERSION").into(),
        config_file: config_file.as_ref().map(|p| p.display().to_string()),
        simulated: devices.simulated(),
        selection: devices.selection().clone(),
        speakerphones: effects.speakerphones().status(),
        media: effects.media_status(),
        session: effects.session_status(),
        uptime_ms,
        management: manager.status(),
        setup: (origin == Origin::InRoom).then(|| manager.setup().clone()),
    }
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
fn control_input(request: Request, origin: Origin) -> Option<Result<Input, ApiError>> {
    let command = |command| Some(Ok(Input::Command { origin, command }));
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
        // A virtual press is a press in the room: only people in the room press buttons.
        Request::Press { .. } if origin == Origin::Remote => Some(Err(ApiError::Forbidden(
            "buttons are pressed in the room only".into(),
        ))),
        Request::Press { button, long } => Some(Ok(Input::Button {
            button,
            press: if long { Press::Long } else { Press::Short },
        })),
        // Served by the management module (see `Manager::handles`).
        _ => Some(Err(ApiError::BadRequest("not a room request".into()))),
    }
}
