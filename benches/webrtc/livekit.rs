//! The real LiveKit server in the webrtc benchmark: the time from `salle join <Meet URL>` to the
//! server's first video packet from the room, over repeated joins, against livekit-server on
//! loopback (tests/common/livekit_server.rs: the tests' server and Meet fixture).

use crate::livekit_server::{LiveKitServer, Meet};
use crate::peers::Daemon;
use std::time::{Duration, Instant, SystemTime};

/// One join's figures, ms after `salle join` started.
#[derive(Default)]
pub struct Join {
    pub in_call: Option<f64>,
    /// The server logs each track's first packet ("track published", debug level).
    pub first_video: Option<f64>,
    pub error: Option<String>,
}

/// `joins` joins of `daemon` into a public Visio room on a real server, each left again.
pub fn join_timings(daemon: &Daemon, joins: usize) -> Result<Vec<Join>, String> {
    if !crate::livekit_server::server_binary().exists() {
        return Err("livekit-server is not built (tests/fixtures/livekit/setup.sh)".into());
    }
    let meet = Meet::start_on(
        LiveKitServer::start_logging("debug"),
        &["--room", "bench=public"],
    );
    let url = meet.meeting_url("bench");
    let mut all = Vec::new();
    for _ in 0..joins {
        let mut join = Join::default();
        let wall = SystemTime::now();
        let start = Instant::now();
        let out = daemon.cli(&["join", &url]);
        if !out.status.success() {
            join.error = Some(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        let deadline = start + Duration::from_secs(30);
        while join.error.is_none() && join.in_call.is_none() && Instant::now() < deadline {
            let status = daemon.status();
            if status["call"]["state"] == "in-call" {
                join.in_call = Some(start.elapsed().as_secs_f64() * 1000.0);
            } else if let Some(error) = status["last_error"].as_str() {
                join.error = Some(error.to_string());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        while join.error.is_none() && join.first_video.is_none() && Instant::now() < deadline {
            join.first_video = first_video_after(&meet.server.log(), wall);
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = daemon.cli(&["leave"]);
        daemon.wait_state("idle", Duration::from_secs(20));
        if join.first_video.is_none() && join.error.is_none() {
            join.error = Some("no video reached the server".into());
        }
        all.push(join);
    }
    Ok(all)
}

/// The first "track published" line of a video track in the server's log after `since`, in ms
/// after it (the log's times are the same system clock, to the millisecond).
fn first_video_after(log: &str, since: SystemTime) -> Option<f64> {
    let since = jiff::Timestamp::try_from(since).ok()?;
    log.lines()
        // `\ttrack published\t` (participant.go, when the track's first packet arrives), not
        // `sending track published` (the answer to AddTrackRequest, before any media).
        .filter(|line| line.contains("\ttrack published\t") && line.contains("VIDEO"))
        .filter_map(|line| line.split('\t').next()?.parse::<jiff::Timestamp>().ok())
        .find(|at| *at >= since)
        .map(|at| (at - since).total(jiff::Unit::Millisecond).unwrap_or(0.0))
}

/// One participant's cost in the 3-person call.
pub struct CallRun {
    pub who: String,
    pub usage: crate::procs::Usage,
    /// What it sent and received, in words.
    pub notes: Vec<String>,
}

/// Seconds a participant is in the call before it is measured: the others' pictures arrive
/// and Chromium's bandwidth estimate climbs to 720p.
const CALL_WARM_UP: u64 = 15;

/// A 3-person call on the real server: the room (sending 720p30, receiving two people,
/// drawing its screen) with two Python SDK participants (640x360 H.264 and a tone each), then
/// headless Chromium with livekit-client in the room's place, measured the same way: once
/// publishing one 720p H.264 stream as the room does, once as La Suite Meet's web client
/// (VP9 L3T3_KEY).
pub fn call_usage(room_config: &str, secs: u64) -> Result<Vec<CallRun>, String> {
    if !crate::livekit_server::server_binary().exists() {
        return Err("livekit-server is not built (tests/fixtures/livekit/setup.sh)".into());
    }
    // Meet's room `salle-test`, where the Chromium participant's token is for.
    let meet = Meet::start(&["--room", "salle-test=public"]);
    for (identity, name) in [("alice", "Alice Python"), ("bob", "Bob Python")] {
        meet.control(
            "join",
            serde_json::json!({"identity": identity, "name": name,
                               "width": 640, "height": 360, "codec": "H264"}),
        );
    }
    let mut runs = vec![room_in_call(&meet, room_config, secs)?];
    for (codec, simulcast, who) in [
        ("h264", false, "Chromium (H.264, one layer)"),
        ("vp9", true, "Chromium (VP9 L3T3_KEY, as Meet)"),
    ] {
        runs.push(chromium_in_call(&meet, codec, simulcast, who, secs)?);
    }
    Ok(runs)
}

fn room_in_call(meet: &Meet, config: &str, secs: u64) -> Result<CallRun, String> {
    // It draws its screen (composes the people and its texts) into a sink that shows nothing.
    let daemon = Daemon::start_with(
        config,
        &[
            ("GST_PLUGIN_FEATURE_RANK", "fakevideosink:MAX"),
            ("DISPLAY", ":salle-bench"),
        ],
    );
    let out = daemon.cli(&["join", &meet.meeting_url("salle-test")]);
    if !out.status.success() {
        return Err(format!(
            "salle join: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let people = |status: &serde_json::Value| -> Vec<serde_json::Value> {
        status["media"]["screen"]["people"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = daemon.status();
        let decoding = people(&status)
            .iter()
            .filter(|p| p["decoded_frames"].as_u64() > Some(30))
            .count();
        if decoding >= 2 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the room never decoded both people: {}",
                status["media"]["screen"]
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(CALL_WARM_UP));
    let before = daemon.status();
    let threads_before = crate::procs::cpu_by_thread_name(daemon.pid());
    let started = Instant::now();
    let usage = crate::procs::measure(Duration::from_secs(secs), || vec![daemon.pid()], || {});
    let after = daemon.status();
    let threads_after = crate::procs::cpu_by_thread_name(daemon.pid());
    let elapsed = started.elapsed().as_secs_f64();
    let rate = |path: &[&str]| {
        let pick = |v: &serde_json::Value| path.iter().fold(v, |v, k| &v[*k]).as_f64();
        (pick(&after).unwrap_or(0.0) - pick(&before).unwrap_or(0.0)) / elapsed
    };
    let mut notes = vec![format!(
        "sent {:.1} video frames/s; decoded {}",
        rate(&["session", "sent", "video_frames"]),
        people(&after)
            .iter()
            .map(|p| {
                let frames = |s: &serde_json::Value| {
                    people(s)
                        .iter()
                        .find(|q| q["id"] == p["id"])
                        .and_then(|q| q["decoded_frames"].as_f64())
                        .unwrap_or(0.0)
                };
                format!(
                    "{} {}x{} at {:.1} fps",
                    p["name"].as_str().unwrap_or("?"),
                    p["width"],
                    p["height"],
                    (frames(&after) - frames(&before)) / elapsed
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let video = &after["media"]["video"];
    notes.push(format!(
        "status at the end: sent {} kbit/s (congestion target {}), encoder {}x{} at {} kbit/s",
        after["session"]["sent"]["kbps"],
        after["session"]["sent"]["target_kbps"],
        video["width"],
        video["height"],
        video["kbps"]
    ));
    notes.push(format!(
        "busiest threads (% of one core): {}",
        crate::procs::busiest_threads(&threads_before, &threads_after, elapsed, 8)
    ));
    let _ = daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(20));
    Ok(CallRun {
        who: "salle (the room)".into(),
        usage,
        notes,
    })
}

fn chromium_in_call(
    meet: &Meet,
    codec: &str,
    simulcast: bool,
    who: &str,
    secs: u64,
) -> Result<CallRun, String> {
    let chromium = meet.chromium(&crate::livekit_server::ChromiumOptions {
        identity: "chromium-bench",
        name: "Chromium bench",
        codec,
        simulcast,
        seconds: (CALL_WARM_UP + secs + 2) as u32,
    });
    std::thread::sleep(Duration::from_secs(CALL_WARM_UP));
    let root = chromium.pid();
    let processes = || {
        crate::procs::tree(root)
            .into_iter()
            .filter(|&p| crate::procs::exe_name(p).as_deref() == Some("chromium"))
            .collect::<Vec<_>>()
    };
    let usage = crate::procs::measure(Duration::from_secs(secs), processes, || {});
    let result = chromium.result();
    // From published to the end of its session.
    let session_s = (CALL_WARM_UP + secs + 2) as f64;
    let sent = result["outbound"]["video"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut notes = vec![format!(
        "sent at the end: {}",
        sent.iter()
            .filter(|s| s["active"] != false)
            .map(|s| format!(
                "{} {}x{} {} ({}, framesEncoded {:.1}/s over the session, {:.0} kbit/s, quality limitation {})",
                s["codec"].as_str().unwrap_or("?"),
                s["frameWidth"],
                s["frameHeight"],
                s["scalabilityMode"].as_str().or(s["rid"].as_str()).unwrap_or(""),
                s["encoderImplementation"].as_str().unwrap_or("?"),
                s["framesEncoded"].as_f64().unwrap_or(0.0) / session_s,
                s["bytesSent"].as_f64().unwrap_or(0.0) * 8.0 / 1000.0 / session_s,
                s["qualityLimitationReason"].as_str().unwrap_or("?"),
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let remotes = result["remotes"].as_object().cloned().unwrap_or_default();
    notes.push(format!(
        "decoded: {}; {} processes",
        remotes
            .iter()
            .map(|(name, r)| format!(
                "{name} {}x{} {} at {} fps",
                r["frameWidth"],
                r["frameHeight"],
                r["videoCodec"].as_str().unwrap_or("?"),
                r["framesPerSecond"]
            ))
            .collect::<Vec<_>>()
            .join(", "),
        usage.processes
    ));
    if result["errors"].as_array().is_some_and(|e| !e.is_empty()) {
        notes.push(format!("errors: {}", result["errors"]));
    }
    Ok(CallRun {
        who: who.into(),
        usage,
        notes,
    })
}

/// The call's table: CPU per second and memory of each, and the room's ratios to each
/// Chromium.
pub fn print_call(runs: &Result<Vec<CallRun>, String>, secs: u64) {
    println!(
        "3-person call on livekit-server {} (the room or Chromium + two Python SDK participants sending 640x360 H.264), each measured {secs} s after {CALL_WARM_UP} s in the call",
        crate::livekit_server::SERVER_VERSION
    );
    let runs = match runs {
        Ok(runs) => runs,
        Err(why) => return println!("  skipped: {why}"),
    };
    println!(
        "  {:<34} {:>10} {:>12} {:>12}",
        "who", "CPU s/s", "peak RSS MB", "peak PSS MB"
    );
    for run in runs {
        let u = &run.usage;
        println!(
            "  {:<34} {:>10.3} {:>12.1} {:>12.1}",
            run.who,
            u.cpu_s / u.window_s.max(1e-9),
            u.rss_kb as f64 / 1024.0,
            u.pss_kb as f64 / 1024.0
        );
    }
    for run in runs {
        for note in &run.notes {
            println!("  {}: {note}", run.who);
        }
    }
    let room = &runs[0].usage;
    for other in &runs[1..] {
        let u = &other.usage;
        let cpu = (room.cpu_s / room.window_s) / (u.cpu_s / u.window_s).max(1e-9);
        println!(
            "  room / {}: CPU {cpu:.2}x (target <= 0.5), RSS {:.2}x (target <= 0.15), PSS {:.2}x",
            other.who,
            room.rss_kb as f64 / (u.rss_kb as f64).max(1.0),
            room.pss_kb as f64 / (u.pss_kb as f64).max(1.0),
        );
    }
}
