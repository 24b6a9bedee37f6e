#!/usr/bin/env bash
# Runs every test tier: unit and property tests, the daemon end to end, the service files,
# and the hardware tier under QEMU with real kernel drivers (vivid, snd-aloop, snd-dummy,
# gpio-sim). SALLE_QEMU=0 skips the QEMU tier (it then says so in its test output).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh runtime build test
cargo test --all-targets --no-fail-fast -- --test-threads=2
