"""A model of controld's desired state and a random generator of valid changes to it.

Shared by the kill -9 durability test (test_controld_durability_objects.py) and the soak
(soak.py). `Model` holds what the test expects controld to store, for every object type
controld persists (control/controller_state.proto's DesiredState): ports with their MAC limit
and port security, bridges, attachments (untagged or by VLAN), static MACs, router
interfaces with their addresses, static routes (ECMP too), ACL rules and defaults, conntrack
settings and VMs (added with --no-start: stored, never launched). Cross-connects are the
port test's (test_controld_durability.py).

`Churn.next_op()` picks a random change that the model says controld must accept (every
precondition of docs/controld.md, "What depends on what", is respected), as vswctl arguments
plus the function that applies it to a model once acknowledged. A refusal of such a change is
a bug of the model or of controld: callers fail on it.

`snapshot(ctl)` reads the same normalized form back through vswctl --json (and the static MACs
from state.pb, since `mac list` needs a dataplane), so `Model.snapshot() == snapshot(ctl)` is
the whole comparison.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Callable, Optional

from vswtest import REPO, run

ACL_DIRS = ("to-port", "from-port")
VLANS = (0, 0, 10, 11, 12)
TIMEOUT_NAMES = ("established", "syn_sent", "udp_replied", "icmp", "time_wait")
# Every kind of change Churn makes (Op.what).
ALL_CHANGES = frozenset((
    "port add", "port del", "port set limit", "port set off", "port set security",
    "bridge add", "bridge del", "bridge set", "attach", "detach", "mac add", "mac del",
    "router-if add", "router-if del", "route add", "route del", "acl add", "acl del",
    "acl default", "conntrack set", "vm add", "vm del"))


@dataclasses.dataclass
class Model:
    ports: dict = dataclasses.field(default_factory=dict)  # name -> dict (see port_add)
    bridges: dict = dataclasses.field(default_factory=dict)  # name -> (aging, mac_limit)
    attachments: dict = dataclasses.field(default_factory=dict)  # (bridge, port) -> vlan
    macs: dict = dataclasses.field(default_factory=dict)  # (bridge, mac) -> port
    rifs: dict = dataclasses.field(default_factory=dict)  # name -> (bridge, addrs, mac)
    routes: dict = dataclasses.field(default_factory=dict)  # prefix -> tuple(via)
    rules: dict = dataclasses.field(default_factory=dict)  # id -> (port, dir, rest...)
    defaults: dict = dataclasses.field(default_factory=dict)  # (port, dir) -> "deny"
    conntrack: dict = dataclasses.field(default_factory=dict)  # "limit", "timeouts"
    vms: dict = dataclasses.field(default_factory=dict)  # name -> (port, mac)

    @classmethod
    def from_snapshot(cls, snap: dict) -> "Model":
        return cls(**copy.deepcopy(snap))

    def copy(self) -> "Model":
        return copy.deepcopy(self)

    def snapshot(self) -> dict:
        return {
            "ports": dict(self.ports),
            "bridges": dict(self.bridges),
            "attachments": dict(self.attachments),
            "macs": dict(self.macs),
            "rifs": dict(self.rifs),
            "routes": dict(self.routes),
            "rules": dict(self.rules),
            "defaults": dict(self.defaults),
            "conntrack": copy.deepcopy(self.conntrack),
            "vms": dict(self.vms),
        }


@dataclasses.dataclass
class Op:
    """One change: `args` for vswctl, `apply(model, reply)` once acknowledged (`reply` is the
    parsed --json reply, or None for an operation in flight at a kill, whose reply was lost)."""
    what: str
    args: list
    apply: Callable[[Model, Optional[dict]], None]
    kind: str = ""  # Churn's method that made it

    def __repr__(self) -> str:
        return f"<{' '.join(self.args)}>"


def diff(want: dict, got: dict) -> str:
    """A readable difference between two snapshots (empty if equal)."""
    lines = []
    for key in sorted(set(want) | set(got)):
        a, b = want.get(key), got.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=repr):
                if a.get(k) != b.get(k):
                    lines.append(f"  {key}[{k!r}]: want {a.get(k)!r}, got {b.get(k)!r}")
        else:
            lines.append(f"  {key}: want {a!r}, got {b!r}")
    return "\n".join(lines)


class Churn:
    """Random valid changes over pools of names, so that adds and deletes both happen.

    port_types: the types ports get (vhost-user ones can carry VMs); null ports only without
    a dataplane (a null port in a bridge floods endlessly). `kernel`: a readable file that
    `vm add --kernel/--initrd` names (the VM is never started)."""

    def __init__(self, rng: random.Random, model: Model, kernel: Path,
                 port_types=("ring", "vhost-user"), n_ports: int = 12, n_bridges: int = 4,
                 n_routes: int = 12, n_vms: int = 3, kinds: Optional[dict] = None):
        self.rng = rng
        self.model = model
        self.kernel = str(kernel)
        self.port_types = port_types
        self.port_pool = [f"q{i}" for i in range(n_ports)]
        self.bridge_pool = [f"b{i}" for i in range(n_bridges)]
        self.rif_pool = [f"r{i}" for i in range(n_bridges)]
        self.route_pool = [f"10.{100 + i}.0.0/16" for i in range(n_routes // 2)] + \
            [f"fd00:{i + 1}::/48" for i in range(n_routes - n_routes // 2)]
        self.vm_pool = [f"vm{i}" for i in range(n_vms)]
        self.mac_pool = [f"02:00:00:5a:00:{i:02x}" for i in range(8)]
        # Weights of the kinds of change; every kind that has nothing to do is skipped.
        self.kinds = kinds or {
            "port_add": 6, "port_del": 3, "port_set": 3, "bridge_add": 3, "bridge_del": 2,
            "bridge_set": 1, "attach": 6, "detach": 3, "mac_add": 3, "mac_del": 2,
            "rif_add": 3, "rif_del": 2, "route_add": 5, "route_del": 3, "acl_add": 6,
            "acl_del": 4, "acl_default": 2, "conntrack": 1, "vm_add": 2, "vm_del": 1,
        }

    # --- helpers

    def _free(self, pool, used):
        return [n for n in pool if n not in used]

    def _mac(self) -> str:
        return "02:00:00:%02x:%02x:%02x" % tuple(self.rng.randrange(256) for _ in range(3))

    @staticmethod
    def _rif_index(name: str) -> int:
        return int(name[1:])

    def _rif_addresses(self, name: str) -> tuple:
        i = self._rif_index(name)
        v4 = f"10.60.{i}.1/24"
        return (v4, f"fd60:{i + 1}::1/64") if self.rng.random() < 0.5 else (v4,)

    def _next_hops(self, family: int) -> list:
        """Addresses inside the connected subnets of the model's router interfaces."""
        out = []
        for name, (_, addrs, _) in self.model.rifs.items():
            i = self._rif_index(name)
            for a in addrs:
                if family == 4 and ":" not in a:
                    out += [f"10.60.{i}.{h}" for h in (2, 3, 4, 5)]
                elif family == 6 and ":" in a:
                    out += [f"fd60:{i + 1}::{h}" for h in (2, 3, 4)]
        return out

    # --- one change

    def next_op(self, only=None) -> Op:
        """A random change; `only`: among these kinds (method names) only."""
        kinds = list(only or self.kinds)
        weights = [self.kinds.get(k, 1) for k in kinds]
        for _ in range(1000):
            kind = self.rng.choices(kinds, weights)[0]
            op = getattr(self, kind)()
            if op is not None:
                op.kind = kind
                return op
        raise AssertionError("no change possible: the pools are too small")

    def port_add(self):
        m = self.model
        free = self._free(self.port_pool, m.ports)
        if not free:
            return None
        name, type_ = self.rng.choice(free), self.rng.choice(self.port_types)

        def apply(m, _):
            m.ports[name] = {"type": type_, "mac_limit": 0, "macs": (), "ips": ()}
        return Op("port add", ["port", "add", name, "--type", type_], apply)

    def port_del(self):
        m = self.model
        busy = {p for (_, p) in m.attachments} | {p for (p, _) in m.vms.values()}
        free = [p for p in m.ports if p not in busy]
        if not free:
            return None
        name = self.rng.choice(free)

        def apply(m, _):
            del m.ports[name]
            # Its ACL rules and defaults go with it.
            m.rules = {i: r for i, r in m.rules.items() if r[0] != name}
            m.defaults = {k: v for k, v in m.defaults.items() if k[0] != name}
        return Op("port del", ["port", "del", name], apply)

    def port_set(self):
        m = self.model
        if not m.ports:
            return None
        name = self.rng.choice(sorted(m.ports))
        r = self.rng.random()
        if r < 0.35:
            limit = self.rng.choice((0, 16, 100, 1000))

            def apply(m, _):
                m.ports[name] = dict(m.ports[name], mac_limit=limit)
            return Op("port set limit", ["port", "set", name, "--mac-limit", str(limit)], apply)
        if r < 0.55:
            def apply(m, _):
                m.ports[name] = dict(m.ports[name], macs=(), ips=())
            return Op("port set off", ["port", "set", name, "--no-port-security"], apply)
        macs = tuple(self.rng.sample(self.mac_pool, self.rng.randrange(0, 3)))
        ips = tuple(self.rng.sample(("10.60.0.0/24", "10.60.1.7/32", "fd60:1::/64"),
                                    self.rng.randrange(0 if macs else 1, 3)))
        args = ["port", "set", name]
        for mac in macs:
            args += ["--allowed-mac", mac]
        for ip in ips:
            args += ["--allowed-ip", ip]

        def apply(m, _):
            # vswctl keeps the list not given (it reads the port first).
            m.ports[name] = dict(m.ports[name], macs=macs or m.ports[name]["macs"],
                                 ips=ips or m.ports[name]["ips"])
        return Op("port set security", args, apply)

    def bridge_add(self):
        free = self._free(self.bridge_pool, self.model.bridges)
        if not free:
            return None
        name = self.rng.choice(free)
        aging, limit = self.rng.choice((300, 60, 1000)), self.rng.choice((8192, 100, 4096))
        args = ["bridge", "add", name]
        if aging != 300 or self.rng.random() < 0.3:
            args += ["--aging", str(aging)]
        if limit != 8192 or self.rng.random() < 0.3:
            args += ["--mac-limit", str(limit)]

        def apply(m, _):
            m.bridges[name] = (aging, limit)
        return Op("bridge add", args, apply)

    def bridge_del(self):
        m = self.model
        busy = {b for (b, _) in m.attachments} | {b for (b, _, _) in m.rifs.values()}
        free = [b for b in m.bridges if b not in busy]
        if not free:
            # Clear the way instead: one change that removes something holding a bridge
            # (a static MAC, an attachment, its router interface), so deletes happen too.
            return self._unblock_bridge()
        name = self.rng.choice(free)

        def apply(m, _):
            del m.bridges[name]
        return Op("bridge del", ["bridge", "del", name], apply)

    def _unblock_bridge(self):
        m = self.model
        if not m.bridges:
            return None
        b = self.rng.choice(sorted(m.bridges))
        if any(mb == b for (mb, _) in m.macs):
            mac = self.rng.choice(sorted(k[1] for k in m.macs if k[0] == b))

            def apply(m, _):
                del m.macs[(b, mac)]
            return Op("mac del", ["mac", "del", b, mac], apply)
        ports = sorted(p for (ab, p) in m.attachments if ab == b)
        if ports:
            p = self.rng.choice(ports)

            def apply(m, _):
                del m.attachments[(b, p)]
            return Op("detach", ["bridge", "detach", b, p], apply)
        rifs = [r for r, (rb, _, _) in m.rifs.items() if rb == b]
        return self.rif_del(rifs[0]) if rifs else None

    def bridge_set(self):
        m = self.model
        if not m.bridges:
            return None
        name = self.rng.choice(sorted(m.bridges))
        aging = self.rng.choice((30, 300, 600))

        def apply(m, _):
            m.bridges[name] = (aging, m.bridges[name][1])
        return Op("bridge set", ["bridge", "set", name, "--aging", str(aging)], apply)

    def attach(self):
        m = self.model
        options = []
        for b in m.bridges:
            for p in m.ports:
                if (b, p) in m.attachments:
                    continue
                vlans = {v for (_, q), v in m.attachments.items() if q == p}
                options += [(b, p, v) for v in set(VLANS) - vlans]
        if not options:
            return None
        b, p, v = self.rng.choice(sorted(options))
        args = ["bridge", "attach", b, p] + (["--vlan", str(v)] if v else [])

        def apply(m, _):
            m.attachments[(b, p)] = v
        return Op("attach", args, apply)

    def detach(self):
        m = self.model
        # A port with static MACs in the bridge cannot leave it.
        pinned = {(b, p) for (b, _), p in m.macs.items()}
        options = [k for k in m.attachments if k not in pinned]
        if not options:
            return None
        b, p = self.rng.choice(sorted(options))

        def apply(m, _):
            del m.attachments[(b, p)]
        return Op("detach", ["bridge", "detach", b, p], apply)

    def mac_add(self):
        m = self.model
        if not m.attachments:
            return None
        b, p = self.rng.choice(sorted(m.attachments))
        free = [mac for mac in self.mac_pool if (b, mac) not in m.macs]
        if not free:
            return None
        mac = self.rng.choice(free)

        def apply(m, _):
            m.macs[(b, mac)] = p
        return Op("mac add", ["mac", "add", b, mac, p], apply)

    def mac_del(self):
        m = self.model
        if not m.macs:
            return None
        b, mac = self.rng.choice(sorted(m.macs))

        def apply(m, _):
            del m.macs[(b, mac)]
        return Op("mac del", ["mac", "del", b, mac], apply)

    def rif_add(self):
        m = self.model
        with_rif = {b for (b, _, _) in m.rifs.values()}
        bridges = [b for b in m.bridges if b not in with_rif]
        free = self._free(self.rif_pool, m.rifs)
        if not bridges or not free:
            return None
        name, bridge = self.rng.choice(free), self.rng.choice(sorted(bridges))
        addrs, mac = self._rif_addresses(name), self._mac()
        args = ["router-if", "add", name, "--bridge", bridge, "--mac", mac]
        for a in addrs:
            args += ["--ip", a]

        def apply(m, _):
            m.rifs[name] = (bridge, addrs, mac)
        return Op("router-if add", args, apply)

    def _routes_via(self, rif: str) -> list:
        i = self._rif_index(rif)
        return sorted(prefix for prefix, via in self.model.routes.items()
                      if any(v.startswith(f"10.60.{i}.") or v.startswith(f"fd60:{i + 1}::")
                             for v in via))

    def rif_del(self, name: Optional[str] = None):
        m = self.model
        if name is None:
            if not m.rifs:
                return None
            name = self.rng.choice(sorted(m.rifs))
        blocking = self._routes_via(name)
        if blocking:
            # A route goes via its subnet: delete that first (one change).
            prefix = self.rng.choice(blocking)

            def apply(m, _):
                del m.routes[prefix]
            return Op("route del", ["route", "del", prefix], apply)

        def apply(m, _):
            del m.rifs[name]
        return Op("router-if del", ["router-if", "del", name], apply)

    def route_add(self):
        m = self.model
        prefix = self.rng.choice(self.route_pool)
        hops = self._next_hops(6 if ":" in prefix else 4)
        if not hops:
            return None
        via = tuple(self.rng.sample(hops, min(len(hops), self.rng.choice((1, 1, 2, 3)))))
        args = ["route", "add", prefix]
        for v in via:
            args += ["--via", v]
        if prefix in m.routes:
            args.append("--replace")

        def apply(m, _):
            m.routes[prefix] = via
        return Op("route add", args, apply)

    def route_del(self):
        m = self.model
        if not m.routes:
            return None
        prefix = self.rng.choice(sorted(m.routes))

        def apply(m, _):
            del m.routes[prefix]
        return Op("route del", ["route", "del", prefix], apply)

    def _rule(self):
        rng = self.rng
        proto = rng.choice(("", "tcp", "udp", "icmp"))
        sport = dport = ""
        if proto in ("tcp", "udp"):
            dport = rng.choice(("", "80", "1000-2000", str(rng.randrange(1, 65536))))
            sport = rng.choice(("", "", "53"))
        src = rng.choice(("", "", "10.60.0.0/24", "10.61.5.0/24"))
        dst = rng.choice(("", "", "10.60.1.0/24", f"10.62.{rng.randrange(256)}.0/24"))
        return (rng.randrange(1, 1000), rng.choice(("permit", "deny", "permit-stateful")),
                src, dst, proto, sport, dport)

    def acl_add(self):
        m = self.model
        if not m.ports:
            return None
        port, dir_ = self.rng.choice(sorted(m.ports)), self.rng.choice(ACL_DIRS)
        rule = self._rule()
        if any(r[0] == port and r[1] == dir_ and r[2:] == rule for r in m.rules.values()):
            return None  # the same rule twice is ALREADY_EXISTS
        prio, action, src, dst, proto, sport, dport = rule
        args = ["acl", "add", port, "--dir", dir_, "--priority", str(prio), "--action", action]
        for flag, value in (("--src", src), ("--dst", dst), ("--proto", proto),
                            ("--sport", sport), ("--dport", dport)):
            if value:
                args += [flag, value]

        def apply(m, reply):
            # The id is the reply's; an add in flight at a kill gets the id None (resolved by
            # resolve_in_flight against what the restart lists).
            m.rules[reply["spec"]["id"] if reply else None] = (port, dir_) + rule
        return Op("acl add", args, apply)

    def acl_del(self):
        m = self.model
        if not m.rules:
            return None
        rid = self.rng.choice(sorted(m.rules))
        port = m.rules[rid][0]

        def apply(m, _):
            del m.rules[rid]
        return Op("acl del", ["acl", "del", port, str(rid)], apply)

    def acl_default(self):
        m = self.model
        if not m.ports:
            return None
        port, dir_ = self.rng.choice(sorted(m.ports)), self.rng.choice(ACL_DIRS)
        action = self.rng.choice(("permit", "deny"))

        def apply(m, _):
            if action == "deny":
                m.defaults[(port, dir_)] = "deny"
            else:
                m.defaults.pop((port, dir_), None)
        return Op("acl default", ["acl", "default", port, "--dir", dir_, action], apply)

    def conntrack(self):
        args = ["conntrack", "set"]
        limit = None
        timeouts = {}
        if self.rng.random() < 0.6:
            limit = self.rng.choice((1000, 5000, 20000, 50000))
            args += ["--limit", str(limit)]
        if limit is None or self.rng.random() < 0.5:
            for name in self.rng.sample(TIMEOUT_NAMES, self.rng.randrange(1, 3)):
                timeouts[name] = self.rng.randrange(5, 3600)
                args += ["--timeout", f"{name}={timeouts[name]}"]

        def apply(m, _):
            ct = copy.deepcopy(m.conntrack)
            if limit is not None:
                ct["limit"] = limit
            ct.setdefault("timeouts", {}).update(timeouts)
            m.conntrack = ct
        return Op("conntrack set", args, apply)

    def vm_add(self):
        m = self.model
        used = {p for (p, _) in m.vms.values()}
        ports = [p for p, s in m.ports.items() if s["type"] == "vhost-user" and p not in used]
        free = self._free(self.vm_pool, m.vms)
        if not ports or not free:
            return None
        name, port, mac = self.rng.choice(free), self.rng.choice(sorted(ports)), self._mac()

        def apply(m, _):
            m.vms[name] = (port, mac)
        return Op("vm add", ["vm", "add", name, "--port", port, "--kernel", self.kernel,
                             "--initrd", self.kernel, "--mac", mac, "--no-start"], apply)

    def vm_del(self):
        m = self.model
        if not m.vms:
            return None
        name = self.rng.choice(sorted(m.vms))

        def apply(m, _):
            del m.vms[name]
        return Op("vm del", ["vm", "del", name], apply)


# ---------------------------------------------------------------------------------------------
# Reading controld's state back


_state_pb2 = None


def load_state_proto(outdir: Path):
    """protoc --python_out for proto/controld_state.proto (and vswitch.proto it imports)."""
    global _state_pb2
    if _state_pb2 is None:
        proto_dir = REPO / "proto"
        outdir.mkdir(parents=True, exist_ok=True)
        run(["protoc", f"--proto_path={proto_dir}", f"--python_out={outdir}",
             str(proto_dir / "vswitch.proto"), str(proto_dir / "controld_state.proto")])
        sys.path.insert(0, str(outdir))
        try:
            import controld_state_pb2  # noqa: E402  (generated just now)
        finally:
            sys.path.remove(str(outdir))
        _state_pb2 = controld_state_pb2
    return _state_pb2


def read_state_file(path: Path, pb2) -> Any:
    """Decodes SDIR/state.pb (control/state_store.h's envelope: magic, version, payload length,
    CRC-32 of the payload, all big-endian, then a DesiredState)."""
    data = path.read_bytes()
    assert data[:8] == b"VSWSTATE", f"{path}: not a state file"
    length, crc = struct.unpack(">II", data[12:20])
    payload = data[20:20 + length]
    assert len(payload) == length and zlib.crc32(payload) == crc, f"{path}: damaged"
    state = pb2.DesiredState()
    state.ParseFromString(payload)
    return state


def snapshot(ctl, pb2) -> dict:
    """controld's desired state in Model.snapshot()'s form: everything through vswctl --json
    except the static MACs, read from state.pb (`mac list` needs a dataplane)."""
    v = ctl.vswctl
    out: dict = {}
    out["ports"] = {
        p["spec"]["name"]: {"type": p["spec"]["type"], "mac_limit": p["spec"]["mac_limit"],
                            "macs": tuple(p["spec"]["allowed_macs"]),
                            "ips": tuple(p["spec"]["allowed_ips"])}
        for p in v("port", "list").get("ports", [])}
    bridges = v("bridge", "list").get("bridges", [])
    out["bridges"] = {b["spec"]["name"]: (b["spec"]["aging_seconds"], b["spec"]["mac_limit"])
                      for b in bridges}
    out["attachments"] = {(a["bridge"], a["port"]): a["vlan"]
                          for b in bridges for a in b["state"].get("attachments", [])}
    out["macs"] = {}
    if ctl.state_file.exists():
        for m in read_state_file(ctl.state_file, pb2).static_macs:
            out["macs"][(m.bridge, m.mac)] = m.port
    out["rifs"] = {r["spec"]["name"]: (r["spec"]["bridge"], tuple(r["spec"]["addresses"]),
                                       r["spec"]["mac"])
                   for r in v("router-if", "list").get("router_interfaces", [])}
    out["routes"] = {r["spec"]["prefix"]: tuple(r["spec"]["via"])
                     for r in v("route", "list").get("routes", []) if r["kind"] == "static"}
    out["rules"], out["defaults"] = {}, {}
    for a in v("acl", "list").get("acls", []):
        if a["default_action"] == "deny":
            out["defaults"][(a["port"], a["dir"])] = "deny"
        for r in a.get("rules", []):
            s = r["spec"]
            out["rules"][s["id"]] = (s["port"], s["dir"], s["priority"], s["action"], s["src"],
                                     s["dst"], s["proto"], s["sport"], s["dport"])
    ct = v("conntrack", "show")["spec"]
    out["conntrack"] = {"limit": ct.get("limit", 0), "timeouts": dict(ct.get("timeouts", {}))}
    out["vms"] = {m["spec"]["name"]: (m["spec"]["port"], m["spec"]["mac"])
                  for m in v("vm", "list").get("vms", [])}
    return out


def resolve_in_flight(model: Model, got: dict) -> None:
    """Gives an ACL rule added in flight (id None) the id of the one rule `got` has that the
    model has not with the same content; leaves None when there is none (not applied)."""
    if None not in model.rules:
        return
    rule = model.rules.pop(None)
    candidates = [i for i, r in got["rules"].items() if i not in model.rules and r == rule]
    model.rules[candidates[0] if len(candidates) == 1 else None] = rule
