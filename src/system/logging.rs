//! Logging to stderr (the journal under systemd), and to the in-memory ring that remote
//! management reads (`manage::logs`). `SALLE_LOG` or `RUST_LOG` set the filter.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init(verbose: bool) {
    // The WebRTC stack's own logs are for its developers: warnings and up, and not the DTLS
    // layer's complaints about extensions it skips (every browser sends some).
    let default = if verbose {
        "debug,rtc_dtls=error"
    } else {
        "salle=info,warn,rtc_dtls=error"
    };
    let filter = std::env::var("SALLE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    // Under systemd the journal adds its own timestamps.
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let ring = crate::manage::logs::RingLayer(crate::manage::logs::ring().clone());
    let _ = if under_systemd {
        builder.without_time().finish().with(ring).try_init()
    } else {
        builder.finish().with(ring).try_init()
    };
}
