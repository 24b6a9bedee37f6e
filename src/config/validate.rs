//! Checks that serde cannot express: ranges, URL forms, consistent GPIO line choices.

use super::{
    ButtonConfig, CecChoice, ChannelSelection, Config, DeviceChoice, HidChoice, LedConfig, LineRef,
};
use crate::signal::MeetingTarget;

/// A problem with one field.
pub struct Problem {
    pub field: Vec<String>,
    pub message: String,
}

fn problem(field: &[&str], message: impl Into<String>) -> Problem {
    Problem {
        field: field.iter().map(|s| s.to_string()).collect(),
        message: message.into(),
    }
}

fn in_range(field: &[&str], value: u64, min: u64, max: u64) -> Result<(), Problem> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(problem(
            field,
            format!("{value} is out of range: {min} to {max}"),
        ))
    }
}

pub fn check(config: &Config) -> Result<(), Problem> {
    if config.room.name.trim().is_empty() {
        return Err(problem(&["room", "name"], "the room needs a name"));
    }
    // One socket cannot be both: what is allowed depends on which one a request came through.
    if config.management.socket.is_some() && config.management.socket == config.control.socket {
        return Err(problem(
            &["management", "socket"],
            "the management socket must not be the control socket",
        ));
    }
    if let Some(url) = &config.meeting.url {
        MeetingTarget::parse(url).map_err(|e| problem(&["meeting", "url"], e.to_string()))?;
    } else if config.meeting.auto_join {
        return Err(problem(
            &["meeting", "auto_join"],
            "auto_join needs [meeting] url",
        ));
    }
    in_range(
        &["meeting", "join_timeout_s"],
        config.meeting.join_timeout_s,
        5,
        600,
    )?;
    in_range(
        &["meeting", "lobby_timeout_s"],
        config.meeting.lobby_timeout_s,
        5,
        3600,
    )?;

    let calendar = &config.calendar;
    if let Some(url) = &calendar.url {
        crate::calendar::fetch::check_url(url).map_err(|e| problem(&["calendar", "url"], e))?;
    } else if calendar.auto_join {
        return Err(problem(
            &["calendar", "auto_join"],
            "auto_join needs [calendar] url",
        ));
    }
    match (&calendar.username, &calendar.password_file) {
        (Some(_), None) => {
            return Err(problem(
                &["calendar", "username"],
                "needs password_file (a file holding the password)",
            ))
        }
        (None, Some(_)) => return Err(problem(&["calendar", "password_file"], "needs username")),
        _ => {}
    }
    in_range(&["calendar", "refresh_s"], calendar.refresh_s, 30, 86_400)?;
    in_range(
        &["calendar", "join_early_s"],
        calendar.join_early_s,
        0,
        3600,
    )?;
    if let Some(zone) = &calendar.timezone {
        crate::calendar::zones::room_zone(Some(zone))
            .map_err(|e| problem(&["calendar", "timezone"], e))?;
    }

    let screen = &config.screen;
    in_range(
        &["screen", "sleep_after_s"],
        screen.sleep_after_s,
        1,
        86_400,
    )?;
    if let CecChoice::Path(path) = &screen.cec {
        if !path.is_absolute() {
            return Err(problem(
                &["screen", "cec"],
                format!(
                    "\"{}\" is not \"auto\", \"none\" or a device path such as /dev/cec0",
                    path.display()
                ),
            ));
        }
    }

    let camera = &config.camera;
    if let DeviceChoice::Named(path) = &camera.device {
        if !path.starts_with('/') {
            return Err(problem(
                &["camera", "device"],
                format!(
                    "\"{path}\" is not \"auto\", \"test\" or a device path such as /dev/video0"
                ),
            ));
        }
    }
    in_range(&["camera", "width"], camera.width.into(), 16, 7680)?;
    in_range(&["camera", "height"], camera.height.into(), 16, 4320)?;
    in_range(&["camera", "fps"], camera.fps.into(), 1, 120)?;

    let audio = &config.audio;
    in_range(&["audio", "rate"], audio.rate.into(), 8_000, 192_000)?;
    if let ChannelSelection::Channels(list) = &audio.channels {
        if list.is_empty() {
            return Err(problem(
                &["audio", "channels"],
                "list at least one channel, or \"auto\"",
            ));
        }
        if let Some(bad) = list.iter().find(|&&c| c >= 32) {
            return Err(problem(
                &["audio", "channels"],
                format!("channel {bad} does not exist (0 to 31)"),
            ));
        }
    }

    let mut used_lines: Vec<(String, Vec<&str>)> = Vec::new();
    let buttons = [
        ("join", &config.buttons.join),
        ("mute", &config.buttons.mute),
        ("camera_privacy", &config.buttons.camera_privacy),
    ];
    for (name, button) in buttons {
        if let Some(button) = button {
            let field = ["buttons", name];
            check_line(&field, button.pin, &button.chip, &button.line)?;
            check_button(&field, button)?;
            claim_line(
                &mut used_lines,
                &field,
                button.pin,
                &button.chip,
                &button.line,
            )?;
        }
    }
    let leds = [("status", &config.leds.status), ("mute", &config.leds.mute)];
    for (name, led) in leds {
        if let Some(LedConfig {
            pin, chip, line, ..
        }) = led
        {
            let field = ["leds", name];
            check_line(&field, *pin, chip, line)?;
            claim_line(&mut used_lines, &field, *pin, chip, line)?;
        }
    }

    if let HidChoice::Path(path) = &config.speakerphone.hid {
        if !path.is_absolute() {
            return Err(problem(
                &["speakerphone", "hid"],
                format!(
                    "\"{}\" is not \"auto\", \"none\" or a hidraw device path such as /dev/hidraw0",
                    path.display()
                ),
            ));
        }
    }

    if let Some(kbps) = config.media.video_kbps {
        in_range(&["media", "video_kbps"], kbps.into(), 50, 20_000)?;
    }
    let screen = &config.screen;
    for (name, value) in [("width", screen.width), ("height", screen.height)] {
        in_range(&["screen", name], value.into(), 64, 7680)?;
        if value % 2 != 0 {
            return Err(problem(&["screen", name], "must be even"));
        }
    }
    in_range(&["screen", "fps"], screen.fps.into(), 1, 60)?;
    let network = &config.network;
    in_range(
        &["network", "min_video_kbps"],
        network.min_video_kbps.into(),
        50,
        20_000,
    )?;
    in_range(
        &["network", "max_video_kbps"],
        network.max_video_kbps.into(),
        network.min_video_kbps.into(),
        20_000,
    )?;
    let has_turn = network
        .ice_servers
        .iter()
        .any(|s| s.urls.iter().any(|u| u.starts_with("turn")));
    if network.relay_only && !has_turn {
        return Err(problem(
            &["network", "relay_only"],
            "needs a TURN server in [[network.ice_servers]]",
        ));
    }
    if network.bind.is_empty() {
        return Err(problem(&["network", "bind"], "needs at least one address"));
    }
    for server in &network.ice_servers {
        for url in &server.urls {
            let scheme = url.split(':').next().unwrap_or_default();
            if !["stun", "stuns", "turn", "turns"].contains(&scheme) {
                return Err(problem(
                    &["network", "ice_servers", "urls"],
                    format!("\"{url}\": expected stun:, stuns:, turn: or turns:"),
                ));
            }
            if scheme.starts_with("turn") && server.username.is_empty() {
                return Err(problem(
                    &["network", "ice_servers", "username"],
                    format!("\"{url}\": a TURN server needs a username and credential"),
                ));
            }
        }
    }
    if let Some(url) = &network.proxy {
        crate::net::proxy::Proxy::from_settings(Some(url), None, |_| None)
            .map_err(|e| problem(&["network", "proxy"], e.to_string()))?;
    }
    if let Some(path) = &network.proxy_credentials_file {
        crate::net::proxy::read_credentials(path)
            .map_err(|e| problem(&["network", "proxy_credentials_file"], e.to_string()))?;
    }
    if let Some(socket) = &config.control.socket {
        if !socket.is_absolute() {
            return Err(problem(&["control", "socket"], "must be an absolute path"));
        }
    }
    Ok(())
}

fn check_line(
    field: &[&str; 2],
    pin: Option<u8>,
    chip: &Option<String>,
    line: &Option<LineRef>,
) -> Result<(), Problem> {
    match (pin, chip, line) {
        (Some(_), None, None) | (None, _, Some(_)) => Ok(()),
        (Some(_), _, _) => Err(problem(field, "give either `pin` (Raspberry Pi BCM) or `chip`/`line`, not both")),
        (None, _, None) => Err(problem(field, "which GPIO line? set `pin` (Raspberry Pi BCM) or `line` (offset or name, with optional `chip`)")),
    }
}

fn check_button(field: &[&str; 2], button: &ButtonConfig) -> Result<(), Problem> {
    let sub = |leaf: &'static str| [field[0], field[1], leaf];
    in_range(&sub("debounce_ms"), button.debounce_ms, 0, 500)?;
    in_range(&sub("long_press_ms"), button.long_press_ms, 300, 30_000)?;
    if button.long_press_ms <= button.debounce_ms {
        return Err(problem(
            &sub("long_press_ms"),
            "must be longer than debounce_ms",
        ));
    }
    Ok(())
}

/// Two functions on one line is always a wiring mistake in the config.
fn claim_line<'a>(
    used: &mut Vec<(String, Vec<&'a str>)>,
    field: &[&'a str; 2],
    pin: Option<u8>,
    chip: &Option<String>,
    line: &Option<LineRef>,
) -> Result<(), Problem> {
    let key = match (pin, line) {
        (Some(pin), _) => format!("BCM pin {pin}"),
        (None, Some(LineRef::Offset(offset))) => {
            format!("line {offset} of {}", chip.as_deref().unwrap_or("any chip"))
        }
        (None, Some(LineRef::Name(name))) => format!("line \"{name}\""),
        (None, None) => return Ok(()),
    };
    if let Some((_, other)) = used.iter().find(|(k, _)| *k == key) {
        return Err(problem(
            field,
            format!("{key} is already used by [{}]", other.join(".")),
        ));
    }
    used.push((key, field.to_vec()));
    Ok(())
}
