//! The room's calendar: which meeting is on, and which come next.
//!
//! `fetch` gets the calendar (CalDAV or a plain iCalendar URL), `ical` reads it, `recur` and
//! `occurrences` expand it within a window around now, `link` finds each meeting's link and
//! `pick` chooses the current meeting. Only `fetch` does I/O; the daemon's calendar task runs
//! it and hands the room a `room::CalendarStatus`.

pub mod fetch;
pub mod ical;
pub mod link;
pub mod occurrences;
pub mod pick;
mod recur;
pub mod zones;

use crate::room::CalendarMeeting;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use occurrences::Occurrence;

/// The meetings the room looks at: from a day ago (long meetings still on) to a week ahead.
pub fn window(now: Timestamp) -> (Timestamp, Timestamp) {
    (
        now - SignedDuration::from_hours(24),
        now + SignedDuration::from_hours(24 * 7),
    )
}

/// What one fetch gave.
#[derive(Debug, Default)]
pub struct Loaded {
    pub occurrences: Vec<Occurrence>,
    pub warnings: Vec<String>,
}

/// Reads the iCalendar `texts` a fetch returned and expands them in `window`. One text that is
/// not iCalendar spoils the fetch when it is the only one (a plain iCalendar URL); among
/// several (CalDAV resources) it is a warning.
pub fn load(
    texts: &[String],
    room: &TimeZone,
    hosts: &link::MeetingHosts,
    window: (Timestamp, Timestamp),
) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    let mut events = Vec::new();
    for text in texts {
        match ical::parse(text, room) {
            Ok(parsed) => {
                events.extend(parsed.events);
                loaded.warnings.extend(parsed.warnings);
            }
            Err(e) if texts.len() == 1 => return Err(e),
            Err(e) => loaded.warnings.push(format!("a calendar resource: {e}")),
        }
    }
    loaded.occurrences = occurrences::expand(&events, room, hosts, window, &mut loaded.warnings);
    Ok(loaded)
}

/// How many upcoming meetings the room shows.
pub const UPCOMING: usize = 5;

/// The current meeting and the upcoming ones at `now`, as the room shows them (times in
/// `room`'s zone).
pub fn view(
    occurrences: &[Occurrence],
    now: Timestamp,
    join_early: SignedDuration,
    room: &TimeZone,
) -> (Option<CalendarMeeting>, Vec<CalendarMeeting>) {
    let picked = pick::pick(occurrences, now, join_early, UPCOMING);
    let meeting = |o: &Occurrence| CalendarMeeting {
        id: o.id.clone(),
        title: o.title.clone(),
        start: local_time(o.start, room),
        end: local_time(o.end, room),
        all_day: o.all_day,
        url: o.link.clone(),
        started: o.start <= now,
    };
    (
        picked.current.map(meeting),
        picked.upcoming.into_iter().map(meeting).collect(),
    )
}

/// RFC 3339 with the room's offset: "2026-03-29T09:00:00+02:00".
pub fn local_time(t: Timestamp, room: &TimeZone) -> String {
    t.to_zoned(room.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_room_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let t: Timestamp = "2026-03-29T07:00:00Z".parse().unwrap();
        assert_eq!(local_time(t, &paris), "2026-03-29T09:00:00+02:00");
        assert_eq!(local_time(t, &TimeZone::UTC), "2026-03-29T07:00:00+00:00");
    }

    #[test]
    fn one_broken_resource_among_several_is_a_warning() {
        let good = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260310T090000Z\nDURATION:PT1H\nEND:VEVENT\nEND:VCALENDAR\n";
        let now: Timestamp = "2026-03-10T09:10:00Z".parse().unwrap();
        let hosts = link::MeetingHosts::default();
        let loaded = load(
            &[good.into(), "garbage".into()],
            &TimeZone::UTC,
            &hosts,
            window(now),
        )
        .unwrap();
        assert_eq!(loaded.occurrences.len(), 1);
        assert!(loaded.warnings[0].starts_with("a calendar resource: not iCalendar"));
        assert!(load(&["garbage".into()], &TimeZone::UTC, &hosts, window(now)).is_err());
        let (current, upcoming) = view(
            &loaded.occurrences,
            now,
            SignedDuration::from_secs(300),
            &TimeZone::UTC,
        );
        let current = current.unwrap();
        assert_eq!(
            (current.title.as_str(), current.started, current.url),
            ("(no title)", true, None)
        );
        assert!(upcoming.is_empty());
    }
}
