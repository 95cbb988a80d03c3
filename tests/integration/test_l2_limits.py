# vsw-memory-modes: nohuge
"""MAC learn limits under a flood of source MACs, while other hosts keep talking.

Bridge br0 with three tap ports: pA (namespace with no address: only the test's frames come
from it), pB and pC (10.207.0.2 and .3, pinging each other 50 times a second all along).

- `vswctl port set pA --mac-limit 1000`, then 10,000 frames from pA, each from another random
  locally administered unicast MAC, to an unknown unicast MAC (so each is flooded to pB and
  pC too). Sent in bursts on a raw socket (Scapy-made layout, built with struct for speed),
  each burst waited for in pA's rx counter: every frame is accounted for, and the flood is
  spread over 40 steps the ping overlaps.
  Then exactly: pA holds 1,000 MACs, counted 9,000 learn limit drops (every other source
  once), the bridge holds 1,002 (pB and pC too), under its limit, and no learn report was
  lost.
- The bridge's own limit: `bridge set br0 --mac-limit 1500`, pA's limit lifted (0), 2,000
  more new sources: the bridge stops at exactly 1,500 MACs and counts the rest (1,502) as
  its learn limit drops; pA's drops stay as they were.
- Throughout, the pB-pC ping loses nothing: their MACs were learned before the flood, the
  limits never evict a learned MAC, and the flood (paced) never fills a queue. Justified
  loss: none, so none is accepted.

The seed of the random MACs is printed; VSW_SEED=N replays it.
"""

from __future__ import annotations

import os
import random
import time

import l2_env
import vswtest
from controld_env import PingRun
from l2_env import L2Env
from vswtest import wait_until

SUBNET = "10.207.0"
PORT_LIMIT = 1000
FLOOD = 10_000
BRIDGE_LIMIT = 1500
MORE = 2000
BURST = 250            # frames per burst, each waited for in pA's rx counter
BURST_TIMEOUT = 30.0   # for one burst to be received by the switch
FLOOD_DST = "02:00:5e:00:00:01"   # never sends: unknown, so every frame is flooded
PING_INTERVAL = 0.02
MIN_REPLIES_DURING_FLOOD = 5   # the first flood takes >= 40 bursts, each waited for


class L2LimitsTest(vswtest.TestCase):

    def test_learn_limits_under_flood(self):
        seed = int(os.environ.get("VSW_SEED") or random.SystemRandom().randrange(1 << 32))
        print(f"VSW_SEED={seed}", flush=True)
        vswtest.log(f"VSW_SEED={seed}")
        rng = random.Random(seed)
        with L2Env() as env:
            ctl = env.switch()
            pa = env.tap_host("pA")
            pb = env.tap_host("pB", f"{SUBNET}.2/24")
            pc = env.tap_host("pC", f"{SUBNET}.3/24")
            ctl.vswctl("bridge", "add", "br0")
            for h in (pa, pb, pc):
                ctl.vswctl("bridge", "attach", "br0", h.port)
            p = ctl.vswctl("port", "set", "pA", "--mac-limit", str(PORT_LIMIT))
            self.assertEqual(p["spec"]["mac_limit"], PORT_LIMIT, p)
            self.assertEqual(ctl.port("pA")["state"]["mac_limit"], PORT_LIMIT)
            raw = env.raw(pa)

            ping = PingRun(pb.ns, pc.ip, interval=PING_INTERVAL)
            wait_until(lambda: ping.reply_count() >= 10, 30, "the pB -> pC ping to be under way")
            table = l2_env.mac_table(ctl, "br0")
            self.assertEqual({m: e["port"] for m, e in table.items()},
                             {pb.mac: "pB", pc.mac: "pC"})

            def flood(macs: list[str]) -> float:
                """Sends one frame from each MAC out of pA, burst by burst, each burst waited
                for in pA's rx counter. Returns the seconds it took."""
                started = time.monotonic()
                frames = l2_env.raw_marker_frames(macs, FLOOD_DST)
                rx = l2_env.counter(ctl.port("pA")["state"], "rx_packets")
                for i in range(0, len(frames), BURST):
                    rx += raw.send_all(frames[i:i + BURST])
                    wait_until(lambda: l2_env.counter(ctl.port("pA")["state"], "rx_packets")
                               >= rx, BURST_TIMEOUT, f"pA to receive burst {i // BURST}",
                               interval=0.01,
                               state=lambda: ctl.port("pA")["state"]["counters"])
                got = l2_env.counter(ctl.port("pA")["state"], "rx_packets")
                self.assertEqual(got, rx, "pA received frames nobody sent")
                return time.monotonic() - started

            def learn_state():
                a = ctl.port("pA")["state"]
                b = l2_env.bridge_state(ctl, "br0")
                return {"pA.macs": a["macs"], "pA.drops": int(a["learn_limit_drops"]),
                        "br0.macs": b["macs"], "br0.drops": int(b["learn_limit_drops"]),
                        "br0.learned": int(b["learned"])}

            # --- the port's limit
            first = l2_env.random_macs(FLOOD, rng, exclude=(pa.mac, pb.mac, pc.mac, FLOOD_DST))
            replies = ping.reply_count()
            took = flood(first)
            during = ping.reply_count() - replies
            vswtest.log(f"{FLOOD} sources sent from pA in {took:.1f} s; {during} ping replies "
                        "meanwhile")
            self.assertGreaterEqual(during, MIN_REPLIES_DURING_FLOOD, "the ping stalled")
            want = {"pA.macs": PORT_LIMIT, "pA.drops": FLOOD - PORT_LIMIT,
                    "br0.macs": PORT_LIMIT + 2, "br0.drops": 0, "br0.learned": PORT_LIMIT + 2}
            wait_until(lambda: learn_state() == want, l2_env.TABLE_TIMEOUT,
                       f"the learn counters to be {want}", state=learn_state)
            br = ctl.vswctl("bridge", "show", "br0")
            self.assertLessEqual(br["state"]["macs"], br["spec"]["mac_limit"], br)
            table = l2_env.mac_table(ctl, "br0")
            self.assertEqual(len(table), PORT_LIMIT + 2)
            on_pa = {m for m, e in table.items() if e["port"] == "pA"}
            self.assertEqual(len(on_pa), PORT_LIMIT)
            self.assertLessEqual(on_pa, set(first), "pA holds MACs it never sent")
            self.assertEqual((table[pb.mac]["port"], table[pc.mac]["port"]), ("pB", "pC"))
            replies = ping.reply_count()
            wait_until(lambda: ping.reply_count() >= replies + 10, 30,
                       "the ping to go on after the flood")

            # --- the bridge's limit
            b = ctl.vswctl("bridge", "set", "br0", "--mac-limit", str(BRIDGE_LIMIT))
            self.assertEqual(b["spec"]["mac_limit"], BRIDGE_LIMIT, b)
            p = ctl.vswctl("port", "set", "pA", "--mac-limit", "0")
            self.assertEqual(p["spec"]["mac_limit"], 0, p)
            more = l2_env.random_macs(MORE, rng, exclude=set(first) | {pa.mac, pb.mac, pc.mac,
                                                                       FLOOD_DST})
            replies = ping.reply_count()
            took = flood(more)
            vswtest.log(f"{MORE} more sources sent from pA in {took:.1f} s; "
                        f"{ping.reply_count() - replies} ping replies meanwhile")
            over = PORT_LIMIT + 2 + MORE - BRIDGE_LIMIT
            want = {"pA.macs": BRIDGE_LIMIT - 2, "pA.drops": FLOOD - PORT_LIMIT,
                    "br0.macs": BRIDGE_LIMIT, "br0.drops": over, "br0.learned": BRIDGE_LIMIT}
            wait_until(lambda: learn_state() == want, l2_env.TABLE_TIMEOUT,
                       f"the learn counters to be {want}", state=learn_state)
            table = l2_env.mac_table(ctl, "br0")
            self.assertEqual(len(table), BRIDGE_LIMIT)
            self.assertEqual((table[pb.mac]["port"], table[pc.mac]["port"]), ("pB", "pC"))

            replies = ping.reply_count()
            wait_until(lambda: ping.reply_count() >= replies + 10, 30,
                       "the ping to go on after the second flood")
            sent, received = ping.stop()
            missing = ping.missing()
            vswtest.log(f"ping pB -> pC through both floods: {received}/{sent}, lost {missing}")
            self.assertEqual(missing, [], "the pB -> pC ping lost replies during the floods")

            # Every frame was flooded to pB and pC, and none was lost on the way.
            for h in (pb, pc):
                s = ctl.port(h.port)["state"]
                self.assertEqual(l2_env.counter(s, "drop_tx_full"), 0, s)
            a = ctl.port("pA")["state"]
            self.assertEqual((l2_env.counter(a, "drop_no_mbufs"), l2_env.counter(a, "flooded")),
                             (0, FLOOD + MORE), a)
            env.dp.assert_alive()


if __name__ == "__main__":
    l2_env.main()
