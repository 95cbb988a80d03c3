# vsw-memory-modes: nohuge
"""`make bench QUICK=1`'s port-to-port part as a smoke test: every scenario forwards traffic,
and the results are written as JSON and a PNG chart. Figures are not judged: the machine is
shared, and performance is measured by the benchmark, not asserted by tests."""

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
                ["/usr/bin/python3", str(REPO / "bench" / "xconnect_vhost.py"), "--reps", "1",
                 "--seconds", "2", "--flows", "1", "--sizes", "64", "--results", str(results)],
                env={**os.environ, "VSW_BIN": BIN}, capture_output=True, text=True, timeout=240)
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            self.assertEqual(proc.returncode, 0)
            doc = json.loads((results / "latest.json").read_text())
            kinds = {s["switch"]: s for s in doc["scenarios"]}
            self.assertEqual(set(kinds), {"testpmd-io", "vswitch-xconnect", "vswitch-bridge"})
            for kind, s in kinds.items():
                self.assertGreater(s["median_mpps"], 0.01, kind)
            for kind in ("vswitch-xconnect", "vswitch-bridge"):
                self.assertGreater(kinds[kind]["busy_cycles_per_packet"], 0, kind)
            png = results / "latest.png"
            self.assertTrue(png.exists())
            self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
        finally:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
