//! The room's calendar, end to end: the real daemon reads a real CalDAV server on loopback
//! (Debian's Radicale, one per test, with its own storage and password file), picks the
//! meeting that is on across time zones and recurring series, and the join button (or
//! auto-join) joins it. Broken calendars (server gone, a 500, not iCalendar, not XML, a wrong
//! password) are errors in `salle status` that name the calendar, and the room keeps the
//! meetings it had. Events are created relative to now; the meetings' links are simulated
//! meetings (`test://`), so joining needs no meeting server.

mod common;

use common::*;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROOM_ZONE: &str = "Europe/Paris";
/// `room:secret`, the fixture's only account.
const BASIC_AUTH: &str = "Basic cm9vbTpzZWNyZXQ=";

/// Radicale on a free loopback port, with a calendar at /room/calendar/; stopped when dropped.
struct Radicale {
    child: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Radicale {
    fn start() -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        write(&dir.path().join("users"), "room:secret\n");
        let config = dir.path().join("config");
        write(
            &config,
            &format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n\
                 [storage]\nfilesystem_folder = {storage}\n\
                 [rights]\ntype = owner_only\n[web]\ntype = none\n[logging]\nlevel = warning\n",
                users = dir.path().join("users").display(),
                storage = dir.path().join("collections").display(),
            ),
        );
        let child = Command::new("radicale")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("radicale.log")).unwrap())
            .spawn()
            .expect("run radicale (scripts/install-deps.sh installs it)");
        let radicale = Radicale {
            child: Some(child),
            port,
            _dir: dir,
        };
        wait_for("radicale to listen", Duration::from_secs(30), || {
            http(port, "OPTIONS", "/", "").ok()
        });
        let (status, body) = http(port, "MKCALENDAR", "/room/calendar/", "").unwrap();
        assert_eq!(status, 201, "MKCALENDAR: {body}");
        radicale
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/room/calendar/", self.port)
    }

    /// Stores `ics` as the calendar resource `name`.ics.
    fn put(&self, name: &str, ics: &str) {
        let path = format!("/room/calendar/{name}.ics");
        let (status, body) = http(self.port, "PUT", &path, ics).unwrap();
        assert!(
            matches!(status, 201 | 204),
            "PUT {path}: {status} {body}\n{ics}"
        );
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request as the room's account; the status code and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {BASIC_AUTH}\r\n\
         Content-Type: text/calendar; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {answer}")))?;
    Ok((status, answer))
}

/// The Python server that answers what `status` and `body` in its folder say.
struct Answerer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Answerer {
    fn start(status: u16, body: &str) -> Answerer {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/radicale/answer.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let answerer = Answerer {
            child,
            port: line.trim().parse().expect("answer.py prints its port"),
            dir,
        };
        answerer.answer(status, body);
        answerer
    }

    fn answer(&self, status: u16, body: &str) {
        write(&self.dir.path().join("body"), body);
        write(&self.dir.path().join("status"), &status.to_string());
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/room.ics", self.port)
    }
}

impl Drop for Answerer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Now, to the second (iCalendar has no fractions).
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}

fn minutes(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// `t` as iCalendar UTC.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// `t` as the time of day in `tz`, for `TZID=` values.
fn civil(t: Timestamp, tz: &str) -> String {
    t.to_zoned(zone(tz)).strftime("%Y%m%dT%H%M%S").to_string()
}

/// How status shows `t`: RFC 3339 in the room's zone.
fn shown(t: Timestamp) -> String {
    salle::calendar::local_time(t, &zone(ROOM_ZONE))
}

/// A VCALENDAR around `body`, with CRLF line ends.
fn calendar(body: &str) -> String {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Salle tests//EN\n{body}END:VCALENDAR\n")
        .replace('\n', "\r\n")
}

/// A VEVENT with `uid`, `summary` and more properties, one per line.
fn event(uid: &str, summary: &str, properties: &[String]) -> String {
    let mut text =
        format!("BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nSUMMARY:{summary}\n");
    for p in properties {
        text.push_str(p);
        text.push('\n');
    }
    text.push_str("END:VEVENT\n");
    text
}

/// Outlook's VTIMEZONE for its "Eastern Standard Time".
const EASTERN_VTIMEZONE: &str = "BEGIN:VTIMEZONE\nTZID:Eastern Standard Time\n\
    BEGIN:STANDARD\nDTSTART:16010101T020000\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\n\
    RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\nEND:STANDARD\n\
    BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\n\
    RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE\n";

/// A simulated room whose calendar is `url`, with the room's account and `extra` settings;
/// and the folder holding its password file, kept as long as the daemon.
fn room_with_calendar(url: &str, extra: &str) -> (Daemon, tempfile::TempDir) {
    let secrets = tempfile::tempdir().unwrap();
    let password = password_file(secrets.path(), 0o600);
    let config = format!(
        "{}\n[calendar]\nurl = \"{url}\"\nusername = \"room\"\npassword_file = \"{}\"\n\
         timezone = \"{ROOM_ZONE}\"\n{extra}\n",
        simulated_room("Salle Calendrier", "test://fixed-meeting?connect_ms=100"),
        password.display()
    );
    (Daemon::start(&config), secrets)
}

fn password_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("calendar.password");
    write(&path, "secret\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Waits until the calendar in status satisfies `check`; returns it.
fn wait_calendar(daemon: &Daemon, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(20), || {
        let calendar = daemon.status()["calendar"].clone();
        check(&calendar).then_some(calendar)
    })
}

/// Asks the daemon to read its calendar now.
fn refresh(daemon: &Daemon) {
    let pid = nix::unistd::Pid::from_raw(daemon.child.as_ref().unwrap().id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect()
}

#[test]
fn the_meeting_on_is_picked_across_time_zones_and_the_join_button_joins_it() {
    let started = Instant::now();
    let radicale = Radicale::start();
    let t0 = now();
    // On since 30 minutes, until 30 minutes from now, in Outlook's New York zone; link in URL.
    let (on_start, on_end) = (t0 - minutes(30), t0 + minutes(30));
    radicale.put(
        "new-york",
        &calendar(&format!(
            "{EASTERN_VTIMEZONE}{}",
            event(
                "new-york",
                "Point New York",
                &[
                    format!(
                        "DTSTART;TZID=Eastern Standard Time:{}",
                        civil(on_start, "America/New_York")
                    ),
                    format!(
                        "DTEND;TZID=Eastern Standard Time:{}",
                        civil(on_end, "America/New_York")
                    ),
                    "URL:test://new-york".into(),
                ]
            )
        )),
    );
    // Starting in two minutes, in Tokyo's zone; link in the description, after another link.
    let (soon_start, soon_end) = (t0 + minutes(2), t0 + minutes(62));
    radicale.put(
        "tokyo",
        &calendar(&event(
            "tokyo",
            "Revue Tokyo",
            &[
                format!("DTSTART;TZID=Asia/Tokyo:{}", civil(soon_start, "Asia/Tokyo")),
                format!("DTEND;TZID=Asia/Tokyo:{}", civil(soon_end, "Asia/Tokyo")),
                "LOCATION:Salle Monge".into(),
                "DESCRIPTION:Ordre du jour : https://example.org/agenda.pdf\\nRejoindre : test://tokyo?connect_ms=100".into(),
            ],
        )),
    );
    // Tomorrow, floating (the room's zone), link in the location; an all-day event today; a
    // meeting whose only link is an agenda; one that ended an hour ago.
    let tomorrow = t0 + SignedDuration::from_hours(24);
    radicale.put(
        "tomorrow",
        &calendar(&event(
            "tomorrow",
            "Comité",
            &[
                format!("DTSTART:{}", civil(tomorrow, ROOM_ZONE)),
                "DURATION:PT1H".into(),
                "LOCATION:janus+ws://127.0.0.1:8188/?room=1234".into(),
            ],
        )),
    );
    let today = t0.to_zoned(zone(ROOM_ZONE)).date();
    radicale.put(
        "all-day",
        &calendar(&event(
            "all-day",
            "Séminaire",
            &[
                format!("DTSTART;VALUE=DATE:{}", today.strftime("%Y%m%d")),
                format!(
                    "DTEND;VALUE=DATE:{}",
                    today.tomorrow().unwrap().strftime("%Y%m%d")
                ),
                "URL:test://never-joined".into(),
            ],
        )),
    );
    radicale.put(
        "agenda",
        &calendar(&event(
            "agenda",
            "Sans lien",
            &[
                format!("DTSTART:{}", utc(t0 + minutes(180))),
                format!("DTEND:{}", utc(t0 + minutes(240))),
                "URL:https://example.org/agenda.pdf".into(),
            ],
        )),
    );
    radicale.put(
        "past",
        &calendar(&event(
            "past",
            "Passé",
            &[
                format!("DTSTART:{}", utc(t0 - minutes(120))),
                format!("DTEND:{}", utc(t0 - minutes(60))),
                "URL:test://past".into(),
            ],
        )),
    );

    let (daemon, _secrets) = room_with_calendar(&radicale.url(), "");
    let calendar = wait_calendar(&daemon, "the calendar's meetings", |c| {
        !c["current"].is_null()
    });
    println!(
        "calendar read {:?} after the start of the test",
        started.elapsed()
    );
    let current = &calendar["current"];
    // Back to back: the meeting starting in two minutes beats the one ending in thirty.
    assert_eq!(current["title"], "Revue Tokyo", "{calendar:#}");
    assert_eq!(current["url"], "test://tokyo?connect_ms=100");
    assert_eq!(current["started"], false);
    assert_eq!(current["start"], shown(soon_start).as_str());
    assert_eq!(current["end"], shown(soon_end).as_str());
    // By start (the all-day event starts at midnight, before the New York meeting, unless the
    // test runs in the half hour after midnight).
    let midnight = today.to_zoned(zone(ROOM_ZONE)).unwrap().timestamp();
    let mut expected = [
        (midnight, "Séminaire", Value::from("test://never-joined")),
        (on_start, "Point New York", Value::from("test://new-york")),
        (t0 + minutes(180), "Sans lien", Value::Null),
        (
            tomorrow,
            "Comité",
            Value::from("janus+ws://127.0.0.1:8188/?room=1234"),
        ),
    ];
    expected.sort_by_key(|(start, ..)| *start);
    let upcoming = calendar["upcoming"].as_array().unwrap();
    assert_eq!(
        titles(&calendar["upcoming"]),
        expected
            .iter()
            .map(|(_, title, _)| *title)
            .collect::<Vec<_>>(),
        "{calendar:#}"
    );
    for ((start, title, url), meeting) in expected.iter().zip(upcoming) {
        assert_eq!(meeting["start"], shown(*start).as_str(), "{title}");
        // An agenda is not a meeting; an all-day event keeps its link but is never current.
        assert_eq!(&meeting["url"], url, "{title}");
        assert_eq!(meeting["all_day"], *title == "Séminaire", "{title}");
    }
    assert_eq!(calendar["error"], Value::Null);
    assert!(calendar["updated"]
        .as_str()
        .unwrap()
        .starts_with(&today.to_string()));

    // The join button joins the calendar's meeting, not the room's fixed one.
    let out = daemon.cli(&["press", "join"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = daemon.wait_state("in-call", Duration::from_secs(10));
    assert_eq!(status["call"]["url"], "test://tokyo?connect_ms=100");
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(5));
    assert_eq!(daemon.state(), "idle", "no auto-join unless asked");
}

#[test]
fn a_recurring_meeting_with_an_exdate_and_a_changed_occurrence() {
    let radicale = Radicale::start();
    let t0 = now();
    let paris = zone(ROOM_ZONE);
    // Every day at the local time of twenty minutes ago, for an hour, since ten days ago.
    let today_start = t0 - minutes(20);
    let local = today_start.to_zoned(paris.clone());
    let first = local
        .checked_sub(jiff::Span::new().days(10))
        .unwrap()
        .timestamp();
    let day = |n: i64| {
        local
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
            .timestamp()
    };
    let series = event(
        "daily",
        "Daily",
        &[
            format!("DTSTART;TZID={ROOM_ZONE}:{}", civil(first, ROOM_ZONE)),
            "DURATION:PT1H".into(),
            "RRULE:FREQ=DAILY".into(),
            // Tomorrow's is off.
            format!("EXDATE;TZID={ROOM_ZONE}:{}", civil(day(1), ROOM_ZONE)),
            "LOCATION:test://daily".into(),
        ],
    );
    // Today's moved to another room (another link), the day after tomorrow's cancelled.
    let today = event(
        "daily",
        "Daily (salle Curie)",
        &[
            format!(
                "RECURRENCE-ID;TZID={ROOM_ZONE}:{}",
                civil(day(0), ROOM_ZONE)
            ),
            format!("DTSTART;TZID={ROOM_ZONE}:{}", civil(day(0), ROOM_ZONE)),
            "DURATION:PT1H".into(),
            "URL:test://curie?connect_ms=100".into(),
        ],
    );
    let cancelled = event(
        "daily",
        "Daily",
        &[
            format!(
                "RECURRENCE-ID;TZID={ROOM_ZONE}:{}",
                civil(day(2), ROOM_ZONE)
            ),
            format!("DTSTART;TZID={ROOM_ZONE}:{}", civil(day(2), ROOM_ZONE)),
            "DURATION:PT1H".into(),
            "STATUS:CANCELLED".into(),
        ],
    );
    radicale.put("daily", &calendar(&format!("{series}{today}{cancelled}")));

    let (daemon, _secrets) = room_with_calendar(&radicale.url(), "");
    let calendar = wait_calendar(&daemon, "the series", |c| !c["current"].is_null());
    assert_eq!(
        calendar["current"]["title"], "Daily (salle Curie)",
        "{calendar:#}"
    );
    assert_eq!(calendar["current"]["url"], "test://curie?connect_ms=100");
    assert_eq!(calendar["current"]["started"], true);
    let upcoming = calendar["upcoming"].as_array().unwrap();
    let starts: Vec<&str> = upcoming
        .iter()
        .map(|m| m["start"].as_str().unwrap())
        .collect();
    // Not tomorrow (EXDATE), not the day after (cancelled): from the third day on, at the
    // same local time every day.
    assert_eq!(
        starts,
        [3, 4, 5, 6, 7].map(|n| shown(day(n))),
        "{calendar:#}"
    );
    assert!(upcoming.iter().all(|m| m["url"] == "test://daily"));

    daemon.cli(&["press", "join"]);
    let status = daemon.wait_state("in-call", Duration::from_secs(10));
    assert_eq!(status["call"]["url"], "test://curie?connect_ms=100");
}

#[test]
fn auto_join_joins_when_the_meeting_starts_and_not_again_after_leaving() {
    let radicale = Radicale::start();
    let start = now() + SignedDuration::from_secs(5);
    radicale.put(
        "standup",
        &calendar(&event(
            "standup",
            "Stand-up",
            &[
                format!("DTSTART:{}", utc(start)),
                "DURATION:PT15M".into(),
                "URL:test://standup?connect_ms=100".into(),
            ],
        )),
    );
    let (daemon, _secrets) = room_with_calendar(&radicale.url(), "auto_join = true");
    let calendar = wait_calendar(&daemon, "the stand-up", |c| !c["current"].is_null());
    assert_eq!(calendar["current"]["started"], false);
    assert_eq!(daemon.state(), "idle", "not before it starts");
    let status = daemon.wait_state("in-call", Duration::from_secs(20));
    let late = Timestamp::now().duration_since(start);
    println!("auto-joined {late:?} after the start");
    assert!(late < SignedDuration::from_secs(3), "{late:?}");
    assert_eq!(status["call"]["url"], "test://standup?connect_ms=100");
    // People leave: the room stays out.
    daemon.cli(&["leave"]);
    daemon.wait_state("idle", Duration::from_secs(5));
    refresh(&daemon);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daemon.state(), "idle");
    // The button still joins it.
    daemon.cli(&["press", "join"]);
    let status = daemon.wait_state("in-call", Duration::from_secs(10));
    assert_eq!(status["call"]["url"], "test://standup?connect_ms=100");
}

/// A calendar with one meeting on now, as a plain iCalendar file.
fn one_meeting_now() -> String {
    let t0 = now();
    calendar(&event(
        "on-now",
        "Réunion",
        &[
            format!("DTSTART:{}", utc(t0 - minutes(5))),
            format!("DTEND:{}", utc(t0 + minutes(55))),
            "URL:test://on-now".into(),
        ],
    ))
}

#[test]
fn a_calendar_server_gone_is_an_error_and_the_meetings_stay() {
    let mut radicale = Radicale::start();
    radicale.put("on-now", &one_meeting_now());
    let url = radicale.url();
    let (daemon, _secrets) = room_with_calendar(&url, "");
    wait_calendar(&daemon, "the meeting", |c| !c["current"].is_null());
    radicale.stop();
    refresh(&daemon);
    let calendar = wait_calendar(&daemon, "the error", |c| !c["error"].is_null());
    let error = calendar["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("calendar {url}: cannot connect")),
        "{error}"
    );
    assert_eq!(
        calendar["current"]["title"], "Réunion",
        "kept: {calendar:#}"
    );
    assert!(!calendar["updated"].is_null());
    // The daemon is fine, and the button still joins the meeting it knows.
    daemon.cli(&["press", "join"]);
    let status = daemon.wait_state("in-call", Duration::from_secs(10));
    assert_eq!(status["call"]["url"], "test://on-now");
    assert!(
        status["problems"].as_array().unwrap().is_empty(),
        "{status:#}"
    );
}

#[test]
fn broken_answers_are_errors_naming_the_calendar_and_the_meetings_stay() {
    let server = Answerer::start(200, &one_meeting_now());
    let url = server.url();
    let (daemon, _secrets) = room_with_calendar(&url, "kind = \"ics\"");
    wait_calendar(&daemon, "the meeting", |c| !c["current"].is_null());
    for (status, body, error) in [
        (
            500,
            "database on fire\nTraceback...",
            format!("calendar {url}: answered 500 Internal Server Error: database on fire"),
        ),
        (
            200,
            "<html><body>Please sign in</body></html>",
            format!("calendar {url}: not iCalendar (no BEGIN:VCALENDAR): starts with \"<html><body>Please sign in</body></html>\""),
        ),
        (
            401,
            "",
            format!("calendar {url}: answered 401 Unauthorized (check [calendar] username and password_file): "),
        ),
    ] {
        server.answer(status, body);
        refresh(&daemon);
        let calendar = wait_calendar(&daemon, &error, |c| c["error"] == error.as_str());
        assert_eq!(calendar["current"]["title"], "Réunion", "kept: {calendar:#}");
        assert_eq!(daemon.state(), "idle");
    }
    // Back to normal: the error goes.
    server.answer(200, &one_meeting_now());
    refresh(&daemon);
    wait_calendar(&daemon, "no error", |c| c["error"].is_null());
}

#[test]
fn a_caldav_answer_that_is_not_a_multistatus_is_an_error() {
    let server = Answerer::start(207, "<multistatus xmlns=\"DAV:\"><response></multistatus>");
    let url = server.url();
    let (daemon, _secrets) = room_with_calendar(&url, "");
    let calendar = wait_calendar(&daemon, "the error", |c| !c["error"].is_null());
    let error = calendar["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "calendar {url}: the answer is not XML (ill-formed document"
        )),
        "{error}"
    );
    assert_eq!(calendar["current"], Value::Null);
    server.answer(200, "<html>not WebDAV</html>");
    refresh(&daemon);
    let error = format!("calendar {url}: answered 200 OK: <html>not WebDAV</html>");
    wait_calendar(&daemon, &error, |c| c["error"] == error.as_str());
    assert_eq!(daemon.state(), "idle");
}

#[test]
fn a_password_file_others_can_read_is_refused() {
    let radicale = Radicale::start();
    let dir = tempfile::tempdir().unwrap();
    let password = password_file(dir.path(), 0o644);
    let config = format!(
        "{}\n[calendar]\nurl = \"{}\"\nusername = \"room\"\npassword_file = \"{}\"\n",
        simulated_room("Salle Calendrier", "test://fixed-meeting"),
        radicale.url(),
        password.display()
    );
    let daemon = Daemon::start(&config);
    let calendar = wait_calendar(&daemon, "the error", |c| !c["error"].is_null());
    assert_eq!(
        calendar["error"],
        format!(
            "calendar {}: password file {}: mode 0644 lets others read or change it: chmod 600 (or 640, group salle)",
            radicale.url(),
            password.display()
        )
        .as_str()
    );
    // Fixed, the next refresh reads the calendar.
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    refresh(&daemon);
    wait_calendar(&daemon, "no error", |c| {
        c["error"].is_null() && !c["updated"].is_null()
    });
    // With no meeting in the calendar, the button joins the room's own meeting.
    daemon.cli(&["press", "join"]);
    let status = daemon.wait_state("in-call", Duration::from_secs(10));
    assert_eq!(status["call"]["url"], "test://fixed-meeting");
}
