//! From events to occurrences within a window: recurring series expanded, `EXDATE`s removed,
//! changed occurrences (`RECURRENCE-ID`) put in place of the ones they replace.

use super::ical::{Event, When};
use super::link::{meeting_link, MeetingHosts};
use super::recur::Rule;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// One occurrence of an event, as the room sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The event's UID and the occurrence's original start: the same occurrence keeps its id
    /// when it is moved, and auto-join joins each id once.
    pub id: String,
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// All-day events are shown, never joined.
    pub all_day: bool,
    pub cancelled: bool,
    pub link: Option<String>,
}

/// Every occurrence of `events` that overlaps `from..=to`, sorted by start. Events are in
/// `room`'s zone when they have none; warnings say which rules could not be followed.
pub fn expand(
    events: &[Event],
    room: &TimeZone,
    hosts: &MeetingHosts,
    (from, to): (Timestamp, Timestamp),
    warnings: &mut Vec<String>,
) -> Vec<Occurrence> {
    let mut found = Vec::new();
    let overrides: Vec<&Event> = events
        .iter()
        .filter(|e| e.recurrence_id.is_some())
        .collect();
    for event in events.iter().filter(|e| e.recurrence_id.is_none()) {
        // Occurrences that start before the window may still be on in it.
        let series_from = from - Span::new().seconds(longest_seconds(&event.length));
        let mut starts = match event.rrule.as_deref().map(|r| Rule::parse(r, &event.start)) {
            None => vec![event.start.clone()],
            Some(Ok(rule)) => rule.starts(&event.start, room, series_from, to),
            Some(Err(why)) => {
                warnings.push(format!(
                    "{}: RRULE {}: {why}: only its first occurrence is shown",
                    event.name(),
                    event.rrule.as_deref().unwrap_or_default()
                ));
                vec![event.start.clone()]
            }
        };
        if event.rrule.is_some() {
            starts.extend(event.rdates.iter().cloned());
        }
        for start in starts {
            let excluded = event.exdates.iter().any(|ex| same_start(ex, &start, room));
            let replaced = overrides.iter().any(|o| {
                o.uid == event.uid && same_start(o.recurrence_id.as_ref().unwrap(), &start, room)
            });
            if !excluded && !replaced {
                found.push(occurrence(event, &start, &start, room, hosts));
            }
        }
    }
    // A changed occurrence stands on its own: it may have moved into the window from outside.
    for event in overrides {
        let original = event.recurrence_id.as_ref().unwrap();
        found.push(occurrence(event, &event.start, original, room, hosts));
    }
    found.retain(|o| {
        o.end > from && o.start <= to || o.start == o.end && o.start >= from && o.start <= to
    });
    found.sort_by(|a, b| (a.start, a.end, &a.title).cmp(&(b.start, b.end, &b.title)));
    found
}

fn occurrence(
    event: &Event,
    start: &When,
    original: &When,
    room: &TimeZone,
    hosts: &MeetingHosts,
) -> Occurrence {
    let begins = start.instant(room);
    let zoned = match start {
        When::Date(_) => begins.to_zoned(room.clone()),
        When::At(_, tz) => begins.to_zoned(tz.clone()),
    };
    // Calendar days for days (a one-day event on a DST day lasts 23 or 25 hours).
    let end = zoned
        .checked_add(event.length)
        .map(|z| z.timestamp())
        .unwrap_or(begins);
    Occurrence {
        id: format!("{}/{}", event.uid, original.instant(room)),
        title: event.summary.clone(),
        start: begins,
        end,
        all_day: event.all_day(),
        cancelled: event.cancelled,
        link: meeting_link(
            event.url.as_deref(),
            event.location.as_deref(),
            event.description.as_deref(),
            hosts,
        ),
    }
}

/// Whether an EXDATE or RECURRENCE-ID names the occurrence starting at `start`: the same
/// instant, or the same day for a date.
fn same_start(named: &When, start: &When, room: &TimeZone) -> bool {
    match (named, start) {
        (When::Date(day), When::At(civil, _)) => *day == civil.date(),
        (When::Date(a), When::Date(b)) => a == b,
        _ => named.instant(room) == start.instant(room),
    }
}

/// An upper bound of `length` in seconds (days may have 25 hours).
fn longest_seconds(length: &Span) -> i64 {
    i64::from(length.get_weeks()) * 7 * 90_000
        + i64::from(length.get_days()) * 90_000
        + i64::from(length.get_hours()) * 3600
        + length.get_minutes() * 60
        + length.get_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ical::parse;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn expand_text(text: &str, from: &str, to: &str) -> (Vec<Occurrence>, Vec<String>) {
        let parsed = parse(text, &paris()).unwrap();
        let mut warnings = parsed.warnings;
        let found = expand(
            &parsed.events,
            &paris(),
            &MeetingHosts::default(),
            (ts(from), ts(to)),
            &mut warnings,
        );
        (found, warnings)
    }

    const SERIES: &str = "BEGIN:VCALENDAR\n\
        BEGIN:VEVENT\nUID:weekly\nSUMMARY:Point hebdo\nDTSTART;TZID=Europe/Paris:20260302T100000\n\
        DTEND;TZID=Europe/Paris:20260302T110000\nRRULE:FREQ=WEEKLY;BYDAY=MO\n\
        EXDATE;TZID=Europe/Paris:20260316T100000\nLOCATION:https://visio.example.fr/abc-defg-hij\nEND:VEVENT\n\
        BEGIN:VEVENT\nUID:weekly\nRECURRENCE-ID;TZID=Europe/Paris:20260323T100000\nSUMMARY:Point hebdo (déplacé)\n\
        DTSTART;TZID=Europe/Paris:20260324T140000\nDTEND;TZID=Europe/Paris:20260324T150000\n\
        LOCATION:janus+wss://janus.example.org/?room=5\nEND:VEVENT\n\
        BEGIN:VEVENT\nUID:weekly\nRECURRENCE-ID;TZID=Europe/Paris:20260330T100000\nSUMMARY:Point hebdo\n\
        DTSTART;TZID=Europe/Paris:20260330T100000\nDTEND;TZID=Europe/Paris:20260330T110000\nSTATUS:CANCELLED\nEND:VEVENT\n\
        END:VCALENDAR\n";

    #[test]
    fn exdates_overrides_and_cancelled_occurrences() {
        let (found, warnings) = expand_text(SERIES, "2026-03-08T00:00:00Z", "2026-04-07T00:00:00Z");
        assert!(warnings.is_empty(), "{warnings:?}");
        let summary: Vec<(String, &str, bool, Option<&str>)> = found
            .iter()
            .map(|o| {
                (
                    o.start.to_string(),
                    o.title.as_str(),
                    o.cancelled,
                    o.link.as_deref(),
                )
            })
            .collect();
        let visio = Some("https://visio.example.fr/abc-defg-hij");
        assert_eq!(
            summary,
            [
                (
                    "2026-03-09T09:00:00Z".to_string(),
                    "Point hebdo",
                    false,
                    visio
                ),
                // 16th: EXDATE. 23rd: moved to the 24th at 14:00, with another link.
                (
                    "2026-03-24T13:00:00Z".to_string(),
                    "Point hebdo (déplacé)",
                    false,
                    Some("janus+wss://janus.example.org/?room=5")
                ),
                // 30th: cancelled (kept, marked; an override replaces the whole occurrence,
                // link included); after the DST change 10:00 is 08:00Z.
                (
                    "2026-03-30T08:00:00Z".to_string(),
                    "Point hebdo",
                    true,
                    None
                ),
                (
                    "2026-04-06T08:00:00Z".to_string(),
                    "Point hebdo",
                    false,
                    visio
                ),
            ]
        );
        assert_eq!(
            found[1].id, "weekly/2026-03-23T09:00:00Z",
            "an override keeps its original id"
        );
        assert_eq!(found[1].end.as_second() - found[1].start.as_second(), 3600);
    }

    #[test]
    fn an_occurrence_started_before_the_window_is_still_in_it() {
        let (found, _) = expand_text(SERIES, "2026-03-09T09:30:00Z", "2026-03-10T00:00:00Z");
        assert_eq!(found.len(), 1);
        let (found, _) = expand_text(SERIES, "2026-03-09T10:00:00Z", "2026-03-10T00:00:00Z");
        assert!(found.is_empty(), "ended as the window starts");
    }

    #[test]
    fn all_day_events_last_whole_days_in_the_room_zone() {
        let (found, _) = expand_text(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:d\nSUMMARY:Séminaire\nDTSTART;VALUE=DATE:20260329\nEND:VEVENT\nEND:VCALENDAR\n",
            "2026-03-28T00:00:00Z",
            "2026-04-01T00:00:00Z",
        );
        // The DST day has 23 hours.
        assert_eq!(
            (found[0].start.to_string(), found[0].end.to_string()),
            ("2026-03-28T23:00:00Z".into(), "2026-03-29T22:00:00Z".into())
        );
        assert!(found[0].all_day);
    }

    #[test]
    fn a_rule_that_cannot_be_followed_counts_once_with_a_warning() {
        let (found, warnings) = expand_text(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:h\nSUMMARY:Hourly\nDTSTART:20260310T080000Z\nRRULE:FREQ=HOURLY\nEND:VEVENT\nEND:VCALENDAR\n",
            "2026-03-10T00:00:00Z",
            "2026-03-11T00:00:00Z",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(warnings, ["event \"Hourly\" (h): RRULE FREQ=HOURLY: FREQ=HOURLY is not supported: only its first occurrence is shown"]);
    }
}
