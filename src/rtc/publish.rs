//! Sending the room: the media engine's encoded frames onto a publishing peer connection's
//! tracks, and the receivers' keyframe requests back to the encoder.

use super::keyframe::is_keyframe_request;
use super::packetize::Packetizer;
use super::peer::{h264_codec, opus_codec, Peer, H264_PAYLOAD_TYPE, OPUS_PAYLOAD_TYPE};
use super::EncoderFeedback;
use crate::media::EncodedFrame;
use ::rtc::media_stream::MediaStreamTrack;
use ::rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpSender;

/// The media stream both tracks belong to (lip sync: receivers play one stream's tracks
/// together).
const STREAM_ID: &str = "salle";

/// The room's encoded frames of one kind for the whole session: each connection's sender
/// takes them in turn (a rejoin makes a new connection).
pub type SharedFrames = Arc<tokio::sync::Mutex<mpsc::Receiver<EncodedFrame>>>;

/// Counters for status.
#[derive(Debug, Default)]
pub struct SendCounters {
    pub frames: AtomicU64,
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub keyframe_requests: AtomicU64,
}

/// One outgoing track.
pub struct OutgoingTrack {
    pub kind: RtpCodecKind,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    pub counters: Arc<SendCounters>,
}

impl OutgoingTrack {
    /// Adds a track of `kind` (camera or microphone) to a publishing connection, before the
    /// offer is made.
    pub async fn add(peer: &Peer, kind: RtpCodecKind) -> Result<OutgoingTrack, String> {
        let ssrc: u32 = rand::random();
        let (id, codec): (&str, RTCRtpCodec) = match kind {
            RtpCodecKind::Video => ("camera", h264_codec()),
            _ => ("microphone", opus_codec()),
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            STREAM_ID.into(),
            id.into(),
            id.into(),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        )));
        let sender = peer
            .connection
            .add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(|e| format!("adding the {id} track: {e}"))?;
        Ok(OutgoingTrack {
            kind,
            track,
            sender,
            ssrc,
            counters: Arc::default(),
        })
    }

    /// Sends `frames` once the connection is negotiated (the answer is set): the payload type
    /// is the one the answer chose. Keyframe requests go to `feedback`. Ends when `frames`
    /// closes or the connection goes.
    pub async fn start(
        self,
        frames: SharedFrames,
        feedback: mpsc::UnboundedSender<EncoderFeedback>,
    ) -> Vec<JoinHandle<()>> {
        let parameters = self.sender.get_parameters().await.ok();
        let payload_type = parameters
            .as_ref()
            .and_then(|p| p.rtp_parameters.codecs.first())
            .map(|c| c.payload_type);
        let audio_level_id = parameters.as_ref().and_then(|p| {
            p.rtp_parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == ::rtc::sdp::extmap::AUDIO_LEVEL_URI)
                .and_then(|e| u8::try_from(e.id).ok())
        });
        let mut packetizer = match self.kind {
            RtpCodecKind::Video => {
                Packetizer::h264(self.ssrc, payload_type.unwrap_or(H264_PAYLOAD_TYPE))
            }
            _ => Packetizer::opus(self.ssrc, payload_type.unwrap_or(OPUS_PAYLOAD_TYPE)),
        };
        packetizer.set_audio_level_id(audio_level_id);
        let track = self.track.clone();
        let counters = self.counters.clone();
        let is_video = self.kind == RtpCodecKind::Video;
        let keyframe = feedback.clone();
        let send = tokio::spawn(async move {
            // Held while sending; a pump of an earlier connection (before a rejoin) lets go
            // when it is stopped.
            let mut frames = frames.lock_owned().await;
            // What was encoded while the connection was set up is old: a receiver would get a
            // burst of stale frames. Start from now, and from a keyframe: the frames that come
            // while the encoder answers the request are held back (a receiver cannot decode
            // them without the keyframe before them).
            while frames.try_recv().is_ok() {}
            let mut gate = FirstKeyframe::new(is_video);
            if is_video {
                let _ = keyframe.send(EncoderFeedback::Keyframe);
            }
            while let Some(frame) = frames.recv().await {
                match gate.admit(&frame) {
                    Admit::Send => {}
                    Admit::Hold => continue,
                    Admit::HoldAndAskAgain => {
                        let _ = keyframe.send(EncoderFeedback::Keyframe);
                        continue;
                    }
                }
                let packets = match packetizer.packetize(&frame) {
                    Ok(packets) => packets,
                    Err(e) => {
                        tracing::warn!("{e}");
                        continue;
                    }
                };
                counters.frames.fetch_add(1, Ordering::Relaxed);
                for packet in packets {
                    let size = packet.payload.len() as u64;
                    if let Err(e) = track.write_rtp(packet).await {
                        // Closed: the session is over. Before connection: dropped, as a
                        // live source must.
                        tracing::trace!("RTP not sent: {e}");
                        continue;
                    }
                    counters.packets.fetch_add(1, Ordering::Relaxed);
                    counters.bytes.fetch_add(size, Ordering::Relaxed);
                }
            }
        });
        let track = self.track.clone();
        let counters = self.counters.clone();
        let rtcp = tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                    continue;
                };
                if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    counters.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                    if feedback.send(EncoderFeedback::Keyframe).is_err() {
                        return;
                    }
                }
            }
        });
        vec![send, rtcp]
    }
}

/// What to do with a frame before the first keyframe of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    Send,
    /// Not decodable by a receiver that has not had a keyframe yet.
    Hold,
    /// Held too, and the keyframe request is sent again (it may have been lost, or the
    /// encoder was restarting when it came).
    HoldAndAskAgain,
}

/// Holds a connection's video frames until its first keyframe: a receiver given a delta frame
/// first shows garbage or nothing, and asks for a keyframe anyway. Audio frames pass.
#[derive(Debug)]
struct FirstKeyframe {
    waiting: bool,
    held: u32,
}

/// Frames held before the keyframe request is repeated: a second at 30 fps.
const HELD_BEFORE_ASKING_AGAIN: u32 = 30;

impl FirstKeyframe {
    fn new(is_video: bool) -> FirstKeyframe {
        FirstKeyframe {
            waiting: is_video,
            held: 0,
        }
    }

    fn admit(&mut self, frame: &EncodedFrame) -> Admit {
        if !self.waiting || frame.keyframe {
            self.waiting = false;
            return Admit::Send;
        }
        self.held += 1;
        if self.held.is_multiple_of(HELD_BEFORE_ASKING_AGAIN) {
            Admit::HoldAndAskAgain
        } else {
            Admit::Hold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(keyframe: bool) -> EncodedFrame {
        EncodedFrame {
            data: vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }],
            pts: Duration::ZERO,
            duration: None,
            keyframe,
            audio_level: None,
        }
    }

    #[test]
    fn video_starts_with_a_keyframe_and_frames_before_it_are_held() {
        let mut gate = FirstKeyframe::new(true);
        assert_eq!(gate.admit(&frame(false)), Admit::Hold);
        assert_eq!(gate.admit(&frame(false)), Admit::Hold);
        assert_eq!(gate.admit(&frame(true)), Admit::Send);
        // From then on, every frame goes.
        assert_eq!(gate.admit(&frame(false)), Admit::Send);
        assert_eq!(gate.admit(&frame(true)), Admit::Send);
    }

    #[test]
    fn a_keyframe_long_in_coming_is_asked_for_again() {
        let mut gate = FirstKeyframe::new(true);
        let asked = (0..HELD_BEFORE_ASKING_AGAIN * 2)
            .filter(|_| gate.admit(&frame(false)) == Admit::HoldAndAskAgain)
            .count();
        assert_eq!(asked, 2);
        assert_eq!(gate.admit(&frame(true)), Admit::Send);
    }

    #[test]
    fn audio_is_never_held() {
        let mut gate = FirstKeyframe::new(false);
        let mut packet = frame(false);
        packet.keyframe = true; // what audio frames say; the gate does not even look
        assert_eq!(gate.admit(&packet), Admit::Send);
        assert_eq!(gate.admit(&frame(false)), Admit::Send);
    }
}
