//! Opening the signalling WebSockets (LiveKit, Janus): the TCP stream from `proxy::connect`
//! (direct, or a CONNECT tunnel), then TLS and the WebSocket handshake on it.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, handshake::client::Response};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What `tokio_tungstenite::connect_async` does, through the room's proxy when it has one.
pub async fn connect(
    request: impl IntoClientRequest + Unpin,
) -> Result<(Socket, Response), tungstenite::Error> {
    let request = request.into_client_request()?;
    let uri = request.uri();
    let host = uri
        .host()
        .ok_or(tungstenite::Error::Url(
            tungstenite::error::UrlError::NoHostName,
        ))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });
    let (stream, _) = super::proxy::connect(&host, port).await?;
    tokio_tungstenite::client_async_tls(request, stream).await
}
