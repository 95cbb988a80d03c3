# vsw-memory-modes: nohuge
"""Packet trace end to end, through vswctl only, the Linux kernel as hosts.

Namespace A sits on br0 (10.212.1.2/24), B on br1 (10.212.2.2/24), routed by r0/r1 (.1).
B's port pb denies ICMP towards B (to-port). Then:

- `trace start --port pa` and a ping from A that never arrives: `trace show` gives the echo
  request's path: addressed to r0, the FIB's connected route to B on r1, B's MAC from the
  neighbor table, and pb's ACL rule that dropped it (result `dropped: acl_deny`);
- `trace packet` for a UDP flow A -> B names the next hop (B on r1) and the output port pb,
  and sends nothing; for ICMP it predicts the ACL's drop without counting it; for a prefix
  behind B (a static route via B) it names B as the gateway;
- errors name the field; `trace stop` ends the session.
"""

from __future__ import annotations

from l2_env import L2Env
from vswtest import log, parse_ping, wait_until

import vswtest

A4, B4 = "10.212.1.2", "10.212.2.2"
R4 = {"r0": "10.212.1.1", "r1": "10.212.2.1"}


def stages(packet: dict) -> str:
    return "\n".join(f"{s['stage']}: {s['detail']}" for s in packet["steps"]) + \
        f"\nresult: {packet['result']}"


def find_step(packet: dict, stage: str, text: str) -> bool:
    return any(s["stage"] == stage and text in s["detail"] for s in packet["steps"])


class TraceTest(vswtest.TestCase):

    def test_trace_shows_routed_and_denied_packet(self):
        with L2Env() as env:
            ctl = env.switch()
            for br in ("br0", "br1"):
                ctl.vswctl("bridge", "add", br)
            a = env.tap_host("pa", f"{A4}/24")
            b = env.tap_host("pb", f"{B4}/24")
            ctl.vswctl("bridge", "attach", "br0", "pa")
            ctl.vswctl("bridge", "attach", "br1", "pb")
            ctl.vswctl("router-if", "add", "r0", "--bridge", "br0", "--ip", f"{R4['r0']}/24")
            ctl.vswctl("router-if", "add", "r1", "--bridge", "br1", "--ip", f"{R4['r1']}/24")
            for h, rif in ((a, "r0"), (b, "r1")):
                h.ns.exec(["ip", "route", "add", "default", "via", R4[rif]])
            # Both hosts and the router learn each other's MACs (a loaded machine may lose
            # the first echo while the router resolves B: one answer proves the path).
            r = a.ns.ping(B4, count=3, interval=0.2)
            self.assertGreaterEqual(parse_ping(r.stdout)[1], 1, r.stdout)

            deny = ctl.vswctl.raw("acl", "add", "pb", "--dir", "to-port", "--priority", "100",
                                  "--action", "deny", "--proto", "icmp")
            self.assertEqual(deny.returncode, 0, deny.stderr)
            rule = deny.stdout.strip()

            # A route change makes the cached A -> B flow stale: the traced echo request takes
            # the whole path (a cache hit would show as one "hit (routed)" step).
            ctl.vswctl("route", "add", "10.99.0.0/16", "--via", B4)

            # --- a live trace of a ping that does not arrive
            started = ctl.vswctl("trace", "start", "--port", "pa", "--count", "20")
            self.assertEqual(started["port"], "pa")
            self.assertEqual(started["count"], 20)
            r = a.ns.exec(["ping", "-n", "-c", "1", "-W", "1", B4], check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)

            def echo_requests() -> list:
                packets = ctl.vswctl("trace", "show")["packets"]
                return [p for p in packets if f"{A4} > {B4} icmp type 8" in p["summary"]]
            wait_until(lambda: echo_requests(), 30, "the echo request's trace record",
                       state=lambda: ctl.vswctl.raw("trace", "show").stdout)
            p = echo_requests()[0]
            text = stages(p)
            self.assertEqual(p["port"], "pa", text)
            self.assertTrue(find_step(p, "flow-cache", "stale entry") or
                            find_step(p, "flow-cache", "miss"), text)
            self.assertTrue(find_step(p, "router", "addressed to router interface r0"), text)
            self.assertTrue(find_step(p, "fib", f"connected: {B4} on r1"), text)
            self.assertTrue(find_step(p, "fib", "route 10.212.2.0/24"), text)
            self.assertTrue(find_step(p, "neighbor", f"resolved: {b.mac}"), text)
            self.assertTrue(find_step(p, "acl", f"pb to-port: rule {rule} deny: dropped "
                                                "(acl_deny)"), text)
            self.assertEqual(p["result"], "dropped: acl_deny", text)
            human = ctl.vswctl.raw("trace", "show")
            log(human.stdout)
            self.assertIn("dropped: acl_deny", human.stdout)
            self.assertIn(f"rule {rule} deny", human.stdout)

            # --- what would happen to a UDP packet from A to B? (nothing is sent)
            denied = int(ctl.port("pb")["state"]["counters"]["drop_acl_deny"])
            t = ctl.vswctl("trace", "packet", "--port", "pa", "--src", A4, "--dst", B4,
                           "--proto", "udp", "--dport", "53")
            text = stages(t)
            log(ctl.vswctl.raw("trace", "packet", "--port", "pa", "--src", A4, "--dst", B4,
                               "--proto", "udp", "--dport", "53").stdout)
            self.assertIn(f"{A4} > {B4} udp 49152 > 53", t["summary"])
            self.assertTrue(find_step(t, "fib", f"connected: {B4} on r1"), text)
            self.assertEqual(t["result"], "output pb", text)
            self.assertTrue(find_step(t, "output", "not sent"), text)
            # The same for ICMP is the ACL's drop, predicted and not counted.
            t = ctl.vswctl("trace", "packet", "--port", "pa", "--src", A4, "--dst", B4,
                           "--proto", "icmp")
            self.assertEqual(t["result"], "dropped: acl_deny", stages(t))
            self.assertEqual(int(ctl.port("pb")["state"]["counters"]["drop_acl_deny"]), denied)

            # --- a prefix behind B (the route added above): the gateway is the next hop
            t = ctl.vswctl("trace", "packet", "--port", "pa", "--src", A4, "--dst", "10.99.1.1",
                           "--proto", "tcp", "--dport", "80")
            text = stages(t)
            self.assertTrue(find_step(t, "fib", f"route 10.99.0.0/16, via {B4} on r1"), text)
            self.assertEqual(t["result"], "output pb", text)

            # --- errors name the field; stop ends it
            bad = ctl.vswctl.raw("trace", "packet", "--port", "nope", "--src", A4, "--dst", B4)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("port: no port 'nope'", bad.stderr)
            bad = ctl.vswctl.raw("trace", "packet", "--port", "pa", "--src", A4, "--dst",
                                 "fd00::1")
            self.assertIn("dst:", bad.stderr)
            bad = ctl.vswctl.raw("trace", "packet", "--port", "pa", "--hex", "0200zz")
            self.assertIn("frame:", bad.stderr)
            stopped = ctl.vswctl("trace", "stop")
            self.assertGreaterEqual(len(stopped["packets"]), 1)
            bad = ctl.vswctl.raw("trace", "stop")
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("no trace was started", bad.stderr)


if __name__ == "__main__":
    import l2_env
    l2_env.main()
