//! What the room knows of its calendar: the current meeting, the next ones, and whether the
//! calendar could be read. The daemon's calendar task works it out; the room only decides what
//! the join button and auto-join do with it.

use serde::{Deserialize, Serialize};

/// One meeting from the room's calendar, as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarMeeting {
    /// The event and the occurrence (UID and original start): auto-join joins each id once.
    pub id: String,
    pub title: String,
    /// RFC 3339 in the room's zone.
    pub start: String,
    pub end: String,
    /// All-day events are shown, never joined.
    pub all_day: bool,
    /// The meeting link found in the event; None for meetings without one (in person).
    pub url: Option<String>,
    /// It has begun (a current meeting may also be one about to begin).
    pub started: bool,
}

/// The calendar as status shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarStatus {
    /// The meeting the join button joins: on now, or starting within `join_early_s`.
    pub current: Option<CalendarMeeting>,
    /// What comes next (and what else is still on), by start.
    pub upcoming: Vec<CalendarMeeting>,
    /// Why the last refresh failed; the meetings above are from the last one that worked.
    pub error: Option<String>,
    /// When the calendar was last read successfully (RFC 3339, the room's zone).
    pub updated: Option<String>,
    /// Events the room could only partly understand (an unknown time zone, a rule it cannot
    /// follow).
    pub warnings: Vec<String>,
}
