//! Prometheus figures from the daemon's status, in the text exposition format (0.0.4): what
//! the web surface serves at `/metrics`. Counters end in `_total`; names start with `salle_`.

use crate::api::{CallStatus, DaemonStatus};
use std::fmt::Write;

struct Exposition(String);

impl Exposition {
    fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
        let _ = writeln!(self.0, "# HELP salle_{name} {help}");
        let _ = writeln!(self.0, "# TYPE salle_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.0, "salle_{name}{labels} {value}");
        }
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.metric(name, "gauge", help, &[("", value)]);
    }

    fn counter(&mut self, name: &str, help: &str, value: f64) {
        self.metric(name, "counter", help, &[("", value)]);
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Escapes a label value (backslash, quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The figures of one status.
pub fn render(status: &DaemonStatus) -> String {
    let mut out = Exposition(String::new());
    let room = &status.room;
    out.gauge(
        "uptime_seconds",
        "Seconds since the daemon started.",
        status.uptime_ms as f64 / 1000.0,
    );
    let state = room.call.name();
    let states = [
        "idle",
        "joining",
        "in-call",
        "reconnecting",
        "waiting",
        "leaving",
        "failed",
    ];
    let samples: Vec<(String, f64)> = states
        .iter()
        .map(|s| (format!("{{state=\"{s}\"}}"), flag(*s == state)))
        .collect();
    let samples: Vec<(&str, f64)> = samples.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    out.metric(
        "call_state",
        "gauge",
        "1 for the room's call state.",
        &samples,
    );
    out.gauge(
        "in_call",
        "1 while the room is in a call.",
        flag(matches!(room.call, CallStatus::InCall { .. })),
    );
    out.gauge(
        "mic_muted",
        "1 while the microphone is muted.",
        flag(room.mic_muted),
    );
    out.gauge(
        "camera_off",
        "1 while the camera is off (privacy).",
        flag(room.camera_off),
    );
    let devices = [
        ("camera", &room.devices.camera),
        ("microphone", &room.devices.microphone),
        ("speaker", &room.devices.speaker),
    ];
    let present: Vec<(String, f64)> = devices
        .iter()
        .map(|(k, d)| (format!("{{kind=\"{k}\"}}"), flag(d.present)))
        .collect();
    let present: Vec<(&str, f64)> = present.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    out.metric(
        "device_present",
        "gauge",
        "1 when the room has the device.",
        &present,
    );
    let simulated: Vec<(String, f64)> = devices
        .iter()
        .map(|(k, d)| (format!("{{kind=\"{k}\"}}"), flag(d.simulated)))
        .collect();
    let simulated: Vec<(&str, f64)> = simulated.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    out.metric(
        "device_simulated",
        "gauge",
        "1 when the device is simulated.",
        &simulated,
    );
    out.gauge(
        "problems",
        "Problems that need a person.",
        status.problems.len() as f64,
    );
    if let Some(video) = &status.media.video {
        out.gauge("video_fps", "Camera frame rate.", video.fps as f64);
        out.gauge(
            "video_encoder_kbps",
            "Encoder bitrate, kbit/s.",
            video.kbps as f64,
        );
        out.counter(
            "video_frames_total",
            "Video frames encoded.",
            video.frames as f64,
        );
        out.counter(
            "video_keyframes_total",
            "Keyframes encoded.",
            video.keyframes as f64,
        );
    }
    if let Some(audio) = &status.media.audio {
        out.gauge(
            "audio_level_dbfs",
            "Microphone level, dBFS.",
            audio.level_dbfs,
        );
        out.counter(
            "audio_packets_total",
            "Audio packets encoded.",
            audio.packets as f64,
        );
    }
    if let Some(screen) = &status.media.screen {
        out.gauge(
            "screen_tiles",
            "Remote pictures on the screen.",
            screen.tiles as f64,
        );
        let decoded: Vec<(String, f64)> = screen
            .people
            .iter()
            .map(|p| {
                (
                    format!("{{person=\"{}\"}}", label(&p.name)),
                    p.decoded_frames as f64,
                )
            })
            .collect();
        let decoded: Vec<(&str, f64)> = decoded.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        out.metric(
            "frames_decoded_total",
            "counter",
            "Video frames decoded, per person on the screen.",
            &decoded,
        );
    }
    if let Some(session) = &status.session {
        out.gauge(
            "sent_kbps",
            "Bitrate sent, kbit/s.",
            session.sent.kbps as f64,
        );
        out.gauge(
            "sent_target_kbps",
            "Congestion control's video target, kbit/s.",
            session.sent.target_kbps as f64,
        );
        out.gauge(
            "received_kbps",
            "Bitrate received, kbit/s.",
            session.received.kbps as f64,
        );
        out.counter(
            "sent_video_frames_total",
            "Video frames sent.",
            session.sent.video_frames as f64,
        );
        out.counter(
            "received_video_frames_total",
            "Video frames received.",
            session.received.video_frames as f64,
        );
        out.counter(
            "received_frames_lost_total",
            "Video frames lost on the way in.",
            session.received.frames_lost as f64,
        );
        out.counter(
            "ice_restarts_total",
            "ICE restarts.",
            session.ice_restarts as f64,
        );
        out.counter(
            "rejoins_total",
            "Meetings joined again after a loss.",
            session.rejoins as f64,
        );
        let rtt: Vec<(String, f64)> = session
            .connections
            .iter()
            .filter_map(|c| {
                Some((
                    format!("{{role=\"{}\"}}", label(&c.role)),
                    c.rtt_ms? / 1000.0,
                ))
            })
            .collect();
        let rtt: Vec<(&str, f64)> = rtt.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        out.metric(
            "rtt_seconds",
            "gauge",
            "Round-trip time per connection.",
            &rtt,
        );
        let loss: Vec<(String, f64)> = session
            .connections
            .iter()
            .filter_map(|c| {
                Some((
                    format!("{{role=\"{}\"}}", label(&c.role)),
                    c.remote_loss_percent? / 100.0,
                ))
            })
            .collect();
        let loss: Vec<(&str, f64)> = loss.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        out.metric(
            "remote_loss_ratio",
            "gauge",
            "Share of sent packets lost, as the receivers report.",
            &loss,
        );
    }
    out.0
}
