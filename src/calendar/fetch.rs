//! Getting the room's calendar: a CalDAV `REPORT` (calendar-query limited to the window the
//! room looks at) or a plain iCalendar file over `GET`; HTTP Basic auth with a password kept
//! in a file only the daemon may read. Errors say what the server answered.

use crate::config::CalendarKind;
use crate::signal::http::{describe, excerpt};
use jiff::Timestamp;
use quick_xml::events::Event as Xml;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the calendar is and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub kind: CalendarKind,
    pub username: Option<String>,
    /// Read at every fetch: a changed password needs no restart.
    pub password_file: Option<PathBuf>,
}

const DAV: &str = "DAV:";
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

impl Source {
    /// The iCalendar texts of the events overlapping `from..to` (a plain iCalendar URL gives
    /// the whole calendar: one text).
    pub async fn fetch(
        &self,
        client: &reqwest::Client,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<String>, String> {
        let password = match &self.password_file {
            Some(path) => Some(read_password(path)?),
            None => None,
        };
        let mut request = match self.kind {
            CalendarKind::Caldav => client
                .request(
                    reqwest::Method::from_bytes(b"REPORT").expect("a valid method"),
                    &self.url,
                )
                .header("Depth", "1")
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/xml; charset=utf-8",
                )
                .body(calendar_query(from, to)),
            CalendarKind::Ics => client
                .get(&self.url)
                .header(reqwest::header::ACCEPT, "text/calendar"),
        };
        if let Some(user) = &self.username {
            request = request.basic_auth(user, password);
        }
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("reading the answer: {}", describe(&e)))?;
        let expected = match self.kind {
            CalendarKind::Caldav => status == reqwest::StatusCode::MULTI_STATUS,
            CalendarKind::Ics => status.is_success(),
        };
        if !expected {
            let hint = match status {
                reqwest::StatusCode::UNAUTHORIZED => {
                    " (check [calendar] username and password_file)"
                }
                _ => "",
            };
            return Err(format!("answered {status}{hint}: {}", excerpt(&body)));
        }
        match self.kind {
            CalendarKind::Caldav => calendar_data(&body),
            CalendarKind::Ics => Ok(vec![body]),
        }
    }
}

/// A calendar URL the room may use: https, or plain http on loopback only (the meeting URLs'
/// rule).
pub fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("\"{text}\" is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::signal::is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "\"{text}\": plain http is only allowed on loopback (tests); use https"
        )),
        other => Err(format!(
            "\"{text}\": unknown scheme \"{other}\"; expected https://"
        )),
    }
}

/// The password in `path`, refused when the file is open to others: it unlocks the room's
/// calendar, and often the account behind it.
pub fn read_password(path: &Path) -> Result<String, String> {
    let named = |e: String| format!("password file {}: {e}", path.display());
    let mode = std::fs::metadata(path)
        .map_err(|e| named(e.to_string()))?
        .permissions()
        .mode()
        & 0o777;
    // Owner read/write, and group read for a root-owned file the `salle` group reads.
    if mode & 0o037 != 0 {
        return Err(named(format!(
            "mode {mode:04o} lets others read or change it: chmod 600 (or 640, group salle)"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(named("empty".into()));
    }
    Ok(password)
}

/// A calendar-query for the events overlapping `from..to` (RFC 4791, 7.8.1), without
/// server-side expansion: servers differ in it, the room expands series itself.
fn calendar_query(from: Timestamp, to: Timestamp) -> String {
    let at = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="{}" end="{}"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>
"#,
        at(from),
        at(to)
    )
}

/// Every non-empty `calendar-data` in a multistatus answer.
pub fn calendar_data(xml: &str) -> Result<Vec<String>, String> {
    let mut reader = NsReader::from_str(xml);
    let is = |ns: &ResolveResult, wanted: &str| matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == wanted);
    let mut root = None::<String>;
    let mut data: Option<String> = None;
    let mut found = Vec::new();
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(read) => read,
            Err(e) => {
                let at = reader.error_position();
                return Err(format!(
                    "the answer is not XML ({e} at byte {at}): {}",
                    excerpt(xml)
                ));
            }
        };
        match event {
            Xml::Start(e) | Xml::Empty(e) if root.is_none() => {
                let name = e.local_name().as_ref().to_string();
                if !(is(&ns, DAV) && name == "multistatus") {
                    return Err(format!(
                        "the answer is not a CalDAV multistatus (its root is <{name}>): {}",
                        excerpt(xml)
                    ));
                }
                root = Some(name);
            }
            Xml::Start(e) if is(&ns, CALDAV) && e.local_name().as_ref() == "calendar-data" => {
                data = Some(String::new());
            }
            Xml::End(e) if is(&ns, CALDAV) && e.local_name().as_ref() == "calendar-data" => {
                found.extend(data.take().filter(|d| !d.trim().is_empty()));
            }
            Xml::Text(text) => {
                if let Some(data) = &mut data {
                    data.push_str(&text.xml10_content());
                }
            }
            Xml::CData(text) => {
                if let Some(data) = &mut data {
                    data.push_str(&text.xml10_content());
                }
            }
            Xml::GeneralRef(reference) => {
                if let Some(data) = &mut data {
                    let name = reference.xml10_content();
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => quick_xml::escape::resolve_predefined_entity(&name).map(String::from),
                    };
                    let resolved = resolved.ok_or_else(|| {
                        format!("the answer refers to an unknown entity &{name};")
                    })?;
                    data.push_str(&resolved);
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    if root.is_none() {
        return Err(format!(
            "the answer is not a CalDAV multistatus: \"{}\"",
            excerpt(xml)
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus_calendar_data_with_entities_and_cdata() {
        let xml = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/room/cal/a.ics</href><propstat><prop>
  <C:calendar-data>BEGIN:VCALENDAR&#13;
SUMMARY:R&amp;D &lt;3
END:VCALENDAR</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/room/cal/b.ics</href><propstat><prop>
  <cal:calendar-data xmlns:cal="urn:ietf:params:xml:ns:caldav"><![CDATA[BEGIN:VCALENDAR
END:VCALENDAR]]></cal:calendar-data></prop></propstat></response>
 <response><href>/room/cal/c.ics</href><propstat><prop><C:calendar-data/></prop>
  <status>HTTP/1.1 404 Not Found</status></propstat></response>
</multistatus>"#;
        let found = calendar_data(xml).unwrap();
        assert_eq!(
            found,
            [
                "BEGIN:VCALENDAR\r\nSUMMARY:R&D <3\nEND:VCALENDAR",
                "BEGIN:VCALENDAR\nEND:VCALENDAR"
            ]
        );
        let empty = r#"<d:multistatus xmlns:d="DAV:"/>"#;
        assert!(calendar_data(empty).unwrap().is_empty());
    }

    #[test]
    fn what_is_not_a_multistatus_says_what_it_is() {
        let e = calendar_data("<html><body>Login</body></html>").unwrap_err();
        assert_eq!(
            e,
            "the answer is not a CalDAV multistatus (its root is <html>): <html><body>Login</body></html>"
        );
        let e = calendar_data("<multistatus xmlns=\"DAV:\"><response></multistatus>").unwrap_err();
        assert!(
            e.starts_with("the answer is not XML (ill-formed document"),
            "{e}"
        );
        let e = calendar_data("database on fire").unwrap_err();
        assert_eq!(
            e,
            "the answer is not a CalDAV multistatus: \"database on fire\""
        );
        let e = calendar_data("<multistatus xmlns=\"urn:other\"/>").unwrap_err();
        assert!(e.contains("its root is <multistatus>"), "{e}");
    }

    #[test]
    fn the_query_asks_for_the_window() {
        let q = calendar_query(
            "2026-03-09T08:00:00Z".parse().unwrap(),
            "2026-03-17T08:00:00Z".parse().unwrap(),
        );
        assert!(
            q.contains(r#"<C:time-range start="20260309T080000Z" end="20260317T080000Z"/>"#),
            "{q}"
        );
    }

    #[test]
    fn password_files_open_to_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calendar.password");
        std::fs::write(&path, "s3cret\n").unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, true),
            (0o644, false),
            (0o660, false),
            (0o606, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let got = read_password(&path);
            assert_eq!(got.is_ok(), ok, "{mode:o}: {got:?}");
            if let Err(e) = got {
                assert_eq!(
                    e,
                    format!("password file {}: mode {mode:04o} lets others read or change it: chmod 600 (or 640, group salle)", path.display())
                );
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&path).unwrap(), "s3cret");
        let missing = read_password(Path::new("/nonexistent/pw")).unwrap_err();
        assert!(
            missing.starts_with("password file /nonexistent/pw: "),
            "{missing}"
        );
    }
}
