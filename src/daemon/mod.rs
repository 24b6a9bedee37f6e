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
use crate::room::{Command, DeviceKind, Input, MediaEvent, Origin, Press, Room};
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
    /// A driver hit a problem people must know about, without stopping the room.
    Problem(String),
    /// A media pipeline failed or could not start.
    MediaProblem {
        part: media::MediaPart,
        reason: String,
    },
    /// The meeting service's health check: why it cannot be reached, or None when it can.
    ServiceCheck(Option<String>),
    /// A speakerphone's mute button or LED stopped working (unplugged, an I/O error).
    SpeakerphoneLost {
        id: u64,
        reason: String,
    },
    /// The network asks the encoder for something.
    EncoderFeedback(crate::rtc::EncoderFeedback),
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
    let mut room = Room::new(config.room_settings(), now_ms());
    let mut devices = devices::Devices::start(&config, events.clone()).await;
    if devices.selection().any_simulated() {
        tracing::warn!(
            "running with simulated devices: {}",
            devices.simulated().join(", ")
        );
    }
    let mut problems: Vec<String> = Vec::new();
    // An installer must learn at once which package is missing, not from a call without video.
    if crate::media::init().is_ok() {
        problems.extend(
            crate::media::elements::missing_required()
                .iter()
                .map(ToString::to_string),
        );
    }
    let leds = gpio::start(&config, events.clone(), &mut problems);
    let mut effects = effects::Effects::new(
        &config,
        leds,
        media::Media::new(&config, events.clone()),
        events.clone(),
    );
    problems.extend(effects.network_problems());
    calendar::start(&config, events.clone(), &mut problems);
    service_check::start(&config, events.clone());
    // Why the meeting service cannot be reached; shown with `problems` while it lasts.
    let mut unreachable: Option<String> = None;

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
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(16);
    for (listener, origin, name) in [
        (listener, Origin::InRoom, "control socket"),
        (manage_listener, Origin::Remote, "management socket"),
    ] {
        let problem = events.clone();
        let serving = control::serve(listener, origin, control_tx.clone(), feed.clone());
        tokio::spawn(async move {
            if let Err(e) = serving.await {
                let _ = problem.send(Event::Problem(format!("{name}: {e}"))).await;
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
    if config.meeting.auto_join {
        let step = room.handle(
            now_ms(),
            Input::Command {
                origin: Origin::InRoom,
                command: Command::Join { url: None },
            },
        );
        effects.apply(step.effects, devices.selection());
    }

    // From start-up on: the room's name, address and problems within seconds.
    effects.show_screen(&room.status(), &problems, devices.selection());

    let status_line = |room: &Room| {
        let s = room.status();
        format!("{}: {}", s.room, s.call.name())
    };
    notify::ready(&status_line(&room));
    tracing::info!("room \"{}\" ready", config.room.name);

    let mut tick = tokio::time::interval(Duration::from_millis(250));
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
    feed.send_replace(
        serde_json::to_value(daemon_status(
            &room,
            &devices,
            &effects,
            &manager,
            &problems,
            &unreachable,
            &config_file,
            now_ms(),
            Origin::Remote,
        ))
        .expect("status serialises"),
    );

    loop {
        let event = tokio::select! {
            event = inbox.recv() => match event { Some(e) => e, None => break },
            // With the wall clock: the screen sleeps outside working hours.
            _ = tick.tick() => Event::Room(Input::Clock(screen_power::wall_time())),
            // Fed from the main loop itself: if the loop hangs, systemd restarts us.
            _ = watchdog.tick() => { notify::watchdog(); continue; }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        match event {
            Event::Room(input) => {
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
                    &problems,
                    &unreachable,
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
                        &problems,
                        &unreachable,
                        &config_file,
                        now_ms(),
                        origin,
                    )),
                };
                let _ = reply.send(response);
            }
            Event::Hotplug => {
                effects.speakerphones_mut().rescan();
                for (kind, presence) in devices.rescan(&events).await {
                    tracing::info!(
                        "{}: {}",
                        kind.name(),
                        if presence.present { "present" } else { "lost" }
                    );
                    let step = room.handle(now_ms(), Input::Device { kind, presence });
                    effects.apply(step.effects, devices.selection());
                }
            }
            Event::MediaProblem { part, reason } => {
                tracing::warn!("media: {reason}");
                effects.media_failed(part);
                let problem = match part {
                    media::MediaPart::Audio => {
                        let step =
                            room.handle(now_ms(), Input::Media(MediaEvent::Failed { reason }));
                        effects.apply(step.effects, devices.selection());
                        None
                    }
                    media::MediaPart::Video => Some(format!("video: {reason}")),
                    media::MediaPart::Screen => Some(reason),
                };
                if let Some(problem) = problem.filter(|p| !problems.contains(p)) {
                    problems.push(problem);
                }
            }
            Event::SpeakerphoneLost { id, reason } => effects.speakerphones_mut().lose(id, &reason),
            Event::EncoderFeedback(feedback) => effects.encoder_feedback(feedback),
            Event::ServiceCheck(problem) => {
                match &problem {
                    Some(problem) => tracing::warn!("{problem}"),
                    None => tracing::info!("meeting service reachable"),
                }
                manager.service_checked(problem.as_deref());
                unreachable = problem;
            }
            Event::Problem(problem) => {
                tracing::warn!("{problem}");
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
        }
        // The screen follows the room, the clock and the captions; only changes are redrawn.
        // Identify: the LEDs blink while it lasts, then show the room's state again.
        let identify = manager.identify_leds(now_ms());
        if identify.is_some() != identifying {
            identifying = identify.is_some();
            let leds = identify.unwrap_or(room.status().leds);
            effects.apply(vec![crate::room::Effect::Leds(leds)], devices.selection());
        }
        // Below the problems, what facilities staff need to read there (the setup code).
        let mut screen_lines = all_problems(&problems, &unreachable, &effects);
        screen_lines.extend(manager.screen_lines());
        effects.show_screen(&room.status(), &screen_lines, devices.selection());
        // Management: new settings on trial, a restart waiting for the call's end, subscribers.
        let status = daemon_status(
            &room,
            &devices,
            &effects,
            &manager,
            &problems,
            &unreachable,
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
#[allow(clippy::too_many_arguments)]
fn daemon_status(
    room: &Room,
    devices: &devices::Devices,
    effects: &effects::Effects,
    manager: &Manager,
    problems: &[String],
    unreachable: &Option<String>,
    config_file: &Option<PathBuf>,
    uptime_ms: u64,
    origin: Origin,
) -> DaemonStatus {
    DaemonStatus {
        room: room.status(),
        version: env!("CARGO_PKG_VERSION").into(),
        config_file: config_file.as_ref().map(|p| p.display().to_string()),
        simulated: devices.simulated(),
        problems: all_problems(problems, unreachable, effects),
        selection: devices.selection().clone(),
        speakerphones: effects.speakerphones().status(),
        media: effects.media_status(),
        session: effects.session_status(),
        uptime_ms,
        management: manager.status(),
        setup: (origin == Origin::InRoom).then(|| manager.setup().clone()),
    }
}

/// The problems that stay until the daemon restarts, the one that goes when the meeting
/// service can be reached again, and those of devices that come and go (speakerphones).
fn all_problems(
    lasting: &[String],
    unreachable: &Option<String>,
    effects: &effects::Effects,
) -> Vec<String> {
    let mut all: Vec<String> = lasting.iter().chain(unreachable).cloned().collect();
    all.extend(effects.speakerphones().problems());
    all
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
