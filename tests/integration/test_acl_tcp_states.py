# vsw-memory-modes: nohuge
"""The TCP state machine through the real dataplane, with scripted packets (Scapy-built
frames on raw sockets in two namespaces).

B's port has `to-port permit-stateful tcp dport 80` and a default deny. The scripted peer
on B's side is 10.215.0.99, an address B's kernel does not own, so the kernel never answers
for it and every packet of a connection is the test's:
- handshake, data, FIN from A, ACK and FIN from B, last ACK: SYN_SENT, SYN_RECV,
  ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT in `vswctl conn list`, and every
  packet arrives;
- an RST from B closes an established connection (CLOSE);
- invalid openers from A (a bare ACK, a SYN-ACK, SYN+FIN) never reach B and count as B's
  ct_invalid drops;
- with the TIME_WAIT and CLOSE timeouts shortened (`vswctl conntrack set --timeout`), both
  entries disappear.
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

import controld_env
import vswtest
from l2_env import L2Env, scapy_frame
from vswtest import wait_until

A_IP, B_IP, PEER = "10.215.0.1", "10.215.0.2", "10.215.0.99"


class AclTcpStatesTest(vswtest.TestCase):

    def test_tcp_state_machine_through_the_dataplane(self):
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br0")
            a = env.tap_host("ka", f"{A_IP}/24")
            b = env.tap_host("kb", f"{B_IP}/24")
            for h in (a, b):
                ctl.vswctl("bridge", "attach", "br0", h.port)
            ctl.vswctl("acl", "add", b.port, "--dir", "to-port", "--priority", "10", "--action",
                       "permit-stateful", "--proto", "tcp", "--dport", "80")
            ctl.vswctl("acl", "default", b.port, "--dir", "to-port", "deny")
            ra, rb = env.raw(a), env.raw(b)

            def frame(src_mac, dst_mac, src, dst, sport, dport, flags, payload=b""):
                return scapy_frame(Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst) /
                                   TCP(sport=sport, dport=dport, flags=flags, seq=1000,
                                       ack=2000) / payload)

            def tcp_of(f):
                p = Ether(f.data)
                return p[TCP] if TCP in p else None

            def arrives(raw, sport, dport, flags, what):
                def match(f):
                    t = tcp_of(f)
                    return t is not None and (t.sport, t.dport, str(t.flags)) == \
                        (sport, dport, flags)
                raw.wait_incoming(match, 10, what)

            def never_arrives(raw, sport, dport):
                # Checked after a packet sent later on the same path did arrive: the switch
                # keeps the order of one port's frames.
                got = [f for f in raw.incoming() if tcp_of(f) is not None
                       and (tcp_of(f).sport, tcp_of(f).dport) == (sport, dport)]
                self.assertEqual(got, [], f"{sport}->{dport} got through")

            def from_a(sport, flags, payload=b""):
                ra.send(frame(a.mac, b.mac, A_IP, PEER, sport, 80, flags, payload))

            def from_b(sport, flags):
                rb.send(frame(b.mac, a.mac, PEER, A_IP, 80, sport, flags))

            def state(sport):
                conns = ctl.vswctl("conn", "list", b.port).get("connections", [])
                for c in conns:
                    if c["proto"] == "tcp" and int(c["sport"]) == sport:
                        return c["state"]
                return None

            def expect(sport, want):
                wait_until(lambda: state(sport) == want, 10, f"port {sport} in {want}",
                           state=lambda: state(sport))

            def invalid_drops():
                return int(ctl.vswctl("port", "show", b.port)["state"]["counters"].get(
                    "drop_ct_invalid", 0))

            # --- a whole connection
            from_a(40000, "S")
            arrives(rb, 40000, 80, "S", "A's SYN at B")
            expect(40000, "SYN_SENT")
            from_b(40000, "SA")
            arrives(ra, 80, 40000, "SA", "B's SYN-ACK at A")
            expect(40000, "SYN_RECV")
            from_a(40000, "A")
            arrives(rb, 40000, 80, "A", "A's ACK at B")
            expect(40000, "ESTABLISHED")
            from_a(40000, "PA", b"GET / HTTP/1.0\r\n\r\n")
            arrives(rb, 40000, 80, "PA", "A's data at B")
            from_a(40000, "FA")
            arrives(rb, 40000, 80, "FA", "A's FIN at B")
            expect(40000, "FIN_WAIT")
            from_b(40000, "A")
            arrives(ra, 80, 40000, "A", "B's ACK of the FIN at A")
            expect(40000, "CLOSE_WAIT")
            from_b(40000, "FA")
            arrives(ra, 80, 40000, "FA", "B's FIN at A")
            expect(40000, "LAST_ACK")
            from_a(40000, "A")
            expect(40000, "TIME_WAIT")

            # --- RST from the responder closes an established connection
            from_a(40004, "S")
            arrives(rb, 40004, 80, "S", "the second SYN at B")
            from_b(40004, "SA")
            arrives(ra, 80, 40004, "SA", "the second SYN-ACK at A")
            from_a(40004, "A")
            expect(40004, "ESTABLISHED")
            from_b(40004, "R")
            arrives(ra, 80, 40004, "R", "B's RST at A")
            expect(40004, "CLOSE")

            # --- invalid openers: dropped, counted, never seen by B
            before = invalid_drops()
            from_a(40001, "A")
            from_a(40002, "SA")
            from_a(40003, "SF")
            from_a(40005, "S")  # a valid opener after them, on the same path
            arrives(rb, 40005, 80, "S", "the SYN sent after the invalid ones")
            for sport in (40001, 40002, 40003):
                never_arrives(rb, sport, 80)
                self.assertIsNone(state(sport))
            wait_until(lambda: invalid_drops() >= before + 3, 10, "ct_invalid drops",
                       state=invalid_drops)

            # --- shortened timeouts remove the closed entries
            ctl.vswctl("conntrack", "set", "--timeout", "time_wait=1", "--timeout", "close=1")
            wait_until(lambda: state(40000) is None and state(40004) is None, 30,
                       "the TIME_WAIT and CLOSE entries to expire",
                       state=lambda: (state(40000), state(40004)))


if __name__ == "__main__":
    controld_env.main()
