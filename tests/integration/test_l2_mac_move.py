# vsw-memory-modes: nohuge
"""MAC moves, and forgetting MACs (`mac del`, `mac flush`), seen from the hosts.

Three tap ports p1, p2, p3 of bridge br0, their kernel interfaces in namespaces ns1-ns3 with
no address and IPv6 off: the kernels send nothing by themselves, so every frame is one the
test made (Scapy-built, sent and captured on raw AF_PACKET sockets in the namespaces) and the
MAC table holds exactly what the test taught it. M1, M2, M3 are the interfaces' MACs.

- M1 learned behind p1; frames from ns2 to M1 go to ns1 only and are cached (`flow list`).
- ns3 sends a frame with source M1: `mac list` shows M1 behind p3 (a move, counted), the
  cached flow to M1 turns stale, and the very next frame to M1 arrives in ns3 and not in ns1.
  M1 sending from ns1 again moves it back, and traffic follows again.
- a frame whose destination lives behind its own ingress port is dropped (no_destination),
  neither sent back nor flooded.
- `mac del br0 M1` forgets it: the next frame to M1 is flooded (ns1 and ns3 get it) and M1
  stays unknown until it sends; `mac flush br0` and `mac flush` (all bridges) do the same for
  every learned MAC.
- a static MAC (`mac add`) survives the flushes and does not move when its address shows up
  as a source on another port.

Absence ("not in ns1") is proven with a barrier, not a sleep: see l2_env.Barrier.
"""

from __future__ import annotations

import l2_env
import vswtest
from l2_env import (BROADCAST, Barrier, L2Env, assert_absent, has_token, marker_frame, token)
from vswtest import wait_until

STATIC_MAC = "02:00:5e:10:00:99"
OTHER_MAC_P1 = "02:00:5e:10:00:11"   # a second MAC in ns1 (sent only by the test)


class MacMoveTest(vswtest.TestCase):

    def test_move_del_flush(self):
        with L2Env() as env:
            ctl = env.switch()
            h1, h2, h3 = hosts = [env.tap_host(f"p{i}") for i in (1, 2, 3)]
            ctl.vswctl("bridge", "add", "br0")
            for h in hosts:
                ctl.vswctl("bridge", "attach", "br0", h.port)
            r1, r2, r3 = raws = [env.raw(h) for h in hosts]
            m1, m2, m3 = (h.mac for h in hosts)

            def table() -> dict[str, dict]:
                return l2_env.mac_table(ctl, "br0")

            def where(mac: str):
                return table().get(mac, {}).get("port")

            def wait_where(mac: str, port, what: str) -> None:
                wait_until(lambda: where(mac) == port, l2_env.TABLE_TIMEOUT, what,
                           interval=0.02, state=table)

            def learn(raw, mac: str, port: str) -> None:
                """`mac` announces itself from `raw` (a broadcast) and is learned on `port`."""
                raw.send(marker_frame(mac, BROADCAST, token("hello")))
                wait_where(mac, port, f"{mac} to be learned on {port}")

            def unicast(to: str, arrives, not_at, what: str, barrier_from=None):
                """ns2 sends a frame to `to`; it must arrive at each of `arrives` and (proven
                by a barrier broadcast from ns2) at none of `not_at`."""
                tok = token("to-" + to)
                r2.send(marker_frame(m2, to, tok))
                for raw in arrives:
                    got = raw.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, what)
                    self.assertEqual((got[0].src, got[0].dst), (m2, to), got)
                Barrier(r2, m2).cross([r1, r3])
                assert_absent(not_at, has_token(tok), what)
                for raw in arrives:
                    self.assertEqual(len(raw.incoming(has_token(tok))), 1, f"{what}: duplicates")

            def flow_to(mac: str) -> list[dict]:
                return [f for f in ctl.vswctl("flow", "list").get("flows", [])
                        if f["in_port"] == "p2" and f["dst_mac"] == mac
                        and f["ethertype"] == l2_env.ETH_P_EXPERIMENTAL]

            for raw, h in zip(raws, hosts):
                learn(raw, h.mac, h.port)
            self.assertEqual({m: e["port"] for m, e in table().items()},
                             {m1: "p1", m2: "p2", m3: "p3"})

            # --- known unicast: ns1 only; the second frame is a flow cache hit
            unicast(m1, [r1], [r3], "ns2 -> M1 (behind p1)")
            hits = l2_env.flow_totals(ctl)["hits"]
            unicast(m1, [r1], [r3], "ns2 -> M1 again (cached)")
            self.assertGreater(l2_env.flow_totals(ctl)["hits"], hits, "no flow cache hit")
            flows = flow_to(m1)
            self.assertEqual([(f["out_port"], f["stale"]) for f in flows], [("p1", False)], flows)

            # --- M1 shows up behind p3: a move
            moves = int(l2_env.bridge_state(ctl, "br0")["moves"])
            tok = token("move")
            r3.send(marker_frame(m1, m2, tok))  # from ns3, source M1, to M2 (known: ns2 only)
            r2.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, "the frame from M1 in ns3")
            wait_where(m1, "p3", "M1 to move to p3")
            state = l2_env.bridge_state(ctl, "br0")
            self.assertEqual((int(state["moves"]), state["macs"]), (moves + 1, 3), state)
            self.assertEqual([ctl.port(p)["state"]["macs"] for p in ("p1", "p2", "p3")],
                             [0, 1, 2])
            flows = flow_to(m1)
            self.assertEqual([(f["out_port"], f["stale"]) for f in flows], [("p1", True)],
                             f"the cached flow to M1 must be stale after the move: {flows}")
            # The very next frame to M1 follows it.
            stale = l2_env.flow_totals(ctl)["stale"]
            unicast(m1, [r3], [r1], "the first frame to M1 after its move to p3")
            self.assertEqual(l2_env.flow_totals(ctl)["stale"], stale + 1)
            unicast(m1, [r3], [r1], "the second frame to M1 after its move to p3")
            flows = flow_to(m1)
            self.assertEqual([(f["out_port"], f["stale"]) for f in flows], [("p3", False)], flows)

            # --- and back: M1 sends from ns1 again
            learn(r1, m1, "p1")
            self.assertEqual(int(l2_env.bridge_state(ctl, "br0")["moves"]), moves + 2)
            unicast(m1, [r1], [r3], "the first frame to M1 after it moved back to p1")

            # --- a destination behind the ingress port: never sent back out, nor flooded
            learn(r1, OTHER_MAC_P1, "p1")
            before = ctl.port("p1")["state"]
            tok = token("hairpin")
            r1.send(marker_frame(m1, OTHER_MAC_P1, tok))
            wait_until(lambda: l2_env.counter(ctl.port("p1")["state"], "drop_no_destination")
                       == l2_env.counter(before, "drop_no_destination") + 1,
                       l2_env.FRAME_TIMEOUT, "p1 to count the hairpin frame as no_destination")
            Barrier(r1, m1).cross([r2, r3])
            assert_absent([r1, r2, r3], has_token(tok), "a frame to a MAC behind its ingress port")
            self.assertEqual(l2_env.counter(ctl.port("p1")["state"], "flooded"),
                             l2_env.counter(before, "flooded") + 1, "only the barrier flooded")

            # --- mac del: forgotten, so the next frame to it floods; not learned again until
            # M1 sends
            self.assertEqual(ctl.vswctl("mac", "del", "br0", m1), {})
            self.assertNotIn(m1, table())
            flooded = int(ctl.port("p2")["state"]["counters"]["flooded"])
            unicast(m1, [r1, r3], [], "a frame to M1 after mac del (flooded)")
            self.assertEqual(int(ctl.port("p2")["state"]["counters"]["flooded"]),
                             flooded + 2, "the frame to M1 and the barrier were flooded")
            self.assertNotIn(m1, table())
            code, err = ctl.vswctl_fail("mac", "del", "br0", m1)
            self.assertIn("NOT_FOUND", err)
            learn(r1, m1, "p1")
            unicast(m1, [r1], [r3], "a frame to M1 once learned again")

            # --- a static MAC, behind p3
            st = ctl.vswctl("mac", "add", "br0", STATIC_MAC, "p3")
            self.assertEqual((st["mac"], st["port"], st["programmed"]), (STATIC_MAC, "p3", True),
                             st)
            entry = table()[STATIC_MAC]
            self.assertEqual((entry["port"], entry["is_static"]), ("p3", True), entry)

            # --- mac flush br0: every learned MAC goes, the static one stays
            self.assertEqual(ctl.vswctl("mac", "flush", "br0"), {})
            self.assertEqual({m: e["is_static"] for m, e in table().items()},
                             {STATIC_MAC: True})
            self.assertEqual(l2_env.bridge_state(ctl, "br0")["macs"], 1)
            unicast(m1, [r1, r3], [], "a frame to M1 after mac flush br0 (flooded)")
            unicast(m3, [r1, r3], [], "a frame to M3 after mac flush br0 (flooded)")
            unicast(STATIC_MAC, [r3], [r1], "a frame to the static MAC after the flush")

            # --- a static MAC does not move
            tok = token("static-src")
            r1.send(marker_frame(STATIC_MAC, BROADCAST, tok))
            r2.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, "the frame from the static "
                             "MAC sent in ns1")
            self.assertEqual(table()[STATIC_MAC]["port"], "p3")
            unicast(STATIC_MAC, [r3], [r1], "a frame to the static MAC after it was a source "
                    "on p1")

            # --- mac flush (all bridges), as br0's flush
            learn(r1, m1, "p1")
            learn(r3, m3, "p3")
            self.assertEqual(ctl.vswctl("mac", "flush"), {})
            self.assertEqual(set(table()), {STATIC_MAC})
            unicast(m1, [r1, r3], [], "a frame to M1 after mac flush (flooded)")
            # The static MAC goes only with mac del (and then from the desired state too).
            self.assertEqual(ctl.vswctl("mac", "del", "br0", STATIC_MAC), {})
            self.assertNotIn(STATIC_MAC, table())
            unicast(STATIC_MAC, [r1, r3], [], "a frame to the deleted static MAC (flooded)")
            env.dp.assert_alive()


if __name__ == "__main__":
    l2_env.main()
