# vsw-memory-modes: nohuge
# vsw-timeout: 600
"""`make bench QUICK=1`'s port-to-port part as a smoke test: every system forwards traffic in
every case, the switch sees the generator's flows, routed packets arrive with the router's TTL
decrement (vsw-loopgen's L3 mode checks each one), and the results are written as JSON and a
PNG chart. Figures are not judged: the machine is shared, and performance is measured by the
benchmark, not asserted by tests."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("VSW_BIN") or str(REPO / "build" / "bin")


class BenchQuick(unittest.TestCase):
    def test_every_scenario_forwards_and_results_are_written(self):
        results = Path(tempfile.mkdtemp(prefix="vsw-bench-test-"))
        try:
            proc = subprocess.run(
                ["/usr/bin/python3", str(REPO / "bench" / "port_to_port.py"), "--quick",
                 "--results", str(results)],
                env={**os.environ, "VSW_BIN": BIN}, capture_output=True, text=True, timeout=560)
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            self.assertEqual(proc.returncode, 0)
            doc = json.loads((results / "latest.json").read_text())
            rows = {(s["system"], s["guest"], s["flows"]): s for s in doc["scenarios"]}
            systems = ("testpmd-io", "vswitch-xconnect", "vswitch-bridge")
            want = {(k, g, f) for k in systems
                    for g, f in (("testpmd", 1), ("loopgen", 1), ("loopgen", 100000))}
            # The routed systems have no testpmd-guest case (testpmd answers no ARP); the
            # routed + ACL one runs once vswctl and the dataplane have the ACL, else it is
            # listed as not available.
            routed = ["vswitch-routed"]
            if "vswitch-routed-acl" in doc["systems"]:
                routed.append("vswitch-routed-acl")
            else:
                self.assertIn("vswitch-routed-acl", doc["not_available"])
            want |= {(k, "loopgen", f) for k in routed for f in (1, 100000)}
            self.assertEqual(set(rows), want)
            for key, s in rows.items():
                self.assertGreater(s["median_mpps"], 0.01, key)
                self.assertIn("other_cpu_pct", s["runs"][0], key)
            for key, s in rows.items():
                if key[0].startswith("vswitch-"):
                    self.assertGreater(s["busy_cycles_per_packet"], 0, key)
            # The bridge sees the generator's flows: one cache entry per flow and direction
            # (2 for 1 flow, plus the testpmd guest's 2 from the case before); 100k flows fill
            # the cache and miss.
            self.assertLessEqual(rows[("vswitch-bridge", "loopgen", 1)]["flow_cache_entries_max"],
                                 4)
            many = rows[("vswitch-bridge", "loopgen", 100000)]
            self.assertGreater(many["flow_cache_entries_max"], 4000)
            self.assertGreater(many["flow_cache_miss_pct_median"], 50)
            self.assertGreater(many["flow_cache_inserts_max"], 8192)
            for k in routed:
                # Every packet the L3 guest received was routed: TTL one less, the hosts'
                # addresses, its own MAC as destination.
                for f in (1, 100000):
                    self.assertEqual(rows[(k, "loopgen", f)]["guest_bad_max"], 0, (k, f))
                one = rows[(k, "loopgen", 1)]
                self.assertGreaterEqual(one["flow_cache_entries_max"], 2, k)
                self.assertLessEqual(one["flow_cache_entries_max"], 8, k)
                many = rows[(k, "loopgen", 100000)]
                self.assertGreater(many["flow_cache_entries_max"], 4000, k)
                self.assertGreater(many["flow_cache_miss_pct_median"], 50, k)
            if "vswitch-routed-acl" in routed:
                for f in (1, 100000):
                    self.assertGreater(
                        rows[("vswitch-routed-acl", "loopgen", f)].get("connections_max", 0), 0,
                        f)
            png = results / "latest.png"
            self.assertTrue(png.exists())
            self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
        finally:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
