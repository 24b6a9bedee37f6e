//! Which meeting is the room's now, and what comes next. Pure: occurrences and the time in.
//!
//! The rules:
//! - A meeting is joinable from `join_early` before its start until its end. All-day events
//!   are never joinable (a "seminar" day or a holiday is not a call) and cancelled
//!   occurrences count for nothing.
//! - When several are joinable, one with a link beats one without (an in-person meeting does
//!   not hide the call next to it), then the latest start wins: in back-to-back meetings the
//!   one starting in two minutes beats the one ending in two minutes, since whoever presses
//!   the button then is there for the next meeting (people still in the first one are in its
//!   call already, where the button leaves). A short meeting inside a long one wins the same
//!   way while it is on.
//! - Upcoming: what has not ended yet, other than the current meeting, by start (all-day
//!   events included, cancelled ones not), for the idle screen.

use super::occurrences::Occurrence;
use jiff::{SignedDuration, Timestamp};

/// The current meeting and the next ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked<'a> {
    pub current: Option<&'a Occurrence>,
    pub upcoming: Vec<&'a Occurrence>,
}

pub fn pick(
    occurrences: &[Occurrence],
    now: Timestamp,
    join_early: SignedDuration,
    upcoming: usize,
) -> Picked<'_> {
    let live = occurrences.iter().filter(|o| !o.cancelled);
    let current = live
        .clone()
        .filter(|o| !o.all_day && o.start - join_early <= now && now < o.end.max(o.start))
        .max_by_key(|o| (o.link.is_some(), o.start, std::cmp::Reverse(o.end)));
    let mut next: Vec<&Occurrence> = live
        .filter(|o| o.end > now && !current.is_some_and(|c| std::ptr::eq(c, *o)))
        .collect();
    next.sort_by_key(|o| (o.start, o.end));
    next.truncate(upcoming);
    Picked {
        current,
        upcoming: next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ical::parse;
    use crate::calendar::link::MeetingHosts;
    use crate::calendar::occurrences::expand;
    use jiff::tz::TimeZone;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn meeting(title: &str, start: &str, end: &str, link: bool) -> Occurrence {
        Occurrence {
            id: format!("{title}/{start}"),
            title: title.into(),
            start: ts(start),
            end: ts(end),
            all_day: false,
            cancelled: false,
            link: link.then(|| format!("test://{title}")),
        }
    }

    const EARLY: SignedDuration = SignedDuration::from_secs(300);

    fn current<'a>(list: &'a [Occurrence], now: &str) -> Option<&'a str> {
        pick(list, ts(now), EARLY, 5)
            .current
            .map(|o| o.title.as_str())
    }

    #[test]
    fn joinable_from_five_minutes_before_until_the_end() {
        let list = [meeting(
            "a",
            "2026-03-10T09:00:00Z",
            "2026-03-10T10:00:00Z",
            true,
        )];
        assert_eq!(current(&list, "2026-03-10T08:54:59Z"), None);
        assert_eq!(current(&list, "2026-03-10T08:55:00Z"), Some("a"));
        assert_eq!(current(&list, "2026-03-10T09:59:59Z"), Some("a"));
        assert_eq!(current(&list, "2026-03-10T10:00:00Z"), None);
        let picked = pick(&list, ts("2026-03-10T08:00:00Z"), EARLY, 5);
        assert_eq!(picked.upcoming.len(), 1);
        assert!(pick(&list, ts("2026-03-10T10:00:00Z"), EARLY, 5)
            .upcoming
            .is_empty());
    }

    #[test]
    fn back_to_back_the_next_meeting_wins_once_joinable() {
        let list = [
            meeting(
                "first",
                "2026-03-10T09:00:00Z",
                "2026-03-10T10:00:00Z",
                true,
            ),
            meeting(
                "second",
                "2026-03-10T10:00:00Z",
                "2026-03-10T11:00:00Z",
                true,
            ),
        ];
        assert_eq!(current(&list, "2026-03-10T09:54:59Z"), Some("first"));
        assert_eq!(current(&list, "2026-03-10T09:55:00Z"), Some("second"));
        let picked = pick(&list, ts("2026-03-10T09:58:00Z"), EARLY, 5);
        assert_eq!(picked.upcoming[0].title, "first", "still on, listed");
    }

    #[test]
    fn a_meeting_with_a_link_beats_one_without() {
        let list = [
            meeting("call", "2026-03-10T09:00:00Z", "2026-03-10T11:00:00Z", true),
            meeting(
                "in person",
                "2026-03-10T10:00:00Z",
                "2026-03-10T10:30:00Z",
                false,
            ),
            meeting(
                "short call",
                "2026-03-10T10:40:00Z",
                "2026-03-10T10:50:00Z",
                true,
            ),
        ];
        assert_eq!(current(&list, "2026-03-10T10:10:00Z"), Some("call"));
        assert_eq!(current(&list, "2026-03-10T10:45:00Z"), Some("short call"));
        let alone = [list[1].clone()];
        assert_eq!(current(&alone, "2026-03-10T10:10:00Z"), Some("in person"));
    }

    #[test]
    fn all_day_events_are_listed_never_joined_and_cancelled_ones_skipped() {
        let mut day = meeting(
            "seminar",
            "2026-03-09T23:00:00Z",
            "2026-03-10T23:00:00Z",
            true,
        );
        day.all_day = true;
        let mut cancelled = meeting(
            "cancelled",
            "2026-03-10T09:00:00Z",
            "2026-03-10T10:00:00Z",
            true,
        );
        cancelled.cancelled = true;
        let later = meeting(
            "later",
            "2026-03-10T14:00:00Z",
            "2026-03-10T15:00:00Z",
            true,
        );
        let list = [day, cancelled, later];
        let picked = pick(&list, ts("2026-03-10T09:30:00Z"), EARLY, 5);
        assert_eq!(picked.current, None);
        let titles: Vec<&str> = picked.upcoming.iter().map(|o| o.title.as_str()).collect();
        assert_eq!(titles, ["seminar", "later"]);
        assert_eq!(
            pick(&list, ts("2026-03-10T09:30:00Z"), EARLY, 1)
                .upcoming
                .len(),
            1
        );
    }

    #[test]
    fn dst_days_in_paris_and_meetings_from_other_zones() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let text = "BEGIN:VCALENDAR\n\
            BEGIN:VEVENT\nUID:daily\nSUMMARY:Daily\nDTSTART;TZID=Europe/Paris:20260327T093000\n\
            DURATION:PT30M\nRRULE:FREQ=DAILY\nLOCATION:test://daily\nEND:VEVENT\n\
            BEGIN:VEVENT\nUID:ny\nSUMMARY:New York\nDTSTART;TZID=Eastern Standard Time:20261026T040000\n\
            DTEND;TZID=Eastern Standard Time:20261026T050000\nURL:test://ny\nEND:VEVENT\n\
            END:VCALENDAR\n";
        let events = parse(text, &paris).unwrap().events;
        let occurrences = |from: &str| {
            let from = ts(from);
            let window = (
                from - SignedDuration::from_hours(24),
                from + SignedDuration::from_hours(24 * 7),
            );
            expand(
                &events,
                &paris,
                &MeetingHosts::default(),
                window,
                &mut Vec::new(),
            )
        };
        // Before the spring change 09:30 Paris is 08:30Z, on and after it 07:30Z.
        let list = occurrences("2026-03-28T08:40:00Z");
        assert_eq!(current(&list, "2026-03-28T08:40:00Z"), Some("Daily"));
        let list = occurrences("2026-03-29T07:40:00Z");
        assert_eq!(current(&list, "2026-03-29T07:40:00Z"), Some("Daily"));
        assert_eq!(
            current(&list, "2026-03-29T08:40:00Z"),
            None,
            "an hour later: over"
        );
        // On 2026-10-25 Paris is back to +01:00 (09:30 = 08:30Z); New York changes a week
        // later, so 04:00 there on the 26th is 08:00Z, 09:00 in Paris, and ends at 09:00Z.
        let list = occurrences("2026-10-25T08:40:00Z");
        assert_eq!(current(&list, "2026-10-25T08:40:00Z"), Some("Daily"));
        let list = occurrences("2026-10-26T07:56:00Z");
        assert_eq!(current(&list, "2026-10-26T07:56:00Z"), Some("New York"));
        assert_eq!(
            current(&list, "2026-10-26T08:45:00Z"),
            Some("Daily"),
            "the later start wins"
        );
        assert_eq!(current(&list, "2026-10-26T08:59:59Z"), Some("Daily"));
        assert_eq!(current(&list, "2026-10-26T09:00:00Z"), None, "both ended");
    }
}
