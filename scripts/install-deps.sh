#!/usr/bin/env bash
# Installs what Salle needs on Debian 12 (bookworm), by group:
#
#   scripts/install-deps.sh runtime   what the daemon needs at run time (scripts/packages/runtime.txt,
#                                     also the Debian package's Depends)
#   scripts/install-deps.sh build     what building it needs (scripts/packages/build.txt)
#   scripts/install-deps.sh test      what the test tiers need (scripts/packages/test.txt) and the
#                                     fixtures' own setup: Janus, Chromium, LiveKit, the gst-peer
#                                     program, the QEMU tier's kernel and drivers, nightly Rust and
#                                     cargo-fuzz (every pip, npm, go, cargo install, rustup
#                                     toolchain and download happens there)
#
# With no group: all three. ./run.sh installs runtime + build, ./test.sh all three. Quick when
# everything is there already (each group checks with dpkg first). Uses sudo when not root.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

groups=("$@")
[ "${#groups[@]}" -gt 0 ] || groups=(runtime build test)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

# The packages of one list: one per line, '#' comments.
packages_of() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages/$1.txt"
}

wanted=()
for group in "${groups[@]}"; do
  case "$group" in
    runtime | build | test) mapfile -t -O "${#wanted[@]}" wanted < <(packages_of "$group") ;;
    *) echo "install-deps: unknown group '$group' (runtime, build, test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for group in "${groups[@]}"; do
  case "$group" in
    runtime)
      # The group that owns GPIO chips on a room device (udev/70-salle.rules).
      getent group gpio >/dev/null || $SUDO groupadd --system gpio
      ;;
    build)
      if ! command -v cargo >/dev/null; then
        echo "install-deps: no Rust toolchain: install Rust 1.92 or newer with rustup, then run this again" >&2
        exit 1
      fi
      ;;
    test)
      # The WebRTC tests' real peers: Janus 1.1 + simple-whip-server and aiortc (PyPI), headless
      # Chromium, the LiveKit fixture, and the GStreamer WebRTC peer (a cargo build).
      "$repo/tests/fixtures/janus/setup.sh"
      "$repo/tests/fixtures/chromium/setup.sh"
      "$repo/tests/fixtures/livekit/setup.sh"
      "$repo/tests/fixtures/console/setup.sh" >/dev/null
      "$repo/tests/fixtures/gst-peer/build.sh" >/dev/null
      # The fuzz targets' tools (scripts/fuzz-smoke.sh): the nightly toolchain and cargo-fuzz.
      if command -v rustup >/dev/null; then
        rustup toolchain list | grep -q '^nightly-' ||
          rustup toolchain install nightly --profile minimal
        cargo +nightly fuzz --version 2>/dev/null | grep -q ' 0\.13\.2$' ||
          cargo +stable install cargo-fuzz --version 0.13.2 --locked
      fi
      # The QEMU tier's kernel, out-of-tree drivers and initramfs (cached in .cache/qemu).
      if [ "${SALLE_QEMU:-1}" != 0 ]; then
        SALLE_QEMU_QUIET=1 "$repo/tests/qemu/prepare.sh"
      fi
      ;;
  esac
done
