//! The systemd unit and udev rules as shipped.

use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/salle.service");
const WEB_UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/salle-web.service");

fn unit() -> String {
    std::fs::read_to_string(UNIT).unwrap()
}

fn setting<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn unit_runs_unprivileged_as_a_notify_service_with_watchdog() {
    let unit = unit();
    assert_eq!(setting(&unit, "Type"), ["notify"]);
    assert_eq!(setting(&unit, "User"), ["salle"]);
    assert_eq!(setting(&unit, "SupplementaryGroups"), ["video audio gpio"]);
    assert_eq!(setting(&unit, "CapabilityBoundingSet"), [""]);
    assert_eq!(setting(&unit, "NoNewPrivileges"), ["yes"]);
    assert_eq!(setting(&unit, "ProtectSystem"), ["strict"]);
    assert!(setting(&unit, "SystemCallFilter").contains(&"@system-service"));
    assert!(!setting(&unit, "WatchdogSec").is_empty());
    // The daemon's default socket directory is the unit's RuntimeDirectory.
    assert_eq!(setting(&unit, "RuntimeDirectory"), ["salle"]);
    let exec = setting(&unit, "ExecStart")[0];
    assert!(
        exec.ends_with("salle run --config /etc/salle/salle.toml"),
        "{exec}"
    );
}

#[test]
fn systemd_analyze_security_exposure_is_at_most_2() {
    let level = exposure(UNIT);
    assert!(level <= 2.0, "exposure {level} > 2.0");
}

/// The web surface's unit: unprivileged, its own user, no devices, at least as hardened.
#[test]
fn web_unit_is_unprivileged_and_at_least_as_hardened_as_the_daemons() {
    let unit = std::fs::read_to_string(WEB_UNIT).unwrap();
    assert_eq!(setting(&unit, "User"), ["salle-web"]);
    assert_eq!(setting(&unit, "SupplementaryGroups"), ["salle"]);
    assert_eq!(setting(&unit, "CapabilityBoundingSet"), [""]);
    assert_eq!(setting(&unit, "PrivateDevices"), ["yes"]);
    assert_eq!(setting(&unit, "MemoryDenyWriteExecute"), ["yes"]);
    let web = exposure(WEB_UNIT);
    let daemon = exposure(UNIT);
    assert!(web <= daemon, "web {web} > daemon {daemon}");
}

/// `systemd-analyze security`'s overall exposure level of a unit file.
fn exposure(unit: &str) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager", unit])
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let report = String::from_utf8_lossy(&out.stdout);
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure line in:\n{report}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("{line}");
    let level: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the level in {line:?}"));
    if level > 2.0 {
        println!("{report}");
    }
    level
}

#[test]
fn sysusers_creates_the_user_in_the_device_groups() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/salle.sysusers"
    ))
    .unwrap();
    for line in [
        "u salle",
        "m salle video",
        "m salle audio",
        "m salle gpio",
        "g gpio",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "missing {line:?}"
        );
    }
}
