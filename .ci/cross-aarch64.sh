#!/usr/bin/env bash
# Cross-build salle for aarch64 (Raspberry Pi running Debian 12 "bookworm" arm64)
# on a Debian 12 amd64 host, then check that the binary loads under qemu-user.
#
#   .ci/cross-aarch64.sh [extra cargo build args...]
#
# What it does (each step is skipped when already done, so a second run is quick):
#   1. installs the host tools it needs (apt: checked with dpkg first; rustup target);
#   2. builds, once, an arm64 sysroot with mmdebstrap (variant "extract": packages are
#      only unpacked, no maintainer scripts, so no qemu/binfmt_misc is needed and it
#      takes ~10-40 s). It is built in a temp dir next to the final one and renamed
#      into place only when complete; a stamp file records the recipe, so changing the
#      package list rebuilds it;
#   3. runs `cargo build --release --target aarch64-unknown-linux-gnu` with a purely
#      environment-based cross setup (no .cargo/config.toml: host builds are unaffected;
#      every variable is target-scoped where the tool supports it);
#   4. verifies the result with `file` and by running `salle --help` under
#      qemu-aarch64-static -L <sysroot>.
#
# Environment:
#   SALLE_ARM64_SYSROOT           sysroot dir (default: <repo>/.cache/arm64-sysroot)
#   SALLE_ARM64_EXTRA_PACKAGES    extra arm64 -dev packages for the sysroot (space/comma separated)
#   SALLE_DEBIAN_MIRROR           default http://deb.debian.org/debian
#   SALLE_DEBIAN_SECURITY_MIRROR  default http://deb.debian.org/debian-security
#   SALLE_CROSS_SKIP_RUN=1        skip the qemu run check
#   CARGO_TARGET_DIR              honoured as usual (default <repo>/target)
set -euo pipefail

readonly TARGET=aarch64-unknown-linux-gnu
readonly MULTIARCH=aarch64-linux-gnu
readonly SUITE=bookworm
# Bump when the sysroot recipe (not the package list) changes, to force a rebuild.
readonly RECIPE_VERSION=1

log() { printf '[cross-aarch64] %s\n' "$*" >&2; }
die() { printf '[cross-aarch64] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd -- "$script_dir/.." && pwd -P)
[[ -f $repo/Cargo.toml ]] || die "no Cargo.toml in $repo (the script must live in <repo>/.ci/)"

sysroot=${SALLE_ARM64_SYSROOT:-$repo/.cache/arm64-sysroot}
mkdir -p -- "$(dirname -- "$sysroot")"
sysroot="$(cd -- "$(dirname -- "$sysroot")" && pwd -P)/$(basename -- "$sysroot")"
# CARGO_TARGET_<triple>_RUSTFLAGS and BINDGEN_EXTRA_CLANG_ARGS are split on whitespace.
[[ $sysroot != *[[:space:]]* ]] || die "sysroot path must not contain whitespace: '$sysroot'"

mirror=${SALLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${SALLE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# arm64 packages in the sysroot: headers + .so/.pc for everything salle links against
# (their dependencies, e.g. glib, come along). plugins-bad is there for gstreamer-webrtc
# (webrtcbin's library); it makes the sysroot ~1.2 GB instead of ~0.4 GB.
sysroot_packages=(
    libc6-dev linux-libc-dev
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
    libasound2-dev libudev-dev
)
if [[ -n ${SALLE_ARM64_EXTRA_PACKAGES:-} ]]; then
    read -r -a extra <<<"${SALLE_ARM64_EXTRA_PACKAGES//,/ }"
    sysroot_packages+=("${extra[@]}")
fi

t_start=$(now)
cd -- "$repo"

# ---------------------------------------------------------------- 1. host tools
host_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
               mmdebstrap qemu-user-static clang libclang-dev pkg-config file)
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot install packages / run mmdebstrap"
    as_root=(sudo)
fi
missing=()
for p in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing host packages: ${missing[*]}"
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v rustup >/dev/null || die "rustup not found (needed to add the $TARGET std)"
if ! rustup target list --installed | grep -qx "$TARGET"; then
    log "rustup target add $TARGET"
    rustup target add "$TARGET"
fi

# ---------------------------------------------------------------- 2. arm64 sysroot
stamp_name=.salle-sysroot-stamp
stamp_content="recipe=$RECIPE_VERSION suite=$SUITE packages=$(printf '%s\n' "${sysroot_packages[@]}" | sort -u | tr '\n' ' ')"

sysroot_ok() {
    [[ -f $sysroot/$stamp_name ]] && [[ $(<"$sysroot/$stamp_name") == "$stamp_content" ]]
}

# Turn absolute symlinks (usr/lib/aarch64-linux-gnu/libz.so -> /lib/aarch64-linux-gnu/...)
# into relative ones, so that they resolve inside the sysroot when the host linker
# follows them (otherwise they point into the host's / and the link fails or picks
# up the wrong file).
fix_absolute_symlinks() {
    local root=$1 link dest n=0
    while IFS= read -r -d '' link; do
        dest=$(readlink -- "$link")
        ln -sfn -- "$(realpath -s -m --relative-to="$(dirname -- "$link")" -- "$root$dest")" "$link"
        n=$((n + 1))
    done < <(find "$root" -path "$root/dev" -prune -o -path "$root/proc" -prune -o \
                  -type l -lname '/*' -print0)
    log "made $n absolute symlinks relative"
}

build_sysroot() {
    local tmp
    # Leftovers of interrupted runs (never trusted: only a complete, stamped dir is).
    # --one-file-system: never follow a mount that a killed mmdebstrap left behind.
    for tmp in "$sysroot".tmp.*; do
        [[ -d $tmp ]] && { log "removing leftover $tmp"; "${as_root[@]}" rm -rf --one-file-system -- "$tmp"; }
    done
    tmp=$(mktemp -d "$sysroot.tmp.XXXXXX")
    # shellcheck disable=SC2064
    trap "${as_root[*]} rm -rf --one-file-system -- '$tmp'" EXIT

    log "building arm64 $SUITE sysroot in $tmp (mmdebstrap, variant extract)"
    log "  packages: ${sysroot_packages[*]}"
    local t0 include
    t0=$(now)
    include=$(IFS=,; echo "${sysroot_packages[*]}")
    # extract: apt resolves and downloads the packages and their dependencies, which are
    # unpacked with dpkg-deb; nothing runs inside the arm64 tree, so no emulation.
    # The merged-usr setup hook gives the same /lib -> usr/lib layout as a real bookworm.
    "${as_root[@]}" mmdebstrap --variant=extract --architectures=arm64 \
        --setup-hook=/usr/share/mmdebstrap/hooks/merged-usr/setup00.sh \
        --skip=chroot/mount \
        --include="$include" \
        "$SUITE" "$tmp" \
        "deb $mirror $SUITE main" \
        "deb $mirror $SUITE-updates main" \
        "deb $security_mirror $SUITE-security main" \
        </dev/null || die "mmdebstrap failed (see messages above)"
    [[ -z ${as_root[*]} ]] || "${as_root[@]}" chown -R "$(id -u):$(id -g)" "$tmp"

    fix_absolute_symlinks "$tmp"

    # Sanity checks before the tree is trusted.
    local f
    for f in usr/lib/$MULTIARCH/crt1.o usr/lib/$MULTIARCH/libc.so usr/include/linux/videodev2.h \
             usr/include/$MULTIARCH/asm/types.h usr/lib/$MULTIARCH/pkgconfig/gstreamer-1.0.pc \
             usr/lib/$MULTIARCH/pkgconfig/alsa.pc usr/lib/$MULTIARCH/pkgconfig/libudev.pc \
             usr/lib/ld-linux-aarch64.so.1; do
        [[ -e $tmp/$f ]] || die "sysroot incomplete: $f missing"
    done

    printf '%s' "$stamp_content" >"$tmp/$stamp_name"
    if [[ -e $sysroot ]]; then
        local old
        old="$sysroot.old.$$"
        mv -- "$sysroot" "$old"
        mv -- "$tmp" "$sysroot"
        rm -rf --one-file-system -- "$old"
    else
        mv -- "$tmp" "$sysroot"
    fi
    trap - EXIT
    log "sysroot ready: $sysroot ($(du -sh -- "$sysroot" | cut -f1), $(elapsed "$t0" "$(now)"))"
}

t_sysroot=$(now)
if sysroot_ok; then
    log "using cached sysroot $sysroot"
else
    # Serialise concurrent runs of this script on the same sysroot.
    exec 9>"$sysroot.lock"
    flock 9
    if sysroot_ok; then
        log "sysroot was built by a concurrent run: $sysroot"
    else
        [[ ! -e $sysroot ]] || log "sysroot $sysroot is stale or incomplete: rebuilding"
        build_sysroot
    fi
    flock -u 9
    exec 9>&-
fi
t_sysroot_done=$(now)

# ---------------------------------------------------------------- 3. cross build
triple_uc=${TARGET//-/_}                  # aarch64_unknown_linux_gnu
triple_UC=${triple_uc^^}                  # AARCH64_UNKNOWN_LINUX_GNU

# pkg-config (pkg-config crate / system-deps): target-scoped variables, so build
# scripts running pkg-config for the host (if any) are unaffected. The empty
# PKG_CONFIG_PATH_<triple> hides a host PKG_CONFIG_PATH from the target lookups.
export "PKG_CONFIG_ALLOW_CROSS_$triple_uc=1"
export "PKG_CONFIG_SYSROOT_DIR_$triple_uc=$sysroot"
export "PKG_CONFIG_LIBDIR_$triple_uc=$sysroot/usr/lib/$MULTIARCH/pkgconfig:$sysroot/usr/share/pkgconfig"
export "PKG_CONFIG_PATH_$triple_uc="

# Linker: Debian's cross gcc, pointed at the sysroot (crt files, libc, and the
# transitive .so deps such as libglib-2.0 are resolved in it).
export "CARGO_TARGET_${triple_UC}_LINKER=$MULTIARCH-gcc"
link_flags="-C link-arg=--sysroot=$sysroot"
if [[ -n ${RUSTFLAGS:-} ]]; then
    # RUSTFLAGS would override CARGO_TARGET_<triple>_RUSTFLAGS; with --target it only
    # applies to target artifacts, so appending is safe.
    log "note: RUSTFLAGS is set; appending the sysroot link flag to it"
    export RUSTFLAGS="$RUSTFLAGS $link_flags"
elif [[ -n ${CARGO_ENCODED_RUSTFLAGS:-} ]]; then
    die "CARGO_ENCODED_RUSTFLAGS is set; unset it (it would drop the sysroot link flag)"
else
    export "CARGO_TARGET_${triple_UC}_RUSTFLAGS=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS:+$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS }$link_flags"
fi

# C code built by cc-rs (none today, but keep it consistent if a dependency adds some).
export "CC_$triple_uc=$MULTIARCH-gcc" "AR_$triple_uc=$MULTIARCH-ar" "CXX_$triple_uc=$MULTIARCH-g++"
export "CFLAGS_$triple_uc=--sysroot=$sysroot" "CXXFLAGS_$triple_uc=--sysroot=$sysroot"

# bindgen (v4l2-sys-mit runs it on linux/videodev2.h): parse the arm64 kernel headers
# of the sysroot (incl. usr/include/aarch64-linux-gnu/asm), not the host's x86 ones.
export "BINDGEN_EXTRA_CLANG_ARGS_$triple_uc=--sysroot=$sysroot --target=$MULTIARCH"

log "cargo build --release --target $TARGET $*"
t_build=$(now)
cargo build --release --target "$TARGET" "$@"
t_build_done=$(now)

# ---------------------------------------------------------------- 4. verify
target_dir=${CARGO_TARGET_DIR:-$repo/target}
[[ $target_dir == /* ]] || target_dir=$repo/$target_dir
bin=$target_dir/$TARGET/release/salle
[[ -x $bin ]] || die "binary not found: $bin"

file_out=$(file -b -- "$bin")
log "file: $file_out"
[[ $file_out == *"ARM aarch64"* ]] || die "$bin is not an ARM aarch64 binary"
log "needs (install these libraries on the Pi): $("$MULTIARCH-readelf" -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

if [[ ${SALLE_CROSS_SKIP_RUN:-0} != 1 ]]; then
    log "running: qemu-aarch64-static -L $sysroot $bin --help"
    run_out=$(mktemp)
    set +e
    # -L: the arm64 loader and libraries come from the sysroot. timeout: if the binary
    # ignores --help and starts as a daemon, it still proved that it loads.
    timeout 60 qemu-aarch64-static -L "$sysroot" "$bin" --help >"$run_out" 2>&1
    rc=$?
    set -e
    sed 's/^/    | /' "$run_out" | head -n 40 >&2
    if grep -qE 'error while loading shared libraries|qemu-aarch64-static: Could not open' "$run_out" \
        || [[ $rc -eq 126 || $rc -eq 127 ]]; then
        rm -f -- "$run_out"
        die "the aarch64 binary does not load under qemu (rc=$rc)"
    fi
    rm -f -- "$run_out"
    case $rc in
        0) log "qemu run: OK (exit 0)" ;;
        124) log "qemu run: loaded and ran; still running after 60 s, stopped (no --help yet?)" ;;
        *) log "qemu run: loaded and ran, exited with $rc (--help not supported yet?)" ;;
    esac
fi

t_end=$(now)
log "OK: $bin"
log "times: sysroot $(elapsed "$t_sysroot" "$t_sysroot_done"), cargo build $(elapsed "$t_build" "$t_build_done"), total $(elapsed "$t_start" "$t_end")"
