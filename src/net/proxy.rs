//! The HTTP proxy every outgoing connection of the room goes through, when the network has
//! one: `[network] proxy` (with `proxy_credentials_file`), else `https_proxy` and `no_proxy`
//! from the environment (as systemd's `Environment=` passes them). Streams are tunnelled with
//! HTTP CONNECT (RFC 9110 §9.3.6); the HTTP clients get the same setting as a `reqwest::Proxy`.
//!
//! The setting is process-wide (`install`, `current`) because every client needs it and most
//! are built far from the configuration: the daemon installs it when it loads its config.

use base64::Engine;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("\"{url}\": {why}")]
    Url { url: String, why: String },
    #[error("{path}: {why}")]
    Credentials { path: PathBuf, why: String },
}

/// An HTTP proxy and the hosts reached without it.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `user:password`, sent as `Proxy-Authorization: Basic`.
    credentials: Option<String>,
    /// `no_proxy` entries: host names (matching their subdomains too), addresses, or `*`.
    bypass: Vec<String>,
}

impl std::fmt::Debug for Proxy {
    // Never the credentials: this ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url())
    }
}

impl Proxy {
    /// The proxy from the configuration, else from the environment (`lookup` is
    /// `std::env::var` in the daemon), else none.
    pub fn from_settings(
        configured: Option<&str>,
        credentials_file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        let either = |upper: &str| lookup(&upper.to_lowercase()).or_else(|| lookup(upper));
        let bypass: Vec<String> = either("NO_PROXY")
            .unwrap_or_default()
            .split(',')
            .map(|entry| entry.trim().trim_start_matches('.').to_lowercase())
            .filter(|entry| !entry.is_empty())
            .collect();
        let (url, from_config) = match configured {
            Some(url) => (url.to_string(), true),
            None => match either("HTTPS_PROXY").filter(|u| !u.trim().is_empty()) {
                Some(url) => (url, false),
                None => return Ok(None),
            },
        };
        let (host, port, in_url) = parse_url(&url)?;
        if from_config && in_url.is_some() {
            return Err(ProxyError::Url {
                url: url.clone(),
                why: "credentials go in proxy_credentials_file (mode 0600), not in the URL".into(),
            });
        }
        let credentials = match credentials_file {
            Some(path) => Some(read_credentials(path)?),
            None => in_url,
        };
        Ok(Some(Proxy {
            host,
            port,
            credentials,
            bypass,
        }))
    }

    /// `http://host:port`, without credentials.
    pub fn url(&self) -> String {
        format!("http://{}", authority(&self.host, self.port))
    }

    /// Whether `host` is reached directly (`no_proxy`).
    pub fn bypasses(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase();
        self.bypass.iter().any(|entry| {
            entry == "*"
                || *entry == host
                || host
                    .strip_suffix(entry.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    /// The same setting for reqwest's clients.
    pub fn for_reqwest(&self) -> Result<reqwest::Proxy, String> {
        let mut proxy = reqwest::Proxy::all(self.url())
            .map_err(|e| format!("proxy {}: {e}", self.url()))?
            .no_proxy(reqwest::NoProxy::from_string(&self.bypass.join(",")));
        if let Some((user, password)) = self.credentials.as_deref().and_then(|c| c.split_once(':'))
        {
            proxy = proxy.basic_auth(user, password);
        }
        Ok(proxy)
    }

    /// A tunnel to `host:port` through the proxy: the stream after a 2xx answer to CONNECT.
    pub async fn tunnel(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let proxy = self.url();
        let fail = |why: String| {
            std::io::Error::other(format!("proxy {proxy}: CONNECT {host}:{port}: {why}"))
        };
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        let target = authority(host, port);
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(credentials) = &self.credentials {
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            request.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| fail(e.to_string()))?;
        // Byte by byte up to the blank line: nothing of the tunnelled stream may be read
        // ahead into a buffer that would then be lost.
        let mut reader = BufReader::with_capacity(1, &mut stream);
        let mut status = String::new();
        reader
            .read_line(&mut status)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = status.trim_end().to_string();
        let code = status.split_whitespace().nth(1).unwrap_or_default();
        if !status.starts_with("HTTP/1.") || !code.starts_with('2') || code.len() != 3 {
            let shown = if status.is_empty() {
                "closed without an answer".to_string()
            } else {
                format!("refused: \"{status}\"")
            };
            return Err(fail(shown));
        }
        loop {
            let mut line = String::new();
            let read = reader
                .read_line(&mut line)
                .await
                .map_err(|e| fail(e.to_string()))?;
            if read == 0 {
                return Err(fail("closed during the answer".into()));
            }
            if line.trim_end().is_empty() {
                break;
            }
        }
        Ok(stream)
    }
}

/// The proxy in use by this process; none until `install`.
static CURRENT: RwLock<Option<Arc<Proxy>>> = RwLock::new(None);

/// Makes `proxy` the one every new connection uses.
pub fn install(proxy: Option<Proxy>) {
    if let Some(proxy) = &proxy {
        tracing::info!("outgoing connections go through the HTTP proxy {proxy:?}");
    }
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = proxy.map(Arc::new);
}

/// The proxy for connections to `host`, if any.
pub fn current_for(host: &str) -> Option<Arc<Proxy>> {
    let proxy = CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()?;
    (!proxy.bypasses(host)).then_some(proxy)
}

/// The proxy for HTTP clients (which apply `no_proxy` per request themselves).
pub fn current() -> Option<Arc<Proxy>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A TCP stream to `host:port`, directly or through the proxy; true when through it.
pub async fn connect(host: &str, port: u16) -> std::io::Result<(TcpStream, bool)> {
    match current_for(host) {
        Some(proxy) => Ok((proxy.tunnel(host, port).await?, true)),
        None => Ok((TcpStream::connect((host, port)).await?, false)),
    }
}

/// `http://host[:port][/]` → host, port (80 by default) and `user:password` if in it.
pub fn parse_url(url: &str) -> Result<(String, u16, Option<String>), ProxyError> {
    let bad = |why: &str| ProxyError::Url {
        url: url.to_string(),
        why: why.to_string(),
    };
    let rest = url
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| bad("expected http://host:port"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(bad("expected http://host:port, without a path"));
    }
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((userinfo, address)) => (Some(userinfo.to_string()), address),
        None => (None, rest),
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        ),
        _ => (address, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_string(), port, credentials))
}

/// `user:password` from a file only its owner can read.
pub fn read_credentials(path: &Path) -> Result<String, ProxyError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |why: String| ProxyError::Credentials {
        path: path.to_path_buf(),
        why,
    };
    let mode = std::fs::metadata(path)
        .map_err(|e| bad(format!("cannot read: {e}")))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "mode {:o}: must be readable by its owner only (chmod 600)",
            mode & 0o777
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let credentials = text.trim_end_matches(['\r', '\n']).to_string();
    if !credentials.contains(':') || credentials.contains('\n') {
        return Err(bad("expected one line user:password".into()));
    }
    Ok(credentials)
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tokio::io::AsyncReadExt;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn the_config_wins_over_the_environment_and_no_proxy_applies() {
        let environment = env(&[
            ("https_proxy", "http://env-proxy:3128"),
            ("NO_PROXY", "localhost, .intra.gouv.fr,10.0.0.1"),
        ]);
        let proxy = Proxy::from_settings(Some("http://proxy.example:8080/"), None, &environment)
            .unwrap()
            .unwrap();
        assert_eq!(proxy.url(), "http://proxy.example:8080");
        let proxy = Proxy::from_settings(None, None, &environment)
            .unwrap()
            .unwrap();
        assert_eq!(proxy.url(), "http://env-proxy:3128");
        assert!(proxy.bypasses("localhost") && proxy.bypasses("meet.intra.gouv.fr"));
        assert!(proxy.bypasses("10.0.0.1") && !proxy.bypasses("visio.numerique.gouv.fr"));
        assert!(!proxy.bypasses("notintra.gouv.fr"));
        assert_eq!(Proxy::from_settings(None, None, env(&[])).unwrap(), None);
    }

    #[test]
    fn bad_urls_and_open_credentials_files_are_named() {
        for url in [
            "proxy:3128",
            "http://proxy:99999",
            "http://proxy:3128/path",
            "http://",
        ] {
            let error = Proxy::from_settings(Some(url), None, env(&[])).unwrap_err();
            assert!(error.to_string().contains(url), "{error}");
        }
        let error = Proxy::from_settings(Some("http://u:p@proxy:3128"), None, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("proxy_credentials_file"), "{error}");

        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proxy-credentials");
        std::fs::write(&path, "salle:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_credentials(&path).unwrap_err().to_string();
        assert!(
            error.contains("proxy-credentials") && error.contains("644"),
            "{error}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_credentials(&path).unwrap(), "salle:secret");
    }

    /// A proxy that answers CONNECT with `answer`, and what it was asked.
    async fn one_answer_proxy(answer: &'static str) -> (Proxy, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            stream.write_all(answer.as_bytes()).await.unwrap();
            stream.write_all(b"tunnelled").await.unwrap();
            String::from_utf8(request).unwrap()
        });
        let proxy = Proxy {
            host: "127.0.0.1".into(),
            port,
            credentials: Some("salle:secret".into()),
            bypass: Vec::new(),
        };
        (proxy, asked)
    }

    #[tokio::test]
    async fn a_refusal_names_the_proxy_and_its_status_line() {
        let (proxy, asked) = one_answer_proxy(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
        )
        .await;
        let error = proxy
            .tunnel("turn.example.fr", 443)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&proxy.url())
                && error.contains("turn.example.fr:443")
                && error.contains("407 Proxy Authentication Required"),
            "{error}"
        );
        let request = asked.await.unwrap();
        assert!(
            request.starts_with("CONNECT turn.example.fr:443 HTTP/1.1\r\n"),
            "{request}"
        );
        // base64("salle:secret")
        assert!(
            request.contains("Proxy-Authorization: Basic c2FsbGU6c2VjcmV0\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn an_accepted_tunnel_loses_none_of_the_stream() {
        let (proxy, _asked) =
            one_answer_proxy("HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n").await;
        let mut stream = proxy.tunnel("meet.example.fr", 443).await.unwrap();
        let mut first = [0u8; 9];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"tunnelled");
    }
}
