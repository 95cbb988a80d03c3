# vsw-memory-modes: nohuge
"""The VM manager: QEMU guests launched and tracked by controld (`vswctl vm ...`).

Two guests of the default image (guest/build-image.sh) on two bridges joined by the router:
A on a client-mode vhost-user port (QEMU listens, the mode operators should prefer) on br0,
B on a server-mode one on br1; each bridge's router interface is its guest's gateway.
Both run under whatever `--accel auto` picks here (TCG on these machines, KVM where the host
has hardware virtualization). B pings A from its init; then, one after the other:

- the dataplane is killed with -9 and a new one started under the running guests: B's ping
  must flow again through both ports without touching the guests (the gap is printed);
- `vm stop A` powers A down over QMP (ACPI) and `vm start A` brings it back on the same port;
- controld is stopped, A's QEMU killed while it is down, and controld started again: it
  adopts B's running QEMU (same pid) and starts A again (its desired state is running);
- B's QEMU is killed with -9: it is shown stopped with why and not restarted;
- a guest added with `--restart always` is started again after a kill -9;
- `vm del` stops and forgets them, and no QEMU is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import controld_env
import vswtest
from controld_env import ControldEnv
from vswtest import log, wait_until

GUEST_CACHE = Path(os.environ.get("VSW_GUEST_CACHE", "/var/cache/vswitch/guest"))
BOOT_TIMEOUT = 180.0  # TCG on a shared two-core machine: boots take 3-10 s, allow far more


class VmManager(vswtest.TestCase):

    def vms(self, ctl) -> dict[str, dict]:
        return {vm["spec"]["name"]: vm for vm in ctl.vswctl("vm", "list").get("vms", [])}

    def console(self, ctl, name: str) -> str:
        r = ctl.vswctl.raw("vm", "console", name)
        return r.stdout if r.returncode == 0 else ""

    def rx(self, ctl, port: str) -> int:
        try:
            return int(ctl.port(port)["state"]["counters"]["rx_packets"])
        except (AssertionError, KeyError, ValueError):
            return 0

    def wait_traffic(self, ctl, what: str, ports=("pa", "pb"), timeout: float = 90) -> float:
        """Waits until every port's rx counter grew by 5 (B pings A every 0.2 s)."""
        base = {p: self.rx(ctl, p) for p in ports}
        started = time.monotonic()
        wait_until(lambda: all(self.rx(ctl, p) >= base[p] + 5 for p in ports), timeout, what,
                   state=lambda: {p: self.rx(ctl, p) for p in ports})
        return time.monotonic() - started

    def test_vm_lifecycle(self):
        subprocess.run([str(vswtest.REPO / "guest" / "build-image.sh"), str(GUEST_CACHE)],
                       check=True, timeout=300)
        with ControldEnv() as env:
            dp = env.dataplane()
            ctl = env.controld(extra_args=("--guest-dir", str(GUEST_CACHE)))
            ctl.wait_programmed()
            # A on br0, B on br1, the router between them.
            ctl.vswctl("port", "add", "pa", "--type", "vhost-user", "--mode", "client",
                       "--socket", str(env.workdir / "pa.sock"))
            ctl.vswctl("port", "add", "pb", "--type", "vhost-user")
            for br, p, subnet in (("br0", "pa", "10.241.0"), ("br1", "pb", "10.242.0")):
                ctl.vswctl("bridge", "add", br)
                ctl.vswctl("bridge", "attach", br, p)
                ctl.vswctl("router-if", "add", f"r{br[-1]}", "--bridge", br, "--ip",
                           f"{subnet}.254/24")

            a = ctl.vswctl("vm", "add", "a", "--port", "pa", "--ip", "10.241.0.1/24", "--gw",
                           "10.241.0.254")
            b = ctl.vswctl("vm", "add", "b", "--port", "pb", "--ip", "10.242.0.2/24", "--gw",
                           "10.242.0.254", "--cmdline", 'vsw.run="ping -c 5 -W 5 10.241.0.1; '
                           'ping -q -i 0.2 10.241.0.1 &"')
            for vm in (a, b):
                self.assertEqual(vm["state"]["state"], "running", vm)
                self.assertGreater(vm["state"]["pid"], 0)
                self.assertIn(vm["state"]["accel"], ("kvm", "tcg"))
                if vm["state"]["accel"] == "tcg":
                    self.assertIn("emulation", vm["state"]["warning"])
            log(f"guests under {a['state']['accel']}")
            # The CLI says so too, on stderr.
            r = ctl.vswctl.raw("vm", "list")
            self.assertEqual(r.returncode, 0, r.stderr)
            if a["state"]["accel"] == "tcg":
                self.assertIn("software emulation", r.stderr)

            wait_until(lambda: "vsw-guest: exit status" in self.console(ctl, "b"), BOOT_TIMEOUT,
                       "guest b to boot and finish its first pings",
                       state=lambda: self.console(ctl, "b")[-500:])
            log_b = self.console(ctl, "b")
            self.assertIn("vsw-guest: exit status 0", log_b, log_b[-2000:])
            self.assertIn("5 packets received", log_b)
            for br, vm, port in (("br0", a, "pa"), ("br1", b, "pb")):
                macs = {m["mac"]: m["port"] for m in ctl.vswctl("mac", "list", br)["macs"]}
                self.assertEqual(macs.get(vm["spec"]["mac"]), port, macs)
            neigh = {n["address"]: n["mac"] for n in ctl.vswctl("neigh", "list")["neighbors"]}
            self.assertEqual(neigh.get("10.241.0.1"), a["spec"]["mac"], neigh)
            self.assertEqual(neigh.get("10.242.0.2"), b["spec"]["mac"], neigh)
            status = ctl.status()
            self.assertEqual((status["vms"], status["vms_running"]), (2, 2), status)

            # kill -9 the dataplane under the guests: both port modes must come back alone.
            controld_env.kill_dataplane(env, dp)
            started = time.monotonic()
            dp = env.dataplane()
            # Each port's gap: B's echo requests arrive on pb (server mode: QEMU reconnects),
            # A's replies on pa (client mode: the dataplane connects to QEMU's socket).
            gaps = {}

            def both_back():
                for port in ("pa", "pb"):
                    if port not in gaps and ctl.port(port)["state"]["counters"].get(
                            "rx_packets", "0") not in ("0", 0):
                        gaps[port] = time.monotonic() - started
                return len(gaps) == 2

            wait_until(both_back, 90, "the guests' ping to flow through the new dataplane",
                       state=lambda: gaps)
            print(f"restart-to-guest-traffic: client-mode port {gaps['pa']:.2f} s, "
                  f"server-mode port {gaps['pb']:.2f} s")

            # Power A down and bring it back on the same port.
            t = time.monotonic()
            stopped = ctl.vswctl("vm", "stop", "a")
            print(f"vm stop (ACPI power-down): {time.monotonic() - t:.2f} s")
            self.assertEqual(stopped["state"]["state"], "stopped", stopped)
            self.assertIn("stopped by the operator", stopped["state"]["exit_reason"])
            self.assertIn("powered off", stopped["state"]["exit_reason"])
            self.assertIn("power button", self.console(ctl, "a"))
            again = ctl.vswctl("vm", "start", "a")
            self.assertEqual(again["state"]["state"], "running")
            self.assertNotEqual(again["state"]["pid"], a["state"]["pid"])
            self.wait_traffic(ctl, "B's ping to reach the restarted A", timeout=BOOT_TIMEOUT)
            a_pid, b_pid = again["state"]["pid"], b["state"]["pid"]

            # controld goes away; A dies meanwhile; the next controld adopts B, restarts A.
            ctl.stop()
            self.assertEqual(controld_env.vm_pids(ctl.run_dir), {"a": a_pid, "b": b_pid})
            os.kill(a_pid, signal.SIGKILL)
            wait_until(lambda: "a" not in controld_env.vm_pids(ctl.run_dir), 30, "A to die")
            ctl.start()
            vms = wait_until(lambda: (v := self.vms(ctl))["a"]["state"]["state"] == "running"
                             and v, 60, "controld to start A again")
            self.assertEqual(vms["b"]["state"]["pid"], b_pid, "B adopted, not restarted")
            self.assertNotEqual(vms["a"]["state"]["pid"], a_pid)
            self.wait_traffic(ctl, "B's ping to reach A after controld's restart",
                              timeout=BOOT_TIMEOUT)

            # A guest that dies is shown stopped, with the reason, and left stopped.
            os.kill(b_pid, signal.SIGKILL)
            vm = wait_until(lambda: (v := self.vms(ctl)["b"])["state"]["state"] == "stopped"
                            and v, 30, "B to be seen stopped")
            # B was adopted, so not controld's child: its exit status cannot be known.
            self.assertIn("exit status unknown", vm["state"]["exit_reason"])
            self.assertFalse(vm["state"]["desired_running"])
            time.sleep(3)  # observing that nothing happens: a restart would take ~1 s
            self.assertEqual(self.vms(ctl)["b"]["state"]["state"], "stopped")

            # --restart always: started again after a crash.
            ctl.vswctl("vm", "del", "b")
            c = ctl.vswctl("vm", "add", "c", "--port", "pb", "--restart", "always")
            os.kill(c["state"]["pid"], signal.SIGKILL)
            vm = wait_until(lambda: (v := self.vms(ctl)["c"])["state"]["restarts"] == 1
                            and v["state"]["state"] == "running" and v, 60,
                            "c to be restarted")
            self.assertNotEqual(vm["state"]["pid"], c["state"]["pid"])
            self.assertIn("signal 9", vm["state"]["exit_reason"])

            # Refusals name the field and change nothing.
            code, err = ctl.vswctl_fail("vm", "add", "d", "--port", "pa")
            self.assertIn("port: 'pa' is already used by vm 'a'", err)
            code, err = ctl.vswctl_fail("port", "del", "pa")
            self.assertIn("used by vm 'a'", err)
            code, err = ctl.vswctl_fail("vm", "add", "d", "--port", "pb", "--kernel", "/nope",
                                        "--initrd", "/nope")
            self.assertIn("kernel: '/nope' is not a file", err)

            for name in ("a", "c"):
                ctl.vswctl("vm", "del", name)
            self.assertEqual(self.vms(ctl), {})
            self.assertEqual(controld_env.vm_pids(ctl.run_dir), {})
            self.assertEqual(list((ctl.run_dir / "vms").iterdir()), [])


if __name__ == "__main__":
    controld_env.main()
