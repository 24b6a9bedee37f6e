//! Recurrence rules (`RRULE`), expanded within a window only, so a daily meeting set up years
//! ago costs what a week of it costs.
//!
//! What calendars write for meetings is covered: FREQ=DAILY/WEEKLY/MONTHLY/YEARLY with INTERVAL,
//! COUNT, UNTIL, BYDAY (with ordinals in months: "2TU", "-1FR"), BYMONTHDAY, BYMONTH, BYSETPOS
//! ("the last weekday of the month") and WKST. Occurrences keep DTSTART's time of day in
//! DTSTART's zone, so a 9:00 meeting stays at 9:00 across DST changes. A rule using anything
//! else (BYHOUR, BYWEEKNO, hourly rules...) is refused and the event counts once.
//! (The `rrule` crate covers more, but brings chrono and chrono-tz next to jiff.)

use super::ical::{self, When};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    freq: Freq,
    interval: i32,
    count: Option<u32>,
    until: Option<When>,
    /// Weekdays, with an ordinal within the month ("2TU": the second Tuesday) or none (every).
    by_day: Vec<(Option<i8>, Weekday)>,
    by_month_day: Vec<i8>,
    by_month: Vec<i8>,
    by_set_pos: Vec<i32>,
    week_start: Weekday,
}

/// Stops a rule that never matches (BYMONTHDAY=31;BYMONTH=2) from looping for ever.
const MAX_PERIODS: i64 = 50_000;

impl Rule {
    /// Reads `text` (the RRULE's value); a floating UNTIL is in `start`'s zone.
    pub fn parse(text: &str, start: &When) -> Result<Rule, String> {
        let mut freq = None;
        let mut rule = Rule {
            freq: Freq::Daily,
            interval: 1,
            count: None,
            until: None,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            week_start: Weekday::Monday,
        };
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("\"{part}\" is not KEY=VALUE"))?;
            let key = key.trim().to_ascii_uppercase();
            let value = value.trim();
            let bad = || format!("{key}={value} is not valid");
            let list = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
            match key.as_str() {
                "FREQ" => {
                    freq = Some(match value.to_ascii_uppercase().as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        _ => return Err(format!("FREQ={value} is not supported")),
                    })
                }
                "INTERVAL" => {
                    rule.interval = value.parse().ok().filter(|i| *i >= 1).ok_or_else(bad)?
                }
                "COUNT" => rule.count = Some(value.parse().map_err(|_| bad())?),
                "UNTIL" => rule.until = Some(until(value, start).map_err(|_| bad())?),
                "BYDAY" => {
                    rule.by_day = list()
                        .map(|v| by_day(v).ok_or_else(bad))
                        .collect::<Result<_, _>>()?
                }
                "BYMONTHDAY" => {
                    rule.by_month_day = list()
                        .map(|v| v.parse().ok().filter(|d: &i8| (1..=31).contains(&d.abs())))
                        .collect::<Option<_>>()
                        .ok_or_else(bad)?
                }
                "BYMONTH" => {
                    rule.by_month = list()
                        .map(|v| v.parse().ok().filter(|m| (1..=12).contains(m)))
                        .collect::<Option<_>>()
                        .ok_or_else(bad)?
                }
                "BYSETPOS" => {
                    rule.by_set_pos = list()
                        .map(|v| v.parse().ok().filter(|p: &i32| *p != 0))
                        .collect::<Option<_>>()
                        .ok_or_else(bad)?
                }
                "WKST" => rule.week_start = weekday(value).ok_or_else(bad)?,
                "BYHOUR" | "BYMINUTE" | "BYSECOND" | "BYWEEKNO" | "BYYEARDAY" => {
                    return Err(format!("{key} is not supported"))
                }
                _ => {} // Extensions (X-...): nothing a room needs.
            }
        }
        rule.freq = freq.ok_or("no FREQ")?;
        let ordinals = rule.by_day.iter().any(|(n, _)| n.is_some());
        if rule.freq == Freq::Yearly
            && rule.by_month.is_empty()
            && (!rule.by_day.is_empty() || !rule.by_month_day.is_empty())
        {
            return Err("a yearly rule with BYDAY or BYMONTHDAY needs BYMONTH".into());
        }
        if ordinals && matches!(rule.freq, Freq::Daily | Freq::Weekly) {
            return Err("BYDAY with an ordinal needs a monthly or yearly rule".into());
        }
        Ok(rule)
    }

    /// The starts of the series beginning at `first` (DTSTART, always the first) whose instant
    /// is within `from..=to`, in order, as COUNT and UNTIL allow.
    pub fn starts(
        &self,
        first: &When,
        room: &TimeZone,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<When> {
        let (start_date, at) = match first {
            When::Date(date) => (*date, None),
            When::At(civil, tz) => (civil.date(), Some((civil.time(), tz))),
        };
        let make = |date: Date| match at {
            None => When::Date(date),
            Some((time, tz)) => When::At(date.to_datetime(time), tz.clone()),
        };
        let mut found = Vec::new();
        let mut counted: u32 = 1;
        let first_instant = first.instant(room);
        if (from..=to).contains(&first_instant) {
            found.push(first.clone());
        }
        if first_instant > to || self.count == Some(1) {
            return found;
        }
        // Without COUNT, the periods before the window need not be walked through.
        let skip = match self.count {
            Some(_) => 0,
            None => {
                let from_date = match at {
                    Some((_, tz)) => from.to_zoned(tz.clone()).date(),
                    None => from.to_zoned(room.clone()).date(),
                };
                (self.periods_between(start_date, from_date) / i64::from(self.interval) - 1).max(0)
            }
        };
        for period in skip..skip + MAX_PERIODS {
            let Some(dates) = self.period(start_date, period * i64::from(self.interval)) else {
                break; // Out of jiff's range: year 9999.
            };
            for date in dates.into_iter().filter(|d| *d > start_date) {
                let when = make(date);
                let instant = when.instant(room);
                let past_until = match &self.until {
                    Some(When::Date(last)) => date > *last,
                    Some(until) => instant > until.instant(room),
                    None => false,
                };
                if past_until || self.count.is_some_and(|c| counted >= c) || instant > to {
                    return found;
                }
                counted += 1;
                if instant >= from {
                    found.push(when);
                }
            }
        }
        found
    }

    /// Whole periods (days, weeks, months, years) from `start` to `date`.
    fn periods_between(&self, start: Date, date: Date) -> i64 {
        let days = i64::from(start.until(date).map(|s| s.get_days()).unwrap_or(0));
        let months =
            i64::from(date.year() - start.year()) * 12 + i64::from(date.month() - start.month());
        match self.freq {
            Freq::Daily => days,
            Freq::Weekly => days / 7,
            Freq::Monthly => months,
            Freq::Yearly => months / 12,
        }
    }

    /// The candidate days of the period `offset` periods after the one holding `start`, sorted.
    fn period(&self, start: Date, offset: i64) -> Option<Vec<Date>> {
        let in_months =
            |date: &Date| self.by_month.is_empty() || self.by_month.contains(&date.month());
        let mut days = match self.freq {
            Freq::Daily => {
                let day = start.checked_add(Span::new().try_days(offset).ok()?).ok()?;
                let day_ok =
                    self.by_day.is_empty() || self.by_day.iter().any(|(_, w)| *w == day.weekday());
                let month_day_ok = self.by_month_day.is_empty()
                    || self
                        .by_month_day
                        .iter()
                        .any(|d| month_day(day, *d) == Some(day));
                if day_ok && month_day_ok && in_months(&day) {
                    vec![day]
                } else {
                    vec![]
                }
            }
            Freq::Weekly => {
                let back = self.week_start.until(start.weekday());
                let monday = start
                    .checked_add(Span::new().try_days(offset * 7 - i64::from(back)).ok()?)
                    .ok()?;
                (0..7)
                    .filter_map(|i| monday.checked_add(Span::new().days(i)).ok())
                    .filter(|day| match self.by_day.is_empty() {
                        true => day.weekday() == start.weekday(),
                        false => self.by_day.iter().any(|(_, w)| *w == day.weekday()),
                    })
                    .filter(in_months)
                    .collect()
            }
            Freq::Monthly => {
                let first = start
                    .first_of_month()
                    .checked_add(Span::new().try_months(offset).ok()?)
                    .ok()?;
                if in_months(&first) {
                    self.days_in(first, start)
                } else {
                    vec![]
                }
            }
            Freq::Yearly => {
                let year = i16::try_from(i64::from(start.year()) + offset).ok()?;
                let months = match self.by_month.is_empty() {
                    true => vec![start.month()],
                    false => self.by_month.clone(),
                };
                months
                    .into_iter()
                    .filter_map(|m| Date::new(year, m, 1).ok())
                    .flat_map(|first| self.days_in(first, start))
                    .collect()
            }
        };
        days.sort();
        days.dedup();
        if !self.by_set_pos.is_empty() {
            let n = days.len() as i32;
            let picked = self
                .by_set_pos
                .iter()
                .filter_map(|&p| {
                    let index = if p > 0 { p - 1 } else { n + p };
                    days.get(usize::try_from(index).ok()?).copied()
                })
                .collect::<Vec<_>>();
            days = picked;
            days.sort();
            days.dedup();
        }
        Some(days)
    }

    /// The matching days of the month starting at `first`.
    fn days_in(&self, first: Date, start: Date) -> Vec<Date> {
        let weekday_ok = |day: &Date| {
            self.by_day.is_empty() || self.by_day.iter().any(|(_, w)| *w == day.weekday())
        };
        if !self.by_month_day.is_empty() {
            return self
                .by_month_day
                .iter()
                .filter_map(|&d| month_day(first, d))
                .filter(weekday_ok)
                .collect();
        }
        if self.by_day.is_empty() {
            // The day of the month DTSTART is on; months without it (the 31st) are skipped.
            return month_day(first, start.day()).into_iter().collect();
        }
        let every_day =
            (0..first.days_in_month()).filter_map(|i| first.checked_add(Span::new().days(i)).ok());
        self.by_day
            .iter()
            .flat_map(|&(nth, weekday)| match nth {
                Some(nth) => first
                    .nth_weekday_of_month(nth, weekday)
                    .ok()
                    .into_iter()
                    .collect::<Vec<_>>(),
                None => every_day
                    .clone()
                    .filter(|d| d.weekday() == weekday)
                    .collect(),
            })
            .collect()
    }
}

/// Day `day` of the month of `date` (negative: from the end), if the month has it.
fn month_day(date: Date, day: i8) -> Option<Date> {
    let count = date.days_in_month();
    let day = if day < 0 { count + 1 + day } else { day };
    if !(1..=count).contains(&day) {
        return None;
    }
    date.first_of_month().with().day(day).build().ok()
}

fn weekday(text: &str) -> Option<Weekday> {
    Some(match text.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        _ => return None,
    })
}

/// "MO", "2TU", "-1FR", "+3WE"
fn by_day(text: &str) -> Option<(Option<i8>, Weekday)> {
    let split = text.len().checked_sub(2)?;
    // Not a char boundary: the last two bytes are not two ASCII letters (found by fuzzing).
    let (nth, day) = text.split_at_checked(split)?;
    let nth = match nth {
        "" => None,
        n => Some(n.parse::<i8>().ok().filter(|n| *n != 0 && n.abs() <= 5)?),
    };
    Some((nth, weekday(day)?))
}

/// UNTIL: a date, a UTC time, or (against the RFC, but it happens) a floating time.
fn until(text: &str, start: &When) -> Result<When, String> {
    if text.len() == 8 {
        return ical::date(text).map(When::Date);
    }
    if let Some(civil) = text.strip_suffix(['Z', 'z']) {
        return Ok(When::At(ical::datetime(civil)?, TimeZone::UTC));
    }
    let tz = match start {
        When::At(_, tz) => tz.clone(),
        When::Date(_) => TimeZone::UTC,
    };
    Ok(When::At(ical::datetime(text)?, tz))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn at(y: i16, m: i8, day: i8, h: i8, min: i8) -> When {
        When::At(d(y, m, day).at(h, min, 0, 0), paris())
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Every start of `rule` from `first` between `from` and `to`, as Paris local text.
    fn starts(rule: &str, first: When, from: &str, to: &str) -> Vec<String> {
        Rule::parse(rule, &first)
            .unwrap()
            .starts(&first, &paris(), ts(from), ts(to))
            .iter()
            .map(|w| match w {
                When::Date(date) => date.to_string(),
                When::At(civil, _) => civil.strftime("%a %Y-%m-%d %H:%M").to_string(),
            })
            .collect()
    }

    #[test]
    fn weekly_keeps_local_time_across_the_spring_dst_change() {
        let got = starts(
            "FREQ=WEEKLY;BYDAY=MO,TH",
            at(2026, 3, 19, 9, 0),
            "2026-03-25T00:00:00Z",
            "2026-04-03T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                "Thu 2026-03-26 09:00",
                "Mon 2026-03-30 09:00",
                "Thu 2026-04-02 09:00"
            ]
        );
        // 09:00 is 08:00Z before 2026-03-29 and 07:00Z after.
        let rule = Rule::parse("FREQ=DAILY", &at(2026, 3, 27, 9, 0)).unwrap();
        let instants: Vec<String> = rule
            .starts(
                &at(2026, 3, 27, 9, 0),
                &paris(),
                ts("2026-03-27T00:00:00Z"),
                ts("2026-03-30T23:00:00Z"),
            )
            .iter()
            .map(|w| w.instant(&paris()).to_string())
            .collect();
        assert_eq!(
            instants,
            [
                "2026-03-27T08:00:00Z",
                "2026-03-28T08:00:00Z",
                "2026-03-29T07:00:00Z",
                "2026-03-30T07:00:00Z"
            ]
        );
    }

    #[test]
    fn times_that_dst_skips_or_repeats() {
        // 02:30 does not exist on 2026-03-29 in Paris: it moves to 03:30 (01:30Z).
        let rule = Rule::parse("FREQ=DAILY;COUNT=3", &at(2026, 3, 28, 2, 30)).unwrap();
        let instants: Vec<String> = rule
            .starts(
                &at(2026, 3, 28, 2, 30),
                &paris(),
                ts("2026-03-01T00:00:00Z"),
                ts("2026-04-01T00:00:00Z"),
            )
            .iter()
            .map(|w| w.instant(&paris()).to_string())
            .collect();
        assert_eq!(
            instants,
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:30:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        // 02:30 happens twice on 2026-10-25: the first one (00:30Z) counts.
        let first = at(2026, 10, 24, 2, 30);
        let rule = Rule::parse("FREQ=DAILY;COUNT=2", &first).unwrap();
        let second = &rule.starts(
            &first,
            &paris(),
            ts("2026-10-01T00:00:00Z"),
            ts("2026-11-01T00:00:00Z"),
        )[1];
        assert_eq!(second.instant(&paris()).to_string(), "2026-10-25T00:30:00Z");
    }

    #[test]
    fn count_until_and_interval() {
        let first = at(2026, 1, 5, 10, 0);
        let all = |rule| {
            starts(
                rule,
                first.clone(),
                "2026-01-01T00:00:00Z",
                "2026-12-31T00:00:00Z",
            )
        };
        assert_eq!(all("FREQ=DAILY;COUNT=3").len(), 3);
        assert_eq!(
            all("FREQ=WEEKLY;INTERVAL=2;COUNT=3")[2],
            "Mon 2026-02-02 10:00"
        );
        // UNTIL is inclusive.
        assert_eq!(all("FREQ=DAILY;UNTIL=20260107T090000Z").len(), 3);
        assert_eq!(all("FREQ=DAILY;UNTIL=20260107T085959Z").len(), 2);
        assert_eq!(all("FREQ=DAILY;UNTIL=20260107").len(), 3);
        // COUNT counts from DTSTART even when the window starts later.
        assert_eq!(
            starts(
                "FREQ=DAILY;COUNT=10",
                first.clone(),
                "2026-01-13T00:00:00Z",
                "2026-02-01T00:00:00Z"
            ),
            ["Tue 2026-01-13 10:00", "Wed 2026-01-14 10:00"]
        );
        // Weekdays only.
        assert_eq!(
            starts(
                "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
                at(2026, 1, 9, 10, 0),
                "2026-01-09T00:00:00Z",
                "2026-01-13T00:00:00Z"
            ),
            ["Fri 2026-01-09 10:00", "Mon 2026-01-12 10:00"]
        );
    }

    #[test]
    fn a_series_started_years_ago_is_cheap_and_right() {
        let first = at(2016, 1, 4, 9, 30);
        let started = std::time::Instant::now();
        let got = starts(
            "FREQ=WEEKLY;BYDAY=MO",
            first,
            "2026-03-01T00:00:00Z",
            "2026-03-10T00:00:00Z",
        );
        assert_eq!(got, ["Mon 2026-03-02 09:30", "Mon 2026-03-09 09:30"]);
        let took = started.elapsed();
        println!("ten years of a weekly series, one week expanded: {took:?}");
        assert!(took < std::time::Duration::from_millis(50), "{took:?}");
    }

    #[test]
    fn monthly_and_yearly() {
        let from = "2026-01-01T00:00:00Z";
        let to = "2026-06-30T00:00:00Z";
        assert_eq!(
            starts(
                "FREQ=MONTHLY;BYDAY=2TU;COUNT=3",
                at(2026, 1, 13, 14, 0),
                from,
                to
            ),
            [
                "Tue 2026-01-13 14:00",
                "Tue 2026-02-10 14:00",
                "Tue 2026-03-10 14:00"
            ]
        );
        assert_eq!(
            starts(
                "FREQ=MONTHLY;BYDAY=-1FR;COUNT=2",
                at(2026, 1, 30, 14, 0),
                from,
                to
            ),
            ["Fri 2026-01-30 14:00", "Fri 2026-02-27 14:00"]
        );
        // The last weekday of the month (Outlook's "last weekday").
        assert_eq!(
            starts(
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3",
                at(2026, 1, 30, 17, 0),
                from,
                to
            ),
            [
                "Fri 2026-01-30 17:00",
                "Fri 2026-02-27 17:00",
                "Tue 2026-03-31 17:00"
            ]
        );
        // The 31st: months without one are skipped.
        assert_eq!(
            starts("FREQ=MONTHLY;COUNT=3", at(2026, 1, 31, 9, 0), from, to),
            [
                "Sat 2026-01-31 09:00",
                "Tue 2026-03-31 09:00",
                "Sun 2026-05-31 09:00"
            ]
        );
        assert_eq!(
            starts(
                "FREQ=MONTHLY;BYMONTHDAY=1,-1;COUNT=3",
                at(2026, 1, 1, 9, 0),
                from,
                to
            ),
            [
                "Thu 2026-01-01 09:00",
                "Sat 2026-01-31 09:00",
                "Sun 2026-02-01 09:00"
            ]
        );
        assert_eq!(
            starts(
                "FREQ=YEARLY",
                at(2020, 2, 29, 9, 0),
                "2020-03-01T00:00:00Z",
                "2029-01-01T00:00:00Z"
            ),
            ["Thu 2024-02-29 09:00", "Tue 2028-02-29 09:00"]
        );
        assert_eq!(
            starts(
                "FREQ=YEARLY;BYMONTH=6;BYDAY=3TH",
                at(2025, 6, 19, 9, 0),
                from,
                to
            ),
            ["Thu 2026-06-18 09:00"]
        );
    }

    #[test]
    fn all_day_series() {
        let got = starts(
            "FREQ=WEEKLY;BYDAY=WE",
            When::Date(d(2026, 1, 7)),
            "2026-01-13T00:00:00Z",
            "2026-01-22T00:00:00Z",
        );
        assert_eq!(got, ["2026-01-14", "2026-01-21"]);
    }

    #[test]
    fn unsupported_and_broken_rules_are_refused() {
        let first = at(2026, 1, 5, 10, 0);
        for (rule, why) in [
            ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
            ("FREQ=DAILY;BYHOUR=9,10", "BYHOUR is not supported"),
            ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL=0 is not valid"),
            ("FREQ=WEEKLY;BYDAY=XX", "BYDAY=XX is not valid"),
            // A day ending in a multibyte character (fuzz/ found it: a panic slicing inside it).
            (
                "FREQ=WEEKLY;BYDAY=T\u{FFFD}",
                "BYDAY=T\u{FFFD} is not valid",
            ),
            ("FREQ=WEEKLY;BYDAY=\u{e9}", "BYDAY=\u{e9} is not valid"),
            ("INTERVAL=2", "no FREQ"),
            (
                "FREQ=YEARLY;BYDAY=MO",
                "a yearly rule with BYDAY or BYMONTHDAY needs BYMONTH",
            ),
        ] {
            assert_eq!(Rule::parse(rule, &first).unwrap_err(), why, "{rule}");
        }
        // A rule that never matches ends.
        assert!(
            starts(
                "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                first,
                "2026-01-01T00:00:00Z",
                "2099-01-01T00:00:00Z"
            )
            .len()
                == 1
        );
    }
}
