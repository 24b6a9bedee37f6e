//! The web console in Debian's Chromium, driven by playwright-core (tests/fixtures/console):
//! claim with the code from `salle status`, sign out and in, join, mute and leave from the
//! controls, a settings error located in the editor, every page checked by axe-core (no
//! serious or critical violation) and photographed into target/test-output/console-*.png.

mod common;

use common::web::WebSurface;
use common::*;
use std::path::PathBuf;
use std::process::Command;

fn node_modules() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    let dir = cache.join("salle-fixtures/console/node_modules");
    assert!(
        dir.join("playwright-core").is_dir() && dir.join("axe-core").is_dir(),
        "{} is missing: run tests/fixtures/console/setup.sh (scripts/install-deps.sh test does)",
        dir.display()
    );
    dir
}

#[test]
fn claim_sign_in_join_leave_and_every_page_accessible_in_chromium() {
    let web = WebSurface::start(&simulated_room(
        "Salle Console",
        "test://standup?connect_ms=200",
    ));
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-output");
    let output = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/console/console.mjs"
        ))
        .env("SALLE_URL", web.url("/"))
        .env("SALLE_BIN", env!("CARGO_BIN_EXE_salle"))
        .env("SALLE_CONFIG", &web.daemon.config)
        .env("NODE_MODULES", node_modules())
        .env("OUT_DIR", &out_dir)
        .output()
        .expect("run node");
    let stdout = text(&output.stdout);
    let results: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no results from the browser: {stdout}{}",
                text(&output.stderr)
            )
        });
    println!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_eq!(
        results["ok"],
        true,
        "{}\nweb surface log:\n{}",
        results["error"],
        web.log()
    );
    for page in [
        "claim",
        "login",
        "dashboard",
        "controls",
        "settings",
        "access",
        "audit",
        "diagnostics",
    ] {
        assert!(results["pages"][page].is_array(), "{page} checked by axe");
        assert!(out_dir.join(format!("console-{page}.png")).exists());
    }
}
