#!/usr/bin/env bash
# The web surface's figures: API and console page latency under 20 concurrent clients (wrk,
# 20 s each), the web process' RSS and CPU idle and under load, and the daemon's beside it.
# Runs a daemon on simulated devices and `salle web` on loopback, claims the room, makes a
# viewer token. Prints figures; asserts nothing (timings are not tests on a shared machine).
#
#   scripts/bench-web.sh [SALLE_BIN]    (default target/release/salle, else target/debug/salle)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-}"
[ -n "$bin" ] || { [ -x "$repo/target/release/salle" ] && bin="$repo/target/release/salle" || bin="$repo/target/debug/salle"; }
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh test)" >&2; exit 2; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/salle.toml" <<TOML
[control]
socket = "$dir/control.sock"
[room]
name = "Salle Bench"
[meeting]
url = "test://bench?connect_ms=200"
[camera]
device = "test"
[audio]
capture = "test"
playback = "test"
[screen]
output = "none"
[network]
bind = ["127.0.0.1:0"]
[web]
listen = "127.0.0.1:$port"
state_dir = "$dir/web"
TOML
"$bin" run -c "$dir/salle.toml" 2>"$dir/daemon.log" & daemon=$!
cleanup() { kill "$daemon" "${web:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$dir/control.sock" ] && break; sleep 0.1; done
"$bin" web -c "$dir/salle.toml" >"$dir/web.out" 2>"$dir/web.log" & web=$!
for _ in $(seq 100); do grep -q listening "$dir/web.out" 2>/dev/null && break; sleep 0.1; done
url="https://127.0.0.1:$port"
code=$("$bin" status --json -c "$dir/salle.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["web"]["setup_code"])')
csrf=$(curl -sk -c "$dir/jar" -H 'content-type: application/json' \
  -d "{\"code\":\"$code\",\"user\":\"admin\",\"password\":\"benchmark password\"}" "$url/api/v1/setup" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
token=$(curl -sk -b "$dir/jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"name":"bench","role":"viewer"}' "$url/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# RSS (kB) and CPU seconds (user+system) of a process.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat"; }
echo "binary: $bin"
sleep 2
w0=$(cpu "$web"); d0=$(cpu "$daemon"); sleep 20; w1=$(cpu "$web"); d1=$(cpu "$daemon")
echo "idle 20 s: web RSS $(rss "$web") kB, CPU $(python3 -c "print(f'{($w1-$w0)/20*100:.2f}')") % of a core;" \
     "daemon RSS $(rss "$daemon") kB, CPU $(python3 -c "print(f'{($d1-$d0)/20*100:.2f}')") %"
for path in /api/v1/status / /metrics; do
  w0=$(cpu "$web")
  echo "--- GET $path, 20 connections, 2 threads, 20 s"
  wrk -t2 -c20 -d20s --latency -H "Authorization: Bearer $token" "$url$path" |
    grep -E 'Latency|50%|90%|99%|Requests/sec|Non-2xx|Socket errors'
  w1=$(cpu "$web")
  echo "web RSS $(rss "$web") kB, CPU $(python3 -c "print(f'{($w1-$w0)/20*100:.0f}')") % of a core under load"
done
echo "daemon after: RSS $(rss "$daemon") kB"
