//! Receiving people: a remote track's RTP, reassembled into frames, into the receive pipeline;
//! and keyframe requests (PLI) back to the sender when pictures were lost.

use super::depacketize::{FrameAssembler, RemoteCodec};
use crate::media::receive::{Receive, VideoCodec};
use ::rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Keyframe requests no closer than this: a keyframe takes a while to come and is large.
const PLI_INTERVAL: Duration = Duration::from_millis(500);

/// Counters for status and tests.
#[derive(Debug, Default)]
pub struct ReceiveCounters {
    pub frames: AtomicU64,
    pub keyframes: AtomicU64,
    pub frames_lost: AtomicU64,
    pub keyframe_requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// A remote track as the room shows it.
#[derive(Debug, Clone)]
pub struct RemoteTrackInfo {
    /// Unique within the session: the tile and the mixer input are named after it.
    pub id: String,
    /// Drawn on the tile.
    pub name: String,
}

/// Feeds one remote track into `receive` until it ends; then takes it out of the screen or
/// the mix. `name_of` names the track (the signalling knows who is who).
pub async fn play(
    track: Arc<dyn TrackRemote>,
    receive: Arc<Receive>,
    info: RemoteTrackInfo,
    counters: Arc<ReceiveCounters>,
) -> Result<(), String> {
    let kind = track.kind().await;
    let ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
    let mime = track
        .codec(ssrc)
        .await
        .map(|c| c.mime_type)
        .unwrap_or_default();
    let codec = RemoteCodec::from_mime(&mime)
        .ok_or_else(|| format!("{}: codec {mime:?} is not one the room decodes", info.id))?;
    let mut assembler = FrameAssembler::new(codec);
    let id = info.id.clone();
    match kind {
        RtpCodecKind::Video => {
            let video_codec = match codec {
                RemoteCodec::H264 => VideoCodec::H264,
                RemoteCodec::Vp8 => VideoCodec::Vp8,
                RemoteCodec::Vp9 => VideoCodec::Vp9,
                RemoteCodec::Opus => return Err(format!("{id}: Opus on a video track")),
            };
            let video = {
                let (receive, id, name) = (receive.clone(), id.clone(), info.name.clone());
                off_the_runtime(move || receive.add_video(&id, &name, video_codec)).await?
            };
            let mut last_pli: Option<Instant> = None;
            while let Some(packet) = next_packet(track.as_ref(), &counters).await {
                let mut wants_keyframe = false;
                for assembled in assembler.push(packet) {
                    wants_keyframe |= assembled.after_loss;
                    counters.frames.fetch_add(1, Ordering::Relaxed);
                    if assembled.frame.keyframe {
                        counters.keyframes.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Err(e) = video.push(assembled.frame) {
                        tracing::debug!("{id}: {e}");
                    }
                }
                counters
                    .frames_lost
                    .store(assembler.frames_lost, Ordering::Relaxed);
                wants_keyframe |= video.take_keyframe_request();
                let due = last_pli.is_none_or(|t| t.elapsed() >= PLI_INTERVAL);
                if wants_keyframe && due {
                    last_pli = Some(Instant::now());
                    counters.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc: ssrc,
                    };
                    if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                        tracing::debug!("{id}: keyframe request not sent: {e}");
                    }
                }
            }
            gone(off_the_runtime(move || receive.remove_video(&id)).await)
        }
        _ => {
            let audio = {
                let (receive, id) = (receive.clone(), id.clone());
                off_the_runtime(move || receive.add_audio(&id)).await?
            };
            while let Some(packet) = next_packet(track.as_ref(), &counters).await {
                for assembled in assembler.push(packet) {
                    counters.frames.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = audio.push(assembled.frame) {
                        tracing::debug!("{id}: {e}");
                    }
                }
            }
            gone(off_the_runtime(move || receive.remove_audio(&id)).await)
        }
    }
}

/// Runs a change of the receive pipeline on a blocking thread: adding a branch syncs its
/// state with the pipeline's, taking one out waits up to a second for it to drain (and for
/// the pipeline's lock). Neither may hold a runtime worker, which the control socket and every
/// timer need.
async fn off_the_runtime<T: Send + 'static>(
    change: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(change)
        .await
        .map_err(|e| format!("receive pipeline: {e}"))?
}

/// The track's next RTP packet (counted), or None once it ended.
async fn next_packet(
    track: &dyn TrackRemote,
    counters: &ReceiveCounters,
) -> Option<::rtc::rtp::Packet> {
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                counters
                    .bytes
                    .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                return Some(packet);
            }
            TrackRemoteEvent::OnEnded => return None,
            _ => {}
        }
    }
    None
}

/// A track that ended is taken off the screen and the speaker, unless the call's end took
/// everyone off already (the session stops media before its connections close): then there
/// is nothing left to remove, and nothing to warn about.
fn gone(removed: Result<(), String>) -> Result<(), String> {
    if let Err(e) = removed {
        tracing::debug!("track ended after the call: {e}");
    }
    Ok(())
}
