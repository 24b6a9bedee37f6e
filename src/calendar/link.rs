//! The meeting link in a calendar event: the first meeting URL in its URL property, then its
//! location, then its description. Invitations carry other links too (agendas, maps, the
//! organiser's video service's dial-in page): only URLs the room can join count.

use crate::signal::MeetingTarget;

/// Which `https://` URLs are meetings: La Suite Meet rooms on any host (their slugs look like
/// `abc-defg-hij`), and any room on the hosts the room already meets on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeetingHosts {
    hosts: Vec<String>,
}

impl MeetingHosts {
    /// The hosts of these meeting URLs (the room's `[meeting] url`) count as meeting services.
    pub fn from_urls<'a>(urls: impl IntoIterator<Item = &'a str>) -> MeetingHosts {
        let hosts = urls
            .into_iter()
            .filter_map(|u| match MeetingTarget::parse(u) {
                Ok(MeetingTarget::LaSuiteMeet { base, .. }) => base.host_str().map(str::to_string),
                _ => None,
            })
            .collect();
        MeetingHosts { hosts }
    }

    fn contains(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// The link to join, from an event's URL, location and description (in that order).
pub fn meeting_link(
    url: Option<&str>,
    location: Option<&str>,
    description: Option<&str>,
    hosts: &MeetingHosts,
) -> Option<String> {
    [url, location, description]
        .into_iter()
        .flatten()
        .flat_map(urls_in)
        .find(|candidate| is_meeting(candidate, hosts))
        .map(str::to_string)
}

fn is_meeting(url: &str, hosts: &MeetingHosts) -> bool {
    let scheme = url
        .split("://")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (scheme.as_str(), MeetingTarget::parse(url)) {
        (
            "whip+http" | "whip+https" | "janus+ws" | "janus+wss" | "livekit+wss" | "livekit+ws",
            Ok(_),
        ) => true,
        // The simulated meeting: demos and tests.
        ("test", Ok(_)) => true,
        (_, Ok(MeetingTarget::LaSuiteMeet { base, slug })) => {
            is_meet_slug(&slug) || base.host_str().is_some_and(|h| hosts.contains(h))
        }
        _ => false,
    }
}

/// La Suite Meet's generated room names: three lowercase letters, four, three (`abc-defg-hij`).
fn is_meet_slug(slug: &str) -> bool {
    let parts: Vec<&str> = slug.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([3, 4, 3])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Every `scheme://...` in `text`, without the punctuation that ends a sentence or wraps a link.
fn urls_in(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("://").filter_map(move |(at, _)| {
        let scheme_start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map(|(i, _)| i)?;
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
            .unwrap_or(rest.len());
        // Without the end of a sentence, or the bracket people wrap links in ("(https://...)").
        let url = text[scheme_start..at + end]
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '*']);
        // Something after "://".
        Some(url).filter(|u| u.len() > at - scheme_start + 3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> MeetingHosts {
        MeetingHosts::from_urls(["https://visio.example.gouv.fr/abc-defg-hij"])
    }

    fn link(
        url: Option<&str>,
        location: Option<&str>,
        description: Option<&str>,
    ) -> Option<String> {
        meeting_link(url, location, description, &hosts())
    }

    #[test]
    fn url_then_location_then_description() {
        let visio = "https://meet.other.fr/abc-defg-hij";
        assert_eq!(
            link(
                Some("https://visio.example.gouv.fr/conseil"),
                Some(visio),
                Some(visio)
            )
            .as_deref(),
            Some("https://visio.example.gouv.fr/conseil"),
            "any room on a configured host"
        );
        assert_eq!(
            link(Some("https://example.org/agenda.pdf"), Some(visio), None).as_deref(),
            Some(visio)
        );
        assert_eq!(
            link(
                None,
                Some("Salle Monge, 2e étage"),
                Some(&format!(
                    "Ordre du jour : https://example.org/agenda.pdf\nRejoindre : {visio}."
                ))
            )
            .as_deref(),
            Some(visio)
        );
    }

    #[test]
    fn every_meeting_form_and_nothing_else() {
        for (text, found) in [
            (
                "Lien:janus+wss://janus.example.org:8989/?room=1234 merci",
                Some("janus+wss://janus.example.org:8989/?room=1234"),
            ),
            (
                "<whip+https://whip.example.org/room/7>",
                Some("whip+https://whip.example.org/room/7"),
            ),
            (
                "(livekit+wss://lk.example.org?token=abc.def.ghi)",
                Some("livekit+wss://lk.example.org?token=abc.def.ghi"),
            ),
            (
                "test://standup?connect_ms=100",
                Some("test://standup?connect_ms=100"),
            ),
            (
                "http://127.0.0.1:8080/abc-defg-hij",
                Some("http://127.0.0.1:8080/abc-defg-hij"),
            ),
            ("janus+wss://janus.example.org/ (no room)", None),
            ("https://example.org/agenda.pdf", None),
            ("https://example.org/some-room", None),
            ("https://example.org/abc-defg-hij/extra", None),
            ("http://visio.example.gouv.fr/abc-defg-hij", None),
            (
                "https://teams.microsoft.com/l/meetup-join/19%3ameeting",
                None,
            ),
            ("ftp://abc-defg-hij", None),
            ("mailto:someone@example.org", None),
            ("://", None),
        ] {
            assert_eq!(link(None, None, Some(text)).as_deref(), found, "{text}");
        }
    }

    #[test]
    fn slugs() {
        assert!(is_meet_slug("abc-defg-hij"));
        for bad in [
            "abc-defg-hi",
            "ABC-defg-hij",
            "abc-defg-hij-k",
            "abcdefghij",
            "ab1-defg-hij",
        ] {
            assert!(!is_meet_slug(bad), "{bad}");
        }
    }
}
