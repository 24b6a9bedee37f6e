//! iCalendar (RFC 5545) as calendars serve it: the `VEVENT`s, with their times resolved to
//! zones. Only what a room needs is read (when, what, where, the link, recurrence); the rest of
//! the format is skipped without complaint. Problems that spoil one event are warnings: the
//! rest of the calendar still counts.

use super::zones::Zones;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// A date or date-time value as the calendar wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// A day (`VALUE=DATE`): all-day events, in the room's zone.
    Date(Date),
    /// A time of day in a zone: the `TZID`'s, UTC for "Z" values, the room's for floating ones.
    At(DateTime, TimeZone),
}

impl When {
    /// The instant this value stands for; days start at midnight in `room`.
    pub fn instant(&self, room: &TimeZone) -> Timestamp {
        let (civil, tz) = match self {
            When::Date(date) => (date.to_datetime(jiff::civil::Time::midnight()), room),
            When::At(civil, tz) => (*civil, tz),
        };
        // A time that does not exist (skipped by a DST change) moves forward, an ambiguous one
        // takes the first of its two instants: RFC 5545's rule, and jiff's "compatible" one.
        tz.to_ambiguous_timestamp(civil)
            .compatible()
            // Fails only at the edge of the representable range (year 9999): never on.
            .unwrap_or(Timestamp::MAX)
    }
}

/// One `VEVENT`: a single event, a recurring series, or one changed occurrence of a series
/// (`recurrence_id`).
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    pub summary: String,
    pub start: When,
    /// From `DTEND` (exact seconds, or days for all-day events) or `DURATION`; each occurrence
    /// ends this long after it starts (days are calendar days, right across DST changes).
    pub length: Span,
    /// The `RRULE` as written; `recur` reads it.
    pub rrule: Option<String>,
    pub rdates: Vec<When>,
    pub exdates: Vec<When>,
    /// Set on an override: the original start of the occurrence it replaces.
    pub recurrence_id: Option<When>,
    pub cancelled: bool,
    pub location: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
}

impl Event {
    pub fn all_day(&self) -> bool {
        matches!(self.start, When::Date(_))
    }

    /// How warnings name the event.
    pub fn name(&self) -> String {
        format!("event \"{}\" ({})", self.summary, self.uid)
    }
}

/// What one iCalendar text holds.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    /// Events skipped or guessed at, for the log and status.
    pub warnings: Vec<String>,
}

/// Reads the `VEVENT`s of `text`; floating times are in `room`'s zone. Fails only when `text`
/// is not iCalendar at all.
pub fn parse(text: &str, room: &TimeZone) -> Result<Parsed, String> {
    let lines = unfold(text);
    let first = lines.iter().find(|l| !l.trim().is_empty());
    if !first.is_some_and(|l| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(format!(
            "not iCalendar (no BEGIN:VCALENDAR): starts with \"{}\"",
            excerpt(first.map(String::as_str).unwrap_or(""))
        ));
    }
    let mut zones = Zones::default();
    let mut parsed = Parsed::default();
    let mut stack: Vec<String> = Vec::new();
    let mut event_lines: Vec<Vec<ContentLine>> = Vec::new();
    let mut tzid = String::new();
    for raw in &lines {
        let Some(line) = ContentLine::parse(raw) else {
            continue; // Blank or not a content line: nothing a room needs.
        };
        match line.name.as_str() {
            "BEGIN" => {
                let component = line.value.to_ascii_uppercase();
                if component == "VEVENT" && stack.last().is_some_and(|c| c == "VCALENDAR") {
                    event_lines.push(Vec::new());
                }
                stack.push(component);
                continue;
            }
            "END" => {
                stack.pop();
                continue;
            }
            _ => {}
        }
        let path: Vec<&str> = stack.iter().map(String::as_str).collect();
        match path.as_slice() {
            ["VCALENDAR", "VEVENT"] => event_lines.last_mut().unwrap().push(line),
            ["VCALENDAR", "VTIMEZONE"] if line.name == "TZID" => tzid = line.value.clone(),
            ["VCALENDAR", "VTIMEZONE", "STANDARD"] if line.name == "TZOFFSETTO" => {
                if let Err(e) = zones.add_standard_offset(&tzid, &line.value) {
                    parsed.warnings.push(e);
                }
            }
            _ => {}
        }
    }
    for lines in event_lines {
        match event(&lines, &zones, room, &mut parsed.warnings) {
            Ok(event) => parsed.events.push(event),
            Err(e) => parsed.warnings.push(e),
        }
    }
    Ok(parsed)
}

/// A calendar's text shortened for an error message.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        short.push('…');
    }
    short
}

/// Lines with their folds undone (a line starting with a space or tab continues the previous).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match (line.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(previous)) => previous.push_str(rest),
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

/// `NAME;PARAM=value;PARAM="quoted:value":value`
#[derive(Debug, Clone)]
struct ContentLine {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl ContentLine {
    fn parse(raw: &str) -> Option<ContentLine> {
        let colon = split_unquoted(raw, ':').next()?.len();
        let value = raw.get(colon + 1..)?;
        let mut head = split_unquoted(&raw[..colon], ';');
        let name = head.next()?.trim().to_ascii_uppercase();
        if name.is_empty() {
            return None;
        }
        let params = head
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_ascii_uppercase(),
                    v.trim().trim_matches('"').into(),
                )
            })
            .collect();
        Some(ContentLine {
            name,
            params,
            value: value.to_string(),
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits at `separator` outside double quotes.
fn split_unquoted(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut start = 0;
    let mut done = false;
    let mut chars = text.char_indices();
    std::iter::from_fn(move || loop {
        if done {
            return None;
        }
        match chars.next() {
            Some((_, '"')) => quoted = !quoted,
            Some((i, c)) if c == separator && !quoted => {
                let part = &text[start..i];
                start = i + c.len_utf8();
                return Some(part);
            }
            Some(_) => {}
            None => {
                done = true;
                return Some(&text[start..]);
            }
        }
    })
}

/// TEXT values: `\n`, `\,`, `\;`, `\\`.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn event(
    lines: &[ContentLine],
    zones: &Zones,
    room: &TimeZone,
    warnings: &mut Vec<String>,
) -> Result<Event, String> {
    let get = |name: &str| lines.iter().find(|l| l.name == name);
    let text = |name: &str| {
        get(name)
            .map(|l| unescape(&l.value))
            .filter(|t| !t.is_empty())
    };
    let uid = text("UID").unwrap_or_else(|| "no UID".into());
    let summary = text("SUMMARY").unwrap_or_else(|| "(no title)".into());
    let name = format!("event \"{summary}\" ({uid})");
    let mut when = |line: &ContentLine| -> Result<Vec<When>, String> {
        let (values, warning) =
            times(line, zones, room).map_err(|e| format!("{name}: {}: {e}", line.name))?;
        warnings.extend(warning.map(|w| format!("{name}: {w}")));
        Ok(values)
    };
    let start = match get("DTSTART") {
        Some(line) => when(line)?.into_iter().next(),
        None => None,
    }
    .ok_or_else(|| format!("{name}: no DTSTART: skipped"))?;
    let end = match get("DTEND") {
        Some(line) => when(line)?.into_iter().next(),
        None => None,
    };
    let length = match (&start, end, get("DURATION")) {
        (When::Date(first), Some(When::Date(last)), _) => Span::new().days(
            first
                .until(last)
                .map_err(|e| format!("{name}: DTEND: {e}"))?
                .get_days(),
        ),
        (_, Some(end), _) => {
            let seconds = end.instant(room).as_second() - start.instant(room).as_second();
            Span::new().seconds(seconds.max(0))
        }
        (_, None, Some(line)) => duration(&line.value)
            .ok_or_else(|| format!("{name}: DURATION \"{}\" is not a duration", line.value))?,
        // RFC 5545: a day without an end lasts the day; a time without one, no time at all.
        (When::Date(_), None, None) => Span::new().days(1),
        (When::At(..), None, None) => Span::new(),
    };
    let mut list = |property: &str| -> Result<Vec<When>, String> {
        let mut all = Vec::new();
        for line in lines.iter().filter(|l| l.name == property) {
            all.extend(when(line)?);
        }
        Ok(all)
    };
    let rdates = list("RDATE")?;
    let exdates = list("EXDATE")?;
    let recurrence_id = list("RECURRENCE-ID")?.into_iter().next();
    Ok(Event {
        uid,
        summary,
        start,
        length,
        rrule: get("RRULE").map(|l| l.value.trim().to_string()),
        rdates,
        exdates,
        recurrence_id,
        cancelled: get("STATUS").is_some_and(|l| l.value.trim().eq_ignore_ascii_case("CANCELLED")),
        location: text("LOCATION"),
        // A URI, not TEXT: no escapes.
        url: get("URL")
            .map(|l| l.value.trim().to_string())
            .filter(|u| !u.is_empty()),
        description: text("DESCRIPTION"),
    })
}

/// The values of a DTSTART/DTEND/EXDATE/RDATE/RECURRENCE-ID line (EXDATE and RDATE may list
/// several), and a warning when its zone had to be guessed.
fn times(
    line: &ContentLine,
    zones: &Zones,
    room: &TimeZone,
) -> Result<(Vec<When>, Option<String>), String> {
    let is_date = line
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let (zone, warning) = match line.param("TZID") {
        Some(tzid) => {
            let (tz, warning) = zones.resolve(tzid);
            (Some(tz), warning)
        }
        None => (None, None),
    };
    let values = line
        .value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|value| {
            if is_date || value.len() == 8 {
                return date(value).map(When::Date);
            }
            let (civil, utc) = match value.strip_suffix(['Z', 'z']) {
                Some(civil) => (civil, true),
                None => (value, false),
            };
            let civil = datetime(civil)?;
            let tz = match (&zone, utc) {
                (_, true) => TimeZone::UTC,
                (Some(tz), false) => tz.clone(),
                (None, false) => room.clone(),
            };
            Ok(When::At(civil, tz))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if values.is_empty() {
        return Err("no value".into());
    }
    Ok((values, warning))
}

/// `YYYYMMDD`
pub fn date(text: &str) -> Result<Date, String> {
    let bad = || format!("\"{text}\" is not a date (YYYYMMDD)");
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year = text[0..4].parse().map_err(|_| bad())?;
    let month = text[4..6].parse().map_err(|_| bad())?;
    let day = text[6..8].parse().map_err(|_| bad())?;
    Date::new(year, month, day).map_err(|_| bad())
}

/// `YYYYMMDDTHHMMSS`
pub fn datetime(text: &str) -> Result<DateTime, String> {
    let bad = || format!("\"{text}\" is not a date-time (YYYYMMDDTHHMMSS)");
    let (day, time) = text.split_once(['T', 't']).ok_or_else(bad)?;
    if time.len() != 6 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let part = |range: std::ops::Range<usize>| time[range].parse::<i8>().map_err(|_| bad());
    // A leap second (60) is read as the last second of its minute.
    let time = jiff::civil::Time::new(part(0..2)?, part(2..4)?, part(4..6)?.min(59), 0)
        .map_err(|_| bad())?;
    Ok(date(day).map_err(|_| bad())?.to_datetime(time))
}

/// `P1D`, `PT1H30M`, `P2W`, `-PT15M` (negative lengths count as none).
fn duration(text: &str) -> Option<Span> {
    let text = text.trim();
    let (negative, text) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut rest = text.strip_prefix(['P', 'p'])?;
    let mut span = Span::new();
    let mut in_time = false;
    let mut any = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(['T', 't']) {
            in_time = true;
            rest = after;
            continue;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        // The unit may be any character (found by fuzzing: a multibyte one was cut in two).
        rest = &rest[digits + unit.len_utf8()..];
        let unit = unit.to_ascii_uppercase();
        span = match (unit, in_time) {
            ('W', false) => span.try_weeks(number).ok()?,
            ('D', false) => span.try_days(number).ok()?,
            ('H', true) => span.try_hours(number).ok()?,
            ('M', true) => span.try_minutes(number).ok()?,
            ('S', true) => span.try_seconds(number).ok()?,
            _ => return None,
        };
        any = true;
    }
    match (any, negative) {
        (false, _) => None,
        (true, true) => Some(Span::new()),
        (true, false) => Some(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn one(text: &str) -> Event {
        let parsed = parse(text, &paris()).unwrap();
        assert_eq!(parsed.events.len(), 1, "{:?}", parsed.warnings);
        parsed.events.into_iter().next().unwrap()
    }

    fn calendar(event: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n{event}END:VEVENT\r\nEND:VCALENDAR\r\n")
    }

    #[test]
    fn a_plain_event_with_folded_and_escaped_text() {
        let e = one(&calendar(
            "UID:1@x\r\nSUMMARY:Comit\u{e9} de pilotage\\, \r\n bis\\; suite\r\n\
             DTSTART;TZID=Europe/Paris:20260310T090000\r\nDTEND;TZID=Europe/Paris:20260310T103000\r\n\
             LOCATION:Salle Monge\\nB\u{e2}timent A\r\n\
             DESCRIPTION:Lien : https://visio.numerique.gouv.fr/abc-defg-hij\\n\\\\fin\r\n\
             URL:https://example.org/a\\,b\r\n",
        ));
        assert_eq!(e.uid, "1@x");
        assert_eq!(e.summary, "Comit\u{e9} de pilotage, bis; suite");
        assert_eq!(e.location.as_deref(), Some("Salle Monge\nB\u{e2}timent A"));
        assert_eq!(
            e.description.as_deref(),
            Some("Lien : https://visio.numerique.gouv.fr/abc-defg-hij\n\\fin")
        );
        assert_eq!(e.url.as_deref(), Some("https://example.org/a\\,b"));
        assert_eq!(e.start, When::At(d(2026, 3, 10).at(9, 0, 0, 0), paris()));
        assert_eq!(e.length.get_seconds(), 5400);
        assert_eq!(
            e.start.instant(&TimeZone::UTC).to_string(),
            "2026-03-10T08:00:00Z"
        );
        assert!(!e.cancelled && !e.all_day());
    }

    #[test]
    fn utc_floating_and_all_day_values() {
        let e = one(&calendar(
            "UID:a\r\nDTSTART:20260310T090000Z\r\nDURATION:PT45M\r\n",
        ));
        assert_eq!(
            e.start.instant(&paris()).to_string(),
            "2026-03-10T09:00:00Z"
        );
        assert_eq!(e.length.get_minutes(), 45);
        let e = one(&calendar("UID:b\r\nDTSTART:20260310T090000\r\n"));
        assert_eq!(
            e.start.instant(&paris()).to_string(),
            "2026-03-10T08:00:00Z",
            "floating: the room's zone"
        );
        assert!(e.length.is_zero());
        let e = one(&calendar(
            "UID:c\r\nDTSTART;VALUE=DATE:20260310\r\nDTEND;VALUE=DATE:20260312\r\n",
        ));
        assert!(e.all_day());
        assert_eq!(e.length.get_days(), 2);
        let e = one(&calendar("UID:d\r\nDTSTART;VALUE=DATE:20260310\r\n"));
        assert_eq!(e.length.get_days(), 1);
    }

    #[test]
    fn recurrence_properties_and_status() {
        let e = one(&calendar(
            "UID:r\r\nDTSTART;TZID=Romance Standard Time:20260302T090000\r\n\
             DTEND;TZID=Romance Standard Time:20260302T100000\r\n\
             RRULE:FREQ=WEEKLY;BYDAY=MO\r\n\
             EXDATE;TZID=Romance Standard Time:20260309T090000,20260316T090000\r\n\
             EXDATE;VALUE=DATE:20260323\r\nSTATUS:CANCELLED\r\n",
        ));
        assert_eq!(e.rrule.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO"));
        assert_eq!(e.exdates.len(), 3);
        assert_eq!(e.exdates[2], When::Date(d(2026, 3, 23)));
        assert!(e.cancelled);
        let e = one(&calendar(
            "UID:r\r\nRECURRENCE-ID;TZID=Europe/Paris:20260309T090000\r\nDTSTART:20260309T100000Z\r\n",
        ));
        assert_eq!(
            e.recurrence_id,
            Some(When::At(d(2026, 3, 9).at(9, 0, 0, 0), paris()))
        );
    }

    #[test]
    fn unknown_zone_uses_the_vtimezone_and_warns() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Customized Time Zone\n\
             BEGIN:STANDARD\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\n\
             BEGIN:DAYLIGHT\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nEND:DAYLIGHT\nEND:VTIMEZONE\n\
             BEGIN:VEVENT\nUID:z\nSUMMARY:Point\nDTSTART;TZID=\"Customized Time Zone\":20260110T090000\n\
             BEGIN:VALARM\nTRIGGER:-PT15M\nDESCRIPTION:not the event's\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";
        let parsed = parse(text, &paris()).unwrap();
        let e = &parsed.events[0];
        assert_eq!(
            e.start.instant(&TimeZone::UTC).to_string(),
            "2026-01-10T08:00:00Z"
        );
        assert_eq!(e.description, None, "VALARM properties are not the event's");
        assert_eq!(parsed.warnings.len(), 1);
        assert!(
            parsed.warnings[0].contains("event \"Point\" (z)")
                && parsed.warnings[0].contains("Customized Time Zone"),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn broken_events_are_warnings_and_non_calendars_errors() {
        let parsed = parse(
            &calendar("UID:x\r\nSUMMARY:No start\r\n").replace(
                "END:VCALENDAR",
                "BEGIN:VEVENT\r\nUID:y\r\nDTSTART:2026-03-10\r\nEND:VEVENT\r\nEND:VCALENDAR",
            ),
            &paris(),
        )
        .unwrap();
        assert!(parsed.events.is_empty());
        assert!(parsed.warnings[0].contains("no DTSTART"));
        assert!(
            parsed.warnings[1].contains("\"2026-03-10\" is not a date-time"),
            "{:?}",
            parsed.warnings
        );
        let e = parse("<html><body>Sign in</body></html>", &paris()).unwrap_err();
        assert_eq!(
            e,
            "not iCalendar (no BEGIN:VCALENDAR): starts with \"<html><body>Sign in</body></html>\""
        );
        assert!(parse("", &paris()).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("P1W").unwrap().get_weeks(), 1);
        let span = duration("P1DT2H30M15S").unwrap();
        assert_eq!(
            (
                span.get_days(),
                span.get_hours(),
                span.get_minutes(),
                span.get_seconds()
            ),
            (1, 2, 30, 15)
        );
        assert!(duration("-PT5M").unwrap().is_zero());
        // A multibyte unit (fuzz/ found it: a panic slicing inside it).
        for bad in [
            "",
            "P",
            "PT",
            "1H",
            "PT1D",
            "P1H",
            "P1\u{FFFD}",
            "PT1\u{e9}5M",
        ] {
            assert!(duration(bad).is_none(), "{bad}");
        }
    }
}
