#!/usr/bin/env bash
# Runs every test tier: unit and property tests, the daemon end to end, the service files,
# and the hardware tier under QEMU with real kernel drivers (vivid, snd-aloop, snd-dummy,
# gpio-sim). SALLE_QEMU=0 skips the QEMU tier (it then says so in its test output).
# Then the image tier (image/test/tier.sh: the OS image built and booted under QEMU, A/B
# updates); SALLE_IMAGE=0 skips it. It needs root.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cargo test --all-targets --no-fail-fast -- --test-threads=2
if [ "${SALLE_IMAGE:-1}" = 0 ]; then
  echo "image tier: skipped (SALLE_IMAGE=0)"
elif [ "$(id -u)" -ne 0 ]; then
  echo "image tier: skipped (needs root: mmdebstrap, chroot; run as root or with SALLE_IMAGE=0)"
else
  image/test/tier.sh
fi
