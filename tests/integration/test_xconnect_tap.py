"""Cross-connected tap ports, with the Linux kernel in network namespaces as the hosts.

Each tap port's kernel interface is moved into a namespace of its own with an address in a
private subnet (10.200.N.0/24, which exists only inside the namespaces). The tests check that
ping works through the cross-connect, that the port counters agree exactly with the kernel's
interface counters, that deleting a port disturbs nothing else (a ping across another pair
loses nothing), and that dpctl's errors name the offending field.

Note: a tap port reports link down once its kernel interface is in another namespace (the tap
PMD asks the kernel in its own namespace), so link state is not asserted here.
"""

import re

import vswtest
from vswtest import counter, parse_ping, wait_until

COUNTER_TIMEOUT = 15.0


class TapPair:
    """Two tap ports, each with its kernel end in its own namespace, cross-connected."""

    def __init__(self, env: vswtest.Env, dp: vswtest.Dataplane, port_a: str, port_b: str,
                 subnet: str):
        self.dp = dp
        self.ports = (port_a, port_b)
        self.ifaces = (env.iface_name(), env.iface_name())
        self.addrs = (f"{subnet}.1", f"{subnet}.2")
        self.ns = []
        for port, iface, addr in zip(self.ports, self.ifaces, self.addrs):
            status = dp.port_add(port, "tap", iface=iface)
            assert status["config"]["name"] == port, status
            assert status["config"]["type"] == "PORT_TYPE_TAP", status
            assert f"iface={iface}" in status["devargs"], status
            assert status["xconnect_peer"] == "", status
            ns = env.netns()
            ns.adopt(iface, f"{addr}/24")
            self.ns.append(ns)
        dp.dpctl("xconnect", "add", port_a, port_b)

    def ping(self, side: int, count: int = 3) -> None:
        """Pings from side `side` (0 or 1) to the other; all must come back."""
        r = self.ns[side].ping(self.addrs[1 - side], count=count)
        sent, received = parse_ping(r.stdout)
        assert (sent, received) == (count, count) and r.returncode == 0, (
            f"ping {self.ports[side]} -> {self.ports[1 - side]}: {r.stdout}{r.stderr}")

    def counters(self, side: int) -> dict:
        """The port's counters beside its kernel interface's (the kernel's tx is the port's rx)."""
        port = self.dp.port(self.ports[side])
        kernel = self.ns[side].link_stats(self.ifaces[side])
        return {"port_rx": counter(port, "rx_packets"), "kernel_tx": kernel["tx"]["packets"],
                "port_tx": counter(port, "tx_packets"), "kernel_rx": kernel["rx"]["packets"],
                "no_destination": counter(port, "drops.no_destination"),
                "malformed": counter(port, "drops.malformed"),
                "tx_full": counter(port, "drops.tx_full")}

    def assert_counters_agree(self, side: int) -> dict:
        """Waits (bounded) until every frame the kernel sent was received by the port and
        every frame the port sent was received by the kernel. Returns the counters."""
        name = self.ports[side]

        def agree():
            c = self.counters(side)
            return c if c["port_rx"] == c["kernel_tx"] and c["port_tx"] == c["kernel_rx"] else None

        return wait_until(agree, COUNTER_TIMEOUT,
                          f"port {name}'s counters to agree with {self.ifaces[side]}'s",
                          state=lambda: self.counters(side))


class XconnectTapTest(vswtest.TestCase):

    def test_ping_counters_and_port_delete(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            first = TapPair(env, dp, "a", "b", "10.200.1")
            self.assertEqual(dp.xconnects(), [("a", "b")])
            ports = dp.ports()
            self.assertEqual(ports["a"]["xconnect_peer"], "b")
            self.assertEqual(ports["b"]["xconnect_peer"], "a")

            first.ping(0)
            first.ping(1)
            for side in (0, 1):
                c = first.assert_counters_agree(side)
                # 6 echo requests/replies each way at least, plus ARP.
                self.assertGreaterEqual(c["port_rx"], 6, c)
                self.assertEqual((c["malformed"], c["tx_full"]), (0, 0), c)

            # A second pair; a fast ping runs across it while a port of the first pair goes.
            second = TapPair(env, dp, "c", "d", "10.200.2")
            second.ping(0, count=1)  # resolves ARP before the timed run
            self.assertEqual(sorted(dp.xconnects()), [("a", "b"), ("c", "d")])
            count = 300
            ping = second.ns[0].popen(["ping", "-n", "-q", "-i", "0.02", "-c", str(count),
                                       "-W", "2", second.addrs[1]])
            start_rx = counter(dp.port("c"), "rx_packets")
            wait_until(lambda: counter(dp.port("c"), "rx_packets") >= start_rx + 50, 20,
                       "the fast ping across c-d to be under way")
            dp.dpctl("port", "del", "a")
            at_delete = counter(dp.port("c"), "rx_packets")
            vswtest.log(f"port a deleted while the ping ran ({at_delete - start_rx} pings in)")

            dp.assert_alive()
            self.assertEqual(dp.status()["pid"], dp.pid)
            self.assertEqual(dp.xconnects(), [("c", "d")])
            ports = dp.ports()
            self.assertNotIn("a", ports)
            self.assertEqual(ports["b"]["xconnect_peer"], "")
            # The deleted port's kernel interface goes with it.
            wait_until(lambda: not first.ns[0].has_link(first.ifaces[0]), 10,
                       f"{first.ifaces[0]} to disappear with port a")

            out, err = ping.communicate(timeout=count * 0.02 + 60)
            sent, received = parse_ping(out)
            self.assertEqual((sent, received), (count, count), f"ping across c-d: {out}{err}")
            self.assertEqual(ping.returncode, 0)
            self.assertGreater(counter(dp.port("c"), "rx_packets"), at_delete + 100,
                               "the ping across c-d went on after the delete")
            for side in (0, 1):
                second.assert_counters_agree(side)

            # b is cross-connected to nothing now: what it receives is dropped as such.
            before = first.assert_counters_agree(1)
            r = first.ns[1].ping(first.addrs[0], count=3, deadline=5)
            self.assertEqual(parse_ping(r.stdout)[1], 0, r.stdout)
            after = first.assert_counters_agree(1)
            received = after["port_rx"] - before["port_rx"]
            self.assertGreaterEqual(received, 3, (before, after))
            self.assertEqual(after["no_destination"] - before["no_destination"], received,
                             (before, after))
            self.assertEqual(after["port_tx"], before["port_tx"], (before, after))

            dp.assert_alive()
            self.assertEqual(dp.status()["pid"], dp.pid)

    def test_errors_name_the_field(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            iface_a, iface_b = env.iface_name(), env.iface_name()
            dp.port_add("a", "tap", iface=iface_a)
            dp.port_add("b", "tap", iface=iface_b)

            # Each error is one line: "vsw-dpctl: CODE: field: ...".
            unused_iface = env.iface_name()
            err = dp.dpctl_fail("port", "add", "a", "--type", "tap", "--iface", unused_iface)
            self.assertRegex(err, r"^vsw-dpctl: ALREADY_EXISTS: name: .*'a'")
            err = dp.dpctl_fail("port", "add", "c", "--type", "tap", "--iface", iface_a)
            self.assertRegex(err, r"^vsw-dpctl: ALREADY_EXISTS: iface: .*" + re.escape(iface_a))

            err = dp.dpctl_fail("xconnect", "add", "a", "missing")
            self.assertRegex(err, r"^vsw-dpctl: NOT_FOUND: port_b: .*'missing'")
            err = dp.dpctl_fail("xconnect", "add", "missing", "b")
            self.assertRegex(err, r"^vsw-dpctl: NOT_FOUND: port_a: .*'missing'")
            err = dp.dpctl_fail("xconnect", "del", "missing")
            self.assertRegex(err, r"^vsw-dpctl: NOT_FOUND: port: .*'missing'")
            err = dp.dpctl_fail("port", "del", "missing")
            self.assertRegex(err, r"^vsw-dpctl: NOT_FOUND: name: .*'missing'")

            for bad_mac in ("02:00:00:00:00", "zz:00:00:00:00:01", "01:00:5e:00:00:01"):
                err = dp.dpctl_fail("port", "add", "c", "--type", "tap", "--iface", unused_iface,
                                    "--mac", bad_mac)
                self.assertRegex(err, r"^vsw-dpctl: INVALID_ARGUMENT: mac: .*" + re.escape(bad_mac))

            # Nothing of the failed requests is left: no port, no cross-connect, no interface.
            self.assertEqual(sorted(dp.ports()), ["a", "b"])
            self.assertEqual(dp.xconnects(), [])
            self.assertEqual(vswtest.run(["ip", "link", "show", "dev", unused_iface],
                                         check=False).returncode, 1)
            # And the good path still works.
            dp.dpctl("xconnect", "add", "a", "b")
            self.assertEqual(dp.xconnects(), [("a", "b")])
            dp.assert_alive()


if __name__ == "__main__":
    vswtest.main()
