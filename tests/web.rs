//! The web surface (`salle web`) end to end: the real binary serving HTTPS beside a real
//! daemon on simulated devices, driven over HTTPS by curl (which checks the device's
//! certificate). Claim, sign-in, roles, tokens, CSRF, lockout, the audit log, the remote rule
//! (mute, never unmute), no secret in any answer or log, and the OpenAPI document.

mod common;

use common::web::{wait_state, Auth, WebSurface};
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;

const PASSWORD: &str = "correct horse battery staple";

fn room() -> String {
    simulated_room("Salle Web", "test://standup?connect_ms=200")
}

#[test]
fn claim_with_the_code_from_status_then_roles_decide() {
    let web = WebSurface::start(&room());
    let jar = web.daemon.dir.path().join("cookies");
    // Unclaimed: nobody gets in, the code is on the device only.
    let setup = web.request("GET", "/api/v1/setup", Auth::None, None);
    assert_eq!(setup.json()["claimed"], false);
    assert_eq!(setup.json()["language"], "fr");
    let code = web.setup_code().expect("salle status shows the setup code");
    assert!(!setup.body.contains(&code));
    let page = web.request("GET", "/", Auth::None, None);
    assert!(
        !page.body.contains(&code),
        "the code is never served over HTTP"
    );
    let wrong = web.request(
        "POST",
        "/api/v1/setup",
        Auth::Session(&jar, None),
        Some(&json!({"code": "AAAA-AAAA", "user": "admin", "password": PASSWORD})),
    );
    assert_eq!((wrong.status, wrong.code().as_str()), (403, "wrong-code"));
    let weak = web.request(
        "POST",
        "/api/v1/setup",
        Auth::Session(&jar, None),
        Some(&json!({"code": code, "user": "admin", "password": "short"})),
    );
    assert_eq!((weak.status, weak.code().as_str()), (400, "weak-password"));

    let csrf = web.claim(&jar, "admin", PASSWORD);
    // The session cookie: Secure, HttpOnly, SameSite=Strict, __Host- prefixed.
    let again = web.request(
        "POST",
        "/api/v1/session",
        Auth::Session(&jar, None),
        Some(&json!({"user": "admin", "password": PASSWORD})),
    );
    let cookie = again
        .headers
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a session cookie");
    for attribute in [
        "__host-salle-session=",
        "secure",
        "httponly",
        "samesite=strict",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let csrf2 = again.json()["csrf"].as_str().unwrap().to_string();
    assert_ne!(csrf, csrf2);
    assert_eq!(
        web.setup_code(),
        None,
        "claimed: the code is gone from status"
    );
    let claimed = web.request(
        "POST",
        "/api/v1/setup",
        Auth::None,
        Some(&json!({"code": code, "user": "mallory", "password": PASSWORD})),
    );
    assert_eq!(claimed.status, 409);

    // Tokens, one per role, shown once.
    let viewer = web.token(&jar, &csrf2, "viewer");
    let operator = web.token(&jar, &csrf2, "operator");
    let admin = web.token(&jar, &csrf2, "admin");
    let listed = web.request("GET", "/api/v1/tokens", Auth::Token(&admin), None);
    for token in [&viewer, &operator, &admin] {
        let secret = token.rsplit('_').next().unwrap();
        assert!(
            !listed.body.contains(secret),
            "a token's secret is shown once"
        );
    }

    // A viewer sees, does not act.
    let status = web.request("GET", "/api/v1/status", Auth::Token(&viewer), None);
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json()["room"], "Salle Web");
    let refused = web.request(
        "POST",
        "/api/v1/commands/mute",
        Auth::Token(&viewer),
        Some(&json!({"muted": true})),
    );
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );

    // An operator joins, mutes, may not unmute (remote), leaves; may not manage people.
    let join = web.request(
        "POST",
        "/api/v1/commands/join",
        Auth::Token(&operator),
        Some(&json!({})),
    );
    assert_eq!(join.status, 200, "{}", join.body);
    wait_state(&web, "in-call");
    let mute = web.request(
        "POST",
        "/api/v1/commands/mute",
        Auth::Token(&operator),
        Some(&json!({"muted": true})),
    );
    assert_eq!(mute.status, 200, "{}", mute.body);
    assert_eq!(web.daemon.status()["mic_muted"], true);
    let unmute = web.request(
        "POST",
        "/api/v1/commands/mute",
        Auth::Token(&operator),
        Some(&json!({"muted": false})),
    );
    assert_eq!(
        (unmute.status, unmute.code().as_str()),
        (403, "unmute-in-room-only")
    );
    assert_eq!(web.daemon.status()["mic_muted"], true, "still muted");
    let camera_on = web.request(
        "POST",
        "/api/v1/commands/camera",
        Auth::Token(&admin),
        Some(&json!({"off": false})),
    );
    assert_eq!(camera_on.code(), "camera-on-in-room-only");
    let users = web.request("GET", "/api/v1/users", Auth::Token(&operator), None);
    assert_eq!(users.status, 403);
    let leave = web.request(
        "POST",
        "/api/v1/commands/leave",
        Auth::Token(&operator),
        None,
    );
    assert_eq!(leave.status, 200, "{}", leave.body);
    wait_state(&web, "idle");

    // The audit log: who, from where, what, when, outcome.
    let audit = web.request("GET", "/api/v1/audit", Auth::Token(&admin), None);
    let entries = audit.json()["entries"].as_array().unwrap().clone();
    let find = |what: &str, outcome: &str| {
        entries
            .iter()
            .find(|e| e["what"] == what && e["outcome"] == outcome)
            .cloned()
    };
    let unmute_entry = find("unmute", "unmute-in-room-only").expect("the refused unmute");
    assert_eq!(unmute_entry["who"], "token:operator-script");
    assert_eq!(unmute_entry["from"], "127.0.0.1");
    assert!(unmute_entry["time"].as_str().unwrap().ends_with('Z'));
    for (what, outcome) in [
        ("claim the room", "done"),
        ("claim the room", "wrong-code"),
        ("join the room's meeting", "done"),
        ("mute", "done"),
        ("leave", "done"),
        ("add token viewer-script (viewer)", "done"),
    ] {
        assert!(
            find(what, outcome).is_some(),
            "{what}: {outcome} in {entries:?}"
        );
    }

    // Secrets files are private.
    for file in ["accounts.json", "audit.log", "device-key.pem", "setup.json"] {
        let mode = std::fs::metadata(web.state_dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let accounts = std::fs::read_to_string(web.state_dir.join("accounts.json")).unwrap();
    assert!(accounts.contains("$argon2id$") && !accounts.contains(PASSWORD));

    // Signing out ends the session.
    let out = web.request(
        "DELETE",
        "/api/v1/session",
        Auth::Session(&jar, Some(&csrf2)),
        None,
    );
    assert_eq!(out.status, 200);
    let after = web.request("GET", "/api/v1/status", Auth::Session(&jar, None), None);
    assert_eq!(after.status, 401);
}

/// Each operation of the OpenAPI document: refused without credentials (401), refused with a
/// token whose role is too low (403), refused to a session without its CSRF token (403); and
/// the document served is the one in the repository.
#[test]
fn every_endpoint_refuses_missing_or_low_credentials_and_csrf() {
    let web = WebSurface::start(&room());
    let served = web.request("GET", "/api/v1/openapi.json", Auth::None, None);
    let stored =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    assert_eq!(
        served.body, stored,
        "docs/openapi.json and the served document differ"
    );
    let doc: Value = serde_json::from_str(&stored).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let jar = web.daemon.dir.path().join("cookies");
    let csrf = web.claim(&jar, "admin", PASSWORD);
    let viewer = web.token(&jar, &csrf, "viewer");
    let operator = web.token(&jar, &csrf, "operator");
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let path = path.replace("{name}", "nobody").replace("{id}", "0000");
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            let reply = web.request(&method, &path, Auth::None, Some(&json!({})));
            if public {
                assert_ne!(reply.status, 404, "{method} {path} is served");
                continue;
            }
            assert_eq!(reply.status, 401, "{method} {path} without credentials");
            let bad = web.request(&method, &path, Auth::Token("salle_0000_forged"), None);
            assert_eq!(bad.status, 401, "{method} {path} with a forged token");
            let needs = op["description"].as_str().unwrap_or_default();
            let low = if needs.contains("`admin`") {
                Some(&operator)
            } else if needs.contains("`operator`") {
                Some(&viewer)
            } else {
                None
            };
            if let Some(low) = low {
                let reply = web.request(&method, &path, Auth::Token(low), Some(&json!({})));
                assert_eq!(
                    reply.status, 403,
                    "{method} {path} with a lower role: {}",
                    reply.body
                );
                assert_eq!(reply.code(), "forbidden");
            }
            if method != "GET" {
                let reply =
                    web.request(&method, &path, Auth::Session(&jar, None), Some(&json!({})));
                assert_eq!(
                    (reply.status, reply.code().as_str()),
                    (403, "csrf"),
                    "{method} {path} from a session without its CSRF token"
                );
                let forged = web.request(&method, &path, Auth::Session(&jar, Some("forged")), None);
                assert_eq!(
                    forged.status, 403,
                    "{method} {path} with a wrong CSRF token"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} operations checked");
    // What the document does not list is not served.
    let unknown = web.request("GET", "/api/v1/secret", Auth::Token(&viewer), None);
    assert_eq!(unknown.status, 404);
}

#[test]
fn repeated_failures_lock_the_account_out() {
    let web = WebSurface::start(&room());
    let jar = web.daemon.dir.path().join("cookies");
    web.claim(&jar, "admin", PASSWORD);
    let sign_in = |password: &str| {
        web.request(
            "POST",
            "/api/v1/session",
            Auth::None,
            Some(&json!({"user": "admin", "password": password})),
        )
    };
    for _ in 0..5 {
        let reply = sign_in("not the password");
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (401, "wrong-password")
        );
    }
    let locked = sign_in(PASSWORD);
    assert_eq!(
        (locked.status, locked.code().as_str()),
        (429, "locked-out"),
        "even the right password is refused while locked"
    );
    assert!(web.audit().contains("\"outcome\":\"locked-out\""));
}

#[test]
fn no_secret_in_any_answer_or_log() {
    const TOKEN: &str = "eyJSECRETLIVEKITTOKEN";
    const ICE: &str = "ICESECRETCREDENTIAL";
    let config = format!(
        "{}\n[[network.ice_servers]]\nurls = [\"turn:127.0.0.1:3478\"]\nusername = \"room\"\ncredential = \"{ICE}\"\n",
        simulated_room(
            "Salle Web",
            &format!("livekit+wss://127.0.0.1:1?token={TOKEN}")
        )
    );
    let web = WebSurface::start(&config);
    let code = web.setup_code().unwrap();
    let jar = web.daemon.dir.path().join("cookies");
    let csrf = web.claim(&jar, "admin", PASSWORD);
    let admin = web.token(&jar, &csrf, "admin");
    let admin_secret = admin.rsplit('_').next().unwrap().to_string();
    let mut answers = String::new();
    for path in [
        "/api/v1/status",
        "/api/v1/config",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/session",
        "/api/v1/logs",
        "/api/v1/diagnostics",
        "/metrics",
        "/",
    ] {
        let reply = web.request("GET", path, Auth::Token(&admin), None);
        assert!(
            reply.status < 500 || reply.status == 501,
            "{path}: {}",
            reply.body
        );
        answers.push_str(&reply.body);
    }
    let config = web.request("GET", "/api/v1/config", Auth::Token(&admin), None);
    assert!(
        config.body.contains("********"),
        "secrets show as hidden: {}",
        config.body
    );
    let status = web.request("GET", "/api/v1/status", Auth::Token(&admin), None);
    assert!(
        status.body.contains("livekit+wss://127.0.0.1:1"),
        "{}",
        status.body
    );
    for (place, text) in [
        ("an answer", answers),
        ("the web surface's log", web.log()),
        ("the audit log", web.audit()),
    ] {
        for secret in [TOKEN, ICE, PASSWORD, code.as_str(), admin_secret.as_str()] {
            assert!(
                !text.contains(secret),
                "{secret} leaked in {place}:\n{text}"
            );
        }
    }
}

/// schemathesis (PyPI, tests/fixtures/console/setup.sh) generates requests from the OpenAPI
/// document against the live API, as an administrator: no server error, no crash. A short
/// run here (`SALLE_SCHEMATHESIS_EXAMPLES`, default 10 per operation); longer by hand. Left
/// out: the event stream (it never ends), restart, reboot and applying settings (they would
/// stop the daemon, which no systemd restarts here), and
/// what this daemon answers `not-yet` (501, listed in the output).
#[test]
fn schemathesis_finds_no_server_error() {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    let st = cache.join("salle-fixtures/console/venv/bin/schemathesis");
    assert!(
        st.exists(),
        "{} is missing: run tests/fixtures/console/setup.sh",
        st.display()
    );
    let web = WebSurface::start(&room());
    let jar = web.daemon.dir.path().join("cookies");
    let csrf = web.claim(&jar, "admin", PASSWORD);
    let admin = web.token(&jar, &csrf, "admin");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    let mut excluded = vec![
        "/api/v1/events".to_string(),
        "/api/v1/commands/restart".into(),
        "/api/v1/commands/reboot".into(),
        // Applying random settings (or rolling back) restarts the daemon, which no systemd
        // brings back here; tests/manage.rs covers them.
        "/api/v1/config".into(),
        "/api/v1/config/rollback".into(),
    ];
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if path.contains('{') || excluded.contains(path) {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            // A valid body where one is needed (the daemon answers not-yet after checking it).
            let body = match path.as_str() {
                "/api/v1/commands/snapshot" => Some(json!({"source": "camera"})),
                "/api/v1/config" | "/api/v1/config/check" => Some(json!({"text": ""})),
                _ => None,
            };
            let reply = web.request(
                &method.to_uppercase(),
                path,
                Auth::Token(&admin),
                body.as_ref(),
            );
            if reply.status == 501 && !excluded.contains(path) {
                excluded.push(path.clone());
            }
        }
    }
    println!("left out: {excluded:?}");
    let examples = std::env::var("SALLE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".into());
    let mut command = std::process::Command::new(&st);
    command
        .current_dir(web.daemon.dir.path())
        .arg("run")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .args(["--url", &web.url("")])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args([
            "--tls-verify",
            "false",
            "-c",
            "not_a_server_error",
            "-n",
            &examples,
        ])
        .args(["--seed", "1", "--phases", "examples,fuzzing,stateful"]);
    for path in &excluded {
        command.args(["--exclude-path", path]);
    }
    let out = command.output().expect("run schemathesis");
    let report = text(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}{}",
        text(&out.stderr)
    );
    // The web surface is still there and answers.
    let status = web.request("GET", "/api/v1/status", Auth::Token(&admin), None);
    assert_eq!(status.status, 200);
}
