# vsw-memory-modes: nohuge
"""An acknowledged change of any object survives kill -9 of vsw-controld.

test_controld_durability.py does this for ports; this does it for every object type controld
persists: ports with MAC limits and port security, bridges, attachments (untagged and by
VLAN), static MACs, router interfaces and their addresses, static routes (ECMP too), ACL
rules and defaults, conntrack settings and VMs (stored with --no-start, never launched).
config_model.Churn picks each change at random among those the model says controld must
accept; Killer (the port test's) SIGKILLs controld once operation K has started, timed in
turn after a random delay, on the rename of state.pb, or while state.pb.tmp exists.

After each restart on the same state dir, the whole state (config_model.snapshot: vswctl
--json lists, and state.pb for static MACs) must equal what the acknowledged operations made,
give or take the one operation in flight; when the kill followed the rename of that
operation's file, it must be applied. The last rounds run with a dataplane attached: ACL and
conntrack changes reach the dataplane before they are written, so a kill between the two
leaves the dataplane ahead of the stored state; after the restart the dataplane's own view
(vsw-dpctl) must converge to controld's, whatever the kill interrupted.

The random choices come from one seed, printed at the start (VSW_SEED=N replays a run).
"""

from __future__ import annotations

import os
import random
import time

import config_model
import controld_env
import vswtest
from config_model import Churn, Model
from controld_env import ControldEnv
from test_controld_durability import KILLER_TIMEOUT, Killer

# (kill timing, with a dataplane?) per round.
ROUNDS = (("timer", False), ("rename", False), ("temp", False), ("timer", True), ("rename", True),
          ("temp", True))
OPS_PER_ROUND = 100
CONVERGE_TIMEOUT = 30.0
# Changes controld sends to a connected dataplane before it writes them (docs/controld.md).
HALF_APPLIED_KINDS = ("acl_add", "acl_del", "acl_default", "conntrack")


def _enum(value: str, prefix: str) -> str:
    """ACL_ACTION_PERMIT_STATEFUL -> permit-stateful."""
    return value[len(prefix):].lower().replace("_", "-")


def dataplane_view(dp) -> dict:
    """The dataplane's own state (vsw-dpctl --json) in config_model.snapshot()'s form, for what
    the dataplane holds: ports (names, MAC limits, port security), bridges, attachments,
    static MACs, router interfaces, static routes, ACL rules (id, priority, action) and
    defaults, conntrack settings."""
    out: dict = {}
    out["ports"] = {p["config"]["name"]: (p["mac_limit"], tuple(p.get("allowed_macs", [])),
                                          tuple(p.get("allowed_ips", [])))
                    for p in dp.dpctl("port", "list")["ports"].get("ports", [])}
    bridges = dp.dpctl("bridge", "list")["bridges"].get("bridges", [])
    out["bridges"] = {b["config"]["name"]: (b["config"]["aging_seconds"],
                                            b["config"]["mac_limit"]) for b in bridges}
    out["attachments"] = {(b["config"]["name"], a["port"]): a.get("vlan", 0)
                          for b in bridges for a in b.get("attachments", [])}
    out["macs"] = {(m["bridge"], m["mac"]): m["port"]
                   for m in dp.dpctl("mac", "list")["macs"].get("macs", [])
                   if m.get("is_static")}
    out["rifs"] = {r["config"]["name"]: (r["config"]["bridge"],
                                         tuple(sorted(r["config"].get("addresses", []))),
                                         r["config"]["mac"])
                   for r in dp.dpctl("router-if", "list")["router_ifs"].get("router_ifs", [])}
    out["routes"] = {r["prefix"]: tuple(sorted(n["via"] for n in r.get("next_hops", [])))
                     for r in dp.dpctl("route", "list")["routes"].get("routes", [])
                     if not r.get("connected")}
    out["rules"], out["defaults"] = {}, {}
    for a in dp.dpctl("acl", "list")["acls"].get("acls", []):
        dir_ = _enum(a["dir"], "ACL_DIRECTION_")
        if _enum(a.get("default_action", "ACL_ACTION_PERMIT"), "ACL_ACTION_") == "deny":
            out["defaults"][(a["port"], dir_)] = "deny"
        for r in a.get("rules", []):
            r = r["rule"]
            out["rules"][r["id"]] = (a["port"], dir_, r["priority"],
                                     _enum(r["action"], "ACL_ACTION_"))
    ct = dp.dpctl("ct", "stats")["conntrack_stats"]
    out["conntrack"] = {"limit": ct["limit"], "timeouts": dict(ct["timeouts"])}
    return out


def expected_dataplane_view(snap: dict, ct_defaults: dict) -> dict:
    """What dataplane_view() must show for controld's snapshot `snap`; `ct_defaults`: the
    conntrack settings of a dataplane controld never programmed (what controld was never told
    keeps its default)."""
    out = {
        "ports": {n: (p["mac_limit"], p["macs"], p["ips"]) for n, p in snap["ports"].items()},
        "bridges": dict(snap["bridges"]),
        "attachments": dict(snap["attachments"]),
        "macs": dict(snap["macs"]),
        "rifs": {n: (b, tuple(sorted(a)), mac) for n, (b, a, mac) in snap["rifs"].items()},
        "routes": {p: tuple(sorted(v)) for p, v in snap["routes"].items()},
        "rules": {i: r[:4] for i, r in snap["rules"].items()},
        "defaults": dict(snap["defaults"]),
    }
    timeouts = dict(ct_defaults["timeouts"])
    timeouts.update(snap["conntrack"]["timeouts"])
    out["conntrack"] = {"limit": snap["conntrack"]["limit"] or ct_defaults["limit"],
                        "timeouts": timeouts}
    return out


def method_of(what: str) -> str:
    """The Churn method that makes a change of kind `what` (Op.what)."""
    if what.startswith("port set"):
        return "port_set"
    return {"router-if add": "rif_add", "router-if del": "rif_del",
            "conntrack set": "conntrack"}.get(what, what.replace(" ", "_"))


class ControldDurabilityObjectsTest(vswtest.TestCase):

    def test_every_object_survives_kill_9(self):
        seed = int(os.environ.get("VSW_SEED") or random.SystemRandom().randrange(2**32))
        print(f"seed: {seed} (VSW_SEED={seed} replays this run)", flush=True)
        vswtest.log(f"seed {seed}")
        rng = random.Random(seed)
        totals = {"acked": 0, "in flight applied": 0, "in flight not applied": 0,
                  "temp file left": 0}
        kinds: dict[str, int] = {}
        with ControldEnv() as env:
            pb2 = config_model.load_state_proto(env.workdir / "pygen")
            kernel = env.workdir / "kernel"
            kernel.write_bytes(b"not booted: the VMs are added with --no-start\n")
            ctl = env.controld()
            model = Model.from_snapshot(config_model.snapshot(ctl, pb2))
            dp = None
            ct_defaults = None
            started = time.monotonic()
            for rnd, (mode, with_dp) in enumerate(ROUNDS):
                if with_dp and dp is None:
                    # The dataplane's own conntrack defaults first, before controld programs
                    # it; then controld starts on a running dataplane and programs it all.
                    ctl.stop()
                    dp = env.dataplane()
                    ct_defaults = dataplane_view(dp)["conntrack"]
                    ctl.start()
                    self.check_converged(dp, ctl, pb2, ct_defaults, rnd)
                churn = Churn(rng, model, kernel)
                kill_at = rng.randrange(20, OPS_PER_ROUND - 5)
                killer = Killer(ctl.process.proc, mode, rng.uniform(0.0, 0.03), ctl.state_file)
                killer.start()
                acked = model.copy()
                churn.model = acked
                in_flight = in_flight_index = None
                for i in range(OPS_PER_ROUND):
                    if i == kill_at and with_dp and mode == "temp":
                        # ACL and conntrack changes reach the dataplane before state.pb is
                        # written: killed mid-write, the dataplane is ahead of what is stored.
                        op = churn.next_op(only=HALF_APPLIED_KINDS)
                    else:
                        op = churn.next_op()
                    if i == kill_at:
                        killer.arm()
                    r = ctl.vswctl.raw(*op.args, json_output=True)
                    if r.returncode == 0:
                        op.apply(acked, controld_env.json.loads(r.stdout))
                        totals["acked"] += 1
                        kinds[op.what] = kinds.get(op.what, 0) + 1
                        continue
                    # Only the kill may make a change fail: anything else is a refusal of a
                    # change the model holds valid.
                    self.assertGreaterEqual(i, kill_at, f"round {rnd} op {i} {op} refused "
                                            f"before the kill: {r.stderr.strip()}")
                    killer.join(KILLER_TIMEOUT)
                    self.assertIsNotNone(killer.how, (op, r.stderr))
                    self.assertTrue(r.stderr.startswith("vswctl: UNAVAILABLE: "),
                                    f"{op}: {r.stderr}")
                    in_flight, in_flight_index = op, i
                    vswtest.log(f"round {rnd}: op {i} {op} in flight: {r.stderr.strip()}")
                    break
                killer.arm()
                killer.join(KILLER_TIMEOUT)
                self.assertIsNotNone(in_flight, f"round {rnd}: every operation succeeded "
                                     f"although controld was killed at op {kill_at}")
                ctl.kill()
                tmp_left = (ctl.state_dir / "state.pb.tmp").exists()
                totals["temp file left"] += tmp_left
                half = ""
                if dp is not None:
                    # What the dataplane holds while controld is down: the acknowledged state,
                    # or that plus the change in flight (sent to it, maybe never stored).
                    before = dataplane_view(dp)
                    if before != expected_dataplane_view(acked.snapshot(), ct_defaults):
                        half = "; the dataplane had the change in flight"
                        totals["dataplane ahead"] = totals.get("dataplane ahead", 0) + 1

                ctl.start()
                self.assertFalse((ctl.state_dir / "state.pb.tmp").exists(),
                                 "a temp file survived the restart")
                got = config_model.snapshot(ctl, pb2)
                with_in_flight = acked.copy()
                in_flight.apply(with_in_flight, None)
                config_model.resolve_in_flight(with_in_flight, got)
                want_before, want_after = acked.snapshot(), with_in_flight.snapshot()
                self.assertIn(got, (want_before, want_after),
                              f"round {rnd}: after the restart the state is neither what the "
                              f"acknowledged operations made nor that plus {in_flight}:\n"
                              f"against the acknowledged:\n"
                              f"{config_model.diff(want_before, got)}\nagainst the in-flight "
                              f"one applied:\n{config_model.diff(want_after, got)}")
                applied = got == want_after and got != want_before
                if killer.how == "rename seen" and in_flight_index == kill_at and \
                        want_after != want_before:
                    self.assertTrue(applied, f"round {rnd}: {in_flight} was on disk before "
                                    "the kill but is not after the restart")
                totals["in flight applied" if applied else "in flight not applied"] += 1
                vswtest.log(f"round {rnd} ({mode}{', dataplane' if with_dp else ''}): killed "
                            f"from op {kill_at} on, {killer.how}; op {in_flight_index} "
                            f"{in_flight} {'applied' if applied else 'not applied'}; temp file "
                            f"left: {tmp_left}{half}; " + ", ".join(
                                f"{len(v)} {k}" for k, v in got.items() if k != "conntrack"))
                model = Model.from_snapshot(got)
                if dp is not None:
                    self.check_converged(dp, ctl, pb2, ct_defaults, rnd)
            vswtest.log(f"totals: {totals}; acknowledged by kind: {kinds}; "
                        f"{time.monotonic() - started:.1f} s")
            # Every kind of change is acknowledged at least once: the rare ones (a bridge
            # delete needs an empty bridge) are topped up here, with no kill, and checked by
            # the clean restart below.
            churn = Churn(rng, model, kernel)
            topped_up = 0
            while set(kinds) != config_model.ALL_CHANGES and topped_up < 1000:
                # Drawn among the missing kinds only: drawing among all of them left a rare
                # one (bridge del) missing after 1000 draws in one run (seed 581512537).
                missing = config_model.ALL_CHANGES - set(kinds)
                op = churn.next_op(only=sorted({method_of(k) for k in missing}))
                op.apply(model, ctl.vswctl(*op.args))
                kinds[op.what] = kinds.get(op.what, 0) + 1
                topped_up += 1
            self.assertEqual(set(kinds), config_model.ALL_CHANGES,
                             f"a kind of change was never acknowledged: {kinds}")
            vswtest.log(f"{topped_up} changes more until every kind was acknowledged")
            # A clean stop and start keep the same state too.
            ctl.stop()
            ctl.start()
            self.assertEqual(config_model.snapshot(ctl, pb2), model.snapshot())
            self.check_converged(dp, ctl, pb2, ct_defaults, len(ROUNDS))

    def check_converged(self, dp, ctl, pb2, ct_defaults, rnd) -> None:
        """Once controld says programmed, the dataplane holds exactly controld's state."""
        ctl.wait_programmed()
        want = expected_dataplane_view(config_model.snapshot(ctl, pb2), ct_defaults)
        last = {}

        def converged():
            last["got"] = dataplane_view(dp)
            return last["got"] == want
        vswtest.wait_until(converged, CONVERGE_TIMEOUT,
                           f"round {rnd}: the dataplane to hold controld's state",
                           state=lambda: config_model.diff(want, last.get("got", {})))


if __name__ == "__main__":
    controld_env.main()
