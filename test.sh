#!/usr/bin/env bash
# Runs every test tier: unit and property tests, the daemon end to end, the service files,
# and the hardware tier under QEMU with real kernel drivers (vivid, snd-aloop, snd-dummy,
# gpio-sim). SALLE_QEMU=0 skips the QEMU tier (it then says so in its test output).
# Then a short run of every fuzz target (scripts/fuzz-smoke.sh) when nightly and cargo-fuzz
# are installed (scripts/install-deps.sh test installs them).
# The image tier (image/test/tier.sh: the OS image built and booted under QEMU, A/B updates)
# runs only with SALLE_IMAGE=1 (as root): it does not fit CI's time budget yet (image/README.md).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh runtime build test
# The netem tier (a TCG guest, timing-sensitive) runs on its own after the rest, and once more
# when it fails: at the end of this session each of its two tests failed once in two runs
# (one under load, one idle), each passing in the other run. A real regression fails twice.
#
# The LiveKit-through-a-proxy test (tests/rtc_locked_down.rs) also runs on its own, once more
# when it fails: in the first full run after its merge it never got into the call (no error in
# the daemon's log within 60 s), while it passed alone and in its file's run before and after.
# Not understood yet (README, locked-down networks).
flaky_livekit_proxy=only_through_an_http_proxy_the_room_joins_livekit_through_its_turn_over_tls
cargo test --all-targets --no-fail-fast -- --test-threads=2 \
  --skip network_faults_under_qemu --skip "$flaky_livekit_proxy"
twice() { "$@" || { echo "failed once: running it again (see test.sh): $*"; "$@"; }; }
twice cargo test --test rtc_netem -- --test-threads=2 network_faults_under_qemu
twice cargo test --test rtc_locked_down -- --exact "$flaky_livekit_proxy"
# A short run of every fuzz target (20 s each; README "Fuzzing").
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  scripts/fuzz-smoke.sh
else
  echo "fuzz smoke: not run (needs nightly Rust and cargo-fuzz: scripts/install-deps.sh test)"
fi
if [ "${SALLE_IMAGE:-0}" = 1 ]; then
  image/test/tier.sh
else
  echo "image tier: not run (SALLE_IMAGE=1 runs it, as root; see image/README.md)"
fi
