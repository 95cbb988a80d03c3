# vsw-memory-modes: nohuge
"""A vhost-user guest changes its queue count under traffic: the port (two queue pairs)
serves a guest that uses one, then one that uses both, then one again, each time with
traffic both ways through a cross-connect and every counter balancing exactly
(check_traffic: what came in on one port went out of the other or was counted as dropped).
The dataplane stays up throughout, and once the guests are gone its mbuf pool is back to
what it held before they came (`vsw-dpctl status`: mbufs_in_use): nothing stays pinned by a
queue the guest stopped using.
"""

from __future__ import annotations

import vswtest
from test_vhost_testpmd import check_traffic, wait_link
from vswtest import wait_until


class VhostQueuesTest(vswtest.TestCase):

    def test_guest_changes_queue_count(self):
        with vswtest.Env() as env:
            dp = env.dataplane()
            dp.port_add("q1", "vhost-user", queues=2)
            dp.port_add("q2", "vhost-user")
            dp.dpctl("xconnect", "add", "q1", "q2")
            sockets = {n: dp.run_dir / "vhost" / f"{n}.sock" for n in ("q1", "q2")}
            baseline = dp.mbufs_in_use()
            vswtest.log(f"mbufs in use before the guests: {baseline}")
            # The measure itself: a tap port pins its receive ring's mbufs while it exists.
            dp.port_add("t1", "tap", iface=env.iface_name())
            self.assertGreater(dp.mbufs_in_use(), baseline)
            dp.dpctl("port", "del", "t1")
            wait_until(lambda: dp.mbufs_in_use() == baseline, 30, "the tap port's mbufs back",
                       state=lambda: dp.mbufs_in_use())
            peer = env.testpmd(sockets["q2"], label="peer")
            wait_link(dp, "q2", True)
            for round_, queues in enumerate((1, 2, 1)):
                guest = env.testpmd(sockets["q1"], label=f"guest{round_}-{queues}q",
                                    queues=queues)
                wait_link(dp, "q1", True)
                check_traffic(dp, guest, "q1", peer, "q2")
                check_traffic(dp, peer, "q2", guest, "q1")
                guest.kill()
                wait_link(dp, "q1", False)
                dp.assert_alive()
            peer.kill()
            wait_link(dp, "q2", False)
            dp.assert_alive()
            port = dp.port("q1")
            self.assertEqual(port["config"]["queues"], 2, port)
            # What the guests' traffic took is all back (a worker's transmit buffers and
            # the ports' queues drain within a loop; the bound is for a loaded machine).
            wait_until(lambda: dp.mbufs_in_use() == baseline, 30,
                       "the mbuf pool back to its baseline", state=lambda: dp.mbufs_in_use())


if __name__ == "__main__":
    vswtest.main()
