//! Living under systemd: readiness, watchdog and status notifications, logging.

pub mod logging;
pub mod notify;
pub mod reboot;
