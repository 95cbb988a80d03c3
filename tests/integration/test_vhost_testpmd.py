"""vhost-user ports with dpdk-testpmd guests (net_virtio_user), in server and client mode.

One testpmd generates (txonly), the other receives (rxonly), through a cross-connect. The
traffic check is exact once the generator stops: every packet the generator queued was
received by its port, and every packet the receiver got was sent by the other port; what the
port could not send (the receiver's ring was full) is counted as tx_full. On this machine the
three busy-polling processes share two cores, so most generated packets are tx_full drops;
the check only asks for a substantial number to get through.

Server mode: the dataplane listens (RUN/vhost/NAME.sock), testpmd connects.
Client mode: testpmd listens (virtio_user server=1), the dataplane connects, and reconnects by
itself when the guest comes back after dying. Ports are also deleted under traffic.
"""

import vswtest
from vswtest import counter, wait_until

LINK_TIMEOUT = 30.0      # guest connect/disconnect to link state; reconnect retries every 1 s
TRAFFIC_TIMEOUT = 60.0   # for MIN_PACKETS to get through
SETTLE_TIMEOUT = 30.0    # for counters to agree once the generator stopped
MIN_PACKETS = 10_000


def link_up(dp: vswtest.Dataplane, port: str) -> bool:
    return dp.port(port)["link_up"]


def wait_link(dp: vswtest.Dataplane, port: str, up: bool) -> None:
    wait_until(lambda: link_up(dp, port) == up, LINK_TIMEOUT,
               f"port {port}'s link to go {'up' if up else 'down'}")


def check_traffic(dp: vswtest.Dataplane, tx_pmd: vswtest.Testpmd, tx_port: str,
                  rx_pmd: vswtest.Testpmd, rx_port: str) -> dict:
    """tx_pmd generates into tx_port, rx_pmd receives from rx_port; checks that enough gets
    through and that every counter agrees exactly. Returns the deltas."""

    def snapshot() -> dict:
        ports = dp.ports()
        return {"gen_tx": tx_pmd.port_stats()["TX-packets"],
                "recv_rx": rx_pmd.port_stats()["RX-packets"],
                "port_rx": counter(ports[tx_port], "rx_packets"),
                "port_tx": counter(ports[rx_port], "tx_packets"),
                "tx_full": counter(ports[rx_port], "drops.tx_full"),
                "malformed": counter(ports[tx_port], "drops.malformed"),
                "no_destination": counter(ports[tx_port], "drops.no_destination")}

    rx_pmd.forward("rxonly")
    before = snapshot()
    tx_pmd.forward("txonly")
    wait_until(lambda: rx_pmd.port_stats()["RX-packets"] >= before["recv_rx"] + MIN_PACKETS,
               TRAFFIC_TIMEOUT, f"{MIN_PACKETS} packets from {tx_port} to reach {rx_port}'s guest",
               state=lambda: {k: v - before[k] for k, v in snapshot().items()})
    tx_pmd.stop_forwarding()

    def settled():
        d = {k: v - before[k] for k, v in snapshot().items()}
        return d if d["port_rx"] == d["gen_tx"] and d["port_tx"] == d["recv_rx"] else None

    d = wait_until(settled, SETTLE_TIMEOUT,
                   f"counters of {tx_port} -> {rx_port} to agree after the generator stopped",
                   state=lambda: {k: v - before[k] for k, v in snapshot().items()})
    rx_pmd.stop_forwarding()
    vswtest.log(f"{tx_port} -> {rx_port}: {d}")
    assert d["recv_rx"] >= MIN_PACKETS, d
    assert d["malformed"] == 0 and d["no_destination"] == 0, d
    # Conservation: what came in on tx_port went out of rx_port or was dropped there.
    assert d["port_rx"] == d["port_tx"] + d["tx_full"], d
    return d


class VhostTestpmdTest(vswtest.TestCase):

    def test_server_mode(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            for name in ("v1", "v2"):
                port = dp.port_add(name, "vhost-user")
                self.assertFalse(port["link_up"], port)
                self.assertTrue((dp.run_dir / "vhost" / f"{name}.sock").is_socket())
            g1 = env.testpmd(dp.run_dir / "vhost" / "v1.sock", label="g1")
            g2 = env.testpmd(dp.run_dir / "vhost" / "v2.sock", label="g2")
            wait_link(dp, "v1", True)
            wait_link(dp, "v2", True)

            dp.dpctl("xconnect", "add", "v1", "v2")
            check_traffic(dp, g1, "v1", g2, "v2")
            check_traffic(dp, g2, "v2", g1, "v1")
            stats = dp.stats()
            queues = sorted(q for w in stats["workers"] for q in w.get("rx_queues", []))
            self.assertEqual(queues, ["v1/0", "v2/0"], stats["workers"])
            # No traffic now: the workers' totals equal the ports' (all rx is from the two).
            self.assertEqual(sum(int(w["packets"]) for w in stats["workers"]),
                             sum(counter(p, "rx_packets") for p in stats["ports"]))

            g1.quit()
            wait_link(dp, "v1", False)
            self.assertTrue(link_up(dp, "v2"))
            g2.quit()
            wait_link(dp, "v2", False)
            dp.assert_alive()
            self.assertEqual(dp.xconnects(), [("v1", "v2")])

            # Deleting a server-mode port removes its socket.
            for name in ("v1", "v2"):
                dp.dpctl("port", "del", name)
                self.assertFalse((dp.run_dir / "vhost" / f"{name}.sock").exists())
            self.assertEqual(dp.ports(), {})
            self.assertEqual(dp.xconnects(), [])

    def test_client_mode_reconnect(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            sockets = {name: env.workdir / f"{name}.sock" for name in ("c1", "c2")}
            for name, path in sockets.items():
                port = dp.port_add(name, "vhost-user", mode="client", socket=path)
                self.assertEqual(port["config"]["mode"], "VHOST_MODE_CLIENT", port)
                self.assertFalse(port["link_up"], port)
            dp.dpctl("xconnect", "add", "c1", "c2")
            # The ports exist before their guests: the dataplane keeps trying to connect.
            g1 = env.testpmd(sockets["c1"], server=True, label="g1")
            g2 = env.testpmd(sockets["c2"], server=True, label="g2")
            wait_link(dp, "c1", True)
            wait_link(dp, "c2", True)
            check_traffic(dp, g1, "c1", g2, "c2")

            # The receiving guest dies while traffic flows towards it.
            g2.forward("rxonly")
            g1.forward("txonly")
            start = counter(dp.port("c2"), "tx_packets")
            wait_until(lambda: counter(dp.port("c2"), "tx_packets") > start + 1000, TRAFFIC_TIMEOUT,
                       "traffic towards c2's guest")
            g2.kill()
            wait_link(dp, "c2", False)
            self.assertTrue(link_up(dp, "c1"))
            # Still forwarding towards a port with no guest: dropped as tx_full, no harm done.
            full = counter(dp.port("c2"), "drops.tx_full")
            wait_until(lambda: counter(dp.port("c2"), "drops.tx_full") > full + 1000,
                       TRAFFIC_TIMEOUT, "c2 to drop what it cannot send to its missing guest")
            g1.stop_forwarding()
            dp.assert_alive()

            # A new guest on the same socket: the port reconnects on its own.
            g2 = env.testpmd(sockets["c2"], server=True, label="g2-again")
            wait_link(dp, "c2", True)
            check_traffic(dp, g1, "c1", g2, "c2")
            check_traffic(dp, g2, "c2", g1, "c1")
            dp.assert_alive()

            # Ports deleted while their guests are connected and traffic flows.
            g2.forward("rxonly")
            g1.forward("txonly")
            start = counter(dp.port("c2"), "tx_packets")
            wait_until(lambda: counter(dp.port("c2"), "tx_packets") > start + 1000, TRAFFIC_TIMEOUT,
                       "traffic towards c2's guest")
            dp.dpctl("port", "del", "c1")
            dp.assert_alive()
            self.assertEqual(dp.xconnects(), [])
            remaining = dp.ports()
            self.assertEqual(list(remaining), ["c2"])
            self.assertTrue(remaining["c2"]["link_up"])
            self.assertEqual(remaining["c2"]["xconnect_peer"], "")
            dp.dpctl("port", "del", "c2")
            self.assertEqual(dp.ports(), {})
            g1.stop_forwarding()
            g2.stop_forwarding()
            self.assertEqual(dp.status()["pid"], dp.pid)


if __name__ == "__main__":
    vswtest.main()
