//! The hardware tier: the real daemon against real kernel drivers, under QEMU.
//!
//! `kernel_drivers_under_qemu` (the only test that runs on the host) boots Debian's kernel with
//! vivid (a V4L2 camera), snd-aloop and snd-dummy (ALSA cards) and gpio-sim (GPIO lines we can
//! "press" from sysfs), with udevd running, and runs this same test binary inside the guest
//! with the `guest_` tests included. Those tests are ignored anywhere else: they reconfigure
//! kernel devices and must never run on a developer's machine.

mod common;

use common::qemu::{self, GuestTests};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const GUEST_TESTS: usize = 6;

#[test]
fn kernel_drivers_under_qemu() {
    GuestTests {
        timeout: Duration::from_secs(1200),
        ..GuestTests::of_this_binary("guest_", GUEST_TESTS)
    }
    .run();
}

// ---- inside the guest -------------------------------------------------------------------

fn in_guest() {
    qemu::assert_in_guest("guest tests reconfigure kernel devices");
}

fn sh(command: &str) -> String {
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    assert!(out.status.success(), "{command}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn write_sysfs(path: impl AsRef<Path>, value: &str) {
    let path = path.as_ref();
    std::fs::write(path, value)
        .unwrap_or_else(|e| panic!("write {value:?} to {}: {e}", path.display()));
}

/// The simulated GPIO chip: 8 lines, the first four named for the room.
struct SimChip {
    /// e.g. "gpiochip0"
    chip: String,
    /// /sys/devices/platform/gpio-sim.0/gpiochip0
    sysfs: PathBuf,
}

const LINES: [&str; 4] = [
    "salle-join",
    "salle-mute",
    "salle-led-status",
    "salle-led-mute",
];

fn sim_chip() -> &'static SimChip {
    static CHIP: OnceLock<SimChip> = OnceLock::new();
    CHIP.get_or_init(|| {
        let root = Path::new("/sys/kernel/config/gpio-sim/salle");
        std::fs::create_dir_all(root.join("bank0")).unwrap();
        write_sysfs(root.join("bank0/num_lines"), "8");
        for (offset, name) in LINES.iter().enumerate() {
            let line = root.join(format!("bank0/line{offset}"));
            std::fs::create_dir_all(&line).unwrap();
            write_sysfs(line.join("name"), name);
        }
        write_sysfs(root.join("live"), "1");
        let device = std::fs::read_to_string(root.join("dev_name"))
            .unwrap()
            .trim()
            .to_string();
        let chip = std::fs::read_to_string(root.join("bank0/chip_name"))
            .unwrap()
            .trim()
            .to_string();
        let sysfs = Path::new("/sys/devices/platform").join(&device).join(&chip);
        // Buttons are wired active-low: released reads high.
        for offset in 0..2 {
            write_sysfs(sysfs.join(format!("sim_gpio{offset}/pull")), "pull-up");
        }
        SimChip { chip, sysfs }
    })
}

impl SimChip {
    fn pull(&self, offset: u32, pull: &str) {
        write_sysfs(self.sysfs.join(format!("sim_gpio{offset}/pull")), pull);
    }

    /// Presses an active-low button for `hold`.
    fn press(&self, offset: u32, hold: Duration) {
        self.pull(offset, "pull-down");
        std::thread::sleep(hold);
        self.pull(offset, "pull-up");
    }

    fn value(&self, offset: u32) -> bool {
        std::fs::read_to_string(self.sysfs.join(format!("sim_gpio{offset}/value")))
            .unwrap()
            .trim()
            == "1"
    }

    /// Samples an output line every 20 ms for `span`.
    fn samples(&self, offset: u32, span: Duration) -> Vec<bool> {
        let start = std::time::Instant::now();
        let mut samples = Vec::new();
        while start.elapsed() < span {
            samples.push(self.value(offset));
            std::thread::sleep(Duration::from_millis(20));
        }
        samples
    }
}

fn transitions(samples: &[bool]) -> usize {
    samples.windows(2).filter(|w| w[0] != w[1]).count()
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_devices_lists_vivid_alsa_cards_and_gpio_sim() {
    in_guest();
    let chip = sim_chip();
    let out = run(&["devices", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Ok(dir) = std::env::var("SALLE_CAPTURE_DEVICES") {
        // Refresh the captured descriptions the unit tests use (tests/data/cameras).
        let camera = &report["inventory"]["cameras"][0];
        std::fs::write(
            Path::new(&dir).join("vivid.json"),
            serde_json::to_string_pretty(camera).unwrap(),
        )
        .unwrap();
    }

    let vivid = entry(&report["inventory"]["cameras"], "driver", "vivid");
    let formats = each(&vivid["formats"], "fourcc");
    assert!(formats.contains(&"YUYV"), "{formats:?}");
    let yuyv = entry(&vivid["formats"], "fourcc", "YUYV");
    assert!(
        yuyv["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["width"] == 1280 && s["height"] == 720),
        "{yuyv}"
    );
    let controls = each(&vivid["controls"], "name");
    assert!(
        controls.contains(&"brightness") && controls.contains(&"contrast"),
        "{controls:?}"
    );
    let brightness = entry(&vivid["controls"], "name", "brightness");
    assert_eq!(
        (brightness["min"].as_i64(), brightness["max"].as_i64()),
        (Some(0), Some(255))
    );

    let cards = &report["inventory"]["sound_cards"];
    let aloop = entry(cards, "driver", "Loopback");
    assert_eq!(aloop["kind"], "virtual");
    let capture = &aloop["capture"][0];
    assert_eq!(
        (
            capture["channels_min"].as_u64(),
            capture["channels_max"].as_u64()
        ),
        (Some(1), Some(32)),
        "{capture}"
    );
    assert_eq!(capture["rate_max"].as_u64(), Some(192_000));
    let mixer = each(&entry(cards, "driver", "Dummy")["mixer"], "name");
    assert!(mixer.contains(&"Master"), "{mixer:?}");

    let sim = entry(&report["inventory"]["gpio_chips"], "name", &chip.chip);
    assert_eq!(&each(&sim["lines"], "name")[..4], LINES);

    // `auto` takes vivid (the only camera) and says why; sound falls back to the virtual cards.
    let camera = &report["selection"]["camera"];
    assert_eq!(camera["use"], "device", "{camera}");
    assert!(
        camera["reason"]
            .as_str()
            .unwrap()
            .starts_with("non-USB camera \"vivid"),
        "{camera}"
    );
    let microphone = &report["selection"]["microphone"];
    assert!(
        microphone["reason"]
            .as_str()
            .unwrap()
            .contains("virtual card"),
        "{microphone}"
    );
    let human = text(&run(&["devices"]).stdout);
    assert!(
        human.contains("driver vivid")
            && human.contains("Loopback")
            && human.contains("salle-join"),
        "{human}"
    );
}

/// `field` of every object in the JSON array `list`.
fn each<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    let entries = list.as_array().unwrap();
    entries.iter().map(|e| e[field].as_str().unwrap()).collect()
}

/// The object in the JSON array `list` whose `field` is `value`.
fn entry<'a>(list: &'a serde_json::Value, field: &str, value: &str) -> &'a serde_json::Value {
    let entries = list.as_array().unwrap();
    entries
        .iter()
        .find(|e| e[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value:?} in {list}"))
}

fn room_config(chip: &SimChip, extra: &str) -> String {
    format!(
        r#"
[room]
name = "Salle QEMU"
[meeting]
url = "test://hardware?connect_ms=600000"
[buttons.join]
line = "salle-join"
[buttons.mute]
chip = "{chip}"
line = 1
[leds.status]
line = "salle-led-status"
[leds.mute]
chip = "{chip}"
line = "salle-led-mute"
{extra}
"#,
        chip = chip.chip
    )
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_gpio_buttons_drive_the_room_and_leds_follow() {
    in_guest();
    let chip = sim_chip();
    let daemon = Daemon::start(&room_config(chip, ""));
    let status = daemon.status();
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    assert_eq!(status["call"]["state"], "idle");
    // Idle: dim, a short pulse: mostly off, never steadily on. Sampled over 3 s: the TCG guest
    // can stall the LED thread for a few hundred milliseconds while it is on, which a short
    // window would read as "steady".
    let idle = chip.samples(2, Duration::from_secs(3));
    assert!(
        idle.iter().filter(|&&on| on).count() * 2 < idle.len(),
        "idle LED should be dim: {idle:?}"
    );

    // A short press of the join button joins.
    chip.press(0, Duration::from_millis(150));
    let status = daemon.wait_state("joining", Duration::from_secs(5));
    assert_eq!(status["leds"]["status"], "blink");
    let blink = chip.samples(2, Duration::from_millis(2500));
    assert!(
        transitions(&blink) >= 3,
        "joining LED should blink: {blink:?}"
    );

    // Mute toggles the microphone and its LED.
    assert!(!chip.value(3));
    chip.press(1, Duration::from_millis(150));
    wait_for("muted", Duration::from_secs(5), || {
        (daemon.status()["mic_muted"] == true).then_some(())
    });
    wait_for("mute LED on", Duration::from_secs(2), || {
        chip.value(3).then_some(())
    });

    // Holding join for more than 3 s is a long press: it cancels the stuck join while held.
    chip.pull(0, "pull-down");
    std::thread::sleep(Duration::from_millis(4500));
    let held = daemon.state();
    chip.pull(0, "pull-up");
    assert_ne!(
        held, "joining",
        "a long press is reported while the button is still held"
    );
    daemon.wait_state("idle", Duration::from_secs(10));
    let log = daemon.log();
    assert!(log.contains("press=Long"), "{log}");
    // Releasing after a long press is not another press.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(daemon.state(), "idle");
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_unbinding_vivid_loses_the_camera_and_binding_brings_it_back() {
    in_guest();
    let chip = sim_chip();
    let daemon =
        Daemon::start(&room_config(chip, "").replace("connect_ms=600000", "connect_ms=100"));
    let camera = daemon.status()["devices"]["camera"].clone();
    assert_eq!(
        (camera["present"].as_bool(), camera["simulated"].as_bool()),
        (Some(true), Some(false)),
        "{camera}"
    );
    assert!(
        camera["name"].as_str().unwrap().starts_with("/dev/video"),
        "{camera}"
    );

    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));

    let driver = Path::new("/sys/bus/platform/drivers/vivid");
    write_sysfs(driver.join("unbind"), "vivid.0");
    let status = wait_for("camera lost", Duration::from_secs(20), || {
        let status = daemon.status();
        (status["devices"]["camera"]["present"] == false).then_some(status)
    });
    assert!(
        status["devices"]["camera"]["name"]
            .as_str()
            .unwrap()
            .contains("was lost"),
        "{status}"
    );
    assert_eq!(
        status["call"]["state"], "in-call",
        "the call goes on without the camera"
    );

    write_sysfs(driver.join("bind"), "vivid.0");
    let status = wait_for("camera back", Duration::from_secs(20), || {
        let status = daemon.status();
        (status["devices"]["camera"]["present"] == true).then_some(status)
    });
    assert_eq!(status["devices"]["camera"]["simulated"], false, "{status}");
    assert!(daemon.log().contains("camera: present"), "{}", daemon.log());
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_alsa_level_meter_and_mixer_on_real_cards() {
    use salle::hw::audio::{alsa, Direction};
    in_guest();
    // Silence: nothing plays into the loopback.
    let quiet = alsa::measure_input_level(
        "hw:CARD=Loopback,DEV=1",
        2,
        48_000,
        Duration::from_millis(300),
    )
    .unwrap();
    assert!(quiet < -90.0, "silence measured {quiet} dBFS");

    // A half-scale 1 kHz sine played into the loopback is measured at about -9 dBFS.
    let player = std::thread::spawn(|| {
        play_sine("hw:CARD=Loopback,DEV=0", 0.5, Duration::from_millis(2500))
    });
    std::thread::sleep(Duration::from_millis(300));
    let level = alsa::measure_input_level(
        "hw:CARD=Loopback,DEV=1",
        2,
        48_000,
        Duration::from_millis(800),
    )
    .unwrap();
    player.join().unwrap();
    assert!(
        (level - -9.03).abs() < 1.0,
        "sine measured {level} dBFS, expected -9.03"
    );

    // Mixer volume and switch on snd-dummy.
    let card = "hw:CARD=Dummy";
    alsa::set_volume(card, "Master", Direction::Playback, 50).unwrap();
    let volume = alsa::volume(card, "Master", Direction::Playback).unwrap();
    assert!((49..=51).contains(&volume), "volume {volume}");
    alsa::set_volume(card, "Master", Direction::Playback, 100).unwrap();
    assert_eq!(
        alsa::volume(card, "Master", Direction::Playback).unwrap(),
        100
    );
    // snd-dummy's "Master" has a capture switch and no playback switch.
    alsa::set_switch(card, "Master", Direction::Capture, false).unwrap();
    assert!(!alsa::switch(card, "Master", Direction::Capture).unwrap());
    alsa::set_switch(card, "Master", Direction::Capture, true).unwrap();
    assert!(alsa::switch(card, "Master", Direction::Capture).unwrap());
    let no_switch = alsa::set_switch(card, "Master", Direction::Playback, false).unwrap_err();
    assert!(no_switch.contains("has no playback switch"), "{no_switch}");
    let missing = alsa::set_volume(card, "Nope", Direction::Playback, 1).unwrap_err();
    assert!(missing.contains("no mixer control \"Nope\""), "{missing}");
}

/// Plays a stereo sine of `amplitude` (of full scale) at 1 kHz, 48 kHz, for `span`.
fn play_sine(device: &str, amplitude: f64, span: Duration) {
    use ::alsa::pcm::{Access, Format, HwParams, PCM};
    let pcm = PCM::new(device, ::alsa::Direction::Playback, false).unwrap();
    {
        let params = HwParams::any(&pcm).unwrap();
        params.set_channels(2).unwrap();
        params.set_rate(48_000, ::alsa::ValueOr::Nearest).unwrap();
        params.set_format(Format::s16()).unwrap();
        params.set_access(Access::RWInterleaved).unwrap();
        pcm.hw_params(&params).unwrap();
    }
    let io = pcm.io_i16().unwrap();
    let frames = (span.as_secs_f64() * 48_000.0) as usize;
    let mut buffer = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let s = (amplitude
            * 32767.0
            * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin())
            as i16;
        buffer.extend([s, s]);
    }
    for chunk in buffer.chunks(2048) {
        if let Err(e) = io.writei(chunk) {
            pcm.try_recover(e, true).unwrap();
        }
    }
    let _ = pcm.drain();
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_udev_rules_give_gpio_to_group_gpio_and_tag_devices() {
    in_guest();
    let chip = sim_chip();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("udev/70-salle.rules");
    std::fs::create_dir_all("/run/udev/rules.d").unwrap();
    std::fs::copy(&rules, "/run/udev/rules.d/70-salle.rules").unwrap();
    sh("udevadm control --reload");
    sh("udevadm trigger --action=change --subsystem-match=gpio --subsystem-match=video4linux --subsystem-match=sound");
    sh("udevadm settle --timeout=60");
    let gpio_gid = sh("getent group gpio | cut -d: -f3");
    let node = format!("/dev/{}", chip.chip);
    let stat = sh(&format!("stat -c '%g %a' {node}"));
    assert_eq!(stat, format!("{gpio_gid} 660"), "{node}");
    let info = sh("udevadm info --query=property --name=/dev/video0");
    let tags = info
        .lines()
        .find(|l| l.starts_with("TAGS="))
        .unwrap_or_default();
    assert!(
        tags.contains(":salle:") && tags.contains(":systemd:"),
        "{info}"
    );
    let info = sh("udevadm info --query=property --path=/sys/class/sound/card0");
    assert!(
        info.lines()
            .any(|l| l.starts_with("TAGS=") && l.contains(":salle:")),
        "{info}"
    );
}

// ---- the screen's power over HDMI-CEC -----------------------------------------------------
//
// vivid's HDMI output has a CEC adapter (the room device's side, physical address 1.0.0.0) on
// an emulated bus with its HDMI input's adapter, which the test claims as the TV (logical
// address 0) and monitors: what the daemon sends is what a TV would receive.

/// The vivid CEC adapter whose name ends with `suffix` ("vid-out0", "vid-cap0").
fn vivid_cec_adapter(suffix: &str) -> String {
    let mut adapters: Vec<String> = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| p.starts_with("/dev/cec"))
        .collect();
    adapters.sort();
    adapters
        .into_iter()
        .find(|path| {
            sh(&format!("cec-ctl -d {path}"))
                .lines()
                .any(|l| l.contains("Adapter Name") && l.trim_end().ends_with(suffix))
        })
        .unwrap_or_else(|| panic!("no vivid CEC adapter {suffix} (vivid's options?)"))
}

/// What the TV's monitor printed so far.
fn tv_heard(monitor: &Path) -> String {
    std::fs::read_to_string(monitor).unwrap_or_default()
}

#[test]
#[ignore = "runs in the QEMU guest: see kernel_drivers_under_qemu"]
fn guest_screen_sleeps_over_hdmi_cec_outside_working_hours_and_a_press_wakes_it() {
    in_guest();
    let chip = sim_chip();
    let (ours, tv) = (vivid_cec_adapter("vid-out0"), vivid_cec_adapter("vid-cap0"));
    sh(&format!("cec-ctl -d {tv} --tv"));
    let dir = tempfile::tempdir().unwrap();
    let monitor = dir.path().join("tv.txt");
    // Line-buffered, so every message is in the file as it arrives.
    let mut listening = Command::new("stdbuf")
        .args(["-oL", "cec-ctl", "-d", &tv, "--monitor"])
        .stdout(std::fs::File::create(&monitor).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the TV's monitor", Duration::from_secs(10), || {
        tv_heard(&monitor).contains("Initial Event").then_some(())
    });

    let screen = format!(
        "[screen]\noutput = \"none\"\nawake_hours = \"{}\"\nsleep_after_s = 2\ncec = \"{ours}\"",
        awake_hours_not_now()
    );
    let daemon = Daemon::start(&room_config(chip, &screen));
    let started = std::time::Instant::now();
    // Asleep after 2 s alone: <Standby> reaches the TV from a Playback device.
    wait_for("standby in status", Duration::from_secs(20), || {
        (daemon.status()["screen_power"] == "standby").then_some(())
    });
    let standby = wait_for("<Standby> at the TV", Duration::from_secs(10), || {
        let heard = tv_heard(&monitor);
        heard
            .lines()
            .position(|l| {
                l.contains("Playback Device") && l.contains("to TV") && l.contains("STANDBY (0x36)")
            })
            .map(|at| (heard, at))
    });
    let slept = started.elapsed();
    let status = daemon.status();
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    assert_eq!(status["call"]["state"], "idle");

    // The mute button wakes it (and mutes): <Image View On> to the TV, then <Active Source>
    // with the output's physical address to everyone.
    let before = standby.0.lines().count();
    let pressed = std::time::Instant::now();
    chip.press(1, Duration::from_millis(150));
    wait_for("awake in status", Duration::from_secs(5), || {
        (daemon.status()["screen_power"] == "awake").then_some(())
    });
    let woken = wait_for(
        "<Image View On> and <Active Source>",
        Duration::from_secs(10),
        || {
            let heard = tv_heard(&monitor);
            let new: Vec<String> = heard.lines().skip(before).map(String::from).collect();
            let view_on = new
                .iter()
                .position(|l| l.contains("to TV") && l.contains("IMAGE_VIEW_ON (0x04)"))?;
            let active = new
                .iter()
                .position(|l| l.contains("to all") && l.contains("ACTIVE_SOURCE (0x82)"))?;
            Some((view_on, active, new))
        },
    );
    let woke = pressed.elapsed();
    let (view_on, active, new) = woken;
    assert!(view_on < active, "{new:#?}");
    assert!(new[active + 1].contains("phys-addr: 1.0.0.0"), "{new:#?}");
    let status = daemon.status();
    assert_eq!(status["mic_muted"], true, "the press did its job too");
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    // And asleep again 2 s after the press.
    wait_for("standby again", Duration::from_secs(20), || {
        (daemon.status()["screen_power"] == "standby").then_some(())
    });
    // No TV on the bus any more: the wake is not acknowledged, which is a problem in status,
    // and the room goes on.
    sh(&format!("cec-ctl -d {tv} --clear"));
    chip.press(1, Duration::from_millis(150));
    let problem = wait_for("the CEC problem in status", Duration::from_secs(10), || {
        let status = daemon.status();
        let problems = status["problems"].as_array()?.clone();
        problems
            .iter()
            .filter_map(|p| p.as_str())
            .find(|p| p.starts_with(&format!("HDMI-CEC {ours}")))
            .map(String::from)
    });
    assert!(problem.contains("not acknowledged"), "{problem}");
    let status = daemon.status();
    assert_eq!(
        (
            status["call"]["state"].as_str(),
            status["mic_muted"].as_bool()
        ),
        (Some("idle"), Some(false))
    );
    let _ = listening.kill();
    let _ = listening.wait();
    eprintln!("{problem}");
    eprintln!(
        "<Standby> at the TV {slept:?} after start-up (sleep_after_s = 2); <Image View On> and \
         <Active Source> within {woke:?} of the press; what the TV heard:\n{}",
        tv_heard(&monitor)
    );
}
