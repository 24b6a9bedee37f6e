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
        let payload_type = match self.sender.get_parameters().await {
            Ok(parameters) => parameters
                .rtp_parameters
                .codecs
                .first()
                .map(|c| c.payload_type),
            Err(_) => None,
        };
        let mut packetizer = match self.kind {
            RtpCodecKind::Video => {
                Packetizer::h264(self.ssrc, payload_type.unwrap_or(H264_PAYLOAD_TYPE))
            }
            _ => Packetizer::opus(self.ssrc, payload_type.unwrap_or(OPUS_PAYLOAD_TYPE)),
        };
        let track = self.track.clone();
        let counters = self.counters.clone();
        let is_video = self.kind == RtpCodecKind::Video;
        let keyframe = feedback.clone();
        let send = tokio::spawn(async move {
            // Held while sending; a pump of an earlier connection (before a rejoin) lets go
            // when it is stopped.
            let mut frames = frames.lock_owned().await;
            // What was encoded while the connection was set up is old: a receiver would get a
            // burst of stale frames. Start from now, and from a keyframe.
            while frames.try_recv().is_ok() {}
            if is_video {
                let _ = keyframe.send(EncoderFeedback::Keyframe);
            }
            while let Some(frame) = frames.recv().await {
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
