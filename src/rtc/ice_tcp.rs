//! ICE over TCP (RFC 6544) toward servers' passive candidates (LiveKit's 7881). webrtc-rs 0.21
//! gathers TCP candidates once given TCP addresses, but dials a remote passive candidate only
//! when it arrives through `add_ice_candidate`, not in a remote description: the ones in a
//! description are picked out here to be added again that way.

/// A remote candidate as `add_ice_candidate` takes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteCandidate {
    pub candidate: String,
    #[serde(rename = "sdpMid")]
    pub sdp_mid: Option<String>,
    #[serde(rename = "sdpMLineIndex")]
    pub sdp_mline_index: u16,
}

/// The passive TCP candidates in `sdp`, each with its media section.
pub fn passive_tcp_candidates(sdp: &str) -> Vec<RemoteCandidate> {
    let mut found = Vec::new();
    let mut index: Option<u16> = None;
    let mut mid: Option<String> = None;
    let mut pending = Vec::new();
    let mut flush = |index: Option<u16>, mid: &Option<String>, pending: &mut Vec<String>| {
        for candidate in pending.drain(..) {
            found.push(RemoteCandidate {
                candidate,
                sdp_mid: mid.clone(),
                sdp_mline_index: index.unwrap_or(0),
            });
        }
    };
    for line in sdp.lines().map(str::trim) {
        if line.starts_with("m=") {
            flush(index, &mid, &mut pending);
            index = Some(index.map_or(0, |i| i + 1));
            mid = None;
        } else if let Some(value) = line.strip_prefix("a=mid:") {
            mid = Some(value.to_string());
        } else if let Some(candidate) = line.strip_prefix("a=") {
            if is_passive_tcp(candidate) {
                pending.push(candidate.to_string());
            }
        }
    }
    flush(index, &mid, &mut pending);
    found
}

/// `candidate:<foundation> <component> TCP <priority> <address> <port> typ host tcptype passive`
fn is_passive_tcp(line: &str) -> bool {
    let Some(fields) = line.strip_prefix("candidate:") else {
        return false;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    fields.get(2).is_some_and(|t| t.eq_ignore_ascii_case("tcp"))
        && fields
            .windows(2)
            .any(|w| w[0] == "tcptype" && w[1] == "passive")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_tcp_candidates_are_found_with_their_section() {
        let sdp = "v=0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=mid:0\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n\
            a=candidate:2 1 tcp 1671430143 127.0.0.1 7881 typ host tcptype passive\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
            a=mid:1\r\n\
            a=candidate:3 1 TCP 1671430143 10.0.0.1 7881 typ host tcptype passive\r\n\
            a=candidate:4 1 tcp 1671430143 10.0.0.1 9 typ host tcptype active\r\n";
        let found = passive_tcp_candidates(sdp);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0].candidate,
            "candidate:2 1 tcp 1671430143 127.0.0.1 7881 typ host tcptype passive"
        );
        assert_eq!(
            (found[0].sdp_mid.as_deref(), found[0].sdp_mline_index),
            (Some("0"), 0)
        );
        assert_eq!(
            (found[1].sdp_mid.as_deref(), found[1].sdp_mline_index),
            (Some("1"), 1)
        );
    }
}
