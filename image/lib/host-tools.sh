# Host tools the image build needs (sourced by image/build.sh and image/test/*.sh).
# Installed with apt when missing (checked with dpkg first, so a second run is quick).

image_host_packages() {
    local target=$1
    # mmdebstrap: the root file system; dosfstools + mtools: FAT partitions without mounting;
    # e2fsprogs: ext4 from a directory (mke2fs -d); fdisk: sfdisk; rauc: bundles; zstd:
    # the compressed image; openssl: the development CA; squashfs-tools: rauc bundle payload.
    echo mmdebstrap dosfstools mtools e2fsprogs fdisk rauc zstd openssl squashfs-tools dpkg-dev
    case $target in
        # arm64 maintainer scripts run under qemu-user through binfmt_misc
        pi-arm64) echo qemu-user-static binfmt-support arch-test ;;
        # GRUB for UEFI (the EFI binary is made on the host), OVMF and QEMU for the tests
        qemu-amd64) echo grub-efi-amd64-bin grub-common ovmf qemu-system-x86 python3 ;;
    esac
}

ensure_host_tools() {
    local target=$1 p missing=()
    for p in $(image_host_packages "$target"); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing host packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if [[ $target == pi-arm64 ]]; then
        # binfmt_misc: mounted and qemu-aarch64 registered (a fresh container has neither).
        [[ -e /proc/sys/fs/binfmt_misc/status ]] ||
            mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
        [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64
        arch-test arm64 >/dev/null || die "arm64 binaries do not run here (binfmt_misc + qemu-user-static)"
    fi
}
