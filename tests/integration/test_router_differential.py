# vsw-memory-modes: nohuge
"""The dataplane's FIB against Linux's: the same random tables in both, the same answers.

10,000 IPv4 and 2,000 IPv6 random prefixes (nested on purpose: drawn under a few bases, all
lengths), each via a random gateway on one subnet, go into a namespace's kernel table (a tap
interface holds the subnet; `ip -batch`) and into the dataplane (`vsw-dpctl route
load`, the same gateways on a router interface with the same subnet). A default route in
both makes every destination match something. For 100,000 random destinations (a third of
them inside installed prefixes) the next hop the dataplane's workers' table gives (a
RouteLookupRequest on the dataplane socket, pipelined) must equal `ip route get`'s: the
same gateway, or both "connected".

VSW_SEED replays a run (the seed is logged).
"""

import ipaddress
import os
import random

import vswtest
from vswtest import log

V4_ROUTES = 10_000
V6_ROUTES = 2_000
DESTINATIONS = 100_000
SUBNET4 = ipaddress.ip_network("10.99.0.0/16")
SUBNET6 = ipaddress.ip_network("2001:db8:99::/64")
# Kept out of the random tables and destinations: what the kernel treats specially (local,
# multicast, loopback, link-local, "this network") has no counterpart in a FIB lookup.
EXCLUDED4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3",
                                               "10.99.0.0/16")]
EXCLUDED6 = [ipaddress.ip_network(n) for n in ("::/8", "fe80::/10", "ff00::/8",
                                               "2001:db8:99::/64")]


def random_prefix(rng, v6):
    bits = 128 if v6 else 32
    if v6:
        base = rng.choice([0x20010db8, 0x2a000000, 0x24000000, rng.getrandbits(32)])
        value = (base << 96) | rng.getrandbits(96)
        length = rng.choice([rng.randint(8, 32), rng.randint(32, 64), rng.randint(64, 128)])
    else:
        base = rng.choice([10, 100, 172, rng.randint(1, 223)])
        value = (base << 24) | rng.getrandbits(24)
        length = rng.choice([rng.randint(1, 16), rng.randint(16, 24), rng.randint(24, 32)])
    # The family is explicit: ip_network() given an int that fits 32 bits makes an IPv4
    # network, so an IPv6 prefix with all-zero network bits came out as "0.0.0.0/9".
    family = ipaddress.IPv6Network if v6 else ipaddress.IPv4Network
    return family((value >> (bits - length) << (bits - length), length))


def usable(net, excluded):
    return not any(net.overlaps(x) for x in excluded)


def address_in(rng, net):
    host_bits = net.max_prefixlen - net.prefixlen
    return net.network_address + (rng.getrandbits(host_bits) if host_bits else 0)


def parse_route_get(line):
    """'DST via GW dev ...' -> GW; 'DST dev d0 ...' -> 'connected'."""
    words = line.split()
    return words[words.index("via") + 1] if "via" in words else "connected"


class RouterDifferentialTest(vswtest.TestCase):

    def test_same_next_hop_as_linux(self):
        seed = int(os.environ.get("VSW_SEED", random.randrange(1 << 30)))
        log(f"seed {seed} (VSW_SEED={seed} replays this run)")
        rng = random.Random(seed)
        with vswtest.Env() as env:
            dp = env.dataplane()
            dp.dpctl("bridge", "add", "br0")
            dp.dpctl("router-if", "add", "r0", "--bridge", "br0", "--ip", "10.99.0.1/16",
                     "--ip", "2001:db8:99::1/64")
            # The kernel's subnet sits on a tap port's interface (no dummy module here; the
            # port's open fd keeps the carrier up). The port is attached to nothing.
            ns = env.netns()
            iface = env.iface_name()
            dp.port_add("k", "tap", iface=iface)
            ns.adopt(iface, "10.99.0.1/16")
            for key in ("all", "default", iface):
                ns.exec(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=0"])
            ns.exec(["ip", "addr", "add", "2001:db8:99::1/64", "dev", iface, "nodad"])

            routes = {}  # network -> gateway
            for v6, count, excluded in ((False, V4_ROUTES, EXCLUDED4), (True, V6_ROUTES,
                                                                       EXCLUDED6)):
                added = 0
                while added < count:
                    net = random_prefix(rng, v6)
                    if net in routes or not usable(net, excluded):
                        continue
                    subnet = SUBNET6 if v6 else SUBNET4
                    routes[net] = str(subnet.network_address + rng.randint(2, 250))
                    added += 1
            routes[ipaddress.ip_network("0.0.0.0/0")] = "10.99.0.254"
            routes[ipaddress.ip_network("::/0")] = "2001:db8:99::fe"

            lines = [f"route add {net} via {gw}" for net, gw in routes.items()]
            batch = env.workdir / "kernel-routes"
            batch.write_text("\n".join(lines) + "\n")
            ns.exec(["ip", "-batch", str(batch)], timeout=120)
            table = env.workdir / "dataplane-routes"
            table.write_text("".join(f"{net} {gw}\n" for net, gw in routes.items()))
            loaded = dp.dpctl("route", "load", str(table))
            self.assertEqual(loaded["applied"], len(routes))
            listed = dp.dpctl("route", "list")["routes"]
            self.assertEqual(int(listed["ipv4_routes"]), V4_ROUTES + 2)  # + default, connected
            self.assertEqual(int(listed["ipv6_routes"]), V6_ROUTES + 2)

            # Destinations: a third inside installed prefixes, the rest anywhere usable.
            nets = list(routes)
            dsts = []
            while len(dsts) < DESTINATIONS:
                if len(dsts) % 3 == 0:
                    addr = address_in(rng, rng.choice(nets))
                elif len(dsts) % 50 == 1:  # on the connected subnets
                    addr = address_in(rng, SUBNET4 if rng.random() < 0.5 else SUBNET6)
                    if addr in (SUBNET4.network_address + 1, SUBNET6.network_address + 1,
                                SUBNET4.broadcast_address):
                        continue
                    dsts.append(addr)
                    continue
                elif rng.random() < 0.8:
                    addr = ipaddress.IPv4Address(rng.getrandbits(32))
                else:
                    addr = ipaddress.IPv6Address(rng.getrandbits(128))
                excluded = EXCLUDED6 if addr.version == 6 else EXCLUDED4
                if any(addr in x for x in excluded):
                    continue
                dsts.append(addr)

            queries = env.workdir / "kernel-queries"
            queries.write_text("".join(f"route get {d}\n" for d in dsts))
            out = ns.exec(["ip", "-batch", str(queries)], timeout=300).stdout
            kernel = [parse_route_get(line) for line in out.splitlines()
                      if line and not line[0].isspace()]
            self.assertEqual(len(kernel), len(dsts))

            pb2 = vswtest.load_dataplane_proto(env.workdir)
            client = env.mgmt_client(dp, pb2)
            ours = []
            for start in range(0, len(dsts), 1000):
                chunk = dsts[start:start + 1000]
                data = b""
                for i, d in enumerate(chunk):
                    req = pb2.Request(id=start + i + 1)
                    req.route_lookup.address = str(d)
                    data += client.frame(req.SerializeToString())
                client.sock.sendall(data)
                for i in range(len(chunk)):
                    r = pb2.Response.FromString(client.recv_frame())
                    self.assertEqual(r.id, start + i + 1)
                    hops = r.route_lookup.next_hops
                    self.assertTrue(r.route_lookup.found, f"{chunk[i]}: no route")
                    ours.append(hops[0].via if hops[0].via else "connected")

            wrong = [(str(d), k, o) for d, k, o in zip(dsts, kernel, ours) if k != o]
            defaults = sum(k in ("10.99.0.254", "2001:db8:99::fe") for k in kernel)
            connected = sum(k == "connected" for k in kernel)
            log(f"{len(dsts)} destinations, {len(wrong)} differ; {defaults} took the default "
                f"route, {connected} a connected one")
            self.assertLess(defaults, len(dsts) * 3 // 4, "too few destinations matched a route")
            self.assertGreater(connected, 0)
            self.assertEqual(wrong[:10], [], f"{len(wrong)} destinations differ (seed {seed})")


if __name__ == "__main__":
    vswtest.main()
