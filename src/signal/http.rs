//! The HTTP client every meeting service and the calendar use: rustls with the system's
//! roots, timeouts, the room's proxy (`net::proxy`: reqwest's own reading of the environment
//! is off, so that the configuration decides), and errors that say what went wrong without the library's nesting.

use std::time::Duration;

/// A client with `timeout` per request.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // rustls needs one crypto provider for the process; ring is already in for DTLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .no_proxy();
    if let Some(proxy) = crate::net::proxy::current() {
        builder = builder.proxy(proxy.for_reqwest()?);
    }
    builder
        .cookie_store(true)
        .user_agent(concat!("salle/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {}", describe(&e)))
}

/// An error's chain of causes, in one line.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How much of a server's text goes into an error message.
const EXCERPT_CHARS: usize = 200;

/// The first line of a server's answer, shortened: enough to recognise an error page.
pub fn excerpt(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or_default().trim();
    let mut text: String = line.chars().take(EXCERPT_CHARS).collect();
    if line.chars().count() > EXCERPT_CHARS {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_shortened_to_their_first_line() {
        let long = format!("{}\nsecond line", "x".repeat(500));
        let text = excerpt(&long);
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
        assert!(text.ends_with('…'));
        assert_eq!(excerpt("  bad request \nmore"), "bad request");
    }
}
