//! The QEMU hardware tier from a test file: boot the guest (tests/qemu/run-in-guest.sh, see
//! tests/qemu/README.md) and run this same test binary's guest tests inside it.
//!
//! A hardware test file has one host test and any number of guest tests:
//!
//! ```ignore
//! mod common;
//! use common::qemu::{self, GuestTests};
//!
//! const GUEST_TESTS: usize = 2;
//!
//! /// The only test that runs on the host.
//! #[test]
//! fn camera_under_qemu() {
//!     GuestTests::of_this_binary("guest_", GUEST_TESTS).run();
//! }
//!
//! #[test]
//! #[ignore = "runs in the QEMU guest: see camera_under_qemu"]
//! fn guest_vivid_captures() {
//!     qemu::assert_in_guest("guest tests capture from the guest's camera");
//!     // ... real kernel drivers here: vivid, snd-aloop, snd-dummy, gpio-sim
//! }
//! ```
//!
//! - Guest tests are `#[ignore]`d, so `cargo test` on the host never runs them; the host test
//!   runs them in the guest with `--include-ignored`, one at a time, output shown.
//! - Inside the guest `SALLE_QEMU_GUEST=1` is set: `assert_in_guest` checks it, so a guest test
//!   run by hand on a developer's machine fails before it touches any device.
//! - The guest's environment is clean: name host variables to pass in with `pass_env`.
//! - The host test fails unless the guest run succeeds with exactly the expected number of
//!   passed tests, so a guest test that is renamed out of the filter is noticed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A run of a test binary's guest tests in the QEMU guest.
#[derive(Debug, Clone)]
pub struct GuestTests<'a> {
    /// The test binary, at the same path in the guest (the host's `/` is its root).
    pub binary: PathBuf,
    /// The guest runs the tests whose names contain this, ignored ones included.
    pub filter: &'a str,
    /// How many of them must pass.
    pub expected: usize,
    /// For the whole run, boot included.
    pub timeout: Duration,
    /// Host environment variables to pass into the guest, when they are set on the host.
    pub pass_env: &'a [&'a str],
    /// Variables to set in the guest, with their values.
    pub set_env: Vec<(String, String)>,
}

impl<'a> GuestTests<'a> {
    /// The calling test binary's tests matching `filter`, `expected` of them, within 600 s.
    pub fn of_this_binary(filter: &'a str, expected: usize) -> GuestTests<'a> {
        GuestTests {
            binary: std::env::current_exe().unwrap(),
            filter,
            expected,
            timeout: Duration::from_secs(600),
            pass_env: &[],
            set_env: Vec::new(),
        }
    }

    /// Boots the guest, runs the tests in it and shows their output; panics unless they all
    /// passed, `expected` of them.
    pub fn run(&self) {
        // A developer's quick run (test.sh documents it); CI never sets it.
        if std::env::var("SALLE_QEMU").as_deref() == Ok("0") {
            eprintln!("SALLE_QEMU=0: the QEMU tier is skipped, nothing was tested in the guest");
            return;
        }
        let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu/run-in-guest.sh");
        let mut command = Command::new(&runner);
        command.args(["--timeout", &self.timeout.as_secs().to_string()]);
        for name in self.pass_env {
            if std::env::var_os(name).is_some() {
                command.args(["--env", name]);
            }
        }
        for (name, value) in &self.set_env {
            command.args(["--env", &format!("{name}={value}")]);
        }
        let out = command
            .args(["--", "env", "RUST_BACKTRACE=1"])
            .arg(&self.binary)
            .args([
                "--include-ignored",
                "--test-threads=1",
                "--nocapture",
                self.filter,
            ])
            .output()
            .expect("run tests/qemu/run-in-guest.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}");
        eprintln!("{stderr}");
        assert!(
            out.status.success(),
            "the guest tests failed (status {:?})",
            out.status
        );
        let summary = format!("test result: ok. {} passed", self.expected);
        assert!(
            stdout.contains(&summary),
            "expected `{summary}` from the guest"
        );
    }
}

/// Panics unless this runs inside the QEMU guest (`SALLE_QEMU_GUEST=1`). `why` says why the
/// test must not run anywhere else, e.g. "guest tests reconfigure kernel devices".
pub fn assert_in_guest(why: &str) {
    assert_eq!(
        std::env::var("SALLE_QEMU_GUEST").as_deref(),
        Ok("1"),
        "{why}: they only run inside the QEMU guest"
    );
}
