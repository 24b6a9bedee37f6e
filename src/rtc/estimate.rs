//! The congestion controller's estimate, where the encoder can read it.
//!
//! The crate's Google Congestion Control runs inside the interceptor chain, fed by transport-wide
//! feedback (TWCC). It is the one part of that loop we supply, so a thin wrapper publishes its
//! target after each of the two calls that can move it.

use ::rtc::interceptor::{BandwidthEstimator, EstimatorStats, Gcc, PacketReport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The latest target, in bits per second, shared with whoever sets the encoder's bitrate.
#[derive(Debug, Clone, Default)]
pub struct TargetBitrate(Arc<AtomicU64>);

impl TargetBitrate {
    pub fn bps(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, bps: f64) {
        self.0.store(bps.max(0.0) as u64, Ordering::Relaxed);
    }
}

pub struct PublishingEstimator {
    gcc: Gcc,
    target: TargetBitrate,
}

impl PublishingEstimator {
    /// GCC between `min` and `max` bits per second, starting at `start`.
    pub fn new(start: u64, min: u64, max: u64) -> (PublishingEstimator, TargetBitrate) {
        let gcc = Gcc::new(start as f64, min as f64, max as f64);
        let target = TargetBitrate::default();
        target.set(gcc.target_bitrate());
        let estimator = PublishingEstimator {
            gcc,
            target: target.clone(),
        };
        (estimator, target)
    }
}

impl BandwidthEstimator for PublishingEstimator {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        let before = self.target.bps();
        // The crate's send history records every packet, including those of streams that carry
        // no transport-wide sequence number (the audio: transport-cc is negotiated for video
        // only). Transport-wide feedback can never acknowledge those, and the crate reports
        // them as lost: with Janus that was 40 % "loss" and the estimate at its floor in 3 s,
        // while receiver reports said 0 %. Only what the feedback can speak for counts.
        let reports: Vec<PacketReport> = reports.iter().filter(|r| r.is_twcc).cloned().collect();
        if reports.is_empty() {
            return;
        }
        let reports = reports.as_slice();
        self.gcc.on_reports(now, reports);
        let after = self.gcc.target_bitrate();
        if (after - before as f64).abs() > before as f64 / 10.0 {
            // Why the estimate moved: the delay-based or the loss-based half.
            let stats = self.gcc.stats();
            tracing::debug!(
                "congestion control: {} -> {} kbit/s (delay-based {:?}, loss-based {:?}, loss {:?}, {} reports, {} lost)",
                before / 1000,
                (after / 1000.0) as u64,
                stats.delay_based_bitrate.map(|b| (b / 1000.0) as u64),
                stats.loss_based_bitrate.map(|b| (b / 1000.0) as u64),
                stats.packet_loss,
                reports.len(),
                reports.iter().filter(|r| !r.arrived).count()
            );
        }
        self.target.set(after);
    }

    fn target_bitrate(&self) -> f64 {
        self.gcc.target_bitrate()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
        self.target.set(self.gcc.target_bitrate());
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}
