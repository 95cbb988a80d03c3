# vsw-memory-modes: nohuge
"""Floods from a guest, while another pair of guests keeps its established traffic going.

Each test has an attacker port (a tap whose namespace writes prebuilt frames on a raw socket,
l2_env.RawPort) and a pair of guests, pC and pD, with a ping (controld_env.PingRun, 20 ms)
and a TCP stream (a 1 KiB echo round trip every 20 ms, STREAM below) started before the
flood; neither may lose anything, during or after. Through vswctl -> controld -> dataplane.

- test_mac_flood: 100,000 distinct source MACs. pA (port limit 1,000) sends 50,000, pE (no
  port limit) 50,000 more into the bridge (limit 4,000). The limits hold exactly (pA holds
  1,000, the bridge 4,000, every MAC of the flood not learned is counted: per port or per
  bridge limit drops, or, if the worker's learn ring overflowed, the worker's learn_dropped).
  The pair's MACs stay where they are. test_l2_limits covers the limits at 12,000 paced
  frames; this one sends unpaced, at the scale of a real attack.
- test_syn_flood: pB has a stateful ACL (TCP 80 from the subnet, default deny) and pD one
  for the pair's stream (TCP 5001, ICMP); the conntrack limit is 300. 20,000 SYNs from pA to
  pB:80 (distinct source ports) fill the shared table: the refused ones are exactly pB's
  ct_limit drops; pC's established stream to pD and its ping keep flowing (tracked
  connections need no new entry), a new connection to pD is refused while the table is
  full (the limit is global: counted on pD as ct_limit), and opens again after
  `conn flush pB`. test_acl covers the attacker's own connection surviving its flood.
- test_arp_flood: router interface r0 on br0 (10.242.0.1/16). pA sends ARP requests for r0's
  address from 3,000 distinct sender addresses (one MAC), then 3,000 for addresses nobody
  has. The neighbor table (capacity 1,024 here: `vsw-dataplane --neighbors`) stops at its
  capacity and counts the rest as table_full; every request for r0 that reached the router
  is answered, and those the worker could not hand over (punt ring full: the router's rate
  limit) are counted as punt_dropped; requests for other addresses create no entry and get
  no answer. pC's ping to pD across the router and its stream keep flowing; afterwards pC
  forgets r0's MAC and resolves it again: the router still answers legitimate ARP.

Floods are sent in bursts, each waited for in the attacker port's rx counter (the kernel's
tap queue is raised so it holds a burst), so every frame sent is accounted for.
"""

from __future__ import annotations

import signal
import struct
import threading
import time
from typing import Optional

import l2_env
import vswtest
from controld_env import PingRun
from l2_env import BROADCAST, L2Env, marker_frame, token
from vswtest import log, wait_until

BURST = 2000
BURST_TIMEOUT = 60.0

ECHO_SERVER = r"""
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
print("ready", flush=True)
def serve(c):
    while True:
        data = c.recv(65536)
        if not data:
            return
        c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# One 1 KiB round trip every 20 ms until SIGINT; prints "ok N" after each, "done N" at the
# end, "lost N: why" (exit 1) when an echo does not come back within 5 s.
STREAM = r"""
import signal, socket, sys, time
stop = False
def on_int(*_):
    global stop
    stop = True
signal.signal(signal.SIGINT, on_int)
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
except OSError as e:
    print(f"connect-failed {e}", flush=True); sys.exit(2)
print("connected", flush=True)
n = 0
chunk = b"s" * 1024
while not stop:
    try:
        s.sendall(chunk)
        got = 0
        while got < len(chunk):
            data = s.recv(len(chunk) - got)
            if not data:
                raise OSError("closed")
            got += len(data)
    except OSError as e:
        print(f"lost {n}: {e}", flush=True); sys.exit(1)
    n += 1
    print(f"ok {n}", flush=True)
    time.sleep(0.02)
print(f"done {n}", flush=True)
"""

CONNECT = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("connected")
except OSError as e:
    print(f"connect-failed {e}")
"""


class TcpStream:
    """STREAM in a namespace; `count()` is the number of round trips so far."""

    def __init__(self, ns: vswtest.Netns, addr: str, port: int):
        self.proc = ns.popen(["/usr/bin/python3", "-c", STREAM, addr, str(port)])
        first = self.proc.stdout.readline().strip()
        if first != "connected":
            raise AssertionError(f"stream to {addr}:{port}: {first} {self.proc.stderr.read()}")
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.strip())

    def count(self) -> int:
        with self._lock:
            for line in reversed(self.lines):
                if line.startswith(("ok ", "done ")):
                    return int(line.split()[1])
                if line.startswith("lost"):
                    raise AssertionError(f"the TCP stream broke: {line}")
        return 0

    def stop(self) -> int:
        """SIGINT; returns the round trips made; fails if the stream broke."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(30)
        self._reader.join(10)
        with self._lock:
            last = self.lines[-1] if self.lines else ""
        if code != 0 or not last.startswith("done"):
            raise AssertionError(f"the TCP stream ended with {code}: {last!r}")
        return int(last.split()[1])


class Pair:
    """The bystanders: pC pinging pD and streaming to pD:5001, both started at once."""

    def __init__(self, test: vswtest.TestCase, c, d, d_ip: Optional[str] = None):
        self.test = test
        self.server = d.ns.popen(["/usr/bin/python3", "-c", ECHO_SERVER, "5001"])
        test.assertEqual(self.server.stdout.readline().strip(), "ready")
        target = d_ip or d.ip
        self.stream = TcpStream(c.ns, target, 5001)
        self.ping = PingRun(c.ns, target, interval=0.02)
        wait_until(lambda: self.ping.reply_count() >= 10 and self.stream.count() >= 10, 30,
                   "the pair's ping and stream to be under way")

    def mark(self) -> tuple[int, int]:
        return self.ping.reply_count(), self.stream.count()

    def flowing_since(self, mark: tuple[int, int], what: str) -> None:
        """Both made progress since `mark` (10 more each)."""
        wait_until(lambda: (self.ping.reply_count() >= mark[0] + 10 and
                            self.stream.count() >= mark[1] + 10), 30,
                   f"the pair's ping and stream to go on {what}",
                   state=lambda: (self.ping.reply_count(), self.stream.count(), mark))

    def finish(self) -> None:
        sent, received = self.ping.stop()
        missing = self.ping.missing()
        trips = self.stream.stop()
        log(f"pair: ping {received}/{sent} lost {missing}; stream {trips} round trips")
        self.test.assertEqual(missing, [], "the pair's ping lost replies")


def flood(test: vswtest.TestCase, ctl, host, frames: list[bytes], raw) -> float:
    """Sends `frames` from `host` in bursts, each waited for in its port's rx counter (every
    frame the kernel accepted reached the switch). Returns the seconds it took."""
    host.ns.exec(["ip", "link", "set", "dev", host.iface, "txqueuelen", str(4 * BURST)])
    started = time.monotonic()

    def rx() -> int:
        return l2_env.counter(ctl.port(host.port)["state"], "rx_packets")
    want = rx()
    for i in range(0, len(frames), BURST):
        want += raw.send_all(frames[i:i + BURST])
        wait_until(lambda: rx() >= want, BURST_TIMEOUT, f"{host.port} to receive burst "
                   f"{i // BURST}", interval=0.02,
                   state=lambda: (rx(), want, host.ns.link_stats(host.iface)["tx"]))
    test.assertEqual(rx(), want, f"{host.port} received frames nobody sent")
    return time.monotonic() - started


def learn_dropped(ctl) -> int:
    return sum(int(w.get("learn_dropped", 0)) for w in ctl.vswctl("stats")["workers"])


def mac_frames(macs: list[str], dst: str) -> list[bytes]:
    return l2_env.raw_marker_frames(macs, dst, b"macflood")


def sequential_macs(first: int, n: int) -> list[str]:
    """`n` distinct locally administered unicast MACs 02:fl:xx:xx:xx:xx."""
    return [l2_env.mac_str(struct.pack("!HI", 0x02F1, first + i)) for i in range(n)]


class FloodsTest(vswtest.TestCase):

    def test_mac_flood(self):
        port_limit, bridge_limit, per_attacker = 1000, 4000, 50_000
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br0")
            pa, pe, pb = env.tap_host("pA"), env.tap_host("pE"), env.tap_host("pB")
            pc = env.tap_host("pC", "10.241.0.3/24")
            pd = env.tap_host("pD", "10.241.0.4/24")
            for h in (pa, pe, pb, pc, pd):
                ctl.vswctl("bridge", "attach", "br0", h.port)
            ctl.vswctl("port", "set", "pA", "--mac-limit", str(port_limit))
            b = ctl.vswctl("bridge", "set", "br0", "--mac-limit", str(bridge_limit))
            self.assertEqual(b["spec"]["mac_limit"], bridge_limit, b)
            # The flood goes to pB (learned): unicast, so the pair sees none of it.
            rb = env.raw(pb)
            rb.send(marker_frame(pb.mac, BROADCAST, token("pB")))
            pair = Pair(self, pc, pd)
            wait_until(lambda: {pb.mac, pc.mac, pd.mac} <= set(l2_env.mac_table(ctl, "br0")),
                       l2_env.TABLE_TIMEOUT, "pB, pC and pD to be learned")

            def state():
                a, e = ctl.port("pA")["state"], ctl.port("pE")["state"]
                br = l2_env.bridge_state(ctl, "br0")
                return {"pA.macs": a["macs"], "pA.drops": int(a["learn_limit_drops"]),
                        "pE.macs": e["macs"], "br0.macs": br["macs"],
                        "br0.drops": int(br["learn_limit_drops"]),
                        "learn_dropped": learn_dropped(ctl)}

            # --- pA: 50,000 sources against its port limit
            mark = pair.mark()
            took = flood(self, ctl, pa, mac_frames(sequential_macs(0, per_attacker), pb.mac),
                         env.raw(pa))
            log(f"pA: {per_attacker} source MACs in {took:.1f} s")
            pair.flowing_since(mark, "during and after pA's flood")

            def settled_a():
                s = state()
                return s if (s["pA.macs"] == port_limit and s["pA.drops"] + s["learn_dropped"]
                             == per_attacker - port_limit) else None
            s = wait_until(settled_a, l2_env.TABLE_TIMEOUT,
                           "pA to hold its limit and every other source to be counted",
                           state=state)
            log(f"after pA's flood: {s}")
            self.assertEqual(s["br0.macs"], port_limit + 3, s)
            self.assertEqual(s["br0.drops"], 0, s)

            # --- pE: 50,000 more sources, no port limit: the bridge's limit
            before = s
            mark = pair.mark()
            took = flood(self, ctl, pe,
                         mac_frames(sequential_macs(per_attacker, per_attacker), pb.mac),
                         env.raw(pe))
            log(f"pE: {per_attacker} source MACs in {took:.1f} s")
            pair.flowing_since(mark, "during and after pE's flood")

            def settled_e():
                s = state()
                return s if (s["br0.macs"] == bridge_limit and s["pE.macs"] + s["br0.drops"] +
                             s["learn_dropped"] - before["learn_dropped"] == per_attacker) \
                    else None
            s = wait_until(settled_e, l2_env.TABLE_TIMEOUT,
                           "the bridge to hold its limit and every other source to be counted",
                           state=state)
            log(f"after pE's flood: {s}")
            self.assertEqual(s["pE.macs"], bridge_limit - port_limit - 3, s)
            self.assertEqual((s["pA.macs"], s["pA.drops"]), (port_limit, before["pA.drops"]), s)
            table = l2_env.mac_table(ctl, "br0")
            self.assertEqual(len(table), bridge_limit)
            self.assertEqual({m: table[m]["port"] for m in (pb.mac, pc.mac, pd.mac)},
                             {pb.mac: "pB", pc.mac: "pC", pd.mac: "pD"})
            # Every flood frame went to pB alone.
            self.assertEqual(l2_env.counter(ctl.port("pC")["state"], "drop_tx_full"), 0)
            pair.finish()
            env.dp.assert_alive()

    def test_syn_flood(self):
        limit, syns = 300, 20_000
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br0")
            pa = env.tap_host("pA", "10.241.1.1/24")
            pb = env.tap_host("pB", "10.241.1.2/24")
            pc = env.tap_host("pC", "10.241.1.3/24")
            pd = env.tap_host("pD", "10.241.1.4/24")
            for h in (pa, pb, pc, pd):
                ctl.vswctl("bridge", "attach", "br0", h.port)

            def acl(port: str, *args: str) -> None:
                r = ctl.vswctl.raw("acl", "add", port, "--dir", "to-port", *args)
                self.assertEqual(r.returncode, 0, r.stderr)
            # ARP is not IP: the ACL passes it.
            acl("pB", "--priority", "100", "--action", "permit-stateful", "--src",
                "10.241.1.0/24", "--proto", "tcp", "--dport", "80")
            acl("pD", "--priority", "100", "--action", "permit-stateful", "--src",
                "10.241.1.3/32", "--proto", "tcp", "--dport", "5001")
            acl("pD", "--priority", "90", "--action", "permit-stateful", "--src",
                "10.241.1.3/32", "--proto", "icmp", "--icmp-type", "8")
            for p in ("pB", "pD"):
                ctl.vswctl("acl", "default", p, "--dir", "to-port", "deny")
            ct = ctl.vswctl("conntrack", "set", "--limit", str(limit))
            self.assertTrue(ct["programmed"], ct)
            pair = Pair(self, pc, pd)
            rb = env.raw(pb)
            rb.send(marker_frame(pb.mac, BROADCAST, token("pB")))
            wait_until(lambda: pb.mac in l2_env.mac_table(ctl, "br0"), l2_env.TABLE_TIMEOUT,
                       "pB to be learned")

            def conns() -> int:
                return int(ctl.vswctl("conntrack", "show")["stats"]["connections"])

            def ct_limit(port: str) -> int:
                return l2_env.counter(ctl.port(port)["state"], "drop_ct_limit")
            existing = conns()
            self.assertEqual(existing, 2, ctl.vswctl("conn", "list"))  # the stream, the ping
            from scapy.layers.inet import IP, TCP
            from scapy.layers.l2 import Ether
            template = bytes(Ether(src="02:66:00:00:01:01", dst=pb.mac) /
                             IP(src="10.241.1.66", dst=pb.ip) /
                             TCP(sport=1, dport=80, flags="S", seq=1))
            frames = []
            for i in range(syns):  # distinct source ports: each SYN opens a connection
                f = bytearray(template)
                f[34:36] = struct.pack("!H", 1024 + i)
                frames.append(bytes(f))
            mark = pair.mark()
            took = flood(self, ctl, pa, frames, env.raw(pa))
            log(f"{syns} SYNs in {took:.1f} s")
            # The pair's connections were tracked before: they keep flowing on a full table.
            pair.flowing_since(mark, "during and after the SYN flood")
            admitted = limit - existing
            wait_until(lambda: ct_limit("pB") == syns - admitted, 30,
                       f"pB's ct_limit drops to be {syns - admitted}",
                       state=lambda: (ct_limit("pB"), conns()))
            self.assertEqual(conns(), limit)
            # A new connection to pD is refused while the (global) table is full.
            refused = ct_limit("pD")
            r = pc.ns.exec(["/usr/bin/python3", "-c", CONNECT, pd.ip, "5001", "2"])
            self.assertTrue(r.stdout.startswith("connect-failed"), r.stdout)
            self.assertGreater(ct_limit("pD"), refused)
            # Flushing the flood's connections makes room again.
            ctl.vswctl("conn", "flush", "pB")
            wait_until(lambda: conns() <= existing + 1, 10, "the flood's connections to go",
                       state=conns)
            r = pc.ns.exec(["/usr/bin/python3", "-c", CONNECT, pd.ip, "5001", "5"])
            self.assertEqual(r.stdout.strip(), "connected", r.stdout)
            pair.flowing_since(pair.mark(), "after the flush")
            pair.finish()
            env.dp.assert_alive()

    def test_arp_flood(self):
        capacity, sources = 1024, 3000
        with L2Env() as env:
            # The dataplane with a small neighbor table (a dataplane option).
            dp = vswtest.Dataplane(env.workdir, env.memory)
            dp.cmd += ["--neighbors", str(capacity)]
            env._logs.append(dp.log_path)
            env.callback(dp.stop)
            env.dp = dp.start()
            ctl = env.ctl = env.controld()
            ctl.wait_programmed()
            for br in ("br0", "br1"):
                ctl.vswctl("bridge", "add", br)
            pa = env.tap_host("pA")
            pc = env.tap_host("pC", "10.242.0.3/16")
            pd = env.tap_host("pD", "10.243.0.4/24")
            for h, br in ((pa, "br0"), (pc, "br0"), (pd, "br1")):
                ctl.vswctl("bridge", "attach", br, h.port)
            r0 = ctl.vswctl("router-if", "add", "r0", "--bridge", "br0", "--ip", "10.242.0.1/16")
            ctl.vswctl("router-if", "add", "r1", "--bridge", "br1", "--ip", "10.243.0.1/24")
            pc.ns.exec(["ip", "route", "add", "default", "via", "10.242.0.1"])
            pd.ns.exec(["ip", "route", "add", "default", "via", "10.243.0.1"])
            r0_mac = r0["spec"]["mac"]
            pair = Pair(self, pc, pd)

            def router() -> dict[str, int]:
                s = dp.dpctl("router", "stats")["router_stats"]
                return {k: int(s[k]) for k in ("arp_replies", "punt_dropped", "neighbors")}

            def table_full() -> int:
                return int(dp.dpctl("neigh", "list")["neighbors"]["counters"]
                           .get("table_full", 0))
            before, full_before = router(), table_full()
            self.assertEqual(before["neighbors"], 2, before)  # pC, pD
            from scapy.layers.l2 import ARP, Ether
            atk = "02:66:00:00:02:01"

            def arp_request(spa: str, tpa: str) -> bytes:
                return l2_env.pad(bytes(Ether(src=atk, dst=BROADCAST) /
                                        ARP(op=1, hwsrc=atk, psrc=spa, pdst=tpa)))
            senders = [f"10.242.{1 + i // 250}.{1 + i % 250}" for i in range(sources)]
            for_router = [arp_request(s, "10.242.0.1") for s in senders]
            mark = pair.mark()
            took = flood(self, ctl, pa, for_router, env.raw(pa))
            log(f"{sources} ARP requests for r0 in {took:.1f} s")

            def settled():
                r = router()
                answered = r["arp_replies"] - before["arp_replies"]
                lost = r["punt_dropped"] - before["punt_dropped"]
                full = table_full() - full_before
                return (r, answered, lost, full) if answered + lost == sources and \
                    r["neighbors"] - before["neighbors"] + full == answered else None
            r, answered, lost, full = wait_until(
                settled, 30, "every request to be answered or counted", state=router)
            log(f"ARP flood: {answered} answered, {lost} lost to a full punt ring, "
                f"{full} not learned (table full), {r['neighbors']} neighbors")
            self.assertLessEqual(r["neighbors"], capacity, r)
            self.assertGreater(full, 0)
            self.assertGreater(answered, capacity)
            pair.flowing_since(mark, "during and after the ARP flood")

            # Requests for other addresses: flooded in br0, no neighbor entry.
            others = [arp_request("10.242.200.1", f"10.242.{100 + i // 250}.{1 + i % 250}")
                      for i in range(sources)]
            before2, full2 = router(), table_full()
            flood(self, ctl, pa, others, env.raw(pa))
            # A last request for r0 from a known sender: once it is answered, the router has
            # handled everything before it (one punt ring, in order).
            replies = router()["arp_replies"]
            env.raw(pa).send(arp_request(senders[0], "10.242.0.1"))
            wait_until(lambda: router()["arp_replies"] == replies + 1, 30,
                       "the router to answer after the second flood", state=router)
            after = router()
            self.assertEqual((after["neighbors"], after["arp_replies"], table_full()),
                             (r["neighbors"], before2["arp_replies"] + 1, full2), after)

            # Legitimate ARP is still answered: pC forgets r0's MAC and asks again.
            pc.ns.exec(["ip", "neigh", "flush", "dev", pc.iface])
            r = pc.ns.ping("10.242.0.1", count=2, interval=0.1)
            self.assertEqual(vswtest.parse_ping(r.stdout)[1], 2, r.stdout)
            neigh = pc.neighbours()
            self.assertEqual(neigh.get("10.242.0.1", {}).get("lladdr"), r0_mac, neigh)
            pair.flowing_since(pair.mark(), "after the ARP floods")
            pair.finish()
            env.dp.assert_alive()


if __name__ == "__main__":
    l2_env.main()
