"""vsw-controld keeps a dataplane programmed across restarts of either process.

The topology: two af_packet ports on veth pairs (a veth, unlike a tap, survives the process
that uses it) whose far ends sit in two namespaces (10.201.7.1 and .2, addresses only inside
them), cross-connected; and a vhost-user client-mode port whose guest, a dpdk-testpmd with
virtio_user server=1, listens on its socket. Everything is configured through vswctl.

- Dataplane restart: `kill -9` the dataplane while pinging, start a new one on the same run
  dir and, with no vswctl command, the ports and the cross-connect come back and the ping
  resumes; the time from the new dataplane's start to the first ping reply is printed as
  "restart-to-traffic: X.XX s". The vhost-user client port reconnects to its guest (link up).
- controld restart: `kill -9` controld under a running dataplane and start it again; the
  dataplane is adopted as it is: no ping is lost, no port is re-created (same port ids,
  counters keep counting, the dataplane logs no port or cross-connect change), the guest's
  link never drops.

Runs in both memory modes (vswtest.Memory through the Env).
"""

from __future__ import annotations

import json
import stat
import time

import controld_env
import vswtest
from controld_env import ControldEnv, PingRun
from vswtest import parse_ping, wait_until

SUBNET = "10.201.7"
LINK_TIMEOUT = 30.0          # the vhost library's reconnect thread retries about once a second
RESTART_TO_TRAFFIC_BOUND = 30.0
PING_INTERVAL = 0.05


class Topology:
    """Two af_packet ports (pa, pb) on veths into two namespaces, cross-connected, and a
    vhost-user client-mode port (vc) with a testpmd guest listening; all through vswctl."""

    def __init__(self, env: ControldEnv, test: vswtest.TestCase):
        self.env = env
        self.ns = (env.netns(), env.netns())
        self.veths = (env.veth(), env.veth())
        self.addrs = (f"{SUBNET}.1", f"{SUBNET}.2")
        for ns, veth, addr in zip(self.ns, self.veths, self.addrs):
            ns.adopt(veth.peer, f"{addr}/24")
        self.dp = env.dataplane()
        self.ctl = env.controld()
        self.ctl.wait_programmed()
        for path, want in ((self.ctl.socket_path, 0o660), (self.dp.socket_path, 0o600)):
            mode = stat.S_IMODE(path.stat().st_mode)
            test.assertEqual(mode, want, f"{path.name} has mode {oct(mode)}, want {oct(want)}")

        for name, veth in zip(("pa", "pb"), self.veths):
            port = self.ctl.vswctl("port", "add", name, "--type", "af-packet",
                                   "--iface", veth.root)
            test.assertTrue(port["state"]["programmed"], port)
        x = self.ctl.vswctl("xconnect", "add", "pa", "pb")
        test.assertTrue(x["programmed"], x)
        self.guest_socket = env.workdir / "guest.sock"
        port = self.ctl.vswctl("port", "add", "vc", "--type", "vhost-user", "--mode", "client",
                               "--socket", str(self.guest_socket))
        test.assertEqual(port["spec"]["mode"], "client")
        # testpmd with server=1 waits in start-up until the dataplane's port connects.
        self.guest = env.testpmd(self.guest_socket, server=True, label="guest")
        self.wait_link("vc", True)
        self.ping_ok()

    def wait_link(self, name: str, up: bool) -> None:
        wait_until(lambda: self.ctl.port(name)["state"]["link_up"] == up, LINK_TIMEOUT,
                   f"port {name}'s link to be {'up' if up else 'down'} (vswctl port show)",
                   state=lambda: self.ctl.port(name)["state"])

    def ping_ok(self, count: int = 3) -> None:
        r = self.ns[0].ping(self.addrs[1], count=count)
        sent, received = parse_ping(r.stdout)
        assert (sent, received) == (count, count), f"ping through the switch: {r.stdout}"

    def live(self) -> dict[str, dict]:
        """Port id and counters of every port, as controld reports them."""
        return {name: p["state"] for name, p in self.ctl.ports().items()}


class ControldReconcileTest(vswtest.TestCase):

    def test_dataplane_restart(self):
        with ControldEnv() as env:
            topo = Topology(env, self)
            ctl = topo.ctl
            ping = PingRun(topo.ns[0], topo.addrs[1], interval=PING_INTERVAL)
            wait_until(lambda: ping.reply_count() >= 10, 30, "ping replies before the kill")

            controld_env.kill_dataplane(env, topo.dp)
            killed = time.time()
            # From here until traffic is back, no vswctl command: controld alone repairs.
            started_wall, started = time.time(), time.monotonic()
            dp = env.dataplane()
            ready = time.monotonic() - started
            first = wait_until(lambda: ping.replies_after(started_wall), 60,
                               "ping replies through the new dataplane")[0]
            restart_to_traffic = first[0] - started_wall
            print(f"restart-to-traffic: {restart_to_traffic:.2f} s (memory {env.memory.mode};"
                  f" the dataplane was ready after {ready:.2f} s; first reply "
                  f"{first[0] - killed:.2f} s after the kill)", flush=True)
            vswtest.log(f"restart-to-traffic: {restart_to_traffic:.2f} s")
            self.assertLess(restart_to_traffic, RESTART_TO_TRAFFIC_BOUND)
            wait_until(lambda: len(ping.replies_after(started_wall)) >= 10, 30,
                       "ping to keep getting replies")
            sent, received = ping.stop()
            vswtest.log(f"ping across the dataplane restart: {received}/{sent}, "
                        f"{len(ping.missing())} lost")

            # What controld says, and what the dataplane has (read through its own socket).
            status = ctl.wait_programmed()
            dps = status["dataplane"]
            self.assertEqual((dps["pid"], int(dps["connects"])), (dp.pid, 2), status)
            self.assertEqual(status["errors"], [], status)
            vswtest.log(f"controld: replay took {dps['last_replay_ms']} ms")
            self.assertEqual(sorted(dp.ports()), ["pa", "pb", "vc"])
            self.assertEqual(sorted(map(sorted, dp.xconnects())), [["pa", "pb"]])
            for name, state in topo.live().items():
                self.assertTrue(state["programmed"], (name, state))
            self.assertEqual(ctl.xconnects(), [("pa", "pb")])
            # The client-mode port reconnects to its guest, which kept listening.
            topo.wait_link("vc", True)
            vswtest.log(f"vhost-user client port vc: link up {time.monotonic() - started:.2f} s "
                        "after the new dataplane's start (or sooner)")
            topo.guest.command("show port info 0")  # the guest is alive and answering
            topo.ping_ok()
            dp.assert_alive()

    def test_controld_restart_adopts(self):
        with ControldEnv() as env:
            topo = Topology(env, self)
            ctl, dp = topo.ctl, topo.dp
            before = topo.live()
            dp_before = {name: p["port_id"] for name, p in dp.ports().items()}
            log_before = dp.process.output()
            ping = PingRun(topo.ns[0], topo.addrs[1], interval=PING_INTERVAL)
            wait_until(lambda: ping.reply_count() >= 10, 30, "ping replies before the kill")

            ctl.kill()
            started = time.monotonic()
            ctl.start()
            status = ctl.wait_programmed()
            vswtest.log(f"controld back and programmed after {time.monotonic() - started:.2f} s"
                        f" (replay {status['dataplane']['last_replay_ms']} ms)")
            self.assertEqual(status["dataplane"]["pid"], dp.pid)
            after = topo.live()
            replies_at_restart = ping.reply_count()
            wait_until(lambda: ping.reply_count() >= replies_at_restart + 20, 30,
                       "ping replies after controld's restart")
            sent, received = ping.stop()
            missing = ping.missing()
            vswtest.log(f"ping across the controld restart: {received}/{sent}, lost icmp_seq "
                        f"{missing}")
            self.assertEqual(missing, [], "pings lost across a controld restart")

            # Adopted, not re-created: same port ids, counters not reset, link never dropped.
            for name in ("pa", "pb", "vc"):
                self.assertEqual(after[name]["port_id"], before[name]["port_id"], name)
                self.assertTrue(after[name]["programmed"], (name, after[name]))
                for field in ("rx_packets", "tx_packets"):
                    self.assertGreaterEqual(int(after[name]["counters"][field]),
                                            int(before[name]["counters"][field]), (name, field))
            self.assertGreater(int(topo.ctl.port("pa")["state"]["counters"]["rx_packets"]),
                               int(before["pa"]["counters"]["rx_packets"]) + 20)
            self.assertTrue(after["vc"]["link_up"])
            self.assertEqual({n: p["port_id"] for n, p in dp.ports().items()}, dp_before)
            # No port or cross-connect change, and no vhost-user event on the guest's socket
            # (a disconnect or reconnect would log one).
            changes = [line for line in dp.process.output()[len(log_before):].splitlines()
                       if " port " in f" {line}" or "xconnect" in line
                       or str(topo.guest_socket) in line]
            self.assertEqual(changes, [], "the dataplane changed ports when controld came back")
            topo.ping_ok()

    def test_reconnect_undoes_foreign_changes(self):
        """What the dataplane has but controld does not want goes; what differs is
        re-created; what is as wanted is kept (same port id). Changed behind controld's back
        with vsw-dpctl, repaired when controld (re)connects."""
        with ControldEnv() as env:
            dp = env.dataplane()
            ctl = env.controld()
            ctl.wait_programmed()
            for name in ("r1", "r2", "r3"):
                ctl.vswctl("port", "add", name, "--type", "ring")
            ctl.vswctl("xconnect", "add", "r1", "r2")
            ids = {name: p["port_id"] for name, p in dp.ports().items()}
            # Behind controld's back: a stray port and cross-connect, r2 without its
            # cross-connect and re-created with another configuration, r3 gone.
            dp.dpctl("xconnect", "del", "r1")
            dp.dpctl("port", "del", "r2")
            dp.dpctl("port", "add", "r2", "--type", "ring", "--queues", "2")
            dp.dpctl("port", "del", "r3")
            dp.dpctl("port", "add", "stray", "--type", "ring")
            dp.dpctl("xconnect", "add", "stray", "r2")

            ctl.kill()
            ctl.start()
            ctl.wait_programmed()
            ports = dp.ports()
            self.assertEqual(sorted(ports), ["r1", "r2", "r3"])
            self.assertEqual(ports["r1"]["port_id"], ids["r1"], "r1 was as wanted: kept")
            self.assertEqual(ports["r2"]["config"]["queues"], 1, ports["r2"])
            self.assertEqual(sorted(map(sorted, dp.xconnects())), [["r1", "r2"]])
            for name, p in ctl.ports().items():
                self.assertTrue(p["state"]["programmed"], (name, p["state"]))
                self.assertEqual(p["state"]["port_id"], ports[name]["port_id"], name)

    def test_refused_port_is_kept_and_retried(self):
        """A port the dataplane refuses (its interface does not exist yet) stays desired with
        the dataplane's error, and is programmed on the next reconnect once it can be."""
        with ControldEnv() as env:
            dp = env.dataplane()
            ctl = env.controld()
            ctl.wait_programmed()
            veth = env.veth(create=False)  # its names; the interfaces come later
            r = ctl.vswctl.raw("port", "add", "late", "--type", "af-packet",
                               "--iface", veth.root, json_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("warning: port late is stored but the dataplane refused it", r.stderr)
            port = json.loads(r.stdout)
            self.assertFalse(port["state"]["programmed"], port)
            self.assertTrue(port["state"]["error"], port)
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            x = ctl.vswctl("xconnect", "add", "late", "r1")
            self.assertFalse(x["programmed"], x)
            self.assertIn("late", x["error"])
            status = ctl.wait_programmed()  # refusals do not make status fail: they are listed
            self.assertEqual(sorted(e["object"] for e in status["errors"]),
                             ["port late", "xconnect late-r1"], status)
            self.assertEqual(sorted(dp.ports()), ["r1"])

            # The interface appears; the next dataplane (a restart) gets the port.
            veth.create()
            controld_env.kill_dataplane(env, dp)
            dp = env.dataplane()
            status = wait_until(lambda: (lambda s: s if s["errors"] == [] and s["dataplane"][
                "programmed"] else None)(ctl.status()), 30, "the refused port to be programmed",
                state=lambda: ctl.status())
            self.assertEqual(status["dataplane"]["pid"], dp.pid)
            self.assertEqual(sorted(dp.ports()), ["late", "r1"])
            self.assertEqual(sorted(map(sorted, dp.xconnects())), [["late", "r1"]])
            self.assertTrue(ctl.port("late")["state"]["programmed"])


if __name__ == "__main__":
    controld_env.main()
