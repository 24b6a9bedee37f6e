//! The console's browser side: one page, one script, one style sheet (no framework: the page
//! is small enough without one), compiled into the binary. The page carries the catalogue of
//! the room's language (`web/i18n/<lang>.json`: every text of the console, one file per
//! language), so nothing shows in the wrong language first.

use super::Web;
use crate::i18n::Language;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const PAGE: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/console.js");
const STYLE: &str = include_str!("../../web/console.css");
pub const FRENCH: &str = include_str!("../../web/i18n/fr.json");
pub const ENGLISH: &str = include_str!("../../web/i18n/en.json");

pub fn catalogue(language: Language) -> &'static str {
    match language {
        Language::Fr => FRENCH,
        Language::En => ENGLISH,
    }
}

pub async fn index(State(web): State<Arc<Web>>) -> Response {
    let lang = match web.language {
        Language::Fr => "fr",
        Language::En => "en",
    };
    // The catalogue is JSON in a non-executed script element; `<` is escaped so no text in
    // it can close the element.
    let page = PAGE.replace("{{lang}}", lang).replace(
        "{{catalogue}}",
        &catalogue(web.language).replace('<', "\\u003c"),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let keys = |text: &str| {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(FRENCH), keys(ENGLISH));
    }

    #[test]
    fn every_key_the_script_uses_is_in_the_catalogue() {
        let french: serde_json::Value = serde_json::from_str(FRENCH).unwrap();
        for part in SCRIPT
            .split("t(\"")
            .skip(1)
            .chain(PAGE.split("data-t=\"").skip(1))
        {
            let key = part.split('"').next().unwrap();
            assert!(
                french.get(key).is_some(),
                "missing from the catalogue: {key}"
            );
        }
    }
}
