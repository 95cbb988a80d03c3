# vsw-memory-modes: nohuge
"""Port security: a guest cannot impersonate another (issue 10).

Namespaces A, B on a bridge. A's port allows only A's MAC and 10.214.0.1:
- A pings B: fine;
- A pings from a second address it gave itself: nothing arrives at B, and A's port counts
  port_security drops;
- A sends ARP replies claiming B's address (Scapy): dropped and counted, and B's neighbor
  entry for A stays what it was;
- A changes its MAC: its frames are dropped;
- the settings survive a dataplane restart (controld replays them before the port is
  attached again), and --no-port-security removes them.
"""

from __future__ import annotations

import controld_env
import vswtest
from l2_env import L2Env
from vswtest import wait_until

A_IP, B_IP, SPOOF_IP = "10.214.0.1", "10.214.0.2", "10.214.0.9"


def drops(ctl, port: str) -> int:
    return int(ctl.vswctl("port", "show", port)["state"]["counters"].get(
        "drop_port_security", 0))


class PortSecurityTest(vswtest.TestCase):

    def test_a_guest_cannot_impersonate_another(self):
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br0")
            a = env.tap_host("sa", f"{A_IP}/24")
            b = env.tap_host("sb", f"{B_IP}/24")
            for h in (a, b):
                ctl.vswctl("bridge", "attach", "br0", h.port)
            port = ctl.vswctl("port", "set", a.port, "--allowed-mac", a.mac,
                              "--allowed-ip", A_IP)
            self.assertEqual(list(port["spec"]["allowed_macs"]), [a.mac])
            r = a.ping(b, count=3, interval=0.1)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(drops(ctl, a.port), 0)

            # A second address on A: its packets never reach B.
            a.ns.exec(["ip", "addr", "add", f"{SPOOF_IP}/24", "dev", a.iface])
            r = a.ns.exec(["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-I", SPOOF_IP,
                           B_IP], check=False, timeout=30)
            self.assertNotEqual(r.returncode, 0, "a spoofed source got answers")
            wait_until(lambda: drops(ctl, a.port) >= 3, 30, "port_security drops on A's port")

            # ARP replies claiming B's address, sent straight onto A's link.
            before = drops(ctl, a.port)
            b_neigh = b.neighbours().get(A_IP, {}).get("lladdr")
            sender = (
                "from scapy.all import ARP, Ether, sendp\n"
                f"sendp([Ether(src='{a.mac}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, hwsrc='{a.mac}', "
                f"psrc='{B_IP}', hwdst='ff:ff:ff:ff:ff:ff', pdst='{B_IP}')]*5, iface='{a.iface}', "
                "verbose=False)\n")
            a.ns.exec(["/usr/bin/python3", "-c", sender], timeout=60)
            wait_until(lambda: drops(ctl, a.port) >= before + 5, 30,
                       "the spoofed ARP replies counted as port_security drops")
            self.assertEqual(b.neighbours().get(A_IP, {}).get("lladdr"), b_neigh)

            # A new MAC on A: dropped too.
            before = drops(ctl, a.port)
            a.ns.exec(["ip", "link", "set", "dev", a.iface, "address", "02:00:00:aa:bb:cc"])
            a.ns.exec(["ip", "neigh", "flush", "dev", a.iface])
            r = a.ping(b, count=2, interval=0.2, deadline=4)
            self.assertNotEqual(r.returncode, 0, "frames from a foreign MAC got through")
            wait_until(lambda: drops(ctl, a.port) > before, 30, "drops of the foreign MAC")
            a.ns.exec(["ip", "link", "set", "dev", a.iface, "address", a.mac])

            # A restarted dataplane gets the port security back from controld. (Its tap
            # interfaces are new ones in the root namespace, so look at the dataplane's view
            # rather than at traffic.)
            env.dp.stop()
            env.dp = env.dataplane()
            ctl.wait_programmed()
            live = {p["config"]["name"]: p for p in env.dp.dpctl("port", "list")["ports"]["ports"]}
            self.assertEqual(live[a.port].get("allowed_macs"), [a.mac])
            self.assertEqual(live[a.port].get("allowed_ips"), [A_IP])
            self.assertFalse(live[b.port].get("allowed_macs"))

            # Off again, in the dataplane too.
            port = ctl.vswctl("port", "set", a.port, "--no-port-security")
            self.assertFalse(port["spec"].get("allowed_macs"))
            live = {p["config"]["name"]: p for p in env.dp.dpctl("port", "list")["ports"]["ports"]}
            self.assertFalse(live[a.port].get("allowed_macs"))

            # Bad values name their field; nothing changes.
            code, err = ctl.vswctl_fail("port", "set", a.port, "--allowed-ip", "10.214.0.1/24")
            self.assertIn("INVALID_ARGUMENT: allowed_ips:", err)
            code, err = ctl.vswctl_fail("port", "set", a.port, "--allowed-mac", "01:00:5e:0:0:1")
            self.assertIn("INVALID_ARGUMENT: allowed_macs:", err)


if __name__ == "__main__":
    controld_env.main()
