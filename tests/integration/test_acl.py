# vsw-memory-modes: nohuge
"""The stateful ACL end to end, through vswctl only, the Linux kernel as hosts.

Namespace A sits on br0 (10.211.1.2/24, fd11:1::2/64), B on br1 (10.211.2.2/24,
fd11:2::2/64), routed by r0/r1 (.1, ::1). B's port pb gets, to-port (towards B), a default
deny and `permit-stateful` from A's subnet for TCP port 80:

- A connects to a listener on B:80 and exchanges data; `conn list pb` shows it ESTABLISHED;
- B cannot open a connection to A (A's SYN-ACK is no reply of a tracked connection);
- ICMP is denied until a rule permits echo requests from A; then ping works;
- a UDP request/response works through a stateful UDP rule;
- IPv6: with neighbor discovery permitted (ICMPv6 135/136), A connects to [B]:80 through a
  rule for A's IPv6 subnet; ping6 stays denied;
- deleting the TCP rule while a connection is established stops it on its next packet;
  adding it again lets a new connection through;
- with a conntrack limit of 1000, a flood of 10,000 SYNs from A (raw frames, random source
  ports) leaves the established connection working, and the refused ones are counted as
  pb's ct_limit drops.

The routing does not depend on DPDK's memory mode: one mode is enough.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess

import controld_env
import vswtest
from controld_env import ControldEnv
from l2_env import L2Env, scapy_frame
from vswtest import log, parse_ping, wait_until

A4, B4 = "10.211.1.2", "10.211.2.2"
A6, B6 = "fd11:1::2", "fd11:2::2"
R4 = {"r0": "10.211.1.1", "r1": "10.211.2.1"}
R6 = {"r0": "fd11:1::1", "r1": "fd11:2::1"}
CONNECT_TIMEOUT = 5.0   # a connection attempt that the ACL drops fails after this
REPLY_TIMEOUT = 5.0     # an echo that does not come back within this is lost
FLOOD = 10_000
LIMIT = 1000

# A line-oriented TCP/UDP echo server on both families (dual-stack socket), one thread per
# TCP connection. Prints "ready" once bound.
ECHO_SERVER = r"""
import socket, sys, threading
port = int(sys.argv[1])
def tcp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port)); s.listen(4096)
    while True:
        c, _ = s.accept()
        def serve(c=c):
            while True:
                data = c.recv(4096)
                if not data:
                    return
                c.sendall(data)
        threading.Thread(target=serve, daemon=True).start()
def udp():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port))
    while True:
        data, peer = u.recvfrom(4096)
        u.sendto(b"re:" + data, peer)
threading.Thread(target=tcp, daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

# A TCP client driven over stdin: connects to ADDR PORT, then for each line read, sends it
# and prints "ok LINE" when the echo is back, "lost" when not within the timeout.
# Prints "connected" or "connect-failed REASON" first.
TCP_CLIENT = r"""
import socket, sys
addr, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    s = socket.create_connection((addr, port), timeout=timeout)
except OSError as e:
    print("connect-failed", e, flush=True); sys.exit(0)
print("connected", flush=True)
for line in sys.stdin:
    line = line.strip().encode()
    try:
        s.sendall(line)
        got = b""
        while len(got) < len(line):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        print("ok " + got.decode() if got == line else "lost closed", flush=True)
    except OSError as e:
        print("lost", e, flush=True)
"""

UDP_REQUEST = r"""
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
s.sendto(b"query", (addr, port))
try:
    print(s.recvfrom(4096)[0].decode())
except socket.timeout:
    print("timeout")
"""


class Client:
    """TCP_CLIENT in a namespace; stopped by pid at exit."""

    def __init__(self, env: L2Env, ns: vswtest.Netns, addr: str, port: int):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, "/usr/bin/python3", "-c", TCP_CLIENT, addr,
             str(port), str(CONNECT_TIMEOUT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        env.callback(self.stop)
        # The client bounds its connect by CONNECT_TIMEOUT, so this returns.
        self.status = self.proc.stdout.readline().strip()

    def exchange(self, text: str) -> str:
        """Sends `text`; "ok TEXT" when echoed, "lost ..." otherwise (bounded by the client's
        socket timeout)."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.communicate(timeout=10)


class AclTest(vswtest.TestCase):

    def test_stateful_acl_between_routed_hosts(self):
        with L2Env() as env:
            ctl = env.switch()
            for br in ("br0", "br1"):
                ctl.vswctl("bridge", "add", br)
            a = env.tap_host("pa", f"{A4}/24", ipv6=f"{A6}/64")
            b = env.tap_host("pb", f"{B4}/24", ipv6=f"{B6}/64")
            ctl.vswctl("bridge", "attach", "br0", "pa")
            ctl.vswctl("bridge", "attach", "br1", "pb")
            r0 = ctl.vswctl("router-if", "add", "r0", "--bridge", "br0", "--ip",
                            f"{R4['r0']}/24", "--ip", f"{R6['r0']}/64")
            ctl.vswctl("router-if", "add", "r1", "--bridge", "br1", "--ip", f"{R4['r1']}/24",
                       "--ip", f"{R6['r1']}/64")
            for h, rif in ((a, "r0"), (b, "r1")):
                h.ns.exec(["ip", "route", "add", "default", "via", R4[rif]])
                h.ns.exec(["ip", "-6", "route", "add", "default", "via", R6[rif]])
            # Before any ACL: B is reachable, both families.
            for dst in (B4, B6):
                r = a.ns.ping(dst, count=2, interval=0.1)
                self.assertEqual(parse_ping(r.stdout), (2, 2), f"{dst}: {r.stdout}")

            for h in (a, b):
                server = h.ns.popen(["/usr/bin/python3", "-c", ECHO_SERVER, "80"])
                self.assertEqual(server.stdout.readline().strip(), "ready")

            def acl_add(*args: str) -> int:
                r = ctl.vswctl.raw("acl", "add", "pb", "--dir", "to-port", *args)
                self.assertEqual(r.returncode, 0, f"acl add {args}: {r.stderr}")
                return int(r.stdout.strip())

            tcp4 = acl_add("--priority", "100", "--action", "permit-stateful", "--src",
                           "10.211.1.0/24", "--proto", "tcp", "--dport", "80")
            ctl.vswctl("acl", "default", "pb", "--dir", "to-port", "deny")
            acls = ctl.vswctl("acl", "list", "pb")["acls"]
            self.assertTrue(acls[0]["programmed"], acls)

            # --- A -> B:80 through the stateful rule
            c1 = Client(env, a.ns, B4, 80)
            self.assertEqual(c1.status, "connected")
            self.assertEqual(c1.exchange("hello"), "ok hello")
            conns = ctl.vswctl("conn", "list", "pb")["connections"]
            self.assertTrue(any(c["proto"] == "tcp" and c["src"] == A4 and c["dport"] == 80
                                and c["state"] == "ESTABLISHED" for c in conns), conns)
            human = ctl.vswctl.raw("conn", "list", "pb")
            self.assertIn(f"{B4}:80", human.stdout)

            # --- B cannot open a connection to A
            back = Client(env, b.ns, A4, 80)
            self.assertTrue(back.status.startswith("connect-failed"), back.status)

            # --- ICMP: denied, then permitted
            r = a.ns.exec(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", B4], check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)
            icmp4 = acl_add("--priority", "90", "--action", "permit-stateful", "--src",
                            "10.211.1.0/24", "--proto", "icmp", "--icmp-type", "8")
            # (A loaded machine may lose an echo to ping's timeout: one answer proves the rule.)
            r = a.ns.ping(B4, count=3, interval=0.1)
            self.assertGreaterEqual(parse_ping(r.stdout)[1], 1, r.stdout)

            # --- UDP request/response through a stateful UDP rule
            def udp(addr: str) -> str:
                return a.ns.exec(["/usr/bin/python3", "-c", UDP_REQUEST, addr, "80",
                                  str(REPLY_TIMEOUT)], timeout=REPLY_TIMEOUT + 20).stdout.strip()
            self.assertEqual(udp(B4), "timeout")
            acl_add("--priority", "80", "--action", "permit-stateful", "--src", "10.211.1.0/24",
                    "--proto", "udp", "--dport", "80")
            self.assertEqual(udp(B4), "re:query")

            # --- IPv6: neighbor discovery, then TCP through a rule for A's IPv6 subnet
            for t in ("135", "136"):
                acl_add("--priority", "1000", "--action", "permit", "--proto", "icmpv6",
                        "--icmp-type", t)
            c6 = Client(env, a.ns, B6, 80)
            self.assertTrue(c6.status.startswith("connect-failed"), c6.status)
            acl_add("--priority", "100", "--action", "permit-stateful", "--src", "fd11:1::/64",
                    "--proto", "tcp", "--dport", "80")
            c6 = Client(env, a.ns, B6, 80)
            self.assertEqual(c6.status, "connected")
            self.assertEqual(c6.exchange("six"), "ok six")
            r = a.ns.exec(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", B6], check=False)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)

            # --- removing the permit stops an established connection on its next packet;
            # adding it again lets new connections through
            ctl.vswctl("acl", "del", "pb", str(tcp4))
            self.assertTrue(c1.exchange("after-del").startswith("lost"))
            tcp4 = acl_add("--priority", "100", "--action", "permit-stateful", "--src",
                           "10.211.1.0/24", "--proto", "tcp", "--dport", "80")
            c2 = Client(env, a.ns, B4, 80)
            self.assertEqual(c2.status, "connected")
            self.assertEqual(c2.exchange("again"), "ok again")

            # --- conntrack limit, SYN flood from A; the established connection survives
            ct = ctl.vswctl("conntrack", "set", "--limit", str(LIMIT))
            self.assertTrue(ct["programmed"], ct)
            self.assertEqual(ct["stats"]["limit"], LIMIT, ct)
            before = int(ctl.port("pb")["state"]["counters"]["drop_ct_limit"])
            seed = int(os.environ.get("VSW_SEED", random.randrange(1 << 30)))
            log(f"SYN flood seed {seed} (VSW_SEED={seed} replays it)")
            rng = random.Random(seed)
            from scapy.layers.inet import IP, TCP
            from scapy.layers.l2 import Ether
            frames = [scapy_frame(Ether(src=a.mac, dst=r0["spec"]["mac"]) /
                                  IP(src=A4, dst=B4) /
                                  TCP(sport=rng.randrange(1024, 65536), dport=80, flags="S",
                                      seq=rng.randrange(1 << 32)))
                      for _ in range(FLOOD)]
            # A queue long enough for the whole flood, so the kernel's tap does not drop
            # most of it before the switch sees it.
            a.ns.exec(["ip", "link", "set", "dev", a.iface, "txqueuelen", str(2 * FLOOD)])
            sent = env.raw(a).send_all(frames)
            log(f"SYN flood: {sent} frames sent from A")

            def limit_drops() -> int:
                return int(ctl.port("pb")["state"]["counters"]["drop_ct_limit"]) - before
            # Most of the flood is over the limit (some source ports repeat, and a loaded
            # machine may lose some frames on the way in: half is the bound).
            wait_until(lambda: limit_drops() >= (FLOOD - LIMIT) // 2, 60,
                       "pb's ct_limit drops to count the flood",
                       state=lambda: ctl.port("pb")["state"]["counters"])
            stats = ctl.vswctl("conntrack", "show")["stats"]
            log(f"after the flood: {limit_drops()} ct_limit drops on pb; conntrack {stats}")
            self.assertLessEqual(stats["connections"], LIMIT, stats)
            self.assertGreater(int(stats["limit_drops"]), 0, stats)
            self.assertEqual(c2.exchange("still-there"), "ok still-there")
            show = ctl.vswctl.raw("port", "show", "pb")
            self.assertRegex(show.stdout, r"ct_limit", show.stdout)

            # --- flushing forgets the flood's connections; new connections open again
            flushed = ctl.vswctl("conn", "flush", "pb")
            log(f"conn flush pb: {flushed}")
            c3 = Client(env, a.ns, B4, 80)
            self.assertEqual(c3.status, "connected")
            self.assertEqual(c3.exchange("fresh"), "ok fresh")
            hits = {r["spec"]["id"]: int(r["state"]["hits"])
                    for acl in ctl.vswctl("acl", "list", "pb")["acls"] for r in acl["rules"]}
            log(f"rule hits: {hits}")
            self.assertGreater(hits[icmp4], 0, hits)
            self.assertGreater(hits[tcp4], 0, hits)


    def test_replayed_after_restarts(self):
        """Rules stored while the dataplane is down are programmed when it comes; a killed
        dataplane gets them back; a restarted controld adopts them without re-sending (the
        dataplane's generation of the list does not change); a setting the dataplane refuses
        is not stored."""
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "pb", "--type", "ring")
            ctl.vswctl("acl", "add", "pb", "--dir", "to-port", "--priority", "100", "--action",
                       "permit-stateful", "--src", "10.1.0.0/24", "--proto", "tcp",
                       "--dport", "80")
            ctl.vswctl("acl", "add", "pb", "--dir", "from-port", "--priority", "5", "--action",
                       "deny", "--dst", "fd00::/8", "--proto", "udp")
            ctl.vswctl("acl", "default", "pb", "--dir", "to-port", "deny")
            ctl.vswctl("conntrack", "set", "--limit", "500", "--timeout", "icmp=7")
            self.assertFalse(ctl.vswctl("acl", "list", "pb")["acls"][0]["programmed"])

            def live(dp) -> dict:
                acls = dp.dpctl("acl", "list", "pb")["acls"].get("acls", [])
                return {a["dir"]: (a.get("default_action"), sorted(int(r["rule"]["id"])
                                                                   for r in a.get("rules", [])),
                                   a.get("generation"))
                        for a in acls}

            def check_programmed(dp) -> dict:
                ctl.wait_programmed()
                acls = ctl.vswctl("acl", "list", "pb")["acls"]
                self.assertTrue(all(a["programmed"] for a in acls), acls)
                have = live(dp)
                self.assertEqual({d: v[:2] for d, v in have.items()},
                                 {"ACL_DIRECTION_TO_PORT": ("ACL_ACTION_DENY", [1]),
                                  "ACL_DIRECTION_FROM_PORT": ("ACL_ACTION_PERMIT", [2])}, have)
                ct = ctl.vswctl("conntrack", "show")
                self.assertTrue(ct["programmed"], ct)
                self.assertEqual((ct["stats"]["limit"], ct["stats"]["timeouts"]["icmp"]),
                                 (500, 7), ct)
                return have

            dp = env.dataplane()
            check_programmed(dp)
            controld_env.kill_dataplane(env, dp)
            dp = env.dataplane()
            before = check_programmed(dp)
            ctl.kill()
            ctl.start()
            self.assertEqual(check_programmed(dp), before, "controld re-sent an unchanged list")

            # A limit past the dataplane's capacity: refused by the dataplane, not stored.
            state = ctl.state_file.read_bytes()
            code, line = ctl.vswctl_fail("conntrack", "set", "--limit", "4000000000", code=1)
            log(f"refused by the dataplane: {line}")
            self.assertEqual(ctl.state_file.read_bytes(), state)
            self.assertEqual(ctl.vswctl("conntrack", "show")["spec"]["limit"], 500)

            # Deleting the port deletes its ACL, in controld and in the dataplane.
            ctl.vswctl("port", "del", "pb")
            ctl.vswctl("port", "add", "pb", "--type", "ring")
            self.assertEqual(live(dp), {})
            self.assertEqual(ctl.vswctl("acl", "list")["acls"], [])


if __name__ == "__main__":
    import l2_env
    l2_env.main()
