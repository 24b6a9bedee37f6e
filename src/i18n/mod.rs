//! The room's languages: French first (the users are French civil servants), English on
//! request (`[room] language = "en"`). Every string the room's screen shows is in one
//! catalogue per language (`fr.rs`, `en.rs`), the same keys in each.

use serde::{Deserialize, Serialize};

/// A language the room speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}
