//! Every GStreamer element the daemon can create is installed, or hardware-only for a stated
//! reason; every package that ships one is on the runtime list; and no pipeline names an
//! element outside the table (`src/media/elements.rs`), so this test sees them all.
//!
//! Why: `gstreamer1.0-x` (textoverlay) once was missing from the install script; CI passed on
//! a machine that had it from an earlier manual install, and a new device had no video.

use salle::media::elements::{self, Need, ALL};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The packages of `scripts/packages/<list>.txt`.
fn package_list(list: &str) -> BTreeSet<String> {
    let path = repo().join("scripts/packages").join(format!("{list}.txt"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[test]
fn every_element_is_installed_or_hardware_only() {
    gstreamer::init().expect("GStreamer initialises");
    let mut missing = Vec::new();
    for element in ALL {
        let installed = elements::installed(element.name);
        match element.need {
            Need::Required if !installed => {
                missing.push(format!("{} (install {})", element.name, element.package))
            }
            Need::Required => {}
            Need::Optional(why) => println!(
                "optional {}: {} ({why})",
                element.name,
                if installed {
                    "installed"
                } else {
                    "not installed"
                }
            ),
            Need::Hardware(why) => println!(
                "hardware-only {}: {} here (needs {why})",
                element.name,
                if installed { "present" } else { "absent" }
            ),
        }
    }
    assert!(
        missing.is_empty(),
        "GStreamer elements the daemon needs are not installed: {}; add their packages to \
         scripts/packages/runtime.txt (scripts/install-deps.sh installs it)",
        missing.join(", ")
    );
    assert!(
        elements::missing_required().is_empty(),
        "the daemon would report {:?}",
        elements::missing_required()
    );
}

/// Checked against the list, not the machine: a package taken out of the runtime list fails
/// here even where an earlier install left it behind.
#[test]
fn every_package_that_ships_an_element_is_on_the_runtime_list() {
    let runtime = package_list("runtime");
    let mut absent = Vec::new();
    for element in ALL {
        if matches!(element.need, Need::Hardware(_)) {
            continue;
        }
        if !runtime.contains(element.package) {
            absent.push(format!("{} (ships {})", element.package, element.name));
        }
    }
    assert!(
        absent.is_empty(),
        "packages missing from scripts/packages/runtime.txt: {}",
        absent.join(", ")
    );
}

#[test]
fn the_table_names_each_element_once() {
    let mut seen = BTreeSet::new();
    for element in ALL {
        assert!(seen.insert(element.name), "{} twice", element.name);
    }
}

/// The string literals of a Rust source file, with the line each starts on. Good enough for
/// this crate's sources: comments, char literals and escapes are skipped; raw strings are not
/// used for pipelines.
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = source.chars().collect();
    let mut literals = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        match chars[i] {
            '\n' => line += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\'' => {
                // 'x' or '\x'; anything else is a lifetime.
                if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                    continue;
                }
                if chars.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                }
            }
            '"' => {
                let start_line = line;
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    if chars[i] == '\\' {
                        i += 1;
                        if chars.get(i) == Some(&'\n') {
                            line += 1;
                        }
                        text.push(' ');
                    } else {
                        text.push(chars[i]);
                    }
                    i += 1;
                }
                literals.push((start_line, text));
            }
            _ => {}
        }
        i += 1;
    }
    literals
}

/// The element names a launch description (`a ! b name=x ! video/x-raw ! c`) spells out.
fn launch_elements(description: &str) -> Vec<String> {
    if !description.contains(" ! ") {
        return Vec::new();
    }
    description
        .split('!')
        .filter_map(|piece| piece.split_whitespace().next())
        .filter(|word| {
            // Caps (video/x-raw,...), pad references (t., selector.sink_0) and format
            // arguments ({camera}, {TEE}) are not element names.
            !word.contains(['/', '.', '{', '}', '=', ','])
        })
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn pipelines_name_elements_only_through_the_table() {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let table = repo().join("src/media/elements.rs");
    // Element factories (by name) the way code asks for them.
    let calls = [
        "ElementFactory::make(\"",
        "ElementFactory::find(\"",
        "make(\"",
        "live_source(\"",
        "aggregator(\"",
        "installed(\"",
        "not_installed(\"",
    ];
    let mut found = Vec::new();
    for file in files.iter().filter(|f| **f != table) {
        let source = std::fs::read_to_string(file).expect("read source");
        let shown = file.strip_prefix(repo()).unwrap_or(file).display();
        for (number, line) in source.lines().enumerate() {
            if calls.iter().any(|call| line.contains(call)) && !line.trim_start().starts_with("//")
            {
                found.push(format!("{shown}:{}: {}", number + 1, line.trim()));
            }
        }
        for (line, literal) in string_literals(&source) {
            for name in launch_elements(&literal) {
                found.push(format!(
                    "{shown}:{line}: \"{name}\" in a launch description"
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "GStreamer elements named outside src/media/elements.rs (add them to the table and use \
         its constant):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_finds_launch_elements_and_skips_caps_and_references() {
    let literals = string_literals(
        "let a = \"{camera} ! h264parse ! tee name=t \\\n t. ! queue ! video/x-raw,width=2 ! {TEE}\";\n// \"x ! y\"\nlet c = '\"'; let d = \"v ! w\";",
    );
    let names: Vec<Vec<String>> = literals
        .iter()
        .map(|(_, text)| launch_elements(text))
        .collect();
    assert_eq!(
        names,
        vec![vec!["h264parse", "tee", "queue"], vec!["v", "w"]]
    );
    assert_eq!(literals[1].0, 4, "line numbers follow continuations");
}

#[test]
fn a_missing_element_says_which_package_to_install() {
    assert_eq!(
        elements::not_installed(elements::TEXTOVERLAY),
        "GStreamer element textoverlay missing (install gstreamer1.0-x)"
    );
}

/// The honest check of a fresh machine: a Debian 12 root file system with only the runtime
/// list and what it depends on (mmdebstrap, from Debian's mirrors), and the daemon built here run
/// inside it: it must load (every library it links is there) and find every element it needs.
/// Needs root and mmdebstrap (scripts/packages/test.txt); `SALLE_FRESH_CHROOT=0` skips it.
/// The root file system is kept (see [`fresh_root`]) for the same list.
#[test]
fn the_runtime_list_alone_gives_every_element_on_a_fresh_debian() {
    if std::env::var("SALLE_FRESH_CHROOT").as_deref() == Ok("0") {
        println!("skipped: SALLE_FRESH_CHROOT=0");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: needs root (mmdebstrap and chroot)");
        return;
    }
    let packages: Vec<String> = package_list("runtime").into_iter().collect();
    let root = fresh_root(&packages);
    let daemon = root.join("usr/local/bin/salle");
    std::fs::create_dir_all(daemon.parent().expect("a parent")).expect("usr/local/bin");
    std::fs::copy(env!("CARGO_BIN_EXE_salle"), &daemon).expect("copy the daemon in");
    let output = std::process::Command::new("/usr/sbin/chroot")
        .arg(&root)
        .args(["/usr/local/bin/salle", "devices", "--json"])
        .env_clear()
        .env("HOME", "/root")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .expect("run chroot");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the daemon does not run on a fresh Debian with scripts/packages/runtime.txt: {stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("salle devices --json");
    let media = report["media"]
        .as_array()
        .unwrap_or_else(|| panic!("no media capabilities in the report: {}", report["media"]));
    let missing: Vec<String> = media
        .iter()
        .filter(|c| c["need"] == "required" && c["installed"] == false)
        .map(|c| {
            let text = |field: &str| c[field].as_str().unwrap_or("?").to_string();
            format!("{} (install {})", text("name"), text("package"))
        })
        .collect();
    let absent: Vec<&str> = media
        .iter()
        .filter(|c| c["installed"] == false)
        .filter_map(|c| c["name"].as_str())
        .collect();
    println!(
        "fresh Debian 12 + the {} packages of runtime.txt: {} of {} elements found; absent: {}",
        packages.len(),
        media.len() - absent.len(),
        media.len(),
        absent.join(" ")
    );
    assert!(
        missing.is_empty(),
        "on a fresh Debian with only scripts/packages/runtime.txt, the daemon lacks {}",
        missing.join(", ")
    );
}

/// A Debian 12 root file system with `packages` installed the way scripts/install-deps.sh
/// installs them (minbase, maintainer scripts run, no recommended packages), built once per
/// list in `~/.cache/salle-fixtures/fresh-runtime-<hash of the list>` (3 to 6 minutes on the
/// 2-core build machine; a changed list builds a new one).
fn fresh_root(packages: &[String]) -> PathBuf {
    let list = packages.join(",");
    // FNV-1a: a stable name for the list, no dependency needed.
    let hash = list.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cache = PathBuf::from(home).join(".cache/salle-fixtures");
    let root = cache.join(format!("fresh-runtime-{hash:016x}"));
    let stamp = root.join(".salle-complete");
    if stamp.exists() {
        println!(
            "using the fresh root file system built before: {}",
            root.display()
        );
        return root;
    }
    std::fs::create_dir_all(&cache).expect("cache dir");
    let building = cache.join(format!("fresh-runtime-{hash:016x}.building"));
    let _ = std::fs::remove_dir_all(&building);
    let mirror = "http://deb.debian.org/debian";
    let status = std::process::Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet"])
        // As scripts/install-deps.sh installs: a package only recommended (gstreamer1.0-x is
        // only recommended by gstreamer1.0-plugins-good) must be on the list itself.
        .arg("--aptopt=APT::Install-Recommends \"false\"")
        .arg(format!("--include={list}"))
        .arg("bookworm")
        .arg(&building)
        .arg(format!("deb {mirror} bookworm main"))
        .arg(format!("deb {mirror} bookworm-updates main"))
        .arg("deb http://deb.debian.org/debian-security bookworm-security main")
        .stdin(std::process::Stdio::null())
        .status()
        .expect("run mmdebstrap (scripts/packages/test.txt installs it)");
    assert!(status.success(), "mmdebstrap failed: {status}");
    std::fs::write(building.join(".salle-complete"), &list).expect("stamp");
    std::fs::rename(&building, &root).expect("move the root file system in place");
    root
}
