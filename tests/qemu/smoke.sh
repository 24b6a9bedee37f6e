#!/bin/bash
# Guest-side smoke test of the QEMU hardware tier: proves that vivid, v4l2loopback, snd-aloop,
# snd-dummy, gpio-sim, GStreamer and udev work in the guest. Run it from the host with
#   tests/qemu/run-in-guest.sh -- "$PWD/tests/qemu/smoke.sh"
# Each step prints PASS/FAIL; the script exits non-zero if any step failed.
set -euo pipefail

if [ "${SALLE_QEMU_GUEST:-}" != 1 ]; then
  echo "smoke.sh: run me inside the guest: tests/qemu/run-in-guest.sh -- $0" >&2
  exit 2
fi

FAILED=()
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

step() {  # step NAME FUNCTION: run FUNCTION in a subshell with errexit on, print PASS/FAIL
  local name=$1 rc
  shift
  echo
  echo "=== $name"
  set +e   # (not `( ... ) || rc=$?`: that would disable errexit inside the subshell)
  ( set -e; trap 'kill $(jobs -p) 2>/dev/null || true' EXIT; "$@" )
  rc=$?
  set -e
  if [ "$rc" = 0 ]; then echo "PASS: $name"; else echo "FAIL: $name (status $rc)"; FAILED+=("$name"); fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
  local secs=$1 what=$2 i=0
  shift 2
  until "$@"; do
    i=$((i + 1))
    if [ "$i" -gt $((secs * 10)) ]; then echo "timed out after ${secs} s waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}

# The vivid video capture node, e.g. /dev/video0 (sysfs name "vivid-000-vid-cap").
vivid_cap_dev() {
  local d
  for d in /sys/class/video4linux/video*; do
    [ -e "$d/name" ] || continue
    case "$(cat "$d/name")" in vivid-*-vid-cap) echo "/dev/${d##*/}"; return 0 ;; esac
  done
  return 1
}

# --- V4L2 ------------------------------------------------------------------------------------------
t_v4l2() {
  v4l2-ctl --list-devices
  local dev
  dev=$(vivid_cap_dev) || { echo "no vivid capture node in /sys/class/video4linux" >&2; return 1; }
  echo "vivid capture node: $dev"
  v4l2-ctl -d "$dev" --info | grep -q 'Video Capture' || { echo "$dev is not a capture device" >&2; return 1; }
  v4l2-ctl -d "$dev" --list-formats
  v4l2-ctl -d "$dev" --get-fmt-video
  v4l2-ctl -d "$dev" --list-formats | grep -q "'YUYV'"
  udevadm info "$dev" | grep 'ID_V4L_CAPABILITIES=:capture:'
  v4l2-ctl -d "$dev" --list-inputs
}

# --- ALSA ------------------------------------------------------------------------------------------
t_alsa_list() {
  arecord -l
  aplay -l
  arecord -l | grep -q '^card [0-9]*: Loopback' || { echo "no Loopback capture card" >&2; return 1; }
  aplay -l | grep -q '^card [0-9]*: Dummy' || { echo "no Dummy playback card" >&2; return 1; }
}

t_alsa_loopback() {
  # Play noise into the loopback's playback side (device 0) while recording 1 s from its capture
  # side (device 1): the recording must not be silent.
  aplay -q -D hw:Loopback,0,0 -t raw -f S16_LE -r 48000 -c 2 -d 3 /dev/urandom &
  local player=$!
  arecord -D hw:Loopback,1,0 -t wav -f S16_LE -r 48000 -c 2 -d 1 "$TMP/loop.wav"
  kill "$player" 2>/dev/null || true
  wait "$player" 2>/dev/null || true
  local size nonzero
  size=$(stat -c %s "$TMP/loop.wav")
  nonzero=$(tail -c +45 "$TMP/loop.wav" | tr -d '\000' | wc -c)
  echo "recorded $size bytes from hw:Loopback,1,0 ($nonzero non-zero sample bytes)"
  [ "$size" -ge 190000 ] || { echo "recording too short" >&2; return 1; }
  [ "$nonzero" -gt 0 ] || { echo "recording is silent" >&2; return 1; }
  # and the dummy card plays
  aplay -q -D hw:Dummy -t raw -f S16_LE -r 48000 -c 2 -d 1 /dev/zero
}

# --- gpio-sim --------------------------------------------------------------------------------------
GS=/sys/kernel/config/gpio-sim/smoke
t_gpio_sim() {
  mkdir "$GS" "$GS/bank0" "$GS/bank0/line3"
  echo 8 > "$GS/bank0/num_lines"
  echo smoke-bank > "$GS/bank0/label"
  echo smoke-button > "$GS/bank0/line3/name"
  echo 1 > "$GS/live"
  local devname chip
  devname=$(cat "$GS/dev_name")
  chip=$(cat "$GS/bank0/chip_name")
  echo "configfs: $GS -> platform device $devname, $chip"
  local sim=/sys/devices/platform/$devname/$chip/sim_gpio3
  wait_for 10 "/dev/$chip" test -c "/dev/$chip"
  udevadm settle
  gpiodetect
  gpioinfo "$chip"
  [ "$(gpiofind smoke-button)" = "$chip 3" ] || { echo "gpiofind smoke-button failed" >&2; return 1; }
  ls "$sim"
  echo pull-down > "$sim/pull"
  # gpiomon requests line 3 for edge events; wait until it holds the line before pulling.
  timeout 20 gpiomon --num-events=2 "$chip" 3 > "$TMP/gpiomon.out" &
  local mon=$!
  wait_for 10 "gpiomon to request line 3" \
    sh -c "gpioinfo $chip | grep -E '^[[:space:]]*line +3:' | grep -q '\"gpiomon\"'"
  echo pull-up > "$sim/pull"
  wait_for 5 "line 3 to read 1" grep -qx 1 "$sim/value"
  echo pull-down > "$sim/pull"
  wait "$mon" || { echo "gpiomon failed or timed out:" >&2; cat "$TMP/gpiomon.out" >&2; return 1; }
  cat "$TMP/gpiomon.out"
  grep -q 'RISING EDGE offset: 3' "$TMP/gpiomon.out" || { echo "no rising edge seen" >&2; return 1; }
  grep -q 'FALLING EDGE offset: 3' "$TMP/gpiomon.out" || { echo "no falling edge seen" >&2; return 1; }
}
t_gpio_sim_teardown() {
  [ -d "$GS" ] || return 0
  echo 0 > "$GS/live"
  rmdir "$GS/bank0/line3" "$GS/bank0" "$GS"
}

# --- GStreamer capture ------------------------------------------------------------------------------
t_gst_capture() {
  local dev
  dev=$(vivid_cap_dev)
  echo "GST_REGISTRY=${GST_REGISTRY:-}"
  timeout 120 gst-launch-1.0 -v v4l2src device="$dev" num-buffers=5 ! fakesink silent=false \
    > "$TMP/gst.out" 2>&1 || { cat "$TMP/gst.out" >&2; return 1; }
  grep -E 'caps = |Execution ended' "$TMP/gst.out" | head -n 3
  local n
  n=$(grep -c 'last-message = chain' "$TMP/gst.out" || true)
  echo "fakesink received $n buffers"
  [ "$n" = 5 ]
}

# --- v4l2loopback: an MJPEG camera fed by GStreamer -------------------------------------------------
# The loopback node, e.g. /dev/video10 (sysfs name "salle-loopback", its card_label).
loopback_dev() {
  local d
  for d in /sys/class/video4linux/video*; do
    [ -e "$d/name" ] || continue
    [ "$(cat "$d/name")" = salle-loopback ] && { echo "/dev/${d##*/}"; return 0; }
  done
  return 1
}
t_v4l2loopback_mjpeg() {
  local dev
  dev=$(loopback_dev) || { echo "no salle-loopback node in /sys/class/video4linux" >&2; return 1; }
  echo "v4l2loopback node: $dev"
  # Idle, it is an output (exclusive_caps=1): no camera yet.
  v4l2-ctl -d "$dev" --info | grep -q 'Video Output' || { echo "$dev is not an output while idle" >&2; return 1; }
  # v4l2sink takes only parsed JPEG with the colorimetry it probed (jpegparse drops jpegenc's).
  gst-launch-1.0 -q videotestsrc is-live=true pattern=smpte \
    ! video/x-raw,width=640,height=360,framerate=30/1 ! jpegenc ! jpegparse \
    ! image/jpeg,colorimetry=2:4:7:1 ! v4l2sink device="$dev" sync=false > "$TMP/producer.out" 2>&1 &
  wait_for 20 "$dev to become a capture device" sh -c "v4l2-ctl -d $dev --info | grep -q 'Video Capture'"
  v4l2-ctl -d "$dev" --list-formats-ext
  v4l2-ctl -d "$dev" --list-formats | grep -q "'MJPG'" || { echo "no MJPG format" >&2; return 1; }
  udevadm info "$dev" | grep 'ID_V4L_CAPABILITIES='
  timeout 60 gst-launch-1.0 -v v4l2src device="$dev" num-buffers=5 ! image/jpeg,width=640,height=360 \
    ! jpegparse ! jpegdec ! fakesink silent=false > "$TMP/loop.out" 2>&1 \
    || { cat "$TMP/loop.out" "$TMP/producer.out" >&2; return 1; }
  local n
  n=$(grep -c 'last-message = chain' "$TMP/loop.out" || true)
  echo "fakesink received $n decoded MJPEG frames"
  [ "$n" = 5 ]
}

# --- vivid unplug / replug -------------------------------------------------------------------------
t_vivid_unbind_bind() {
  local dev node pdev
  dev=$(vivid_cap_dev)
  node=${dev#/dev/}
  pdev=$(basename "$(readlink -f "/sys/class/video4linux/$node/device")")   # vivid.0
  echo "vivid platform device: $pdev, node $dev"
  udevadm monitor --udev --subsystem-match=video4linux > "$TMP/monitor.out" 2>&1 &
  local mon=$!
  wait_for 10 "udevadm monitor to start" grep -q '^UDEV - the event' "$TMP/monitor.out"
  echo "$pdev" > /sys/bus/platform/drivers/vivid/unbind
  wait_for 10 "$dev to disappear" sh -c "! test -e $dev"
  echo "unbound: $dev is gone"
  echo "$pdev" > /sys/bus/platform/drivers/vivid/bind
  wait_for 10 "a vivid capture node to reappear" vivid_cap_dev_exists
  dev=$(vivid_cap_dev)
  echo "bound again: $dev"
  wait_for 10 "the udev add event" grep -q 'add .*(video4linux)' "$TMP/monitor.out"
  udevadm settle
  kill "$mon"; wait "$mon" 2>/dev/null || true
  cat "$TMP/monitor.out"
  grep -q 'remove .*(video4linux)' "$TMP/monitor.out" || { echo "no udev remove event" >&2; return 1; }
  grep -q 'add .*(video4linux)' "$TMP/monitor.out" || { echo "no udev add event" >&2; return 1; }
  udevadm info "$dev" | grep -q 'ID_V4L_CAPABILITIES=:capture:'
  test -c "$dev"
}
vivid_cap_dev_exists() { local d; d=$(vivid_cap_dev) && test -c "$d"; }

echo "smoke: kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s"
step "v4l2: vivid capture device and formats" t_v4l2
step "alsa: snd-aloop and snd-dummy cards listed" t_alsa_list
step "alsa: 1 s recording through snd-aloop, playback on snd-dummy" t_alsa_loopback
step "gpio-sim: configfs chip, sysfs pull seen by gpiomon as edges" t_gpio_sim
t_gpio_sim_teardown || echo "warning: gpio-sim teardown failed"
step "gstreamer: 5 frames from vivid through v4l2src" t_gst_capture
step "v4l2loopback: MJPEG written with v4l2sink, captured and decoded with v4l2src" t_v4l2loopback_mjpeg
step "udev: vivid unbind/bind removes and re-adds the capture node" t_vivid_unbind_bind

echo
if [ ${#FAILED[@]} = 0 ]; then
  echo "smoke: ALL PASSED (uptime $(cut -d' ' -f1 /proc/uptime) s)"
else
  echo "smoke: ${#FAILED[@]} FAILED: ${FAILED[*]}"
  exit 1
fi
