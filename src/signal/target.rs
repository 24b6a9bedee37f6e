//! The meeting-URL forms a room understands (one URL per room, see docs/architecture.md).

use std::fmt;
use url::Url;

/// A meeting to join, by service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingTarget {
    /// `https://<meet-host>/<slug>`: a La Suite Meet (Visio) room.
    LaSuiteMeet { base: Url, slug: String },
    /// `livekit+wss://<host>?token=<jwt>`: a LiveKit room with a ready token.
    LiveKit { url: Url, token: String },
    /// `whip+http(s)://...[#whep=http(s)://...]`: publish with WHIP (RFC 9725) and, with a
    /// WHEP partner in the fragment (never sent to the server), play what it serves.
    Whip { endpoint: Url, whep: Option<Url> },
    /// `whep+http(s)://...`: receive with WHEP.
    Whep { endpoint: Url },
    /// `janus+ws(s)://<host>:<port>/?room=<id>`: a Janus VideoRoom.
    Janus { url: Url, room: u64 },
    /// `test://<name>[?connect_ms=N][&fail=reason]`: the simulated meeting service, for running
    /// the daemon and its tests without any server. Connects after `connect_ms` (default 500),
    /// or fails with `reason`.
    Simulated {
        name: String,
        connect_ms: u64,
        fail: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError(String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

fn bad(message: impl Into<String>) -> TargetError {
    TargetError(message.into())
}

const FORMS: &str = "expected https://<meet-host>/<slug>, livekit+wss://<host>?token=<jwt>, \
                     whip+https://..., whep+https://..., janus+wss://<host>:<port>/?room=<id> or test://<name>";

impl MeetingTarget {
    pub fn parse(text: &str) -> Result<MeetingTarget, TargetError> {
        let url =
            Url::parse(text).map_err(|e| bad(format!("\"{text}\" is not a URL ({e}); {FORMS}")))?;
        let query = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        let inner = |scheme: &str| -> Result<Url, TargetError> {
            let rest = &text[text.find("://").unwrap_or(0)..];
            Url::parse(&format!("{scheme}{rest}")).map_err(|e| bad(format!("\"{text}\": {e}")))
        };
        match url.scheme() {
            "https" | "http" => {
                if url.scheme() == "http" && !is_loopback(&url) {
                    return Err(bad(format!(
                        "\"{text}\": La Suite Meet over plain http is only allowed on loopback (tests); use https"
                    )));
                }
                let segments: Vec<&str> = url
                    .path_segments()
                    .map(|s| s.filter(|p| !p.is_empty()).collect())
                    .unwrap_or_default();
                match segments.as_slice() {
                    [slug] => {
                        let mut base = url.clone();
                        base.set_path("/");
                        base.set_query(None);
                        base.set_fragment(None);
                        Ok(MeetingTarget::LaSuiteMeet {
                            base,
                            slug: (*slug).to_string(),
                        })
                    }
                    _ => Err(bad(format!(
                        "\"{text}\": a La Suite Meet URL is https://<host>/<room-slug>"
                    ))),
                }
            }
            "livekit+wss" | "livekit+ws" => {
                let token = query("token")
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| bad(format!("\"{text}\": a LiveKit URL needs ?token=<jwt>")))?;
                let mut url = inner(&url.scheme()["livekit+".len()..])?;
                url.set_query(None);
                Ok(MeetingTarget::LiveKit { url, token })
            }
            "whip+http" | "whip+https" => {
                let mut endpoint = inner(&url.scheme()["whip+".len()..])?;
                endpoint.set_fragment(None);
                let whep = match url.fragment() {
                    None | Some("") => None,
                    Some(fragment) => {
                        let partner = fragment.strip_prefix("whep=").ok_or_else(|| {
                            bad(format!(
                                "\"{text}\": the fragment names the WHEP partner: #whep=https://..."
                            ))
                        })?;
                        let partner = Url::parse(partner)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https"))
                            .ok_or_else(|| {
                                bad(format!("\"{text}\": the WHEP partner \"{partner}\" is not an http(s) URL"))
                            })?;
                        Some(partner)
                    }
                };
                Ok(MeetingTarget::Whip { endpoint, whep })
            }
            "whep+http" | "whep+https" => Ok(MeetingTarget::Whep {
                endpoint: inner(&url.scheme()["whep+".len()..])?,
            }),
            "janus+ws" | "janus+wss" => {
                let room = query("room")
                    .ok_or_else(|| {
                        bad(format!("\"{text}\": a Janus URL needs ?room=<numeric id>"))
                    })?
                    .parse::<u64>()
                    .map_err(|_| bad(format!("\"{text}\": the Janus room must be a number")))?;
                let mut url = inner(&url.scheme()["janus+".len()..])?;
                url.set_query(None);
                Ok(MeetingTarget::Janus { url, room })
            }
            "test" => {
                let name = url.host_str().unwrap_or("simulated").to_string();
                let connect_ms = match query("connect_ms") {
                    Some(v) => v.parse().map_err(|_| {
                        bad(format!(
                            "\"{text}\": connect_ms must be a number of milliseconds"
                        ))
                    })?,
                    None => 500,
                };
                Ok(MeetingTarget::Simulated {
                    name,
                    connect_ms,
                    fail: query("fail"),
                })
            }
            other => Err(bad(format!(
                "\"{text}\": unknown scheme \"{other}\"; {FORMS}"
            ))),
        }
    }

    /// The service, for people: "La Suite Meet", "WHIP", ...
    pub fn service(&self) -> &'static str {
        match self {
            MeetingTarget::LaSuiteMeet { .. } => "La Suite Meet",
            MeetingTarget::LiveKit { .. } => "LiveKit",
            MeetingTarget::Whip { .. } => "WHIP",
            MeetingTarget::Whep { .. } => "WHEP",
            MeetingTarget::Janus { .. } => "Janus VideoRoom",
            MeetingTarget::Simulated { .. } => "simulated meeting",
        }
    }
}

impl MeetingTarget {
    /// The service's web origin (`https://host:port/`), which answers plain HTTP requests:
    /// what the room's health check asks. Never carries a token, a path or a query. None for
    /// the simulated service.
    pub fn origin(&self) -> Option<Url> {
        let url = match self {
            MeetingTarget::LaSuiteMeet { base, .. } => base,
            MeetingTarget::LiveKit { url, .. } | MeetingTarget::Janus { url, .. } => url,
            MeetingTarget::Whip { endpoint, .. } | MeetingTarget::Whep { endpoint } => endpoint,
            MeetingTarget::Simulated { .. } => return None,
        };
        // WebSocket servers are HTTP servers that upgrade: ask them over HTTP.
        let scheme = match url.scheme() {
            "wss" | "https" => "https",
            _ => "http",
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Url::parse(&format!("{scheme}://{}{port}/", url.host_str()?)).ok()
    }
}

/// Plain http (no TLS) is for services on the device itself: tests and fixtures.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_services_web_address_without_secrets() {
        let origin = |text: &str| {
            MeetingTarget::parse(text)
                .unwrap()
                .origin()
                .map(|u| u.to_string())
        };
        assert_eq!(
            origin("https://visio.example.org/abc-defg-hij").as_deref(),
            Some("https://visio.example.org/")
        );
        assert_eq!(
            origin("livekit+wss://lk.example.org:7880/rtc?token=secret").as_deref(),
            Some("https://lk.example.org:7880/")
        );
        assert_eq!(
            origin("janus+ws://127.0.0.1:8188/?room=1234").as_deref(),
            Some("http://127.0.0.1:8188/")
        );
        assert_eq!(
            origin(
                "whip+https://media.example.org/whip/room#whep=https://media.example.org/whep/room"
            )
            .as_deref(),
            Some("https://media.example.org/")
        );
        assert_eq!(origin("test://room"), None);
    }

    #[test]
    fn la_suite_meet_room() {
        let t = MeetingTarget::parse("https://visio.numerique.gouv.fr/abc-defg-hij").unwrap();
        match t {
            MeetingTarget::LaSuiteMeet { base, slug } => {
                assert_eq!(base.as_str(), "https://visio.numerique.gouv.fr/");
                assert_eq!(slug, "abc-defg-hij");
            }
            other => panic!("{other:?}"),
        }
        assert!(MeetingTarget::parse("https://visio.example/").is_err());
        assert!(MeetingTarget::parse("https://visio.example/a/b").is_err());
        assert!(MeetingTarget::parse("http://visio.example/abc").is_err());
        assert!(MeetingTarget::parse("http://127.0.0.1:8000/abc").is_ok());
    }

    #[test]
    fn livekit_with_token() {
        let t = MeetingTarget::parse("livekit+wss://lk.example:7880?token=eyJ.x.y").unwrap();
        assert_eq!(
            t,
            MeetingTarget::LiveKit {
                url: Url::parse("wss://lk.example:7880").unwrap(),
                token: "eyJ.x.y".into()
            }
        );
        assert!(MeetingTarget::parse("livekit+wss://lk.example")
            .unwrap_err()
            .to_string()
            .contains("token"));
    }

    #[test]
    fn whip_whep_and_janus() {
        assert_eq!(
            MeetingTarget::parse("whip+http://127.0.0.1:8080/whip/endpoint").unwrap(),
            MeetingTarget::Whip {
                endpoint: Url::parse("http://127.0.0.1:8080/whip/endpoint").unwrap(),
                whep: None,
            }
        );
        assert_eq!(
            MeetingTarget::parse("whip+https://h/whip/1#whep=https://h/whep/1").unwrap(),
            MeetingTarget::Whip {
                endpoint: Url::parse("https://h/whip/1").unwrap(),
                whep: Some(Url::parse("https://h/whep/1").unwrap()),
            }
        );
        for bad in ["whip+https://h/w#x=1", "whip+https://h/w#whep=ftp://h/x"] {
            assert!(
                MeetingTarget::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("WHEP"),
                "{bad}"
            );
        }
        assert!(matches!(
            MeetingTarget::parse("whep+https://h/whep").unwrap(),
            MeetingTarget::Whep { .. }
        ));
        assert_eq!(
            MeetingTarget::parse("janus+ws://127.0.0.1:8188/?room=1234").unwrap(),
            MeetingTarget::Janus {
                url: Url::parse("ws://127.0.0.1:8188/").unwrap(),
                room: 1234
            }
        );
        assert!(MeetingTarget::parse("janus+ws://h:8188/?room=abc")
            .unwrap_err()
            .to_string()
            .contains("number"));
    }

    #[test]
    fn simulated_meeting() {
        assert_eq!(
            MeetingTarget::parse("test://demo?connect_ms=20&fail=denied").unwrap(),
            MeetingTarget::Simulated {
                name: "demo".into(),
                connect_ms: 20,
                fail: Some("denied".into())
            }
        );
    }

    #[test]
    fn unknown_scheme_lists_the_forms() {
        let e = MeetingTarget::parse("sip:room@example.org")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown scheme \"sip\"") && e.contains("janus+wss"),
            "{e}"
        );
        assert!(MeetingTarget::parse("not a url").is_err());
    }
}
