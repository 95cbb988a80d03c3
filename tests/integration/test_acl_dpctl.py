# vsw-memory-modes: nohuge
"""The stateful ACL against the Linux kernel, driven through the dataplane socket (vsw-dpctl;
controld's side comes separately). Two namespaces on one bridge:

    A (pa, 10.214.0.1, fd00:214::1) -- br0 -- B (pb, 10.214.0.2, fd00:214::2)

B's port gets a to-port ACL (what the switch sends towards B): permit-stateful TCP to port 80
from A's subnet (IPv4 and IPv6), permit ICMPv6 neighbor discovery, default deny.

- A connects to a listener on B:80 and exchanges data; `conn list pb` shows the connection;
- B cannot connect to A (A's SYN-ACK is denied towards B, counted as acl_deny on pb);
- ping is denied until a rule permits ICMP, then works;
- UDP request/response through a stateful UDP rule (denied before it);
- the same TCP exchange over IPv6;
- connection limit: with `ct set --limit N`, a burst of raw SYNs from A fills the table, the
  rest are dropped as ct_limit, and a connection established before keeps working.

The ACL does not depend on DPDK's memory mode: one mode is enough.
"""

import json

import vswtest
from vswtest import wait_until

SERVER = r"""
import socket, sys, threading
addr, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
if kind == 'udp':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
def serve(c):
    with c:
        while True:
            data = c.recv(2048)
            if not data:
                return
            c.sendall(data)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

CLIENT = r"""
import socket, sys
addr, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
if kind == 'udp':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(b'ping-udp', (addr, port))
    print(s.recvfrom(2048)[0].decode())
else:
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(b'hello-tcp')
    print(s.recv(2048).decode())
"""

# Holds one connection open: an exchange, then (once the flag file exists) another one.
HOLDER = r"""
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'one')
print(s.recv(2048).decode(), flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.05)
s.sendall(b'two')
print(s.recv(2048).decode(), flush=True)
"""

# SYNs from many source ports to B:80 through a raw socket (the kernel adds the IP header).
SYN_FLOOD = r"""
import socket, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, 20)
for i in range(n):
    tcp = struct.pack('!HHIIBBHHH', 20000 + i % 40000, 80, i, 0, 5 << 4, 0x02, 65535, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    s.sendto(tcp, (dst, 0))
"""

TO_B = ("--rule", "id=1,priority=10,action=permit-stateful,src=10.214.0.0/24,proto=tcp,dport=80",
        "--rule", "id=2,priority=10,action=permit-stateful,src=fd00:214::/64,proto=tcp,dport=80",
        "--rule", "id=3,priority=20,action=permit,proto=icmpv6,icmp-type=135",
        "--rule", "id=4,priority=20,action=permit,proto=icmpv6,icmp-type=136")


class Host:
    def __init__(self, env, dp, port, v4, v6):
        self.port, self.v4, self.v6 = port, v4, v6
        self.iface = env.iface_name()
        dp.port_add(port, "tap", iface=self.iface)
        self.ns = env.netns(ipv6=True)
        self.ns.adopt(self.iface, [f"{v4}/24", f"{v6}/64"])
        dp.dpctl("bridge", "attach", "br0", port)

    def serve(self, addr, port, kind="tcp"):
        proc = self.ns.popen(["/usr/bin/python3", "-c", SERVER, addr, str(port), kind])
        flag = "-lun" if kind == "udp" else "-ltn"
        wait_until(lambda: f":{port} " in self.ns.exec(["ss", flag]).stdout, 10,
                   f"{kind} listener on {addr}:{port}")
        return proc

    def client(self, addr, port, kind="tcp"):
        return self.ns.exec(["/usr/bin/python3", "-c", CLIENT, addr, str(port), kind],
                            timeout=15, check=False)


def drops(dp, port):
    return dp.port(port)["drops"]


class AclTest(vswtest.TestCase):

    def test_stateful_acl_between_namespaces(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            dp.dpctl("bridge", "add", "br0")
            a = Host(env, dp, "pa", "10.214.0.1", "fd00:214::1")
            b = Host(env, dp, "pb", "10.214.0.2", "fd00:214::2")
            self.assertEqual(vswtest.parse_ping(a.ns.ping(b.v4, count=1).stdout), (1, 1))

            dp.dpctl("acl", "set", "pb", "--dir", "to-port", "--default", "deny", *TO_B)
            listed = dp.dpctl("acl", "list", "pb")["acls"]["acls"]
            self.assertEqual(len(listed), 1, listed)
            self.assertEqual(listed[0]["default_action"], "ACL_ACTION_DENY", listed)
            self.assertEqual(len(listed[0]["rules"]), 4, listed)

            # --- A opens a connection to B:80 and exchanges data.
            b.serve(b.v4, 80)
            r = a.client(b.v4, 80)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "hello-tcp"), r.stderr)
            conns = dp.dpctl("conn", "list", "pb")["conns"]
            tcp = [c for c in conns.get("conns", []) if c["proto"] == "tcp"]
            self.assertTrue(tcp, conns)
            self.assertEqual((tcp[0]["src"], tcp[0]["dst"], tcp[0]["dport"], tcp[0]["opened"]),
                             (a.v4, b.v4, 80, "ACL_DIRECTION_TO_PORT"), tcp)

            # --- B cannot connect to A: A's answers are denied towards B.
            a.serve(a.v4, 8080)
            denied = int(drops(dp, "pb")["acl_deny"])
            r = b.client(a.v4, 8080)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertGreater(int(drops(dp, "pb")["acl_deny"]), denied)

            # --- ICMP denied until a rule permits it.
            self.assertEqual(vswtest.parse_ping(a.ns.ping(b.v4, count=1, deadline=3).stdout)[1], 0)
            dp.dpctl("acl", "set", "pb", "--dir", "to-port", "--default", "deny", *TO_B,
                     "--rule", "id=5,priority=10,action=permit-stateful,proto=icmp")
            # (A loaded machine may lose an echo to ping's timeout: one answer proves the rule.)
            self.assertGreaterEqual(vswtest.parse_ping(a.ns.ping(b.v4, count=3).stdout)[1], 1)

            # --- UDP request/response through a stateful UDP rule (denied before it).
            b.serve(b.v4, 5353, "udp")
            self.assertNotEqual(a.client(b.v4, 5353, "udp").returncode, 0)
            dp.dpctl("acl", "set", "pb", "--dir", "to-port", "--default", "deny", *TO_B,
                     "--rule", "id=5,priority=10,action=permit-stateful,proto=icmp",
                     "--rule", "id=6,priority=10,action=permit-stateful,proto=udp,dport=5353")
            r = a.client(b.v4, 5353, "udp")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "ping-udp"), r.stderr)

            # --- IPv6: the same TCP exchange (ND permitted by rules 3 and 4).
            b.serve(b.v6, 80)
            r = a.client(b.v6, 80)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "hello-tcp"), r.stderr)
            rules = dp.dpctl("acl", "list", "pb")["acls"]["acls"][0]["rules"]
            hits = {int(x["rule"]["id"]): int(x.get("hits", 0)) for x in rules}
            self.assertGreaterEqual(hits[1], 1, rules)  # the IPv4 connection(s)
            self.assertGreaterEqual(hits[2], 1, rules)  # the IPv6 one
            self.assertGreaterEqual(hits[6], 1, rules)

            # --- The connection limit: a SYN burst fills it, an established flow survives.
            flag = env.workdir / "holder-go"
            holder = a.ns.popen(["/usr/bin/python3", "-c", HOLDER, b.v4, "80", str(flag)])
            first = holder.stdout.readline().strip()
            if first != "one":
                out = holder.communicate(timeout=20)
                self.fail(f"holder: {first!r} {out} exit {holder.returncode}")
            stats = dp.dpctl("ct", "stats")["conntrack_stats"]
            limit = int(stats["connections"]) + 500
            dp.dpctl("ct", "set", "--limit", str(limit))
            a.ns.exec(["/usr/bin/python3", "-c", SYN_FLOOD, a.v4, b.v4, "3000"], timeout=60)
            wait_until(lambda: int(drops(dp, "pb")["ct_limit"]) > 0, 10, "ct_limit drops",
                       state=lambda: drops(dp, "pb"))
            stats = dp.dpctl("ct", "stats")["conntrack_stats"]
            self.assertLessEqual(int(stats["connections"]), limit, stats)
            self.assertGreater(int(stats["limit_drops"]), 0, stats)
            # A new connection is refused now; the one opened before the flood still works.
            self.assertNotEqual(a.client(b.v4, 80).returncode, 0)
            flag.touch()
            out, err = holder.communicate(timeout=20)
            self.assertEqual((holder.returncode, out.strip()), (0, "two"), err)
            dp.dpctl("conn", "flush")
            wait_until(lambda: int(dp.dpctl("ct", "stats")["conntrack_stats"]
                                   .get("connections", 0)) == 0, 10, "flushed connections")
            r = a.client(b.v4, 80)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "hello-tcp"), r.stderr)
            log_stats = json.dumps(dp.dpctl("ct", "stats")["conntrack_stats"])
            vswtest.log(f"conntrack after the flood: {log_stats}")

            # The human listings (no --json) say the same.
            def human(*args):
                cmd = [str(vswtest.BIN / "vsw-dpctl"), "--run-dir", str(dp.run_dir), *args]
                return vswtest.run(cmd, timeout=10).stdout
            self.assertIn("pb to-port default deny", human("acl", "list"))
            self.assertIn("action=permit-stateful,src=10.214.0.0/24,proto=tcp,dport=80",
                          human("acl", "list", "pb"))
            self.assertIn(f"{a.v4}:", human("conn", "list", "pb"))
            self.assertIn("ct_limit", human("port", "list"))
            self.assertIn("udp_unreplied=30", human("ct", "stats"))


if __name__ == "__main__":
    vswtest.main()
