//! The room's languages: French first (the users are French civil servants), English on
//! request (`[room] language = "en"`). Every string of the room's screen has one entry per
//! language here (`fr.rs`, `en.rs`); a `match` over `Text` in each makes a missing
//! translation a compile error. Dates are written in the room's language too (`date`).
//!
//! The web console (another process) reads the room's language from status
//! (`management.language`) and keeps its own catalogues, the same two languages.

mod en;
mod fr;

use serde::{Deserialize, Serialize};

/// A language the room speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

/// Every fixed text of the room's screen. Texts with a `{}` take one value (`fill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Text {
    PressToJoin,
    Joining,
    /// `{}`: the room's name.
    WaitingForHost,
    Reconnecting,
    Leaving,
    CallFailed,
    Today,
    /// `{}`: the time the meeting ends.
    NowUntil,
    NoNetwork,
    MicrophoneMuted,
    CameraOff,
    Recorded,
    Transcribed,
    /// Shown while a remote administrator takes a snapshot of the camera or the screen.
    RemoteViewing,
    /// `{}`: the room's name (identify).
    ThisRoomIs,
    /// `{}`: the one-time code that claims the room in the web console.
    SetupCode,
    /// `{}`: the console's certificate fingerprint.
    SetupFingerprint,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Fr, Language::En];

    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// The text in this language.
    pub fn text(self, text: Text) -> &'static str {
        match self {
            Language::Fr => fr::text(text),
            Language::En => en::text(text),
        }
    }

    /// The text with its value put in place of `{}`.
    pub fn fill(self, text: Text, value: &str) -> String {
        self.text(text).replacen("{}", value, 1)
    }

    /// A date as people of this language write it on a screen: "lundi 7 décembre" or
    /// "Monday 7 December".
    pub fn date(self, date: jiff::civil::Date) -> String {
        let (days, months) = match self {
            Language::Fr => (fr::WEEKDAYS, fr::MONTHS),
            Language::En => (en::WEEKDAYS, en::MONTHS),
        };
        let weekday = days[date.weekday().to_monday_zero_offset() as usize];
        let month = months[date.month() as usize - 1];
        format!("{weekday} {} {month}", date.day())
    }

    /// A weekday, short, for the calendar lines: "lun." or "Mon".
    pub fn weekday_short(self, date: jiff::civil::Date) -> &'static str {
        let days = match self {
            Language::Fr => fr::WEEKDAYS_SHORT,
            Language::En => en::WEEKDAYS_SHORT,
        };
        days[date.weekday().to_monday_zero_offset() as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_by_default_and_every_fill_has_its_place() {
        assert_eq!(Language::default(), Language::Fr);
        assert_eq!(
            Language::Fr.text(Text::RemoteViewing),
            "Un administrateur à distance regarde cet écran"
        );
        for language in Language::ALL {
            for text in [
                Text::WaitingForHost,
                Text::NowUntil,
                Text::ThisRoomIs,
                Text::SetupCode,
                Text::SetupFingerprint,
            ] {
                assert!(
                    language.fill(text, "@@").contains("@@"),
                    "{language:?} {text:?}"
                );
            }
        }
    }

    #[test]
    fn dates_in_the_rooms_language() {
        let date = jiff::civil::date(2026, 12, 7);
        assert_eq!(Language::Fr.date(date), "lundi 7 décembre");
        assert_eq!(Language::En.date(date), "Monday 7 December");
        assert_eq!(Language::Fr.weekday_short(date), "lun.");
    }

    #[test]
    fn the_language_reads_from_the_configuration() {
        let config = crate::config::parse("[room]\nlanguage = \"en\"\n", "x.toml".as_ref());
        assert_eq!(config.unwrap().room.language, Language::En);
        let e = crate::config::parse("[room]\nlanguage = \"de\"\n", "x.toml".as_ref()).unwrap_err();
        assert_eq!(e.field, "room.language");
    }
}
