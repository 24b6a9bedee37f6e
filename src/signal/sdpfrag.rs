//! SDP fragments for an ICE restart over WHIP/WHEP (RFC 9725 section 4.4.2, RFC 8840): only
//! the ICE lines travel, not a new offer and answer. Ours is cut from the restart offer; the
//! server's is put into its last answer, which gives the answer the peer connection needs.

/// The fragment of our restart offer: the session's ICE options and BUNDLE group, then the
/// first media section (the bundle's) with its mid, new credentials and candidates.
pub fn restart_fragment(offer: &str) -> Result<String, String> {
    let (session, media) = split(offer);
    let first = media
        .first()
        .ok_or("the restart offer has no media section")?;
    let mut fragment: Vec<&str> = session
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=ice-options:") || l.starts_with("a=group:BUNDLE"))
        .collect();
    fragment.push(first[0]);
    let ice = |line: &&str| {
        ["a=mid:", "a=ice-ufrag:", "a=ice-pwd:", "a=candidate:"]
            .iter()
            .any(|p| line.starts_with(p))
            || *line == "a=end-of-candidates"
    };
    // Credentials may be given once for the session rather than per media section.
    fragment.extend(session.iter().copied().filter(|l| credential(l)));
    fragment.extend(first.iter().skip(1).copied().filter(ice));
    if !fragment.iter().any(|l| l.starts_with("a=ice-ufrag:")) {
        return Err("the restart offer has no ICE credentials".into());
    }
    if !fragment.contains(&"a=end-of-candidates") {
        fragment.push("a=end-of-candidates"); // They were all gathered before the offer.
    }
    Ok(fragment.iter().map(|l| format!("{l}\r\n")).collect())
}

/// The answer to our restart offer: the server's last answer with the credentials of its
/// fragment, and its candidates when it gave any (else the old ones: same server, same
/// addresses).
pub fn apply_fragment(previous_answer: &str, fragment: &str) -> Result<String, String> {
    let lines: Vec<&str> = fragment.lines().map(str::trim_end).collect();
    let value = |prefix: &str| lines.iter().find_map(|l| l.strip_prefix(prefix));
    let (Some(ufrag), Some(pwd)) = (value("a=ice-ufrag:"), value("a=ice-pwd:")) else {
        return Err(format!(
            "its ICE restart answer has no a=ice-ufrag/a=ice-pwd: {}",
            super::http::excerpt(fragment)
        ));
    };
    let candidates: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    let ended = lines.contains(&"a=end-of-candidates");
    let (session, media) = split(previous_answer);
    let mut answer: Vec<String> = Vec::new();
    for line in session {
        answer.push(match line {
            l if l.starts_with("o=") => newer_origin(l),
            l => updated(l, ufrag, pwd),
        });
    }
    for (index, section) in media.iter().enumerate() {
        for line in section {
            let candidate = line.starts_with("a=candidate:") || *line == "a=end-of-candidates";
            let replaced = candidate && !candidates.is_empty();
            if !replaced {
                answer.push(updated(line, ufrag, pwd));
            }
        }
        // The new candidates go to the bundle's section, the first.
        if index == 0 && !candidates.is_empty() {
            answer.extend(candidates.iter().map(|c| c.to_string()));
            if ended {
                answer.push("a=end-of-candidates".into());
            }
        }
    }
    Ok(answer.iter().map(|l| format!("{l}\r\n")).collect())
}

fn credential(line: &str) -> bool {
    line.starts_with("a=ice-ufrag:") || line.starts_with("a=ice-pwd:")
}

fn updated(line: &str, ufrag: &str, pwd: &str) -> String {
    if line.starts_with("a=ice-ufrag:") {
        format!("a=ice-ufrag:{ufrag}")
    } else if line.starts_with("a=ice-pwd:") {
        format!("a=ice-pwd:{pwd}")
    } else {
        line.to_string()
    }
}

/// `o=` with its session version one up: this is a new description of the same session.
fn newer_origin(line: &str) -> String {
    let mut fields: Vec<String> = line.split(' ').map(String::from).collect();
    if let Some(version) = fields.get(2).and_then(|v| v.parse::<u64>().ok()) {
        fields[2] = (version + 1).to_string();
    }
    fields.join(" ")
}

/// The session-level lines, and each media section's lines (its `m=` line first).
fn split(sdp: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let mut session = Vec::new();
    let mut media: Vec<Vec<&str>> = Vec::new();
    for line in sdp.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            media.push(vec![line]);
        } else if let Some(section) = media.last_mut() {
            section.push(line);
        } else {
            session.push(line);
        }
    }
    (session, media)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 123 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        a=ice-options:trickle\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\n\
        a=mid:0\r\na=ice-ufrag:NEWu\r\na=ice-pwd:NEWpassword\r\na=rtpmap:102 H264/90000\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=ice-ufrag:NEWu\r\na=ice-pwd:NEWpassword\r\n";

    const ANSWER: &str = "v=0\r\no=janus 77 5 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:0\r\n\
        a=ice-ufrag:old1\r\na=ice-pwd:oldpassword\r\n\
        a=candidate:1 1 udp 2015363327 127.0.0.1 24081 typ host\r\na=end-of-candidates\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=ice-ufrag:old1\r\na=ice-pwd:oldpassword\r\n";

    #[test]
    fn our_fragment_is_the_bundle_sections_ice_lines() {
        let fragment = restart_fragment(OFFER).unwrap();
        assert_eq!(
            fragment,
            "a=group:BUNDLE 0 1\r\na=ice-options:trickle\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
             a=mid:0\r\na=ice-ufrag:NEWu\r\na=ice-pwd:NEWpassword\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"
        );
        assert!(restart_fragment("v=0\r\n").is_err());
    }

    #[test]
    fn credentials_alone_keep_the_old_candidates() {
        // What simple-whip-server (Janus) answers.
        let answer =
            apply_fragment(ANSWER, "a=ice-ufrag:srv2\r\na=ice-pwd:serverpassword\r\n").unwrap();
        assert_eq!(answer.matches("a=ice-ufrag:srv2\r\n").count(), 2);
        assert_eq!(answer.matches("a=ice-pwd:serverpassword\r\n").count(), 2);
        assert!(!answer.contains("old1"));
        assert!(answer.contains("a=candidate:1 1 udp 2015363327 127.0.0.1 24081 typ host\r\n"));
        assert!(answer.contains("o=janus 77 6 IN IP4"), "{answer}");
    }

    #[test]
    fn new_candidates_replace_the_old_ones_in_the_bundle_section() {
        let fragment = "a=ice-lite\r\na=group:BUNDLE 0 1\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
            a=mid:0\r\na=ice-ufrag:srv2\r\na=ice-pwd:serverpassword\r\n\
            a=candidate:1 1 udp 2130706431 198.51.100.1 39132 typ host\r\na=end-of-candidates\r\n";
        let answer = apply_fragment(ANSWER, fragment).unwrap();
        assert!(!answer.contains("24081"), "{answer}");
        let video = &answer[answer.find("m=video").unwrap()..answer.find("m=audio").unwrap()];
        assert!(video.ends_with(
            "a=candidate:1 1 udp 2130706431 198.51.100.1 39132 typ host\r\na=end-of-candidates\r\n"
        ));
        assert!(apply_fragment(ANSWER, "a=end-of-candidates\r\n")
            .unwrap_err()
            .contains("no a=ice-ufrag"));
    }
}
