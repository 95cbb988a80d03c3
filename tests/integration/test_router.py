# vsw-memory-modes: nohuge
"""The router: two bridges joined by router interfaces, the Linux kernel as hosts.

Everything through the operator path (vswctl -> vsw-controld -> vsw-dataplane). Namespace A
sits on br0 (10.210.1.2/24, fd10:1::2/64), B and C on br1 (10.210.2.2-3/24, fd10:2::2-3/64);
router interfaces r0 on br0 (.1) and r1 on br1 (.1) are the hosts' default gateways.

- ping across the subnets both ways, IPv4 and IPv6; the very first packet to a host nobody
  has resolved yet is answered (queued while the router resolves the neighbor);
- traceroute from A to B shows the router's hop; the hosts' neighbor tables hold the router
  interfaces' MACs; `vswctl neigh list` holds the hosts; `vswctl flow list` shows routed
  flows; `vswctl route lookup` answers;
- a static route to 10.220.0.0/16 via C (which owns 10.220.0.1 on its loopback) carries
  A's ping; after `route del` the next ping gets no answer;
- ECMP: 10.230.0.0/16 via B and C (both own 10.230.0.1): 400 UDP flows from A spread over
  both (neither under 25%), and each flow stays on one;
- an address in r1's subnet that nobody answers for: pings to it are lost, the router's
  neighbor table has it incomplete and then drops it (bounded), and traffic to B carries on.

Routing does not depend on DPDK's memory mode: one mode is enough.
"""

from __future__ import annotations

import json

import vswtest
from l2_env import L2Env
from vswtest import log, parse_ping, wait_until

V4 = {"r0": "10.210.1.1", "r1": "10.210.2.1"}
V6 = {"r0": "fd10:1::1", "r1": "fd10:2::1"}

UDP_SENDER = r"""
import socket, sys
dst, first, count, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for port in range(first, first + count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    for _ in range(repeat):
        s.sendto(b"ecmp", (dst, 9))
    s.close()
"""


# Counts datagrams to port 9 by source port until 3 s pass without one; prints JSON.
UDP_COUNTER = r"""
import collections, json, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9))
s.settimeout(3)
counts = collections.Counter()
try:
    while True:
        _, (_, sport) = s.recvfrom(64)
        counts[sport] += 1
except socket.timeout:
    pass
print(json.dumps(counts))
"""


class RouterTest(vswtest.TestCase):

    def test_routing_between_bridges(self):
        with L2Env() as env:
            ctl = env.switch()
            for br in ("br0", "br1"):
                ctl.vswctl("bridge", "add", br)
            a = env.tap_host("pa", "10.210.1.2/24", ipv6="fd10:1::2/64")
            b = env.tap_host("pb", "10.210.2.2/24", ipv6="fd10:2::2/64")
            c = env.tap_host("pc", "10.210.2.3/24", ipv6="fd10:2::3/64")
            for h, br in ((a, "br0"), (b, "br1"), (c, "br1")):
                ctl.vswctl("bridge", "attach", br, h.port)
            r0 = ctl.vswctl("router-if", "add", "r0", "--bridge", "br0", "--ip", "10.210.1.1/24",
                            "--ip", "fd10:1::1/64")
            r1 = ctl.vswctl("router-if", "add", "r1", "--bridge", "br1", "--ip", "10.210.2.1/24",
                            "--ip", "fd10:2::1/64")
            for r in (r0, r1):
                self.assertTrue(r["state"]["programmed"], r)
            for h, rif in ((a, "r0"), (b, "r1"), (c, "r1")):
                h.ns.exec(["ip", "route", "add", "default", "via", V4[rif]])
                h.ns.exec(["ip", "-6", "route", "add", "default", "via", V6[rif]])

            # --- the first packet to an unresolved host is delivered (queued, then sent)
            r = a.ns.exec(["ping", "-n", "-c", "1", "-W", "5", "10.210.2.2"], check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 1, r.stdout + r.stderr)

            # --- ping across subnets, both ways, both families
            for src, dst in ((a, "10.210.2.2"), (a, "10.210.2.3"), (b, "10.210.1.2"),
                             (c, "10.210.1.2"), (a, "fd10:2::2"), (b, "fd10:1::2"),
                             (a, V4["r1"]), (b, V6["r0"])):
                r = src.ns.ping(dst, count=3, interval=0.1)
                self.assertEqual(parse_ping(r.stdout)[1], 3, f"{src.port} -> {dst}: {r.stdout}")

            # --- traceroute shows the router's hop
            r = a.ns.exec(["traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", "10.210.2.2"],
                          check=False)
            hops = [line.split()[1] for line in r.stdout.splitlines()[1:] if line.split()]
            self.assertEqual(hops[:2], [V4["r0"], "10.210.2.2"], r.stdout)

            # --- neighbor tables, both sides
            for h, rif, addr in ((a, r0, V4["r0"]), (b, r1, V4["r1"])):
                neigh = json.loads(h.ns.exec(["ip", "-j", "neigh", "show", addr]).stdout)
                self.assertEqual(neigh[0].get("lladdr"), rif["spec"]["mac"], neigh)
            neigh = json.loads(a.ns.exec(["ip", "-j", "-6", "neigh", "show", V6["r0"]]).stdout)
            self.assertEqual(neigh[0].get("lladdr"), r0["spec"]["mac"], neigh)
            table = {n["address"]: n for n in ctl.vswctl("neigh", "list")["neighbors"]}
            for h, addr in ((a, "10.210.1.2"), (b, "10.210.2.2"), (c, "10.210.2.3"),
                            (a, "fd10:1::2"), (b, "fd10:2::2")):
                self.assertIn(addr, table, table)
                self.assertEqual(table[addr]["mac"], h.mac, table[addr])
            flows = ctl.vswctl("flow", "list")["flows"]
            self.assertTrue(any(f["routed"] and f["dst_ip"] == "10.210.2.2" for f in flows),
                            flows)
            lookup = ctl.vswctl("route", "lookup", "10.210.2.3")
            self.assertEqual(lookup["prefix"], "10.210.2.0/24", lookup)
            self.assertEqual(lookup["next_hops"][0]["router_interface"], "r1", lookup)

            # --- a static route through C; route del stops it on the next packet
            # No dummy interfaces in this kernel: the loopback holds the address.
            c.ns.exec(["ip", "addr", "add", "10.220.0.1/32", "dev", "lo"])
            ctl.vswctl("route", "add", "10.220.0.0/16", "--via", "10.210.2.3")
            lookup = ctl.vswctl("route", "lookup", "10.220.5.5")
            self.assertEqual([nh["via"] for nh in lookup["next_hops"]], ["10.210.2.3"], lookup)
            r = a.ns.ping("10.220.0.1", count=3, interval=0.1)
            self.assertEqual(parse_ping(r.stdout)[1], 3, r.stdout)
            ctl.vswctl("route", "del", "10.220.0.0/16")
            r = a.ns.exec(["ping", "-n", "-c", "1", "-W", "2", "10.220.0.1"], check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)
            self.assertEqual(ctl.vswctl("route", "lookup", "10.220.5.5").get("prefix", ""), "")

            # --- ECMP over B and C
            for h in (b, c):
                h.ns.exec(["ip", "addr", "add", "10.230.0.1/32", "dev", "lo"])
            route = ctl.vswctl("route", "add", "10.230.0.0/16", "--via", "10.210.2.2", "--via",
                               "10.210.2.3")
            self.assertEqual(len(route["spec"]["via"]), 2)
            # B and C count the datagrams they get, by source port (a flow here).
            receivers = {h.port: h.ns.popen(["/usr/bin/python3", "-c", UDP_COUNTER])
                         for h in (b, c)}
            for h in (b, c):  # a datagram before the bind would simply be lost
                wait_until(lambda: h.ns.exec(["ss", "-Huln", "sport = :9"]).stdout.strip(), 30,
                           f"the UDP counter in {h.port}'s namespace to bind")
            flows = 400
            a.ns.exec(["/usr/bin/python3", "-c", UDP_SENDER, "10.230.0.1", "20000", str(flows),
                       "1"], timeout=120)
            # Stickiness: 20 more flows of 10 datagrams each.
            a.ns.exec(["/usr/bin/python3", "-c", UDP_SENDER, "10.230.0.1", "30000", "20", "10"],
                      timeout=120)
            counts = {}
            for port, proc in receivers.items():
                out, _ = proc.communicate(timeout=60)
                counts[port] = {int(k): v for k, v in json.loads(out).items()}
            spread = {p: sum(1 for sport in c if sport < 30000) for p, c in counts.items()}
            log(f"ECMP: {flows} flows -> {spread}")
            self.assertEqual(sum(spread.values()), flows, spread)
            self.assertGreaterEqual(min(spread.values()), flows // 4, spread)
            for sport in range(30000, 30020):
                where = {p: c.get(sport, 0) for p, c in counts.items()}
                self.assertIn(sorted(where.values()), ([0, 10],), f"flow {sport}: {where}")

            # --- a host that never answers: lost, bounded, and B still reachable
            r = a.ns.exec(["ping", "-n", "-c", "20", "-i", "0.05", "-W", "1", "10.210.2.99"],
                          check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)
            r = a.ns.ping("10.210.2.2", count=3, interval=0.1)
            self.assertEqual(parse_ping(r.stdout)[1], 3, r.stdout)


if __name__ == "__main__":
    import l2_env
    l2_env.main()
