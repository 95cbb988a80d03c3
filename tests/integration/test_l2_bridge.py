# vsw-memory-modes: nohuge
"""A learning bridge of four tap ports, the Linux kernel in four namespaces as the hosts.

Everything through the operator path (vswctl -> vsw-controld -> vsw-dataplane). Each tap
port's kernel interface sits in a namespace of its own, 10.204.0.1-4/24 (addresses only inside
the namespaces, IPv6 off so no router solicitation or MLD report refreshes the MAC table).

- every pair pings, both directions; ARP resolved everywhere (`ip neigh`: the others' MACs,
  REACHABLE or STALE);
- `vswctl --json mac list br0`: exactly the four interfaces' MACs, each behind its own port,
  learned, untagged;
- `vswctl flow stats`: repeated pings are flow cache hits, and `flow list` shows the flow;
- a broadcast from one namespace reaches the three others once each and never comes back out
  of its ingress port (a barrier proves the absence, see l2_env.Barrier);
- with `bridge set br0 --aging 2` the MACs of two quiet namespaces age out of the table,
  while those of a pair that keeps pinging (flow cache hits) stay; once quiet they go too, the
  bridge counts them as aged, and traffic afterwards floods, is learned again and works.

L2 behaviour does not depend on DPDK's memory mode: one mode is enough.
"""

from __future__ import annotations

import itertools
import time

import l2_env
import vswtest
from controld_env import PingRun
from l2_env import BROADCAST, Barrier, L2Env, assert_absent, has_token, marker_frame, token
from vswtest import parse_ping, wait_until

SUBNET = "10.204.0"
AGING = 2                 # seconds, the shortest the API accepts is 1
AGING_TIMEOUT = 45.0      # aging + the 1 s aging timer + ARP confirmation traffic settling
NEIGH_TIMEOUT = 30.0      # DELAY (5 s) -> PROBE -> REACHABLE
RESOLVED = {"REACHABLE", "STALE"}


class L2BridgeTest(vswtest.TestCase):

    def test_learning_bridge(self):
        with L2Env() as env:
            ctl = env.switch()
            hosts = [env.tap_host(f"p{i}", f"{SUBNET}.{i + 1}/24") for i in range(4)]
            br = ctl.vswctl("bridge", "add", "br0")
            self.assertEqual(br["spec"]["aging_seconds"], 300, br)
            for h in hosts:
                a = ctl.vswctl("bridge", "attach", "br0", h.port)
                self.assertTrue(a["programmed"], a)
            self.assertEqual(len({h.mac for h in hosts}), 4, hosts)

            # --- every pair pings, both directions
            for a, b in itertools.permutations(hosts, 2):
                r = a.ping(b, count=2, interval=0.1)
                self.assertEqual(parse_ping(r.stdout)[1], 2,
                                 f"ping {a.port} -> {b.port}: {r.stdout}{r.stderr}")

            # --- the MAC table: the four interfaces, each behind its own port
            table = l2_env.mac_table(ctl, "br0")
            self.assertEqual(set(table), {h.mac for h in hosts}, table)
            for h in hosts:
                m = table[h.mac]
                self.assertEqual((m["bridge"], m["port"], m["vlan"], m["is_static"]),
                                 ("br0", h.port, 0, False), m)
            state = l2_env.bridge_state(ctl, "br0")
            self.assertEqual((state["macs"], int(state["learned"]), int(state["moves"])),
                             (4, 4, 0), state)
            for h in hosts:
                self.assertEqual(ctl.port(h.port)["state"]["macs"], 1, h.port)

            # --- repeated pings are flow cache hits
            before = l2_env.flow_totals(ctl)
            count = 10
            r = hosts[0].ping(hosts[1], count=count, interval=0.05)
            self.assertEqual(parse_ping(r.stdout)[1], count, r.stdout)
            after = l2_env.flow_totals(ctl)
            hits = after["hits"] - before["hits"]
            vswtest.log(f"flow cache over {count} pings: {hits} hits, "
                        f"{after['misses'] - before['misses']} misses")
            # 2 * count frames (requests and replies), each a flow the earlier pings cached.
            self.assertGreaterEqual(hits, 2 * count, (before, after))
            flows = ctl.vswctl("flow", "list").get("flows", [])
            mine = [f for f in flows if f["in_port"] == hosts[0].port
                    and f["dst_mac"] == hosts[1].mac and f["ethertype"] == 0x0800]
            self.assertTrue(mine, flows)
            self.assertEqual((mine[0]["out_port"], mine[0]["stale"], mine[0]["src_ip"],
                              mine[0]["dst_ip"], mine[0]["protocol"]),
                             (hosts[1].port, False, hosts[0].ip, hosts[1].ip, 1), mine)
            # A huge --max is clamped to what the caches hold (it once sized an allocation:
            # bad_alloc killed the dataplane).
            huge = ctl.vswctl("flow", "list", "--max", "4000000000").get("flows", [])
            self.assertGreaterEqual(len(huge), len(mine))
            ctl.vswctl("flow", "stats")  # the dataplane still answers

            # --- a broadcast reaches the three others, and never comes back to its sender
            raws = [env.raw(h) for h in hosts]
            flooded = [int(ctl.port(h.port)["state"]["counters"]["flooded"]) for h in hosts]
            tok = token("bcast")
            raws[0].send(marker_frame(hosts[0].mac, BROADCAST, tok))
            for raw in raws[1:]:
                got = raw.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT,
                                        f"the broadcast from {hosts[0].port}")
                self.assertEqual(got[0].dst, BROADCAST)
                self.assertEqual(got[0].src, hosts[0].mac)
                self.assertIsNone(got[0].vlan)
            # Anything p0 was sent of it is there once a later broadcast (from p1) arrived.
            Barrier(raws[1], hosts[1].mac).cross([raws[0]])
            assert_absent([raws[0]], has_token(tok), "the broadcast came back to its sender")
            # ... and the three others got it exactly once.
            Barrier(raws[0], hosts[0].mac).cross(raws[1:])
            for raw in raws[1:]:
                self.assertEqual(len(raw.incoming(has_token(tok))), 1, raw.frames)
            self.assertEqual(int(ctl.port("p0")["state"]["counters"]["flooded"]),
                             flooded[0] + 2, "p0 flooded the broadcast and the barrier")

            # --- ARP resolved in every namespace: the others' MACs
            def neighbours_resolved():
                problems = []
                for h in hosts:
                    seen = h.neighbours()
                    for o in hosts:
                        if o is h:
                            continue
                        n = seen.get(o.ip)
                        if (n is None or n.get("lladdr") != o.mac
                                or not set(n.get("state", [])) & RESOLVED):
                            problems.append((h.port, o.ip, o.mac, n))
                return problems
            # Replying with a STALE entry puts it in DELAY: 5 s later the kernel confirms it
            # (PROBE, unicast ARP) and it is REACHABLE. Waiting for that also means no probe
            # is pending when the namespaces must be quiet for aging.
            wait_until(lambda: not neighbours_resolved(), NEIGH_TIMEOUT,
                       "every namespace's neighbours to be resolved (REACHABLE/STALE) with the"
                       " right MACs", interval=0.5, state=neighbours_resolved)

            # --- aging: quiet MACs leave the table, MACs in use (flow cache hits) stay
            aged_before = int(l2_env.bridge_state(ctl, "br0")["aged"])
            ping = PingRun(hosts[2].ns, hosts[3].ip, interval=0.1)
            wait_until(lambda: ping.reply_count() >= 5, 30, "ping p2 -> p3 under way")
            b = ctl.vswctl("bridge", "set", "br0", "--aging", str(AGING))
            self.assertEqual(b["spec"]["aging_seconds"], AGING, b)
            started = time.monotonic()
            quiet, busy = {h.mac for h in hosts[:2]}, {h.mac for h in hosts[2:]}
            wait_until(lambda: not quiet & set(l2_env.mac_table(ctl, "br0")), AGING_TIMEOUT,
                       "the quiet namespaces' MACs to age out", interval=0.25,
                       state=lambda: l2_env.mac_table(ctl, "br0"))
            aged_at = time.monotonic()
            vswtest.log(f"p0, p1 aged out {aged_at - started:.1f} s after aging was set to "
                        f"{AGING} s")
            # The pinging pair's MACs are refreshed by their flow cache hits: they stay. Watched
            # for longer than the aging time (a bounded observation window, not a wait).
            polls = 0
            while time.monotonic() < aged_at + AGING + 2:
                table = l2_env.mac_table(ctl, "br0")
                for h in hosts[2:]:
                    m = table.get(h.mac)
                    self.assertIsNotNone(m, f"{h.port}'s MAC aged out while it pinged: {table}")
                    self.assertEqual(m["port"], h.port, m)
                    self.assertLess(m["age_seconds"], AGING, m)
                self.assertFalse(quiet & set(table), table)
                polls += 1
                time.sleep(0.25)
            sent, received = ping.stop()
            self.assertEqual(ping.missing(), [], f"ping p2 -> p3 lost replies ({received}/{sent})")
            self.assertGreater(polls, 4)
            # Once quiet too, they go as well.
            wait_until(lambda: not busy & set(l2_env.mac_table(ctl, "br0")), AGING_TIMEOUT,
                       "the pinging pair's MACs to age out once quiet", interval=0.25,
                       state=lambda: l2_env.mac_table(ctl, "br0"))
            state = l2_env.bridge_state(ctl, "br0")
            self.assertEqual(state["macs"], 0, state)
            self.assertGreaterEqual(int(state["aged"]) - aged_before, 4, state)
            for h in hosts:
                self.assertEqual(ctl.port(h.port)["state"]["macs"], 0, h.port)
            self.assertEqual(ctl.vswctl("bridge", "show", "br0")["spec"]["aging_seconds"], AGING)

            # --- and they are learned again by the next traffic, which works
            r = hosts[2].ping(hosts[3], count=2, interval=0.1)
            self.assertEqual(parse_ping(r.stdout)[1], 2, r.stdout)
            table = l2_env.mac_table(ctl, "br0")
            for h in hosts[2:]:
                self.assertEqual(table.get(h.mac, {}).get("port"), h.port, table)
            env.dp.assert_alive()


if __name__ == "__main__":
    l2_env.main()
