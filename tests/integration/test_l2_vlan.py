# vsw-memory-modes: nohuge
"""VLANs: a trunk port carrying VLANs 10 and 20 into two bridges, with access ports in each.

    trunk (tap; its namespace speaks 802.1Q through Scapy on a raw socket, no address)
      --vlan 10 -> br10 <- a10 (10.210.0.1/24), b10 (10.210.0.2/24)   untagged access ports
      --vlan 20 -> br20 <- a20 (10.210.0.3/24), b20 (10.210.0.4/24)

All four access hosts share one IP subnet, so only the switch keeps the VLANs apart. The
trunk side plays a host 10.210.0.100 with the trunk interface's MAC in both VLANs. The kernel
here has no 8021q support: tagged frames are made with Scapy and sent on a raw AF_PACKET
socket, and captured with PACKET_AUXDATA, which gives back the tag the kernel strips
(l2_env.RawPort). Checks:

- a tagged ARP request / ICMP echo from the trunk to a10's (a20's) address gets its reply out
  of the trunk tagged 10 (20), and only so;
- a broadcast from a10 leaves the trunk once, tagged 10, never tagged 20, reaches b10
  untagged and never a20 or b20;
- a broadcast tagged 20 from the trunk reaches a20 and b20 untagged, never a10 or b10, and
  does not come back to the trunk;
- a frame tagged 30 (no attachment claims VLAN 30) is dropped and counted as unknown_vlan
  (`vswctl --json port show trunk`), an untagged one (the trunk has no untagged attachment)
  as no_destination; neither reaches anyone;
- an access port takes no tags: a frame tagged 20 from a10 is dropped as unknown_vlan (no VLAN
  hopping); a priority-tagged one (VLAN ID 0) is a10's untagged traffic: it leaves the trunk
  tagged 10 with its priority kept, and reaches b10 untagged;
- isolation: a10 pings b10 and a20 pings b20, but VLAN 10 never reaches VLAN 20 (pings
  across fail, ARP requests stay in their VLAN, a frame to a20's MAC from a10 is unknown in
  br10 and flooded there only); `mac list` keeps the tables apart (the trunk's MAC is in both,
  with its VLAN).

Absence is proven with barriers, not sleeps (l2_env.Barrier).
"""

from __future__ import annotations

import l2_env
import vswtest
from l2_env import (BROADCAST, Barrier, Frame, L2Env, assert_absent, has_token, marker_frame,
                    scapy_frame, token)
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from vswtest import parse_ping, wait_until

SUBNET = "10.210.0"
TRUNK_IP = f"{SUBNET}.100"


class VlanTest(vswtest.TestCase):

    def test_trunk_and_access_ports(self):
        with L2Env() as env:
            ctl = env.switch()
            trunk = env.tap_host("trunk")
            a10 = env.tap_host("a10", f"{SUBNET}.1/24")
            b10 = env.tap_host("b10", f"{SUBNET}.2/24")
            a20 = env.tap_host("a20", f"{SUBNET}.3/24")
            b20 = env.tap_host("b20", f"{SUBNET}.4/24")
            vlan10, vlan20 = (a10, b10), (a20, b20)
            for br in ("br10", "br20"):
                ctl.vswctl("bridge", "add", br)
            for br, vlan in (("br10", 10), ("br20", 20)):
                a = ctl.vswctl("bridge", "attach", br, "trunk", "--vlan", str(vlan))
                self.assertEqual((a["port"], a["vlan"], a["programmed"]), ("trunk", vlan, True), a)
            for br, members in (("br10", vlan10), ("br20", vlan20)):
                for h in members:
                    a = ctl.vswctl("bridge", "attach", br, h.port)
                    self.assertEqual((a["vlan"], a["programmed"]), (0, True), a)
            rt = env.raw(trunk)
            ra10, rb10, ra20, rb20 = (env.raw(h) for h in (a10, b10, a20, b20))
            t = trunk.mac

            def barrier10() -> None:
                """Everything the switch sent into VLAN 10's access ports so far has arrived."""
                Barrier(rt, t, vlan=10).cross([ra10, rb10])

            def barrier20() -> None:
                Barrier(rt, t, vlan=20).cross([ra20, rb20])

            # --- the trunk host asks for a10 (VLAN 10) and a20 (VLAN 20): replies keep the tag
            for vlan, host, other in ((10, a10, b10), (20, a20, b20)):
                request = Ether(src=t, dst=BROADCAST) / ARP(op=1, hwsrc=t, psrc=TRUNK_IP,
                                                            pdst=host.ip)
                rt.send(scapy_frame(request, vlan))

                def is_reply(f: Frame, host=host) -> bool:
                    p = f.scapy()
                    return ARP in p and p[ARP].op == 2 and p[ARP].psrc == host.ip
                got = rt.wait_incoming(is_reply, l2_env.FRAME_TIMEOUT,
                                       f"{host.port}'s ARP reply on the trunk")
                p = got[0].scapy()
                self.assertEqual((got[0].vlan, got[0].src, got[0].dst), (vlan, host.mac, t), got)
                self.assertEqual((p[ARP].hwsrc, p[ARP].pdst, p[ARP].hwdst),
                                 (host.mac, TRUNK_IP, t), p.summary())
                # The request was flooded in its own bridge only: the other access port got it
                # untagged, the other VLAN's hosts never.
                def is_request(f: Frame, host=host) -> bool:
                    p = f.scapy()
                    return ARP in p and p[ARP].op == 1 and p[ARP].pdst == host.ip
                got = env.raw(other).wait_incoming(
                    is_request, l2_env.FRAME_TIMEOUT,
                    f"the ARP request for {host.ip} flooded to {other.port}")
                self.assertIsNone(got[0].vlan, got)
                barrier10()
                barrier20()
                wrong = (ra20, rb20) if vlan == 10 else (ra10, rb10)
                assert_absent(wrong, is_request, f"the ARP request in VLAN {vlan} crossed over")
                # The trunk got one reply, with that tag only.
                Barrier(env.raw(host), host.mac).cross([rt])
                self.assertEqual([f.vlan for f in rt.incoming(is_reply)], [vlan], rt.frames)

                # ICMP echo, tagged, to the host's MAC (now known behind the trunk's VLAN too).
                echo = (Ether(src=t, dst=host.mac) /
                        IP(src=TRUNK_IP, dst=host.ip) / ICMP(type=8, id=0x4242, seq=vlan) /
                        Raw(b"vlan-echo"))
                rt.send(scapy_frame(echo, vlan))

                def is_echo_reply(f: Frame, host=host, vlan=vlan) -> bool:
                    p = f.scapy()
                    return (ICMP in p and p[ICMP].type == 0 and p[IP].src == host.ip
                            and p[ICMP].seq == vlan)
                got = rt.wait_incoming(is_echo_reply, l2_env.FRAME_TIMEOUT,
                                       f"{host.port}'s echo reply on the trunk")
                self.assertEqual((got[0].vlan, got[0].src, got[0].dst), (vlan, host.mac, t), got)
                self.assertEqual(got[0].scapy()[IP].dst, TRUNK_IP)

            # --- a broadcast from a10: the trunk once, tagged 10; b10 untagged; not VLAN 20
            tok = token("from-a10")
            ra10.send(marker_frame(a10.mac, BROADCAST, tok))
            rt.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, "a10's broadcast on the trunk")
            got = rb10.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, "a10's broadcast at b10")
            self.assertIsNone(got[0].vlan)
            Barrier(ra10, a10.mac).cross([rt, rb10])  # a10's later frames are there: all of it
            barrier20()
            self.assertEqual([f.vlan for f in rt.incoming(has_token(tok))], [10], rt.frames)
            self.assertEqual(len(rb10.incoming(has_token(tok))), 1)
            assert_absent([ra20, rb20], has_token(tok), "a10's broadcast reached VLAN 20")
            assert_absent([ra10], has_token(tok), "a10's broadcast came back to a10")

            # --- a broadcast tagged 20 from the trunk: a20 and b20 untagged; not VLAN 10
            tok = token("trunk-20")
            rt.send(marker_frame(t, BROADCAST, tok, vlan=20))
            for raw in (ra20, rb20):
                got = raw.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT,
                                        "the trunk's VLAN 20 broadcast")
                self.assertIsNone(got[0].vlan, got)
                self.assertEqual(got[0].ethertype, l2_env.ETH_P_EXPERIMENTAL, got)
            barrier10()
            Barrier(ra20, a20.mac).cross([rt])
            assert_absent([ra10, rb10], has_token(tok), "the VLAN 20 broadcast reached VLAN 10")
            assert_absent([rt], has_token(tok), "the broadcast came back to the trunk")
            for raw in (ra20, rb20):
                self.assertEqual(len(raw.incoming(has_token(tok))), 1)

            # --- VLAN 30 is nobody's: dropped and counted; so is untagged on the trunk
            before = ctl.port("trunk")["state"]
            tok30, tok0 = token("vlan30"), token("untagged")
            rt.send(marker_frame(t, BROADCAST, tok30, vlan=30))
            rt.send(marker_frame(t, BROADCAST, tok0))

            def drops() -> tuple[int, int]:
                s = ctl.port("trunk")["state"]
                return (l2_env.counter(s, "drop_unknown_vlan") -
                        l2_env.counter(before, "drop_unknown_vlan"),
                        l2_env.counter(s, "drop_no_destination") -
                        l2_env.counter(before, "drop_no_destination"))
            wait_until(lambda: drops() == (1, 1), l2_env.FRAME_TIMEOUT,
                       "the trunk to count one unknown_vlan and one no_destination drop",
                       state=drops)
            barrier10()
            barrier20()
            for tk in (tok30, tok0):
                assert_absent([ra10, rb10, ra20, rb20], has_token(tk), f"frame {tk} arrived")
            self.assertEqual(drops(), (1, 1))
            after = ctl.port("trunk")["state"]
            self.assertEqual(l2_env.counter(after, "rx_packets") -
                             l2_env.counter(before, "rx_packets"), 4,
                             "the two dropped frames and the two barriers")

            # --- an access port takes no tags: a frame tagged 20 from a10 is dropped (no VLAN
            # hopping); a priority tag (VLAN 0) counts as untagged: br10, priority kept
            before = ctl.port("a10")["state"]
            tok = token("hop")
            ra10.send(marker_frame(a10.mac, BROADCAST, tok, vlan=20))
            wait_until(lambda: l2_env.counter(ctl.port("a10")["state"], "drop_unknown_vlan")
                       == l2_env.counter(before, "drop_unknown_vlan") + 1, l2_env.FRAME_TIMEOUT,
                       "a10 to count the frame tagged 20 as unknown_vlan")
            tok0 = token("priority")
            ra10.send(l2_env.tagged(marker_frame(a10.mac, BROADCAST, tok0), 0, priority=5))
            got = rt.wait_incoming(has_token(tok0), l2_env.FRAME_TIMEOUT,
                                   "a10's priority-tagged broadcast on the trunk")
            self.assertEqual((got[0].vlan, got[0].tci >> 13), (10, 5), got)
            got = rb10.wait_incoming(has_token(tok0), l2_env.FRAME_TIMEOUT,
                                     "a10's priority-tagged broadcast at b10")
            self.assertIsNone(got[0].vlan, got)
            barrier20()
            assert_absent([rt, rb10, ra20, rb20], has_token(tok), "a10's frame tagged 20")
            assert_absent([ra20, rb20], has_token(tok0), "a10's priority-tagged frame")

            # --- isolation: same VLAN works, across VLANs nothing
            for x, y in ((a10, b10), (a20, b20), (b10, a10), (b20, a20)):
                r = x.ping(y, count=2, interval=0.1)
                self.assertEqual(parse_ping(r.stdout)[1], 2,
                                 f"ping {x.port} -> {y.port}: {r.stdout}{r.stderr}")
            for raw in (rt, ra10, rb10, ra20, rb20):
                raw.clear()
            for x, y in ((a10, a20), (b20, b10)):
                r = x.ns.ping(y.ip, count=2, interval=0.2, deadline=3)
                self.assertEqual(parse_ping(r.stdout)[1], 0,
                                 f"ping {x.port} -> {y.port} crossed VLANs: {r.stdout}")

            def arp_for(ip: str, asker: str):
                """ARP requests for `ip` from `asker` (an address)."""
                return lambda f: (lambda p: ARP in p and p[ARP].op == 1 and p[ARP].pdst == ip
                                  and p[ARP].psrc == asker)(f.scapy())
            # a10's ARP requests for a20 went to VLAN 10's members only, b20's to VLAN 20's.
            for raw, vlan in ((rt, 10), (rb10, None)):
                got = raw.wait_incoming(arp_for(a20.ip, a10.ip), l2_env.FRAME_TIMEOUT,
                                        "a10's ARP request for a20 in VLAN 10")
                self.assertEqual({f.vlan for f in got}, {vlan}, got)
            for raw, vlan in ((rt, 20), (ra20, None)):
                got = raw.wait_incoming(arp_for(b10.ip, b20.ip), l2_env.FRAME_TIMEOUT,
                                        "b20's ARP request for b10 in VLAN 20")
                self.assertEqual({f.vlan for f in got}, {vlan}, got)
            # And a frame straight to a20's MAC from a10: unknown in br10, flooded there only.
            tok = token("a10-to-a20")
            ra10.send(marker_frame(a10.mac, a20.mac, tok))
            got = rt.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT,
                                   "a10's frame to a20's MAC, flooded in VLAN 10")
            self.assertEqual([f.vlan for f in got], [10], got)
            rb10.wait_incoming(has_token(tok), l2_env.FRAME_TIMEOUT, "... and at b10")
            barrier20()
            assert_absent([ra20, rb20], has_token(tok), "a10's frame to a20's MAC crossed over")
            assert_absent([ra20, rb20], arp_for(a20.ip, a10.ip),
                          "a10's ARP request reached VLAN 20")
            assert_absent([ra10, rb10], arp_for(b10.ip, b20.ip),
                          "b20's ARP request reached VLAN 10")

            # --- the MAC tables stay apart; the trunk's MAC is in both, with its VLAN
            br10, br20 = l2_env.mac_table(ctl, "br10"), l2_env.mac_table(ctl, "br20")
            self.assertEqual({m: (e["port"], e["vlan"]) for m, e in br10.items()},
                             {t: ("trunk", 10), a10.mac: ("a10", 0), b10.mac: ("b10", 0)})
            self.assertEqual({m: (e["port"], e["vlan"]) for m, e in br20.items()},
                             {t: ("trunk", 20), a20.mac: ("a20", 0), b20.mac: ("b20", 0)})
            self.assertEqual(ctl.port("trunk")["state"]["macs"], 2)
            env.dp.assert_alive()


if __name__ == "__main__":
    l2_env.main()
