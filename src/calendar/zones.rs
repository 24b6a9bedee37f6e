//! Time zones named in iCalendar `TZID` parameters.
//!
//! Most servers use IANA names ("Europe/Paris"), resolved through the system's tz database.
//! Outlook and Exchange use Windows names ("Romance Standard Time"), mapped here for the zones
//! a French public body's rooms meet with. Anything else falls back to the offset the calendar's
//! own `VTIMEZONE` gives for standard time (right for half the year), else UTC, with a warning.

use jiff::tz::{Offset, TimeZone};
use std::collections::HashMap;

/// Windows zone names and their IANA equivalents (CLDR's windowsZones.xml, territory "001").
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Romance Standard Time", "Europe/Paris"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Caledonia Standard Time", "Pacific/Noumea"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
];

/// Resolves `TZID`s for one calendar: the zones its `VTIMEZONE`s describe are the fallback.
#[derive(Debug, Default)]
pub struct Zones {
    /// TZID -> offset of its STANDARD part, from the calendar's VTIMEZONEs.
    standard_offsets: HashMap<String, Offset>,
}

impl Zones {
    /// Remembers the standard-time offset a `VTIMEZONE` gives for `tzid` (`TZOFFSETTO`, e.g.
    /// "+0100").
    pub fn add_standard_offset(&mut self, tzid: &str, offset: &str) -> Result<(), String> {
        let offset = parse_offset(offset)
            .ok_or_else(|| format!("VTIMEZONE {tzid}: bad TZOFFSETTO \"{offset}\""))?;
        self.standard_offsets.insert(tzid.to_string(), offset);
        Ok(())
    }

    /// The zone `tzid` names, and a warning when it had to be guessed.
    pub fn resolve(&self, tzid: &str) -> (TimeZone, Option<String>) {
        let tzid = tzid.trim().trim_matches('"');
        if let Some(tz) = known(tzid) {
            return (tz, None);
        }
        match self.standard_offsets.get(tzid) {
            Some(offset) => (
                TimeZone::fixed(*offset),
                Some(format!(
                    "unknown time zone \"{tzid}\": using its standard offset {offset} all year"
                )),
            ),
            None => (
                TimeZone::UTC,
                Some(format!(
                    "unknown time zone \"{tzid}\" and no VTIMEZONE for it: using UTC"
                )),
            ),
        }
    }
}

/// An IANA name, a Windows name, or an IANA name behind a vendor prefix
/// ("/mozilla.org/20050126_1/Europe/Paris", "/citadel.org/20190914_1/Europe/Paris").
fn known(tzid: &str) -> Option<TimeZone> {
    if let Some((_, iana)) = WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(tzid))
    {
        return TimeZone::get(iana).ok();
    }
    if let Ok(tz) = TimeZone::get(tzid) {
        return Some(tz);
    }
    // Try each tail after a '/', longest first: the IANA name is at the end.
    tzid.match_indices('/')
        .map(|(i, _)| &tzid[i + 1..])
        .filter(|tail| !tail.is_empty())
        .find_map(|tail| TimeZone::get(tail).ok())
}

/// "+0100", "-0500", "+053000" -> an offset.
fn parse_offset(text: &str) -> Option<Offset> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |range: std::ops::Range<usize>| digits.get(range)?.parse::<i32>().ok();
    let seconds = part(0..2)? * 3600 + part(2..4)? * 60 + part(4..6).unwrap_or(0);
    Offset::from_seconds(sign * seconds).ok()
}

/// The room's zone: `name` from the configuration, else the system's (UTC when it has none).
pub fn room_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!("unknown time zone \"{name}\": use an IANA name such as \"Europe/Paris\"")
        }),
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(tz: &TimeZone) -> &str {
        tz.iana_name().unwrap_or("fixed")
    }

    #[test]
    fn iana_windows_and_prefixed_names() {
        let zones = Zones::default();
        for (tzid, iana) in [
            ("Europe/Paris", "Europe/Paris"),
            ("Romance Standard Time", "Europe/Paris"),
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("GMT Standard Time", "Europe/London"),
            ("Eastern Standard Time", "America/New_York"),
            ("Pacific Standard Time", "America/Los_Angeles"),
            ("\"America/New_York\"", "America/New_York"),
            ("/mozilla.org/20050126_1/Europe/Paris", "Europe/Paris"),
        ] {
            let (tz, warning) = zones.resolve(tzid);
            assert_eq!((name(&tz), warning), (iana, None), "{tzid}");
        }
    }

    #[test]
    fn unknown_names_fall_back_to_the_vtimezone_then_utc() {
        let mut zones = Zones::default();
        zones
            .add_standard_offset("(UTC+01:00) Bruxelles, Copenhague", "+0100")
            .unwrap();
        let (tz, warning) = zones.resolve("(UTC+01:00) Bruxelles, Copenhague");
        assert_eq!(
            tz.to_offset(jiff::Timestamp::UNIX_EPOCH),
            Offset::from_seconds(3600).unwrap()
        );
        assert!(warning.unwrap().contains("standard offset +01"));
        let (tz, warning) = zones.resolve("Mars/Olympus_Mons");
        assert_eq!(tz, TimeZone::UTC);
        assert!(warning.unwrap().contains("using UTC"));
        assert!(zones.add_standard_offset("x", "0100").is_err());
        assert_eq!(parse_offset("-0530"), Offset::from_seconds(-19800).ok());
    }

    #[test]
    fn room_zone_is_checked() {
        assert_eq!(
            name(&room_zone(Some("Europe/Paris")).unwrap()),
            "Europe/Paris"
        );
        assert!(room_zone(Some("Paris"))
            .unwrap_err()
            .contains("unknown time zone"));
        assert!(room_zone(None).is_ok());
    }
}
