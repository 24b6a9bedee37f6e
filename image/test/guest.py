"""Drives the QEMU test flavour of the Salle image: boots a disk image with OVMF (UEFI) and
GRUB, talks to the guest's serial console (the test flavour's root shell) and to QEMU's QMP
monitor (screendump, quit). Python standard library only.

The guest's network is QEMU's user network with restrict=on: the guest reaches nothing outside.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time

OVMF = "/usr/share/ovmf/OVMF.fd"


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


class GuestError(Exception):
    pass


class Guest:
    """One boot of the disk image (the disk persists between boots: reboots are real)."""

    def __init__(self, disk, workdir, extra_disk=None, memory_mb=2048, log=print, arm64_boot=None):
        """arm64_boot: (kernel, initrd, command line) to boot an arm64 image on QEMU's `virt`
        machine under TCG (no firmware: the Pi's boot firmware does not run there); None for
        the amd64 test flavour booted through OVMF and GRUB."""
        self.arm64_boot = arm64_boot
        self.disk = disk
        self.workdir = workdir
        self.extra_disk = extra_disk
        self.memory_mb = memory_mb
        self.log = log
        self.proc = None
        self.serial = None
        self.buffer = b""
        self.console_log = open(os.path.join(workdir, "console.log"), "ab")
        # KVM only when asked (SALLE_IMAGE_ACCEL=kvm) and /dev/kvm opens: on the nested KVM of
        # the build machine, OVMF stops at once ("KVM internal error", x87 emulation failure)
        # and a direct kernel boot printed nothing, so TCG is the default.
        want = os.environ.get("SALLE_IMAGE_ACCEL", "tcg")
        self.accel = "kvm" if want == "kvm" and kvm_usable() and not arm64_boot else "tcg"

    # ------------------------------------------------------------------ process
    def start(self):
        serial_path = os.path.join(self.workdir, "serial.sock")
        self.qmp_path = os.path.join(self.workdir, "qmp.sock")
        for p in (serial_path, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        if self.arm64_boot:
            kernel, initrd, append = self.arm64_boot
            machine = ["qemu-system-aarch64", "-M", "virt", "-cpu", "max",
                       "-kernel", kernel, "-initrd", initrd, "-append", append]
        else:
            machine = [
                "qemu-system-x86_64",
                *(["-accel", "kvm"] if self.accel == "kvm" else []),
                # -arch-capabilities: on this nested KVM, QEMU 7.2 aborts setting MSR 0x10a
                # (IA32_ARCH_CAPABILITIES) with a plain -cpu host.
                "-cpu", "host,-arch-capabilities" if self.accel == "kvm" else "max",
                "-bios", OVMF, "-vga", "none",
            ]
        cmd = [
            *machine,
            "-smp", "2",
            # TCG: one host thread per guest CPU, so the boot is not serialised.
            *(["-accel", "tcg,thread=multi"] if self.accel == "tcg" else []),
            "-m", str(self.memory_mb),
            "-drive", f"file={self.disk},format=raw,if=virtio,cache=unsafe",
            # virtio-gpu: GStreamer 1.22's kmssink finds virtio_gpu by name; with -vga std
            # (bochs-drm) it said "Could not open DRM module".
            "-device", "virtio-gpu-pci",
            "-display", "none",
            "-netdev", "user,id=n0,restrict=on",
            "-device", "virtio-net-pci,netdev=n0",
            "-chardev", f"socket,id=s0,path={serial_path},server=on,wait=on",
            "-serial", "chardev:s0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        if self.extra_disk:
            cmd += ["-drive", f"file={self.extra_disk},format=raw,if=virtio,readonly=on"]
        self.log(f"qemu: accel={self.accel} ({'KVM' if self.accel == 'kvm' else 'TCG, software emulation'})")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.workdir, "qemu.out"), "ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(serial_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise GuestError("qemu did not start: see qemu.out")
            time.sleep(0.05)
        self.serial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.serial.connect(serial_path)
        self.serial.settimeout(0.5)
        self.buffer = b""
        self.started = time.monotonic()

    def kill(self):
        """A power cut: the QEMU process dies with the guest's writes where they are."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def quit(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.qmp("quit")
            except Exception:
                self.proc.kill()
            self.proc.wait(timeout=30)
        self._close()

    def _close(self):
        if self.serial:
            self.serial.close()
            self.serial = None

    # ------------------------------------------------------------------ serial console
    def _read(self):
        try:
            data = self.serial.recv(65536)
        except socket.timeout:
            return False
        if not data:
            raise GuestError("the serial console closed (guest powered off or QEMU died)")
        self.console_log.write(data)
        self.console_log.flush()
        self.buffer += data
        return True

    def expect(self, pattern, timeout):
        """Waits for a regex (bytes) on the console; returns the match. Consumes up to it."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buffer)
            if m:
                self.buffer = self.buffer[m.end():]
                return m
            if time.monotonic() > deadline:
                tail = self.buffer[-600:].decode(errors="replace")
                raise GuestError(f"timed out after {timeout} s waiting for {pattern!r}; console tail:\n{tail}")
            if self.proc.poll() is not None and not self._read():
                raise GuestError(f"QEMU exited ({self.proc.returncode}) waiting for {pattern!r}")
            self._read()

    def wait_shell(self, timeout=900):
        """Until the test flavour's root shell on ttyS0 answers."""
        deadline = time.monotonic() + timeout
        self.expect(rb"login: root \(automatic login\)", timeout)
        while True:
            self.serial.sendall(b"\n")
            try:
                self.run("true", timeout=10)
                return time.monotonic() - self.started
            except GuestError:
                if time.monotonic() > deadline:
                    raise

    def send(self, command):
        """Types a command without waiting for it (a reboot)."""
        self.buffer = b""
        self.serial.sendall(command.encode() + b"\n")

    def run(self, command, timeout=120, check=True):
        """Runs a shell command in the guest; returns (status, output)."""
        tag = f"{time.monotonic_ns():x}"
        wrapped = (f"stty -echo 2>/dev/null; echo @@B{tag}; ( {command} ) 2>&1; "
                   f"echo @@E{tag}:$?\n")
        self.buffer = b""
        self.serial.sendall(wrapped.encode())
        self.expect(rf"@@B{tag}\r?\n".encode(), timeout)
        m = self.expect(rf"([\s\S]*?)@@E{tag}:(\d+)".encode(), timeout)
        output = m.group(1).decode(errors="replace").replace("\r", "")
        status = int(m.group(2))
        if check and status != 0:
            raise GuestError(f"`{command}` exited {status}:\n{output}")
        return status, output

    # ------------------------------------------------------------------ QMP
    def qmp(self, command, **arguments):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.qmp_path)
        f = s.makefile("rwb")
        json.loads(f.readline())  # greeting
        f.write(json.dumps({"execute": "qmp_capabilities"}).encode() + b"\n")
        f.flush()
        json.loads(f.readline())
        f.write(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "return" in reply or "error" in reply:
                break
        s.close()
        if "error" in reply:
            raise GuestError(f"QMP {command}: {reply['error']}")
        return reply["return"]

    def screendump(self, path):
        """The guest display as a PPM file; returns (width, height, rgb bytes)."""
        self.qmp("screendump", filename=path)
        with open(path, "rb") as f:
            data = f.read()
        m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        if not m:
            raise GuestError(f"{path}: not a PPM picture")
        width, height = int(m.group(1)), int(m.group(2))
        return width, height, data[m.end():]


def copy_sparse(src, dst):
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)


def which(name):
    return shutil.which(name) is not None
