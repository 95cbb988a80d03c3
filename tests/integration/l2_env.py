"""Helpers for the L2 switching integration tests (tests/integration/test_l2_*.py).

On top of controld_env (which is on top of vswtest): a switch run through the operator path
(vsw-dataplane + vsw-controld, configured with vswctl only), tap ports whose kernel ends are
moved into network namespaces ("hosts"), and raw AF_PACKET sockets inside those namespaces to
send hand-made frames (built with Scapy) and to capture what arrives, 802.1Q tags included.

    with l2_env.L2Env() as env:
        ctl = env.switch()                              # dataplane + controld, programmed
        h1 = env.tap_host("p1", "10.204.0.1/24")        # port p1, its interface in a netns
        ctl.vswctl("bridge", "add", "br0")
        ctl.vswctl("bridge", "attach", "br0", "p1")
        raw = env.raw(h1)                               # AF_PACKET socket in h1's namespace
        raw.send(marker_frame(h1.mac, BROADCAST, "hello"))
        raw.wait_incoming(has_token("hello"), 10, "...")

Why raw sockets rather than Scapy's own sockets: a raw socket is opened once inside the
namespace (setns around socket(), then back) and used from the test process: sending 10,000
frames takes milliseconds, nothing runs in a child process, and nothing has to be killed. And
the kernel always takes the 802.1Q tag off a received frame (skb_vlan_untag, even without the
8021q module) and reports it only as metadata (PACKET_AUXDATA): `RawPort` puts the tag back, so
a captured frame is what the switch sent.

Negative checks ("this frame never arrives there") use a barrier instead of a sleep: the
dataplane has one worker here (lcores 0,1: main + one worker) and every port's transmissions
are in order, so once a frame sent *later* (the barrier) has arrived on an interface, any copy
of the frame under test that the switch sent there has arrived too. See `Barrier`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import json
import logging
import os
import random
import select
import socket
import struct
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import controld_env
import vswtest
from controld_env import ControldEnv
from vswtest import wait_until

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.layers.l2 import Dot1Q, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

BROADCAST = "ff:ff:ff:ff:ff:ff"
# IEEE 802 "local experimental" EtherType: the namespaces' kernels have no handler for it and
# drop such frames silently (no replies to muddle the counters or the MAC table).
ETH_P_EXPERIMENTAL = 0x88B5
ETH_P_8021Q = 0x8100
ETH_P_ALL = 0x0003

SOL_PACKET = 263
SO_RCVBUFFORCE = 33  # not in Python's socket module
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING = range(5)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# Generous bounds for a small shared machine (two cores, other suites running at times).
FRAME_TIMEOUT = 10.0       # a frame through the switch (it takes milliseconds)
TABLE_TIMEOUT = 10.0       # the MAC table to show what the workers reported (drained every 2 ms)

MARKER = b"VSWL2TEST:"


# ---------------------------------------------------------------------------------------------
# Namespaces from inside the test process


@contextlib.contextmanager
def in_netns(name: str):
    """Runs the body with the calling thread in network namespace `name` (/run/netns/NAME, made
    by `ip netns add` in the test's mount namespace), then moves it back. Sockets created inside
    stay in that namespace for good. setns() applies to the calling thread only."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = None
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        if _libc.setns(target, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns({name}): {os.strerror(e)}")
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                # Cannot happen short of a kernel bug; fail loudly (the Env still cleans up:
                # processes by pid, namespaces by name).
                raise OSError(e, f"cannot return to the test's network namespace: "
                                 f"{os.strerror(e)}")
    finally:
        os.close(own)
        if target is not None:
            os.close(target)


# ---------------------------------------------------------------------------------------------
# Frames


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def mac_str(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def pad(frame: bytes, minimum: int = 60) -> bytes:
    """Pads to the Ethernet minimum (60 bytes without the FCS; 64 with a tag)."""
    return frame + b"\0" * max(0, minimum - len(frame))


def tagged(frame: bytes, vlan: Optional[int], priority: int = 0) -> bytes:
    """Inserts an 802.1Q tag after the MAC addresses; `vlan` None: unchanged."""
    if vlan is None:
        return frame
    return frame[:12] + struct.pack("!HH", ETH_P_8021Q, (priority << 13) | vlan) + frame[12:]


def scapy_frame(packet, vlan: Optional[int] = None) -> bytes:
    """A Scapy packet (Ether()/...) as bytes, tagged with `vlan` when given, padded."""
    if vlan is not None:
        eth = packet[Ether]
        # Dot1Q's type must be the original EtherType: Scapy infers it only from known layers.
        packet = Ether(src=eth.src, dst=eth.dst) / Dot1Q(vlan=vlan, type=eth.type) / eth.payload
    return pad(bytes(packet), 64 if vlan is not None else 60)


_tokens = itertools.count()


def token(label: str) -> str:
    """A unique marker token for this test process."""
    return f"{label}#{next(_tokens)}"


def marker_frame(src: str, dst: str, tok: str, vlan: Optional[int] = None) -> bytes:
    """A frame of the experimental EtherType carrying `tok`; tagged with `vlan` when given."""
    packet = Ether(src=src, dst=dst, type=ETH_P_EXPERIMENTAL) / Raw(MARKER + tok.encode() + b";")
    return scapy_frame(packet, vlan)


def random_macs(n: int, rng: random.Random, exclude: Iterable[str] = ()) -> list[str]:
    """`n` distinct random locally administered unicast MACs (first octet xxxxxx10)."""
    seen = {m.lower() for m in exclude}
    out = []
    while len(out) < n:
        b = bytearray(rng.getrandbits(8) for _ in range(6))
        b[0] = (b[0] & 0xFC) | 0x02
        m = mac_str(bytes(b))
        if m not in seen:
            seen.add(m)
            out.append(m)
    return out


def raw_marker_frames(srcs: list[str], dst: str, label: bytes = b"flood") -> list[bytes]:
    """Experimental-EtherType frames, one per source MAC, built with struct (fast, for
    thousands; the same layout marker_frame builds with Scapy)."""
    d = mac_bytes(dst)
    et = struct.pack("!H", ETH_P_EXPERIMENTAL)
    return [pad(d + mac_bytes(s) + et + MARKER + label + b";") for s in srcs]


@dataclass
class Frame:
    """A frame an interface saw: `data` as on the wire (802.1Q tag restored), `pkttype` the
    kernel's PACKET_* classification (PACKET_OUTGOING: the namespace sent it)."""
    data: bytes
    pkttype: int

    @property
    def incoming(self) -> bool:
        return self.pkttype != PACKET_OUTGOING

    @property
    def dst(self) -> str:
        return mac_str(self.data[0:6])

    @property
    def src(self) -> str:
        return mac_str(self.data[6:12])

    @property
    def tci(self) -> Optional[int]:
        """The outer 802.1Q tag's TCI (priority, DEI, VLAN ID), None when untagged."""
        if len(self.data) >= 16 and struct.unpack("!H", self.data[12:14])[0] == ETH_P_8021Q:
            return struct.unpack("!H", self.data[14:16])[0]
        return None

    @property
    def vlan(self) -> Optional[int]:
        """The VLAN ID of the outer 802.1Q tag, None when untagged."""
        tci = self.tci
        return None if tci is None else tci & 0xFFF

    @property
    def ethertype(self) -> int:
        off = 16 if self.vlan is not None else 12
        return struct.unpack("!H", self.data[off:off + 2])[0]

    def has(self, tok: str) -> bool:
        return MARKER + tok.encode() + b";" in self.data

    @functools.cached_property
    def parsed(self):
        return Ether(self.data)

    def scapy(self):
        """The frame parsed by Scapy (once)."""
        return self.parsed

    def __repr__(self) -> str:
        kind = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing"}
        return (f"Frame({self.src} > {self.dst} vlan={self.vlan} type=0x{self.ethertype:04x} "
                f"{kind.get(self.pkttype, self.pkttype)} {len(self.data)}B)")


def has_token(tok: str) -> Callable[[Frame], bool]:
    return lambda f: f.has(tok)


class RawPort:
    """A raw AF_PACKET socket (ETH_P_ALL) bound to `iface` inside namespace `ns_name`.

    `send()` writes frames as they are (a tag in the bytes goes out as a tag). Everything the
    interface sees is kept in `frames` (both directions; `Frame.incoming` tells them apart),
    read by `poll()`. PACKET_AUXDATA gives back the VLAN tag the kernel took off.
    """

    def __init__(self, ns_name: str, iface: str, rcvbuf: int = 8 << 20):
        self.ns_name = ns_name
        self.iface = iface
        with in_netns(ns_name):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            self.sock.bind((iface, ETH_P_ALL))  # the name is resolved in the socket's netns
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        self.frames: list[Frame] = []
        self.poll()
        self.frames.clear()  # what came in before the bind (lo) or before we looked

    def close(self) -> None:
        self.sock.close()

    def send(self, frame: bytes) -> None:
        n = self.sock.send(frame)
        if n != len(frame):
            raise AssertionError(f"{self.iface}: sent {n} of {len(frame)} bytes")

    def send_all(self, frames: Iterable[bytes]) -> int:
        """Sends every frame (retrying on a full socket buffer); returns how many."""
        count = 0
        for frame in frames:
            while True:
                try:
                    self.send(frame)
                    break
                except BlockingIOError:
                    select.select([], [self.sock], [], 1.0)
            count += 1
        return count

    def poll(self) -> list[Frame]:
        """Reads every frame queued on the socket into `frames`; returns the new ones."""
        new = []
        space = socket.CMSG_SPACE(AUXDATA.size)
        while True:
            try:
                data, ancdata, _flags, addr = self.sock.recvmsg(65536, space)
            except BlockingIOError:
                break
            for level, kind, cdata in ancdata:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cdata) >= AUXDATA.size:
                    status, _len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(cdata)
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = ETH_P_8021Q
                        data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
            new.append(Frame(data, addr[2]))
        self.frames.extend(new)
        return new

    def clear(self) -> None:
        self.poll()
        self.frames.clear()

    def incoming(self, pred: Callable[[Frame], bool] = lambda f: True) -> list[Frame]:
        """Frames received so far (not sent by the namespace) that match `pred`."""
        self.poll()
        return [f for f in self.frames if f.incoming and pred(f)]

    def wait_incoming(self, pred: Callable[[Frame], bool], timeout: float, what: str,
                      count: int = 1) -> list[Frame]:
        """Waits until at least `count` received frames match; returns them."""
        return wait_until(lambda: (lambda got: got if len(got) >= count else None)(
            self.incoming(pred)), timeout, f"{what} (on {self.iface} in {self.ns_name})",
            interval=0.02, state=lambda: self.frames[-8:])


# ---------------------------------------------------------------------------------------------
# Hosts: a tap port's kernel end in a namespace


@dataclass
class Host:
    """A switch port of type tap whose kernel interface sits in namespace `ns`."""
    port: str
    iface: str
    ns: vswtest.Netns
    ip: Optional[str]
    mac: str
    raw: Optional[RawPort] = field(default=None, repr=False)

    def ping(self, other: "Host", count: int = 3, interval: float = 0.1, deadline: float = 20.0):
        return self.ns.ping(other.ip, count=count, interval=interval, deadline=deadline)

    def neighbours(self) -> dict[str, dict]:
        """`ip -j neigh show dev IFACE` by address."""
        out = self.ns.exec(["ip", "-j", "neigh", "show", "dev", self.iface]).stdout
        return {n["dst"]: n for n in json.loads(out or "[]")}


def iface_mac(ns: vswtest.Netns, iface: str) -> str:
    return json.loads(ns.exec(["ip", "-j", "link", "show", "dev", iface]).stdout)[0]["address"]


# ---------------------------------------------------------------------------------------------
# What the switch says (vswctl --json)


def counter(state: dict, name: str) -> int:
    """A port counter from `vswctl --json port show`'s state (uint64s are JSON strings)."""
    return int(state["counters"].get(name, 0))


def mac_table(ctl: controld_env.Controld, bridge: Optional[str] = None) -> dict:
    """`vswctl --json mac list [BR]` by MAC (lower case); with no bridge, keyed (bridge, mac)."""
    args = ["mac", "list"] + ([bridge] if bridge else [])
    macs = ctl.vswctl(*args).get("macs", [])
    if bridge:
        return {m["mac"].lower(): m for m in macs}
    return {(m["bridge"], m["mac"].lower()): m for m in macs}


def bridge_state(ctl: controld_env.Controld, bridge: str) -> dict:
    return ctl.vswctl("bridge", "show", bridge)["state"]


def flow_totals(ctl: controld_env.Controld) -> dict[str, int]:
    """`vswctl --json flow stats`, summed over the workers."""
    totals = {"hits": 0, "misses": 0, "stale": 0, "inserts": 0, "evictions": 0}
    for w in ctl.vswctl("flow", "stats").get("workers", []):
        for k in totals:
            totals[k] += int(w.get(k, 0))
    return totals


# ---------------------------------------------------------------------------------------------
# Barriers


class Barrier:
    """Proves that a frame did *not* reach some interfaces, without sleeping.

    The dataplane runs one worker (the harness gives it lcores 0 and 1; lcore 0 is the main
    one), which reads each port in order and sends each port's output in order, and flushes
    every copy of a flooded frame in the same pass. So: once the frame under test has been
    seen where it must arrive (its flood or forwarding pass is over), send a broadcast (the
    barrier) from a port that reaches the interfaces where the frame must *not* arrive; when
    the barrier has arrived on each of them, anything the switch sent there earlier has
    arrived as well, and the absence of the frame is final.
    """

    def __init__(self, sender: RawPort, src: str, vlan: Optional[int] = None):
        self.sender = sender
        self.src = src
        self.vlan = vlan

    def cross(self, receivers: Iterable[RawPort], timeout: float = FRAME_TIMEOUT) -> None:
        tok = token("barrier")
        self.sender.send(marker_frame(self.src, BROADCAST, tok, self.vlan))
        for r in receivers:
            r.wait_incoming(has_token(tok), timeout, f"barrier {tok}")


def assert_absent(receivers: Iterable[RawPort], pred: Callable[[Frame], bool], what: str) -> None:
    """No receiver has received a frame matching `pred` (call after a Barrier.cross)."""
    for r in receivers:
        got = r.incoming(pred)
        if got:
            raise AssertionError(f"{what}: arrived on {r.iface} in {r.ns_name}: {got}")


# ---------------------------------------------------------------------------------------------
# Env


class L2Env(ControldEnv):
    """ControldEnv plus tap hosts and raw sockets (closed at exit)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ctl: Optional[controld_env.Controld] = None
        self.dp: Optional[vswtest.Dataplane] = None

    def switch(self) -> controld_env.Controld:
        """vsw-dataplane (one worker) and vsw-controld on the same run dir, programmed."""
        self.dp = self.dataplane()
        self.ctl = self.controld()
        self.ctl.wait_programmed()
        workers = self.ctl.vswctl("flow", "stats").get("workers", [])
        if len(workers) != 1:
            # The barrier argument (see Barrier) needs one worker.
            raise AssertionError(f"expected one dataplane worker, got {workers}")
        return self.ctl

    def tap_host(self, port: str, cidr: Optional[str] = None, ipv6: Optional[str] = None
                 ) -> Host:
        """`vswctl port add PORT --type tap --iface IF`, IF moved into a new namespace (IPv6
        off, `cidr` when given, up). Not attached to anything: attach it once it is in its
        namespace, so what the kernel sends while the interface is still in the root
        namespace (an MLD report) is dropped, not learned. With `ipv6` (a CIDR), IPv6 stays on
        in the namespace and the interface gets that address too."""
        assert self.ctl is not None, "call switch() first"
        iface = self.iface_name()
        p = self.ctl.vswctl("port", "add", port, "--type", "tap", "--iface", iface)
        if not p["state"]["programmed"]:
            raise AssertionError(f"port {port} not programmed: {p}")
        ns = self.netns(ipv6=ipv6 is not None)
        ns.adopt(iface, [a for a in (cidr, ipv6) if a])
        ip = cidr.split("/")[0] if cidr else None
        return Host(port, iface, ns, ip, iface_mac(ns, iface))

    def raw(self, host: Host) -> RawPort:
        """The host's raw socket (one per host), closed at exit."""
        if host.raw is None:
            host.raw = RawPort(host.ns.name, host.iface)
            self.callback(host.raw.close)
        return host.raw


def main() -> None:
    controld_env.main()
