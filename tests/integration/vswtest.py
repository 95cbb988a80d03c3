"""Shared harness for the vswitch integration tests.

The tests drive the real binaries (vsw-dataplane, vsw-dpctl), real DPDK peers (dpdk-testpmd as
a vhost-user guest) and the Linux kernel in network namespaces. Each test file is a unittest
module run by CTest as `/usr/bin/python3 test_x.py` with

    VSW_BIN     directory holding vsw-dataplane and vsw-dpctl (default: <repo>/build/bin)
    VSW_MEMORY  "nohuge" (default) or "huge": which DPDK memory mode the test runs in
    VSW_KEEP=1  keep the per-test work directory (logs, sockets) instead of removing it

Everything a test creates goes through an `Env` (a context manager):

    with vswtest.Env() as env:
        dp = env.dataplane()                   # vsw-dataplane, ready to answer
        dp.port_add("a", "tap", iface=env.iface_name())
        ns = env.netns()                       # a network namespace
        pmd = env.testpmd(socket_path)         # a vhost-user guest (dpdk-testpmd)
        ...

Names are unique per test run: they all derive from the test process's pid (`names`), so two
runs never collide and cleanup only ever touches what this run created. The test process
works in a private mount namespace (`private_mount_namespace`), so its hugetlbfs is its own.
On exit the Env stops every process it started (by pid, never by name pattern), deletes its
namespaces (by the names it chose), unmounts its hugetlbfs, restores vm.nr_hugepages and
removes its work directory; when the test failed it prints the logs of every process first.
Children die with the test process (PR_SET_PDEATHSIG), even when it is killed.

See docs/testing.md for the memory modes and the DPDK/testpmd/tap quirks behind the choices.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VSW_BIN") or REPO / "build" / "bin")
MEMORY = os.environ.get("VSW_MEMORY", "nohuge")
KEEP = os.environ.get("VSW_KEEP") == "1"

# The machine has two cores; every DPDK process gets both. The dataplane's main lcore is 0
# (mostly asleep in epoll) and its worker is lcore 1; testpmd peers use main lcore 1 and
# forward on lcore 0, so the busy pollers are spread over both cores.
CORES = "0,1"
DATAPLANE_MAIN_LCORE = "0"
TESTPMD_MAIN_LCORE = "1"

# Generous bounds: the machine is small and shared (three busy-polling processes on two cores).
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
DPCTL_TIMEOUT = 30.0

HUGEPAGE_KB = 2048
HUGEPAGE_SYSFS = Path(f"/sys/kernel/mm/hugepages/hugepages-{HUGEPAGE_KB}kB")
# What a huge-mode test reserves by default: 512 MiB for the dataplane, the rest for peers.
DEFAULT_HUGEPAGES_MIB = 1536
# Memory a testpmd peer gets in no-huge mode (memfd-backed, shareable with vhost-user).
TESTPMD_NOHUGE_MB = 512
# How much of each process's log a failed test prints (vhost-user logs are chatty).
LOG_TAIL_LINES = 300


def log(message: str) -> None:
    """One line to stderr with a timestamp relative to the start of the test process."""
    print(f"[{time.monotonic() - _T0:7.2f}s] {message}", file=sys.stderr, flush=True)


_T0 = time.monotonic()


# ---------------------------------------------------------------------------------------------
# Names


class Names:
    """Unique names for one test process, all derived from its pid.

    `name(kind)` gives e.g. "vsw12345n0": at most 15 characters, so it is valid as a network
    namespace, an interface name and a DPDK --file-prefix. `kind` is a short tag (1-3 letters)
    telling what the name is for; a counter makes repeated kinds unique.
    """

    MAX_LEN = 15  # IFNAMSIZ - 1

    def __init__(self, pid: int | None = None):
        self.tag = f"vsw{pid or os.getpid()}"
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def name(self, kind: str) -> str:
        with self._lock:
            n = self._counters.get(kind, 0)
            self._counters[kind] = n + 1
        result = f"{self.tag}{kind}{n}"
        if len(result) > self.MAX_LEN:
            raise ValueError(f"name {result!r} is longer than {self.MAX_LEN} characters")
        return result

    def owns(self, name: str) -> bool:
        """True when `name` was (or could have been) made by this Names."""
        return re.fullmatch(re.escape(self.tag) + r"[a-z]+\d+", name) is not None


names = Names()


# ---------------------------------------------------------------------------------------------
# Small helpers


def wait_until(predicate: Callable[[], Any], timeout: float, description: str,
               interval: float = 0.1, state: Optional[Callable[[], Any]] = None) -> Any:
    """Polls `predicate` until it returns a truthy value, and returns that value.

    Raises AssertionError naming `description` after `timeout` seconds, with the last value
    the predicate returned, or with `state()` when given (say, the counters being compared).
    Exceptions from the predicate propagate: it should return a falsy value for "not yet".
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            shown = state() if state is not None else last
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {description}; "
                                 f"last state: {shown!r}")
        time.sleep(interval)


def run(cmd: list[str], timeout: float = 30.0, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Runs a short command, capturing its output. Raises with the output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"command failed (exit {result.returncode}): {' '.join(cmd)}\n"
                             f"stdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}")
    return result


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the test process dies (even by SIGKILL, e.g. a
    CTest timeout), so no DPDK process outlives a killed test. Call Popen from the main thread:
    the signal follows the *thread* that forked."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def tail(path: Path, lines: int = 150) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text.splitlines()[-lines:])


def read_int(path: Path) -> int:
    return int(path.read_text().strip())


def remove_dpdk_runtime_dir(prefix: str) -> None:
    """EAL leaves /var/run/dpdk/PREFIX behind; remove ours (only names we chose)."""
    if names.owns(prefix):
        shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Memory: no-huge or a private hugetlbfs


_CLONE_NEWNS = 0x00020000
_private_mounts = False


def private_mount_namespace() -> None:
    """Moves this process (and so every child it starts later) into a mount namespace of its
    own, with every mount private. Idempotent.

    Mounts made afterwards (the test's hugetlbfs) are invisible to the rest of the machine: a
    DPDK process of someone else's that looks for hugepages (as vsw-dataplane does when given
    no memory option) cannot find ours and use them. And they vanish with the namespace, so
    even a test killed by SIGKILL leaves no mount behind. Network namespaces made with
    `ip netns add` afterwards are bound in this mount namespace too (their names still show
    in /run/netns until deleted). Call it from the thread that starts the children (the main
    thread): unshare() applies to the calling thread.
    """
    global _private_mounts
    if _private_mounts:
        return
    if _libc.unshare(_CLONE_NEWNS) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNS): {os.strerror(errno)}")
    run(["mount", "--make-rprivate", "/"])
    _private_mounts = True


def hugetlbfs_mounts() -> list[str]:
    """Mount points of hugetlbfs filesystems this process sees."""
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[2] == "hugetlbfs"]


class Memory:
    """The DPDK memory set-up of one test, chosen by VSW_MEMORY. Works in a private mount
    namespace (see private_mount_namespace()).

    nohuge: nothing is reserved, and every hugetlbfs is unmounted from the test's mount
      namespace (only there), so the dataplane, given no memory option, must fall back to
      --no-huge on its own whatever the host has (the tests assert status.memory_mode ==
      "no-huge"). testpmd peers get --no-huge -m 512 (memfd-backed, which vhost-user can
      share).
    huge: raises the 2 MiB hugepage pool by `mib`, checks the kernel granted every page, and
      mounts a private hugetlbfs with min_size=size=`mib` (the pages are reserved for it: no
      other process can take them, and the test cannot use more); --huge-dir goes to the
      dataplane and to every peer. Peers also get --single-file-segments: vhost-user accepts
      at most 8 memory regions, and without it every 2 MiB page is a region of its own. On
      exit: unmount, and take the added pages out of the pool again.
    """

    def __init__(self, mode: str, workdir: Path, mib: int = DEFAULT_HUGEPAGES_MIB):
        if mode not in ("nohuge", "huge"):
            raise ValueError(f"VSW_MEMORY must be 'nohuge' or 'huge', not {mode!r}")
        self.mode = mode
        self.mib = mib
        self.pages = (mib * 1024) // HUGEPAGE_KB
        self.mount_dir = workdir / "hugepages"
        self._old_nr: Optional[int] = None
        self._added = 0  # pages this test added to the pool (what it gives back)
        self._mounted = False

    @property
    def expected_status_mode(self) -> str:
        return "hugepages" if self.mode == "huge" else "no-huge"

    def __enter__(self) -> "Memory":
        private_mount_namespace()
        if self.mode == "nohuge":
            for mount_point in hugetlbfs_mounts():
                run(["umount", "-l", mount_point])
                log(f"hugepages: hid {mount_point} (in this test's mount namespace only)")
            return self
        try:
            self._reserve()
            self.mount_dir.mkdir()
            r = run(["mount", "-t", "hugetlbfs", "-o",
                     f"pagesize={HUGEPAGE_KB // 1024}M,size={self.mib}M,min_size={self.mib}M",
                     "nodev", str(self.mount_dir)], check=False)
            if r.returncode != 0:
                raise AssertionError(f"cannot mount a hugetlbfs reserving {self.mib} MiB "
                                     f"(someone took the pages?): {r.stderr.strip()}")
            self._mounted = True
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _reserve(self) -> None:
        nr_path = HUGEPAGE_SYSFS / "nr_hugepages"
        self._old_nr = read_int(nr_path)
        old_free = read_int(HUGEPAGE_SYSFS / "free_hugepages")
        wanted = self._old_nr + self.pages
        nr_path.write_text(f"{wanted}\n")
        granted = read_int(nr_path)
        self._added = max(granted - self._old_nr, 0)
        free = read_int(HUGEPAGE_SYSFS / "free_hugepages")
        log(f"hugepages: nr_hugepages {self._old_nr} -> {granted} (wanted {wanted}), "
            f"free {old_free} -> {free}")
        if granted < wanted or free - old_free < self.pages:
            raise AssertionError(
                f"asked the kernel for {self.pages} more {HUGEPAGE_KB} kB hugepages "
                f"(nr_hugepages {self._old_nr} -> {wanted}) but it granted {granted - self._old_nr}"
                f" (free {old_free} -> {free}); memory is too fragmented or too small")

    def __exit__(self, *exc) -> None:
        errors = []
        if self._mounted:
            # Every process of the test has been reaped; still, the kernel may release the
            # last references (fds in flight on unix sockets) a moment later.
            def unmounted() -> bool:
                return run(["umount", str(self.mount_dir)], check=False).returncode == 0
            try:
                wait_until(unmounted, 10, f"umount {self.mount_dir}", interval=0.5)
            except AssertionError as e:
                run(["umount", "-l", str(self.mount_dir)], check=False)
                errors.append(str(e))
            self._mounted = False
        if self.mount_dir.exists():
            with contextlib.suppress(OSError):
                self.mount_dir.rmdir()
        if self._old_nr is not None:
            # Give back exactly what we added (not "write the old value"): another suite on
            # the machine may have raised the pool meanwhile, and must keep its pages.
            nr_path = HUGEPAGE_SYSFS / "nr_hugepages"
            before = read_int(nr_path)
            target = max(before - self._added, 0)
            nr_path.write_text(f"{target}\n")
            now = read_int(nr_path)
            log(f"hugepages: nr_hugepages {before} -> {now} (it was {self._old_nr} before "
                "the test)")
            if now != target:
                errors.append(f"nr_hugepages is {now} after lowering it to {target} "
                              "(pages still in use?)")
            self._old_nr = None
            self._added = 0
        if errors and exc[0] is None:
            raise AssertionError("; ".join(errors))

    def dataplane_args(self) -> list[str]:
        return ["--huge-dir", str(self.mount_dir)] if self.mode == "huge" else []

    def peer_args(self) -> list[str]:
        if self.mode == "huge":
            return ["--huge-dir", str(self.mount_dir), "--single-file-segments"]
        return ["--no-huge", "-m", str(TESTPMD_NOHUGE_MB)]


# ---------------------------------------------------------------------------------------------
# Processes


class Process:
    """A long-running child with its output in a log file. Stopped by pid only."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, stdin: Any = None):
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        log(f"{name}: started pid {self.pid}: {' '.join(cmd)}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signo: int) -> None:
        if self.alive():
            self.proc.send_signal(signo)

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL by pid and reap."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class DpctlError(AssertionError):
    pass


class Dataplane:
    """vsw-dataplane with its own run dir and EAL file prefix. Use through Env.dataplane()."""

    def __init__(self, workdir: Path, memory: Memory, workers: Optional[int] = None,
                 extra_eal: Iterable[str] = (), run_dir: Optional[Path] = None):
        self.run_dir = run_dir or workdir / "run"
        self.socket_path = self.run_dir / "dataplane.sock"
        self.memory = memory
        self.file_prefix = names.name("dp")
        self.log_path = workdir / f"dataplane-{self.file_prefix}.log"
        cmd = [str(BIN / "vsw-dataplane"), "-l", CORES, "--main-lcore", DATAPLANE_MAIN_LCORE,
               "--no-pci", "--file-prefix", self.file_prefix, *memory.dataplane_args(),
               *extra_eal, "--", "--run-dir", str(self.run_dir)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.process: Optional[Process] = None
        self.cmd = cmd

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "Dataplane":
        self.process = Process("vsw-dataplane", self.cmd, self.log_path)

        def ready() -> bool:
            if not self.process.alive():
                raise AssertionError(f"vsw-dataplane exited with {self.process.proc.returncode} "
                                     f"before it was ready; log:\n{tail(self.log_path)}")
            return self.socket_path.exists() and "ready:" in self.process.output()

        wait_until(ready, START_TIMEOUT, "vsw-dataplane to create its socket and log 'ready'")
        mode = oct(self.socket_path.stat().st_mode & 0o777)
        if mode != "0o600":
            raise AssertionError(f"{self.socket_path} has mode {mode}, want 0o600")
        status = self.status()
        if status["memory_mode"] != self.memory.expected_status_mode:
            raise AssertionError(f"status.memory_mode is {status['memory_mode']!r}, "
                                 f"want {self.memory.expected_status_mode!r} (VSW_MEMORY="
                                 f"{self.memory.mode})")
        if status["pid"] != self.process.pid:
            raise AssertionError(f"status.pid {status['pid']} is not our child {self.pid}")
        return self

    def stop(self) -> None:
        """SIGTERM, bounded wait; asserts a clean exit (code 0) and that the socket is gone.
        SIGKILL only as a last resort (and then the test fails)."""
        if self.process is None:
            return
        p, self.process = self.process, None
        problems = []
        if not p.alive():
            problems.append(f"vsw-dataplane had already exited with {p.proc.returncode}")
        else:
            p.signal(signal.SIGTERM)
            code = p.wait(STOP_TIMEOUT)
            if code is None:
                problems.append(f"vsw-dataplane did not exit within {STOP_TIMEOUT:.0f} s of "
                                "SIGTERM; killed")
            elif code != 0:
                problems.append(f"vsw-dataplane exited with {code} after SIGTERM (want 0"
                                + (f"; {signal.Signals(-code).name}" if code < 0 else "") + ")")
        p.kill()
        if self.socket_path.exists():
            problems.append(f"{self.socket_path} was not removed")
        remove_dpdk_runtime_dir(self.file_prefix)
        log(f"vsw-dataplane: stopped (pid {p.pid})")
        if problems:
            raise AssertionError("; ".join(problems) +
                                 f"\nvsw-dataplane log:\n{tail(self.log_path, LOG_TAIL_LINES)}")

    def assert_alive(self) -> None:
        if self.process is None or not self.process.alive():
            code = self.process.proc.returncode if self.process else None
            raise AssertionError(f"vsw-dataplane is not running (exit {code}); log:\n"
                                 f"{tail(self.log_path)}")

    # --- vsw-dpctl

    def _dpctl(self, args: tuple[str, ...]) -> subprocess.CompletedProcess:
        cmd = [str(BIN / "vsw-dpctl"), "--run-dir", str(self.run_dir), "--json", *args]
        return run(cmd, timeout=DPCTL_TIMEOUT, check=False)

    def dpctl(self, *args: str) -> dict:
        """Runs `vsw-dpctl --json ARGS`; returns the Response as a dict. Raises on failure."""
        r = self._dpctl(args)
        if r.returncode != 0:
            raise DpctlError(f"vsw-dpctl {' '.join(args)} failed (exit {r.returncode}): "
                             f"{r.stderr.strip()}")
        return json.loads(r.stdout)

    def mbufs_in_use(self) -> int:
        """Packet buffers out of the dataplane's pool (device rings, queues, in flight)."""
        return int(self.dpctl("status")["status"]["mbufs_in_use"])

    def dpctl_fail(self, *args: str) -> str:
        """Runs vsw-dpctl expecting exit 1 with one line on stderr; returns that line."""
        r = self._dpctl(args)
        if r.returncode != 1:
            raise AssertionError(f"vsw-dpctl {' '.join(args)}: exit {r.returncode}, want 1; "
                                 f"stdout: {r.stdout.strip()} stderr: {r.stderr.strip()}")
        lines = r.stderr.strip().splitlines()
        if len(lines) != 1:
            raise AssertionError(f"vsw-dpctl {' '.join(args)}: want one line on stderr, got "
                                 f"{r.stderr!r}")
        return lines[0]

    def status(self) -> dict:
        return self.dpctl("status")["status"]

    def stats(self) -> dict:
        return self.dpctl("stats")["stats"]

    def ports(self) -> dict[str, dict]:
        """Every port's PortStatus, by name."""
        listing = self.dpctl("port", "list")["ports"].get("ports", [])
        return {p["config"]["name"]: p for p in listing}

    def port(self, name: str) -> dict:
        return self.dpctl("port", "show", name)["ports"]["ports"][0]

    def xconnects(self) -> list[tuple[str, str]]:
        listing = self.dpctl("xconnect", "list")["xconnects"].get("xconnects", [])
        return [(x["port_a"], x["port_b"]) for x in listing]

    def port_add(self, name: str, type_: str, **options: Any) -> dict:
        """`port add NAME --type TYPE --OPTION VALUE...` (underscores become dashes)."""
        args = ["port", "add", name, "--type", type_]
        for key, value in options.items():
            if value is not None:
                args += [f"--{key.replace('_', '-')}", str(value)]
        return self.dpctl(*args)["port"]


def counter(port: dict, field: str) -> int:
    """A uint64 counter of a PortStatus dict ("rx_packets", or "drops.no_destination")."""
    value: Any = port
    for part in field.split("."):
        value = value[part]
    return int(value)


# ---------------------------------------------------------------------------------------------
# Network namespaces


class Netns:
    """A network namespace this test created; deleted (by its name) on close.

    IPv6 is disabled in it (before any interface moves in) so router solicitations, MLD and
    DAD do not add packets to the counters the tests compare; with ipv6=True it stays on
    (without duplicate address detection, so addresses are usable at once).
    """

    def __init__(self, name: str, ipv6: bool = False):
        self.name = name
        self.ipv6 = ipv6
        self._procs: list[subprocess.Popen] = []
        run(["ip", "netns", "add", name])
        try:
            for key in ("all", "default"):
                if ipv6:
                    self.exec(["sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0"])
                else:
                    self.exec(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"])
            self.exec(["ip", "link", "set", "lo", "up"])
        except BaseException:
            self.close()
            raise
        log(f"netns {name}: created")

    def exec(self, cmd: list[str], timeout: float = 30.0, check: bool = True
             ) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.name, *cmd], timeout=timeout, check=check)

    def popen(self, cmd: list[str]) -> subprocess.Popen:
        """Starts `cmd` in the namespace (stdout/stderr piped, text); killed by pid on close."""
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        self._procs.append(p)
        return p

    def adopt(self, iface: str, address=None) -> None:
        """Moves `iface` (from the root namespace) in, disables IPv6 on it (unless the
        namespace has IPv6 on), adds `address` (CIDR; or several) and sets it up."""
        run(["ip", "link", "set", "dev", iface, "netns", self.name])
        if self.ipv6:
            self.exec(["sysctl", "-qw", f"net.ipv6.conf.{iface}.accept_dad=0"])
        else:
            self.exec(["sysctl", "-qw", f"net.ipv6.conf.{iface}.disable_ipv6=1"])
        for a in ([address] if isinstance(address, str) else address or []):
            self.exec(["ip", "addr", "add", a, "dev", iface])
        self.exec(["ip", "link", "set", "dev", iface, "up"])

    def link_stats(self, iface: str) -> dict:
        """`ip -s -j link show IFACE`: {"rx": {"packets", "bytes", ...}, "tx": {...}}."""
        out = self.exec(["ip", "-s", "-j", "link", "show", "dev", iface]).stdout
        return json.loads(out)[0]["stats64"]

    def has_link(self, iface: str) -> bool:
        return self.exec(["ip", "link", "show", "dev", iface], check=False).returncode == 0

    def ping(self, address: str, count: int = 3, interval: float = 0.2,
             deadline: float = 20.0) -> subprocess.CompletedProcess:
        return self.exec(["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "2",
                          "-w", str(int(deadline)), address], timeout=deadline + 10, check=False)

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(Exception):
                p.communicate(timeout=10)
        self._procs.clear()
        r = run(["ip", "netns", "del", self.name], check=False)
        if r.returncode != 0:
            raise AssertionError(f"ip netns del {self.name}: {r.stderr.strip()}")
        log(f"netns {self.name}: deleted")


def parse_ping(output: str) -> tuple[int, int]:
    """(transmitted, received) from ping's summary line.

    With `-c N -w D` (Netns.ping) ping sends until N replies are in or D passes, so a reply
    that comes late makes it send one more echo: check received == N, not transmitted (a
    loaded machine showed (4, 4) for -c 3)."""
    m = re.search(r"(\d+) packets transmitted, (\d+) received", output)
    if not m:
        raise AssertionError(f"no ping summary in: {output!r}")
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------------------------------------
# testpmd as a vhost-user guest


class Testpmd:
    """dpdk-testpmd with one net_virtio_user port, driven interactively through stdin.

    `server=False`: testpmd connects to a vhost-user socket the dataplane listens on.
    `server=True`: testpmd listens (virtio_user server=1) and the dataplane's client-mode port
    connects. In server mode testpmd blocks in start-up until the dataplane connects, so
    `start()` waits for that too.

    Output goes through `stdbuf -oL`: testpmd's command output is stdio, fully buffered on a
    pipe otherwise. A reader thread copies it into the log and a buffer; `command()` writes
    one command and returns the text printed up to the next "testpmd> " prompt.
    """

    PROMPT = "testpmd> "

    def __init__(self, workdir: Path, memory: Memory, socket_path: Path, server: bool = False,
                 label: str = "testpmd", queues: int = 1):
        self.label = label
        self.socket_path = socket_path
        self.server = server
        self.file_prefix = names.name("tp")
        self.log_path = workdir / f"{label}-{self.file_prefix}.log"
        vdev = f"net_virtio_user0,path={socket_path},queues={queues}" + \
            (",server=1" if server else "")
        self.cmd = ["stdbuf", "-oL", "-eL", "dpdk-testpmd", "-l", CORES,
                    "--main-lcore", TESTPMD_MAIN_LCORE, "--no-pci",
                    "--file-prefix", self.file_prefix, *memory.peer_args(), "--vdev", vdev,
                    "--", "-i", "--total-num-mbufs=8192", "--nb-cores=1",
                    f"--rxq={queues}", f"--txq={queues}"]
        self.proc: Optional[subprocess.Popen] = None
        self._buf = ""
        self._lock = threading.Lock()
        self._reader: Optional[threading.Thread] = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> "Testpmd":
        if self.server and self.socket_path.is_socket():
            # virtio_user server=1 does not replace a socket file left by a killed
            # predecessor (bind fails: "Address already in use"), and testpmd then carries
            # on with no port at all. QEMU's server=on unlinks it; do the same.
            self.socket_path.unlink()
        self._logfile = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log(f"{self.label}: started pid {self.proc.pid}: {' '.join(self.cmd)}")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        out = self._wait_for(self.PROMPT, 0, timeout, "testpmd's first prompt")
        if "No probed ethernet devices" in out or "Port 0: " not in out:
            raise AssertionError(f"{self.label}: virtio_user port 0 was not created; output:\n"
                                 f"{tail(self.log_path, 40)}")
        return self

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self._logfile.write(chunk)
            self._logfile.flush()
            with self._lock:
                self._buf += chunk.decode(errors="replace")

    def output(self, start: int = 0) -> str:
        with self._lock:
            return self._buf[start:]

    def _wait_for(self, text: str, start: int, timeout: float, what: str) -> str:
        def seen() -> Optional[str]:
            out = self.output(start)
            if text in out:
                return out
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.label} exited with {self.proc.returncode} while "
                                     f"waiting for {what}; output:\n{tail(self.log_path, 60)}")
            return None
        return wait_until(seen, timeout, f"{self.label}: {what}")

    def command(self, line: str, timeout: float = 30.0) -> str:
        """Sends one interactive command; returns its output (up to the next prompt)."""
        start = len(self.output())
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        out = self._wait_for(self.PROMPT, start, timeout, f"the answer to {line!r}")
        return out[:out.index(self.PROMPT)]

    def port_stats(self) -> dict[str, int]:
        """`show port stats 0` as {"RX-packets": n, "TX-packets": n, ...}."""
        out = self.command("show port stats 0")
        stats = {k: int(v) for k, v in re.findall(r"([RT]X-[a-z]+):\s+(\d+)", out)}
        if "RX-packets" not in stats or "TX-packets" not in stats:
            raise AssertionError(f"{self.label}: cannot parse port stats from {out!r}")
        return stats

    def forward(self, mode: str) -> None:
        """Sets the forwarding mode (txonly, rxonly, io, ...) and starts forwarding."""
        out = self.command(f"set fwd {mode}")
        if "Set " not in out or mode not in out:
            raise AssertionError(f"{self.label}: set fwd {mode}: {out!r}")
        self.command("start")

    def stop_forwarding(self) -> None:
        self.command("stop")

    def quit(self, timeout: float = 30.0) -> None:
        """Graceful exit through `quit`; SIGKILL (and an error) if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return self.kill()
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.flush()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.label} did not quit within {timeout:.0f} s")
        self.kill()
        if code != 0:
            raise AssertionError(f"{self.label} exited with {code} after quit")

    def kill(self) -> None:
        """SIGKILL by pid (the abrupt way a guest dies), reap, clean EAL files."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            log(f"{self.label}: killed pid {self.proc.pid}")
        self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        if self._reader:
            self._reader.join(10)
        self.proc.stdout.close()
        self._logfile.close()
        remove_dpdk_runtime_dir(self.file_prefix)


# ---------------------------------------------------------------------------------------------
# The dataplane socket from Python


def load_dataplane_proto(outdir: Path):
    """Compiles proto/dataplane.proto with protoc into `outdir` and imports it.
    Returns the generated module (dataplane_pb2)."""
    proto_dir = REPO / "proto"
    run(["protoc", f"--proto_path={proto_dir}", f"--python_out={outdir}",
         str(proto_dir / "dataplane.proto")])
    sys.path.insert(0, str(outdir))
    try:
        import dataplane_pb2  # noqa: E402  (generated just now)
    finally:
        sys.path.remove(str(outdir))
    return dataplane_pb2


class MgmtClient:
    """A connection to RUN/dataplane.sock speaking the frame protocol: a 4-byte big-endian
    length, then a serialized vswitch.dp.Request (Response back). Thread-safe: one call at a
    time."""

    def __init__(self, socket_path: Path, pb2, timeout: float = 10.0):
        self.pb2 = pb2
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(socket_path))
        self._lock = threading.Lock()
        self._next_id = 1

    @staticmethod
    def frame(body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + body

    def recv_exact(self, n: int) -> bytes:
        """Reads n bytes; b"" if the peer closed before the first byte; raises on a partial
        read."""
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                if data:
                    raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
                return b""
            data += chunk
        return data

    def recv_frame(self) -> Optional[bytes]:
        """The next frame's body, or None when the server closed the connection."""
        header = self.recv_exact(4)
        if not header:
            return None
        (length,) = struct.unpack(">I", header)
        body = self.recv_exact(length)
        if length and not body:
            raise ConnectionError("connection closed between a frame's header and body")
        return body

    def call(self, request) -> Any:
        """Sends `request` (its id set here) and returns the Response; checks the id echoes."""
        with self._lock:
            request.id = self._next_id
            self._next_id += 1
            self.sock.sendall(self.frame(request.SerializeToString()))
            body = self.recv_frame()
            if body is None:
                raise ConnectionError("the dataplane closed the connection")
            response = self.pb2.Response.FromString(body)
            if response.id != request.id:
                raise AssertionError(f"response id {response.id} for request {request.id}")
            return response

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Env: one test's resources


class Env(contextlib.ExitStack):
    """Owns everything one test creates; cleans it all up, in reverse order, on exit.

    `hugepages_mib`: what huge mode reserves for this test (dataplane plus peers).
    """

    def __init__(self, hugepages_mib: int = DEFAULT_HUGEPAGES_MIB):
        super().__init__()
        self.hugepages_mib = hugepages_mib
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{names.tag}-", dir="/tmp"))
        self._memory: Optional[Memory] = None
        self._logs: list[Path] = []
        self._netns: list[str] = []
        self._ifaces: list[str] = []

    def __enter__(self) -> "Env":
        # First, before any mount (hugetlbfs, or the bind mounts of `ip netns add`) is made.
        private_mount_namespace()
        super().__enter__()
        self.callback(self._remove_workdir)
        self.callback(self._check_no_leftover_interfaces)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not issubclass(exc_type, unittest.SkipTest):
            self.dump_logs()
        return super().__exit__(exc_type, exc, tb)

    def dump_logs(self) -> None:
        for path in self._logs:
            print(f"\n===== {path.name} (last {LOG_TAIL_LINES} lines) =====\n"
                  f"{tail(path, LOG_TAIL_LINES)}\n===== end of {path.name} =====",
                  file=sys.stderr, flush=True)

    def _remove_workdir(self) -> None:
        if KEEP:
            log(f"keeping {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def memory(self) -> Memory:
        """The test's memory set-up (created, and in huge mode reserved, on first use)."""
        if self._memory is None:
            self._memory = self.enter_context(Memory(MEMORY, self.workdir, self.hugepages_mib))
        return self._memory

    def name(self, kind: str) -> str:
        """A unique name (≤ 15 chars) for an interface, namespace, prefix... of this test."""
        return names.name(kind)

    def iface_name(self) -> str:
        """A unique kernel interface name; the Env checks at exit that none is left over."""
        name = names.name("i")
        self._ifaces.append(name)
        return name

    def _check_no_leftover_interfaces(self) -> None:
        left = [i for i in self._ifaces
                if run(["ip", "link", "show", "dev", i], check=False).returncode == 0]
        if left:
            for i in left:
                run(["ip", "link", "del", "dev", i], check=False)
            raise AssertionError(f"interfaces left behind in the root namespace: {left}")

    def dataplane(self, workers: Optional[int] = None, extra_eal: Iterable[str] = (),
                  run_dir: Optional[Path] = None) -> Dataplane:
        """Starts vsw-dataplane and waits until it answers; stopped (and its exit checked) at
        exit. `run_dir` defaults to WORKDIR/run; pass the same one to restart a dataplane
        (after stop()) where the previous one ran."""
        memory = self.memory
        dp = Dataplane(self.workdir, memory, workers, extra_eal, run_dir)
        self._logs.append(dp.log_path)
        self.callback(dp.stop)
        return dp.start()

    def netns(self, ipv6: bool = False) -> Netns:
        ns = Netns(names.name("n"), ipv6)
        self.callback(ns.close)
        return ns

    def testpmd(self, socket_path: Path, server: bool = False, label: str = "testpmd",
                start: bool = True, queues: int = 1) -> Testpmd:
        """A testpmd guest on `socket_path` with `queues` queue pairs, killed at exit (quit it
        yourself to check a graceful exit)."""
        pmd = Testpmd(self.workdir, self.memory, socket_path, server, label, queues)
        self._logs.append(pmd.log_path)
        self.callback(pmd.kill)
        return pmd.start() if start else pmd

    def mgmt_client(self, dp: Dataplane, pb2) -> MgmtClient:
        client = MgmtClient(dp.socket_path, pb2)
        self.callback(client.close)
        return client


# ---------------------------------------------------------------------------------------------
# Test runner


class TestCase(unittest.TestCase):
    """Base class: prints each test's duration."""

    def setUp(self) -> None:
        self._started = time.monotonic()
        log(f"=== {self.id()} (VSW_MEMORY={MEMORY})")

    def tearDown(self) -> None:
        log(f"=== {self.id()}: {time.monotonic() - self._started:.1f} s")


def _raise_on_sigterm(signo, frame):
    raise KeyboardInterrupt(f"signal {signo}")


def main() -> None:
    """Entry point of a test file: checks the preconditions and runs its unittest cases."""
    if os.geteuid() != 0:
        print("integration tests need root (namespaces, hugepages, tap devices)", file=sys.stderr)
        sys.exit(1)
    for binary in ("vsw-dataplane", "vsw-dpctl"):
        if not (BIN / binary).exists():
            print(f"{BIN / binary} is missing: build first (make build) or set VSW_BIN",
                  file=sys.stderr)
            sys.exit(1)
    if MEMORY not in ("nohuge", "huge"):
        print(f"VSW_MEMORY must be nohuge or huge, not {MEMORY!r}", file=sys.stderr)
        sys.exit(1)
    # A SIGTERM (e.g. from an impatient runner) unwinds through the context managers, so the
    # processes, namespaces and hugepages are released.
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    unittest.main(verbosity=2)
