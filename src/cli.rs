//! The `salle` command line.

use crate::api::{Answer, DaemonStatus, MediaStatus, Request};
use crate::config::{self, Config};
use crate::control;
use crate::hw::inventory::{self, Inventory, Selected};
use crate::media::elements;
use crate::room::{Button, CallStatus, DeviceKind, ScreenPower};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "salle",
    version,
    about = "Salle: the meeting-room daemon and its control commands"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(clap::Args, Clone)]
struct ConfigArg {
    /// Configuration file [default: /etc/salle/salle.toml, or built-in defaults when absent]
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the room daemon (simulated devices where no hardware is found)
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Log at debug level
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// Serve the room's HTTPS API and web console (a process of its own, beside the daemon)
    Web {
        #[command(flatten)]
        config: ConfigArg,
        /// Log at debug level
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// List cameras, sound devices and GPIO lines, and which ones `auto` picks and why
    Devices {
        #[command(flatten)]
        config: ConfigArg,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Work with configuration files
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Show the running daemon's status
    Status {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// Join the room's meeting, or the meeting at URL
    Join {
        /// A meeting URL (https://<meet-host>/<slug>, whip+https://..., janus+wss://..., test://...)
        url: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Leave the meeting
    Leave {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Mute or unmute the room's microphone
    Mute {
        state: OnOff,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Turn the camera off (privacy) or back on
    Camera {
        state: OnOff,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Press a button, exactly as if the room's physical button were pressed
    Press {
        button: ButtonArg,
        /// A long press (held 3 s)
        #[arg(long)]
        long: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration file; errors name the line, column and field (exit status 2)
    Check { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum ButtonArg {
    Join,
    Mute,
    CameraPrivacy,
}

impl From<ButtonArg> for Button {
    fn from(b: ButtonArg) -> Button {
        match b {
            ButtonArg::Join => Button::Join,
            ButtonArg::Mute => Button::Mute,
            ButtonArg::CameraPrivacy => Button::CameraPrivacy,
        }
    }
}

/// Exit status for configuration errors (and `config check` failures).
const EXIT_CONFIG: u8 = 2;

/// Loads the configuration: the given file (which must exist), else the default file when it
/// exists, else the built-in defaults. Returns the file used.
fn load_config(arg: &ConfigArg) -> Result<(Config, Option<PathBuf>), config::ConfigError> {
    match &arg.config {
        Some(path) => Ok((config::load_file(path)?, Some(path.clone()))),
        None => {
            let default = Path::new(config::DEFAULT_PATH);
            if default.exists() {
                Ok((config::load_file(default)?, Some(default.to_path_buf())))
            } else {
                Ok((Config::default(), None))
            }
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Commands::Run { .. } | Commands::Web { .. }) {
        // A command piped into `head` ends quietly, like any Unix tool.
        // SAFETY: setting a signal disposition to its default before any thread starts.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
    match cli.command {
        Commands::Run { config, verbose } => run(&config, verbose),
        Commands::Web { config, verbose } => web(&config, verbose),
        Commands::Devices { config, json } => devices(&config, json),
        Commands::Config {
            command: ConfigCommand::Check { file },
        } => match config::load_file(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Commands::Status { config, json } => client(&config, Request::Status, json),
        Commands::Join { url, config } => client(&config, Request::Join { url }, false),
        Commands::Leave { config } => client(&config, Request::Leave, false),
        Commands::Mute { state, config } => client(
            &config,
            Request::Mute {
                muted: matches!(state, OnOff::On),
            },
            false,
        ),
        Commands::Camera { state, config } => client(
            &config,
            Request::Camera {
                off: matches!(state, OnOff::Off),
            },
            false,
        ),
        Commands::Press {
            button,
            long,
            config,
        } => client(
            &config,
            Request::Press {
                button: button.into(),
                long,
            },
            false,
        ),
    }
}

fn run(arg: &ConfigArg, verbose: bool) -> ExitCode {
    serve(arg, verbose, |config, config_file| {
        crate::daemon::run(crate::daemon::Options {
            config,
            config_file,
        })
    })
}

/// The web surface: its own process (see `web`), two threads are plenty.
fn web(arg: &ConfigArg, verbose: bool) -> ExitCode {
    serve(arg, verbose, crate::web::run)
}

/// Runs a long-lived process (the daemon, the web surface) on its configuration: logging, the
/// configuration (a located error exits with `EXIT_CONFIG`), a two-thread runtime, and the
/// process's error logged on the way out.
fn serve<F, E>(
    arg: &ConfigArg,
    verbose: bool,
    main: impl FnOnce(Config, Option<PathBuf>) -> F,
) -> ExitCode
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    crate::system::logging::init(verbose);
    let (config, config_file) = match load_config(arg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main(config, config_file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn client(arg: &ConfigArg, request: Request, json: bool) -> ExitCode {
    let config = match load_config(arg) {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let answer =
        control::client_socket_path(&config).and_then(|socket| control::request(&socket, &request));
    match answer {
        Err(e) => {
            eprintln!("salle: {e}");
            ExitCode::FAILURE
        }
        Ok(Answer::Error { error, .. }) => {
            eprintln!("salle: {error}");
            ExitCode::FAILURE
        }
        Ok(Answer::Status { status, .. }) => {
            // The web console's setup code and certificate fingerprint, when this user may
            // read what the web surface published (root, or its own user).
            let web = crate::web::setup_info(&config);
            if json {
                let mut value = serde_json::to_value(&status).expect("status serialises");
                if let Some(web) = &web {
                    value["web"] = serde_json::to_value(web).expect("setup info serialises");
                }
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).expect("status serialises")
                );
            } else {
                print_status(&status);
                if let Some(web) = &web {
                    println!("web console:  {}", web.url);
                    println!("certificate:  SHA-256 {}", web.fingerprint);
                    if let Some(code) = &web.setup_code {
                        println!(
                            "setup code:   {code} (claims the room: sets the first administrator)"
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
        // The management answers (configuration, logs, snapshots...) are JSON for programs.
        Ok(other) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&other).expect("answers serialise")
            );
            ExitCode::SUCCESS
        }
    }
}

fn print_status(s: &DaemonStatus) {
    let call = match &s.room.call {
        CallStatus::Idle => "idle".to_string(),
        CallStatus::Joining { url } => format!("joining {url}"),
        CallStatus::InCall { url } => format!("in a call: {url}"),
        CallStatus::Reconnecting { url, reason } => format!("reconnecting to {url} ({reason})"),
        CallStatus::Waiting { url, reason } => format!("{reason} ({url})"),
        CallStatus::Leaving => "leaving".to_string(),
        CallStatus::Failed { reason } => format!("failed: {reason}"),
    };
    println!("room        {}", s.room.room);
    println!("state       {call}");
    println!(
        "microphone  {}",
        if s.room.mic_muted { "muted" } else { "on" }
    );
    println!(
        "camera      {}",
        if s.room.camera_off {
            "off (privacy)"
        } else {
            "on"
        }
    );
    println!(
        "meeting     {}",
        s.room.meeting_url.as_deref().unwrap_or("(none configured)")
    );
    if s.room.screen_power == ScreenPower::Standby {
        println!("screen      standby (outside working hours; a press wakes it)");
    }
    for kind in DeviceKind::ALL {
        println!("{:<11} {}", kind.name(), s.selection.describe(kind));
    }
    for phone in &s.speakerphones {
        let controls = match (phone.device.mute_button, phone.device.mute_led) {
            (true, true) => "mute button and LED",
            (true, false) => "mute button",
            _ => "mute LED",
        };
        let state = phone.error.as_deref().unwrap_or(controls);
        println!(
            "speakerphone {} ({}): {state}",
            phone.device.name, phone.device.path
        );
    }
    if !s.simulated.is_empty() {
        println!("simulated   {}", s.simulated.join(", "));
    }
    print_media(&s.media);
    if let Some(error) = &s.room.last_error {
        println!("last error  {error}");
    }
    for problem in &s.room.problems {
        println!("problem     {problem}");
    }
    println!(
        "config      {}",
        s.config_file.as_deref().unwrap_or("(built-in defaults)")
    );
    print_management(s);
}

/// The web console's setup (local answers only) and what management waits for.
fn print_management(s: &DaemonStatus) {
    if let Some(setup) = &s.setup {
        if let Some(code) = &setup.code {
            println!("setup code  {code} (claims the room in the web console)");
        }
        if let Some(fingerprint) = &setup.fingerprint {
            println!("console     certificate SHA-256 {fingerprint}");
        }
        for url in &setup.urls {
            println!("console     {url}");
        }
    }
    let m = &s.management;
    if !m.restart_pending.is_empty() {
        println!(
            "pending     restart for {} (after the call)",
            m.restart_pending.join(", ")
        );
    }
    if let Some(rollback) = &m.last_rollback {
        println!("rolled back {rollback}");
    }
}

fn print_media(media: &MediaStatus) {
    if let Some(v) = &media.video {
        let state = if v.camera_off { ", camera off" } else { "" };
        println!(
            "sending     video {} {}x{}@{} {} kbit/s, {} frames ({} keyframes){state}",
            v.encoder.name(),
            v.width,
            v.height,
            v.fps,
            v.kbps,
            v.frames,
            v.keyframes
        );
    }
    if let Some(a) = &media.audio {
        let state = if a.muted { ", muted" } else { "" };
        println!(
            "sending     audio {} packets, level {:.0} dBFS{state}",
            a.packets, a.level_dbfs
        );
    }
    if let Some(screen) = &media.screen {
        println!(
            "screen      {} {}x{}, {} remote picture(s){}{}",
            screen.output,
            screen.width,
            screen.height,
            screen.tiles,
            if screen.self_view { ", self-view" } else { "" },
            if screen.echo_cancellation {
                ", echo cancelled"
            } else {
                ""
            }
        );
    }
}

/// The GStreamer elements found, or the reason there are none (GStreamer does not start).
fn media_capabilities() -> Result<Vec<elements::Capability>, String> {
    crate::media::init()?;
    Ok(elements::capabilities())
}

/// The media section of `salle devices`: per role, what is installed; what is missing, with
/// its package; the hardware-only elements absent here, with what they need.
fn print_media_capabilities(media: &Result<Vec<elements::Capability>, String>) {
    println!("Media (GStreamer)");
    let capabilities = match media {
        Ok(c) => c,
        Err(e) => {
            println!("  {e}");
            return;
        }
    };
    for role in elements::Role::ALL {
        let found: Vec<&str> = capabilities
            .iter()
            .filter(|c| c.element.role == role && c.installed)
            .map(|c| c.element.name)
            .collect();
        println!("  {:<11} {}", role.name(), found.join(" "));
    }
    for c in capabilities.iter().filter(|c| !c.installed) {
        let name = c.element.name;
        match c.element.need {
            elements::Need::Required => println!(
                "  missing     {name}: install {} (the room needs it)",
                c.element.package
            ),
            elements::Need::Optional(why) => {
                println!("  absent      {name} ({}): {why}", c.element.package)
            }
            elements::Need::Hardware(why) => println!("  absent      {name}: needs {why}"),
        }
    }
}

fn devices(arg: &ConfigArg, json: bool) -> ExitCode {
    let config = match load_config(arg) {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let inventory = Inventory::scan();
    let selection = inventory::select(&config, &inventory);
    let media = media_capabilities();
    if json {
        let report = serde_json::json!({
            "inventory": inventory,
            "selection": selection,
            "media": match &media {
                Ok(capabilities) => serde_json::json!(capabilities),
                Err(e) => serde_json::json!({ "error": e }),
            },
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
        return ExitCode::SUCCESS;
    }
    println!("Cameras");
    if inventory.cameras.is_empty() {
        println!("  (none)");
    }
    for c in &inventory.cameras {
        println!(
            "  {}  \"{}\"  driver {}  bus {}",
            c.path, c.card, c.driver, c.bus
        );
        for f in &c.formats {
            let sizes: Vec<String> = f
                .sizes
                .iter()
                .map(|s| {
                    format!(
                        "{}x{}@{}",
                        s.width,
                        s.height,
                        s.fps
                            .iter()
                            .map(|r| r.to_string())
                            .collect::<Vec<_>>()
                            .join("/")
                    )
                })
                .collect();
            println!("    {} ({}): {}", f.fourcc, f.description, sizes.join(" "));
        }
        for control in &c.controls {
            println!(
                "    control {} = {} ({}, {}..={}, default {})",
                control.name,
                control.value.map_or("?".into(), |v| v.to_string()),
                control.kind,
                control.min,
                control.max,
                control.default
            );
        }
    }
    println!("Sound cards");
    if inventory.sound_cards.is_empty() {
        println!("  (none)");
    }
    for card in &inventory.sound_cards {
        println!(
            "  card {} \"{}\" ({})  driver {}  kind {:?}",
            card.index, card.name, card.id, card.driver, card.kind
        );
        for (direction, pcms) in [("capture", &card.capture), ("playback", &card.playback)] {
            for p in pcms {
                println!(
                    "    {direction:<8} {}  {}-{} ch  {}-{} Hz{}",
                    p.name,
                    p.channels_min,
                    p.channels_max,
                    p.rate_min,
                    p.rate_max,
                    if p.busy { "  (busy)" } else { "" }
                );
            }
        }
        for m in &card.mixer {
            println!(
                "    mixer {}{}{}",
                m.name,
                m.capture_volume
                    .map_or(String::new(), |(a, b)| format!("  capture volume {a}..{b}")),
                m.playback_volume.map_or(String::new(), |(a, b)| format!(
                    "  playback volume {a}..{b}"
                ))
            );
        }
    }
    println!("GPIO");
    if inventory.gpio_chips.is_empty() {
        println!("  (none)");
    }
    for chip in &inventory.gpio_chips {
        println!(
            "  {} \"{}\" ({} lines)",
            chip.path,
            chip.label,
            chip.lines.len()
        );
        for line in chip.lines.iter().filter(|l| !l.name.is_empty() || l.used) {
            let user = if line.used {
                format!("  used by {}", line.consumer)
            } else {
                String::new()
            };
            println!(
                "    line {:>3} {:<16} {}{user}",
                line.offset, line.name, line.direction
            );
        }
    }
    print_media_capabilities(&media);
    println!("Selection");
    for kind in DeviceKind::ALL {
        println!("  {:<11} {}", kind.name(), selection.describe(kind));
    }
    if let Selected::Device(choice) = &selection.camera {
        let camera = inventory.cameras.iter().find(|c| c.path == choice.path);
        let controls = camera.map(|c| c.controls.as_slice()).unwrap_or_default();
        let (_, problems) = crate::hw::camera::resolve_controls(controls, &config.camera.controls);
        for p in problems {
            println!("  problem     {p}");
        }
    }
    ExitCode::SUCCESS
}
