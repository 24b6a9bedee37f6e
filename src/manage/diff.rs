//! What differs between two configurations, setting by setting, and when each change takes
//! effect. Values are shown as TOML, secrets redacted.

use super::secrets::redact_url;
use crate::api::{ConfigChange, TakesEffect, REDACTED};
use crate::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;

/// When a change to `field` (dotted) takes effect. Only what the daemon really re-reads while
/// running is `Now`; everything the drivers and the room's state machine take at start-up
/// waits for a restart (done by itself outside calls).
pub fn takes_effect(field: &str) -> TakesEffect {
    match field {
        "management.snapshots_in_calls" => TakesEffect::Now,
        _ => TakesEffect::Restart,
    }
}

/// A copy with the secrets replaced, for showing.
fn redacted(config: &Config) -> Config {
    let mut config = config.clone();
    for server in &mut config.network.ice_servers {
        if !server.credential.is_empty() {
            server.credential = REDACTED.into();
        }
    }
    for url in [&mut config.meeting.url, &mut config.calendar.url]
        .into_iter()
        .flatten()
    {
        *url = redact_url(url);
    }
    config
}

/// The leaves of a configuration: tables are walked, anything else (arrays included) is a
/// value.
fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&path, value, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn as_toml(value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    Some(match toml::Value::try_from(value) {
        Ok(value) => value.to_string(),
        Err(_) => value.to_string(),
    })
}

/// Every setting that differs, in path order.
pub fn diff(before: &Config, after: &Config) -> Vec<ConfigChange> {
    let flat = |config: &Config| {
        let mut out = BTreeMap::new();
        let value = serde_json::to_value(redacted(config)).expect("configurations serialise");
        leaves("", &value, &mut out);
        out
    };
    let (before, after) = (flat(before), flat(after));
    let fields: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    fields
        .into_iter()
        .filter_map(|field| {
            let old = before.get(field).unwrap_or(&Value::Null);
            let new = after.get(field).unwrap_or(&Value::Null);
            (old != new).then(|| ConfigChange {
                field: field.clone(),
                before: as_toml(old),
                after: as_toml(new),
                takes_effect: takes_effect(field),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Config {
        crate::config::parse(text, Path::new("x.toml")).unwrap()
    }

    #[test]
    fn only_changed_settings_are_listed_with_how_they_apply() {
        let before = parse("[room]\nname = \"A\"\n");
        let after = parse(
            "[room]\nname = \"B\"\n[management]\nsnapshots_in_calls = true\n\
             [[network.ice_servers]]\nurls = [\"turn:t.example\"]\nusername = \"u\"\ncredential = \"pw\"\n",
        );
        let changes = diff(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "management.snapshots_in_calls",
                "network.ice_servers",
                "room.name"
            ]
        );
        assert_eq!(changes[0].takes_effect, TakesEffect::Now);
        assert_eq!(changes[2].takes_effect, TakesEffect::Restart);
        assert_eq!(changes[2].before.as_deref(), Some("\"A\""));
        let servers = changes[1].after.as_deref().unwrap();
        assert!(
            !servers.contains("pw") && servers.contains(REDACTED),
            "{servers}"
        );
        assert!(diff(&after, &after).is_empty());
    }
}
