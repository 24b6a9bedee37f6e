#!/usr/bin/env bash
# Builds and runs the Salle daemon on this machine: real cameras, sound cards and GPIO where
# they exist, simulated ones (test pattern, tone, virtual buttons) where they do not; and, beside
# it, the room's web console (`salle web`, its own process, as on a device).
# Usage: ./run.sh [CONFIG]   (default: examples/demo.toml)
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh runtime build
cargo build --release --quiet
config="${1:-examples/demo.toml}"
salle=target/release/salle
"$salle" run --config "$config" &
daemon=$!
web=
trap 'kill $daemon $web 2>/dev/null || true' EXIT INT TERM
# The console hands the daemon its setup code: start it once the daemon answers.
for _ in $(seq 100); do
  "$salle" status -c "$config" >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || wait "$daemon"
  sleep 0.1
done
"$salle" web --config "$config" &
web=$!
sleep 1
echo "run.sh: the daemon runs on $config; in another terminal try:"
echo "  $salle status -c $config     (the console's address and its one-time setup code)"
echo "  $salle press join -c $config"
wait "$daemon"
