//! Locked-down networks (issue 14): a firewall (nftables, in the test's own network namespace)
//! drops all UDP between the room and the servers, so the room's only way to its Janus
//! VideoRoom is coturn (Debian) over TCP or over TLS on 443, relaying over UDP on the servers'
//! side. The room is not told which path to take: it offers its host candidates as always,
//! and ICE finds that only the relayed ones work. The far end (Janus' RTP forwarding, decoded
//! by GStreamer) decodes the room's picture and hears its tone; the room decodes an aiortc
//! participant; status names the path. A TURN server whose certificate comes from a CA the
//! room does not trust fails the join with an error naming the server and the problem.

mod common;

use common::janus::Janus;
use common::network::{drop_udp_between, udp_dropped, MEDIA_ADDRESS};
use common::turn::Turn;
use common::{in_own_network, simulated_room, wait_for, Daemon};
use std::time::{Duration, Instant};

/// coturn's ports: TCP 3478, TLS 443 (what a network that lets out only HTTPS leaves).
const TURN_TCP: u16 = 3478;
const TURN_TLS: u16 = 443;

/// The room in `janus`'s room, its media from `MEDIA_ADDRESS` (which the firewall cuts off
/// from the servers' UDP), with `url` as its only TURN server, `ca_file` trusted if given.
fn locked_down_room(janus: &Janus, name: &str, url: &str, ca_file: Option<&str>) -> Daemon {
    locked_down_room_with(janus, name, url, ca_file, "")
}

/// `locked_down_room` with `network` (lines of `[network]`) added.
fn locked_down_room_with(
    janus: &Janus,
    name: &str,
    url: &str,
    ca_file: Option<&str>,
    network: &str,
) -> Daemon {
    // A small picture: what is proven is the path, and two such tests may share the 2 cores.
    let mut config = common::network::on_media_address(&simulated_room(name, &janus.meeting_url()))
        .replace("[camera]", "[camera]\nwidth = 320\nheight = 180\nfps = 15");
    if let Some(ca) = ca_file {
        config.push_str(&format!("ca_file = \"{ca}\"\n"));
    }
    config.push_str(network);
    config.push_str(&format!(
        "[[network.ice_servers]]\nurls = [\"{url}\"]\nusername = \"room\"\ncredential = \"secret\"\n"
    ));
    Daemon::start(&config)
}

/// Waits for the room to be in the call; the log's lines about the network if it never is.
fn in_call(daemon: &Daemon) {
    let start = Instant::now();
    while daemon.state() != "in-call" {
        if start.elapsed() > Duration::from_secs(60) {
            let log = daemon.log();
            let telling = ["TURN", "ICE", "candidate", "WARN", "ERROR", "relay"];
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| telling.iter().any(|t| l.contains(t)))
                .collect();
            panic!("not in the call after 60 s:\n{}", lines.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Joins with `url` as its TURN server, with UDP dropped unless `path` is "udp", and checks
/// media both ways and the path in status.
fn joins_through(url: &str, path: &str) {
    joins_through_maybe_proxy(url, path, false)
}

/// `joins_through`; with `proxied`, the room's new TCP connections to the Janus signalling
/// port and to 443 are dropped too unless they come from the proxy (tinyproxy, running as
/// `nobody`), so that the proxy is its only way out, and its log must show both tunnels.
fn joins_through_maybe_proxy(url: &str, path: &str, proxied: bool) {
    let turn = Turn::start_streams(TURN_TCP, TURN_TLS);
    let janus = Janus::start();
    let udp_open = path == "udp";
    if !udp_open {
        drop_udp_between(MEDIA_ADDRESS, &[]);
    }
    let mut remote = janus.publish_peer("Alice", 40);
    let ca = turn.ca.as_ref().unwrap().display().to_string();
    let ws_port = url::Url::parse(janus.ws()).unwrap().port().unwrap();
    // Once Alice publishes (her connections are up, and `ct state new` leaves them alone):
    // from then on only the proxy gets out.
    let proxy = proxied.then(|| {
        let alice = janus.receive("Alice", 1);
        assert!(alice["video_frames"].as_u64() > Some(0), "{alice}");
        let proxy = common::proxy::Tinyproxy::start(&[TURN_TLS, ws_port]);
        only_the_proxy_connects_to(&[TURN_TLS, ws_port]);
        proxy
    });
    let network = proxy.as_ref().map_or(String::new(), |p| {
        format!("proxy = \"http://127.0.0.1:{}\"\n", p.port)
    });
    let daemon = locked_down_room_with(&janus, "Salle verrouillée", url, Some(&ca), &network);
    let start = Instant::now();
    daemon.cli(&["join"]);
    in_call(&daemon);
    // A figure, not a limit: the machine is shared and noisy.
    eprintln!("{path}: in the call {:?} after join", start.elapsed());

    // What the room sends, as Janus forwards it.
    let sent = janus.receive("Salle verrouillée", 5);
    let room = daemon.status();
    let room = &room["session"];
    assert!(
        sent["video_frames"].as_u64() > Some(25),
        "{sent}\nthe room: {room}"
    );
    assert_eq!(sent["width"].as_u64(), Some(320), "{sent}");
    assert_eq!(sent["video_codec"], "h264", "{sent}");
    assert!(sent["audio_rms_dbfs"].as_f64() > Some(-30.0), "{sent}");
    let freq = sent["audio_freq_hz"].as_f64().unwrap_or(0.0);
    assert!((freq - 440.0).abs() < 20.0, "{sent}");

    // What the room receives: Alice, decoded on the screen, and her sound.
    let status = wait_for(
        "Alice decoded on the screen",
        Duration::from_secs(30),
        || {
            let status = daemon.status();
            let people = status["media"]["screen"]["people"].as_array()?.clone();
            let alice = people.iter().find(|p| p["name"] == "Alice")?;
            (alice["decoded_frames"].as_u64() > Some(30)).then_some(status)
        },
    );
    assert!(
        status["session"]["received"]["audio_frames"].as_u64() > Some(50),
        "{status}"
    );

    // Every connection took the relay, and status says which kind.
    let connections = status["session"]["connections"].as_array().unwrap().clone();
    assert!(!connections.is_empty(), "{status}");
    for connection in &connections {
        assert_eq!(connection["path"], path, "{connection}");
    }
    // The firewall did its part: the room's UDP to the servers was tried and dropped.
    if !udp_open {
        let dropped = udp_dropped();
        assert!(dropped > 0, "nothing dropped: the test proves nothing");
        eprintln!("{path}: firewall dropped {dropped} UDP packets");
    }

    if let Some(proxy) = &proxy {
        let log = proxy.log();
        for port in [TURN_TLS, ws_port] {
            assert!(
                log.contains(&format!("CONNECT 127.0.0.1:{port} ")),
                "no CONNECT to {port} in the proxy's log:\n{log}"
            );
        }
        let direct = std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], TURN_TLS).into(),
            Duration::from_secs(2),
        );
        assert!(
            direct.is_err(),
            "a direct connection to 443 got through the firewall"
        );
    }

    let _ = remote.kill();
    let _ = remote.wait();
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
    drop(turn);
}

#[test]
fn with_udp_dropped_the_room_joins_janus_through_turn_over_tls_on_443() {
    if in_own_network("with_udp_dropped_the_room_joins_janus_through_turn_over_tls_on_443") {
        joins_through(
            &format!("turns:127.0.0.1:{TURN_TLS}?transport=tcp"),
            "turn/tls",
        );
    }
}

/// Drops new TCP connections to `ports` from anyone but `nobody` (the proxy).
fn only_the_proxy_connects_to(ports: &[u16]) {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let rule = format!(
        "add rule inet salle_locked_down out ct state new tcp dport {{ {} }} meta skuid != 65534 counter drop",
        ports.join(", ")
    );
    let status = std::process::Command::new("nft")
        .args(rule.split(' '))
        .status()
        .expect("run nft");
    assert!(status.success(), "nft {rule}");
}

#[test]
fn only_through_an_http_proxy_the_room_joins_janus_through_turn_over_tls_on_443() {
    if in_own_network(
        "only_through_an_http_proxy_the_room_joins_janus_through_turn_over_tls_on_443",
    ) {
        joins_through_maybe_proxy(
            &format!("turns:127.0.0.1:{TURN_TLS}?transport=tcp"),
            "turn/tls via proxy",
            true,
        );
    }
}

#[test]
fn with_udp_open_the_room_prefers_it_to_its_turn_over_tls_server() {
    if in_own_network("with_udp_open_the_room_prefers_it_to_its_turn_over_tls_server") {
        joins_through(&format!("turns:127.0.0.1:{TURN_TLS}?transport=tcp"), "udp");
    }
}

#[test]
fn with_udp_dropped_the_room_joins_janus_through_turn_over_tcp() {
    if in_own_network("with_udp_dropped_the_room_joins_janus_through_turn_over_tcp") {
        joins_through(
            &format!("turn:127.0.0.1:{TURN_TCP}?transport=tcp"),
            "turn/tcp",
        );
    }
}

#[test]
fn without_its_ca_the_turn_servers_certificate_is_named_in_the_error() {
    if !in_own_network("without_its_ca_the_turn_servers_certificate_is_named_in_the_error") {
        return;
    }
    let _turn = Turn::start_streams(TURN_TCP, TURN_TLS);
    let janus = Janus::start();
    drop_udp_between(MEDIA_ADDRESS, &[]);
    let url = format!("turns:127.0.0.1:{TURN_TLS}?transport=tcp");
    let daemon = locked_down_room(&janus, "Salle sans CA", &url, None);
    daemon.cli(&["join"]);
    let error = daemon.wait_error(Duration::from_secs(60));
    assert!(
        error.contains(&url) && error.contains("unknown issuer"),
        "{error}"
    );
}

/// What the Python participant `who` decoded of the room (`SOURCE_CAMERA`, `SOURCE_MICROPHONE`).
fn livekit_seen(state: &serde_json::Value, who: &str, source: &str) -> Option<serde_json::Value> {
    let room = state["server"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == LIVEKIT_ROOM)?
        .clone();
    let identity = room["identity"].as_str()?.to_string();
    state["participants"][who]["seen"]
        .as_object()?
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("{identity}/")))
        .map(|(_, seen)| seen)
        .find(|seen| seen["source"] == source)
        .cloned()
}

const LIVEKIT_ROOM: &str = "Salle Visio verrouillée";

/// The room in a Visio meeting on the real LiveKit server with UDP dropped and, with
/// `tcp_open` false, the server's ICE-TCP port closed too, else its TURN/TLS port (443): media
/// both ways, and `path`. With `proxied`, new TCP connections to 443 are dropped unless they
/// come from tinyproxy (as in `joins_through_maybe_proxy`), and the room is told to use it:
/// its log must show the Meet API's requests and both tunnels. The signalling port is not
/// firewalled here: meet.py (the fixture) calls the server's API on it for the test's state.
fn joins_livekit_through(tcp_open: bool, path: &str, proxied: bool) {
    use common::livekit_server::{LiveKitServer, Meet};
    let meet = Meet::start_on(
        LiveKitServer::start_with_turn_on_443(),
        &["--room", "salle-test=public"],
    );
    let closed = if tcp_open {
        TURN_TLS
    } else {
        meet.server.rtc_tcp_port
    };
    // Whatever the source: the room's streams (its TURN bridges, its ICE-TCP connections)
    // leave from the default address, and no one else here uses these ports.
    let extra = [format!("tcp dport {closed} counter drop")];
    drop_udp_between(MEDIA_ADDRESS, &extra);
    meet.control(
        "join",
        serde_json::json!({"identity": "alice", "name": "Alice Martin", "width": 320, "height": 180, "codec": "H264"}),
    );
    let mut config = common::network::on_media_address(&simulated_room(
        LIVEKIT_ROOM,
        &meet.meeting_url("salle-test"),
    ))
    .replace("[camera]", "[camera]\nwidth = 320\nheight = 180\nfps = 15");
    config.push_str(&format!(
        "ca_file = \"{}\"\n",
        meet.server.turn_ca.display()
    ));
    let signalling = url::Url::parse(&meet.server.ws).unwrap().port().unwrap();
    let proxy = proxied.then(|| {
        // Alice's connections up first: `ct state new` leaves them alone.
        meet.wait_for("Alice in the room", Duration::from_secs(60), |s| {
            s["server"]
                .as_array()?
                .iter()
                .find(|p| p["name"] == "Alice Martin")
                .cloned()
        });
        let proxy = common::proxy::Tinyproxy::start(&[TURN_TLS, signalling]);
        only_the_proxy_connects_to(&[TURN_TLS]);
        config.push_str(&format!("proxy = \"http://127.0.0.1:{}\"\n", proxy.port));
        proxy
    });
    let daemon = Daemon::start(&config);
    let start = Instant::now();
    daemon.cli(&["join"]);
    in_call(&daemon);
    eprintln!(
        "LiveKit {path}: in the call {:?} after join",
        start.elapsed()
    );

    let video = meet.wait_for("Alice decoding the room", Duration::from_secs(60), |s| {
        livekit_seen(s, "alice", "SOURCE_CAMERA").filter(|v| v["frames"].as_u64() >= Some(30))
    });
    assert_eq!(video["mime"], "video/H264", "{video}");
    meet.wait_for("Alice hearing the room", Duration::from_secs(30), |s| {
        livekit_seen(s, "alice", "SOURCE_MICROPHONE").filter(|a| {
            a["frames"].as_u64() > Some(100) && a["audio_rms_dbfs"].as_f64() > Some(-30.0)
        })
    });
    let status = wait_for(
        "Alice on the room's screen",
        Duration::from_secs(60),
        || {
            let status = daemon.status();
            let people = status["media"]["screen"]["people"].as_array()?.clone();
            let alice = people.iter().find(|p| p["name"] == "Alice Martin")?;
            (alice["decoded_frames"].as_u64() > Some(30)).then_some(status)
        },
    );
    let connections = status["session"]["connections"].as_array().unwrap().clone();
    assert!(!connections.is_empty(), "{status}");
    for connection in &connections {
        assert_eq!(connection["path"], path, "{connection}");
    }
    assert!(
        udp_dropped() > 0,
        "nothing dropped: the test proves nothing"
    );
    if let Some(proxy) = &proxy {
        let log = proxy.log();
        let api = meet.url.trim_start_matches("http://");
        for seen in [
            format!("CONNECT 127.0.0.1:{TURN_TLS} "),
            format!("CONNECT 127.0.0.1:{signalling} "),
            format!("http://{api}/"),
        ] {
            assert!(log.contains(&seen), "no {seen} in the proxy's log:\n{log}");
        }
    }
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(10));
}

#[test]
fn with_udp_and_ice_tcp_dropped_the_room_joins_livekit_through_its_embedded_turn_over_tls() {
    if in_own_network(
        "with_udp_and_ice_tcp_dropped_the_room_joins_livekit_through_its_embedded_turn_over_tls",
    ) {
        joins_livekit_through(false, "turn/tls", false);
    }
}

#[test]
fn with_udp_dropped_the_room_joins_livekit_over_ice_tcp() {
    if in_own_network("with_udp_dropped_the_room_joins_livekit_over_ice_tcp") {
        joins_livekit_through(true, "tcp", false);
    }
}

#[test]
fn only_through_an_http_proxy_the_room_joins_livekit_through_its_turn_over_tls() {
    if in_own_network("only_through_an_http_proxy_the_room_joins_livekit_through_its_turn_over_tls")
    {
        joins_livekit_through(false, "turn/tls via proxy", true);
    }
}
