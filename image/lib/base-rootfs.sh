# The base root filesystem (sourced by image/build.sh): Debian packages only, no Salle files, so
# it is cached by the hash of this file and the package lists and rebuilt only when they change.

build_base_rootfs() {
    local dest=$1 arch=$2 suite=$3 mirror=$4 security_mirror=$5
    shift 5
    local include tmp
    include=$(IFS=,; echo "$*")
    tmp=$(mktemp "$dest.tmp.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -f -- '$tmp'" RETURN
    # minbase + our list; no recommends (mmdebstrap's default); maintainer scripts run (for
    # arm64 under qemu-user): the kernel's initramfs is generated and raspi-firmware copies the
    # Pi's firmware, kernel, initramfs and device trees into /boot/firmware, made first here.
    # Documentation and man pages are left out (copyright files stay). The image's clock is the
    # commit's, so that two builds of one recipe differ only by the mirror's packages.
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)} \
    mmdebstrap --variant=minbase --architectures="$arch" --format=tar \
        --components=main,non-free-firmware \
        --include="$include" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --setup-hook='mkdir -p "$1/boot/firmware"' \
        --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
        --customize-hook='chroot "$1" apt-get clean' \
        "$suite" "$tmp" \
        "deb $mirror $suite main non-free-firmware" \
        "deb $mirror $suite-updates main non-free-firmware" \
        "deb $security_mirror $suite-security main non-free-firmware" \
        </dev/null || die "mmdebstrap failed (see above)"
    mv -- "$tmp" "$dest"
    # Older bases of the same target are stale now.
    find "$(dirname -- "$dest")" -maxdepth 1 -name "base-$target-*.tar" ! -name "$(basename -- "$dest")" -delete
}
