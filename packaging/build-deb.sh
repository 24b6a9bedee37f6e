#!/usr/bin/env bash
# Builds the salle Debian package with dpkg-deb (no debhelper: the package is one binary plus
# a few files, and the same script must run for amd64 and for the arm64 cross build).
#
#   packaging/build-deb.sh [--arch amd64|arm64] [--version V] [--bin FILE] [--out DIR]
#
# Prints the path of the .deb on stdout (logs go to stderr). Without --bin it uses
# target/release/salle (amd64) or target/aarch64-unknown-linux-gnu/release/salle (arm64),
# building it first when missing (cargo build --release / .ci/cross-aarch64.sh).
#
# Packages: `salle` (the room daemon). `salle-fleet` (the facilities console, issue 17) does
# not exist yet: it gets its own package from this script (a second entry in build_package's
# callers) when it lands.
set -euo pipefail

log() { printf '[deb] %s\n' "$*" >&2; }
die() { printf '[deb] ERROR: %s\n' "$*" >&2; exit 1; }

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd -- "$here/.." && pwd -P)

arch=$(dpkg --print-architecture)
version=""
bin=""
out=$repo/target/deb
while (($#)); do
    case $1 in
        --arch) arch=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
version=${version:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
# Reproducible archives: file times clamped to the commit's time.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}

case $arch in
    amd64) triple=""; strip=strip ;;
    arm64) triple=aarch64-unknown-linux-gnu; strip=aarch64-linux-gnu-strip ;;
    *) die "unsupported architecture $arch (amd64 or arm64)" ;;
esac
if [[ -z $bin ]]; then
    bin=$target_dir/${triple:+$triple/}release/salle
    if [[ ! -x $bin ]]; then
        log "building $bin"
        if [[ -n $triple ]]; then
            (cd "$repo" && .ci/cross-aarch64.sh) >&2
        else
            (cd "$repo" && cargo build --release --bin salle) >&2
        fi
    fi
fi
[[ -x $bin ]] || die "no daemon binary at $bin"

# Depends: the ONE runtime list (scripts/packages/runtime.txt), version relations kept.
depends() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$repo/scripts/packages/runtime.txt" |
        paste -sd, - | sed 's/,/, /g'
}

build_salle() {
    local root=$1
    install -D -m 0755 "$bin" "$root/usr/bin/salle"
    # Stripped when it is an ELF binary (a test build may be a script).
    if [[ $(head -c4 "$bin" | od -An -c | tr -d ' ') == '177ELF' ]]; then
        "$strip" --strip-unneeded "$root/usr/bin/salle"
    fi
    install -D -m 0644 "$repo/systemd/salle.service" "$root/usr/lib/systemd/system/salle.service"
    install -D -m 0644 "$repo/systemd/salle.sysusers" "$root/usr/lib/sysusers.d/salle.conf"
    install -D -m 0644 "$repo/systemd/salle-web.service" "$root/usr/lib/systemd/system/salle-web.service"
    install -D -m 0644 "$repo/systemd/salle-web.socket" "$root/usr/lib/systemd/system/salle-web.socket"
    install -D -m 0644 "$repo/udev/70-salle.rules" "$root/usr/lib/udev/rules.d/70-salle.rules"
    install -D -m 0644 "$here/salle/50-salle.rules" "$root/usr/share/polkit-1/rules.d/50-salle.rules"
    install -D -m 0640 "$here/salle/salle.toml" "$root/etc/salle/salle.toml"
    install -D -m 0644 "$repo/README.md" "$root/usr/share/doc/salle/README.md"
    install -D -m 0644 "$repo/examples/salle.toml" "$root/usr/share/doc/salle/salle.toml.example"
    install -D -m 0644 "$here/salle/copyright" "$root/usr/share/doc/salle/copyright"
    mkdir -p "$root/DEBIAN"
    cat >"$root/DEBIAN/control" <<CONTROL
Package: salle
Version: $version
Architecture: $arch
Maintainer: Salle developers <salle@localhost>
Section: video
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $(depends)
Recommends: systemd, polkitd
Description: Salle meeting-room daemon
 Open firmware for meeting-room devices: joins the room's meeting (La Suite Meet,
 LiveKit, WHIP/WHEP, Janus) natively at the press of a button, with the room's
 camera, microphone, HDMI screen, GPIO buttons and LEDs.
CONTROL
    echo /etc/salle/salle.toml >"$root/DEBIAN/conffiles"
    install -m 0755 "$here/salle/postinst" "$root/DEBIAN/postinst"
    install -m 0755 "$here/salle/prerm" "$root/DEBIAN/prerm"
    install -m 0755 "$here/salle/postrm" "$root/DEBIAN/postrm"
}

build_package() {
    local name=$1 fill=$2 root deb
    root=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf -- '$root'" RETURN
    chmod 0755 "$root"
    "$fill" "$root"
    mkdir -p "$out"
    deb=$out/${name}_${version}_${arch}.deb
    # root:root owns every file in the package whoever builds it; xz like Debian's own.
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
    log "built $deb ($(du -h "$deb" | cut -f1))"
    echo "$deb"
}

build_package salle build_salle
