//! Secrets never leave through the web surface: tokens and passwords inside addresses (a
//! LiveKit URL carries its access token) and secret fields of the configuration.

use serde_json::Value;

const SECRET_KEYS: &[&str] = &[
    "token",
    "access_token",
    "password",
    "secret",
    "credential",
    "key",
    "pin",
];

pub const HIDDEN: &str = "********";

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

/// A URL with its password and secret query values hidden; other text unchanged.
pub fn address(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    if url.cannot_be_a_base() {
        return text.to_string();
    }
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some(HIDDEN));
        changed = true;
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if pairs.iter().any(|(k, _)| is_secret_key(k)) {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, if is_secret_key(k) { HIDDEN } else { v });
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

/// Hides secrets anywhere in a JSON document: values of secret fields, and in addresses.
pub fn json(value: &mut Value) {
    match value {
        Value::String(s) if s.contains("://") => *s = address(s),
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !matches!(v, Value::Null | Value::Bool(_)) {
                    if v.as_str().is_some_and(|s| !s.is_empty()) || v.is_number() {
                        *v = Value::String(HIDDEN.into());
                    }
                } else {
                    json(v);
                }
            }
        }
        _ => {}
    }
}

/// A TOML text with secret values hidden: `credential = "..."` becomes `"********"`, and
/// addresses inside quoted values lose their tokens and passwords. Comments and layout stay.
pub fn toml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let key = trimmed
            .split('=')
            .next()
            .map(str::trim)
            .filter(|k| !k.starts_with('#') && !k.starts_with('[') && trimmed.contains('='));
        match key {
            Some(k) if is_secret_key(k.trim_matches('"')) => {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}{k} = \"{HIDDEN}\""));
            }
            _ if line.contains("://") => {
                // Each quoted string on its own.
                let parts: Vec<&str> = line.split('"').collect();
                let rebuilt: Vec<String> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        if i % 2 == 1 {
                            address(p)
                        } else {
                            p.to_string()
                        }
                    })
                    .collect();
                out.push_str(&rebuilt.join("\""));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_toml_text_are_hidden() {
        let text = "[meeting]\nurl = \"livekit+wss://h?token=abc\" # room\n[[network.ice_servers]]\ncredential = \"s3cret\"\nusername = \"u\"\n";
        let out = toml_text(text);
        assert!(!out.contains("abc") && !out.contains("s3cret"), "{out}");
        assert!(
            out.contains("username = \"u\"") && out.contains("# room"),
            "{out}"
        );
    }

    #[test]
    fn a_livekit_token_is_hidden() {
        assert_eq!(
            address("livekit+wss://lk.example?token=eyJabc&room=x"),
            "livekit+wss://lk.example?token=********&room=x"
        );
        assert_eq!(
            address("https://visio.example/abc-defg"),
            "https://visio.example/abc-defg"
        );
    }

    #[test]
    fn secret_fields_are_hidden_everywhere() {
        let mut v = serde_json::json!({"network": {"ice_servers": [{"username": "u", "credential": "s3cret"}]},
            "meeting": {"url": "https://u:pw@h/x", "token_file": "/etc/salle/t"}});
        json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("s3cret") && !text.contains(":pw@"), "{text}");
        assert!(
            text.contains("/etc/salle/t"),
            "a path to a secret is not a secret: {text}"
        );
    }
}
