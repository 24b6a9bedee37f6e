# The disk layout shared by every target (sourced by assemble.sh and the tests). GPT; the
# partition numbers are what autoboot.txt (Pi) and grub.cfg (QEMU) refer to.
#
#   1 autoboot   FAT   64 MiB  Pi: autoboot.txt (tryboot A/B) / QEMU: the EFI system partition
#   2 boot-a     FAT  256 MiB  slot A's boot files (Pi firmware, kernel, initramfs, cmdline.txt)
#   3 boot-b     FAT  256 MiB  slot B's
#   4 rootfs-a   ext4          slot A's root file system, mounted read-only
#   5 rootfs-b   ext4          slot B's (empty in a flashed image: marked bad until an update)
#   6 data       ext4 128 MiB  configuration, identity, certificates, logs, RAUC's state; grown
#                              to the end of the card at first boot; kept across updates
# Fixed partition UUIDs: the kernel command line finds its root file system by PARTUUID.
LAYOUT_AUTOBOOT_MB=64
LAYOUT_BOOT_MB=256
LAYOUT_ROOTFS_MB=${SALLE_ROOTFS_MB:-1280}
LAYOUT_DATA_MB=128
PARTUUID_ROOTFS_A=5a11e000-0000-4000-8000-00000000000a
PARTUUID_ROOTFS_B=5a11e000-0000-4000-8000-00000000000b
DISK_GUID=5a11e000-0000-4000-8000-000000000000
