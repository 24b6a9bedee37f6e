//! `/metrics`: the room's status figures in Prometheus' text format. Every number and yes/no
//! of the status tree becomes a gauge named after its path (`salle_media_video_fps`), list
//! items carry an `index` label; the call state and problems get their own. Generic on
//! purpose: a figure added to the status shows up here without a change.

use serde_json::Value;
use std::fmt::Write;

pub fn render(status: &Value) -> String {
    let mut out = String::new();
    let mut gauges: Vec<(String, String, f64)> = Vec::new();
    walk(status, "salle", "", &mut gauges);
    let mut last = String::new();
    for (name, labels, value) in &gauges {
        if *name != last {
            let _ = writeln!(out, "# TYPE {name} gauge");
            last = name.clone();
        }
        let _ = writeln!(out, "{name}{labels} {value}");
    }
    let state = status
        .pointer("/call/state")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let _ = writeln!(out, "# TYPE salle_call_state gauge");
    let _ = writeln!(out, "salle_call_state{{state=\"{}\"}} 1", label(state));
    let problems = status
        .get("problems")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let _ = writeln!(out, "# TYPE salle_problems gauge");
    let _ = writeln!(out, "salle_problems {problems}");
    out
}

fn walk(value: &Value, name: &str, labels: &str, out: &mut Vec<(String, String, f64)>) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push((name.into(), braces(labels), f));
            }
        }
        Value::Bool(b) => out.push((name.into(), braces(labels), f64::from(u8::from(*b)))),
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, &format!("{name}_{}", metric_part(k)), labels, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let labels = if labels.is_empty() {
                    format!("index=\"{i}\"")
                } else {
                    format!("{labels},index_{}=\"{i}\"", labels.matches(',').count() + 1)
                };
                walk(v, name, &labels, out);
            }
        }
        _ => {}
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

fn metric_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_flags_become_gauges() {
        let text = render(&serde_json::json!({"uptime_ms": 5, "mic_muted": true,
            "call": {"state": "in-call"}, "problems": ["x"],
            "media": {"video": {"fps": 30}}, "people": [{"frames": 3}]}));
        assert!(text.contains("salle_uptime_ms 5\n"), "{text}");
        assert!(text.contains("salle_mic_muted 1\n"));
        assert!(text.contains("salle_media_video_fps 30\n"));
        assert!(text.contains("salle_people_frames{index=\"0\"} 3\n"));
        assert!(text.contains("salle_call_state{state=\"in-call\"} 1\n"));
        assert!(text.contains("salle_problems 1\n"));
    }
}
