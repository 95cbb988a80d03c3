# vsw-memory-modes: nohuge
"""A port removed under traffic leaves no stale forwarding behind, even when its port id is
reused at once.

h1 (p1) pings h2 (p2) fifty times a second across bridge br1; the flow cache holds the
flows to p2. Then, with the ping running:

1. p2 is detached and deleted, and a new tap port p4 is added at once: DPDK hands it the port
   id p2 had (checked). p4 is attached to another bridge, br2. A flow entry or MAC entry
   still naming the old port id would now send h1's echo requests out of p4, into the other
   bridge: none of h1's frames may reach p4's namespace while the ping keeps going (checked
   with a barrier: a broadcast from h3, in br2, that arrives after 100 more echo requests were
   sent), and br1's MAC table must not hold h2's MAC any more.
2. The guest comes back: a port named p2 again (another namespace, the same address and
   MAC, as a restarted VM), attached to br1, on another port id. The ping resumes on its own
   and the echo requests sent while h2 was away are the only ones lost (one run of icmp_seq);
   br1 has h2's MAC behind the new p2, and p4 still got nothing of h1's.
"""

from __future__ import annotations

import l2_env
import vswtest
from controld_env import PingRun
from l2_env import L2Env
from vswtest import wait_until


class PortReuseTest(vswtest.TestCase):

    def test_removed_port_id_reused_under_traffic(self):
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br1")
            ctl.vswctl("bridge", "add", "br2")
            h1 = env.tap_host("p1", "10.72.0.1/24")
            h2 = env.tap_host("p2", "10.72.0.2/24")
            h3 = env.tap_host("p3")
            for br, p in (("br1", "p1"), ("br1", "p2"), ("br2", "p3")):
                ctl.vswctl("bridge", "attach", br, p)
            ping = PingRun(h1.ns, h2.ip, interval=0.02)
            wait_until(lambda: ping.reply_count() >= 50, 60, "50 replies from h2")
            old_id = ctl.port("p2")["state"]["port_id"]
            flows = ctl.vswctl("flow", "list").get("flows", [])
            vswtest.log(f"p2 is port {old_id}; {len(flows)} cached flow(s)")

            # 1. p2 goes, p4 comes with its port id, in another bridge.
            ctl.vswctl("bridge", "detach", "br1", "p2")
            ctl.vswctl("port", "del", "p2")
            lost_from = max(s for _, s in ping.replies)
            h4 = env.tap_host("p4")
            self.assertEqual(ctl.port("p4")["state"]["port_id"], old_id,
                             "the new port did not get the freed port id: the test proves "
                             "nothing then")
            raw4 = env.raw(h4)
            ctl.vswctl("bridge", "attach", "br2", "p4")
            seq_at_attach = lost_from
            # 100 more echo requests (2 s at 50/s), then the barrier from br2.
            wait_until(lambda: self._sent(ping) >= seq_at_attach + 100, 60,
                       "100 more echo requests from h1")
            barrier = l2_env.Barrier(env.raw(h3), h3.mac)
            barrier.cross([raw4])
            from_h1 = raw4.incoming(lambda f: f.src == h1.mac)
            self.assertEqual(from_h1, [], "frames of h1 (bridge br1) reached p4 (bridge br2), "
                             "which reuses the deleted p2's port id")
            macs = {m["mac"] for m in ctl.vswctl("mac", "list", "br1").get("macs", [])}
            self.assertNotIn(h2.mac, macs, "br1 still knows the deleted port's MAC")
            counters4 = ctl.port("p4")["state"]["counters"]
            vswtest.log(f"p4 after 100 echo requests of h1: tx {counters4['tx_packets']} "
                        f"(the barrier and br2's own), rx {counters4['rx_packets']}")

            # 2. The guest comes back as p2, on br1, with its MAC (a restarted VM keeps it):
            # the MAC now lives behind another port id than the one cached flows had.
            h2b = env.tap_host("p2", "10.72.0.2/24")
            h2b.ns.exec(["ip", "link", "set", "dev", h2b.iface, "address", h2.mac])
            ctl.vswctl("bridge", "attach", "br1", "p2")
            self.assertNotEqual(ctl.port("p2")["state"]["port_id"], old_id)
            back_at = max(s for _, s in ping.replies)
            wait_until(lambda: max(s for _, s in ping.replies) >= back_at + 50, 60,
                       "the ping to resume to the re-created p2", interval=0.1)
            ping.stop()
            missing = ping.missing()
            # One outage, while h2 was away: every loss in one run of icmp_seq, after the last
            # reply before the delete.
            self.assertTrue(missing, "no echo request was lost although h2 was gone")
            self.assertEqual(missing, list(range(missing[0], missing[-1] + 1)),
                             f"echo requests lost outside one outage: {missing}")
            self.assertGreater(missing[0], lost_from - 5, missing)
            macs = {m["mac"]: m["port"] for m in ctl.vswctl("mac", "list", "br1").get("macs", [])}
            self.assertEqual(macs.get(h2.mac), "p2", macs)
            # And p4, in br2, still got nothing of h1's.
            barrier.cross([raw4])
            self.assertEqual(raw4.incoming(lambda f: f.src == h1.mac), [])
            vswtest.log(f"outage: icmp_seq {missing[0]}-{missing[-1]} ({len(missing)} echo "
                        "requests) from the delete of p2 to its re-creation")

    @staticmethod
    def _sent(ping: PingRun) -> int:
        """The highest icmp_seq ping has sent so far, from its replies and its -O lines."""
        seqs = [int(line.split("icmp_seq=")[1].split()[0]) for line in list(ping.lines)
                if "icmp_seq=" in line]
        return max(seqs, default=0)


if __name__ == "__main__":
    l2_env.main()
