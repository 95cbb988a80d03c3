# vsw-memory-modes: nohuge
"""vsw-controld's public API without a dataplane: validation, persistence of rejections,
gRPC from Python, the standard services, status while disconnected, damaged state files.
(The TCP listener, TLS only, is test_access.py's.)

Every rejected request is made twice, through vswctl (exit 1, one stderr line
`vswctl: CODE: field: ...`) and as a raw gRPC call with stubs generated from
proto/vswitch.proto at test time (the status code, and the same message); after each, the
port and cross-connect lists and SDIR/state.pb (bytes, inode, mtime) must be exactly as
before: a rejected request changes nothing, not even a rewrite of the same state.

No dataplane runs here (controld keeps retrying RUN/dataplane.sock in the background), so
this file does not depend on the memory mode.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import subprocess
import zlib

import grpc  # Debian's python3-grpcio
from google.protobuf import descriptor_pb2
from google.protobuf.json_format import MessageToDict

import controld_env
import vswtest
from controld_env import ControldEnv
from vswtest import run, wait_until

INVALID = "INVALID_ARGUMENT"
EXISTS = "ALREADY_EXISTS"
NOT_FOUND = "NOT_FOUND"
PRECONDITION = "FAILED_PRECONDITION"
# The methods these tests use; reflection must list them all.
CORE_METHODS = {"GetStatus", "AddPort", "DeletePort", "GetPort", "ListPorts", "AddXconnect",
                "DeleteXconnect", "ListXconnects", "GetStats"}


def state_fingerprint(ctl: controld_env.Controld) -> dict:
    """Everything a rejected request must leave alone: the lists and state.pb itself (a
    rewrite, even of identical bytes, changes the inode: controld renames a new file in)."""
    st = ctl.state_file.stat()
    return {"ports": ctl.vswctl("port", "list"), "xconnects": ctl.vswctl("xconnect", "list"),
            "state.pb": ctl.state_file.read_bytes(), "inode": st.st_ino,
            "mtime_ns": st.st_mtime_ns}


def add_port_case(name: str, **spec) -> tuple[list[str], str, dict]:
    """vswctl arguments and the gRPC AddPort spec for one port."""
    args = ["port", "add", name]
    for key, value in spec.items():
        args += [f"--{key}", str(value)]
    return args, "AddPort", {"port": {"name": name, **spec}}


class Case:
    """One request that controld must refuse: through vswctl `args` and as gRPC
    `method(request)`; `code` and the message's leading `field:` (and `value`, when given,
    somewhere in the message). `args=None`: gRPC only (vswctl cannot send it)."""

    def __init__(self, what: str, args, method: str, request: dict, code: str, field: str,
                 value: str | None = None):
        self.what, self.args, self.method, self.request = what, args, method, request
        self.code, self.field, self.value = code, field, value


class ControldApiTest(vswtest.TestCase):

    def request(self, api: controld_env.Api, method: str, fields: dict):
        """The request message of `method`, built from a dict (field names as in the .proto)."""
        pb = api.pb
        types = {"AddPort": pb.AddPortRequest, "DeletePort": pb.DeletePortRequest,
                 "GetPort": pb.GetPortRequest, "AddXconnect": pb.AddXconnectRequest,
                 "DeleteXconnect": pb.DeleteXconnectRequest}
        message = types[method]()
        for key, value in fields.items():
            if key == "port" and isinstance(value, dict):
                message.port.CopyFrom(pb.PortSpec(**value))
            else:
                setattr(message, key, value)
        return message

    def check_refused(self, ctl: controld_env.Controld, api: controld_env.Api, case: Case):
        before = state_fingerprint(ctl)
        messages = []
        if case.args is not None:
            code, line = ctl.vswctl_fail(*case.args, code=1)
            self.assertRegex(line, rf"^vswctl: {case.code}: {re.escape(case.field)}: ",
                             f"{case.what}: vswctl {case.args}")
            messages.append(line.removeprefix(f"vswctl: {case.code}: "))
            self.assertEqual(state_fingerprint(ctl), before,
                             f"{case.what}: vswctl {case.args} was refused but changed the state")
        status, details = api.fail(case.method, self.request(api, case.method, case.request))
        self.assertEqual(status.name, case.code, f"{case.what}: gRPC {case.method} "
                         f"{case.request}: {details}")
        self.assertTrue(details.startswith(f"{case.field}: "),
                        f"{case.what}: gRPC details {details!r} do not start with "
                        f"{case.field!r}")
        messages.append(details)
        if case.value is not None:
            self.assertIn(case.value, details, f"{case.what}: the message names the value")
        if len(messages) == 2:
            self.assertEqual(messages[0], messages[1],
                             f"{case.what}: vswctl prints controld's message as is")
        self.assertEqual(state_fingerprint(ctl), before,
                         f"{case.what}: gRPC {case.method} was refused but changed the state")
        vswtest.log(f"refused as expected: {case.what}: {case.code}: {details}")

    # -----------------------------------------------------------------------------------------

    def test_validation_errors(self):
        with ControldEnv() as env:
            ctl = env.controld()
            api = env.api(f"unix:{ctl.socket_path}")
            kiface = env.name("k")
            vsock = env.workdir / "v1.sock"
            # What the refusals must not disturb.
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            ctl.vswctl("port", "add", "n1", "--type", "null")
            ctl.vswctl("port", "add", "k1", "--type", "af-packet", "--iface", kiface)
            ctl.vswctl("port", "add", "t1", "--type", "tap")
            ctl.vswctl("port", "add", "v1", "--type", "vhost-user", "--mode", "client",
                       "--socket", str(vsock))
            ctl.vswctl("port", "add", "v2", "--type", "vhost-user",
                       "--socket", str(ctl.run_dir / "vhost" / "v3.sock"))
            ctl.vswctl("xconnect", "add", "r1", "n1")

            long_socket = "/tmp/" + "s" * 100
            cases = [
                Case("unknown type", *add_port_case("x", type="foo"), INVALID, "type", "'foo'"),
                Case("missing type", *add_port_case("x"), INVALID, "type"),
                Case("empty name", *add_port_case("", type="ring"), INVALID, "name"),
                Case("bad name", *add_port_case("bad/name", type="ring"), INVALID, "name",
                     "'bad/name'"),
                Case("name too long", *add_port_case("n" * 33, type="ring"), INVALID, "name"),
                Case("af-packet without iface", *add_port_case("x", type="af-packet"), INVALID,
                     "iface"),
                Case("af-xdp without iface", *add_port_case("x", type="af-xdp"), INVALID, "iface"),
                Case("iface on a ring port", *add_port_case("x", type="ring", iface="eth0"),
                     INVALID, "iface", "'eth0'"),
                Case("bad iface", *add_port_case("x", type="af-packet", iface="a/b"), INVALID,
                     "iface", "'a/b'"),
                Case("iface too long", *add_port_case("x", type="af-packet", iface="i" * 16),
                     INVALID, "iface"),
                Case("tap named beyond IFNAMSIZ, no iface", *add_port_case("t" * 16, type="tap"),
                     INVALID, "iface"),
                Case("bad vhost mode", *add_port_case("x", type="vhost-user", mode="bogus"),
                     INVALID, "mode", "'bogus'"),
                Case("mode on a tap port", *add_port_case("x", type="tap", mode="client"),
                     INVALID, "mode"),
                Case("relative socket", *add_port_case("x", type="vhost-user", socket="rel.sock"),
                     INVALID, "socket", "'rel.sock'"),
                Case("socket with a comma", *add_port_case("x", type="vhost-user", socket="/a,b"),
                     INVALID, "socket"),
                Case("socket too long", *add_port_case("x", type="vhost-user", socket=long_socket),
                     INVALID, "socket"),
                Case("socket on an af-packet port",
                     *add_port_case("x", type="af-packet", iface="e0", socket="/x.sock"),
                     INVALID, "socket"),
                Case("too many queues", *add_port_case("x", type="vhost-user", queues=17), INVALID,
                     "queues", "17"),
                Case("multicast mac", *add_port_case("x", type="tap", mac="01:00:5e:00:00:01"),
                     INVALID, "mac", "'01:00:5e:00:00:01'"),
                Case("malformed mac", *add_port_case("x", type="vhost-user", mac="02:00:00:00:00"),
                     INVALID, "mac"),
                Case("mac on a ring port",
                     *add_port_case("x", type="ring", mac="02:00:00:00:00:01"), INVALID, "mac"),
                Case("dpdk without devargs", *add_port_case("x", type="dpdk"), INVALID, "devargs"),
                Case("devargs with a space",
                     *add_port_case("x", type="dpdk", devargs="net_null0 x"), INVALID, "devargs"),
                Case("devargs on a null port",
                     *add_port_case("x", type="null", devargs="net_null0"), INVALID, "devargs"),
                Case("AddPort without a spec", None, "AddPort", {}, INVALID, "port"),
                Case("duplicate name", *add_port_case("r1", type="null"), EXISTS, "name", "'r1'"),
                Case("duplicate iface", *add_port_case("x", type="af-xdp", iface=kiface), EXISTS,
                     "iface", f"'{kiface}'"),
                Case("iface of a tap port (its name by default)",
                     *add_port_case("x", type="af-packet", iface="t1"), EXISTS, "iface"),
                Case("duplicate socket", *add_port_case("x", type="vhost-user", socket=str(vsock)),
                     EXISTS, "socket"),
                Case("default socket already taken", *add_port_case("v3", type="vhost-user"),
                     EXISTS, "socket"),
                Case("xconnect to a missing port_b", ["xconnect", "add", "k1", "nope"],
                     "AddXconnect", {"port_a": "k1", "port_b": "nope"}, NOT_FOUND, "port_b",
                     "'nope'"),
                Case("xconnect from a missing port_a", ["xconnect", "add", "nope", "k1"],
                     "AddXconnect", {"port_a": "nope", "port_b": "k1"}, NOT_FOUND, "port_a",
                     "'nope'"),
                Case("xconnect of a port to itself", ["xconnect", "add", "k1", "k1"],
                     "AddXconnect", {"port_a": "k1", "port_b": "k1"}, INVALID, "port_b"),
                Case("xconnect without port_a", None, "AddXconnect", {"port_b": "k1"}, INVALID,
                     "port_a"),
                Case("xconnect without port_b", None, "AddXconnect", {"port_a": "k1"}, INVALID,
                     "port_b"),
                Case("port_a already cross-connected", ["xconnect", "add", "r1", "k1"],
                     "AddXconnect", {"port_a": "r1", "port_b": "k1"}, EXISTS, "port_a"),
                Case("port_b already cross-connected", ["xconnect", "add", "k1", "n1"],
                     "AddXconnect", {"port_a": "k1", "port_b": "n1"}, EXISTS, "port_b"),
                Case("delete a cross-connected port (port_a)", ["port", "del", "r1"], "DeletePort",
                     {"name": "r1"}, PRECONDITION, "name", "'n1'"),
                Case("delete a cross-connected port (port_b)", ["port", "del", "n1"], "DeletePort",
                     {"name": "n1"}, PRECONDITION, "name", "'r1'"),
                Case("delete an unknown port", ["port", "del", "nope"], "DeletePort",
                     {"name": "nope"}, NOT_FOUND, "name", "'nope'"),
                Case("show an unknown port", ["port", "show", "nope"], "GetPort", {"name": "nope"},
                     NOT_FOUND, "name", "'nope'"),
                Case("delete the xconnect of an unknown port", ["xconnect", "del", "nope"],
                     "DeleteXconnect", {"port": "nope"}, NOT_FOUND, "port", "'nope'"),
                Case("delete the xconnect of a port that has none", ["xconnect", "del", "k1"],
                     "DeleteXconnect", {"port": "k1"}, NOT_FOUND, "port", "'k1'"),
            ]
            for case in cases:
                with self.subTest(case.what):
                    self.check_refused(ctl, api, case)

            # The rejections left the accepted objects as they were, on disk too.
            ctl.restart()
            self.assertEqual(sorted(ctl.ports()), ["k1", "n1", "r1", "t1", "v1", "v2"])
            self.assertEqual(ctl.xconnects(), [("r1", "n1")])

    def test_missing_names_are_invalid_argument(self):
        """DeletePort / GetPort / DeleteXconnect with the name left out: a missing field is
        INVALID_ARGUMENT (proto/vswitch.proto's conventions, and what AddPort says for the
        same empty name), not NOT_FOUND "no port ''"."""
        with ControldEnv() as env:
            ctl = env.controld()
            api = env.api(f"unix:{ctl.socket_path}")
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            for case in (Case("DeletePort without a name", ["port", "del", ""], "DeletePort", {},
                              INVALID, "name"),
                         Case("GetPort without a name", ["port", "show", ""], "GetPort", {},
                              INVALID, "name"),
                         Case("DeleteXconnect without a port", ["xconnect", "del", ""],
                              "DeleteXconnect", {}, INVALID, "port")):
                with self.subTest(case.what):
                    self.check_refused(ctl, api, case)

    def test_usage_errors_send_nothing(self):
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            before = state_fingerprint(ctl)
            for args in (["port", "add"], ["port", "add", "x", "--type"],
                         ["port", "add", "x", "--type", "ring", "--bogus", "1"],
                         ["port", "add", "x", "--type", "vhost-user", "--queues", "many"],
                         ["port", "add", "x", "--type", "ring", "--type", "null"],
                         ["port", "frob"], ["frob"], ["xconnect", "add", "r1"],
                         ["port", "del", "r1", "extra"]):
                code, line = ctl.vswctl_fail(*args, code=2)
                self.assertTrue(line.startswith("vswctl: ") and "--help" in line, line)
            self.assertEqual(state_fingerprint(ctl), before)
            # Nothing is sent: a usage error is exit 2 even with no controld to talk to.
            nowhere = controld_env.Vswctl(run_dir=env.workdir / "nowhere")
            nowhere.fail("port", "add", "x", "--type", "ring", "--queues", "x", code=2)
            # A command that is sent but finds no controld: exit 1, UNAVAILABLE, the address.
            code, line = nowhere.fail("port", "list", code=1)
            self.assertIn("vswctl: UNAVAILABLE: cannot reach vsw-controld at unix:"
                          f"{env.workdir / 'nowhere' / 'control.sock'}", line)

    def test_write_failure_is_internal_and_changes_nothing(self):
        """A change that cannot be stored is refused as INTERNAL and nothing changes, in
        memory or on disk. The write is made to fail by putting a directory where controld
        writes its temp file (root ignores permissions)."""
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            before = state_fingerprint(ctl)
            tmp = ctl.state_dir / "state.pb.tmp"
            tmp.mkdir()
            try:
                for args in (["port", "add", "r2", "--type", "ring"], ["port", "del", "r1"]):
                    code, line = ctl.vswctl_fail(*args, code=1)
                    self.assertRegex(line, r"^vswctl: INTERNAL: state: cannot be written .*"
                                     r"nothing changed", args)
                    self.assertEqual(state_fingerprint(ctl), before, args)
            finally:
                tmp.rmdir()
            ctl.vswctl("port", "add", "r2", "--type", "ring")
            ctl.restart()
            self.assertEqual(sorted(ctl.ports()), ["r1", "r2"])

    def test_port_limit(self):
        with ControldEnv() as env:
            ctl = env.controld()
            api = env.api(f"unix:{ctl.socket_path}")
            for i in range(32):
                api.call("AddPort", api.pb.AddPortRequest(port=api.pb.PortSpec(name=f"p{i}",
                                                                               type="null")))
            self.check_refused(ctl, api, Case("the 33rd port", *add_port_case("p32", type="null"),
                                              "RESOURCE_EXHAUSTED", "ports"))

    # -----------------------------------------------------------------------------------------

    def test_python_client_health_and_reflection(self):
        with ControldEnv() as env:
            ctl = env.controld()
            api = env.api(f"unix:{ctl.socket_path}")
            pb = api.pb

            status = api.call("GetStatus", pb.GetStatusRequest())
            self.assertTrue(status.version)
            self.assertEqual(status.state_file, str(ctl.state_file))
            self.assertEqual(status.dataplane.state, "disconnected")

            # Add from Python; defaults are made explicit in what is stored and returned.
            py1 = api.call("AddPort", pb.AddPortRequest(port=pb.PortSpec(name="py1", type="ring")))
            self.assertEqual((py1.spec.name, py1.spec.type, py1.spec.queues), ("py1", "ring", 1))
            self.assertFalse(py1.state.programmed)
            py2 = api.call("AddPort", pb.AddPortRequest(port=pb.PortSpec(name="py2",
                                                                         type="vhost-user")))
            self.assertEqual(py2.spec.mode, "server")
            self.assertEqual(py2.spec.socket, str(ctl.run_dir / "vhost" / "py2.sock"))
            ctl.vswctl("port", "add", "cli1", "--type", "null")

            # Python and vswctl see the same ports, field for field. (A field only one side
            # knows must be at its default: the binaries may be built from an older or newer
            # proto/vswitch.proto than the working tree's.)
            listed = api.call("ListPorts", pb.ListPortsRequest())
            as_python = {p.spec.name: MessageToDict(p.spec, preserving_proto_field_name=True,
                                                    including_default_value_fields=True)
                         for p in listed.ports}
            as_vswctl = {name: p["spec"] for name, p in ctl.ports().items()}
            self.assertEqual(sorted(as_python), ["cli1", "py1", "py2"])
            self.assertEqual(sorted(as_vswctl), ["cli1", "py1", "py2"])
            for name in as_python:
                py, cli = as_python[name], as_vswctl[name]
                for key in py.keys() | cli.keys():
                    if key in py and key in cli:
                        self.assertEqual(py[key], cli[key], (name, key))
                    else:
                        self.assertIn(py.get(key, cli.get(key)), (0, "", False, [], {}),
                                      (name, key, "known to one side only, and set"))

            x = api.call("AddXconnect", pb.AddXconnectRequest(port_a="py1", port_b="cli1"))
            self.assertEqual((x.port_a, x.port_b, x.programmed), ("py1", "cli1", False))
            self.assertEqual(ctl.xconnects(), [("py1", "cli1")])
            got = api.call("GetPort", pb.GetPortRequest(name="py2"))
            self.assertEqual(got.spec, py2.spec)
            api.call("DeleteXconnect", pb.DeleteXconnectRequest(port="cli1"))
            api.call("DeletePort", pb.DeletePortRequest(name="py1"))
            self.assertEqual(sorted(ctl.ports()), ["cli1", "py2"])
            self.assertEqual(ctl.xconnects(), [])
            # Stats need the dataplane.
            code, details = api.fail("GetStats", pb.GetStatsRequest())
            self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
            self.assertTrue(details.startswith("dataplane: disconnected"), details)

            # grpc.health.v1: through generated stubs, and by the method's full name with a
            # hand-encoded (empty) request.
            health = api.health.Check(api.health_pb.HealthCheckRequest(), timeout=30)
            self.assertEqual(health.status, api.health_pb.HealthCheckResponse.SERVING)
            raw = api.channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=30)
            self.assertEqual(api.health_pb.HealthCheckResponse.FromString(raw).status,
                             api.health_pb.HealthCheckResponse.SERVING)

            # Server reflection lists the service and serves the same API as proto/vswitch.proto.
            rpb = api.reflection_pb
            replies = list(api.reflection.ServerReflectionInfo(iter([
                rpb.ServerReflectionRequest(list_services=""),
                rpb.ServerReflectionRequest(file_containing_symbol="vswitch.v1.Vswitch")]),
                timeout=30))
            self.assertEqual(len(replies), 2, replies)
            services = [s.name for s in replies[0].list_services_response.service]
            self.assertIn("vswitch.v1.Vswitch", services)
            self.assertIn("grpc.health.v1.Health", services)
            files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                     for b in replies[1].file_descriptor_response.file_descriptor_proto]
            served = {f"{f.package}.{s.name}": sorted(m.name for m in s.method)
                      for f in files for s in f.service}
            self.assertIn("vswitch.v1.Vswitch", served)
            self.assertLessEqual(CORE_METHODS, set(served["vswitch.v1.Vswitch"]), served)
            ours = sorted(m.name for m in pb.DESCRIPTOR.services_by_name["Vswitch"].methods)
            if served["vswitch.v1.Vswitch"] != ours:
                vswtest.log("note: controld serves another vswitch.v1.Vswitch than the working "
                            f"tree's proto/vswitch.proto (binaries not rebuilt?): served "
                            f"{served['vswitch.v1.Vswitch']}, proto {ours}")

    def test_readme_python_recipe(self):
        """README.md's Python example, as written: generate with Debian's
        `python3 -m grpc_tools.protoc`, then list ports with grpcio."""
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "r1", "--type", "ring")
            out = env.workdir / "readme-py"
            out.mkdir()
            r = subprocess.run([controld_env.PYTHON, "-m", "grpc_tools.protoc", "-Iproto",
                                f"--python_out={out}", f"--grpc_python_out={out}",
                                "proto/vswitch.proto"],
                               cwd=vswtest.REPO, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, "README's code generation fails: "
                             f"{r.stderr.strip()}")
            script = ("import grpc, vswitch_pb2 as pb, vswitch_pb2_grpc as rpc\n"
                      "api = rpc.VswitchStub(grpc.insecure_channel("
                      f"'unix:{ctl.socket_path}'))\n"
                      "print(api.ListPorts(pb.ListPortsRequest(), timeout=30))\n")
            r = subprocess.run([controld_env.PYTHON, "-c", script], capture_output=True,
                               text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(out)})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('name: "r1"', r.stdout)

    def test_status_without_dataplane(self):
        with ControldEnv() as env:
            ctl = env.controld()
            mode = stat.S_IMODE(ctl.socket_path.stat().st_mode)
            self.assertEqual(mode, 0o660, f"control.sock has mode {oct(mode)}")

            r = ctl.vswctl.raw("status")
            self.assertEqual(r.returncode, 1, r)
            self.assertEqual(r.stderr.strip(), "vswctl: dataplane: disconnected")
            self.assertRegex(r.stdout, r"dataplane:\s+disconnected")
            r = ctl.vswctl.raw("status", json_output=True)
            self.assertEqual(r.returncode, 1, r)
            status = json.loads(r.stdout)
            dp = status["dataplane"]
            self.assertEqual((dp["state"], dp["programmed"]), ("disconnected", False), status)
            self.assertEqual(dp["socket"], str(ctl.run_dir / "dataplane.sock"))
            wait_until(lambda: "No such file" in ctl.status()["dataplane"]["last_error"], 10,
                       "status to say why the dataplane is not connected",
                       state=lambda: ctl.status())

            # Changes while disconnected are stored and pending.
            port = ctl.vswctl("port", "add", "r1", "--type", "ring")
            self.assertEqual((port["state"]["programmed"], port["state"]["error"]), (False, ""))
            ctl.vswctl("port", "add", "r2", "--type", "ring")
            x = ctl.vswctl("xconnect", "add", "r1", "r2")
            self.assertFalse(x["programmed"], x)
            status = ctl.status()
            self.assertEqual((status["ports"], status["xconnects"]), (2, 1), status)
            r = ctl.vswctl.raw("port", "list")
            self.assertRegex(r.stdout, r"r1\s+ring\s+pending")
            code, line = ctl.vswctl_fail("stats", code=1)
            self.assertTrue(line.startswith("vswctl: UNAVAILABLE: dataplane: disconnected"), line)

    # -----------------------------------------------------------------------------------------

    def test_damaged_state_refused(self):
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "a", "--type", "ring")
            ctl.vswctl("port", "add", "b", "--type", "null")
            ctl.vswctl("xconnect", "add", "a", "b")
            ctl.stop()
            good = ctl.state_file.read_bytes()
            mode = stat.S_IMODE(ctl.state_file.stat().st_mode)
            self.assertEqual(mode & 0o007, 0, f"state.pb is world-accessible ({oct(mode)})")
            self.assertEqual(good[:8], b"VSWSTATE")

            def flip(data: bytes, at: int) -> bytes:
                return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]

            bad_payload = b"\x08\xff"  # field 1 (generation), a varint cut short
            damaged = {
                "truncated by 3 bytes": (good[:-3], "truncated"),
                "truncated inside the header": (good[:10], "truncated"),
                "empty": (b"", "truncated"),
                "a byte appended": (good + b"\0", "padded"),
                "a payload byte flipped": (flip(good, len(good) - 5), "checksum mismatch"),
                "a checksum byte flipped": (flip(good, 17), "checksum mismatch"),
                "a foreign file": (b"not a state file, but long enough",
                                   "not a vswitch state file"),
                "an unknown version": (good[:8] + b"\0\0\0\x02" + good[12:], "version 2"),
                "a right checksum over a payload that does not parse": (
                    good[:12] + struct.pack(">II", len(bad_payload), zlib.crc32(bad_payload))
                    + bad_payload, "does not parse"),
            }
            for what, (data, problem) in damaged.items():
                with self.subTest(what):
                    ctl.state_file.write_bytes(data)
                    code, output = ctl.start_expect_exit()
                    self.assertNotEqual(code, 0, f"{what}: controld started ({output})")
                    self.assertIn(str(ctl.state_file), output, what)
                    self.assertIn(problem, output, what)
                    self.assertNotIn("ready:", output, what)
                    self.assertFalse(ctl.socket_path.exists(), f"{what}: control.sock was created")
                    self.assertEqual(ctl.state_file.read_bytes(), data,
                                     f"{what}: controld rewrote the damaged file")
                    vswtest.log(f"{what}: exit {code}: {output.strip().splitlines()[-1]}")

            # The undamaged file loads again, with everything in it; a leftover temp file (a
            # crash before the rename) was never acknowledged and is deleted.
            ctl.state_file.write_bytes(good)
            tmp = ctl.state_dir / "state.pb.tmp"
            tmp.write_bytes(b"half-written")
            ctl.start()
            self.assertFalse(tmp.exists(), "state.pb.tmp survived a start")
            self.assertEqual(sorted(ctl.ports()), ["a", "b"])
            self.assertEqual(ctl.xconnects(), [("a", "b")])

    def test_missing_state_dir_is_created(self):
        with ControldEnv() as env:
            sdir = env.workdir / "new" / "deeper" / "state"
            ctl = env.controld(state_dir=sdir)
            self.assertTrue(sdir.is_dir())
            self.assertEqual(ctl.ports(), {})
            ctl.vswctl("port", "add", "a", "--type", "ring")
            self.assertTrue(ctl.state_file.exists())
            ctl.stop()
            ctl.start()
            self.assertEqual(sorted(ctl.ports()), ["a"])

    def test_second_controld_refused(self):
        """A second controld on the state dir of a running one must refuse to start (exit
        non-zero, saying why) and leave the first one serving. Two would keep two diverging
        copies of the desired state in memory, overwrite each other's state.pb and both
        program the dataplane; and, on the same run dir, the second replaces control.sock, so
        the first becomes unreachable, and when the first stops it deletes the second's
        socket."""
        with ControldEnv() as env:
            first = env.controld()
            first.vswctl("port", "add", "r1", "--type", "ring")
            for what, run_dir in (("same run dir", first.run_dir),
                                  ("another run dir", env.workdir / "run2")):
                with self.subTest(what):
                    second = env.controld(run_dir=run_dir, state_dir=first.state_dir,
                                          start=False, label="controld-second")
                    second.spawn()
                    p = second.process

                    def outcome():
                        if not p.alive():
                            return "exited"
                        return "started" if "ready:" in p.output() else None

                    result = wait_until(outcome, controld_env.CONTROLD_START_TIMEOUT,
                                        "the second controld to exit or to start")
                    output = p.output()
                    if result == "started":
                        second.stop()
                    else:
                        second.kill()
                    self.assertEqual(result, "exited", f"a second controld on "
                                     f"{first.state_dir} started ({what}): {output}")
                    self.assertNotEqual(p.proc.returncode, 0, output)
                    self.assertIn(str(first.state_dir), output)
            # The first one still serves, on its socket, with its state.
            self.assertTrue(first.alive())
            first.vswctl("port", "add", "r2", "--type", "ring")
            self.assertEqual(sorted(first.ports()), ["r1", "r2"])
            first.stop()
            first.start()
            self.assertEqual(sorted(first.ports()), ["r1", "r2"])


if __name__ == "__main__":
    controld_env.main()
