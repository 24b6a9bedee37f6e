#!/usr/bin/env bash
# Builds the Salle OS image in one command:
#
#   image/build.sh [--target pi-arm64|qemu-amd64] [--deb FILE] [--version V] [--out DIR]
#                  [--only base|bundle|disk]
#
#   pi-arm64    (default) the Raspberry Pi 4 / 5 image: Debian 12 arm64, Debian's kernel,
#               raspi-firmware, tryboot A/B (autoboot.txt)
#   qemu-amd64  the test flavour: the same recipe, layout and A/B updates for amd64, booted by
#               GRUB (UEFI) under QEMU/KVM in tests
#
# Steps (see image/README.md):
#   1. host tools (apt, checked with dpkg first), binfmt_misc for arm64 maintainer scripts;
#   2. the base root filesystem (mmdebstrap: image/packages/*.txt + the daemon's runtime list),
#      cached in $SALLE_IMAGE_CACHE (default ~/.cache/salle-image) by the hash of its recipe;
#   3. the salle .deb (packaging/build-deb.sh unless --deb) installed on a copy of the base, the
#      image's own files (image/rootfs/, image/rootfs-<target>/), users, enabled services;
#   4. the partitions' file systems (boot A/B FAT, rootfs ext4, data ext4, the autoboot / EFI
#      partition) and the disk image (GPT), compressed; the RAUC bundle of the same rootfs
#      (signed by the development CA unless SALLE_RAUC_KEY/SALLE_RAUC_CERT say otherwise);
#   5. the package manifest (name version arch), printed and written next to the image.
#
#   --only base     just the cached base root filesystem
#   --only bundle   the RAUC bundle, no disk image
#   --only disk     the disk image, no bundle and no compressed copy (what a boot test needs)
#
# Outputs in DIR (default image/out/<target>): salle-<target>.img (+ .zst), rootfs.ext4,
# boot.vfat, salle-<target>-<version>.raucb, manifest.txt, build-times.txt.
set -euo pipefail

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd -- "$here/.." && pwd -P)

target=pi-arm64
deb=""
version=""
out=""
only=""
while (($#)); do
    case $1 in
        --target) target=$2; shift 2 ;;
        --deb) deb=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case $target in
    pi-arm64) arch=arm64 ;;
    qemu-amd64) arch=amd64 ;;
    *) die "unknown target '$target' (pi-arm64 or qemu-amd64)" ;;
esac
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap, chroot for dpkg, file ownership in the file systems)"

suite=bookworm
mirror=${SALLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${SALLE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${SALLE_IMAGE_CACHE:-$HOME/.cache/salle-image}
out=${out:-$here/out/$target}
version=${version:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
mkdir -p -- "$cache" "$out"
out=$(cd -- "$out" && pwd -P)
times=$out/build-times.txt
: >"$times"
t_all=$(now)

# ---------------------------------------------------------------- 1. host tools
# shellcheck source=image/lib/host-tools.sh
source "$here/lib/host-tools.sh"
ensure_host_tools "$target"

# ---------------------------------------------------------------- 2. base root filesystem
# One list for each: names only (comments, blank lines and version relations dropped).
package_list() { sed -e 's/#.*//' -e 's/(.*)//' "$@" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u; }
mapfile -t packages < <(package_list "$repo/scripts/packages/runtime.txt" \
    "$here/packages/base.txt" "$here/packages/$target.txt")

# The recipe: everything that decides the base's content. Its hash names the cached tarball.
recipe_hash=$( {
    echo "suite=$suite arch=$arch mirror=$mirror security=$security_mirror"
    printf '%s\n' "${packages[@]}"
    cat "$here/lib/base-rootfs.sh"
} | sha256sum | cut -c1-16)
base=$cache/base-$target-$recipe_hash.tar

t0=$(now)
if [[ -s $base ]]; then
    log "base root filesystem: cached $base"
    echo "base_rootfs_s=0 (cached)" >>"$times"
else
    log "base root filesystem: building $base (recipe $recipe_hash)"
    # shellcheck source=image/lib/base-rootfs.sh
    source "$here/lib/base-rootfs.sh"
    build_base_rootfs "$base" "$arch" "$suite" "$mirror" "$security_mirror" "${packages[@]}"
    echo "base_rootfs_s=$(($(now) - t0))" >>"$times"
fi
[[ $only == base ]] && { log "done (--only base)"; exit 0; }

# ---------------------------------------------------------------- 3. the salle package
if [[ -z $deb ]]; then
    log "building the salle package for $arch"
    deb=$("$repo/packaging/build-deb.sh" --arch "$arch" --version "$version" --out "$out")
fi
[[ -f $deb ]] || die "no such package: $deb"

# ---------------------------------------------------------------- 3-5. rootfs, disk, bundle
# shellcheck source=image/lib/assemble.sh
source "$here/lib/assemble.sh"
assemble_image "$target" "$arch" "$base" "$deb" "$version" "$out"

echo "total_s=$(($(now) - t_all))" >>"$times"
log "times: $(tr '\n' ' ' <"$times")"
