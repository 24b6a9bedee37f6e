#!/usr/bin/env bash
# The image tier (SALLE_IMAGE=1 ./test.sh runs it): builds the QEMU test flavour of the
# image and the bundles the tests install, then boots it under QEMU (KVM where /dev/kvm opens)
# and runs image/test/run.py: boot to a ready daemon and the idle screen, a foreign bundle
# refused, bundle v2 installed and committed with the data kept, a bundle failing its health
# check rolled back by itself, a power cut during an install.
#
#   image/test/tier.sh [--boot] [run.py options: --only STEPS, --keep]
#
#   --boot   the part CI runs by default (./test.sh): the disk image only (no bundles, not
#            compressed) and run.py's boot step (ready daemon, idle screen, slot good,
#            hardening). Without it: every step, with the three bundles.
#
# Needs root (mmdebstrap, chroot, file ownership). Output and figures in $SALLE_IMAGE_TEST_OUT
# (default target/image-test). The base root filesystem is cached (~/.cache/salle-image): the
# first run on a machine builds it (a few minutes), later runs reuse it.
# SALLE_IMAGE_REUSE=1 keeps the image and bundles an earlier run left in the output directory
# (to run the QEMU steps again without building).
set -euo pipefail
boot_only=0
if [[ ${1:-} == --boot ]]; then boot_only=1; shift; fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd -- "$here/../.." && pwd -P)
out=${SALLE_IMAGE_TEST_OUT:-${CARGO_TARGET_DIR:-$repo/target}/image-test}
mkdir -p "$out"
log() { printf '[image-tier] %s\n' "$*" >&2; }
t() { date +%s; }
t0=$(t)

# The daemon: the release build when there is one, else the debug build that `cargo test`
# made (CI builds no amd64 release binary; the image tier tests the OS and its updates).
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bin=$target_dir/release/salle
[[ -x $bin ]] || bin=$target_dir/debug/salle
[[ -x $bin ]] || (cd "$repo" && cargo build --bin salle)
log "daemon binary: $bin"
deb=$("$repo/packaging/build-deb.sh" --arch amd64 --version 0.1.0 --bin "$bin" --out "$out/v1")

# The test bundles are read from a local disk, never downloaded: fast compression over size.
export SALLE_IMAGE_SQUASHFS_ARGS=${SALLE_IMAGE_SQUASHFS_ARGS:--comp zstd -Xcompression-level 1}

reuse() { [[ ${SALLE_IMAGE_REUSE:-0} == 1 && -s $1 ]] && log "reusing $1"; }

# v1: the image as flashed.
if ((boot_only)); then
    reuse "$out/v1/salle-qemu-amd64.img" ||
        "$repo/image/build.sh" --target qemu-amd64 --version 0.1.0 --deb "$deb" --out "$out/v1" --only disk
    t_image=$(t)
    rc=0
    python3 "$here/run.py" --image "$out/v1" --only boot "$@" || rc=$?
    log "times: image $((t_image - t0)) s ($(tr '\n' ' ' <"$out/v1/build-times.txt")), QEMU boot step $(($(t) - t_image)) s, total $(($(t) - t0)) s"
    exit $rc
fi
reuse "$out/v1/salle-qemu-amd64.img" ||
    "$repo/image/build.sh" --target qemu-amd64 --version 0.1.0 --deb "$deb" --out "$out/v1"
t_image=$(t)

# v2: the same daemon, a newer image version.
reuse "$out/v2/salle-qemu-amd64-0.1.0+v2.raucb" ||
    "$repo/image/build.sh" --target qemu-amd64 --version 0.1.0+v2 --deb "$deb" \
        --out "$out/v2" --only bundle
# bad: a daemon that exits at once, so its slot never passes the health check.
printf '#!/bin/sh\necho "salle: test build that fails its health check" >&2\nexit 1\n' >"$out/salle-fails"
chmod 0755 "$out/salle-fails"
deb_bad=$("$repo/packaging/build-deb.sh" --arch amd64 --version 0.1.0+bad --bin "$out/salle-fails" --out "$out/bad")
reuse "$out/bad/salle-qemu-amd64-0.1.0+bad.raucb" ||
    "$repo/image/build.sh" --target qemu-amd64 --version 0.1.0+bad --deb "$deb_bad" --out "$out/bad" --only bundle
# foreign: v1's content signed by a CA the devices do not trust.
foreign=$out/foreign
foreign_bundle() {
    rm -rf "$foreign" && mkdir -p "$foreign/bundle"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=Someone else" -keyout "$foreign/key.pem" -out "$foreign/cert.pem" 2>/dev/null
    cp "$out/v1/rootfs.ext4" "$out/v1/boot.vfat" "$foreign/bundle/"
    printf '[update]\ncompatible=salle-qemu-amd64\nversion=0.1.0+foreign\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n\n[image.boot]\nfilename=boot.vfat\n' \
        >"$foreign/bundle/manifest.raucm"
    rauc bundle --cert="$foreign/cert.pem" --key="$foreign/key.pem" --keyring="$foreign/cert.pem" \
        --mksquashfs-args="$SALLE_IMAGE_SQUASHFS_ARGS" "$foreign/bundle" "$foreign/foreign.raucb" >/dev/null
    rm -rf "$foreign/bundle"
}
reuse "$foreign/foreign.raucb" || foreign_bundle
t_bundles=$(t)

rc=0
python3 "$here/run.py" --image "$out/v1" \
    --v2 "$out/v2/salle-qemu-amd64-0.1.0+v2.raucb" \
    --bad "$out/bad/salle-qemu-amd64-0.1.0+bad.raucb" \
    --foreign "$foreign/foreign.raucb" "$@" || rc=$?
t_end=$(t)
log "times: image $((t_image - t0)) s ($(tr '\n' ' ' <"$out/v1/build-times.txt")), bundles $((t_bundles - t_image)) s, QEMU tests $((t_end - t_bundles)) s, total $((t_end - t0)) s"
exit $rc
