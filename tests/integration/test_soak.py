# vsw-memory-modes: nohuge
"""The soak (soak.py) for SOAK_SECONDS (60 here; `make soak` runs this file with 600):
switched, routed and ACL'd traffic between namespaces on tap ports while threads change
ports, routes and ACL rules through controld's gRPC API at SOAK_RATE changes a second in all
(100; 0: as fast as the machine allows). At the end every counter balances, nothing leaked
(file descriptors, mbufs, RSS; and ASan's report when the daemons are an ASan build), nothing
crashed and the pings kept flowing. The figures are printed as one JSON line (`soak figures:`).
The seed is printed (VSW_SEED=N replays the churn's choices).
"""

from __future__ import annotations

import os
import random

import l2_env
import soak
import vswtest


class SoakTest(vswtest.TestCase):

    def test_soak(self):
        seed = int(os.environ.get("VSW_SEED") or random.SystemRandom().randrange(2**32))
        seconds = float(os.environ.get("SOAK_SECONDS") or 60)
        rate = float(os.environ.get("SOAK_RATE") or 100)
        print(f"seed: {seed} (VSW_SEED={seed} replays this run); {seconds:.0f} s at "
              f"{rate:.0f} changes/s", flush=True)
        with soak.sanitizer_reports() as reports:
            with l2_env.L2Env() as env:
                figures = soak.Soak(env, seconds, rate, seed, asan=reports.active).run()
            figures["asan"] = reports.check()
        print(f"soak figures: {figures}", flush=True)


if __name__ == "__main__":
    l2_env.main()
