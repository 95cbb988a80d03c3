# vsw-memory-modes: nohuge
"""Two real QEMU guests on vhost-user ports of one bridge ping each other.

The guests boot the default image (guest/build-image.sh: Debian's cloud kernel and a busybox
initramfs, built once into VSW_GUEST_CACHE, default /var/cache/vswitch/guest) under software
emulation (TCG): these machines' /dev/kvm does not boot real kernels. The ports are in
server mode (the dataplane listens; QEMU connects with reconnect=1) and QEMU shares guest
memory through memfd (vhost-user needs it). Guest B pings guest A from its init (vsw.run) and
the test reads the result from B's serial log; `vswctl mac list` must show both guests' MACs
on their ports.

Then the dataplane is killed with -9 and a new one started, the guests untouched: B keeps
pinging A (every 0.2 s) and the traffic must come back through the new dataplane on its own
(controld replays the ports; QEMU reconnects to the sockets). The gap is printed. A killed
dataplane leaves its server sockets behind; the new one must reclaim them (it used to fail
to bind, and server-mode guests never came back).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import controld_env
import vswtest
from controld_env import ControldEnv
from vswtest import log, wait_until

GUEST_CACHE = Path(os.environ.get("VSW_GUEST_CACHE", "/var/cache/vswitch/guest"))
BOOT_TIMEOUT = 180.0  # TCG on a shared two-core machine: boots take 3-10 s, allow far more


def qemu_command(sock: Path, mac: str, cmdline: str, serial: Path) -> list[str]:
    return ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
            "-machine", "q35,memory-backend=mem",
            "-kernel", str(GUEST_CACHE / "vmlinuz"), "-initrd", str(GUEST_CACHE / "initrd.img"),
            "-append", f"console=ttyS0 quiet panic=-1 {cmdline}",
            "-chardev", f"socket,id=c0,path={sock},reconnect=1",
            "-netdev", "vhost-user,id=n0,chardev=c0",
            # vectors=0: QEMU 7.2 under TCG crashes in msix_set_vector_notifiers when a
            # vhost-user virtio-net device starts with MSI-X vectors.
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},vectors=0",
            "-serial", f"file:{serial}"]


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


class GuestsOnBridge(vswtest.TestCase):

    def test_two_guests_ping_across_the_bridge(self):
        subprocess.run([str(vswtest.REPO / "guest" / "build-image.sh"), str(GUEST_CACHE)],
                       check=True, timeout=300)
        with ControldEnv() as env:
            dp = env.dataplane()
            ctl = env.controld()
            ctl.wait_programmed()
            ctl.vswctl("bridge", "add", "br0")
            guests = {"vmA": ("02:00:00:00:01:0a", "10.240.0.1/24", "sleep 3600"),
                      "vmB": ("02:00:00:00:01:0b", "10.240.0.2/24",
                              "ping -c 5 -W 5 10.240.0.1; ping -q -i 0.2 10.240.0.1 &")}
            serial = {}
            for name, (mac, cidr, run) in guests.items():
                port = ctl.vswctl("port", "add", name, "--type", "vhost-user")
                ctl.vswctl("bridge", "attach", "br0", name)
                serial[name] = env.workdir / f"{name}.serial"
                proc = vswtest.Process(
                    name, qemu_command(Path(port["spec"]["socket"]), mac,
                                       f'vsw.ip={cidr} vsw.run="{run}"', serial[name]),
                    env.workdir / f"{name}.log")
                env.callback(proc.kill)
            wait_until(lambda: "vsw-guest: exit status" in read(serial["vmB"]), BOOT_TIMEOUT,
                       "guest vmB to boot and finish its ping")
            log_b = read(serial["vmB"])
            self.assertIn("vsw-guest: exit status 0", log_b, log_b[-2000:])
            self.assertIn("5 packets received", log_b)
            for name in guests:
                self.assertTrue(ctl.port(name)["state"]["link_up"], f"{name} link")
            macs = {m["mac"]: m["port"] for m in ctl.vswctl("mac", "list", "br0")["macs"]}
            self.assertEqual(macs.get("02:00:00:00:01:0a"), "vmA", macs)
            self.assertEqual(macs.get("02:00:00:00:01:0b"), "vmB", macs)

            # kill -9 the dataplane under the running guests; a new one must carry their
            # traffic again without touching them or running any vswctl command.
            controld_env.kill_dataplane(env, dp)
            started = time.monotonic()
            dp = env.dataplane()

            def rx(name):
                try:
                    return int(ctl.port(name)["state"]["counters"]["rx_packets"])
                except (AssertionError, KeyError, ValueError):
                    return 0

            wait_until(lambda: rx("vmA") >= 5 and rx("vmB") >= 5, 90,
                       "the guests' ping to flow through the new dataplane",
                       state=lambda: ctl.status())
            gap = time.monotonic() - started
            log(f"guests' traffic resumed {gap:.2f} s after the new dataplane started")
            print(f"restart-to-guest-traffic: {gap:.2f} s")


if __name__ == "__main__":
    vswtest.main()
