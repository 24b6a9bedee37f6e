//! Hotplug: cameras, sound cards and HID devices (speakerphones' mute buttons) coming and
//! going, from udev's device events.
//!
//! The monitor runs on its own thread, blocked in poll(2) on udev's netlink socket; each event
//! becomes a `Hotplug` for the daemon, which then looks at the devices again. Events reach us
//! only when udevd runs (it does on the device; the QEMU test tier starts it too).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotplug {
    /// "video4linux", "sound" or "hidraw".
    pub subsystem: String,
    /// "add", "remove", "change", ...
    pub action: String,
    pub devnode: Option<String>,
}

/// Watches until `deliver` returns false. Returns an error if the monitor cannot be set up.
pub fn watch(mut deliver: impl FnMut(Hotplug) -> bool) -> std::io::Result<()> {
    let socket = udev::MonitorBuilder::new()?
        .match_subsystem("video4linux")?
        .match_subsystem("sound")?
        .match_subsystem("hidraw")?
        .listen()?;
    loop {
        // SAFETY: the socket outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(socket.as_raw_fd()) };
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for event in socket.iter() {
            let hotplug = Hotplug {
                subsystem: event
                    .subsystem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                action: event
                    .action()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                devnode: event.devnode().map(|p| p.display().to_string()),
            };
            tracing::debug!(?hotplug, "udev");
            if !deliver(hotplug) {
                return Ok(());
            }
        }
    }
}
