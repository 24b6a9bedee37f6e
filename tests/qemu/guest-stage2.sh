#!/bin/bash
# Stage 2 of the QEMU test guest. initramfs-init.sh runs it as root, chrooted into the host's root
# (read-only 9p), with fd 3/4 = the command's stdout/stderr (streamed to the host by
# run-in-guest.sh). The test drivers are already loaded (by the initramfs). It starts udevd, has it
# process the existing devices (udevadm trigger + settle), then runs
# /run/salle-qemu/cmd (written by run-in-guest.sh) and exits with its status.
#
# Environment from the host (via /ctl/params): SALLE_QEMU_WORK, SALLE_QEMU_KROOT (extracted
# kernel tree, for `modprobe -d`), SALLE_QEMU_CWD, and optionally SALLE_QEMU_UDEV_TRIGGER=all.
set -euo pipefail

# A clean environment: drop what the kernel and init left (TERM=linux, unknown boot parameters...).
for v in $(compgen -e); do
  case "$v" in SALLE_QEMU_*) ;; *) unset "$v" 2>/dev/null || true ;; esac
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp/home LANG=C.UTF-8 XDG_RUNTIME_DIR=/run/user/0 SALLE_QEMU_GUEST=1
unset PWD OLDPWD

log() { echo "salle-qemu-stage2: $*"; }
setup_fail() {
  log "FATAL: $*"
  echo "run-in-guest: guest setup failed: $*" >&4
  exit 125
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"

# GStreamer: use the registry that prepare.sh generated on the host (initramfs-init.sh copied it
# here from the ctl share; writable, so a guest-side update stays in the guest).
export GST_REGISTRY=/run/salle-qemu/gst-registry.bin
if [ ! -f "$GST_REGISTRY" ]; then
  log "WARNING: no prebuilt GStreamer registry; the first GStreamer use will scan plugins (~40 s)"
fi

# Start udevd and replay "add" for the devices that exist (the drivers loaded before udevd), so
# that they have udev database entries; later hotplug (unbind/bind) is seen live by monitors.
UDEVD=/lib/systemd/systemd-udevd
[ -x "$UDEVD" ] || setup_fail "$UDEVD missing on the host (apt-get install udev)"
"$UDEVD" --daemon || setup_fail "systemd-udevd --daemon failed"
log "udevd started at $(uptime_s) s"

# By default only the subsystems of the test devices (a full trigger adds ~2 s of boot under TCG);
# SALLE_QEMU_UDEV_TRIGGER=all replays every device.
if [ "${SALLE_QEMU_UDEV_TRIGGER:-}" = all ]; then
  trigger_args=()
else
  trigger_args=(--subsystem-match=video4linux --subsystem-match=media --subsystem-match=sound
                --subsystem-match=gpio)
fi
udevadm trigger --action=add "${trigger_args[@]}" || setup_fail "udevadm trigger failed"
log "udev triggered at $(uptime_s) s"
udevadm settle --timeout=120 || setup_fail "udevadm settle timed out"
log "udev settled at $(uptime_s) s"

cd "${SALLE_QEMU_CWD:-/}" 2>/dev/null || cd "$SALLE_QEMU_WORK"
log "running the command at $(uptime_s) s (cwd $PWD)"
rc=0
bash /run/salle-qemu/cmd </dev/null >&3 2>&4 3>&- 4>&- || rc=$?
log "command status $rc at $(uptime_s) s"
exit "$rc"
