//! Reading a configuration file, with every error located at file:line:column and named by its
//! field (`buttons.join.debounce_ms`).

use super::Config;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// A configuration problem, precise enough to fix without reading any code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file itself (unreadable).
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, empty for syntax errors and whole-file problems.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks the file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and checks `text`; `file` only names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let error_at = |span: Option<Range<usize>>, field: String, message: String| {
        let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            field,
            message,
        }
    };
    let document =
        DeTable::parse(text).map_err(|e| error_at(e.span(), String::new(), e.message().into()))?;
    let deserializer = toml::de::Deserializer::from(document.clone());
    let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let field = if field == "." { String::new() } else { field };
        error_at(inner.span(), field, inner.message().into())
    })?;
    super::validate::check(&config).map_err(|problem| {
        let span = locate(document.get_ref(), &problem.field);
        error_at(span, problem.field.join("."), problem.message)
    })?;
    Ok(config)
}

/// The span of the value at `path` (or of the deepest table on the way that exists).
fn locate(root: &DeTable<'_>, path: &[String]) -> Option<Range<usize>> {
    let mut table = root;
    let mut found = None;
    for key in path {
        let (_, value) = table.get_key_value(key.as_str())?;
        found = Some(value.span());
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    found
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HidChoice;

    fn err(text: &str) -> ConfigError {
        parse(text, Path::new("salle.toml")).expect_err("should be rejected")
    }

    #[test]
    fn empty_file_is_a_complete_default_config() {
        let config = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(config.camera.width, 1280);
        assert_eq!(config.audio.rate, 48_000);
        assert_eq!(config.meeting.join_timeout_s, 60);
        assert!(!config.room.name.is_empty());
    }

    #[test]
    fn syntax_error_is_located() {
        let e = err("[room]\nname = \"Monge\nx = 1\n");
        assert_eq!((e.line, e.field.as_str()), (2, ""));
        assert!(e.to_string().starts_with("salle.toml:2:"), "{e}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = err("[camera]\nwidth = 1920\nheigth = 1080\n");
        assert_eq!((e.line, e.column), (3, 1));
        assert!(
            e.message.contains("unknown field `heigth`"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("height"),
            "suggests the known fields: {}",
            e.message
        );
    }

    #[test]
    fn unknown_section_is_an_error() {
        let e = err("[camara]\ndevice = \"auto\"\n");
        assert_eq!(e.line, 1);
        assert!(
            e.message.contains("unknown field `camara`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn wrong_type_names_the_field_and_line() {
        let e =
            err("[room]\nname = \"A\"\n\n[buttons.join]\nline = 17\ndebounce_ms = \"thirty\"\n");
        assert_eq!(e.field, "buttons.join.debounce_ms");
        assert_eq!((e.line, e.column), (6, 15));
        assert!(e.message.contains("invalid type"), "{}", e.message);
        assert_eq!(
            e.to_string(),
            format!(
                "salle.toml:6:15: field `buttons.join.debounce_ms`: {}",
                e.message
            )
        );
    }

    #[test]
    fn bad_channel_selection_is_explained() {
        let e = err("[audio]\nchannels = \"left\"\n");
        assert_eq!(e.field, "audio.channels");
        assert!(
            e.message.contains("list of channel numbers"),
            "{}",
            e.message
        );
    }

    #[test]
    fn semantic_errors_are_located_too() {
        let e = err("[meeting]\nurl = \"ftp://example/room\"\n");
        assert_eq!((e.line, e.field.as_str()), (2, "meeting.url"));
        assert!(e.message.contains("ftp"), "{}", e.message);
        // Addresses that are not meetings are refused, naming the forms that are.
        for url in ["javascript:alert(1)", "file:///etc/shadow"] {
            let e = err(&format!("[meeting]\nurl = \"{url}\"\n"));
            assert_eq!((e.line, e.field.as_str()), (2, "meeting.url"));
            assert!(
                e.message.contains("https://<meet-host>/<slug>"),
                "{}",
                e.message
            );
        }
        let e = err("[camera]\nwidth = 0\n");
        assert_eq!((e.line, e.field.as_str()), (2, "camera.width"));
    }

    #[test]
    fn proxy_settings_are_checked_and_located() {
        let e = err("[network]\nproxy = \"proxy.example.fr:3128\"\n");
        assert_eq!((e.line, e.field.as_str()), (2, "network.proxy"));
        assert!(e.message.contains("http://host:port"), "{}", e.message);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("proxy-credentials");
        std::fs::write(&file, "salle:secret\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let text = format!(
            "[network]\nproxy = \"http://proxy:3128\"\nproxy_credentials_file = \"{}\"\n",
            file.display()
        );
        let e = err(&text);
        assert_eq!(
            (e.line, e.field.as_str()),
            (3, "network.proxy_credentials_file")
        );
        assert!(e.message.contains("chmod 600"), "{}", e.message);
    }

    #[test]
    fn calendar_settings_are_checked_and_located() {
        let config = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(
            (
                config.calendar.url,
                config.calendar.refresh_s,
                config.calendar.join_early_s
            ),
            (None, 300, 300)
        );
        for (text, line, field, says) in [
            (
                "[calendar]\nurl = \"http://cal.example/room/\"\n",
                2,
                "calendar.url",
                "only allowed on loopback",
            ),
            (
                "[calendar]\nurl = \"webdav://cal.example/\"\n",
                2,
                "calendar.url",
                "unknown scheme \"webdav\"",
            ),
            (
                "[calendar]\nauto_join = true\n",
                2,
                "calendar.auto_join",
                "needs [calendar] url",
            ),
            (
                "[calendar]\nurl = \"https://c.example/\"\nrefresh_s = 5\n",
                3,
                "calendar.refresh_s",
                "5 is out of range: 30 to 86400",
            ),
            (
                "[calendar]\nurl = \"https://c.example/\"\nusername = \"room\"\n",
                3,
                "calendar.username",
                "needs password_file",
            ),
            (
                "[calendar]\nurl = \"https://c.example/\"\ntimezone = \"Paris\"\n",
                3,
                "calendar.timezone",
                "unknown time zone \"Paris\"",
            ),
            (
                "[calendar]\nkind = \"webcal\"\n",
                2,
                "calendar.kind",
                "unknown variant `webcal`",
            ),
        ] {
            let e = err(text);
            assert_eq!((e.line, e.field.as_str()), (line, field), "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
        let config = parse(
            "[calendar]\nurl = \"http://127.0.0.1:5232/room/cal/\"\nkind = \"ics\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(config.calendar.kind, crate::config::CalendarKind::Ics);
        assert!(config.room_settings().calendar.is_some());
    }

    #[test]
    fn screen_power_settings_are_checked_and_located() {
        let config = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(
            (&config.screen.awake_hours, config.screen.sleep_after_s),
            (&None, 600)
        );
        assert_eq!(config.screen.cec, crate::config::CecChoice::Auto);
        for (text, line, field, says) in [
            (
                "[screen]\nawake_hours = \"Mon-Fri 7h-19h\"\n",
                2,
                "screen.awake_hours",
                "\"7h\" is not a time",
            ),
            (
                "[screen]\n\nawake_hours = \"Mon-Fri 07:00-19:00, Sam 08:00-12:00\"\n",
                3,
                "screen.awake_hours",
                "\"Sam\" is not a day",
            ),
            (
                "[screen]\nsleep_after_s = 0\n",
                2,
                "screen.sleep_after_s",
                "0 is out of range: 1 to 86400",
            ),
            (
                "[screen]\ncec = \"cec0\"\n",
                2,
                "screen.cec",
                "is not \"auto\", \"none\" or a device path",
            ),
        ] {
            let e = err(text);
            assert_eq!((e.line, e.field.as_str()), (line, field), "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
            assert!(e.to_string().starts_with("salle.toml:"), "{e}");
        }
        let config = parse(
            "[screen]\nawake_hours = \"Mon-Fri 07:00-19:00, Sat 08:00-12:00\"\nsleep_after_s = 30\ncec = \"/dev/cec1\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let power = config.room_settings().screen_power;
        assert_eq!(power.sleep_after_ms, 30_000);
        assert_eq!(
            power.awake_hours.map(|h| h.to_string()).as_deref(),
            Some("Mon-Fri 07:00-19:00, Sat 08:00-12:00")
        );
        assert_eq!(
            config.screen.cec,
            crate::config::CecChoice::Path("/dev/cec1".into())
        );
    }

    #[test]
    fn speakerphone_hid_choice_is_checked_and_located() {
        let config = |text: &str| parse(text, Path::new("x.toml")).unwrap().speakerphone.hid;
        assert_eq!(config(""), HidChoice::Auto);
        assert_eq!(config("[speakerphone]\nhid = \"none\"\n"), HidChoice::None);
        assert_eq!(
            config("[speakerphone]\nhid = \"/dev/salle/speakerphone\"\n"),
            HidChoice::Path("/dev/salle/speakerphone".into())
        );
        let e = err("[room]\nname = \"A\"\n[speakerphone]\nhid = \"hidraw0\"\n");
        assert_eq!((e.line, e.field.as_str()), (4, "speakerphone.hid"));
        assert!(
            e.message.contains("\"hidraw0\" is not \"auto\", \"none\""),
            "{e}"
        );
        let e = err("[speakerphone]\nhid = 3\n");
        assert_eq!((e.line, e.field.as_str()), (2, "speakerphone.hid"), "{e}");
        let e = err("[speakerphone]\nled = true\n");
        assert!(e.message.contains("unknown field `led`"), "{e}");
    }

    #[test]
    fn unreadable_file_is_named() {
        let e = load_file(Path::new("/nonexistent/salle.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/salle.toml: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn full_example_parses() {
        let text = include_str!("../../examples/salle.toml");
        let config = parse(text, Path::new("examples/salle.toml")).unwrap();
        assert_eq!(config.room.name, "Salle Monge");
        assert!(config.buttons.join.is_some());
        assert_eq!(config.speakerphone.hid, HidChoice::Auto);
    }
}
