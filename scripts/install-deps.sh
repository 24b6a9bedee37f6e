#!/usr/bin/env bash
# Installs what building, running and testing Salle needs on Debian 12 (bookworm).
# Quick when everything is there already. Uses sudo when not run as root.
set -euo pipefail

# Package names from a list file (scripts/packages/*.txt): comments, blank lines and version
# relations dropped.
read_package_list() {
  sed -e 's/#.*//' -e 's/(.*)//' "$1" | tr -s ' \t' '\n' | sed '/^$/d'
}

# What the daemon needs at run time: the same list the .deb's Depends: and the OS image use.
mapfile -t RUNTIME < <(read_package_list "$(dirname "$0")/packages/runtime.txt")

PACKAGES=(
  "${RUNTIME[@]}"
  # build
  pkg-config clang libclang-dev libasound2-dev libudev-dev libv4l-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools
  # tests: systemd-analyze, udev, the QEMU tier with real kernel drivers
  systemd udev kmod qemu-system-x86 busybox-static cpio gzip xz-utils v4l-utils alsa-utils gpiod
  make gcc-12 binutils libelf1 zlib1g coreutils util-linux
  # WebRTC tests: a TURN server (coturn) on loopback, iproute2 for network namespaces
  coturn iproute2
  # calendar tests: a CalDAV server on loopback (python3-tz: its time zones)
  radicale python3-tz
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The group that owns GPIO chips on a room device (udev/70-salle.rules); tests check it.
getent group gpio >/dev/null || $SUDO groupadd --system gpio

# The WebRTC tests' real peers: Janus 1.1 + simple-whip-server, aiortc (PyPI), headless
# Chromium, and the GStreamer WebRTC peer (tests/fixtures/gst-peer, built on first use by the
# tests).
"$(dirname "$0")/../tests/fixtures/janus/setup.sh"
"$(dirname "$0")/../tests/fixtures/chromium/setup.sh"
"$(dirname "$0")/../tests/fixtures/livekit/setup.sh"

if ! command -v cargo >/dev/null; then
  echo "install-deps: no Rust toolchain: install Rust 1.92 or newer with rustup, then run this again" >&2
  exit 1
fi
