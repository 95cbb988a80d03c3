# vsw-memory-modes: nohuge
"""The router against the Linux kernel: three namespaces on two bridges, driven through the
dataplane socket (vsw-dpctl; the vswctl/controld side of routing comes later).

    A (10.211.1.10, 2001:db8:211:1::10) -- br1 [r1 .1.1 / ::1] -- router
    B (10.211.2.20, 2001:db8:211:2::20) -- br2 [r2 .2.1 / ::1] -- C (10.211.2.30, also
                                                                     10.211.9.1 behind it)

- ping across the subnets both ways, both families; ping the router's far address;
- `traceroute` from A to B shows the router hop (10.211.1.1) and then B;
- the hosts' neighbor tables hold the router MAC; `vsw-dpctl neigh list` holds the hosts;
- a static route 10.211.9.0/24 via C (C answers for 10.211.9.1 on its loopback): A reaches
  it; after `route del` the next ping gets "network unreachable" from the router.

Routing does not depend on DPDK's memory mode: one mode is enough.
"""

import json

import vswtest
from vswtest import log, parse_ping, wait_until


def enable_ipv6(ns: vswtest.Netns, iface: str) -> None:
    # The harness disables IPv6 in its namespaces; this test wants it on its interface only.
    for key in ("all", "default", iface):
        ns.exec(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=0"])


class Host:
    def __init__(self, env, dp, port, bridge, v4, v6, gw4, gw6, ipv6=True):
        self.port, self.v4, self.v6 = port, v4, v6
        self.iface = env.iface_name()
        dp.port_add(port, "tap", iface=self.iface)
        self.ns = env.netns()
        self.ns.adopt(self.iface, f"{v4}/24")
        self.ns.exec(["ip", "route", "add", "default", "via", gw4])
        if ipv6:
            enable_ipv6(self.ns, self.iface)
            self.ns.exec(["ip", "-6", "addr", "add", f"{v6}/64", "dev", self.iface, "nodad"])
            self.ns.exec(["ip", "-6", "route", "add", "default", "via", gw6])
        dp.dpctl("bridge", "attach", bridge, port)

    def ping_ok(self, address: str, count: int = 3) -> None:
        r = self.ns.ping(address, count=count)
        sent, received = parse_ping(r.stdout)
        assert (sent, received) == (count, count), f"ping {address}: {r.stdout}{r.stderr}"

    def neigh(self) -> list:
        return json.loads(self.ns.exec(["ip", "-j", "neigh"]).stdout)


class RouterTest(vswtest.TestCase):

    def test_ping_traceroute_neighbors_and_static_route(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            for br in ("br1", "br2"):
                dp.dpctl("bridge", "add", br)
            dp.dpctl("router-if", "add", "r1", "--bridge", "br1", "--ip", "10.211.1.1/24",
                     "--ip", "2001:db8:211:1::1/64", "--mac", "02:00:00:d3:01:01")
            dp.dpctl("router-if", "add", "r2", "--bridge", "br2", "--ip", "10.211.2.1/24",
                     "--ip", "2001:db8:211:2::1/64", "--mac", "02:00:00:d3:02:01")
            a = Host(env, dp, "pa", "br1", "10.211.1.10", "2001:db8:211:1::10", "10.211.1.1",
                     "2001:db8:211:1::1")
            b = Host(env, dp, "pb", "br2", "10.211.2.20", "2001:db8:211:2::20", "10.211.2.1",
                     "2001:db8:211:2::1")
            c = Host(env, dp, "pc", "br2", "10.211.2.30", "2001:db8:211:2::30", "10.211.2.1",
                     "2001:db8:211:2::1")

            # Across the subnets, both ways, both families; the router's far address.
            a.ping_ok(b.v4)
            b.ping_ok(a.v4)
            a.ping_ok("10.211.2.1")
            a.ping_ok(b.v6)
            b.ping_ok(a.v6)
            c.ping_ok(a.v6)

            # traceroute: the router hop, then B.
            r = a.ns.exec(["traceroute", "-n", "-q", "1", "-w", "2", "-m", "4", b.v4],
                          timeout=60)
            hops = [line.split()[1] for line in r.stdout.splitlines()[1:] if line.split()]
            self.assertEqual(hops[:2], ["10.211.1.1", b.v4], r.stdout)

            # The hosts know the router's MAC; the router knows the hosts.
            for host, gw, mac in ((a, "10.211.1.1", "02:00:00:d3:01:01"),
                                  (b, "10.211.2.1", "02:00:00:d3:02:01")):
                entries = {n["dst"]: n.get("lladdr") for n in host.neigh()}
                self.assertEqual(entries.get(gw), mac, entries)
            listed = {(n["ip"], n.get("mac", "")) for n in
                      dp.dpctl("neigh", "list")["neighbors"].get("neighbors", [])}
            for host in (a, b):
                mac = json.loads(host.ns.exec(["ip", "-j", "link", "show", host.iface]).stdout)[0]
                self.assertIn((host.v4, mac["address"]), listed)
                self.assertIn((host.v6, mac["address"]), listed)

            # A prefix behind C: C routes for it (its loopback holds 10.211.9.1).
            c.ns.exec(["ip", "addr", "add", "10.211.9.1/32", "dev", "lo"])
            dp.dpctl("route", "add", "10.211.9.0/24", "--via", c.v4)
            looked = dp.dpctl("route", "lookup", "10.211.9.1")["route_lookup"]
            self.assertEqual(looked["prefix"], "10.211.9.0/24")
            self.assertEqual(looked["next_hops"][0]["via"], c.v4)
            a.ping_ok("10.211.9.1")
            dp.dpctl("route", "del", "10.211.9.0/24")
            r = a.ns.ping("10.211.9.1", count=1)
            self.assertNotEqual(r.returncode, 0)
            # ping -q counts the router's ICMP unreachable as an error instead of printing it.
            self.assertIn("+1 errors", r.stdout, r.stdout)

            stats = dp.dpctl("router", "stats")["router_stats"]
            self.assertGreater(int(stats["routed"]), 0, stats)
            self.assertGreaterEqual(int(stats["icmp_errors"]), 2, stats)  # traceroute, unreachable
            self.assertEqual(int(stats["bad_header"]), 0, stats)

    def test_ecmp_spreads_flows_over_two_next_hop_routers(self):
        """C and D both hold 10.212.8.1 (on their loopbacks); 10.212.8.0/24 goes via both.
        400 UDP flows from A (one datagram each, distinct source ports): each of C and D
        receives at least a quarter of them; then the same flows again, and each router gets
        as many as the first time (each flow stuck to its path). IPv6 stays off here: its
        multicast chatter would blur the receive counters."""
        with vswtest.Env() as env:
            dp = env.dataplane()
            for br in ("br1", "br2"):
                dp.dpctl("bridge", "add", br)
            dp.dpctl("router-if", "add", "r1", "--bridge", "br1", "--ip", "10.212.1.1/24",
                     "--ip", "2001:db8:212:1::1/64")
            dp.dpctl("router-if", "add", "r2", "--bridge", "br2", "--ip", "10.212.2.1/24",
                     "--ip", "2001:db8:212:2::1/64")
            a = Host(env, dp, "pa", "br1", "10.212.1.10", "2001:db8:212:1::10", "10.212.1.1",
                     "2001:db8:212:1::1", ipv6=False)
            c = Host(env, dp, "pc", "br2", "10.212.2.30", "2001:db8:212:2::30", "10.212.2.1",
                     "2001:db8:212:2::1", ipv6=False)
            d = Host(env, dp, "pd", "br2", "10.212.2.40", "2001:db8:212:2::40", "10.212.2.1",
                     "2001:db8:212:2::1", ipv6=False)
            for h in (c, d):
                h.ns.exec(["ip", "addr", "add", "10.212.8.1/32", "dev", "lo"])
            dp.dpctl("route", "add", "10.212.8.0/24", "--via", c.v4, "--via", d.v4)
            a.ping_ok(c.v4, count=1)  # everyone resolved: no flow waits for ARP
            a.ping_ok(d.v4, count=1)

            def rx():
                return [h.ns.link_stats(h.iface)["rx"]["packets"] for h in (c, d)]

            send = ("import socket\n"
                    "for port in range(20000, 20400):\n"
                    "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "    s.bind(('10.212.1.10', port))\n"
                    "    s.sendto(b'x', ('10.212.8.1', 9))\n"
                    "    s.close()\n")
            counts = []
            for _ in range(2):
                before = rx()
                a.ns.exec(["/usr/bin/python3", "-c", send])
                wait_until(lambda: sum(rx()) - sum(before) >= 400, 10, "400 datagrams at C and D",
                           state=rx)
                counts.append([now - was for now, was in zip(rx(), before)])
            log(f"ECMP: C and D received {counts[0]}, then {counts[1]}")
            for n in counts[0]:
                self.assertGreaterEqual(n, 100, counts)
            # Stray frames (ARP refreshes) may add one or two; a re-hash would move ~100.
            for first, second in zip(*counts):
                self.assertLessEqual(abs(first - second), 3, counts)

    def test_unresolved_host_queues_then_delivers_and_a_silent_one_is_bounded(self):
        """B does not answer ARP (`arp off`): A's pings to it wait in the router's queue (at
        most 16), the rest are dropped and counted, and after three unanswered requests the
        neighbor and its queue are gone (counted). With ARP back on, the first ping waits for
        the answer and is delivered: no loss."""
        with vswtest.Env() as env:
            dp = env.dataplane()
            for br in ("br1", "br2"):
                dp.dpctl("bridge", "add", br)
            dp.dpctl("router-if", "add", "r1", "--bridge", "br1", "--ip", "10.213.1.1/24")
            dp.dpctl("router-if", "add", "r2", "--bridge", "br2", "--ip", "10.213.2.1/24")
            a = Host(env, dp, "pa", "br1", "10.213.1.10", "", "10.213.1.1", "", ipv6=False)
            b = Host(env, dp, "pb", "br2", "10.213.2.20", "", "10.213.2.1", "", ipv6=False)
            b.ns.exec(["ip", "link", "set", "dev", b.iface, "arp", "off"])

            def neighbors():
                return dp.dpctl("neigh", "list")["neighbors"]

            def entry(ip):
                return next((n for n in neighbors().get("neighbors", []) if n["ip"] == ip), None)

            r = a.ns.exec(["ping", "-n", "-q", "-c", "40", "-i", "0.01", "-W", "1", b.v4],
                          timeout=30, check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)
            wait_until(lambda: entry(b.v4) is None, 10, "the silent neighbor to be dropped",
                       state=neighbors)
            c = neighbors()["counters"]
            self.assertGreaterEqual(int(c["failed"]), 1, c)
            # 40 pings: at most 16 waited (and timed out), the rest overflowed the queue.
            self.assertGreaterEqual(int(c["pending_overflow"]), 40 - 16 * int(c["failed"]), c)
            self.assertGreaterEqual(int(c["pending_timeout"]), 1, c)
            self.assertEqual(int(c["pending_overflow"]) + int(c["pending_timeout"]), 40, c)

            b.ns.exec(["ip", "link", "set", "dev", b.iface, "arp", "on"])
            b.ns.exec(["ip", "neigh", "flush", "all"])
            a.ping_ok(b.v4, count=1)  # waited for the ARP answer, then delivered
            self.assertEqual(entry(b.v4)["state"], "reachable")


if __name__ == "__main__":
    vswtest.main()
