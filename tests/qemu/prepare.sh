#!/usr/bin/env bash
# Prepare the QEMU hardware-test tier (see tests/qemu/README.md).
#
# Idempotent: everything goes into $SALLE_QEMU_CACHE (default <repo>/.cache/qemu) and is reused
# when present. From nothing it:
#   1. checks (and, as root or with sudo, apt-get installs) the host packages the tier needs;
#   2. picks the Debian kernel ABI that the linux-image-amd64 / linux-headers-amd64 metapackages'
#      candidates depend on, apt-get downloads linux-image-<abi>-unsigned, linux-headers-<abi>,
#      its -common and linux-kbuild packages, and dpkg-deb -x's them into the cache;
#   3. extracts gpio-sim.c, gpiolib.h and kernel/irq/irq_sim.c from Debian's linux-source package
#      and builds gpio-sim.ko out of tree against those headers;
#   3b. apt-get downloads Debian's v4l2loopback-dkms (the driver's source) and builds
#      v4l2loopback.ko the same way (a V4L2 device that can carry MJPEG), then runs depmod -b;
#   4. builds a busybox-static initramfs (init = tests/qemu/initramfs-init.sh);
#   5. pre-generates a GStreamer registry for the guest (GST_REGISTRY).
# and writes $CACHE/current.env, which run-in-guest.sh reads.
#
# Environment:
#   SALLE_QEMU_CACHE    cache dir (default <repo>/.cache/qemu)
#   SALLE_QEMU_KABI     force a kernel ABI, e.g. 6.1.0-56-amd64 (default: metapackage candidate,
#                       or the one already in the cache)
#   SALLE_QEMU_REFRESH  =1: ask apt again which kernel is current even if one is cached
#   SALLE_QEMU_NO_APT_INSTALL =1: never apt-get install/update; fail listing what is missing
#   SALLE_QEMU_QUIET    =1: print nothing when everything is already prepared
set -euo pipefail

export LC_ALL=C   # apt-cache output is parsed below
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${SALLE_QEMU_CACHE:-$REPO/.cache/qemu}
QUIET=${SALLE_QEMU_QUIET:-0}

# Host packages: build side (kernel extraction, module build, initramfs, qemu) and guest side
# (the guest chroots into the host root, so the guest's tools are the host's).
HOST_PACKAGES=(
  # runner / build
  qemu-system-x86 busybox-static kmod cpio gzip xz-utils make gcc-12 binutils libelf1 zlib1g
  coreutils util-linux
  # used inside the guest
  udev v4l-utils alsa-utils gpiod gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
)

log() { [ "$QUIET" = 1 ] || echo "prepare: $*" >&2; }
say() { echo "prepare: $*" >&2; }
die() { echo "prepare: ERROR: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  [ "${SALLE_QEMU_NO_APT_INSTALL:-0}" = 1 ] && die "apt lists look incomplete and SALLE_QEMU_NO_APT_INSTALL=1"
  say "running apt-get update"
  as_root apt-get update -qq >&2
  APT_UPDATED=1
}

ensure_host_packages() {
  local missing=() p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii\|^hi' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "${SALLE_QEMU_NO_APT_INSTALL:-0}" = 1 ]; then
    die "missing host packages: ${missing[*]} (apt-get install --no-install-recommends them)"
  fi
  say "installing missing host packages: ${missing[*]}"
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt_update_once; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

# Candidate version of a package ('' if none).
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}' | sed 's/(none)//'; }

# Name of the linux-image-<abi> / linux-headers-<abi> package a metapackage's candidate depends on.
meta_dep() {
  local meta=$1 prefix=$2 ver
  ver=$(candidate "$meta")
  [ -n "$ver" ] || return 1
  apt-cache show "$meta=$ver" | sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' \
    | sed 's/^ *//; s/ .*//' | grep "^$prefix" | head -n1
}

pick_kabi() {
  local img hdr
  if ! img=$(meta_dep linux-image-amd64 linux-image-) || [ -z "$img" ]; then
    apt_update_once
    img=$(meta_dep linux-image-amd64 linux-image-) || die "apt knows no linux-image-amd64"
  fi
  hdr=$(meta_dep linux-headers-amd64 linux-headers-) || die "apt knows no linux-headers-amd64"
  [ "${img#linux-image-}" = "${hdr#linux-headers-}" ] \
    || die "linux-image-amd64 ($img) and linux-headers-amd64 ($hdr) disagree on the kernel ABI"
  echo "${img#linux-image-}"
}

# ---------------------------------------------------------------------------------------------

mkdir -p "$CACHE"
[ -f "$CACHE/CACHEDIR.TAG" ] || printf 'Signature: 8a477f597d28d172789f06886806bc55\n# salle qemu test cache (tests/qemu/prepare.sh)\n' > "$CACHE/CACHEDIR.TAG"

exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"

ensure_host_packages

# The id of the inputs that shape the artifacts; a change rebuilds what depends on it.
SCRIPT_ID=$(cat "$HERE/prepare.sh" "$HERE/initramfs-init.sh" | sha256sum | cut -c1-16)
BUILD_ID=$(sha256sum < "$HERE/prepare.sh" | cut -c1-16)   # gpio-sim.ko depends on prepare.sh only

KABI=${SALLE_QEMU_KABI:-}
if [ -z "$KABI" ] && [ "${SALLE_QEMU_REFRESH:-0}" != 1 ] && [ -f "$CACHE/current.env" ]; then
  KABI=$(sed -n "s/^KABI='\(.*\)'$/\1/p" "$CACHE/current.env")
fi
[ -n "$KABI" ] || KABI=$(pick_kabi)
case "$KABI" in *-amd64) ;; *) die "unexpected kernel ABI '$KABI' (want e.g. 6.1.0-56-amd64)" ;; esac

KDIR=$CACHE/kernel/$KABI
KROOT=$KDIR/root
INITRD=$KDIR/initramfs.cpio.gz
GST_REG=$CACHE/gst-registry-x86_64.bin
MODDIR=$KROOT/lib/modules/$KABI

# Fast path: everything present and built by these very scripts.
if [ -f "$CACHE/current.env" ] && grep -qx "SCRIPT_ID='$SCRIPT_ID'" "$CACHE/current.env" \
   && grep -qx "KABI='$KABI'" "$CACHE/current.env" && [ -f "$KDIR/.kernel.done" ] \
   && [ -f "$MODDIR/extra/gpio-sim.ko" ] && [ -f "$MODDIR/extra/v4l2loopback.ko" ] \
   && [ -f "$INITRD" ]; then
  FAST=1
else
  FAST=0
fi

if [ "$FAST" = 0 ]; then
  say "kernel ABI $KABI, cache $CACHE"
  DL=$CACHE/tmp/dl
  mkdir -p "$CACHE/tmp"
  apt_dl() {  # apt_dl PKG=VER...: download into $DL
    rm -rf "$DL"; mkdir -p "$DL"; chmod 0777 "$DL"   # let apt's _apt sandbox user write there
    (cd "$DL" && apt-get download -q "$@" >&2) || die "apt-get download $* failed"
  }

  # --- 1. kernel image + headers ------------------------------------------------------------
  if [ ! -f "$KDIR/.kernel.done" ]; then
    t0=$SECONDS
    KVER=$(candidate "linux-headers-$KABI")
    [ -n "$KVER" ] || { apt_update_once; KVER=$(candidate "linux-headers-$KABI"); }
    [ -n "$KVER" ] || die "no installable linux-headers-$KABI"
    IMG=linux-image-$KABI-unsigned
    [ "$(candidate "$IMG")" = "$KVER" ] || IMG=linux-image-$KABI
    [ "$(candidate "$IMG")" = "$KVER" ] || die "no linux-image-${KABI}[-unsigned] at version $KVER"
    # linux-headers-<abi> depends on linux-headers-<x>-common and linux-kbuild-<mm>: take both
    # at the same version (they come from the same source package).
    mapfile -t HDEPS < <(apt-cache show "linux-headers-$KABI=$KVER" | sed -n 's/^Depends: //p' \
      | head -n1 | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -E '^linux-(headers|kbuild)-')
    [ ${#HDEPS[@]} -ge 2 ] || die "could not read linux-headers-$KABI dependencies"
    pkgs=("$IMG=$KVER" "linux-headers-$KABI=$KVER")
    for d in "${HDEPS[@]}"; do pkgs+=("$d=$KVER"); done
    say "downloading ${pkgs[*]}"
    apt_dl "${pkgs[@]}"
    rm -rf "$KDIR"; mkdir -p "$KROOT"
    for deb in "$DL"/*.deb; do dpkg-deb -x "$deb" "$KROOT"; done
    rm -rf "$DL"
    [ -f "$KROOT/boot/vmlinuz-$KABI" ] || die "no /boot/vmlinuz-$KABI in $IMG"
    HDIR=$KROOT/usr/src/linux-headers-$KABI
    # The headers' Makefile includes the -common one by absolute path: point it into the cache.
    sed -i "s#^include /usr/src/#include $KROOT/usr/src/#" "$HDIR/Makefile"
    grep -q "^include $KROOT/" "$HDIR/Makefile" || die "unexpected $HDIR/Makefile"
    printf "KVER='%s'\n" "$KVER" > "$KDIR/kver.env"
    touch "$KDIR/.kernel.done"
    say "kernel $KABI ($KVER) extracted in $((SECONDS - t0)) s"
  fi
  # shellcheck disable=SC1091
  . "$KDIR/kver.env"
  HDIR=$KROOT/usr/src/linux-headers-$KABI

  # QEMU boots an uncompressed ELF vmlinux through its PVH entry point directly; that skips the
  # bzImage's xz decompression, which takes ~3.5 s under TCG.
  if [ ! -f "$KDIR/vmlinux" ] && grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KABI"; then
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$KROOT/boot/vmlinuz-$KABI" | head -n1 | cut -d: -f1 || true)
    if [ -n "$off" ] && xz -dc --single-stream > "$KDIR/vmlinux.tmp" 2>/dev/null \
         < <(tail -c +$((off + 1)) "$KROOT/boot/vmlinuz-$KABI") \
       && [ "$(head -c4 "$KDIR/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
    else
      rm -f "$KDIR/vmlinux.tmp"
      say "WARNING: could not extract vmlinux (booting the bzImage, ~3.5 s slower)"
    fi
  fi

  # --- 2. gpio-sim sources from linux-source-<major.minor> ------------------------------------
  MM=$(echo "$KABI" | cut -d. -f1,2)          # 6.1
  SRCPKG=linux-source-$MM
  SRCDIR=$CACHE/src/$SRCPKG-$KVER
  if [ ! -f "$SRCDIR/.done" ]; then
    t0=$SECONDS
    SRCVER=$KVER
    if ! apt-cache show "$SRCPKG=$KVER" >/dev/null 2>&1; then
      SRCVER=$(candidate "$SRCPKG")
      [ -n "$SRCVER" ] || die "no $SRCPKG package available"
      say "WARNING: $SRCPKG=$KVER not available, using $SRCVER for the gpio-sim sources"
    fi
    say "downloading $SRCPKG=$SRCVER (~140 MB) for gpio-sim.c, gpiolib.h, irq_sim.c"
    apt_dl "$SRCPKG=$SRCVER"
    rm -rf "$SRCDIR"; mkdir -p "$SRCDIR"
    members=("$SRCPKG/drivers/gpio/gpio-sim.c" "$SRCPKG/drivers/gpio/gpiolib.h" "$SRCPKG/kernel/irq/irq_sim.c")
    dpkg-deb --fsys-tarfile "$DL"/*.deb | tar -xO "./usr/src/$SRCPKG.tar.xz" \
      | tar -xJ -C "$SRCDIR" --strip-components=1 "${members[@]}"
    rm -rf "$DL"
    for f in drivers/gpio/gpio-sim.c drivers/gpio/gpiolib.h kernel/irq/irq_sim.c; do
      [ -s "$SRCDIR/$f" ] || die "$f missing from $SRCPKG"
    done
    echo "$SRCVER" > "$SRCDIR/.done"
    say "gpio-sim sources extracted in $((SECONDS - t0)) s"
  fi

  # --- 3. build gpio-sim.ko out of tree ---------------------------------------------------------
  if [ ! -f "$MODDIR/extra/gpio-sim.ko" ] || [ ! -f "$KDIR/.gpio-sim.$BUILD_ID" ]; then
    t0=$SECONDS
    B=$KDIR/gpio-sim-build
    rm -rf "$B"; mkdir -p "$B"
    cp "$SRCDIR/drivers/gpio/gpio-sim.c" "$B/gpio-sim-main.c"
    cp "$SRCDIR/drivers/gpio/gpiolib.h" "$B/gpiolib.h"
    cp "$SRCDIR/kernel/irq/irq_sim.c" "$B/irq_sim.c"
    # Debian builds without CONFIG_IRQ_SIM, so irq_sim.c is compiled into the module. Its
    # handle_simple_irq(irq_to_desc()) needs the unexported irq_to_desc: use the exported
    # generic_handle_irq_safe() instead (what later kernels do).
    sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq_safe(irqnum);/' "$B/irq_sim.c"
    grep -q 'generic_handle_irq_safe(irqnum);' "$B/irq_sim.c" \
      || die "irq_sim.c patch did not apply (source changed?)"
    ! grep -q 'irq_to_desc' "$B/irq_sim.c" || die "irq_sim.c still uses irq_to_desc"
    printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' > "$B/Kbuild"
    if ! make -s -C "$HDIR" M="$B" modules >"$B/build.log" 2>&1; then
      cat "$B/build.log" >&2; die "gpio-sim build failed"
    fi
    if grep -q 'undefined!' "$B/build.log"; then
      cat "$B/build.log" >&2; die "gpio-sim.ko has undefined symbols"
    fi
    mkdir -p "$MODDIR/extra"
    cp "$B/gpio-sim.ko" "$MODDIR/extra/gpio-sim.ko"
    depmod -b "$KROOT" "$KABI"
    modprobe -d "$KROOT" -S "$KABI" --show-depends gpio-sim >/dev/null \
      || die "depmod does not know gpio-sim"
    rm -f "$KDIR"/.gpio-sim.*; touch "$KDIR/.gpio-sim.$BUILD_ID"
    say "gpio-sim.ko built in $((SECONDS - t0)) s"
  fi

  # --- 3b. v4l2loopback.ko: a V4L2 capture device fed by a program (vivid has no MJPEG) ---------
  # The source is Debian's v4l2loopback-dkms (arch all, ~40 kB). A cached source is kept until
  # SALLE_QEMU_REFRESH=1, like the kernel.
  LBSRC=
  if [ "${SALLE_QEMU_REFRESH:-0}" != 1 ]; then
    for d in "$CACHE"/src/v4l2loopback-*; do [ -f "$d/.done" ] && LBSRC=$d; done
  fi
  if [ -z "$LBSRC" ]; then
    t0=$SECONDS
    LBVER=$(candidate v4l2loopback-dkms)
    [ -n "$LBVER" ] || { apt_update_once; LBVER=$(candidate v4l2loopback-dkms); }
    [ -n "$LBVER" ] || die "no v4l2loopback-dkms package available"
    LBSRC=$CACHE/src/v4l2loopback-$LBVER
    say "downloading v4l2loopback-dkms=$LBVER (the v4l2loopback driver's source)"
    apt_dl "v4l2loopback-dkms=$LBVER"
    rm -rf "$LBSRC" "$CACHE/tmp/lb"; mkdir -p "$LBSRC" "$CACHE/tmp/lb"
    dpkg-deb -x "$DL"/*.deb "$CACHE/tmp/lb"
    cp "$CACHE"/tmp/lb/usr/src/v4l2loopback-*/*.[ch] "$LBSRC/" \
      || die "no driver source under /usr/src in v4l2loopback-dkms"
    rm -rf "$DL" "$CACHE/tmp/lb"
    [ -s "$LBSRC/v4l2loopback.c" ] || die "v4l2loopback.c missing from v4l2loopback-dkms"
    echo "$LBVER" > "$LBSRC/.done"
    say "v4l2loopback sources extracted in $((SECONDS - t0)) s"
  fi
  LBSTAMP=$KDIR/.v4l2loopback.$BUILD_ID.$(cat "$LBSRC/.done")
  if [ ! -f "$MODDIR/extra/v4l2loopback.ko" ] || [ ! -f "$LBSTAMP" ]; then
    t0=$SECONDS
    B=$KDIR/v4l2loopback-build
    rm -rf "$B"; mkdir -p "$B"
    cp "$LBSRC"/*.[ch] "$B/"
    # 0.12.7 resets every buffer's bytesused to sizeimage when a reader calls REQBUFS, so a
    # reader's first frame of a compressed format comes with megabytes of stale bytes after the
    # JPEG (jpegparse then fails: "Failed to parse stream"). Keep what the writer queued.
    sed -i 's/^\t\tb->bytesused = bytesused;$/\t\tif (!b->bytesused || b->bytesused > bytesused)\n\t\t\tb->bytesused = bytesused;/' \
      "$B/v4l2loopback.c"
    grep -q 'if (!b->bytesused || b->bytesused > bytesused)' "$B/v4l2loopback.c" \
      || die "v4l2loopback.c patch did not apply (source changed?)"
    # Offer JPEG pictures as 'MJPG' only, like a UVC camera: without this GStreamer's v4l2sink
    # picks the 'JPEG' fourcc for image/jpeg.
    sed -i '/^#ifdef V4L2_PIX_FMT_JPEG$/,/^#endif \/\* V4L2_PIX_FMT_JPEG \*\/$/d' "$B/v4l2loopback_formats.h"
    ! grep -q 'V4L2_PIX_FMT_JPEG' "$B/v4l2loopback_formats.h" \
      || die "v4l2loopback_formats.h patch did not apply (source changed?)"
    printf 'obj-m := v4l2loopback.o\n' > "$B/Kbuild"
    if ! make -s -C "$HDIR" M="$B" modules >"$B/build.log" 2>&1; then
      cat "$B/build.log" >&2; die "v4l2loopback build failed"
    fi
    if grep -q 'undefined!' "$B/build.log"; then
      cat "$B/build.log" >&2; die "v4l2loopback.ko has undefined symbols"
    fi
    mkdir -p "$MODDIR/extra"
    cp "$B/v4l2loopback.ko" "$MODDIR/extra/v4l2loopback.ko"
    depmod -b "$KROOT" "$KABI"
    modprobe -d "$KROOT" -S "$KABI" --show-depends v4l2loopback >/dev/null \
      || die "depmod does not know v4l2loopback"
    rm -f "$KDIR"/.v4l2loopback.*; touch "$LBSTAMP"
    say "v4l2loopback.ko ($(cat "$LBSRC/.done")) built in $((SECONDS - t0)) s"
  fi

  # --- 4. initramfs -----------------------------------------------------------------------------
  # Holds the modules to reach the host root (virtio-pci, 9p over virtio; modules.base) and the
  # test drivers with their dependencies (configfs, vivid, snd-aloop, snd-dummy, gpio-sim,
  # v4l2loopback, the queueing disciplines the network tests shape loopback with: sch_prio,
  # cls_u32, sch_netem, and uhid with hid-generic and hid-jabra for virtual USB speakerphones
  # (a Jabra binds to hid-jabra, never to hid-generic; hidraw is built into Debian's hid
  # module); modules.drivers), all in dependency order: loading them from RAM
  # is much faster than modprobe over 9p under TCG.
  t0=$SECONDS
  IR=$CACHE/tmp/initramfs
  rm -rf "$IR"; mkdir -p "$IR"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,newroot,ctl,lib/modules/"$KABI"}
  cp /bin/busybox "$IR/bin/busybox"
  [ "$(LC_ALL=C readelf -l "$IR/bin/busybox" 2>/dev/null | grep -c INTERP || true)" = 0 ] \
    || die "/bin/busybox is not static (install busybox-static)"
  install -m 0755 "$HERE/initramfs-init.sh" "$IR/init"
  add_modules() {  # add_modules LIST MODULE...: append missing deps-first .ko paths to LIST
    local list=$1 verb path rel; shift
    : > "$IR/$list"
    while read -r verb path _; do
      [ "$verb" = insmod ] || continue
      rel=${path#"$MODDIR"/}
      [ -f "$IR/lib/modules/$KABI/$rel" ] && continue
      mkdir -p "$IR/lib/modules/$KABI/$(dirname "$rel")"
      cp "$path" "$IR/lib/modules/$KABI/$rel"
      echo "$rel" >> "$IR/$list"
    done < <(modprobe -d "$KROOT" -S "$KABI" --show-depends -a "$@" \
             || die "modprobe --show-depends $* failed")
  }
  add_modules modules.base virtio_pci 9pnet_virtio 9p
  add_modules modules.drivers configfs vivid snd-aloop snd-dummy gpio-sim v4l2loopback \
    sch_prio cls_u32 sch_netem uhid hid-generic hid-jabra
  grep -q '/9pnet_virtio.ko$' "$IR/modules.base" || die "no 9pnet_virtio in $KABI"
  for m in vivid snd-aloop snd-dummy gpio-sim v4l2loopback sch_prio cls_u32 sch_netem uhid hid-generic hid-jabra; do
    grep -q "/$m.ko$" "$IR/modules.drivers" || die "no $m.ko in $KABI"
  done
  echo "$KABI" > "$IR/kabi"
  (cd "$IR" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$INITRD.tmp")
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$IR"
  log "initramfs built in $((SECONDS - t0)) s"

  # Keep only the current kernel: drop other ABIs and source versions left from older runs.
  for d in "$CACHE"/kernel/*; do [ "$d" = "$KDIR" ] || rm -rf "$d"; done
  for d in "$CACHE"/src/*; do [ "$d" = "$SRCDIR" ] || [ "$d" = "$LBSRC" ] || rm -rf "$d"; done
  rm -rf "$CACHE/tmp"
fi

# --- 5. GStreamer registry (cheap when up to date: ~0.05 s) --------------------------------------
# The guest runs the host's GStreamer over 9p, where the first plugin scan takes ~40 s. Scan on
# the host, with the environment the guest uses (see guest-stage2.sh), into $GST_REG; the guest
# sets GST_REGISTRY to it and finds it up to date.
if command -v gst-inspect-1.0 >/dev/null 2>&1; then
  GST_HOME=$CACHE/gst-home
  mkdir -p "$GST_HOME"
  if ! env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$GST_HOME" \
       LANG=C.UTF-8 GST_REGISTRY="$GST_REG" gst-inspect-1.0 coreelements >/dev/null 2>&1; then
    say "WARNING: gst-inspect-1.0 failed; the guest will scan GStreamer plugins itself (slow)"
  fi
fi

KERNEL=$KROOT/boot/vmlinuz-$KABI
[ -f "$KDIR/vmlinux" ] && KERNEL=$KDIR/vmlinux
cat > "$CACHE/current.env.tmp" <<EOF
# written by tests/qemu/prepare.sh; read by run-in-guest.sh
SCRIPT_ID='$SCRIPT_ID'
KABI='$KABI'
KROOT='$KROOT'
KERNEL='$KERNEL'
INITRD='$INITRD'
GST_REG='$GST_REG'
EOF
mv "$CACHE/current.env.tmp" "$CACHE/current.env"
if [ "$FAST" = 1 ]; then log "up to date ($KABI, cache $CACHE)"; else say "ready: kernel $KABI, cache $CACHE"; fi
