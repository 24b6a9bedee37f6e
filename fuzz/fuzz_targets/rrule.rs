//! Recurrence rules: the first line is an event's DTSTART (with its parameters, e.g.
//! `;TZID=Europe/Paris:20260302T090000`), the rest its RRULE value; the event is expanded over
//! the room's window, as the calendar does with every recurring meeting.
#![no_main]

use jiff::tz::TimeZone;
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use salle::calendar::{self, link::MeetingHosts};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (start, rule) = text.split_once('\n').unwrap_or((":20260302T090000", &text));
    if start.contains(['\r', '\n']) || rule.contains(['\r', '\n']) {
        return; // one property per line: a newline would start another property
    }
    let event = format!(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:fuzz\r\nSUMMARY:Weekly\r\nDTSTART{start}\r\n\
         DURATION:PT1H\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let now: Timestamp = "2026-03-29T07:00:00Z".parse().unwrap();
    let room = TimeZone::get("Europe/Paris").unwrap_or(TimeZone::UTC);
    let _ = calendar::load(
        &[event],
        &room,
        &MeetingHosts::default(),
        calendar::window(now),
    );
});
