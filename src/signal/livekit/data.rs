//! What arrives on LiveKit's data channels: captions (the transcription agent's `Transcription`
//! packets and `lk.transcription` text streams) and the others' JSON messages. Pure: bytes in,
//! caption lines out.
//!
//! La Suite Meet's web client parses every data packet as JSON, so the meeting's convention is
//! JSON only; anything else from a participant is ignored, never acted on.

pub use crate::rtc::stats::CaptionLine;
use livekit_protocol::{data_packet, data_stream, DataPacket};
use prost::Message as _;
use std::collections::{HashMap, VecDeque};

/// The topic of LiveKit's transcription text streams.
pub const TRANSCRIPTION_TOPIC: &str = "lk.transcription";

/// How many caption lines the room keeps (the screen shows the last two or three).
const LINES: usize = 3;

/// What one data packet meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The captions changed.
    Captions,
    /// A participant's JSON message (`{"type": ...}`) and who sent it (their identity), for
    /// whoever cares.
    Json {
        from: String,
        value: serde_json::Value,
    },
    /// Nothing the room acts on; why, for the log.
    Ignored(String),
}

/// The captions being built.
///
/// A LiveKit Agents transcriber (what La Suite Meet runs) sends every caption twice: as
/// `Transcription` packets and as `lk.transcription` text streams, under different segment ids.
/// The packets win (Meet's own UI shows those): once one came, streams are ignored and the
/// lines they made are dropped. Streams alone (an agent sending only those) are shown.
#[derive(Debug, Default)]
pub struct Captions {
    /// Newest last; keyed by segment so a growing segment updates its line.
    lines: VecDeque<(String, CaptionLine)>,
    /// Open text streams, by stream id.
    streams: HashMap<String, Stream>,
    /// Segments whose line came from a text stream.
    from_streams: Vec<String>,
    /// A `Transcription` packet came: streams repeat them.
    packets_seen: bool,
}

/// One open `lk.transcription` text stream. Its chunks add up to its text; an agent sends
/// either one stream per segment growing chunk by chunk, or one new stream per interim, each
/// with the segment's whole text so far (user speech): the line is the stream's text.
#[derive(Debug)]
struct Stream {
    segment: String,
    speaker: String,
    is_final: bool,
    text: String,
}

impl Captions {
    /// The current lines, oldest first.
    pub fn lines(&self) -> Vec<CaptionLine> {
        self.lines.iter().map(|(_, line)| line.clone()).collect()
    }

    /// Takes one data packet; `name` turns a participant identity into the name people see.
    pub fn receive(&mut self, bytes: &[u8], name: impl Fn(&str) -> String) -> Received {
        let packet = match DataPacket::decode(bytes) {
            Ok(packet) => packet,
            Err(e) => return Received::Ignored(format!("not a data packet: {e}")),
        };
        let sender = packet.participant_identity.clone();
        match packet.value {
            Some(data_packet::Value::Transcription(transcription)) => {
                if !self.packets_seen {
                    self.packets_seen = true;
                    self.streams.clear();
                    let from_streams = std::mem::take(&mut self.from_streams);
                    self.lines.retain(|(id, _)| !from_streams.contains(id));
                }
                let speaker = name(&transcription.transcribed_participant_identity);
                for segment in transcription.segments {
                    self.set(&segment.id, &speaker, &segment.text, segment.r#final);
                }
                Received::Captions
            }
            Some(data_packet::Value::StreamHeader(header)) => self.stream_header(header, &sender),
            Some(data_packet::Value::StreamChunk(chunk)) => {
                let Some(stream) = self.streams.get_mut(&chunk.stream_id) else {
                    return Received::Ignored("a chunk of a stream that is not captions".into());
                };
                stream
                    .text
                    .push_str(&String::from_utf8_lossy(&chunk.content));
                let (segment, speaker, text) = (
                    stream.segment.clone(),
                    name(&stream.speaker),
                    stream.text.clone(),
                );
                self.set(&segment, &speaker, &text, false);
                self.from_streams.push(segment);
                Received::Captions
            }
            Some(data_packet::Value::StreamTrailer(trailer)) => {
                let Some(stream) = self.streams.remove(&trailer.stream_id) else {
                    return Received::Ignored("the end of a stream that is not captions".into());
                };
                // A growing stream says it is final when it closes.
                let is_final = trailer
                    .attributes
                    .get("lk.transcription_final")
                    .map_or(stream.is_final, |v| v == "true");
                if let Some((_, line)) = self.lines.iter_mut().find(|(id, _)| *id == stream.segment)
                {
                    line.is_final = is_final;
                }
                Received::Captions
            }
            Some(data_packet::Value::User(user)) => {
                match serde_json::from_slice::<serde_json::Value>(&user.payload) {
                    Ok(value) if value.is_object() => Received::Json {
                        from: sender,
                        value,
                    },
                    _ => Received::Ignored(format!(
                        "a data packet from {sender} that is not a JSON object ({} bytes)",
                        user.payload.len()
                    )),
                }
            }
            Some(_) => Received::Ignored("a data packet of a kind the room does not use".into()),
            None => Received::Ignored("an empty data packet".into()),
        }
    }

    fn stream_header(&mut self, header: data_stream::Header, sender: &str) -> Received {
        if header.topic != TRANSCRIPTION_TOPIC {
            return Received::Ignored(format!("a {} stream", header.topic));
        }
        if self.packets_seen {
            return Received::Ignored("a caption stream repeating the packets".into());
        }
        // The agent sends the speaker's identity as the stream's attribute when it is not the
        // sender (LiveKit Agents: lk.transcribed_track_id / lk.segment_id / lk.transcription_final).
        let attribute = |key: &str| header.attributes.get(key).cloned();
        let segment = attribute("lk.segment_id").unwrap_or_else(|| header.stream_id.clone());
        let speaker =
            attribute("lk.transcribed_participant_identity").unwrap_or_else(|| sender.to_string());
        let is_final = attribute("lk.transcription_final").is_none_or(|v| v == "true");
        let stream = Stream {
            segment,
            speaker,
            is_final,
            text: String::new(),
        };
        self.streams.insert(header.stream_id.clone(), stream);
        Received::Captions
    }

    /// Sets the line of `segment` (a new line for a new segment).
    fn set(&mut self, segment: &str, speaker: &str, text: &str, is_final: bool) {
        if let Some((_, line)) = self.lines.iter_mut().find(|(id, _)| id == segment) {
            line.text = text.to_string();
            line.is_final = is_final;
            return;
        }
        self.lines.push_back((
            segment.to_string(),
            CaptionLine {
                speaker: speaker.to_string(),
                text: text.to_string(),
                is_final,
            },
        ));
        while self.lines.len() > LINES {
            if let Some((gone, _)) = self.lines.pop_front() {
                self.from_streams.retain(|id| *id != gone);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol::{Transcription, TranscriptionSegment, UserPacket};

    fn packet(from: &str, value: data_packet::Value) -> Vec<u8> {
        DataPacket {
            participant_identity: from.into(),
            value: Some(value),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn transcription(who: &str, id: &str, text: &str, is_final: bool) -> Vec<u8> {
        packet(
            "agent",
            data_packet::Value::Transcription(Transcription {
                transcribed_participant_identity: who.into(),
                track_id: "TR_mic".into(),
                segments: vec![TranscriptionSegment {
                    id: id.into(),
                    text: text.into(),
                    r#final: is_final,
                    ..Default::default()
                }],
            }),
        )
    }

    fn names(identity: &str) -> String {
        match identity {
            "u-1" => "Alice".into(),
            other => other.into(),
        }
    }

    #[test]
    fn a_growing_segment_updates_its_line_and_old_lines_scroll_away() {
        let mut captions = Captions::default();
        captions.receive(&transcription("u-1", "s1", "Bonjour", false), names);
        captions.receive(&transcription("u-1", "s1", "Bonjour à tous", true), names);
        assert_eq!(
            captions.lines(),
            vec![CaptionLine {
                speaker: "Alice".into(),
                text: "Bonjour à tous".into(),
                is_final: true
            }]
        );
        for i in 2..=5 {
            captions.receive(&transcription("u-2", &format!("s{i}"), "…", true), names);
        }
        let lines = captions.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.speaker == "u-2"));
    }

    #[test]
    fn a_transcription_text_stream_becomes_a_line() {
        let mut captions = Captions::default();
        let mut attributes = HashMap::new();
        attributes.insert("lk.segment_id".to_string(), "seg".to_string());
        attributes.insert("lk.transcription_final".to_string(), "true".to_string());
        let header = data_stream::Header {
            stream_id: "st".into(),
            topic: TRANSCRIPTION_TOPIC.into(),
            attributes,
            ..Default::default()
        };
        captions.receive(
            &packet("u-1", data_packet::Value::StreamHeader(header)),
            names,
        );
        for part in ["Le budget ", "est voté."] {
            let chunk = data_stream::Chunk {
                stream_id: "st".into(),
                content: part.as_bytes().to_vec(),
                ..Default::default()
            };
            captions.receive(
                &packet("u-1", data_packet::Value::StreamChunk(chunk)),
                names,
            );
        }
        let trailer = data_stream::Trailer {
            stream_id: "st".into(),
            ..Default::default()
        };
        captions.receive(
            &packet("u-1", data_packet::Value::StreamTrailer(trailer)),
            names,
        );
        assert_eq!(
            captions.lines(),
            vec![CaptionLine {
                speaker: "Alice".into(),
                text: "Le budget est voté.".into(),
                is_final: true
            }]
        );
    }

    /// One `lk.transcription` stream of `parts` for segment `segment`, as an agent sends it.
    fn stream(id: &str, segment: &str, parts: &[&str], is_final: bool) -> Vec<Vec<u8>> {
        let mut attributes = HashMap::new();
        attributes.insert("lk.segment_id".to_string(), segment.to_string());
        attributes.insert("lk.transcription_final".to_string(), is_final.to_string());
        let header = data_stream::Header {
            stream_id: id.into(),
            topic: TRANSCRIPTION_TOPIC.into(),
            attributes,
            ..Default::default()
        };
        let mut packets = vec![packet("u-1", data_packet::Value::StreamHeader(header))];
        for part in parts {
            let chunk = data_stream::Chunk {
                stream_id: id.into(),
                content: part.as_bytes().to_vec(),
                ..Default::default()
            };
            packets.push(packet("u-1", data_packet::Value::StreamChunk(chunk)));
        }
        let trailer = data_stream::Trailer {
            stream_id: id.into(),
            ..Default::default()
        };
        packets.push(packet("u-1", data_packet::Value::StreamTrailer(trailer)));
        packets
    }

    #[test]
    fn a_stream_per_interim_with_the_whole_text_is_not_garbled() {
        // LiveKit Agents' user transcription: a new stream for each interim, same segment id,
        // each with the whole text so far; the last one final.
        let mut captions = Captions::default();
        let interims = [
            ("a", "Le", false),
            ("b", "Le budget", false),
            ("c", "Le budget est voté.", true),
        ];
        for (id, text, is_final) in interims {
            for bytes in stream(id, "SG_s", &[text], is_final) {
                captions.receive(&bytes, names);
            }
        }
        assert_eq!(
            captions.lines(),
            vec![CaptionLine {
                speaker: "Alice".into(),
                text: "Le budget est voté.".into(),
                is_final: true
            }]
        );
    }

    #[test]
    fn packets_and_streams_of_the_same_words_make_one_line() {
        // The same transcriber sends both, under different segment ids, in either order.
        let mut captions = Captions::default();
        for bytes in stream("a", "SG_stream", &["Bonjour"], false) {
            captions.receive(&bytes, names);
        }
        captions.receive(&transcription("u-1", "SG_packet", "Bonjour", false), names);
        for bytes in stream("b", "SG_stream", &["Bonjour à tous"], true) {
            captions.receive(&bytes, names);
        }
        captions.receive(
            &transcription("u-1", "SG_packet", "Bonjour à tous", true),
            names,
        );
        assert_eq!(
            captions.lines(),
            vec![CaptionLine {
                speaker: "Alice".into(),
                text: "Bonjour à tous".into(),
                is_final: true
            }]
        );
    }

    #[test]
    fn only_json_objects_from_participants_count_and_garbage_is_ignored() {
        let mut captions = Captions::default();
        let user = |payload: &[u8]| {
            packet(
                "u-1",
                data_packet::Value::User(UserPacket {
                    payload: payload.to_vec(),
                    ..Default::default()
                }),
            )
        };
        assert_eq!(
            captions.receive(&user(br#"{"type":"raise-hand"}"#), names),
            Received::Json {
                from: "u-1".into(),
                value: serde_json::json!({"type": "raise-hand"})
            }
        );
        assert!(matches!(
            captions.receive(&user(b"\xff\x00 not json"), names),
            Received::Ignored(_)
        ));
        assert!(matches!(
            captions.receive(&user(b"42"), names),
            Received::Ignored(_)
        ));
        assert!(matches!(
            captions.receive(b"\x12\xff\xff\xff", names),
            Received::Ignored(_)
        ));
        assert!(captions.lines().is_empty());
    }
}
