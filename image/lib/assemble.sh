# From the cached base to the disk image and the RAUC bundle (sourced by image/build.sh).
# Needs: log, die, now, here, repo, cache, times (from build.sh).

# shellcheck source=image/lib/layout.sh
source "$here/lib/layout.sh"
# shellcheck source=image/lib/keys.sh
source "$here/lib/keys.sh"

# Copies a directory of the repository into the root file system as root:root, keeping the
# modes of the directories that exist already (/etc, /usr...).
overlay() {
    local src=$1 dest=$2
    [[ -d $src ]] || return 0
    tar -C "$src" --owner=0 --group=0 -cf - . | tar -C "$dest" --no-overwrite-dir -xpf -
}

# The salle package on the base, with the dpkg database knowing it (for the manifest).
install_salle() {
    local rootfs=$1 deb=$2
    cp -- "$deb" "$rootfs/tmp/salle.deb"
    mount -t proc proc "$rootfs/proc"
    mount --bind /dev "$rootfs/dev"
    local rc=0
    chroot "$rootfs" dpkg -i /tmp/salle.deb >&2 || rc=$?
    umount "$rootfs/dev" "$rootfs/proc"
    rm -f -- "$rootfs/tmp/salle.deb"
    ((rc == 0)) || die "dpkg -i salle failed in the image ($rc)"
}

# The image's own files, users, services and hardening.
configure_rootfs() {
    local target=$1 rootfs=$2 version=$3
    overlay "$here/rootfs" "$rootfs"
    overlay "$here/rootfs-$target" "$rootfs"
    mkdir -p "$rootfs/data" "$rootfs/boot/autoboot" "$rootfs/boot/efi"

    # No password anywhere: root locked (SSH with keys only, when configured).
    sed -i 's/^root:[^:]*:/root:*:/' "$rootfs/etc/shadow"
    echo salle >"$rootfs/etc/hostname"
    printf 'SALLE_IMAGE_TARGET=%s\nSALLE_IMAGE_VERSION=%s\n' "$target" "$version" >"$rootfs/etc/salle-image-release"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tsalle\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
    # machine-id: empty, so every device gets its own (systemd makes one at boot; the root is
    # read-only, so it is per boot; identity that lasts is on the data partition).
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id"
    ln -sf /run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"

    systemctl --root="$rootfs" enable systemd-networkd.service systemd-resolved.service \
        systemd-timesyncd.service nftables.service salle-data-setup.service salle-health.service \
        salle.service >&2
    systemctl --root="$rootfs" disable systemd-networkd-wait-online.service >&2 || true
    # The daemon's state and journal live on the data partition (bound by salle-data-setup).
    mkdir -p "$rootfs/var/lib/salle" "$rootfs/var/log/journal"
    # State directories services expect on a read-only /var: without them systemd cannot make
    # them and the service fails (logind: linger).
    mkdir -p "$rootfs/var/lib/systemd/timesync" "$rootfs/var/lib/systemd/linger"
}

# What a room never uses, removed to keep the root file system small (about 250 MB): GPU
# drivers of other machines and the GL drivers with LLVM (the daemon composes in software and
# shows through KMS dumb buffers; GStreamer's GL plugin loads without them), InfiniBand, ISDN,
# staging drivers, Wi-Fi chips other than the Pi's (Broadcom). dpkg still lists the packages
# (the manifest is the packages'); the kernel's module index is rebuilt.
prune_rootfs() {
    local rootfs=$1 kdir kver
    rm -rf "$rootfs"/usr/lib/*-linux-gnu/dri "$rootfs"/usr/lib/*-linux-gnu/libLLVM-*.so*
    for kdir in "$rootfs"/usr/lib/modules/*; do
        [[ -d $kdir/kernel ]] || continue
        kver=$(basename "$kdir")
        rm -rf "$kdir"/kernel/drivers/gpu/drm/{amd,radeon,nouveau,i915} \
            "$kdir"/kernel/drivers/{infiniband,isdn,staging}
        find "$kdir/kernel/drivers/net/wireless" -mindepth 1 -maxdepth 1 ! -name broadcom \
            -exec rm -rf {} + 2>/dev/null || true
        depmod -b "$rootfs" "$kver" || die "depmod $kver failed"
    done
}

# The data partition's first content: the layout salle-data-setup expects, with the owners of
# this root file system's users.
make_data_tree() {
    local target=$1 rootfs=$2 data=$3
    local salle_uid salle_gid journal_gid
    salle_uid=$(awk -F: '$1 == "salle" { print $3 }' "$rootfs/etc/passwd")
    salle_gid=$(awk -F: '$1 == "salle" { print $3 }' "$rootfs/etc/group")
    journal_gid=$(awk -F: '$1 == "systemd-journal" { print $3 }' "$rootfs/etc/group")
    [[ -n $salle_uid && -n $salle_gid ]] || die "no salle user in the image (sysusers)"
    install -d -m 0755 "$data" "$data/rauc" "$data/ssh" "$data/var" "$data/var/lib" "$data/etc"
    # /etc/salle is group-writable: the daemon writes its configuration for remote management.
    install -d -m 0770 -o 0 -g "$salle_gid" "$data/etc/salle"
    install -d -m 0750 -o 0 -g "$salle_gid" "$data/identity"
    install -d -m 0700 -o "$salle_uid" -g "$salle_gid" "$data/var/lib/salle"
    install -d -m 0755 "$data/var/log"
    local ts_uid ts_gid
    ts_uid=$(awk -F: '$1 == "systemd-timesync" { print $3 }' "$rootfs/etc/passwd")
    ts_gid=$(awk -F: '$1 == "systemd-timesync" { print $3 }' "$rootfs/etc/group")
    install -d -m 0755 -o "${ts_uid:-0}" -g "${ts_gid:-0}" "$data/var/lib/timesync"
    install -d -m 2755 -o 0 -g "$journal_gid" "$data/var/log/journal"
    # GStreamer's registry made now, where the daemon looks for it ($HOME/.cache of user
    # salle: /var/lib/salle on the data partition), so that its first start does not scan
    # every plugin. amd64 only: the host's gst-inspect-1.0 (same Debian release) runs in the
    # chroot; on arm64 that would be minutes under qemu-user, and the Pi scans at first start.
    if [[ $target == qemu-amd64 ]] && command -v gst-inspect-1.0 >/dev/null; then
        local reg=$data/var/lib/salle/.cache/gstreamer-1.0
        install -d -m 0700 -o "$salle_uid" -g "$salle_gid" "$data/var/lib/salle/.cache" "$reg"
        cp "$(command -v gst-inspect-1.0)" "$rootfs/tmp/gst-inspect-1.0"
        chroot "$rootfs" env GST_REGISTRY=/tmp/registry.bin /tmp/gst-inspect-1.0 >/dev/null 2>&1 ||
            log "warning: could not make GStreamer's registry (the daemon makes it at first start)"
        if [[ -s $rootfs/tmp/registry.bin ]]; then
            install -m 0600 -o "$salle_uid" -g "$salle_gid" "$rootfs/tmp/registry.bin" "$reg/registry.x86_64.bin"
        fi
        rm -f "$rootfs/tmp/gst-inspect-1.0" "$rootfs/tmp/registry.bin"
    fi
    local config=$here/config/$target.toml
    [[ -f $config ]] || config=$rootfs/etc/salle/salle.toml
    install -m 0640 -o 0 -g "$salle_gid" "$config" "$data/etc/salle/salle.toml"
}

# A FAT file system image of SIZE MiB holding the files of DIR (no mounting: mtools).
make_vfat() {
    local file=$1 size_mb=$2 label=$3 dir=$4
    rm -f -- "$file"
    mkfs.vfat -C -n "$label" -i 5a11e000 "$file" $((size_mb * 1024)) >/dev/null
    if [[ -n $(ls -A -- "$dir") ]]; then
        MTOOLS_SKIP_CHECK=1 mcopy -s -p -Q -m -i "$file" "$dir"/* ::/
    fi
}

make_ext4() {
    local file=$1 size_mb=$2 label=$3 dir=$4
    rm -f -- "$file"
    # -d: the directory's files with their owners and modes; fixed UUID and hash seed so that
    # two builds differ only by their content.
    mke2fs -q -t ext4 -L "$label" -U clear -E "root_owner=0:0,hash_seed=5a11e000-0000-4000-8000-000000000001" \
        -d "$dir" "$file" "${size_mb}M" || die "mke2fs $label failed (${size_mb} MiB too small?)"
}

# The boot partition's files for one slot: Pi firmware + kernel + cmdline.txt, or the kernel
# and initramfs that grub.cfg loads.
make_boot_tree() {
    local target=$1 rootfs=$2 dir=$3 slot=$4
    local uuid=$PARTUUID_ROOTFS_A
    [[ $slot == B ]] && uuid=$PARTUUID_ROOTFS_B
    mkdir -p "$dir"
    case $target in
        pi-arm64)
            [[ -e $rootfs/boot/firmware/config.txt ]] || die "raspi-firmware did not fill /boot/firmware"
            cp -a "$rootfs/boot/firmware/." "$dir/"
            echo "console=serial0,115200 console=tty1 root=PARTUUID=$uuid rootfstype=ext4 ro rootwait fsck.repair=yes rauc.slot=$slot" >"$dir/cmdline.txt"
            ;;
        qemu-amd64)
            local kernels=("$rootfs"/boot/vmlinuz-*) initrds=("$rootfs"/boot/initrd.img-*)
            [[ ${#kernels[@]} -eq 1 && -f ${kernels[0]} && -f ${initrds[0]} ]] ||
                die "expected one kernel and initramfs in /boot: ${kernels[*]} ${initrds[*]}"
            cp "${kernels[0]}" "$dir/vmlinuz"
            cp "${initrds[0]}" "$dir/initrd.img"
            ;;
    esac
}

# The first partition: autoboot.txt (Pi) or GRUB (QEMU), and the A/B state of a fresh image:
# A good, B empty and bad.
make_autoboot_tree() {
    local target=$1 dir=$2 work=$3
    mkdir -p "$dir"
    case $target in
        pi-arm64)
            printf '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n' >"$dir/autoboot.txt"
            printf 'A=good\nB=bad\ntrial=none\n' >"$dir/salle-ab.txt"
            ;;
        qemu-amd64)
            mkdir -p "$dir/EFI/BOOT" "$dir/EFI/salle"
            sed -e "s/@PARTUUID_ROOTFS_A@/$PARTUUID_ROOTFS_A/" -e "s/@PARTUUID_ROOTFS_B@/$PARTUUID_ROOTFS_B/" \
                "$here/qemu/grub.cfg" >"$work/grub.cfg"
            grub-mkstandalone -O x86_64-efi -o "$dir/EFI/BOOT/BOOTX64.EFI" \
                --modules="part_gpt fat ext2 linux normal loadenv test echo efi_gop" \
                --locales= --fonts= --themes= "boot/grub/grub.cfg=$work/grub.cfg" ||
                die "grub-mkstandalone failed"
            grub-editenv "$dir/EFI/salle/grubenv" create
            grub-editenv "$dir/EFI/salle/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
            ;;
    esac
}

# GPT disk image from the partition images (sfdisk on a file: no loop devices).
make_disk() {
    local target=$1 img=$2 autoboot=$3 boot=$4 rootfs=$5 data=$6
    local total esp_type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
    [[ $target == qemu-amd64 ]] && esp_type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
    local fat_type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 linux_type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
    total=$((1 + LAYOUT_AUTOBOOT_MB + 2 * LAYOUT_BOOT_MB + 2 * LAYOUT_ROOTFS_MB + LAYOUT_DATA_MB + 1))
    rm -f -- "$img"
    truncate -s "${total}M" "$img"
    sfdisk -q "$img" <<SFDISK
label: gpt
label-id: $DISK_GUID
first-lba: 2048
name=autoboot, size=${LAYOUT_AUTOBOOT_MB}MiB, type=$esp_type
name=boot-a, size=${LAYOUT_BOOT_MB}MiB, type=$fat_type
name=boot-b, size=${LAYOUT_BOOT_MB}MiB, type=$fat_type
name=rootfs-a, size=${LAYOUT_ROOTFS_MB}MiB, type=$linux_type, uuid=$PARTUUID_ROOTFS_A
name=rootfs-b, size=${LAYOUT_ROOTFS_MB}MiB, type=$linux_type, uuid=$PARTUUID_ROOTFS_B
name=data, size=${LAYOUT_DATA_MB}MiB, type=$linux_type
SFDISK
    local n start file
    for n in 1 2 4 6; do
        case $n in 1) file=$autoboot ;; 2) file=$boot ;; 4) file=$rootfs ;; 6) file=$data ;; esac
        start=$(sfdisk -d "$img" | awk -v p="${img}$n" '$1 == p { sub(/,/, "", $4); print $4 }')
        [[ -n $start ]] || die "partition $n not found in $img"
        dd if="$file" of="$img" bs=512 seek="$start" conv=notrunc,sparse status=none
    done
}

make_bundle() {
    local target=$1 version=$2 rootfs_img=$3 boot_img=$4 bundle=$5 work=$6
    local dir=$work/bundle
    rm -rf "$dir" && mkdir -p "$dir"
    ln "$rootfs_img" "$dir/rootfs.ext4" 2>/dev/null || cp "$rootfs_img" "$dir/rootfs.ext4"
    ln "$boot_img" "$dir/boot.vfat" 2>/dev/null || cp "$boot_img" "$dir/boot.vfat"
    {
        printf '[update]\ncompatible=salle-%s\nversion=%s\n\n[bundle]\nformat=verity\n\n' "$target" "$version"
        if [[ $target == pi-arm64 ]]; then
            printf '[hooks]\nfilename=hook.sh\n\n'
            printf '[image.rootfs]\nfilename=rootfs.ext4\n\n[image.boot]\nfilename=boot.vfat\nhooks=post-install\n'
        else
            printf '[image.rootfs]\nfilename=rootfs.ext4\n\n[image.boot]\nfilename=boot.vfat\n'
        fi
    } >"$dir/manifest.raucm"
    if [[ $target == pi-arm64 ]]; then
        # The boot image is built for slot A; written into slot B, its cmdline.txt must name B.
        cat >"$dir/hook.sh" <<HOOK
#!/bin/sh
# RAUC bundle hook: a boot slot's cmdline.txt names its own root file system and slot.
set -e
[ "\$1" = slot-post-install ] || exit 0
case "\$RAUC_SLOT_NAME" in
    boot.0) slot=A uuid=$PARTUUID_ROOTFS_A ;;
    boot.1) slot=B uuid=$PARTUUID_ROOTFS_B ;;
    *) exit 0 ;;
esac
f="\$RAUC_SLOT_MOUNT_POINT/cmdline.txt"
sed -e "s/root=PARTUUID=[^ ]*/root=PARTUUID=\$uuid/" -e "s/rauc\.slot=[AB]/rauc.slot=\$slot/" "\$f" >"\$f.new"
mv "\$f.new" "\$f"
HOOK
        chmod 0755 "$dir/hook.sh"
    fi
    signing_keys
    rm -f -- "$bundle"
    # mksquashfs' default (gzip): zstd -6 was 4 times faster to make here but the bundle came
    # out twice as big (389 MiB against 180), and a bundle is downloaded by every room.
    rauc bundle --cert="$rauc_cert" --key="$rauc_key" --keyring="$rauc_keyring" "$dir" "$bundle" >&2 ||
        die "rauc bundle failed"
}

assemble_image() {
    local target=$1 arch=$2 base=$3 deb=$4 version=$5 out=$6
    local work t0
    work=$(mktemp -d /var/tmp/salle-image.XXXXXX)
    # shellcheck disable=SC2064
    trap "umount -q '$work/rootfs/dev' '$work/rootfs/proc' 2>/dev/null; rm -rf --one-file-system -- '$work'" EXIT
    # Stopped (Ctrl-C, kill): exit, so that the EXIT trap cleans up.
    trap 'exit 130' INT
    trap 'exit 143' TERM

    t0=$(now)
    mkdir "$work/rootfs"
    tar -C "$work/rootfs" --numeric-owner -xpf "$base"
    install_salle "$work/rootfs" "$deb"
    signing_keys
    install -D -m 0644 "$rauc_keyring" "$work/rootfs/etc/rauc/keyring.pem"
    configure_rootfs "$target" "$work/rootfs" "$version"
    prune_rootfs "$work/rootfs"
    dpkg-query --admindir="$work/rootfs/var/lib/dpkg" -W -f='${Package} ${Version} ${Architecture}\n' |
        LC_ALL=C sort >"$out/manifest.txt"
    echo "rootfs_s=$(($(now) - t0))" >>"$times"

    t0=$(now)
    make_boot_tree "$target" "$work/rootfs" "$work/boot" A
    make_autoboot_tree "$target" "$work/autoboot" "$work"
    make_data_tree "$target" "$work/rootfs" "$work/data"
    # The rootfs image: what is used plus a margin, not the whole slot (the slot is bigger, so
    # later versions may grow; bundles and installs stay small).
    local used_mb rootfs_mb
    used_mb=$(du -sm --apparent-size "$work/rootfs" | cut -f1)
    rootfs_mb=$((used_mb * 115 / 100 + 64))
    ((rootfs_mb <= LAYOUT_ROOTFS_MB)) || die "root file system ${rootfs_mb} MiB > slot ${LAYOUT_ROOTFS_MB} MiB"
    make_ext4 "$out/rootfs.ext4" "$rootfs_mb" rootfs "$work/rootfs"
    make_vfat "$out/boot.vfat" "$LAYOUT_BOOT_MB" BOOT "$work/boot"
    make_vfat "$work/autoboot.vfat" "$LAYOUT_AUTOBOOT_MB" AUTOBOOT "$work/autoboot"
    make_ext4 "$work/data.ext4" "$LAYOUT_DATA_MB" data "$work/data"
    local img=$out/salle-$target.img
    if [[ ${only:-} == bundle ]]; then
        make_bundle "$target" "$version" "$out/rootfs.ext4" "$out/boot.vfat" "$out/salle-$target-$version.raucb" "$work"
        log "bundle: $out/salle-$target-$version.raucb ($(du -h "$out/salle-$target-$version.raucb" | cut -f1))"
        return 0
    fi
    make_disk "$target" "$img" "$work/autoboot.vfat" "$out/boot.vfat" "$out/rootfs.ext4" "$work/data.ext4"
    echo "filesystems_s=$(($(now) - t0))" >>"$times"

    t0=$(now)
    local bundle=$out/salle-$target-$version.raucb
    make_bundle "$target" "$version" "$out/rootfs.ext4" "$out/boot.vfat" "$bundle" "$work"
    echo "bundle_s=$(($(now) - t0))" >>"$times"

    t0=$(now)
    zstd -q -f -T0 -6 --sparse -o "$img.zst" "$img"
    echo "compress_s=$(($(now) - t0))" >>"$times"

    {
        echo "rootfs_used_mib=$used_mb"
        echo "rootfs_image_mib=$rootfs_mb"
        echo "image_compressed_mib=$(($(stat -c %s "$img.zst") / 1048576))"
        echo "bundle_mib=$(($(stat -c %s "$bundle") / 1048576))"
    } >>"$times"
    log "package manifest ($(wc -l <"$out/manifest.txt") packages, $out/manifest.txt):"
    sed 's/^/    /' "$out/manifest.txt" >&2
    log "image: $img ($(du -h --apparent-size "$img" | cut -f1), $(du -h "$img.zst" | cut -f1) compressed)"
    log "bundle: $bundle ($(du -h "$bundle" | cut -f1))"
}
