"""Helpers for the vsw-controld integration tests, on top of the shared harness (vswtest).

    with controld_env.ControldEnv() as env:
        dp = env.dataplane()                       # vswtest's, run dir WORKDIR/run
        ctl = env.controld()                       # same run dir, state in WORKDIR/state
        ctl.wait_programmed()
        ctl.vswctl("port", "add", "a", "--type", "ring")      # --json, parsed
        code, err = ctl.vswctl_fail("port", "del", "nope")    # (1, "vswctl: NOT_FOUND: ...")
        api = env.api()                            # gRPC stubs generated from proto/*.proto
        api.vswitch.ListPorts(api.pb.ListPortsRequest())

`ControldEnv` is a `vswtest.Env` that also owns controld processes, gRPC channels and veth
pairs, and prints controld's logs when a test fails. `Controld` starts vsw-controld, waits for
its socket and its "ready:" line, stops it with SIGTERM (and asserts exit 0 and that
control.sock is gone), kills it with SIGKILL, and restarts it on the same state directory.
Everything is addressed by pid or by the names this test chose (vswtest.names).

gRPC from Python: `load_api()` generates code at test time from proto/vswitch.proto and from
the two standard services controld also serves, whose well-known definitions are written
below (Debian's python3-grpcio ships neither grpc_health nor grpc_reflection):
grpc.health.v1.Health and grpc.reflection.v1alpha.ServerReflection (the version gRPC 1.51's
C++ reflection plugin serves). It uses `/usr/bin/python3 -m grpc_tools.protoc`, falling back
to Debian's protoc + grpc_python_plugin where that fails (see load_api()).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Optional

import vswtest
from vswtest import BIN, REPO, log, run, tail, wait_until

PYTHON = "/usr/bin/python3"
PROTOC = "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"

CONTROLD_START_TIMEOUT = 30.0
CONTROLD_STOP_TIMEOUT = 20.0
# Above vswctl's own 30 s call deadline: vswctl must report a hang itself.
VSWCTL_TIMEOUT = 60.0
# controld retries its dataplane connection with a backoff of at most 2 s, then replays.
PROGRAMMED_TIMEOUT = 30.0
GRPC_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------------------
# vswctl


class VswctlError(AssertionError):
    pass


class Vswctl:
    """Runs build/bin/vswctl against one controld: `--run-dir DIR` or `--server ADDRESS`."""

    def __init__(self, run_dir: Optional[Path] = None, server: Optional[str] = None):
        if (run_dir is None) == (server is None):
            raise ValueError("give exactly one of run_dir and server")
        self.target = ["--run-dir", str(run_dir)] if run_dir is not None else ["--server", server]

    def raw(self, *args: str, json_output: bool = False) -> subprocess.CompletedProcess:
        cmd = [str(BIN / "vswctl"), *self.target, *(["--json"] if json_output else []), *args]
        return run(cmd, timeout=VSWCTL_TIMEOUT, check=False)

    def __call__(self, *args: str) -> Any:
        """`vswctl --json ARGS`: asserts exit 0 and returns the parsed JSON document."""
        r = self.raw(*args, json_output=True)
        if r.returncode != 0:
            raise VswctlError(f"vswctl {' '.join(args)} failed (exit {r.returncode}): "
                              f"{r.stderr.strip()}")
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError as e:
            raise VswctlError(f"vswctl --json {' '.join(args)}: not one JSON document ({e}): "
                              f"{r.stdout!r}") from None

    def fail(self, *args: str, code: Optional[int] = None) -> tuple[int, str]:
        """Runs `vswctl ARGS` expecting a failure (exit `code`, or any non-zero exit) with
        exactly one line on stderr. Returns (exit code, that line)."""
        r = self.raw(*args)
        if r.returncode == 0 or (code is not None and r.returncode != code):
            raise VswctlError(f"vswctl {' '.join(args)}: exit {r.returncode}, want "
                              f"{code if code is not None else 'non-zero'}; "
                              f"stdout: {r.stdout.strip()!r} stderr: {r.stderr.strip()!r}")
        lines = r.stderr.strip().splitlines()
        if len(lines) != 1:
            raise VswctlError(f"vswctl {' '.join(args)}: want one line on stderr, got "
                              f"{r.stderr!r}")
        return r.returncode, lines[0]


# ---------------------------------------------------------------------------------------------
# vsw-controld


class Controld:
    """vsw-controld on a run dir and a state dir. Use through ControldEnv.controld().

    Each start() runs a new process (same arguments, so the same state dir) with a log of its
    own (controld-N.log), so "ready:" is looked for in this start's output only.
    """

    _starts = 0
    _starts_lock = threading.Lock()

    def __init__(self, workdir: Path, run_dir: Path, state_dir: Path, extra_args=(),
                 label: str = "controld"):
        self.workdir = workdir
        self.run_dir = run_dir
        self.state_dir = state_dir
        self.label = label
        self.socket_path = run_dir / "control.sock"
        self.state_file = state_dir / "state.pb"
        self.cmd = [str(BIN / "vsw-controld"), "--run-dir", str(run_dir),
                    "--state-dir", str(state_dir), *extra_args]
        self.process: Optional[vswtest.Process] = None
        self.log_paths: list[Path] = []
        self.vswctl = Vswctl(run_dir=run_dir)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.log_paths[-1]

    def spawn(self) -> vswtest.Process:
        """Starts the process without waiting for anything (start() waits until ready)."""
        if self.process is not None and self.process.alive():
            raise AssertionError(f"{self.label} is already running (pid {self.process.pid})")
        with Controld._starts_lock:
            n = Controld._starts
            Controld._starts += 1
        path = self.workdir / f"{self.label}-{n}.log"
        self.log_paths.append(path)
        self.process = vswtest.Process("vsw-controld", self.cmd, path)
        return self.process

    def start(self) -> "Controld":
        """Starts controld and waits until control.sock exists and it logged "ready:"."""
        p = self.spawn()

        def ready() -> bool:
            if not p.alive():
                raise AssertionError(f"vsw-controld exited with {p.proc.returncode} before it "
                                     f"was ready; log:\n{tail(p.log_path)}")
            return self.socket_path.exists() and "ready:" in p.output()

        wait_until(ready, CONTROLD_START_TIMEOUT, "vsw-controld to create control.sock and "
                   "log 'ready:'")
        return self

    def start_expect_exit(self, timeout: float = CONTROLD_START_TIMEOUT) -> tuple[int, str]:
        """Starts controld expecting it to refuse to start: returns (exit code, output)."""
        p = self.spawn()
        code = p.wait(timeout)
        if code is None:
            self.kill()
            raise AssertionError(f"vsw-controld did not exit within {timeout:.0f} s; log:\n"
                                 f"{tail(p.log_path)}")
        p.kill()  # reaped already; closes the log
        self.process = None
        return code, p.output()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def stop(self) -> None:
        """SIGTERM; asserts exit 0 within the bound and that control.sock is gone. SIGKILL
        only as a last resort (and then it fails). A no-op when not running (after kill())."""
        if self.process is None:
            return
        p, self.process = self.process, None
        problems = []
        if not p.alive():
            problems.append(f"vsw-controld had already exited with {p.proc.returncode}")
        else:
            started = time.monotonic()
            p.signal(signal.SIGTERM)
            code = p.wait(CONTROLD_STOP_TIMEOUT)
            if code is None:
                problems.append(f"vsw-controld did not exit within {CONTROLD_STOP_TIMEOUT:.0f} s"
                                " of SIGTERM; killed")
            elif code != 0:
                problems.append(f"vsw-controld exited with {code} after SIGTERM (want 0)")
            else:
                log(f"vsw-controld: exited 0, {time.monotonic() - started:.2f} s after SIGTERM")
        p.kill()
        if self.socket_path.exists() and not problems:
            problems.append(f"{self.socket_path} was not removed")
        if problems:
            raise AssertionError("; ".join(problems) +
                                 f"\nvsw-controld log:\n{tail(p.log_path)}")

    def kill(self) -> None:
        """SIGKILL by pid, reaped. control.sock stays behind (the next start replaces it)."""
        if self.process is None:
            return
        p, self.process = self.process, None
        p.kill()
        log(f"vsw-controld: killed pid {p.pid}")

    def restart(self) -> "Controld":
        """kill() if running, then start() on the same run and state dirs."""
        self.kill()
        return self.start()

    # --- through vswctl

    def vswctl_fail(self, *args: str, code: Optional[int] = None) -> tuple[int, str]:
        return self.vswctl.fail(*args, code=code)

    def status(self) -> dict:
        """`vswctl --json status` (exit 0 or 1: it prints the status either way)."""
        r = self.vswctl.raw("status", json_output=True)
        if r.returncode not in (0, 1) or not r.stdout.strip():
            raise VswctlError(f"vswctl status: exit {r.returncode}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def wait_programmed(self, timeout: float = PROGRAMMED_TIMEOUT) -> dict:
        """Waits until `vswctl status` exits 0 (dataplane connected and programmed)."""
        def programmed():
            r = self.vswctl.raw("status", json_output=True)
            return json.loads(r.stdout) if r.returncode == 0 else None
        return wait_until(programmed, timeout, "vswctl status to exit 0 (connected and "
                          "programmed)", interval=0.05, state=lambda: self.status())

    def ports(self) -> dict[str, dict]:
        """`vswctl --json port list` by name."""
        return {p["spec"]["name"]: p for p in self.vswctl("port", "list").get("ports", [])}

    def port(self, name: str) -> dict:
        return self.vswctl("port", "show", name)

    def xconnects(self) -> list[tuple[str, str]]:
        return [(x["port_a"], x["port_b"])
                for x in self.vswctl("xconnect", "list").get("xconnects", [])]


# ---------------------------------------------------------------------------------------------
# gRPC from Python


HEALTH_PROTO = """\
// The standard health service (grpc/grpc: src/proto/grpc/health/v1/health.proto).
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"""

REFLECTION_PROTO = """\
// Server reflection (grpc/grpc: src/proto/grpc/reflection/v1alpha/reflection.proto).
syntax = "proto3";
package grpc.reflection.v1alpha;
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest)
      returns (stream ServerReflectionResponse);
}
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    ExtensionRequest file_containing_extension = 5;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ExtensionRequest {
  string containing_type = 1;
  int32 extension_number = 2;
}
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ExtensionNumberResponse {
  string base_type_name = 1;
  repeated int32 extension_number = 2;
}
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse {
  int32 error_code = 1;
  string error_message = 2;
}
"""

_api_modules: Optional[types.SimpleNamespace] = None


def _protoc_grpc_tools(include: Path, proto: Path, outdir: Path) -> Optional[str]:
    """`/usr/bin/python3 -m grpc_tools.protoc` (the README's recipe): None, or its error."""
    r = run([PYTHON, "-m", "grpc_tools.protoc", f"-I{include}", f"--python_out={outdir}",
             f"--grpc_python_out={outdir}", str(proto)], check=False)
    return None if r.returncode == 0 else (r.stderr.strip() or f"exit {r.returncode}")


def _protoc_system(include: Path, proto: Path, outdir: Path) -> None:
    """Debian's protoc (protobuf-compiler) with grpc_python_plugin (protobuf-compiler-grpc)."""
    run([PROTOC, f"-I{include}", f"--python_out={outdir}", f"--grpc_python_out={outdir}",
         f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}", str(proto)])


def load_api(outdir: Path) -> types.SimpleNamespace:
    """Generates Python code for proto/vswitch.proto, health.proto and reflection.proto into
    `outdir` and imports it. Once per process: later calls return the modules already
    imported (the files are not needed after import).

    The generator is `/usr/bin/python3 -m grpc_tools.protoc`; when it fails on a file, the
    error is kept (`grpc_tools_errors`) and Debian's protoc with grpc_python_plugin is used
    instead: python3-grpc-tools 1.14 bundles protoc 3.5, which rejects proto3 `optional`
    fields, while /usr/bin/protoc is 3.21.

    Returns a namespace: pb / rpc (vswitch_pb2 / _grpc), health_pb / health_rpc,
    reflection_pb / reflection_rpc, grpc_tools_errors ({proto file name: error})."""
    global _api_modules
    if _api_modules is not None:
        return _api_modules
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "health.proto").write_text(HEALTH_PROTO)
    (outdir / "reflection.proto").write_text(REFLECTION_PROTO)
    errors = {}
    for include, proto in ((REPO / "proto", REPO / "proto" / "vswitch.proto"),
                           (outdir, outdir / "health.proto"),
                           (outdir, outdir / "reflection.proto")):
        error = _protoc_grpc_tools(include, proto, outdir)
        if error is not None:
            log(f"grpc_tools.protoc failed on {proto.name} ({error}); using {PROTOC} with "
                f"{GRPC_PYTHON_PLUGIN}")
            errors[proto.name] = error
            _protoc_system(include, proto, outdir)
    sys.path.insert(0, str(outdir))
    try:
        mods = {name: importlib.import_module(name) for name in (
            "vswitch_pb2", "vswitch_pb2_grpc", "health_pb2", "health_pb2_grpc",
            "reflection_pb2", "reflection_pb2_grpc")}
    finally:
        sys.path.remove(str(outdir))
    _api_modules = types.SimpleNamespace(
        pb=mods["vswitch_pb2"], rpc=mods["vswitch_pb2_grpc"],
        health_pb=mods["health_pb2"], health_rpc=mods["health_pb2_grpc"],
        reflection_pb=mods["reflection_pb2"], reflection_rpc=mods["reflection_pb2_grpc"],
        grpc_tools_errors=errors)
    return _api_modules


class Api:
    """A gRPC channel to controld with the stubs of every service it serves."""

    def __init__(self, modules: types.SimpleNamespace, target: str, root_ca: Optional[bytes] = None):
        import grpc
        self.grpc = grpc
        self.target = target
        self.pb = modules.pb
        self.health_pb = modules.health_pb
        self.reflection_pb = modules.reflection_pb
        # root_ca: TLS, trusting that CA (controld serves TCP only with TLS).
        self.channel = (grpc.secure_channel(target, grpc.ssl_channel_credentials(root_ca))
                        if root_ca is not None else grpc.insecure_channel(target))
        self.vswitch = modules.rpc.VswitchStub(self.channel)
        self.health = modules.health_rpc.HealthStub(self.channel)
        self.reflection = modules.reflection_rpc.ServerReflectionStub(self.channel)

    def call(self, method: str, request) -> Any:
        """One unary call of vswitch.v1.Vswitch, with a deadline; raises grpc.RpcError."""
        return getattr(self.vswitch, method)(request, timeout=GRPC_TIMEOUT)

    def fail(self, method: str, request) -> tuple[Any, str]:
        """Calls expecting an error: returns (grpc.StatusCode, details)."""
        try:
            reply = self.call(method, request)
        except self.grpc.RpcError as e:
            return e.code(), e.details()
        raise AssertionError(f"{method}({request}) succeeded, want an error; reply: {reply}")

    def close(self) -> None:
        self.channel.close()


# ---------------------------------------------------------------------------------------------
# Network helpers


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Veth:
    """A veth pair: `root` stays in the root namespace (up, IPv6 off: the switch's side, for
    an af-packet port), `peer` is meant to move into a namespace (Netns.adopt). Unlike a tap
    interface, it survives the process that uses it. Deleted (by name) on close.
    `create=False` only picks the names (create() later: an interface that appears late)."""

    def __init__(self, env: vswtest.Env, create: bool = True):
        self.root = env.iface_name()
        self.peer = env.iface_name()
        if create:
            self.create()

    def create(self) -> None:
        run(["ip", "link", "add", "dev", self.root, "type", "veth", "peer", "name", self.peer])
        try:
            run(["sysctl", "-qw", f"net.ipv6.conf.{self.root}.disable_ipv6=1"])
            run(["ip", "link", "set", "dev", self.root, "up"])
        except BaseException:
            self.close()
            raise
        log(f"veth {self.root} <-> {self.peer}: created")

    def close(self) -> None:
        # Deleting one end deletes the pair, wherever the other end is.
        if run(["ip", "link", "show", "dev", self.root], check=False).returncode == 0:
            run(["ip", "link", "del", "dev", self.root])
            log(f"veth {self.root}: deleted")


class PingRun:
    """`ping -D -O` running in a namespace, its replies read as they come (a reader thread).

    `replies` holds (wall-clock time of the reply as ping printed it, icmp_seq). Stopped by
    pid: `finish()` waits for a `-c COUNT` run to end, `stop()` interrupts it (SIGINT, so
    ping prints its summary)."""

    REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")

    def __init__(self, ns: vswtest.Netns, address: str, interval: float = 0.05,
                 count: Optional[int] = None, wait: float = 2.0):
        cmd = ["ping", "-n", "-D", "-O", "-i", str(interval), "-W", str(wait)]
        if count is not None:
            cmd += ["-c", str(count)]
        self.proc = ns.popen([*cmd, address])
        self.lines: list[str] = []
        self.replies: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""
        log(f"ping {address} in {ns.name}: pid {self.proc.pid}")

    def _read(self) -> None:
        for line in self.proc.stdout:
            m = self.REPLY.match(line)
            with self._lock:
                self.lines.append(line.rstrip("\n"))
                if m:
                    self.replies.append((float(m.group(1)), int(m.group(2))))

    def replies_after(self, wall_time: float) -> list[tuple[float, int]]:
        with self._lock:
            return [r for r in self.replies if r[0] >= wall_time]

    def reply_count(self) -> int:
        with self._lock:
            return len(self.replies)

    def missing(self) -> list[int]:
        """icmp_seq numbers sent before the last reply that got no reply: the losses, not
        counting what was still in flight when ping was stopped."""
        with self._lock:
            seqs = {seq for _, seq in self.replies}
        return sorted(set(range(1, max(seqs, default=0) + 1)) - seqs)

    def _collect(self, timeout: float) -> tuple[int, int]:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        self.stderr = self.proc.stderr.read()
        with self._lock:
            text = "\n".join(self.lines)
        log(f"ping pid {self.proc.pid}: exit {code}: {text.splitlines()[-2:]}")
        return vswtest.parse_ping(text)

    def finish(self, timeout: float) -> tuple[int, int]:
        """Waits for a counted run to end; returns (transmitted, received)."""
        try:
            return self._collect(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"ping did not finish within {timeout:.0f} s") from None

    def stop(self) -> tuple[int, int]:
        """SIGINT (ping prints its summary); returns (transmitted, received)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.finish(10)


# ---------------------------------------------------------------------------------------------
# Dataplane helpers


def kill_dataplane(env: vswtest.Env, dp: vswtest.Dataplane) -> None:
    """kill -9 the dataplane (by pid) and reap it; the Env no longer stops it. Cleans what a
    killed DPDK process leaves and a new one would not: its EAL runtime dir and, in huge mode,
    its hugepage files (named after its --file-prefix) in the test's private hugetlbfs.
    RUN/dataplane.sock stays behind, as after a crash."""
    assert dp.process is not None, "the dataplane is not running"
    p, dp.process = dp.process, None
    p.kill()
    log(f"vsw-dataplane: killed pid {p.pid}")
    vswtest.remove_dpdk_runtime_dir(dp.file_prefix)
    if env.memory.mode == "huge" and vswtest.names.owns(dp.file_prefix):
        for f in env.memory.mount_dir.glob(f"{dp.file_prefix}map_*"):
            with contextlib.suppress(OSError):
                f.unlink()


def vm_pids(run_dir: Path) -> dict[str, int]:
    """The QEMU processes controld started for VMs on `run_dir` and that still run: name -> pid
    (from RUN/vms/NAME/qemu.pid, checked against the process's command line)."""
    out = {}
    for pidfile in (run_dir / "vms").glob("*/qemu.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(pidfile.parent / "qmp.sock").encode() in cmdline:
                out[pidfile.parent.name] = pid
    return out


def kill_vms(run_dir: Path) -> None:
    """SIGKILL the guests controld left running on `run_dir` (by the pids it recorded; VMs
    outlive controld by design) and wait until they are gone."""
    pids = vm_pids(run_dir)
    for name, pid in pids.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        log(f"vm {name}: killed QEMU pid {pid}")
    wait_until(lambda: not vm_pids(run_dir), 30, "the VMs' QEMU processes to exit")


# ---------------------------------------------------------------------------------------------
# Env


class ControldEnv(vswtest.Env):
    """vswtest.Env plus controld processes, gRPC channels and veth pairs; prints controld's
    logs too when a test fails."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._controlds: list[Controld] = []
        self._vm_run_dirs: set[Path] = set()

    @property
    def run_dir(self) -> Path:
        """WORKDIR/run: where env.dataplane() puts dataplane.sock by default."""
        return self.workdir / "run"

    def controld(self, run_dir: Optional[Path] = None, state_dir: Optional[Path] = None,
                 extra_args=(), start: bool = True, label: str = "controld") -> Controld:
        """A vsw-controld on `run_dir` (default WORKDIR/run, the dataplane's) and `state_dir`
        (default WORKDIR/state); stopped at exit with SIGTERM, its exit code checked."""
        ctl = Controld(self.workdir, run_dir or self.run_dir, state_dir or self.workdir / "state",
                       extra_args, label)
        self._controlds.append(ctl)
        if ctl.run_dir not in self._vm_run_dirs:
            # Registered before ctl.stop, so it runs after it: guests outlive controld.
            self._vm_run_dirs.add(ctl.run_dir)
            self.callback(lambda: kill_vms(ctl.run_dir))
        self.callback(ctl.stop)
        return ctl.start() if start else ctl

    def api(self, target: str, root_ca: Optional[bytes] = None) -> Api:
        """gRPC stubs on `target` ("unix:/path", or "host:port" with the PEM CA `root_ca`
        for TLS); closed at exit."""
        api = Api(load_api(self.workdir / "pygen"), target, root_ca)
        self.callback(api.close)
        return api

    def veth(self, create: bool = True) -> Veth:
        """A veth pair (see Veth), deleted at exit."""
        veth = Veth(self, create)
        self.callback(veth.close)
        return veth

    def dump_logs(self) -> None:
        super().dump_logs()
        for ctl in self._controlds:
            for path in ctl.log_paths:
                print(f"\n===== {path.name} =====\n{tail(path, vswtest.LOG_TAIL_LINES)}\n"
                      f"===== end of {path.name} =====", file=sys.stderr, flush=True)


def main() -> None:
    """Entry point of a test file: checks controld's binaries, then vswtest.main()."""
    for binary in ("vsw-controld", "vswctl"):
        if not (BIN / binary).exists():
            print(f"{BIN / binary} is missing: build first (make build) or set VSW_BIN",
                  file=sys.stderr)
            sys.exit(1)
    if not Path(PYTHON).exists():
        print(f"{PYTHON} is missing (Debian's python3 with python3-grpcio and "
              "python3-grpc-tools)", file=sys.stderr)
        sys.exit(1)
    vswtest.main()
