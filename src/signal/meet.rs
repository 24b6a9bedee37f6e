//! La Suite Meet (Visio): from a meeting URL `https://<host>/<slug>` to LiveKit credentials,
//! through the lobby when the room is not public. The routes and shapes are La Suite Meet's
//! Django REST API (docs/architecture.md, "Facts the code relies on"):
//!
//! - `GET /api/v1.0/config/`: the LiveKit server (`livekit.url`);
//! - `GET /api/v1.0/rooms/<slug>/?username=<name>`: the room, with `livekit {url, room, token}`
//!   when the caller may enter at once;
//! - `POST /api/v1.0/rooms/<id>/request-entry/` `{"username"}`: the lobby; the first answer sets
//!   the `lobbyParticipantId` cookie, and the entry is only kept while it is polled (about
//!   every second), until the host admits or denies it.

use super::http::{self, excerpt};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use url::Url;

/// One request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the lobby is polled: La Suite Meet forgets a waiting entry after about 3 s.
pub const LOBBY_POLL: Duration = Duration::from_secs(1);

/// Where and how to join the room's LiveKit meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKitAccess {
    pub url: Url,
    pub token: String,
}

/// A La Suite Meet room, as the room device asks for it.
pub struct MeetRoom {
    base: Url,
    slug: String,
    /// The name the others see (the device cannot rename itself later).
    username: String,
    client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct LiveKitCredentials {
    #[serde(default)]
    url: Option<String>,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Room {
    /// None for a slug that is not a registered room: La Suite Meet lets anyone into such a
    /// meeting (`ALLOW_UNREGISTERED_ROOMS`, on by default) and answers `"id": null` with the
    /// credentials (`RoomViewSet.retrieve`); there is no lobby to ask then.
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    livekit: Option<LiveKitCredentials>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    status: String,
    #[serde(default)]
    livekit: Option<LiveKitCredentials>,
}

/// What one lobby poll says.
#[derive(Debug, PartialEq, Eq)]
pub enum Lobby {
    Waiting,
    Admitted(LiveKitAccess),
    Denied,
}

/// A room's slug as La Suite Meet's frontend normalises what people type
/// (`normalizeRoomId` in `features/rooms/utils/isRoomValid.ts`): ten letters or digits, in any
/// case, with or without the hyphens, become `abc-defg-hij`; anything else is left as it is.
pub fn normalize_slug(slug: &str) -> String {
    let clean: String = slug.to_lowercase().chars().filter(|c| *c != '-').collect();
    if clean.chars().count() == 10 && clean.chars().all(|c| c.is_ascii_alphanumeric()) {
        format!("{}-{}-{}", &clean[..3], &clean[3..7], &clean[7..])
    } else {
        slug.to_string()
    }
}

impl MeetRoom {
    pub fn new(base: Url, slug: String, username: String) -> Result<MeetRoom, String> {
        Ok(MeetRoom {
            base,
            slug: normalize_slug(&slug),
            username,
            client: http::client(REQUEST_TIMEOUT)?,
        })
    }

    /// What people read while the room waits in the lobby.
    pub fn waiting_text(&self) -> String {
        format!("waiting for the host to admit {}", self.username)
    }

    /// The LiveKit credentials: at once for a room the device may enter, otherwise after the
    /// lobby admits it (`waiting` is called once, when the wait starts). Cancel the future to
    /// stop waiting. Errors name the server, the request and what it answered.
    pub async fn enter(&self, waiting: impl Fn(String)) -> Result<LiveKitAccess, String> {
        let server_url = self.livekit_server().await?;
        let path = format!("/api/v1.0/rooms/{}/", self.slug);
        let mut url = self.api(&path)?;
        url.query_pairs_mut()
            .append_pair("username", &self.username);
        let room: Room = self
            .json(self.client.get(url), &format!("GET {path}"))
            .await?;
        if let Some(credentials) = room.livekit {
            return self.access(credentials, server_url.as_ref());
        }
        let Some(id) = room.id else {
            return Err(self.says(&format!(
                "GET {path}: neither LiveKit credentials nor a room to ask to enter"
            )));
        };
        // Not public: ask to enter, and keep asking (the poll is what keeps the entry alive).
        let mut told = false;
        loop {
            match self.request_entry(&id, server_url.as_ref()).await? {
                Lobby::Admitted(access) => return Ok(access),
                Lobby::Denied => {
                    return Err(self.says(&format!("the host did not admit {}", self.username)))
                }
                Lobby::Waiting => {
                    if !told {
                        waiting(self.waiting_text());
                        told = true;
                    }
                }
            }
            tokio::time::sleep(LOBBY_POLL).await;
        }
    }

    /// One lobby poll. The cookie store keeps `lobbyParticipantId` between polls.
    async fn request_entry(&self, id: &str, server_url: Option<&Url>) -> Result<Lobby, String> {
        let path = format!("/api/v1.0/rooms/{id}/request-entry/");
        let request = self
            .client
            .post(self.api(&path)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json!({ "username": self.username }).to_string());
        let entry: Entry = self.json(request, &format!("POST {path}")).await?;
        match entry.status.as_str() {
            "accepted" => match entry.livekit {
                Some(credentials) => Ok(Lobby::Admitted(self.access(credentials, server_url)?)),
                None => Err(self.says(&format!(
                    "POST {path}: accepted without LiveKit credentials"
                ))),
            },
            "denied" => Ok(Lobby::Denied),
            "waiting" => Ok(Lobby::Waiting),
            other => Err(self.says(&format!("POST {path}: unknown lobby status {other:?}"))),
        }
    }

    /// The LiveKit server from the instance's configuration, when it says.
    async fn livekit_server(&self) -> Result<Option<Url>, String> {
        let path = "/api/v1.0/config/";
        let config: Value = self
            .json(self.client.get(self.api(path)?), &format!("GET {path}"))
            .await?;
        Ok(config["livekit"]["url"]
            .as_str()
            .and_then(|u| Url::parse(u).ok()))
    }

    fn access(
        &self,
        credentials: LiveKitCredentials,
        server_url: Option<&Url>,
    ) -> Result<LiveKitAccess, String> {
        let url = match credentials.url.as_deref().map(Url::parse) {
            Some(Ok(url)) => url,
            Some(Err(e)) => return Err(self.says(&format!("a bad LiveKit URL: {e}"))),
            None => server_url
                .cloned()
                .ok_or_else(|| self.says("no LiveKit server in the room or the configuration"))?,
        };
        Ok(LiveKitAccess {
            url,
            token: credentials.token,
        })
    }

    fn api(&self, path: &str) -> Result<Url, String> {
        self.base
            .join(path)
            .map_err(|e| self.says(&format!("{path}: {e}")))
    }

    /// Sends a request and reads a JSON answer of type `T`; every failure names the request.
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, String> {
        let response = request
            .send()
            .await
            .map_err(|e| self.says(&format!("{what}: {}", http::describe(&e))))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| self.says(&format!("{what}: {}", http::describe(&e))))?;
        if !status.is_success() {
            let hint = match status {
                StatusCode::NOT_FOUND => " (no such room)",
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    " (the room does not let this device in)"
                }
                _ => "",
            };
            return Err(self.says(&format!(
                "{what}: refused with {status}{hint}: {}",
                excerpt(&body)
            )));
        }
        serde_json::from_str(&body).map_err(|e| {
            self.says(&format!(
                "{what}: an answer the room cannot read ({e}): {}",
                excerpt(&body)
            ))
        })
    }

    fn says(&self, what: &str) -> String {
        format!(
            "La Suite Meet {}: {what}",
            self.base.as_str().trim_end_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_normalised_as_meets_frontend_does() {
        assert_eq!(normalize_slug("abcdefghij"), "abc-defg-hij");
        assert_eq!(normalize_slug("ABC-DEFG-HIJ"), "abc-defg-hij");
        assert_eq!(normalize_slug("AbcDefg-hij"), "abc-defg-hij");
        assert_eq!(normalize_slug("salle-test"), "salle-test");
        assert_eq!(normalize_slug("Réunion-Hebdo"), "Réunion-Hebdo");
    }

    #[test]
    fn an_unregistered_room_has_a_null_id_and_credentials() {
        let room: Room = serde_json::from_str(
            r#"{"id": null, "slug": "x", "is_administrable": false, "access_level": "public",
                "livekit": {"url": "wss://lk", "room": "x", "token": "t"}}"#,
        )
        .unwrap();
        assert_eq!(room.id, None);
        assert_eq!(room.livekit.unwrap().token, "t");
    }
}
