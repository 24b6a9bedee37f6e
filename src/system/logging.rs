//! Logging to stderr (the journal under systemd). `SALLE_LOG` or `RUST_LOG` set the filter.

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
    let _ = if under_systemd {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}
