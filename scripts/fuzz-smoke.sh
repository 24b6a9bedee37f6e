#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/, README "Fuzzing"): builds them with nightly and
# cargo-fuzz, then runs each for SALLE_FUZZ_SECONDS (default 20) from its corpus in fuzz/corpus,
# at the lowest CPU priority. A crash, panic, hang (-timeout) or leak fails the run; libFuzzer
# leaves the input in fuzz/artifacts/<target>/ (make it a regression test, then fix it).
#
# The corpus is not changed: new inputs go to a scratch folder (the corpus in the repository is
# grown and minimised by hand, README "Fuzzing").
#
#   scripts/fuzz-smoke.sh [TARGET...]    all targets by default
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${SALLE_FUZZ_SECONDS:-20}"
target_dir="${SALLE_FUZZ_TARGET_DIR:-$PWD/target}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: needs the nightly toolchain and cargo-fuzz (scripts/install-deps.sh test)" >&2
  exit 1
fi

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
start=$SECONDS
if ! cargo +nightly fuzz build --target-dir "$target_dir" >"$scratch/build.log" 2>&1; then
  tail -30 "$scratch/build.log"
  echo "fuzz-smoke: the fuzz targets do not build" >&2
  exit 1
fi
echo "fuzz-smoke: built in $((SECONDS - start)) s"

for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  # -timeout: an input that takes more than 10 s is a hang; -rss_limit_mb: one that needs more
  # than 2 GB is a memory blow-up. Both fail the run like a crash.
  if ! nice -n 19 cargo +nightly fuzz run --target-dir "$target_dir" "$target" \
      "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$scratch/$target.log" 2>&1; then
    tail -40 "$scratch/$target.log"
    echo "fuzz-smoke: $target FAILED (its input is in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz-smoke: $target: $runs runs in ${seconds} s, nothing found"
done
echo "fuzz-smoke: done in $((SECONDS - start)) s"
