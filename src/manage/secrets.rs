//! Secrets in the configuration text: found by their place in the TOML (spans), replaced by
//! `REDACTED` in everything the daemon gives out, and put back when a redacted text comes
//! back to be applied (so an editor that never saw a secret does not erase it).
//!
//! The secrets: TURN credentials (`network.ice_servers[].credential`), and in the meeting and
//! calendar URLs a password (`https://user:pw@...`) or a token in the query
//! (`livekit+wss://...?token=<jwt>`). Files that hold secrets (`token_file`, `password_file`)
//! are named, never read here.

use crate::api::REDACTED;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// Query parameters whose value is a secret.
const SECRET_PARAMETERS: [&str; 6] = [
    "token",
    "access_token",
    "password",
    "key",
    "secret",
    "credential",
];

/// One secret in a text: where it is, its dotted path and its value.
struct Secret {
    span: Range<usize>,
    path: String,
    value: String,
}

/// The secret-bearing fields of a parsed text. A text that does not parse has none found
/// (it is refused by the loader anyway, with its location).
fn secrets(text: &str) -> Vec<Secret> {
    let Ok(document) = DeTable::parse(text) else {
        return Vec::new();
    };
    let root = document.get_ref();
    let mut found = Vec::new();
    let string_at = |table: &DeTable<'_>, key: &str| {
        table
            .get_key_value(key)
            .and_then(|(_, v)| match v.get_ref() {
                DeValue::String(s) => Some((v.span(), s.to_string())),
                _ => None,
            })
    };
    for section in ["meeting", "calendar"] {
        if let Some(table) = table_at(root, section) {
            if let Some((span, value)) = string_at(table, "url") {
                if redact_url(&value) != value || value.contains(REDACTED) {
                    found.push(Secret {
                        span,
                        path: format!("{section}.url"),
                        value,
                    });
                }
            }
        }
    }
    if let Some(network) = table_at(root, "network") {
        if let Some((_, servers)) = network.get_key_value("ice_servers") {
            if let DeValue::Array(servers) = servers.get_ref() {
                for (i, server) in servers.iter().enumerate() {
                    if let DeValue::Table(server) = server.get_ref() {
                        if let Some((span, value)) = string_at(server, "credential") {
                            found.push(Secret {
                                span,
                                path: format!("network.ice_servers.{i}.credential"),
                                value,
                            });
                        }
                    }
                }
            }
        }
    }
    found
}

fn table_at<'a>(table: &'a DeTable<'a>, key: &str) -> Option<&'a DeTable<'a>> {
    table
        .get_key_value(key)
        .and_then(|(_, v)| match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        })
}

/// A secret's value as it may be shown.
fn redact_value(path: &str, value: &str) -> String {
    if path.ends_with(".url") {
        redact_url(value)
    } else {
        REDACTED.to_string()
    }
}

/// A URL without its password and secret query parameters (unchanged when it has none).
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some(REDACTED));
        changed = true;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs
        .iter()
        .any(|(k, _)| SECRET_PARAMETERS.contains(&k.to_ascii_lowercase().as_str()))
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            let secret = SECRET_PARAMETERS.contains(&k.to_ascii_lowercase().as_str());
            query.append_pair(k, if secret { REDACTED } else { v });
        }
        drop(query);
        changed = true;
    }
    if changed {
        url.to_string()
    } else {
        text.to_string()
    }
}

/// `value` as a TOML basic string.
fn quoted(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn replace(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut text = text.to_string();
    for (span, with) in edits {
        text.replace_range(span, &with);
    }
    text
}

/// The text with every secret redacted, its layout and comments kept.
pub fn redact(text: &str) -> String {
    let edits = secrets(text)
        .into_iter()
        .map(|s| (s.span, quoted(&redact_value(&s.path, &s.value))))
        .collect();
    replace(text, edits)
}

/// A text that came back from an editor, with the secrets it only saw redacted put back
/// from `current` (the file on disk). A secret the editor changed is kept as changed.
pub fn restore(edited: &str, current: &str) -> String {
    let current = secrets(current);
    let edits = secrets(edited)
        .into_iter()
        .filter_map(|secret| {
            let old = current.iter().find(|c| c.path == secret.path)?;
            (secret.value == redact_value(&old.path, &old.value) && secret.value != old.value)
                .then(|| (secret.span, quoted(&old.value)))
        })
        .collect();
    replace(edited, edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# the room
[meeting]
url = "livekit+wss://lk.example?token=eyJhbGciOi.secret.jwt"  # a ready token

[[network.ice_servers]]
urls = ["turn:turn.example:3478"]
username = "room"
credential = "s3cr3t"
"#;

    #[test]
    fn redaction_hides_every_secret_and_keeps_the_rest() {
        let shown = redact(TEXT);
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("eyJhbGciOi"),
            "{shown}"
        );
        assert!(shown.contains("# a ready token") && shown.contains("username = \"room\""));
        assert!(shown.contains("credential = \"********\""), "{shown}");
        assert!(shown.contains("token=********"), "{shown}");
        // Still a valid configuration.
        crate::config::parse(&shown, std::path::Path::new("x.toml")).unwrap();
    }

    #[test]
    fn a_redacted_text_sent_back_keeps_the_secrets_and_takes_the_edits() {
        let edited = redact(TEXT).replace("username = \"room\"", "username = \"salle\"");
        let restored = restore(&edited, TEXT);
        assert_eq!(
            restored,
            TEXT.replace("username = \"room\"", "username = \"salle\"")
        );
        // A secret changed on purpose stays changed.
        let changed = redact(TEXT).replace("\"********\"", "\"new\"");
        assert!(restore(&changed, TEXT).contains("credential = \"new\""));
    }

    #[test]
    fn urls_without_secrets_are_left_alone() {
        let url = "https://visio.example.gouv.fr/abc-defg-hij";
        assert_eq!(redact_url(url), url);
        assert_eq!(
            redact_url("https://room:pw@cal.example/dav/"),
            "https://room:********@cal.example/dav/"
        );
    }
}
