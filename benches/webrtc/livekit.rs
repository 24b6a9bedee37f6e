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
