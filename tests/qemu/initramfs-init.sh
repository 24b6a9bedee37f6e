#!/bin/busybox sh
# PID 1 of the QEMU test guest: copied into the busybox initramfs by prepare.sh as /init.
#
# Loads virtio-pci + 9p (from the initramfs), mounts three 9p shares given by run-in-guest.sh:
#   hostroot  the host's / (read-only)          -> /newroot
#   work      the work dir (read-write)          -> /newroot$SALLE_QEMU_WORK (same path as on the host)
#   ctl       this run's control dir (read-write) -> /ctl (never visible to the command)
# loads the test drivers (configfs, vivid, snd-aloop, snd-dummy, gpio-sim, v4l2loopback; from the
# initramfs),
# mounts proc/sys/dev/configfs/tmpfs into /newroot, then becomes (exec) a chroot into it running
# guest-stage2.sh (udevd, then the command) with the command's stdout/stderr on fds 3/4
# (files in /ctl that the host streams), writes the exit status to /ctl/status and powers off.

/bin/busybox mkdir -p /proc /sys /dev /newroot /ctl
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

log() { echo "salle-qemu-init: $*"; }
fail() {
  log "FATAL: $*"
  if mountpoint -q /ctl; then echo "guest init: $*" >> /ctl/init-error; sync; fi
  poweroff -f
  sleep 10
}

log "init at $(cut -d' ' -f1 /proc/uptime) s"
KABI=$(cat /kabi)
while read -r m; do
  insmod "/lib/modules/$KABI/$m" || fail "insmod $m failed"
done < /modules.base

# The virtio devices are probed when virtio_pci loads; wait until the 9p channels show up.
want="hostroot work ctl"
i=0
while :; do
  have=$(cat /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag 2>/dev/null | tr '\0' ' ')
  ok=1
  for t in $want; do case " $have " in *" $t "*) ;; *) ok=0 ;; esac; done
  [ $ok = 1 ] && break
  i=$((i + 1))
  [ $i -gt 100 ] && fail "9p mount tags did not appear (have: $have, want: $want)"
  sleep 0.1
done

P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9" ctl /ctl || fail "cannot mount the ctl share"
[ -f /ctl/params ] || fail "no /ctl/params"
# shellcheck disable=SC1091  # written by run-in-guest.sh
. /ctl/params

# The test drivers (deps first). Options can be overridden from the host, see run-in-guest.sh.
while read -r m; do
  name=${m##*/}; name=${name%.ko}
  case "$name" in
    # A webcam (input 0, the default) and an HDMI input on /dev/video0, and an HDMI output
    # node: vivid gives the HDMI input and output a CEC adapter each, on one emulated bus
    # (the input's plays the TV, 0.0.0.0; the output's is the room device, 1.0.0.0).
    vivid) opts=${SALLE_QEMU_VIVID_OPTS-n_devs=1 node_types=0x101 num_inputs=2 input_types=0xc num_outputs=1 output_types=0x1} ;;
    snd-aloop) opts=${SALLE_QEMU_ALOOP_OPTS-index=0 id=Loopback pcm_substreams=2} ;;
    snd-dummy) opts=${SALLE_QEMU_DUMMY_OPTS-index=1 id=Dummy} ;;
    # One loopback node, /dev/video10, that is an output until a program writes to it, then a
    # capture device in the writer's format (MJPEG included): a camera fed by the test.
    v4l2loopback) opts=${SALLE_QEMU_V4L2LOOPBACK_OPTS-devices=1 video_nr=10 exclusive_caps=1 card_label=salle-loopback} ;;
    *) opts= ;;
  esac
  # shellcheck disable=SC2086  # opts is a list of key=value words
  insmod "/lib/modules/$KABI/$m" $opts || fail "insmod $m $opts failed"
done < /modules.drivers
log "drivers loaded at $(cut -d' ' -f1 /proc/uptime) s"
# Host root read-only; its page cache may be kept (cache=loose): the host does not change
# system files under a running test, and the work dir is a separate, uncached share.
mount -t 9p -o "$P9,ro,cache=loose" hostroot /newroot || fail "cannot mount hostroot"

R=/newroot
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t configfs configfs $R/sys/kernel/config || fail "mount configfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts || fail "mount devpts"
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm || fail "mount /dev/shm"
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail "mount /run"
if [ -d $R/var/tmp ]; then mount -t tmpfs -o mode=1777 tmpfs $R/var/tmp || fail "mount /var/tmp"; fi
# The work share last, so that a work dir under /tmp or /run is not hidden by their tmpfs (its
# mount point is then created in the tmpfs).
[ -d "$R$SALLE_QEMU_WORK" ] || mkdir -p "$R$SALLE_QEMU_WORK" 2>/dev/null \
  || fail "work dir $SALLE_QEMU_WORK has no mount point in the guest"
mount -t 9p -o "$P9" work "$R$SALLE_QEMU_WORK" || fail "cannot mount the work share"

# What the chroot needs from the ctl share (which it does not see): the command, stage 2, the
# GStreamer registry, and a static busybox for PID 1.
mkdir -p $R/run/salle-qemu
for f in cmd guest-stage2.sh; do
  cp "/ctl/$f" "$R/run/salle-qemu/$f" || fail "cannot copy $f from the ctl share"
done
if [ -f /ctl/gst-registry.bin ]; then
  cp /ctl/gst-registry.bin $R/run/salle-qemu/gst-registry.bin || fail "cannot copy the GStreamer registry"
fi
cp /bin/busybox $R/run/salle-qemu/busybox || fail "cannot copy busybox"
cat > $R/run/salle-qemu/init2 <<'EOF2'
# PID 1 after the chroot (see initramfs-init.sh); fds 3/4/5 = command stdout/stderr/status.
/bin/bash /run/salle-qemu/guest-stage2.sh </dev/null 5>&-
rc=$?
echo "$rc" >&5
exec 3>&- 4>&- 5>&-
/run/salle-qemu/busybox sync
echo "salle-qemu-init: exit status $rc at $(/run/salle-qemu/busybox cut -d' ' -f1 /proc/uptime) s; powering off"
/run/salle-qemu/busybox poweroff -f
/run/salle-qemu/busybox sleep 10
EOF2

log "starting stage 2 at $(cut -d' ' -f1 /proc/uptime) s"
# exec, so that PID 1 itself lives in the new root: systemd tools (udevadm trigger/settle) refuse
# to act when PID 1's root differs from theirs ("Running in chroot, ignoring request").
# shellcheck disable=SC2093
exec chroot $R /run/salle-qemu/busybox sh /run/salle-qemu/init2 3>>/ctl/stdout 4>>/ctl/stderr 5>/ctl/status
fail "cannot exec chroot"
