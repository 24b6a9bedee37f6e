//! WHIP (RFC 9725) and WHEP: one HTTP exchange sets a WebRTC session up, DELETE ends it.
//!
//! Both work the same way for the client: POST the SDP offer (`application/sdp`), get
//! `201 Created` with the answer and a `Location` for the session resource; ICE servers may
//! come in `Link: <turn:...>; rel="ice-server"` headers (on an OPTIONS before the offer, or
//! with the answer); an ICE restart or trickled candidates go by PATCH
//! (`application/trickle-ice-sdpfrag`); DELETE ends the session. WHIP publishes, WHEP plays.

use super::http::excerpt;
use crate::rtc::peer::IceServer;
use crate::rtc::recovery::RestartError;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, IF_MATCH, LINK, LOCATION};
use reqwest::{Client, StatusCode};
use std::time::Duration;
use url::Url;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// What PATCH carries: ICE lines of an SDP (RFC 8840).
const SDP_FRAGMENT: &str = "application/trickle-ice-sdpfrag";

/// Which of the two protocols, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Whip,
    Whep,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Whip => "WHIP",
            Protocol::Whep => "WHEP",
        }
    }
}

/// The client side of one WHIP or WHEP endpoint.
#[derive(Debug, Clone)]
pub struct HttpSignalling {
    protocol: Protocol,
    endpoint: Url,
    token: Option<String>,
    client: Client,
}

/// A session the server created: where it lives, and the server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub resource: Url,
    pub answer: String,
    pub ice_servers: Vec<IceServer>,
}

impl HttpSignalling {
    pub fn new(protocol: Protocol, endpoint: Url, token: Option<String>) -> Result<Self, String> {
        let client = super::http::client(TIMEOUT)?;
        Ok(HttpSignalling {
            protocol,
            endpoint,
            token,
            client,
        })
    }

    /// The ICE servers the endpoint offers before any session (an OPTIONS request). Many
    /// servers do not answer OPTIONS: no servers then, not an error.
    pub async fn ice_servers(&self) -> Vec<IceServer> {
        let request = self.authorised(
            self.client
                .request(reqwest::Method::OPTIONS, self.endpoint.clone()),
        );
        match request.send().await {
            Ok(response) if response.status().is_success() => ice_servers(response.headers()),
            _ => Vec::new(),
        }
    }

    /// Sends the offer; the server's answer creates the session.
    pub async fn create(&self, offer: &str) -> Result<Created, String> {
        let response = self
            .authorised(self.client.post(self.endpoint.clone()))
            .header(CONTENT_TYPE, "application/sdp")
            .body(offer.to_string())
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| self.failed(&e))?;
        if status != StatusCode::CREATED {
            return Err(self.refused(status, &body));
        }
        let resource = headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| self.says("answered 201 without a Location"))
            .and_then(|l| {
                self.endpoint
                    .join(l)
                    .map_err(|e| self.says(&format!("gave a bad Location {l:?}: {e}")))
            })?;
        if !body.trim_start().starts_with("v=0") {
            return Err(self.says(&format!(
                "answered with something that is not SDP: {}",
                excerpt(&body)
            )));
        }
        Ok(Created {
            resource,
            answer: body,
            ice_servers: ice_servers(&headers),
        })
    }

    /// Whether the server answers within `limit` (any answer to OPTIONS will do): the
    /// signalling works now.
    pub async fn reachable(&self, limit: Duration) -> Result<(), RestartError> {
        let request = self
            .client
            .request(reqwest::Method::OPTIONS, self.endpoint.clone())
            .timeout(limit);
        match self.authorised(request).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(RestartError::Unreachable(self.failed(&e))),
        }
    }

    /// Restarts ICE on a session (RFC 9725 section 4.4.2): our fragment with new credentials
    /// and candidates out, the server's back.
    pub async fn restart_ice(
        &self,
        resource: &Url,
        fragment: &str,
    ) -> Result<String, RestartError> {
        let response = self
            .authorised(self.client.patch(resource.clone()))
            .header(CONTENT_TYPE, SDP_FRAGMENT)
            // A restart matches any version of the session (quoted, as in the RFC's example
            // and what servers compare with).
            .header(IF_MATCH, "\"*\"")
            .body(fragment.to_string())
            .send()
            .await
            .map_err(|e| RestartError::Unreachable(self.failed(&e)))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| RestartError::Unreachable(self.failed(&e)))?;
        match status {
            StatusCode::OK => Ok(body),
            // Not there now (a proxy, a restarting server): the next attempt may get through.
            StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => {
                Err(RestartError::Unreachable(self.refused(status, &body)))
            }
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
                Err(RestartError::Refused(self.says(&format!(
                    "cannot restart ICE (it answered {status})"
                ))))
            }
            _ => Err(RestartError::Refused(self.refused(status, &body))),
        }
    }

    /// Ends the session (leaving the meeting). Errors are only worth a log line: the server
    /// times the session out anyway.
    pub async fn delete(&self, resource: &Url) -> Result<(), String> {
        let response = self
            .authorised(self.client.delete(resource.clone()))
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(self.refused(status, &body))
        }
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    /// "WHIP" or "WHEP".
    pub fn protocol(&self) -> &'static str {
        self.protocol.name()
    }

    /// `what`, said about this server: "WHIP server URL: what".
    pub fn says(&self, what: &str) -> String {
        format!("{} server {}: {what}", self.protocol.name(), self.endpoint)
    }

    fn failed(&self, e: &reqwest::Error) -> String {
        self.says(&super::http::describe(e))
    }

    fn refused(&self, status: StatusCode, body: &str) -> String {
        let hint = match status.as_u16() {
            401 | 403 => " (check the meeting's token)",
            404 => " (no such endpoint)",
            _ => "",
        };
        let body = excerpt(body);
        let body = if body.is_empty() {
            String::new()
        } else {
            format!(": {body}")
        };
        self.says(&format!("refused with {status}{hint}{body}"))
    }
}

/// ICE servers from `Link` headers (RFC 9725 section 4.6):
/// `<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="p"`.
pub fn ice_servers(headers: &HeaderMap) -> Vec<IceServer> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .filter_map(|link| parse_link(&link))
        .collect()
}

/// One header may carry several links separated by commas (outside the angle brackets and
/// quotes).
fn split_links(header: &str) -> Vec<String> {
    let (mut links, mut current) = (Vec::new(), String::new());
    let (mut in_brackets, mut in_quotes) = (false, false);
    for c in header.chars() {
        match c {
            '<' if !in_quotes => in_brackets = true,
            '>' if !in_quotes => in_brackets = false,
            '"' => in_quotes = !in_quotes,
            ',' if !in_brackets && !in_quotes => {
                links.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    links.push(current);
    links
}

fn parse_link(link: &str) -> Option<IceServer> {
    let link = link.trim();
    let end = link.find('>')?;
    let url = link.strip_prefix('<')?[..end - 1].trim().to_string();
    let mut server = IceServer {
        urls: vec![url],
        ..IceServer::default()
    };
    let mut is_ice_server = false;
    for parameter in link[end + 1..].split(';') {
        let Some((key, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "rel" => is_ice_server = value.eq_ignore_ascii_case("ice-server"),
            "username" => server.username = value,
            "credential" => server.credential = value,
            _ => {}
        }
    }
    let scheme_ok = ["stun:", "stuns:", "turn:", "turns:"]
        .iter()
        .any(|s| server.urls[0].starts_with(s));
    (is_ice_server && scheme_ok).then_some(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn ice_servers_from_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(
                r#"<stun:stun.example.net>; rel="ice-server", <turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my,pass"; credential-type="password""#,
            ),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(r#"<https://example.net/doc>; rel="help""#),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(r#"<turns:turn.example.net:443?transport=tcp>; rel=ice-server; username=u; credential=p"#),
        );
        let servers = ice_servers(&headers);
        assert_eq!(servers.len(), 3, "{servers:?}");
        assert_eq!(servers[0].urls, ["stun:stun.example.net"]);
        assert_eq!(servers[1].urls, ["turn:turn.example.net?transport=udp"]);
        assert_eq!(
            (servers[1].username.as_str(), servers[1].credential.as_str()),
            ("user", "my,pass")
        );
        assert_eq!(
            servers[2].urls,
            ["turns:turn.example.net:443?transport=tcp"]
        );
    }
}
