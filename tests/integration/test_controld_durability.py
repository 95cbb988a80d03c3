# vsw-memory-modes: nohuge
"""An acknowledged change survives kill -9 of vsw-controld.

Each round runs up to 200 `vswctl port add/del` operations, one after the other (ring and
null ports whose names come from a pool of 10, so adds and deletes both happen), and a thread
kills controld (SIGKILL, by pid) once operation K (random) has started: after a random delay
of 0-30 ms (an operation takes ~10-30 ms), or as soon as state.pb is replaced (the change is
on disk, the reply may not have left), or as soon as state.pb.tmp exists (mid-write); the
rounds take the three in turn. Every operation that exited 0 was acknowledged. After a restart
on the same state directory, the port list (names and types) must be exactly what the
acknowledged operations make; the one operation in flight at the kill may be applied or not,
nothing else may differ. No dataplane is needed.

The random choices come from one seed, printed at the start (VSW_SEED=N replays a run).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import controld_env
import vswtest
from controld_env import ControldEnv

# How each round's kill is timed (see Killer).
ROUND_MODES = ("timer", "rename", "temp", "timer", "rename", "temp")
OPS_PER_ROUND = 200
POOL = [f"d{i}" for i in range(10)]
TYPES = ("ring", "null")
KILLER_TIMEOUT = 120.0


class Killer(threading.Thread):
    """SIGKILLs `proc` (by pid) once armed, in one of three ways:

    timer:  `delay` seconds after arm(): before, during or right after the operation;
    rename: as soon as state.pb is replaced (a new inode): the operation's change is on disk,
            its reply may or may not have reached vswctl;
    temp:   as soon as state.pb.tmp exists (controld is writing or fsyncing it), else, if that
            moment was missed, as soon as state.pb is replaced.
    """

    WATCH_TIMEOUT = 10.0

    def __init__(self, proc, mode: str, delay: float, state_file):
        super().__init__(daemon=True)
        self.proc, self.mode, self.delay = proc, mode, delay
        self.state_file = state_file
        self.temp_file = state_file.with_name(state_file.name + ".tmp")
        self._armed = threading.Event()
        self._inode = None
        self.how: str | None = None

    def _state_inode(self):
        try:
            return os.stat(self.state_file).st_ino
        except FileNotFoundError:
            return None

    def arm(self) -> None:
        """Called right before the operation starts."""
        self._inode = self._state_inode()
        self._armed.set()

    def run(self) -> None:
        if not self._armed.wait(KILLER_TIMEOUT):
            return
        if self.mode == "timer":
            time.sleep(self.delay)
            self.how = f"timer ({self.delay * 1000:.0f} ms)"
        else:
            deadline = time.monotonic() + self.WATCH_TIMEOUT
            while time.monotonic() < deadline:
                if self.mode == "temp" and self.temp_file.exists():
                    self.how = "temp file seen"
                    break
                if self._state_inode() != self._inode:
                    self.how = "rename seen"
                    break
            else:
                self.how = "nothing seen (timeout)"
        self.proc.send_signal(signal.SIGKILL)


def apply(ports: dict[str, str], op: tuple[str, str, str]) -> dict[str, str]:
    kind, name, type_ = op
    after = dict(ports)
    if kind == "add":
        after[name] = type_
    else:
        del after[name]
    return after


class ControldDurabilityTest(vswtest.TestCase):

    def test_acknowledged_changes_survive_kill_9(self):
        seed = int(os.environ.get("VSW_SEED") or random.SystemRandom().randrange(2**32))
        print(f"seed: {seed} (VSW_SEED={seed} replays this run)", flush=True)
        vswtest.log(f"seed {seed}")
        rng = random.Random(seed)
        totals = {"acked add": 0, "acked del": 0, "in flight applied": 0,
                  "in flight not applied": 0}
        with ControldEnv() as env:
            ctl = env.controld()
            ports: dict[str, str] = {}  # name -> type, as controld has them
            for rnd, mode in enumerate(ROUND_MODES):
                kill_at = rng.randrange(5, OPS_PER_ROUND - 5)
                # vswctl takes ~10-30 ms from exec to exit.
                killer = Killer(ctl.process.proc, mode, rng.uniform(0.0, 0.03), ctl.state_file)
                killer.start()
                acked = dict(ports)
                in_flight = None
                durations = []
                for i in range(OPS_PER_ROUND):
                    name = rng.choice(POOL)
                    op = ("del", name, acked[name]) if name in acked else \
                        ("add", name, rng.choice(TYPES))
                    args = ["port", "del", name] if op[0] == "del" else \
                        ["port", "add", name, "--type", op[2]]
                    if i == kill_at:
                        killer.arm()
                    started = time.monotonic()
                    r = ctl.vswctl.raw(*args)
                    durations.append(time.monotonic() - started)
                    if r.returncode == 0:
                        acked = apply(acked, op)
                        totals[f"acked {op[0]}"] += 1
                        continue
                    # Only the kill may make an operation fail.
                    self.assertGreaterEqual(i, kill_at, f"op {i} {op} failed before the kill: "
                                            f"exit {r.returncode}: {r.stderr.strip()}")
                    killer.join(KILLER_TIMEOUT)
                    self.assertIsNotNone(killer.how, (op, r.stderr))
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertTrue(r.stderr.startswith("vswctl: UNAVAILABLE: "), r.stderr)
                    in_flight = op
                    in_flight_index = i
                    vswtest.log(f"round {rnd}: op {i} {op} in flight: {r.stderr.strip()}")
                    break
                killer.arm()
                killer.join(KILLER_TIMEOUT)
                self.assertIsNotNone(in_flight, f"round {rnd}: every operation succeeded "
                                     f"although controld was killed at op {kill_at}")
                self.assertIsNotNone(killer.how)
                ctl.kill()  # reaps the killed process
                tmp_left = (ctl.state_dir / "state.pb.tmp").exists()

                ctl.start()
                self.assertFalse((ctl.state_dir / "state.pb.tmp").exists(),
                                 "a temp file survived the restart")
                listed = ctl.ports()
                got = {name: p["spec"]["type"] for name, p in listed.items()}
                with_in_flight = apply(acked, in_flight)
                self.assertIn(got, (acked, with_in_flight),
                              f"round {rnd}: after the restart the ports are {sorted(got)}; "
                              f"acknowledged: {sorted(acked)}; in flight: {in_flight}")
                applied = got == with_in_flight and got != acked
                if killer.how == "rename seen" and in_flight_index == kill_at:
                    # Operation kill_at's new state.pb was in place before the kill, and no
                    # later operation ran: it must be what the restart loaded.
                    self.assertEqual(got, with_in_flight, f"round {rnd}: {in_flight} was on "
                                     "disk before the kill but is not after the restart")
                totals["in flight applied" if applied else "in flight not applied"] += 1
                for p in listed.values():
                    self.assertEqual(p["spec"]["queues"], 1, p)
                durations.sort()
                vswtest.log(f"round {rnd}: killed from op {kill_at} on, {killer.how}; op "
                            f"{in_flight_index} in flight {in_flight} "
                            f"{'applied' if applied else 'not applied'}; temp file left: "
                            f"{tmp_left}; {len(got)} ports; median op "
                            f"{durations[len(durations) // 2] * 1000:.0f} ms")
                ports = got
            vswtest.log(f"totals: {totals}")
            self.assertGreater(totals["acked add"], 0)
            self.assertGreater(totals["acked del"], 0)
            # A clean stop (SIGTERM, exit 0) and start keep the same list too.
            ctl.stop()
            ctl.start()
            self.assertEqual({n: p["spec"]["type"] for n, p in ctl.ports().items()}, ports)


if __name__ == "__main__":
    controld_env.main()
