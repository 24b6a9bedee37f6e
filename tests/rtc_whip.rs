//! The room publishing with WHIP and playing with WHEP, against GStreamer's own WebRTC
//! elements (an independent WebRTC stack: webrtcbin, libnice, libsrtp), all on loopback.

mod common;

use common::peers::GstPeer;
use common::turn::Turn;
use common::{simulated_room, wait_for, Daemon};
use std::time::Duration;

#[test]
fn whipserversrc_decodes_the_rooms_video_and_hears_its_tone() {
    let mut server = GstPeer::start(
        "whip-server",
        &["--listen", "127.0.0.1:0", "--seconds", "6"],
    );
    let daemon = Daemon::start(&simulated_room(
        "Salle WHIP",
        &format!("whip+{}", server.url),
    ));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    let result = server.result(Duration::from_secs(40));
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    // At least 5 s of video at the sent size (the test pattern at 1280x720). The frame rate
    // is a figure, not a test: a loaded machine encodes fewer than 30 frames a second.
    let media_s = result["media_s"].as_f64().unwrap_or(0.0);
    assert!(media_s >= 5.0, "{media_s} s of video decoded: {result}");
    let frames = result["video_frames"].as_u64().unwrap_or(0);
    assert!(frames >= 50, "{frames} frames decoded: {result}");
    assert_eq!(
        (result["width"].as_u64(), result["height"].as_u64()),
        (Some(1280), Some(720)),
        "{result}"
    );
    // The simulated microphone's 440 Hz tone, through Opus and back.
    let rms = result["audio_rms_dbfs"]
        .as_f64()
        .unwrap_or(f64::NEG_INFINITY);
    assert!(rms > -30.0, "audio at {rms} dBFS: {result}");
    let freq = result["audio_freq_hz"].as_f64().unwrap_or(0.0);
    assert!((freq - 440.0).abs() < 20.0, "tone at {freq} Hz: {result}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

#[test]
fn the_room_plays_a_whepserversink_stream_on_its_screen() {
    let server = GstPeer::start(
        "whep-server",
        &[
            "--listen",
            "127.0.0.1:0",
            "--width",
            "640",
            "--height",
            "360",
        ],
    );
    let daemon = Daemon::start(&simulated_room(
        "Salle WHIP",
        &format!("whep+{}", server.url),
    ));
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(20));
    // The server's 640x360 test pattern, decoded on the room's screen for 2 s or more.
    let status = wait_for("60 decoded remote frames", Duration::from_secs(30), || {
        let status = daemon.status();
        let people = status["media"]["screen"]["people"].as_array()?.clone();
        (people.len() == 1 && people[0]["decoded_frames"].as_u64() > Some(60)).then_some(status)
    });
    let person = &status["media"]["screen"]["people"][0];
    assert_eq!(
        (person["width"].as_u64(), person["height"].as_u64()),
        (Some(640), Some(360)),
        "{status}"
    );
    assert_eq!(person["shown"], true, "{status}");
    let received = &status["session"]["received"];
    assert!(received["keyframes"].as_u64() >= Some(1), "{status}");
    assert!(
        received["audio_frames"].as_u64() > Some(50),
        "the server's tone arrives: {status}"
    );
    assert_eq!(
        status["session"]["connections"][0]["state"], "connected",
        "{status}"
    );
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
    drop(server);
}

#[test]
fn a_whip_server_that_refuses_leaves_the_room_idle_with_the_reason() {
    // A plain HTTP server answering 500 to everything: no WebRTC at all.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 65536];
            let _ = stream.read(&mut buffer);
            let body = "database on fire";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let daemon = Daemon::start(&simulated_room(
        "Salle WHIP",
        &format!("whip+http://127.0.0.1:{port}/whip"),
    ));
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(20));
    assert!(
        error.contains("500") && error.contains("database on fire"),
        "{error}"
    );
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    // The failure stays on the screen for 10 s, then the room is ready again.
    daemon.wait_state("idle", Duration::from_secs(25));
}

#[test]
fn with_relay_only_the_media_goes_through_turn_and_still_decodes() {
    let turn = Turn::start();
    let mut server = GstPeer::start(
        "whip-server",
        &["--listen", "127.0.0.1:0", "--seconds", "4"],
    );
    let config = simulated_room("Salle TURN", &format!("whip+{}", server.url)).replace(
        "[network]",
        &format!(
            "[network]\nrelay_only = true\n[[network.ice_servers]]\nurls = [\"turn:127.0.0.1:{}?transport=udp\"]\nusername = \"room\"\ncredential = \"secret\"\n",
            turn.port
        ),
    );
    // The table header must come after the plain keys of [network]: move `bind` up.
    let config = config
        .replace("\nbind = [\"127.0.0.1:0\"]\n", "\n")
        .replace(
            "[network]\nrelay_only = true\n",
            "[network]\nrelay_only = true\nbind = [\"127.0.0.1:0\"]\n",
        );
    let daemon = Daemon::start(&config);
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(30));
    let pair = wait_for(
        "the candidate pair in status",
        Duration::from_secs(10),
        || {
            let status = daemon.status();
            status["session"]["connections"][0]["candidate_pair"]
                .as_str()
                .map(String::from)
        },
    );
    assert!(
        pair.starts_with("relay "),
        "local candidate not relayed: {pair}"
    );
    let result = server.result(Duration::from_secs(40));
    assert!(result["video_frames"].as_u64() > Some(50), "{result}");
    assert_eq!(result["width"].as_u64(), Some(1280), "{result}");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}
