//! Per-session figures for `salle status`: what is sent and received, the congestion
//! controller's estimate, the round trip and the candidate pair in use.

use super::peer::Peer;
use super::publish::SendCounters;
use super::remote::ReceiveCounters;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use webrtc::peer_connection::{RTCStatsReportEntry, StatsSelector};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// "WHIP", "WHEP", "Janus VideoRoom", ...
    pub service: String,
    pub sent: SentStatus,
    pub received: ReceivedStatus,
    /// Per connection (publisher, subscriber): the pair of candidates carrying the media.
    pub connections: Vec<ConnectionStatus>,
    /// The meeting's live captions when its transcription runs, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captions: Vec<CaptionLine>,
    /// Whether the meeting is being recorded or transcribed, as its service says.
    #[serde(default)]
    pub recording: crate::room::MeetingRecording,
    /// The names of the people speaking now, as the meeting service says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speaking: Vec<String>,
    /// ICE restarts done (a lost connection given new ICE credentials by the meeting's
    /// server), without leaving the meeting.
    #[serde(default)]
    pub ice_restarts: u32,
    /// Times the meeting was lost and joined again from scratch.
    #[serde(default)]
    pub rejoins: u32,
    /// What the room could not use (an ICE server the WebRTC stack cannot reach, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Reactions received in this session.
    #[serde(default)]
    pub reactions_received: u32,
    /// Reactions not yet taken by the screen (`SessionMonitor::take_reactions`).
    #[serde(skip)]
    pub new_reactions: Vec<Reaction>,
}

/// A reaction from someone in the meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// Their name.
    pub from: String,
    pub emoji: String,
}

/// One caption line: who speaks, what they said so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionLine {
    pub speaker: String,
    pub text: String,
    /// The transcriber will not change this line any more.
    #[serde(rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SentStatus {
    pub video_frames: u64,
    pub audio_frames: u64,
    pub kbps: u32,
    /// The congestion controller's estimate for the video.
    pub target_kbps: u32,
    pub keyframe_requests: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceivedStatus {
    pub video_frames: u64,
    pub audio_frames: u64,
    pub keyframes: u64,
    pub frames_lost: u64,
    pub keyframe_requests: u64,
    pub kbps: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    pub role: String,
    pub state: String,
    /// "host 127.0.0.1:50000/udp -> host 127.0.0.1:40000/udp".
    pub candidate_pair: Option<String>,
    /// How the media goes: `udp`, `tcp` (ICE-TCP), `turn/udp`, `turn/tcp`, `turn/tls`.
    pub path: Option<String>,
    /// Why the TCP or TLS TURN servers could not be used, when they could not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relay_problems: Vec<String>,
    pub rtt_ms: Option<f64>,
    /// What the receivers report about what we send (RTCP receiver reports): packets lost,
    /// as a share of the last interval, in percent.
    pub remote_loss_percent: Option<f64>,
    /// RTP packets sent, NACKs received and packets sent again for them.
    pub packets_sent: u64,
    pub nacks_received: u64,
    pub packets_retransmitted: u64,
}

/// The status of the session in progress, shared between the session task (which updates it)
/// and the daemon (which shows it). What the room's screen shows of it (captions, recording)
/// wakes the daemon when it changes: the daemon does not poll.
#[derive(Debug, Clone, Default)]
pub struct SessionMonitor(Arc<Mutex<SessionStatus>>, Arc<tokio::sync::Notify>);

impl SessionMonitor {
    pub fn new(service: &str) -> SessionMonitor {
        let status = SessionStatus {
            service: service.into(),
            ..SessionStatus::default()
        };
        SessionMonitor(Arc::new(Mutex::new(status)), Default::default())
    }

    /// Completes when what the screen shows (captions, recording) changed since the last
    /// time it completed (a change before the wait counts).
    pub async fn screen_changed(&self) {
        self.1.notified().await
    }

    pub fn get(&self) -> SessionStatus {
        self.lock().clone()
    }

    /// The meeting's caption lines alone: the room's screen asks for them every time the
    /// daemon's main loop turns, which should not copy the whole session's figures.
    pub fn captions(&self) -> Vec<CaptionLine> {
        self.lock().captions.clone()
    }

    pub fn recording(&self) -> crate::room::MeetingRecording {
        self.lock().recording
    }

    /// The reactions received since the last call.
    pub fn take_reactions(&self) -> Vec<Reaction> {
        std::mem::take(&mut self.lock().new_reactions)
    }

    pub fn update(&self, change: impl FnOnce(&mut SessionStatus)) {
        let mut status = self.lock();
        let shown = (status.captions.clone(), status.recording);
        change(&mut status);
        if (&status.captions, status.recording) != (&shown.0, shown.1) {
            self.1.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Turns counters into rates between two looks.
#[derive(Debug, Default)]
pub struct RateMeter {
    last: Option<(Instant, u64)>,
}

impl RateMeter {
    /// The rate in kbit/s since the last call, from a running byte count.
    pub fn kbps(&mut self, bytes: u64) -> u32 {
        let now = Instant::now();
        let rate = match self.last {
            Some((then, before)) if now > then => {
                let seconds = (now - then)
                    .as_secs_f64()
                    .max(Duration::from_millis(1).as_secs_f64());
                (bytes.saturating_sub(before) as f64 * 8.0 / 1000.0 / seconds) as u32
            }
            _ => 0,
        };
        self.last = Some((now, bytes));
        rate
    }
}

/// Fills in what the counters say.
pub fn record_sent(
    status: &mut SentStatus,
    video: &[&SendCounters],
    audio: &[&SendCounters],
    meter: &mut RateMeter,
) {
    let sum = |list: &[&SendCounters], f: fn(&SendCounters) -> u64| {
        list.iter().map(|c| f(c)).sum::<u64>()
    };
    status.video_frames = sum(video, |c| c.frames.load(Ordering::Relaxed));
    status.audio_frames = sum(audio, |c| c.frames.load(Ordering::Relaxed));
    status.keyframe_requests = sum(video, |c| c.keyframe_requests.load(Ordering::Relaxed));
    let bytes = sum(video, |c| c.bytes.load(Ordering::Relaxed))
        + sum(audio, |c| c.bytes.load(Ordering::Relaxed));
    status.kbps = meter.kbps(bytes);
}

pub fn record_received(
    status: &mut ReceivedStatus,
    video: &ReceiveCounters,
    audio: &ReceiveCounters,
    meter: &mut RateMeter,
) {
    status.video_frames = video.frames.load(Ordering::Relaxed);
    status.audio_frames = audio.frames.load(Ordering::Relaxed);
    status.keyframes = video.keyframes.load(Ordering::Relaxed);
    status.frames_lost = video.frames_lost.load(Ordering::Relaxed);
    status.keyframe_requests = video.keyframe_requests.load(Ordering::Relaxed);
    let bytes = video.bytes.load(Ordering::Relaxed) + audio.bytes.load(Ordering::Relaxed);
    status.kbps = meter.kbps(bytes);
}

/// The connection's selected candidate pair and round trip, from its stats report.
pub async fn connection_status(peer: &Peer, role: &str, state: &str) -> ConnectionStatus {
    let report = peer
        .connection
        .get_stats(Instant::now(), StatsSelector::None)
        .await;
    let mut status = ConnectionStatus {
        role: role.into(),
        state: state.into(),
        ..ConnectionStatus::default()
    };
    let candidate = |id: &str| {
        report.iter().find_map(|entry| match entry {
            // Candidate entries are keyed "RTC{Local,Remote}IceCandidate_<id>" in webrtc-rs 0.21.
            RTCStatsReportEntry::LocalCandidate(c) | RTCStatsReportEntry::RemoteCandidate(c)
                if c.stats.id == id || c.stats.id.ends_with(&format!("_{id}")) =>
            {
                Some(format!(
                    "{} {}:{}/{}",
                    c.candidate_type,
                    c.address.as_deref().unwrap_or("?"),
                    c.port,
                    c.protocol
                ))
            }
            _ => None,
        })
    };
    // The pair carrying the media: the nominated one, else the busiest.
    let pairs: Vec<_> = report
        .iter()
        .filter_map(|entry| match entry {
            RTCStatsReportEntry::IceCandidatePair(p) => Some(p),
            _ => None,
        })
        .collect();
    let pair = pairs.iter().find(|p| p.nominated).or_else(|| {
        pairs
            .iter()
            .max_by_key(|p| p.bytes_sent + p.bytes_received)
            .filter(|p| p.bytes_sent + p.bytes_received > 0)
    });
    for entry in report.iter() {
        match entry {
            RTCStatsReportEntry::OutboundRtp(out) => {
                status.packets_sent += out.sent_rtp_stream_stats.packets_sent;
                status.nacks_received += u64::from(out.nack_count);
                status.packets_retransmitted += out.retransmitted_packets_sent;
            }
            RTCStatsReportEntry::RemoteInboundRtp(remote) => {
                let lost = (remote.fraction_lost * 1000.0).round() / 10.0;
                status.remote_loss_percent =
                    Some(status.remote_loss_percent.unwrap_or(0.0).max(lost));
            }
            _ => {}
        }
    }
    status.relay_problems = peer.relays.problems();
    if let Some(pair) = pair {
        status.path = report.iter().find_map(|entry| match entry {
            RTCStatsReportEntry::LocalCandidate(c)
                if c.stats.id == pair.local_candidate_id
                    || c.stats
                        .id
                        .ends_with(&format!("_{}", pair.local_candidate_id)) =>
            {
                Some(
                    peer.relays
                        .path(&c.candidate_type.to_string(), &c.protocol, &c.url),
                )
            }
            _ => None,
        });
        // The crate reports no remote candidates (0.21): the peer's side may be unknown.
        if let Some(local) = candidate(&pair.local_candidate_id) {
            let remote = candidate(&pair.remote_candidate_id).unwrap_or_else(|| "peer".into());
            status.candidate_pair = Some(format!("{local} -> {remote}"));
        }
        if pair.current_round_trip_time > 0.0 {
            status.rtt_ms = Some((pair.current_round_trip_time * 1000.0 * 10.0).round() / 10.0);
        }
    }
    status
}
