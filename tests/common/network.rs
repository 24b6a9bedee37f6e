//! Shaping the test's own network namespace (see `in_own_network`): cutting it, taking the
//! room's media path away, and impairing that path with `tc netem`.
//!
//! The room's media goes from a loopback address of its own (`MEDIA_ADDRESS`), so a route or a
//! queueing discipline can single it out while the signalling (127.0.0.1) is left alone.

/// Where the room's media goes from in the tests that touch only the media path.
pub const MEDIA_ADDRESS: &str = "127.0.0.2";

/// A simulated room config (`super::simulated_room` and friends) whose media goes from
/// `MEDIA_ADDRESS`.
pub fn on_media_address(config: &str) -> String {
    let loopback = "bind = [\"127.0.0.1:0\"]";
    assert!(config.contains(loopback), "{config}");
    config.replace(loopback, &format!("bind = [\"{MEDIA_ADDRESS}:0\"]"))
}

/// Sets the namespace's only interface up or down: a cut of everything, media and signalling.
pub fn loopback(up: bool) {
    ip(&["link", "set", "lo", if up { "up" } else { "down" }]);
}

/// Takes the room's media address away (or gives it back): no UDP from or to it gets
/// through, as when a firewall or a NAT drops the media, and the signalling still does.
pub fn media_path(up: bool) {
    let action = if up { "del" } else { "add" };
    let address = format!("{MEDIA_ADDRESS}/32");
    ip(&["route", action, "blackhole", &address, "table", "local"]);
}

pub fn ip(args: &[&str]) {
    run("ip", args);
}

fn run(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tc netem` on the room's uplink: every packet from `MEDIA_ADDRESS` leaving `lo` (the room's
/// media to the server) goes through a netem queue; everything else (the signalling, the
/// server's feedback to the room) through a plain FIFO band. Shaping the feedback too would
/// delay the very reports congestion control reacts to, by the bottleneck's queue (seconds),
/// which is not what a congested uplink does. Needs the sch_prio, cls_u32 and sch_netem modules
/// (the QEMU guest has them).
pub struct MediaNetem;

impl MediaNetem {
    /// A prio root whose every priority maps to band 2 (1:2, untouched), a netem queue on band
    /// 3 (1:3) and a u32 filter sending what the media address sends there, with `impairment`
    /// (netem words, e.g. `["loss", "5%"]`).
    pub fn install(impairment: &[&str]) -> MediaNetem {
        let everything_to_band_2 = ["1"; 16];
        let mut root = vec!["qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"];
        root.extend(["bands", "3", "priomap"]);
        root.extend(everything_to_band_2);
        run("tc", &root);
        Self::add_netem(impairment);
        let address = format!("{MEDIA_ADDRESS}/32");
        run(
            "tc",
            &[
                "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", "src", &address, "flowid", "1:3",
            ],
        );
        MediaNetem
    }

    /// Replaces the impairment (an empty list: none, the path is clean again). A new netem
    /// queue rather than `tc qdisc change`, which keeps every setting it is not given (a rate
    /// limit would outlive "clean"); what the old queue held is dropped with it.
    pub fn set(&self, impairment: &[&str]) {
        run(
            "tc",
            &[
                "qdisc", "del", "dev", "lo", "parent", "1:3", "handle", "30:",
            ],
        );
        Self::add_netem(impairment);
    }

    fn add_netem(impairment: &[&str]) {
        let mut netem = vec![
            "qdisc", "add", "dev", "lo", "parent", "1:3", "handle", "30:",
        ];
        netem.push("netem");
        netem.extend(impairment);
        run("tc", &netem);
    }

    /// How many packets netem dropped (its loss and its full queue).
    pub fn dropped(&self) -> u64 {
        let counters = self.counters();
        let netem = counters
            .split("qdisc netem")
            .nth(1)
            .expect("the netem qdisc");
        let dropped = netem.split("(dropped ").nth(1).expect("netem's counters");
        dropped
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a dropped count")
    }

    /// netem's own counters (`tc -s qdisc`): what it sent and dropped, for the test's report.
    pub fn counters(&self) -> String {
        let out = std::process::Command::new("tc")
            .args(["-s", "qdisc", "show", "dev", "lo"])
            .output()
            .expect("run tc");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A firewall that lets no UDP in or out of `room` (an address of the room's own), but to
/// itself: nftables in the test's namespace drops every UDP datagram between `room` and any
/// other address, either way, as a network that blocks UDP to the outside. What stays open:
/// TCP, and UDP within the room (its TURN bridges listen on its own loopback address). Gone
/// with the namespace. `extra` are more nftables rules for the same chain (`tcp dport 7881
/// drop`).
pub fn drop_udp_between(room: &str, extra: &[String]) {
    let extra = extra.join("\n    ");
    let rules = format!(
        "table inet salle_locked_down {{
  chain out {{
    type filter hook output priority 0; policy accept;
    ip saddr {room} ip daddr != {room} udp dport 0-65535 counter drop
    ip daddr {room} ip saddr != {room} udp dport 0-65535 counter drop
    {extra}
  }}
}}
"
    );
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run nft (Debian package nftables)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -f: {rules}");
}

/// What the `drop_udp_between` rules dropped: packets.
pub fn udp_dropped() -> u64 {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "inet", "salle_locked_down"])
        .output()
        .expect("run nft");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("counter packets ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
