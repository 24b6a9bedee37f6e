//! The Raspberry Pi tryboot A/B backend for RAUC (image/rootfs/usr/lib/salle/rauc-tryboot-backend)
//! on a simulated boot partition: a directory holding autoboot.txt, a fake device-tree tryboot
//! flag and a fake kernel command line. No Pi here; what is checked is what the firmware would
//! read (autoboot.txt's [all] and [tryboot] boot_partition) after each step of an update.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct BootPartition {
    dir: tempfile::TempDir,
}

impl BootPartition {
    /// The image as flashed: slot A committed, slot B empty (bad), nothing on trial.
    fn flashed() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("autoboot.txt"),
            "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("salle-ab.txt"),
            "A=good\nB=bad\ntrial=none\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("cmdline"),
            "console=tty1 root=PARTUUID=x rauc.slot=A rootwait\n",
        )
        .unwrap();
        fs::write(dir.path().join("tryboot"), [0u8, 0, 0, 0]).unwrap();
        BootPartition { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backend(&self, args: &[&str]) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("image/rootfs/usr/lib/salle/rauc-tryboot-backend");
        Command::new(script)
            .args(args)
            .env("SALLE_AUTOBOOT_DIR", self.dir.path())
            .env("SALLE_TRYBOOT_FLAG", self.path("tryboot"))
            .env("SALLE_CMDLINE", self.path("cmdline"))
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; returns its trimmed stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.backend(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// boot_partition in a section of autoboot.txt, as the firmware reads it.
    fn boot_partition(&self, section: &str) -> u32 {
        let text = fs::read_to_string(self.path("autoboot.txt")).unwrap();
        assert!(
            text.contains("tryboot_a_b=1"),
            "autoboot.txt lost tryboot_a_b=1:\n{text}"
        );
        let mut current = "";
        for line in text.lines() {
            if line.starts_with('[') {
                current = line;
            } else if current == format!("[{section}]") {
                if let Some(v) = line.strip_prefix("boot_partition=") {
                    return v.parse().unwrap();
                }
            }
        }
        panic!("no boot_partition in [{section}]:\n{text}");
    }

    /// The partition the firmware boots: [tryboot] on a trial boot, else [all].
    fn firmware_boots(&self, tryboot: bool) -> u32 {
        self.boot_partition(if tryboot { "tryboot" } else { "all" })
    }

    /// The firmware booted `slot`, with the tryboot flag set or not.
    fn booted(&self, slot: &str, tryboot: bool) {
        fs::write(
            self.path("cmdline"),
            format!("console=tty1 rauc.slot={slot} rootwait\n"),
        )
        .unwrap();
        fs::write(self.path("tryboot"), [0u8, 0, 0, u8::from(tryboot)]).unwrap();
    }
}

/// What RAUC does when it installs a bundle into `slot`: mark it bad, write it, make it primary.
fn rauc_install(boot: &BootPartition, slot: &str) {
    boot.ok(&["set-state", slot, "bad"]);
    boot.ok(&["set-primary", slot]);
}

#[test]
fn a_flashed_image_boots_slot_a_and_b_is_bad() {
    let boot = BootPartition::flashed();
    assert_eq!(boot.ok(&["get-primary"]), "A");
    assert_eq!(boot.ok(&["get-current"]), "A");
    assert_eq!(boot.ok(&["get-state", "A"]), "good");
    assert_eq!(boot.ok(&["get-state", "B"]), "bad");
    assert_eq!(boot.firmware_boots(false), 2);
    assert_eq!(boot.firmware_boots(true), 2);
}

#[test]
fn an_installed_slot_is_tried_once_and_committed_when_marked_good() {
    let boot = BootPartition::flashed();
    rauc_install(&boot, "B");
    // Only the trial boot starts B; a normal boot (power cut, watchdog) still starts A.
    assert_eq!(boot.firmware_boots(true), 3);
    assert_eq!(boot.firmware_boots(false), 2);
    assert_eq!(boot.ok(&["get-primary"]), "B");

    boot.booted("B", true);
    assert!(boot.backend(&["in-trial"]).status.success());
    assert_eq!(boot.ok(&["get-current"]), "B");
    // The health check passed: rauc status mark-good.
    boot.ok(&["set-state", "B", "good"]);
    assert_eq!(boot.firmware_boots(false), 3, "B is committed");
    assert_eq!(boot.firmware_boots(true), 3);
    assert_eq!(boot.ok(&["get-primary"]), "B");
    assert_eq!(boot.ok(&["get-state", "B"]), "good");

    // The next update goes to A the same way.
    boot.booted("B", false);
    assert!(!boot.backend(&["in-trial"]).status.success());
    rauc_install(&boot, "A");
    assert_eq!(boot.firmware_boots(true), 2);
    assert_eq!(boot.firmware_boots(false), 3);
}

#[test]
fn a_trial_that_never_gets_healthy_falls_back_and_is_never_tried_again() {
    let boot = BootPartition::flashed();
    rauc_install(&boot, "B");
    // B hung during its trial; the watchdog's reset is a normal boot: A again.
    boot.booted("A", false);
    assert_eq!(boot.firmware_boots(false), 2);
    // The updater on A sees the abandoned trial and marks it bad.
    boot.ok(&["set-state", "B", "bad"]);
    assert_eq!(boot.ok(&["get-primary"]), "A");
    assert_eq!(boot.ok(&["get-state", "B"]), "bad");
    assert_eq!(
        boot.firmware_boots(true),
        2,
        "a stray tryboot must not start B any more"
    );
}

#[test]
fn marking_the_committed_slot_bad_falls_back_only_to_a_good_slot() {
    let boot = BootPartition::flashed();
    // B is bad on a flashed image: A stays, with an error.
    let out = boot.backend(&["set-state", "A", "bad"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slot B is bad too"));
    assert_eq!(boot.firmware_boots(false), 2);

    rauc_install(&boot, "B");
    boot.booted("B", true);
    boot.ok(&["set-state", "B", "good"]);
    boot.ok(&["set-state", "B", "bad"]);
    assert_eq!(boot.firmware_boots(false), 2, "back to A, which is good");
}

#[test]
fn marking_the_committed_slot_good_again_changes_nothing() {
    let boot = BootPartition::flashed();
    let before = fs::read_to_string(boot.path("autoboot.txt")).unwrap();
    boot.ok(&["set-state", "A", "good"]);
    boot.ok(&["set-primary", "A"]);
    assert_eq!(
        fs::read_to_string(boot.path("autoboot.txt")).unwrap(),
        before
    );
}

#[test]
fn bad_input_is_refused_with_the_file_and_field() {
    let boot = BootPartition::flashed();
    let out = boot.backend(&["set-primary", "C"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown slot 'C'"));

    fs::write(
        boot.path("autoboot.txt"),
        "[all]\ntryboot_a_b=1\nboot_partition=7\n",
    )
    .unwrap();
    let out = boot.backend(&["get-primary"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("autoboot.txt") && err.contains("boot_partition=7"),
        "{err}"
    );

    fs::remove_file(boot.path("autoboot.txt")).unwrap();
    let out = boot.backend(&["get-primary"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

#[test]
fn no_temporary_file_is_left_behind() {
    let boot = BootPartition::flashed();
    rauc_install(&boot, "B");
    boot.booted("B", true);
    boot.ok(&["set-state", "B", "good"]);
    let mut names: Vec<_> = fs::read_dir(boot.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["autoboot.txt", "cmdline", "salle-ab.txt", "tryboot"]
    );
}
