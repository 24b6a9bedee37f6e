//! iCalendar documents (a calendar URL's body, or one CalDAV resource): read, recurring series
//! expanded over the room's window, the current and next meetings picked.
#![no_main]

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use salle::calendar::{self, link::MeetingHosts};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let now: Timestamp = "2026-03-29T07:00:00Z".parse().unwrap();
    let room = TimeZone::get("Europe/Paris").unwrap_or(TimeZone::UTC);
    let hosts = MeetingHosts::from_urls(["https://visio.numerique.gouv.fr/abc-defg-hij"]);
    if let Ok(loaded) = calendar::load(&[text], &room, &hosts, calendar::window(now)) {
        let _ = calendar::view(
            &loaded.occurrences,
            now,
            SignedDuration::from_secs(300),
            &room,
        );
    }
});
