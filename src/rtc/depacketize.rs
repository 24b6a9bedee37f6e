//! RTP packets of a remote track back to whole frames for the receive pipeline.
//!
//! Packets can come out of order, twice, or not at all (a NACK may bring them back a round
//! trip later). A frame is handed on only when all of its packets are here; when a packet stays
//! missing while later ones pile up, the frames it belongs to are given up and the next frame
//! that follows the gap is marked so the caller asks the sender for a keyframe (a decoder fed a
//! frame that refers to a lost one shows garbage until the next keyframe).
//!
//! Kept small on purpose: a Pi receives up to nine of these at once, and the crate's general
//! sample builder preallocates a slot for all 65536 sequence numbers per track.

use crate::media::EncodedFrame;
use ::rtc::rtp;
use ::rtc::rtp::packetizer::Depacketizer;
use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::time::Duration;

/// The codec of a remote track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteCodec {
    H264,
    Vp8,
    Vp9,
    Opus,
}

impl RemoteCodec {
    /// From an SDP MIME type such as "video/H264" (case does not matter).
    pub fn from_mime(mime: &str) -> Option<RemoteCodec> {
        match mime.to_ascii_lowercase().as_str() {
            "video/h264" => Some(RemoteCodec::H264),
            "video/vp8" => Some(RemoteCodec::Vp8),
            "video/vp9" => Some(RemoteCodec::Vp9),
            "audio/opus" => Some(RemoteCodec::Opus),
            _ => None,
        }
    }

    fn clock_rate(self) -> u32 {
        match self {
            RemoteCodec::Opus => 48_000,
            _ => 90_000,
        }
    }

    /// How many packets past a hole to wait for it to be filled: about a round trip and a
    /// retransmission at a video call's packet rate; audio would rather skip 20 ms of sound
    /// than stall.
    fn patience(self) -> u64 {
        match self {
            RemoteCodec::Opus => 5,
            _ => 96,
        }
    }
}

/// A frame rebuilt from its packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledFrame {
    pub frame: EncodedFrame,
    /// Frames before this one were lost: the picture needs a keyframe to be whole again.
    pub after_loss: bool,
}

/// Reassembles one remote track.
pub struct FrameAssembler {
    codec: RemoteCodec,
    /// Packets not yet handed on, by extended sequence number.
    pending: BTreeMap<u64, rtp::Packet>,
    /// The extended sequence number of the next packet to hand on; None before the first.
    next: Option<u64>,
    highest: u64,
    /// Extends RTP timestamps across their 32-bit wrap.
    last_timestamp: Option<(u32, u64)>,
    first_timestamp: Option<u64>,
    lost: bool,
    /// Frames given up because packets were missing, for stats.
    pub frames_lost: u64,
}

impl FrameAssembler {
    pub fn new(codec: RemoteCodec) -> FrameAssembler {
        FrameAssembler {
            codec,
            pending: BTreeMap::new(),
            next: None,
            highest: 0,
            last_timestamp: None,
            first_timestamp: None,
            lost: false,
            frames_lost: 0,
        }
    }

    pub fn codec(&self) -> RemoteCodec {
        self.codec
    }

    /// Takes one packet; returns the frames it completes, in order.
    pub fn push(&mut self, packet: rtp::Packet) -> Vec<AssembledFrame> {
        if packet.payload.is_empty() {
            return Vec::new(); // padding, for bandwidth probing
        }
        let seq = self.extend_sequence(packet.header.sequence_number);
        if self.next.is_some_and(|next| seq < next) {
            return Vec::new(); // late or repeated: its frame is already gone
        }
        self.next.get_or_insert(seq);
        self.highest = self.highest.max(seq);
        self.pending.insert(seq, packet);

        let mut frames = Vec::new();
        loop {
            if let Some(frame) = self.take_frame() {
                frames.push(frame);
                continue;
            }
            if !self.skip_hole() {
                break;
            }
        }
        frames
    }

    fn extend_sequence(&self, seq: u16) -> u64 {
        let Some(reference) = self.next.map(|n| n.max(self.highest)) else {
            // Start high enough that a packet a little older than the first still fits.
            return (1 << 16) + u64::from(seq);
        };
        let cycle = reference & !0xffff;
        // The candidate nearest the reference, in this cycle or a neighbour.
        [cycle.wrapping_sub(1 << 16), cycle, cycle + (1 << 16)]
            .into_iter()
            .map(|c| c + u64::from(seq))
            .min_by_key(|c| c.abs_diff(reference))
            .expect("three candidates")
    }

    /// The frame at the head of the queue, if all its packets are here.
    fn take_frame(&mut self) -> Option<AssembledFrame> {
        let next = self.next?;
        let first = self.pending.get(&next)?;
        let timestamp = first.header.timestamp;
        let mut end = next;
        if self.codec != RemoteCodec::Opus {
            // The frame runs to the packet with the marker bit (or to the last before the
            // next timestamp, for senders that forget the marker).
            loop {
                let packet = self.pending.get(&end)?;
                if packet.header.timestamp != timestamp {
                    end -= 1;
                    break;
                }
                if packet.header.marker {
                    break;
                }
                end += 1;
            }
        }
        let packets: Vec<rtp::Packet> = (next..=end)
            .filter_map(|s| self.pending.remove(&s))
            .collect();
        self.next = Some(end + 1);
        let after_loss = std::mem::take(&mut self.lost);
        match self.depacketize(&packets) {
            Some((data, keyframe)) => Some(AssembledFrame {
                frame: EncodedFrame {
                    data,
                    pts: self.pts(timestamp),
                    duration: None,
                    keyframe,
                    audio_level: None,
                },
                after_loss,
            }),
            None => {
                // Unreadable payloads are lost too.
                self.frames_lost += 1;
                self.lost = true;
                None
            }
        }
    }

    /// When the hole at the head has waited long enough, gives up on its frame and moves to
    /// the first packet of a later frame. Returns whether it moved.
    fn skip_hole(&mut self) -> bool {
        let Some(next) = self.next else { return false };
        let hole = (next..=self.highest)
            .find(|s| !self.pending.contains_key(s))
            .unwrap_or(self.highest + 1);
        if hole > self.highest || self.highest < hole + self.codec.patience() {
            return false;
        }
        // The frame the missing packet belongs to: that of the packet before it when there is
        // one (it has no marker bit, or its frame would have gone), else that of the packet
        // after it.
        let neighbour = self
            .pending
            .get(&hole.wrapping_sub(1))
            .filter(|_| hole > next)
            .or_else(|| self.pending.range(hole..).next().map(|(_, p)| p));
        let Some(broken_timestamp) = neighbour.map(|p| p.header.timestamp) else {
            return false;
        };
        let resume = if self.codec == RemoteCodec::Opus {
            self.pending.range(hole..).next().map(|(s, _)| *s)
        } else {
            self.pending
                .range(hole..)
                .find(|(_, p)| p.header.timestamp != broken_timestamp)
                .map(|(s, _)| *s)
        };
        let resume = resume.unwrap_or(self.highest + 1);
        self.pending.retain(|s, _| *s >= resume);
        self.next = Some(resume);
        self.frames_lost += 1;
        self.lost = true;
        true
    }

    fn pts(&mut self, timestamp: u32) -> Duration {
        let extended = match self.last_timestamp {
            None => u64::from(timestamp) + (1 << 32),
            Some((last, last_extended)) => {
                let delta = timestamp.wrapping_sub(last) as i32;
                last_extended.saturating_add_signed(i64::from(delta))
            }
        };
        self.last_timestamp = Some((timestamp, extended));
        let first = *self.first_timestamp.get_or_insert(extended);
        let ticks = extended.saturating_sub(first);
        // In u128: ticks * 10^9 leaves u64 after 2.3 days of a 90 kHz clock (a room left in a
        // call, or a sender whose timestamps jump ahead).
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.codec.clock_rate());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The frame's bytes and whether it is a keyframe; None if a payload does not parse.
    fn depacketize(&self, packets: &[rtp::Packet]) -> Option<(Vec<u8>, bool)> {
        let mut data = BytesMut::new();
        let keyframe = match self.codec {
            RemoteCodec::H264 => {
                let mut d = rtp::codec::h264::H264Packet::default();
                for p in packets {
                    if !stap_a_lengths_fit(&p.payload) {
                        return None;
                    }
                    data.extend_from_slice(&d.depacketize(&p.payload).ok()?);
                }
                h264_has_idr(&data)
            }
            RemoteCodec::Vp8 => {
                let mut d = rtp::codec::vp8::Vp8Packet::default();
                for p in packets {
                    data.extend_from_slice(&d.depacketize(&p.payload).ok()?);
                }
                // The VP8 frame tag's first bit is 0 on a key frame (RFC 6386 section 9.1).
                data.first().is_some_and(|b| b & 1 == 0)
            }
            RemoteCodec::Vp9 => {
                let mut d = rtp::codec::vp9::Vp9Packet::default();
                let mut keyframe = false;
                for (i, p) in packets.iter().enumerate() {
                    data.extend_from_slice(&d.depacketize(&p.payload).ok()?);
                    if i == 0 {
                        keyframe = !d.p;
                    }
                }
                keyframe
            }
            RemoteCodec::Opus => {
                let mut d = rtp::codec::opus::OpusPacket;
                for p in packets {
                    data.extend_from_slice(&d.depacketize(&p.payload).ok()?);
                }
                true
            }
        };
        (!data.is_empty()).then(|| (Bytes::from(data).to_vec(), keyframe))
    }
}

/// Whether an Annex B access unit holds an IDR slice.
/// Whether every aggregation unit of an H.264 STAP-A payload (RFC 6184 section 5.7.1) has its
/// whole 16-bit length and body; true for any other NAL unit type. webrtc-rs 0.21's
/// depacketizer reads a unit's length without checking that both bytes are there and panics
/// on a payload ending one byte into a length (found by `fuzz/` target `rtp_depacketize`):
/// a remote sender could end the task receiving its video. Drop this once upstream checks.
fn stap_a_lengths_fit(payload: &[u8]) -> bool {
    const STAP_A: u8 = 24;
    if payload.first().is_none_or(|b| b & 0x1f != STAP_A) {
        return true;
    }
    let mut at = 1;
    while at < payload.len() {
        let Some(length) = payload.get(at..at + 2) else {
            return false;
        };
        at += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
    }
    at == payload.len()
}

fn h264_has_idr(au: &[u8]) -> bool {
    au.windows(4)
        .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] & 0x1f == 5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtc::packetize::Packetizer;

    #[test]
    fn a_stap_a_cut_inside_a_length_is_unreadable_not_a_panic() {
        // Found by the fuzzer (fuzz/known-crashes/rtp_depacketize-h264-*): one unit of 2
        // bytes, then a single byte where the next unit's 16-bit length should be.
        let assembler = FrameAssembler::new(RemoteCodec::H264);
        let packet = rtp::Packet {
            payload: bytes::Bytes::from_static(&[0x18, 0x00, 0x02, 0x65, 0xaa, 0x00]),
            ..Default::default()
        };
        assert_eq!(assembler.depacketize(&[packet]), None);
        assert!(stap_a_lengths_fit(&[0x18, 0x00, 0x02, 0x65, 0xaa]));
        assert!(!stap_a_lengths_fit(&[0x18, 0x00, 0x03, 0x65, 0xaa]));
        assert!(stap_a_lengths_fit(&[0x65, 0x88]));
    }

    fn access_unit(idr: bool, size: usize, fill: u8) -> Vec<u8> {
        let mut au = Vec::new();
        if idr {
            au.extend([
                0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
            ]);
        }
        au.extend([0, 0, 0, 1, if idr { 0x65 } else { 0x41 }]);
        au.extend(std::iter::repeat_n(fill, size));
        au
    }

    fn frames(sizes: &[(bool, usize)]) -> (Vec<EncodedFrame>, Vec<Vec<rtp::Packet>>) {
        let mut packetizer = Packetizer::h264(42, 102);
        let frames: Vec<EncodedFrame> = sizes
            .iter()
            .enumerate()
            .map(|(i, (idr, size))| EncodedFrame {
                data: access_unit(*idr, *size, i as u8 + 1),
                pts: Duration::from_millis(1000 + 33 * i as u64),
                duration: None,
                keyframe: *idr,
                audio_level: None,
            })
            .collect();
        let packets = frames
            .iter()
            .map(|f| packetizer.packetize(f).unwrap())
            .collect();
        (frames, packets)
    }

    /// The NAL units of an access unit, without start codes (the payloader turns 4-byte
    /// start codes into 3-byte ones or the reverse; the units are what must survive).
    fn nal_units(au: &[u8]) -> Vec<Vec<u8>> {
        let mut units = Vec::new();
        let mut i = 0;
        let mut start = None;
        while i + 3 <= au.len() {
            if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
                if let Some(s) = start {
                    let mut end = i;
                    while end > s && au[end - 1] == 0 {
                        end -= 1;
                    }
                    units.push(au[s..end].to_vec());
                }
                i += 3;
                start = Some(i);
            } else {
                i += 1;
            }
        }
        if let Some(s) = start {
            units.push(au[s..].to_vec());
        }
        units
    }

    #[test]
    fn frames_come_back_whole_in_order_with_their_spacing() {
        let (sent, packets) = frames(&[(true, 4000), (false, 300), (false, 2500)]);
        let mut assembler = FrameAssembler::new(RemoteCodec::H264);
        let got: Vec<AssembledFrame> = packets
            .into_iter()
            .flatten()
            .flat_map(|p| assembler.push(p))
            .collect();
        assert_eq!(got.len(), 3);
        for (got, sent) in got.iter().zip(&sent) {
            assert_eq!(nal_units(&got.frame.data), nal_units(&sent.data));
            assert_eq!(got.frame.keyframe, sent.keyframe);
            assert!(!got.after_loss);
        }
        assert_eq!(got[0].frame.pts, Duration::ZERO);
        assert_eq!(got[2].frame.pts, Duration::from_millis(66));
    }

    #[test]
    fn reordered_and_repeated_packets_still_make_each_frame_once() {
        let (_, packets) = frames(&[(true, 4000), (false, 2500)]);
        let mut all: Vec<rtp::Packet> = packets.into_iter().flatten().collect();
        all.swap(1, 3);
        all.insert(2, all[0].clone());
        let mut assembler = FrameAssembler::new(RemoteCodec::H264);
        let got: Vec<AssembledFrame> = all.into_iter().flat_map(|p| assembler.push(p)).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(assembler.frames_lost, 0);
    }

    #[test]
    fn a_lost_packet_drops_its_frame_and_marks_the_next_for_a_keyframe() {
        let mut sizes = vec![(true, 4000), (false, 3000)];
        sizes.extend(std::iter::repeat_n((false, 3000), 60));
        let (_, packets) = frames(&sizes);
        let mut assembler = FrameAssembler::new(RemoteCodec::H264);
        let mut got = Vec::new();
        for (i, frame) in packets.into_iter().enumerate() {
            for (j, packet) in frame.into_iter().enumerate() {
                if i == 1 && j == 1 {
                    continue; // lost in the network, never retransmitted
                }
                got.extend(assembler.push(packet));
            }
        }
        assert_eq!(assembler.frames_lost, 1);
        assert!(got[0].frame.keyframe && !got[0].after_loss);
        assert!(
            got[1].after_loss,
            "the frame after the hole asks for a keyframe"
        );
        assert!(got[2..].iter().all(|f| !f.after_loss));
        // Everything after the hole arrives, minus what waits for the patience to run out.
        assert!(got.len() > 50, "{} frames", got.len());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut packetizer = Packetizer::opus(1, 111);
        let mut assembler = FrameAssembler::new(RemoteCodec::Opus);
        let mut count = 0;
        for i in 0..70_000u64 {
            let frame = EncodedFrame {
                data: vec![0x78, (i % 200) as u8],
                pts: Duration::from_millis(20 * i),
                duration: None,
                keyframe: true,
                audio_level: None,
            };
            for p in packetizer.packetize(&frame).unwrap() {
                count += assembler.push(p).len();
            }
        }
        assert_eq!(count, 70_000);
        assert_eq!(assembler.frames_lost, 0);
    }

    /// Timestamps far apart (days into a call, or a sender jumping ahead): the presentation
    /// time keeps growing, with no overflow (`ticks * 10^9` left u64 after 2.3 days at 90 kHz).
    #[test]
    fn presentation_times_days_into_a_call_do_not_overflow() {
        let mut assembler = FrameAssembler::new(RemoteCodec::Opus);
        let mut last = Duration::ZERO;
        for i in 0..40u32 {
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: true,
                    sequence_number: i as u16,
                    timestamp: i.wrapping_mul(0x7fff_ffff),
                    ..Default::default()
                },
                payload: vec![0xfc, 1, 2, 3].into(),
            };
            let frames = assembler.push(packet);
            assert_eq!(frames.len(), 1);
            assert!(frames[0].frame.pts >= last, "frame {i}");
            last = frames[0].frame.pts;
        }
        // 39 steps of 2^31 - 1 ticks at 48 kHz: about 20 days.
        assert_eq!(last.as_secs(), 39 * 0x7fff_ffff / 48_000);
    }

    #[test]
    fn codecs_from_sdp_names() {
        assert_eq!(
            RemoteCodec::from_mime("video/H264"),
            Some(RemoteCodec::H264)
        );
        assert_eq!(
            RemoteCodec::from_mime("audio/OPUS"),
            Some(RemoteCodec::Opus)
        );
        assert_eq!(RemoteCodec::from_mime("video/AV1"), None);
    }
}
