//! Rebooting the device for remote management: through logind (`systemctl reboot` asks it over
//! D-Bus; the polkit rule in packaging/ lets the salle user do it). Test hook:
//! `SALLE_TEST_REBOOT_FILE=<path>` writes that file instead of rebooting the test machine.

pub fn reboot() {
    if let Some(marker) = std::env::var_os("SALLE_TEST_REBOOT_FILE") {
        if let Err(e) = std::fs::write(&marker, "reboot\n") {
            tracing::error!("reboot (test): {e}");
        }
        return;
    }
    // Not waited for: logind stops us on the way down.
    if let Err(e) = std::process::Command::new("systemctl")
        .args(["reboot", "--no-wall"])
        .spawn()
    {
        tracing::error!("cannot reboot: systemctl: {e}");
    }
}
