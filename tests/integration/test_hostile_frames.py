# vsw-memory-modes: nohuge
"""Hostile frames from a guest: malformed and odd packets, through a tap port and through a
vhost-user port, on the switched and on the routed path.

    br0: pA (tap, 10.240.1.2), pB (tap, 10.240.1.3), pV (vhost-user), router interface r0 (.1)
    br1: pC (tap, 10.240.2.2), router interface r1 (.1)

pA's hostile frames are written on a raw socket in its namespace; pV's guest is dpdk-testpmd
whose net_pcap port reads a pcap file (written here) and io-forwards every record into the
net_virtio_user port on pV's socket, so the same frames, plus ones a kernel cannot send (runts
under 14 bytes, frames past the MTU), enter the switch through vhost-user.

The hostile frames come from made-up sources (one MAC and IP per sending port) so that what the
switch sends for them is recognisable at pB and pC, where raw sockets capture everything. Each
case states what the dataplane does (docs/hostile-traffic.md is the policy):

- `malformed`: the flow-key parser refuses it: dropped, counted as the ingress port's
  `drop_malformed`, sent nowhere;
- `forward`: switched as it is (an L2 switch does not judge what it does not read): arrives
  at pB byte for byte, once;
- `unknown_vlan`: an 802.1Q tag on an access port: dropped and counted;
- `bad_header` / `ttl_expired`: routed path: dropped by the L3 stage under the router's reason
  (`vsw-dpctl router stats`), never reaches pC;
- `routed`: reaches pC once, TTL one less;
- `not_received` (vhost-user only): an empty frame; the vhost library drops it before the
  dataplane sees it;
- `tx_refused` (vhost-user only): longer than pB's MTU: switched, refused by pB's tap device,
  counted as pB's `drop_tx_mtu_exceeded` (not `drop_tx_full`: its queue had room); the frames
  behind it in the same burst still arrive.

The tap test then puts an ACL on pA and sends IPv6 extension-header chains again: the ACL
stage walks at most 4 (a longer chain, a looping one and a cut-off one are malformed there).

Counters must move by exactly what the cases say; absence at pB/pC is proven by barriers sent
after the cases (l2_env.Barrier: one worker, in-order ports), never by sleeping. Afterwards the
dataplane is alive and good pings pass, switched and routed.
"""

from __future__ import annotations

import collections
import struct
from dataclasses import dataclass
from pathlib import Path

import l2_env
import vswtest
from l2_env import BROADCAST, L2Env, has_token, marker_frame, token
from scapy.layers.inet import IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting)
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw
from vswtest import log, parse_ping, wait_until

NET_A = "10.240.1"
NET_C = "10.240.2"
C_IP6 = "fd40:2::2"


@dataclass
class Attacker:
    mac: str
    ip: str
    ip6: str
    ident: int  # high byte of the IPv4 ids of its routed cases


TAP_ATTACKER = Attacker("02:66:00:00:00:01", f"{NET_A}.66", "fd40:1::66", 0x66)
VHOST_ATTACKER = Attacker("02:66:00:00:00:02", f"{NET_A}.67", "fd40:1::67", 0x67)


@dataclass
class Case:
    name: str
    frame: bytes
    # forward malformed unknown_vlan bad_header ttl_expired routed tx_refused not_received
    expect: str
    ip_id: int = -1  # routed: the IPv4 id pC sees
    ttl: int = -1


def put16(b: bytearray, off: int, v: int) -> None:
    b[off:off + 2] = struct.pack("!H", v)


def payload(label: str) -> Raw:
    return Raw(l2_env.MARKER + label.encode() + b";" + b"x" * 16)


def switched_cases(a: Attacker, dst_mac: str, dst_ip: str) -> list[Case]:
    """Frames from the attacker to pB's MAC: switched in br0."""
    eth = Ether(src=a.mac, dst=dst_mac)
    good = bytes(eth / IP(src=a.ip, dst=dst_ip) / UDP(sport=4000, dport=5000) /
                 payload("sw-udp"))
    cases: list[Case] = []

    def add(name, frame, expect):
        cases.append(Case(name, bytes(frame), expect))

    def patched(off: int, value: bytes) -> bytes:
        b = bytearray(good)
        b[off:off + len(value)] = value
        return bytes(b)

    add("eth-header-only-ipv4", good[:14], "malformed")
    add("ipv4-header-truncated", good[:14 + 19], "malformed")
    add("ipv4-ihl-4", patched(14, b"\x44"), "malformed")
    add("ipv4-ihl-0", patched(14, b"\x40"), "malformed")
    add("ipv4-ihl-beyond-frame", patched(14, b"\x4f")[:14 + 28], "malformed")  # 60 > 28
    add("ipv4-version-6", patched(14, b"\x65"), "malformed")
    add("ipv4-total-length-beyond-frame", patched(16, struct.pack("!H", 1400)), "forward")
    add("ipv4-total-length-below-ihl", patched(16, struct.pack("!H", 12)), "forward")
    add("ipv4-bad-header-checksum", patched(24, b"\xde\xad"), "forward")
    add("ipv4-ttl-0", eth / IP(src=a.ip, dst=dst_ip, ttl=0) / UDP() / payload("sw-ttl0"),
        "forward")  # a switch does not route: TTL is not its business
    add("ipv4-bad-udp-checksum", eth / IP(src=a.ip, dst=dst_ip) /
        UDP(sport=4000, dport=5000, chksum=0x1234) / payload("sw-udpck"), "forward")
    add("ipv4-options", eth / IP(src=a.ip, dst=dst_ip, options=[IPOption_RR()]) /
        UDP(sport=4000, dport=5000) / payload("sw-opt"), "forward")
    add("ipv4-first-fragment", eth / IP(src=a.ip, dst=dst_ip, flags="MF", id=0x66AA) /
        UDP(sport=4000, dport=5000, len=1000) / payload("sw-frag1"), "forward")
    add("ipv4-later-fragment", eth / IP(src=a.ip, dst=dst_ip, frag=100, id=0x66AA, proto=17) /
        payload("sw-frag2"), "forward")
    add("ipv4-tcp-2-bytes", eth / IP(src=a.ip, dst=dst_ip, proto=6) / Raw(b"\x12\x34"),
        "forward")
    add("ipv4-udp-3-bytes", eth / IP(src=a.ip, dst=dst_ip, proto=17) / Raw(b"\x12\x34\x56"),
        "forward")
    add("ipv4-tcp-offset-past-segment", eth / IP(src=a.ip, dst=dst_ip) /
        TCP(sport=1, dport=2, dataofs=15), "forward")

    v6 = eth / IPv6(src=a.ip6, dst="fd40:1::3")
    good6 = bytes(v6 / UDP(sport=4000, dport=5000) / payload("sw-udp6"))
    add("ipv6-header-truncated", good6[:14 + 39], "malformed")
    add("ipv6-version-4", good6[:14] + b"\x46" + good6[15:], "malformed")
    add("ipv6-payload-length-beyond-frame",
        good6[:18] + struct.pack("!H", 1400) + good6[20:], "forward")
    add("ipv6-ext-chain-long", v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
        IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
        IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment() /
        UDP(sport=4000, dport=5000) / payload("sw-ext-long"), "forward")
    # "Loops": every header says another hop-by-hop header follows, up to the frame's end.
    add("ipv6-ext-chain-loop", v6 / IPv6ExtHdrHopByHop(nh=0) / IPv6ExtHdrHopByHop(nh=0) /
        IPv6ExtHdrHopByHop(nh=0), "forward")
    b = bytearray(bytes(v6 / IPv6ExtHdrRouting(nh=17) / UDP(sport=1, dport=2)))
    b[14 + 40 + 1] = 255  # a routing header claiming 2 KiB
    add("ipv6-ext-past-frame", b, "forward")
    add("ipv6-later-fragment", v6 / IPv6ExtHdrFragment(offset=100, nh=17) / payload("sw-f6"),
        "forward")

    # VLAN tags on an access port (an untagged member of br0).
    add("vlan-tag-truncated", good[:12] + b"\x81\x00\x00", "malformed")
    add("vlan-tag-without-type", good[:12] + b"\x81\x00\x00\x00", "malformed")
    add("vlan-tagged-on-access-port", eth / Dot1Q(vlan=20) / IP(src=a.ip, dst=dst_ip) / UDP() /
        payload("sw-vlan20"), "unknown_vlan")
    # A priority tag (VLAN 0: the port's untagged traffic) around a second 802.1Q tag: the
    # classic double-tagging VLAN hop (the outer tag popped on the way out, tag 20 left).
    add("vlan-stacked-8021q-priority-outer", eth / Dot1Q(vlan=0) / Dot1Q(vlan=20) /
        IP(src=a.ip, dst=dst_ip) / UDP() / payload("sw-qq0"), "malformed")
    add("vlan-stacked-8021q", eth / Dot1Q(vlan=20) / Dot1Q(vlan=30) /
        IP(src=a.ip, dst=dst_ip) / UDP() / payload("sw-qq"), "malformed")
    add("vlan-8021ad-outer", Ether(src=a.mac, dst=dst_mac, type=0x88A8) / Dot1Q(vlan=20) /
        IP(src=a.ip, dst=dst_ip) / UDP() / payload("sw-ad"), "forward")
    return cases


def routed_cases(a: Attacker, router_mac: str, dst_ip: str) -> list[Case]:
    """Frames from the attacker to r0's MAC for pC's address (routed br0 -> br1). The IPv4
    id tells them apart at pC. The first one installs a routed flow in the cache; the lying
    ones after it have the same flow key, so the cache's hit path is tested as well."""
    eth = Ether(src=a.mac, dst=router_mac)
    cases: list[Case] = []
    ids = iter(range(a.ident << 8, (a.ident << 8) + 0x100))

    def udp(label: str, sport: int = 4000, **ip) -> tuple[int, bytes]:
        i = next(ids)
        return i, bytes(eth / IP(src=a.ip, dst=dst_ip, id=i, **ip) /
                        UDP(sport=sport, dport=5000) / payload(label))

    def add(name, frame, expect, ip_id=-1, ttl=-1):
        cases.append(Case(name, bytes(frame), expect, ip_id, ttl))

    def patched(frame: bytes, off: int, value: bytes) -> bytes:
        b = bytearray(frame)
        b[off:off + len(value)] = value
        return bytes(b)

    i, good = udp("rt-good")
    add("routed-ipv4-good-installs-the-flow", good, "routed", i, 63)
    i, again = udp("rt-good2")
    add("routed-ipv4-good-cache-hit", again, "routed", i, 63)
    _, f = udp("rt-ihl")
    add("routed-ipv4-ihl-4", patched(f, 14, b"\x44"), "malformed")
    _, f = udp("rt-tl")
    add("routed-ipv4-total-length-beyond-frame", patched(f, 16, struct.pack("!H", 1400)),
        "bad_header")
    _, f = udp("rt-tl2")
    add("routed-ipv4-total-length-below-ihl", patched(f, 16, struct.pack("!H", 12)),
        "bad_header")
    _, f = udp("rt-ck")
    add("routed-ipv4-bad-header-checksum", patched(f, 24, b"\xde\xad"), "bad_header")
    _, f = udp("rt-ck2", sport=4001)  # a new flow: the miss path's check
    add("routed-ipv4-bad-header-checksum-new-flow", patched(f, 24, b"\xde\xad"), "bad_header")
    _, f = udp("rt-ttl1", ttl=1)
    add("routed-ipv4-ttl-1", f, "ttl_expired")
    _, f = udp("rt-ttl0", ttl=0)
    add("routed-ipv4-ttl-0", f, "ttl_expired")
    i, f = udp("rt-ttl2", ttl=2)
    add("routed-ipv4-ttl-2", f, "routed", i, 1)
    i, f = udp("rt-opt", options=[IPOption_RR()])
    add("routed-ipv4-options", f, "routed", i, 63)
    i, f = udp("rt-frag1", flags="MF")
    add("routed-ipv4-first-fragment", f, "routed", i, 63)
    i = next(ids)
    add("routed-ipv4-later-fragment", eth / IP(src=a.ip, dst=dst_ip, id=i, frag=50, proto=17) /
        payload("rt-frag2"), "routed", i, 63)
    add("routed-not-ip", Ether(src=a.mac, dst=router_mac, type=0x88B5) / payload("rt-notip"),
        "bad_header")
    add("routed-8021ad", Ether(src=a.mac, dst=router_mac, type=0x88A8) / Dot1Q(vlan=3) /
        IP(src=a.ip, dst=dst_ip) / UDP() / payload("rt-ad"), "bad_header")
    add("routed-stacked-8021q", eth / Dot1Q(vlan=0) / Dot1Q(vlan=3) / IP(src=a.ip, dst=dst_ip) /
        UDP() / payload("rt-qq"), "malformed")
    e6 = eth / IPv6(src=a.ip6, dst=C_IP6)
    good6 = bytes(e6 / UDP() / payload("rt6"))
    add("routed-ipv6-payload-length-beyond-frame", patched(good6, 18, struct.pack("!H", 1400)),
        "bad_header")
    add("routed-ipv6-hop-limit-1", eth / IPv6(src=a.ip6, dst=C_IP6, hlim=1) / UDP() /
        payload("rt6-hl1"), "ttl_expired")
    return cases


def vhost_only_cases(a: Attacker, dst_mac: str, dst_ip: str) -> list[Case]:
    """What a kernel cannot send on a tap: runts under an Ethernet header, and frames past
    the 1500-byte MTU (one in a single 2 KiB mbuf, one spanning mbufs). The switch has no MTU
    of its own; pB's tap refuses them (tap PMD: past its interface's MTU), counted as pB's
    tx_mtu_exceeded, and the frames behind them in the same burst still go."""
    eth = bytes(Ether(src=a.mac, dst=dst_mac, type=0x0800))
    big = [bytes(Ether(src=a.mac, dst=dst_mac) / IP(src=a.ip, dst=dst_ip) / UDP() /
                 Raw(l2_env.MARKER + f"big{n};".encode() + b"z" * (n - 60))) for n in (1600, 9000)]
    # A descriptor holding only the virtio-net header: the vhost library drops it before the
    # dataplane sees it (not in pV's rx_packets).
    return [Case("runt-0-bytes", b"", "not_received"),
            Case("runt-1-byte", eth[:1], "malformed"),
            Case("runt-13-bytes", eth[:13], "malformed"),
            Case("over-mtu-1600", big[0], "tx_refused"),
            Case("over-mtu-9000", big[1], "tx_refused")]


def write_pcap(path: Path, frames: list[bytes]) -> None:
    """A pcap file of Ethernet frames as they are (Scapy's writer would re-parse them)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1, i, len(frame), len(frame)) + frame)


def counts(cases: list[Case]) -> collections.Counter:
    return collections.Counter(c.expect for c in cases)


class HostileFramesTest(vswtest.TestCase):

    def setUp(self):
        super().setUp()
        self.env = self.enterContext(L2Env())
        env = self.env
        self.ctl = ctl = env.switch()
        self.dp = env.dp
        for br in ("br0", "br1"):
            ctl.vswctl("bridge", "add", br)
        self.pa = env.tap_host("pA", f"{NET_A}.2/24")
        self.pb = env.tap_host("pB", f"{NET_A}.3/24")
        self.pc = env.tap_host("pC", f"{NET_C}.2/24")
        for h, br in ((self.pa, "br0"), (self.pb, "br0"), (self.pc, "br1")):
            ctl.vswctl("bridge", "attach", br, h.port)
        r0 = ctl.vswctl("router-if", "add", "r0", "--bridge", "br0", "--ip", f"{NET_A}.1/24",
                        "--ip", "fd40:1::1/64")
        ctl.vswctl("router-if", "add", "r1", "--bridge", "br1", "--ip", f"{NET_C}.1/24",
                   "--ip", "fd40:2::1/64")
        self.r0_mac = r0["spec"]["mac"]
        self.pa.ns.exec(["ip", "route", "add", "default", "via", f"{NET_A}.1"])
        self.pc.ns.exec(["ip", "route", "add", "default", "via", f"{NET_C}.1"])
        self.good_pings()
        self.rb, self.rc = env.raw(self.pb), env.raw(self.pc)

    def good_pings(self) -> None:
        """pA reaches pB (switched) and pC (routed); the router resolved pC on the way. A
        loaded machine may lose an echo to ping's 2 s timeout: one answer proves the path,
        tried for up to 30 s."""
        for dst in (self.pb.ip, self.pc.ip):
            wait_until(lambda: parse_ping(self.pa.ns.ping(dst, count=1).stdout)[1] == 1, 30,
                       f"a ping from pA to {dst} to be answered", interval=0.1)

    def router_stats(self) -> dict[str, int]:
        s = self.dp.dpctl("router", "stats")["router_stats"]
        return {k: int(s[k]) for k in ("bad_header", "ttl_expired", "routed")}

    def port_drops(self, port: str) -> dict[str, int]:
        c = self.ctl.port(port)["state"]["counters"]
        return {k: int(c[f"drop_{k}"]) for k in ("malformed", "unknown_vlan")}

    def learned(self, mac: str) -> None:
        wait_until(lambda: mac in l2_env.mac_table(self.ctl, "br0"), l2_env.TABLE_TIMEOUT,
                   f"{mac} to be learned in br0")

    def tx_drops(self, port: str) -> tuple[int, int]:
        """The port's (drop_tx_full, drop_tx_mtu_exceeded)."""
        c = self.ctl.port(port)["state"]["counters"]
        return int(c.get("drop_tx_full", 0)), int(c.get("drop_tx_mtu_exceeded", 0))

    def send_and_check(self, port: str, a: Attacker, cases: list[Case], send) -> None:
        """`send(frames)` puts the cases' frames, then the two barriers, into the switch in
        order through `port`; checks what came out and what was counted."""
        tok_b, tok_c = token("switched-barrier"), token("routed-barrier")
        barrier_b = marker_frame(a.mac, BROADCAST, tok_b)
        barrier_c = bytes(Ether(src=a.mac, dst=self.r0_mac) / IP(src=a.ip, dst=self.pc.ip) /
                          UDP(sport=9, dport=9) / Raw(l2_env.MARKER + tok_c.encode() + b";"))
        self.rb.clear()
        self.rc.clear()
        drops, router = self.port_drops(port), self.router_stats()
        tx_b = self.tx_drops("pB")
        send([c.frame for c in cases] + [barrier_b, barrier_c])
        self.rb.wait_incoming(has_token(tok_b), 30, "the switched barrier at pB")
        self.rc.wait_incoming(has_token(tok_c), 30, "the routed barrier at pC")

        # Switched: exactly the `forward` frames reached pB, byte for byte, once each.
        at_b = collections.Counter(
            f.data for f in self.rb.incoming(lambda f: f.src == a.mac and f.dst != BROADCAST))
        want_b = collections.Counter(c.frame for c in cases if c.expect == "forward")
        names = {c.frame: c.name for c in cases}
        self.assertEqual({names.get(k, repr(k[:64])): v for k, v in at_b.items()},
                         {names[k]: v for k, v in want_b.items()},
                         f"{port}: what pB received from {a.mac}")
        # Routed: exactly the `routed` cases reached pC (by IPv4 id), once each, TTL - 1.
        at_c = collections.Counter()
        for f in self.rc.incoming(lambda f: not f.has(tok_c) and f.ethertype in (0x800, 0x86DD)):
            p = f.parsed
            if IP in p and p[IP].src == a.ip:
                at_c[(p[IP].id, p[IP].ttl)] += 1
            elif IPv6 in p and p[IPv6].src == a.ip6:
                at_c[("ipv6", p[IPv6].hlim)] += 1
        want_c = collections.Counter((c.ip_id, c.ttl) for c in cases if c.expect == "routed")
        self.assertEqual(at_c, want_c, f"{port}: what pC received from {a.ip} (id, ttl)")

        # Every drop counted under its reason, and nothing else.
        n = counts(cases)
        want_drops = {"malformed": drops["malformed"] + n["malformed"],
                      "unknown_vlan": drops["unknown_vlan"] + n["unknown_vlan"]}
        wait_until(lambda: self.port_drops(port) == want_drops, 10,
                   f"{port}'s drop counters to be {want_drops}", state=lambda: self.port_drops(port))
        self.assertEqual(self.tx_drops("pB"), (tx_b[0], tx_b[1] + n["tx_refused"]),
                         "pB's (tx_full, tx_mtu_exceeded)")
        got = self.router_stats()
        self.assertEqual((got["bad_header"] - router["bad_header"],
                          got["ttl_expired"] - router["ttl_expired"]),
                         (n["bad_header"], n["ttl_expired"]), f"router stats {router} -> {got}")
        # The routed cases and the barrier, nothing else (ARP for the attacker is punted).
        self.assertEqual(got["routed"] - router["routed"], n["routed"] + 1, (router, got))
        log(f"{port}: {len(cases)} cases, {dict(n)}: as expected")

    def test_through_a_tap_port(self):
        a, raw = TAP_ATTACKER, self.env.raw(self.pa)
        raw.send(marker_frame(a.mac, BROADCAST, token("hello")))  # learned: flows get cached
        self.learned(a.mac)
        cases = (switched_cases(a, self.pb.mac, self.pb.ip) +
                 routed_cases(a, self.r0_mac, self.pc.ip))
        self.send_and_check("pA", a, cases, raw.send_all)
        self.dp.assert_alive()
        self.good_pings()

        # With an ACL on pA the ACL stage walks IPv6 extension headers (at most 4) to find
        # the transport header: a longer chain, or one cut off, is malformed there.
        r = self.ctl.vswctl.raw("acl", "add", "pA", "--dir", "from-port", "--priority", "10",
                                "--action", "permit", "--proto", "udp", "--dport", "5000")
        self.assertEqual(r.returncode, 0, r.stderr)
        v6 = Ether(src=a.mac, dst=self.pb.mac) / IPv6(src=a.ip6, dst="fd40:1::3")
        udp = UDP(sport=4000, dport=5000)
        cases = [
            Case("acl-ipv6-4-ext-headers", v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
                 IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / udp / payload("acl4"), "forward"),
            Case("acl-ipv6-5-ext-headers", v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
                 IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / udp /
                 payload("acl5"), "malformed"),
            Case("acl-ipv6-ext-chain-loop", v6 / IPv6ExtHdrHopByHop(nh=0) /
                 IPv6ExtHdrHopByHop(nh=0) / IPv6ExtHdrHopByHop(nh=0), "malformed"),
            Case("acl-ipv6-ext-cut-off", v6 / IPv6ExtHdrDestOpt(nh=60), "malformed"),
        ]
        for c in cases:
            c.frame = bytes(c.frame)
        self.send_and_check("pA", a, cases, raw.send_all)

    def test_through_a_vhost_user_port(self):
        """testpmd: port 0 is net_pcap (reads the cases once), port 1 net_virtio_user on
        pV's socket; io forwarding pushes every record into the switch in file order."""
        env, ctl, a = self.env, self.ctl, VHOST_ATTACKER
        p = ctl.vswctl("port", "add", "pV", "--type", "vhost-user")
        sock = Path(p["spec"]["socket"])
        ctl.vswctl("bridge", "attach", "br0", "pV")
        cases = (switched_cases(a, self.pb.mac, self.pb.ip) +
                 routed_cases(a, self.r0_mac, self.pc.ip) +
                 vhost_only_cases(a, self.pb.mac, self.pb.ip))

        def send(frames: list[bytes]) -> None:
            hello = marker_frame(a.mac, BROADCAST, token("hello"))
            rx = int(ctl.port("pV")["state"]["counters"]["rx_packets"])
            pcap = env.workdir / "hostile.pcap"
            write_pcap(pcap, [hello] + frames)
            pmd = env.testpmd(sock, label="pcap-guest", start=False)
            i = pmd.cmd.index("--vdev")
            pmd.cmd[i:i] = ["--vdev", f"net_pcap0,rx_pcap={pcap},"
                            f"tx_pcap={env.workdir / 'guest-rx.pcap'}"]
            # Or `start` drains the pcap port (testpmd flushes RX queues before forwarding).
            pmd.cmd.append("--no-flush-rx")
            pmd.start()
            wait_until(lambda: ctl.port("pV")["state"]["link_up"], 30, "pV's link up")
            pmd.forward("io")
            want = rx + 1 + sum(1 for f in frames if f)  # hello; not the empty one
            wait_until(lambda: int(ctl.port("pV")["state"]["counters"]["rx_packets"]) >= want,
                       30, f"pV to receive {want - rx} frames",
                       state=lambda: (ctl.port("pV")["state"]["counters"],
                                      pmd.command("show port stats all")))
            got = int(ctl.port("pV")["state"]["counters"]["rx_packets"])
            self.assertEqual(got, want, "pV received frames the guest did not send")

        self.send_and_check("pV", a, cases, send)
        self.dp.assert_alive()
        self.good_pings()


if __name__ == "__main__":
    l2_env.main()
