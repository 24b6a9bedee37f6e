//! Encoded frames from the media engine to RTP packets, timed by their capture timestamps.
//!
//! The packets' timestamps come from the frame's capture time, not from a frame counter: an
//! encoder that skips a frame (OpenH264 under a tight bitrate) or a camera that slows down in
//! the dark must not make the receiver play the rest too fast.

use crate::media::EncodedFrame;
use ::rtc::rtp;
use ::rtc::rtp::packetizer::Payloader;
use bytes::Bytes;

/// Room for SRTP's tag and the header extensions the interceptors add, under a 1500-byte MTU
/// with IPv6 and UDP headers (what browsers use too).
pub const MTU: usize = 1200;

/// One outgoing stream's packetizer.
#[derive(Debug)]
pub struct Packetizer {
    payloader: Box<dyn Payloader>,
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    sequence_number: u16,
    /// Random start of the RTP timestamps (RFC 3550 section 5.1).
    timestamp_offset: u32,
    /// The id the remote gave `ssrc-audio-level` (RFC 6464), when it took the extension.
    audio_level_id: Option<u8>,
}

impl Packetizer {
    /// H.264 (RFC 6184, packetization mode 1: single NAL units, STAP-A and FU-A).
    pub fn h264(ssrc: u32, payload_type: u8) -> Packetizer {
        Packetizer::new(
            Box::new(rtp::codec::h264::H264Payloader::default()),
            ssrc,
            payload_type,
            90_000,
        )
    }

    /// Opus (RFC 7587): one packet per Opus frame.
    pub fn opus(ssrc: u32, payload_type: u8) -> Packetizer {
        Packetizer::new(
            Box::new(rtp::codec::opus::OpusPayloader),
            ssrc,
            payload_type,
            48_000,
        )
    }

    fn new(payloader: Box<dyn Payloader>, ssrc: u32, payload_type: u8, clock_rate: u32) -> Self {
        Packetizer {
            payloader,
            ssrc,
            payload_type,
            clock_rate,
            sequence_number: rand::random(),
            timestamp_offset: rand::random(),
            audio_level_id: None,
        }
    }

    /// Writes each frame's audio level in the `ssrc-audio-level` extension under `id` (the
    /// negotiated one; a sender drops packets with an extension the answer left out).
    pub fn set_audio_level_id(&mut self, id: Option<u8>) {
        self.audio_level_id = id;
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The payload type the remote chose for the codec (from the answer).
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type;
    }

    /// The RTP timestamp of a capture time.
    pub fn timestamp(&self, frame: &EncodedFrame) -> u32 {
        let ticks = frame.pts.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000;
        (ticks as u32).wrapping_add(self.timestamp_offset)
    }

    /// The packets of one frame, the marker bit on the last (the end of a video frame).
    pub fn packetize(&mut self, frame: &EncodedFrame) -> Result<Vec<rtp::Packet>, String> {
        let payloads = self
            .payloader
            .payload(MTU, &Bytes::copy_from_slice(&frame.data))
            .map_err(|e| format!("packetizing a frame of {} bytes: {e}", frame.data.len()))?;
        let timestamp = self.timestamp(frame);
        let last = payloads.len().saturating_sub(1);
        // RFC 6464 one-byte element: the V (voice activity) bit left 0, "not known", as
        // browsers do; the level in the low 7 bits.
        let audio_level = self
            .audio_level_id
            .zip(frame.audio_level)
            .map(|(id, level)| (id, Bytes::copy_from_slice(&[level & 0x7f])));
        let mut packets: Vec<rtp::Packet> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                let sequence_number = self.sequence_number;
                self.sequence_number = self.sequence_number.wrapping_add(1);
                rtp::Packet {
                    header: rtp::header::Header {
                        version: 2,
                        marker: i == last,
                        payload_type: self.payload_type,
                        sequence_number,
                        timestamp,
                        ssrc: self.ssrc,
                        ..Default::default()
                    },
                    payload,
                }
            })
            .collect();
        if let Some((id, level)) = audio_level {
            for packet in &mut packets {
                packet
                    .header
                    .set_extension(id, level.clone())
                    .map_err(|e| format!("audio level extension {id}: {e}"))?;
            }
        }
        Ok(packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(data: Vec<u8>, pts_ms: u64) -> EncodedFrame {
        EncodedFrame {
            data,
            pts: Duration::from_millis(pts_ms),
            duration: None,
            keyframe: true,
            audio_level: None,
        }
    }

    /// An access unit: SPS, PPS and an IDR slice of `slice` bytes, in Annex B.
    fn access_unit(slice: usize) -> Vec<u8> {
        let mut au = vec![
            0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
        ];
        au.extend([0, 0, 0, 1, 0x65]);
        au.extend((0..slice).map(|i| (i % 251) as u8 | 1));
        au
    }

    #[test]
    fn a_large_frame_is_split_under_the_mtu_with_the_marker_on_its_last_packet() {
        let mut p = Packetizer::h264(1234, 102);
        let packets = p.packetize(&frame(access_unit(5000), 0)).unwrap();
        assert!(packets.len() >= 5, "{} packets", packets.len());
        assert!(packets.iter().all(|p| p.payload.len() <= MTU));
        let markers: Vec<bool> = packets.iter().map(|p| p.header.marker).collect();
        assert_eq!(markers.iter().filter(|m| **m).count(), 1);
        assert!(markers[markers.len() - 1]);
        for pair in packets.windows(2) {
            assert_eq!(
                pair[1].header.sequence_number,
                pair[0].header.sequence_number.wrapping_add(1)
            );
            assert_eq!(pair[1].header.timestamp, pair[0].header.timestamp);
        }
        assert!(packets
            .iter()
            .all(|p| p.header.ssrc == 1234 && p.header.payload_type == 102));
    }

    #[test]
    fn timestamps_follow_capture_time_even_when_frames_are_skipped() {
        let mut p = Packetizer::h264(1, 102);
        let first = p.packetize(&frame(access_unit(100), 1000)).unwrap()[0]
            .header
            .timestamp;
        // The next frame comes 100 ms later (two frames skipped at 30 fps): 9000 ticks.
        let next = p.packetize(&frame(access_unit(100), 1100)).unwrap()[0]
            .header
            .timestamp;
        assert_eq!(next.wrapping_sub(first), 9000);
    }

    #[test]
    fn opus_packets_tick_at_48_khz_one_packet_per_frame() {
        let mut p = Packetizer::opus(7, 111);
        let a = p.packetize(&frame(vec![0x78; 60], 20)).unwrap();
        let b = p.packetize(&frame(vec![0x78; 60], 40)).unwrap();
        assert_eq!((a.len(), b.len()), (1, 1));
        assert_eq!(
            b[0].header.timestamp.wrapping_sub(a[0].header.timestamp),
            960
        );
        assert_eq!(a[0].payload.len(), 60);
        assert!(
            a[0].header.extensions.is_empty(),
            "no extension unless negotiated"
        );
    }

    #[test]
    fn the_audio_level_goes_in_the_negotiated_extension() {
        let mut p = Packetizer::opus(7, 111);
        p.set_audio_level_id(Some(3));
        let mut loud = frame(vec![0x78; 60], 20);
        loud.audio_level = Some(9);
        let packet = &p.packetize(&loud).unwrap()[0];
        assert_eq!(
            packet.header.get_extension(3),
            Some(Bytes::from_static(&[9]))
        );
        // A frame without a level (no meter) carries no extension.
        let packet = &p.packetize(&frame(vec![0x78; 60], 40)).unwrap()[0];
        assert_eq!(packet.header.get_extension(3), None);
    }
}
