#!/usr/bin/env python3
"""Boots the Raspberry Pi image (pi-arm64) on QEMU's arm64 `virt` machine under TCG, to a ready
daemon and its idle screen. No Pi here: the Pi's boot firmware cannot run under QEMU, so QEMU
loads the image's own kernel and initramfs (taken from its root file system) and the rest is
the image as flashed: the same disk layout, root file system A found by PARTUUID, the data
partition grown at first boot, the daemon, RAUC's tryboot backend marking slot A good.

    image/test/boot-arm64.py --image image/out/pi-arm64 [--keep]

A copy of the disk is booted, never the image itself. One thing is added to the copy, for the
test only: a root autologin on the virt machine's serial console (ttyAMA0), as the amd64 test
flavour has on ttyS0, so that the harness can type `salle status`. The Pi image has none.
Needs root (debugfs on the copy), qemu-system-aarch64 (Debian qemu-system-arm).
Prints PASS/FAIL lines and figures; exit status 0 when all passed.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest, GuestError, copy_sparse  # noqa: E402
from run import FOOTER, READY_BAND, share, wait_ready  # noqa: E402

AUTOLOGIN = """# TEST ONLY, added by image/test/boot-arm64.py to its copy of the disk (never in the image).
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200 %I $TERM
"""

results = []


def log(msg):
    print(f"[image-arm64] {msg}", flush=True)


def step(name, ok, detail=""):
    results.append((name, ok))
    log(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def partitions(disk):
    """GPT name -> (start byte, size byte) from sfdisk's JSON dump."""
    import json
    table = json.loads(subprocess.run(["sfdisk", "-J", disk], check=True, capture_output=True,
                                      text=True).stdout)["partitiontable"]
    return {p["name"]: (p["start"] * 512, p["size"] * 512, p.get("uuid")) for p in table["partitions"]}


def debugfs(device, *requests, write=False):
    out = subprocess.run(["debugfs", *(["-w"] if write else []), "-R" if len(requests) == 1 else "-f",
                          requests[0] if len(requests) == 1 else "-", device],
                         input=None if len(requests) == 1 else "\n".join(requests) + "\n",
                         check=True, capture_output=True, text=True)
    return out.stdout


def prepare(disk, work):
    """Kernel and initramfs out of root file system A; the test's autologin into the copy."""
    parts = partitions(disk)
    start, size, uuid = parts["rootfs-a"]
    loop = subprocess.run(["losetup", "--find", "--show", "--offset", str(start), "--sizelimit", str(size), disk],
                          check=True, capture_output=True, text=True).stdout.strip()
    try:
        listing = debugfs(loop, "ls -p /boot")
        names = [f.split("/")[5] for f in listing.splitlines() if f.count("/") >= 6]
        kernel = next(n for n in names if n.startswith("vmlinuz-"))
        initrd = next(n for n in names if n.startswith("initrd.img-"))
        for name, dest in ((kernel, "vmlinuz"), (initrd, "initrd.img")):
            debugfs(loop, f"dump /boot/{name} {os.path.join(work, dest)}")
        dropin = os.path.join(work, "autologin.conf")
        with open(dropin, "w") as f:
            f.write(AUTOLOGIN)
        d = "/etc/systemd/system/serial-getty@ttyAMA0.service.d"
        debugfs(loop, f"mkdir {d}", f"cd {d}", f"write {dropin} autologin.conf", write=True)
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)
    return os.path.join(work, "vmlinuz"), os.path.join(work, "initrd.img"), uuid, kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True, help="image/out/pi-arm64 (holds salle-pi-arm64.img)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="salle-image-arm64.", dir="/var/tmp")
    log(f"work dir {work}")
    disk = os.path.join(work, "disk.img")
    copy_sparse(os.path.join(args.image, "salle-pi-arm64.img"), disk)
    subprocess.run(["truncate", "-s", "+1G", disk], check=True)
    kernel, initrd, uuid, kname = prepare(disk, work)
    append = f"root=PARTUUID={uuid} rootfstype=ext4 ro rootwait console=ttyAMA0 rauc.slot=A panic=10"
    log(f"kernel {kname}, command line: {append}")
    figures = {}
    g = Guest(disk, work, log=log, arm64_boot=(kernel, initrd, append))
    try:
        g.start()
        figures["boot_to_shell_s"] = round(g.wait_shell(timeout=1800), 1)
        _, arch = g.run("uname -m")
        st = wait_ready(g, timeout=1800)
        figures["boot_to_ready_s"] = round(time.monotonic() - g.started, 1)
        step("arm64: daemon ready", arch.strip() == "aarch64" and '"state": "idle"' in st,
             f"{arch.strip()}, `salle status` answered {figures['boot_to_ready_s']} s after power on (TCG)")
        _, health = g.run("timeout 600 sh -c 'until systemctl is-active -q salle-health || "
                          "systemctl is-failed -q salle-health; do sleep 2; done'; systemctl is-active salle-health; "
                          "cat /boot/autoboot/autoboot.txt", check=False, timeout=700)
        step("arm64: slot A marked good by the tryboot backend",
             health.split()[:1] == ["active"] and re.search(r"\[all\][^\[]*boot_partition=2", health) is not None,
             " ".join(health.split()))
        ppm = os.path.join(work, "screen-idle.ppm")
        deadline = time.monotonic() + 120
        while True:
            w, h, rgb = g.screendump(ppm)
            green, footer = share(w, h, rgb, READY_BAND), share(w, h, rgb, FOOTER)
            if (green > 0.05 and footer > 0.02) or time.monotonic() > deadline:
                break
            time.sleep(3)
        step("arm64: idle screen on the display", green > 0.05 and footer > 0.02,
             f"{w}x{h}, green band {green:.0%}, footer {footer:.0%} ({ppm})")
        _, rss = g.run("ps -o rss= -C salle | head -n1")
        if rss.split():
            figures["daemon_idle_rss_mib"] = round(int(rss.split()[0]) / 1024, 1)
        _, enc = g.run("salle status --json | jq -c '.media // .devices // empty' | head -c 400", check=False)
        log(f"status media/devices: {enc.strip()}")
    except GuestError as e:
        step("arm64 guest", False, str(e))
    finally:
        g.quit()
        for k, v in figures.items():
            log(f"figure {k}={v}")
        if not args.keep and results and all(ok for _, ok in results):
            subprocess.run(["rm", "-rf", work])
    failed = [n for n, ok in results if not ok]
    log(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
