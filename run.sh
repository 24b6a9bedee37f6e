#!/usr/bin/env bash
# Builds and runs the Salle daemon on this machine: real cameras, sound cards and GPIO where
# they exist, simulated ones (test pattern, tone, virtual buttons) where they do not.
# Usage: ./run.sh [CONFIG]   (default: examples/demo.toml)
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh runtime build
cargo build --release --quiet
config="${1:-examples/demo.toml}"
echo "run.sh: starting the daemon with $config; in another terminal try:"
echo "  target/release/salle status -c $config     target/release/salle press join -c $config"
exec target/release/salle run --config "$config"
