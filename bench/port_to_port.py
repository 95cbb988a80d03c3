#!/usr/bin/python3
"""Port-to-port throughput between two vhost-user ports: vsw-dataplane, testpmd io, OVS-DPDK.

Topology (two cores), a closed loop:
    guest (ports P0 and P1) --vhost-user--> SWITCH --vhost-user--> back to the guest
The guest is build/bin/vsw-loopgen (bench/loop_gen.cc): two net_virtio_user ports, each
primed with a fixed number of UDP packets; what arrives on one port leaves by the other, so
a fixed number of packets circulates, nothing is dropped by design, each direction keeps its
MACs (a learning bridge sees each source on one port) and every packet the guest sends gets
the next of N flows (IPv4 source and UDP source port). The figure is the rate of the slower
of guest and switch; the 1-flow 64-byte case also runs with `dpdk-testpmd` io as the guest
(guest "testpmd") to show whether the generator holds the loop back.

Switches ("systems"):
  testpmd-io         dpdk-testpmd --forward-mode=io on two net_vhost ports: the ceiling
  vswitch-xconnect   vsw-dataplane, the two ports cross-connected
  vswitch-bridge     vsw-dataplane, the two ports on one bridge (learning, flow cache)
  vswitch-routed     vsw-dataplane, each port on its own bridge with a router interface:
                     the guest's packets cross L2 -> L3 (IPv4 FIB, neighbor, TTL) -> L2
  vswitch-routed-acl the same plus a stateful ACL on both ports (every packet tracked),
                     when vswctl and the dataplane have the ACL
  ovs-xconnect       (PEERS=ovs) OVS-DPDK, in_port=1,actions=output:2 and back
  ovs-normal         (PEERS=ovs) OVS-DPDK, one bridge with actions=NORMAL
  ovs-routed         (PEERS=ovs) OVS-DPDK, OpenFlow routing: ARP answered by flows, match
                     router MAC + destination subnet, set MACs, dec_ttl, output
  ovs-routed-ct      (PEERS=ovs) the same through ct(): new UDP connections committed,
                     established ones pass, everything else dropped
The routed systems' guest is vsw-loopgen in its L3 mode (a host on each side, resolving its
gateway with ARP and answering the router's ARP); the testpmd guest does not apply to them
(it answers no ARP and sends no routable packets).
vsw-dataplane runs with vsw-controld and is configured through vswctl.

Pinning: the switch's poll loop owns CPU 1 (its management threads sleep on CPU 0); the
guest's poll loop owns CPU 0, and so does this script. Per system and repetition the switch
starts once, then a guest runs per case (flow count x frame size); systems alternate.

Every process this script starts is in its own session, dies with the script
(PR_SET_PDEATHSIG) and is stopped by pid on exit, SIGINT or SIGTERM; the EAL runtime
directories (/var/run/dpdk/<prefix>) and work directories it made are removed.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ovs_peer  # noqa: E402  (bench/ovs_peer.py)

BIN = os.environ.get("VSW_BIN", os.path.join(HERE, "..", "build", "bin"))
TESTPMD = "dpdk-testpmd"
GUEST_MACS = ("02:00:00:00:00:0a", "02:00:00:00:00:0b")
# The routed topology: guest port i is host GUEST_IPS[i] on subnet i, behind the router's
# address ROUTER_IPS[i] (router interface r<i> on bridge br<i>, with ROUTER_MACS[i]).
GUEST_IPS = ("10.0.0.2/24", "10.1.0.2/24")
ROUTER_IPS = ("10.0.0.1", "10.1.0.1")
ROUTER_MACS = ("02:00:00:00:01:00", "02:00:00:00:01:01")
ROUTED_LOOPGEN_ARGS = ["--ip0", GUEST_IPS[0], "--gw0", ROUTER_IPS[0],
                       "--ip1", GUEST_IPS[1], "--gw1", ROUTER_IPS[1]]
SWITCH_CPU, GUEST_CPU = 1, 0
# The guest's virtqueues (net_virtio_user's default is 256): larger than all packets primed
# into the loop (2 x --prime), so no ring can overflow and the loop keeps its packets even
# when one side is preempted for a while.
QUEUE_SIZE = 1024


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _child_setup():
    # The child dies with this script even if the script is SIGKILLed (PR_SET_PDEATHSIG = 1).
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def memory_args(use_huge):
    return [] if use_huge else ["--no-huge", "-m", "512"]


def wait_for(pred, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.p.returncode}) while waiting for "
                               f"{what}; log {proc.log_path}:\n{proc.text()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


class Proc:
    """A process with its output in a log file, driven (optionally) through stdin."""

    def __init__(self, name, argv, log_path, stdin=False, stop_signal=signal.SIGTERM, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.stop_signal = stop_signal
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  start_new_session=True, preexec_fn=_child_setup, env=env)

    @property
    def pid(self):
        return self.p.pid

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cpu_ticks(self):
        """utime + stime of the whole process (all threads), in clock ticks; 0 once gone."""
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            return 0

    def stop(self, timeout=20):
        """Stops the process by its pid: its stop signal (or `quit` on stdin), SIGKILL after
        `timeout`. Returns the exit code."""
        if self.p.poll() is None:
            try:
                if self.stop_signal is None:
                    self.send("quit")
                else:
                    self.p.send_signal(self.stop_signal)
                self.p.wait(timeout)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        if not self.log.closed:
            self.log.close()
        return self.p.returncode


def remove_stale():
    """Removes what a run killed by SIGKILL left (its children die with it, but EAL runtime
    directories and work directories stay): /var/run/dpdk/vswb<PID>* and /tmp/vswb<PID>-*
    whose PID is no longer running."""
    for parent, pat in (("/var/run/dpdk", r"vswb(\d+)[a-z]"), (tempfile.gettempdir(),
                                                              r"vswb(\d+)-")):
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            m = re.match(pat, name)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


class Run:
    """Everything one benchmark run created: processes, directories, EAL file prefixes.
    cleanup() removes all of it, in reverse order; it is safe to call more than once."""

    def __init__(self):
        self.tag = f"vswb{os.getpid()}"
        self.workdir = tempfile.mkdtemp(prefix=self.tag + "-")
        self.procs = []
        self.prefixes = []
        self.cleanups = []  # callables, run last-in first-out
        self.n = 0

    def next_name(self, kind):
        self.n += 1
        return f"{self.tag}{kind}{self.n}"

    def prefix(self, kind):
        p = self.next_name(kind)
        self.prefixes.append(p)
        return p

    def start(self, name, argv, log_name, **kw):
        p = Proc(name, argv, os.path.join(self.workdir, log_name), **kw)
        self.procs.append(p)
        return p

    def stop(self, proc):
        code = proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)
        return code

    def remove_prefixes(self):
        for prefix in self.prefixes:
            shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
        self.prefixes.clear()

    def cleanup(self):
        for p in reversed(self.procs):
            p.stop(timeout=10)
        self.procs.clear()
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception as e:  # keep cleaning up
                print(f"cleanup: {e}", file=sys.stderr)
        self.remove_prefixes()
        if os.environ.get("VSW_BENCH_KEEP"):
            print(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Switches: start() brings up the two vhost-user ports at `socks` (vhost-user servers unless
# guest_server), `procs` are counted as ours in the CPU accounting, counters() and
# flow_cache() feed cycles/packet and the cache columns (None where they do not apply).
# bench/ovs_peer.py's OvsSwitch has the same shape.


class Switch:
    kind = ""
    guest_server = False  # True: the guest's virtio_user ports listen (server=1)
    routed = False  # True: the guest is vsw-loopgen in L3 mode (ROUTED_LOOPGEN_ARGS)

    def __init__(self, run, use_huge):
        self.run = run
        self.use_huge = use_huge
        self.procs = []
        self.dir = os.path.join(run.workdir, run.next_name("sw"))
        os.makedirs(os.path.join(self.dir, "vhost"))
        self.socks = [os.path.join(self.dir, "vhost", n + ".sock") for n in ("a", "b")]

    def eal(self, kind):
        return ["--lcores", f"0@{GUEST_CPU},1@{SWITCH_CPU}", "--main-lcore", "0", "--no-pci",
                "--file-prefix", self.run.prefix(kind)] + memory_args(self.use_huge)

    def counters(self):
        """(busy_cycles, packets) of the switch's poll loops, or None when it has none."""
        return None

    def flow_cache(self):
        return None

    def stop(self):
        for p in reversed(self.procs):
            self.run.stop(p)
        self.procs.clear()


class TestpmdIo(Switch):
    kind = "testpmd-io"

    def start(self):
        argv = [TESTPMD] + self.eal("s") + [
            "--vdev", f"net_vhost0,iface={self.socks[0]},queues=1",
            "--vdev", f"net_vhost1,iface={self.socks[1]},queues=1", "--",
            "--forward-mode=io", "--auto-start", "--total-num-mbufs=16384"]
        # Non-interactive testpmd runs until a line arrives on stdin: keep the pipe open.
        p = self.run.start("testpmd-io", argv, os.path.basename(self.dir) + ".log", stdin=True,
                           stop_signal=None)
        self.procs.append(p)
        wait_for(lambda: all(os.path.exists(s) for s in self.socks), 60, "testpmd's vhost sockets",
                 p)


CT_CAPACITY = 262144  # 2 connections per flow (one per port's ACL) at 100k flows, and room


def dataplane_has_option(option):
    """Whether vsw-dataplane knows `option` (its usage text is in the binary; running it
    for --help would start EAL)."""
    try:
        with open(os.path.join(BIN, "vsw-dataplane"), "rb") as f:
            return option.encode() + b" " in f.read()
    except OSError:
        return False


class Vswitch(Switch):
    """vsw-dataplane + vsw-controld, configured through vswctl."""

    def __init__(self, run, use_huge, mode):
        super().__init__(run, use_huge)
        self.mode = mode
        self.kind = "vswitch-" + mode
        self.routed = mode.startswith("routed")
        self.vswctl_argv = [os.path.join(BIN, "vswctl"), "--run-dir", self.dir]

    def vswctl(self, *args, json_out=False):
        r = subprocess.run(self.vswctl_argv + (["--json"] if json_out else []) + list(args),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"vswctl {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout) if json_out else r.stdout

    def start(self):
        name = os.path.basename(self.dir)
        opts = ["--run-dir", self.dir]
        if self.mode == "routed-acl" and dataplane_has_option("--ct-capacity"):
            # One connection per flow and 100k flows: more than the default table holds.
            opts += ["--ct-capacity", str(CT_CAPACITY)]
        dp = self.run.start("vsw-dataplane", [os.path.join(BIN, "vsw-dataplane")] +
                            self.eal("s") + ["--"] + opts, name + "-dp.log")
        self.procs.append(dp)
        wait_for(lambda: "ready:" in dp.text(), 60, "vsw-dataplane's ready line", dp)
        ctl = self.run.start("vsw-controld", ["taskset", "-c", str(GUEST_CPU),
                                              os.path.join(BIN, "vsw-controld"), "--run-dir",
                                              self.dir, "--state-dir",
                                              os.path.join(self.dir, "state")],
                             name + "-controld.log")
        self.procs.append(ctl)

        def programmed():
            return subprocess.run(self.vswctl_argv + ["status"], capture_output=True,
                                  timeout=60).returncode == 0

        wait_for(programmed, 60, "vswctl status: controld up, dataplane programmed", ctl)
        for port in ("a", "b"):
            self.vswctl("port", "add", port, "--type", "vhost-user")
        if self.mode == "xconnect":
            self.vswctl("xconnect", "add", "a", "b")
        elif self.mode == "bridge":
            self.vswctl("bridge", "add", "br")
            for port in ("a", "b"):
                self.vswctl("bridge", "attach", "br", port)
        else:
            # Each port on its own bridge with a router interface: L2 -> L3 -> L2.
            for i, port in enumerate(("a", "b")):
                self.vswctl("bridge", "add", f"br{i}")
                self.vswctl("bridge", "attach", f"br{i}", port)
                prefix_len = GUEST_IPS[i].split("/")[1]
                self.vswctl("router-if", "add", f"r{i}", "--bridge", f"br{i}", "--ip",
                            f"{ROUTER_IPS[i]}/{prefix_len}", "--mac", ROUTER_MACS[i])
            if self.mode == "routed-acl":
                self.add_acl()
        wait_for(lambda: all(os.path.exists(s) for s in self.socks), 60, "vhost-user sockets", dp)

    def add_acl(self):
        """A stateful ACL on both ports: towards each guest, UDP from the other guest's subnet
        is permit-stateful and everything else denied, so every packet is classified and
        tracked (each port's ACL its own connection per flow: 2 per flow)."""
        for i, port in enumerate(("a", "b")):
            peer_subnet = GUEST_IPS[1 - i].split("/")
            net = ".".join(peer_subnet[0].split(".")[:3]) + ".0/" + peer_subnet[1]
            for args in (["add", port, "--dir", "to-port", "--priority", "10", "--action",
                          "permit-stateful", "--proto", "udp", "--src", net],
                         ["default", port, "--dir", "to-port", "deny"]):
                r = subprocess.run(self.vswctl_argv + ["acl"] + args, capture_output=True,
                                   text=True, timeout=60)
                # controld stores a rule the dataplane refuses and says so on stderr.
                if r.returncode != 0 or "not in the dataplane" in r.stderr:
                    raise RuntimeError(f"vswctl acl {' '.join(args)}: {r.stderr.strip()}")

    def connections(self):
        """Tracked connections (vswctl conn list's total), or None when that fails."""
        try:
            doc = self.vswctl("conn", "list", "--max", "1", json_out=True)
        except (RuntimeError, ValueError):
            return None
        return int(doc.get("total", len(doc.get("connections", []))))

    def stop(self):
        # controld first: it would otherwise reconnect and replay to a dataplane going away.
        for p in list(self.procs)[::-1]:
            self.run.stop(p)
        self.procs.clear()

    def counters(self):
        workers = self.vswctl("stats", json_out=True)["workers"]
        return (sum(int(w["busy_cycles"]) for w in workers),
                sum(int(w["packets"]) for w in workers))

    def flow_cache(self):
        """(hits, misses, inserts, cached entries) over all workers; None for the
        cross-connect, which does not use the flow cache (the bridge and routed systems do)."""
        if self.mode == "xconnect":
            return None
        ws = self.vswctl("flow", "stats", json_out=True)["workers"]
        # Ask for no more than the caches hold: the dataplane's management thread allocates
        # and zeroes room for --max entries (128 bytes each) per call, and with --max 1000000
        # (128 MB) a loaded machine kept it busy past controld's timeout (UNAVAILABLE).
        capacity = sum(int(w.get("capacity", 8192)) for w in ws)
        listed = self.vswctl("flow", "list", "--max", str(max(1, capacity)), json_out=True)
        entries = len(listed.get("flows", listed.get("entries", [])))
        return (sum(int(w["hits"]) for w in ws), sum(int(w["misses"]) for w in ws),
                sum(int(w["inserts"]) for w in ws), entries)


# ---------------------------------------------------------------------------------------------
# Guests


def start_guest(run, guest, switch, flows, size, prime, use_huge):
    """Starts the guest on the switch's sockets and waits until traffic circulates. Returns
    (proc, read_total) where read_total() gives the guest's cumulative received packets."""
    assert guest == "loopgen" or not switch.routed, "the testpmd guest cannot be routed"
    server = ",server=1" if switch.guest_server else ""
    vdevs = []
    for i in range(2):
        vdevs += ["--vdev", f"net_virtio_user{i},path={switch.socks[i]},queues=1"
                  f",queue_size={QUEUE_SIZE},mac={GUEST_MACS[i]}{server}"]
    eal = ["--lcores", f"0@{GUEST_CPU}", "--main-lcore", "0", "--no-pci",
           "--file-prefix", run.prefix("g")] + vdevs + memory_args(use_huge)
    if use_huge:
        eal.append("--single-file-segments")
    if switch.guest_server:
        for s in switch.socks:  # a stale socket file would make bind fail
            if os.path.exists(s):
                os.unlink(s)
    if guest == "loopgen":
        p = run.start("vsw-loopgen", [os.path.join(BIN, "vsw-loopgen")] + eal +
                      ["--", "--flows", str(flows), "--size", str(size), "--prime", str(prime),
                       "--mac0", GUEST_MACS[0], "--mac1", GUEST_MACS[1]] +
                      (ROUTED_LOOPGEN_ARGS if switch.routed else []), "guest.log",
                      stop_signal=signal.SIGINT)

        def read_total():
            lines = re.findall(r"^stats \S+ (\d+) (\d+)", p.text(), re.M)
            return int(lines[-1][0]) + int(lines[-1][1]) if lines else 0

        def fresh_total():
            # stats lines come once a second; wait for the next one.
            n = len(re.findall(r"^stats ", p.text(), re.M))
            wait_for(lambda: len(re.findall(r"^stats ", p.text(), re.M)) > n, 10,
                     "the guest's next stats line", p)
            return read_total(), time.monotonic()

        def flowing():
            if read_total() > 0:
                return True
            # L3 mode: packets arriving but none of them routed right (stats ... DROP BAD).
            last = re.findall(r"^stats \S+ 0 0 \d+ \d+ \d+ (\d+)", p.text(), re.M)
            if last and int(last[-1]) > 0:
                raise RuntimeError(f"vsw-loopgen receives only packets not routed right "
                                   f"(bad {last[-1]}: wrong TTL or addresses); log "
                                   f"{p.log_path}")
            return False

        wait_for(flowing, 60, "traffic through the loop", p)
        return p, fresh_total
    # dpdk-testpmd io as the guest: primed with `start tx_first`, counters read on demand.
    eal[1] = f"0@{GUEST_CPU},1@{GUEST_CPU}"
    p = run.start("testpmd-guest", ["stdbuf", "-oL", TESTPMD] + eal +
                  ["--", "-i", "--total-num-mbufs=16384", "--forward-mode=io",
                   f"--rxd={QUEUE_SIZE}", f"--txd={QUEUE_SIZE}",
                   f"--eth-peer=0,{GUEST_MACS[1]}", f"--eth-peer=1,{GUEST_MACS[0]}",
                   f"--txpkts={size}"], "guest.log", stdin=True, stop_signal=None)
    wait_for(lambda: "testpmd>" in p.text(), 60, "the testpmd guest's prompt", p)

    def links_up():
        # Primed packets sent before the switch has both vrings are lost, and a closed loop
        # never gets them back (a loaded machine made the smoke test measure 0.01 Mpps).
        before = len(p.text())
        p.send("show port info all")
        wait_for(lambda: len(re.findall(r"Link status: \w+", p.text()[before:])) >= 2, 10,
                 "testpmd port info", p)
        return len(re.findall(r"Link status: up", p.text()[before:])) >= 2

    wait_for(links_up, 60, "both of the testpmd guest's links to come up", p)
    p.send(f"start tx_first {max(1, prime // 32)}")

    last_sample = [0.0]

    def fresh_total():
        # Samples a second apart, like vsw-loopgen's stats lines: the counters are read on
        # demand, and two back-to-back reads are milliseconds apart, so a rate over them was
        # noise (a CI run measured 0.000 Mpps, a local one 1351 Mpps). The sample's time is
        # the middle of the round trip: testpmd's command line shares the guest's CPU with
        # its forwarding loop and may answer late.
        time.sleep(max(0.0, last_sample[0] + 1.0 - time.monotonic()))
        before = len(p.text())
        sent = time.monotonic()
        p.send("show port stats all")
        found = []

        def have_both():
            # The whole line, so a number still being written is never read half.
            found[:] = re.findall(r"RX-packets:\s+(\d+)\s+RX-missed", p.text()[before:])
            return len(found) >= 2

        wait_for(have_both, 10, "testpmd port stats", p)
        now = time.monotonic()
        last_sample[0] = now
        return int(found[0]) + int(found[1]), (sent + now) / 2

    first = fresh_total()[0]
    wait_for(lambda: fresh_total()[0] > first, 60, "traffic through the loop", p)
    return p, fresh_total


# ---------------------------------------------------------------------------------------------
# CPU accounting: what other processes used while a run was sampled.


def proc_stat():
    """(busy ticks, steal ticks, total ticks) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return user + nice + system + irq + softirq, steal, sum(v[:8])


def own_ticks(procs):
    t = os.times()
    hz = os.sysconf("SC_CLK_TCK")
    mine = round((t.user + t.system + t.children_user + t.children_system) * hz)
    return mine + sum(p.cpu_ticks() for p in procs)


def measure(switch, guest_proc, fresh_total, seconds, warmup, f_start):
    """Samples the loop's rate once a second. Returns a dict for the run's row. `f_start`:
    the switch's flow cache counters before the guest started."""
    time.sleep(warmup)  # rings fill, caches warm: not a correctness wait
    ours = switch.procs + [guest_proc]
    c0 = switch.counters()
    f0 = switch.flow_cache()
    s0, o0 = proc_stat(), own_ticks(ours)
    last_n, last_t = fresh_total()
    rates = []
    for _ in range(seconds):
        n, t = fresh_total()
        rates.append((n - last_n) / (t - last_t))
        last_n, last_t = n, t
    s1, o1 = proc_stat(), own_ticks(ours)
    c1 = switch.counters()
    f1 = switch.flow_cache()
    ncpu = os.cpu_count()
    total = max(1, s1[2] - s0[2]) / ncpu  # ticks per CPU over the window
    row = {
        "mpps": statistics.median(rates) / 1e6,
        "other_cpu_pct": max(0.0, 100.0 * ((s1[0] - s0[0]) - (o1 - o0)) / total),
        "steal_pct": 100.0 * (s1[1] - s0[1]) / total,
        "load_avg": os.getloadavg()[0],
        "busy_cycles_per_packet": None,
    }
    if c0 is not None:
        row["busy_cycles_per_packet"] = (c1[0] - c0[0]) / max(1, c1[1] - c0[1])
    if f0 is not None:
        lookups = (f1[0] - f0[0]) + (f1[1] - f0[1])
        # inserts_run: entries made since the guest started (one per flow and direction,
        # unless an earlier case cached them); entries: what the cache holds at the end.
        row["flow_cache"] = {"hits": f1[0] - f0[0], "misses": f1[1] - f0[1],
                             "inserts": f1[2] - f0[2], "inserts_run": f1[2] - f_start[2],
                             "entries": f1[3],
                             "miss_pct": 100.0 * (f1[1] - f0[1]) / max(1, lookups)}
    return row


# ---------------------------------------------------------------------------------------------

def acl_unavailable():
    """Why vswitch-routed-acl cannot run (None when it can, as far as vswctl tells: the
    dataplane's side shows when the rules are added, see Vswitch.add_acl)."""
    # Without a controld to talk to: a vswctl without the ACL refuses the object itself
    # ("unknown object 'acl'"), one with it fails to connect.
    r = subprocess.run([os.path.join(BIN, "vswctl"), "--run-dir", "/nonexistent", "acl",
                        "list"], capture_output=True, text=True, timeout=30)
    if "unknown object" in r.stderr:
        return "vswctl has no acl command yet"
    return None


def applies(kind, case, args):
    """Whether system `kind` runs case (guest, flows, size). The testpmd guest answers no ARP
    and sends no routable packets, so the routed systems skip it. To keep `make bench` within
    10 minutes, frames other than 64 bytes run with --big-flows only (1,000: at 1518 bytes
    the copy dominates and the flow count changed little, see bench/README.md)."""
    guest, flows, size = case
    if "routed" in kind and guest == "testpmd":
        return False
    if size != 64 and args.big_flows:
        return str(flows) in args.big_flows.split(",")
    return True


def make_switch(kind, run, use_huge):
    if kind == "testpmd-io":
        return TestpmdIo(run, use_huge)
    if kind.startswith("vswitch-"):
        return Vswitch(run, use_huge, kind[len("vswitch-"):])
    return ovs_peer.OvsSwitch(run, use_huge, kind[len("ovs-"):], routing=OVS_ROUTING)


OVS_ROUTING = {"guest_macs": GUEST_MACS, "guest_ips": GUEST_IPS, "router_ips": ROUTER_IPS,
               "router_macs": ROUTER_MACS}


def fmt_run(r):
    s = f"{r['mpps']:7.3f} Mpps"
    s += (f"  {r['busy_cycles_per_packet']:6.1f} cyc/pkt" if r["busy_cycles_per_packet"]
          else " " * 16)
    if "flow_cache" in r:
        fc = r["flow_cache"]
        s += (f"  cache: {fc['inserts_run']:5d} new, {fc['entries']:5d} held, "
              f"{fc['miss_pct']:5.1f}% miss")
    if r.get("guest_tx_drops"):
        s += f"  guest tx drops {r['guest_tx_drops']}"
    if r.get("guest_bad"):
        s += f"  GUEST BAD {r['guest_bad']} (not routed right: {r.get('guest_l3', '')})"
    if "connections" in r:
        s += f"  conns {r['connections']}"
    s += (f"  other CPU {r['other_cpu_pct']:4.0f}%  steal {r['steal_pct']:3.0f}%"
          f"  load {r['load_avg']:.1f}")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=3, help="one-second samples per run")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds before sampling")
    ap.add_argument("--reps", type=int, default=3, help="runs per case (systems alternate)")
    ap.add_argument("--flows", default="1,1000,100000", help="flow counts, comma-separated")
    ap.add_argument("--sizes", default="64,1518", help="frame lengths, comma-separated")
    ap.add_argument("--prime", type=int, default=256,
                    help="packets primed into the loop per port")
    ap.add_argument("--peers", default="", help="comma-separated extra peers: ovs")
    ap.add_argument("--systems", default="",
                    help="only these systems, comma-separated (default: all available)")
    ap.add_argument("--no-testpmd-guest", action="store_true",
                    help="skip the 1-flow 64-byte run with testpmd as the guest")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="where latest.json and latest.png go (default bench/results)")
    ap.add_argument("--huge", action="store_true",
                    help="run switch and guest on hugepages (reserve and mount them first); "
                         "default --no-huge")
    ap.add_argument("--big-flows", default="1000",
                    help="flow counts run at frame sizes other than 64 bytes (comma-separated; "
                         "empty: all of --flows)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke check: 1 rep of 1 s per case, flows 1 and 100000, 64 bytes")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.seconds, args.warmup = 1, 1, 0.5
        args.flows, args.sizes = "1,100000", "64"
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    os.sched_setaffinity(0, {GUEST_CPU})
    started = time.monotonic()
    peers = [p for p in args.peers.split(",") if p]
    systems = ["testpmd-io", "vswitch-xconnect", "vswitch-bridge", "vswitch-routed",
               "vswitch-routed-acl"]
    unavailable = {}
    remove_stale()
    run = Run()
    try:
        why = acl_unavailable()
        if why:
            unavailable["vswitch-routed-acl"] = why
            systems.remove("vswitch-routed-acl")
        if "ovs" in peers:
            why = ovs_peer.prepare(run)
            if why:
                unavailable["ovs"] = why
                print(f"OVS: not available: {why}")
            else:
                systems += ["ovs-xconnect", "ovs-normal", "ovs-routed", "ovs-routed-ct"]
        if args.systems:
            systems = [s for s in systems if s in args.systems.split(",")]
        cases = [("loopgen", int(f), int(z)) for z in args.sizes.split(",")
                 for f in args.flows.split(",")]
        if not args.no_testpmd_guest and (1, 64) in [(f, z) for _, f, z in cases]:
            cases.insert(0, ("testpmd", 1, 64))
        total = sum(applies(k, c, args) for k in systems for c in cases) * args.reps
        print(f"vhost-user port to port: {len(systems)} systems x up to {len(cases)} cases "
              f"(guest, flows, frame bytes) x {args.reps} reps = {total} runs, {args.seconds} s "
              f"each, memory: {'hugepages' if args.huge else 'no-huge'}")
        print(f"pinning: switch poll loop on CPU {SWITCH_CPU} (its management threads sleep on "
              f"CPU {GUEST_CPU}), guest poll loop on CPU {GUEST_CPU}; {args.prime} packets "
              f"primed per port")
        for name, why in unavailable.items():
            print(f"  {name}: not available ({why})")
        if any("routed" in k for k in systems):
            print("  routed systems: no testpmd-guest case (testpmd answers no ARP and sends "
                  "nothing routable)")
        if args.big_flows and any(z != "64" for z in args.sizes.split(",")):
            print(f"  frames over 64 bytes: {args.big_flows} flows only (--big-flows)")
        runs = {}  # (system, guest, flows, size) -> [row, ...]
        done = 0
        for rep in range(args.reps):
            for kind in list(systems):
                sw = make_switch(kind, run, args.huge)
                try:
                    try:
                        sw.start()
                    except RuntimeError as e:
                        if kind != "vswitch-routed-acl" or "vswctl acl" not in str(e):
                            raise
                        # vswctl has the ACL, the dataplane (or controld) refuses it.
                        unavailable[kind] = str(e).splitlines()[0]
                        systems.remove(kind)
                        total -= sum(applies(kind, c, args) for c in cases) * (args.reps - rep)
                        print(f"  {kind}: not available ({unavailable[kind]})", flush=True)
                        continue
                    for guest, flows, size in cases:
                        if not applies(kind, (guest, flows, size), args):
                            continue
                        done += 1
                        f_start = sw.flow_cache()
                        g, fresh_total = start_guest(run, guest, sw, flows, size, args.prime,
                                                     args.huge)
                        try:
                            r = measure(sw, g, fresh_total, args.seconds, args.warmup,
                                        f_start)
                        finally:
                            code = run.stop(g)
                        if code not in (0, None) and guest == "loopgen":
                            raise RuntimeError(f"vsw-loopgen exited with {code}:\n"
                                               f"{g.text()[-2000:]}")
                        if guest == "loopgen":
                            # stats SECONDS RX0 RX1 TX0 TX1 DROP [BAD ARP]
                            last = re.findall(r"^stats ([\d. ]+)$", g.text(), re.M)
                            fields = last[-1].split() if last else []
                            r["guest_tx_drops"] = int(fields[5]) if len(fields) > 5 else 0
                            if sw.routed:
                                r["guest_bad"] = int(fields[6]) if len(fields) > 6 else 0
                                r["guest_arp_answered"] = (int(fields[7]) if len(fields) > 7
                                                           else 0)
                                l3 = re.findall(r"^l3 (.*)$", g.text(), re.M)
                                r["guest_l3"] = l3[-1] if l3 else ""
                        if kind in ("vswitch-routed-acl", "ovs-routed-ct"):
                            r["connections"] = sw.connections()
                        runs.setdefault((kind, guest, flows, size), []).append(r)
                        print(f"  [{done}/{total}] {kind:18s} {guest:8s} {flows:6d} fl "
                              f"{size:4d} B {fmt_run(r)}", flush=True)
                finally:
                    sw.stop()
                    run.remove_prefixes()
        rows = summarize(runs, systems)
        print_table(rows)
        elapsed = time.monotonic() - started
        print(f"total {elapsed:.0f} s")
        write_results(args, rows, unavailable, systems, elapsed)
        return 0
    except Interrupted as e:
        print(f"\ninterrupted ({e}): stopping everything this run started", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.cleanup()


QUIET_CPU_PCT = 10
PEER_OF = {"vswitch-xconnect": "ovs-xconnect", "vswitch-bridge": "ovs-normal",
           "vswitch-routed": "ovs-routed", "vswitch-routed-acl": "ovs-routed-ct"}


def summarize(runs, systems):
    rows = []
    med = {k: statistics.median(r["mpps"] for r in v) for k, v in runs.items()}
    for (kind, guest, flows, size), v in runs.items():
        m = med[(kind, guest, flows, size)]
        base = med.get(("testpmd-io", guest, flows, size))
        peer = med.get((PEER_OF.get(kind, ""), guest, flows, size))
        cpp = [r["busy_cycles_per_packet"] for r in v if r["busy_cycles_per_packet"]]
        row = {
            "system": kind, "guest": guest, "flows": flows, "frame_bytes": size,
            "median_mpps": m, "min_mpps": min(r["mpps"] for r in v),
            "max_mpps": max(r["mpps"] for r in v),
            "median_gbps": m * 1e6 * size * 8 / 1e9,
            "ratio_to_testpmd_io": m / base if base else None,
            "ratio_to_ovs": m / peer if peer else None,
            "busy_cycles_per_packet": statistics.median(cpp) if cpp else None,
            "other_cpu_pct_median": statistics.median(r["other_cpu_pct"] for r in v),
            "runs": v,
        }
        # Runs during which other processes used under QUIET_CPU_PCT of one CPU: the
        # switch had its core; their median is the figure least disturbed by the machine.
        quiet = [r["mpps"] for r in v if r["other_cpu_pct"] < QUIET_CPU_PCT]
        row["quiet_runs"] = len(quiet)
        row["quiet_median_mpps"] = statistics.median(quiet) if quiet else None
        if any("guest_bad" in r for r in v):
            # Packets the L3 guest received that were not routed right (TTL not decremented
            # by one, wrong addresses): must be 0.
            row["guest_bad_max"] = max(r.get("guest_bad", 0) for r in v)
        conns = [r["connections"] for r in v if r.get("connections") is not None]
        if conns:
            row["connections_max"] = max(conns)
        fcs = [r["flow_cache"] for r in v if "flow_cache" in r]
        if fcs:
            row["flow_cache_entries_max"] = max(f["entries"] for f in fcs)
            row["flow_cache_inserts_max"] = max(f["inserts_run"] for f in fcs)
            row["flow_cache_miss_pct_median"] = statistics.median(f["miss_pct"] for f in fcs)
        rows.append(row)
    rows.sort(key=lambda r: (r["frame_bytes"], r["guest"] != "testpmd", r["flows"],
                             systems.index(r["system"])))
    return rows


def print_table(rows):
    print(f"\n{'system':18s} {'guest':8s} {'flows':>6s} {'bytes':>5s} {'Mpps':>7s} "
          f"{'min-max':>13s} {'Gbit/s':>6s} {'/testpmd':>8s} {'/OVS':>5s} {'cyc/pkt':>7s} "
          f"{'miss%':>5s} {'other CPU':>9s} {'quiet Mpps (runs)':>17s}")
    for r in rows:
        ratio = f"{r['ratio_to_testpmd_io']:7.2f}x" if r["ratio_to_testpmd_io"] else f"{'-':>8s}"
        ovs = f"{r['ratio_to_ovs']:4.2f}x" if r["ratio_to_ovs"] else f"{'-':>5s}"
        cpp = f"{r['busy_cycles_per_packet']:7.1f}" if r["busy_cycles_per_packet"] else f"{'-':>7s}"
        miss = (f"{r['flow_cache_miss_pct_median']:5.1f}" if "flow_cache_miss_pct_median" in r
                else f"{'-':>5s}")
        print(f"{r['system']:18s} {r['guest']:8s} {r['flows']:6d} {r['frame_bytes']:5d} "
              f"{r['median_mpps']:7.3f} {r['min_mpps']:6.3f}-{r['max_mpps']:<6.3f} "
              f"{r['median_gbps']:6.2f} {ratio} {ovs} {cpp} {miss} "
              f"{r['other_cpu_pct_median']:8.0f}% "
              + (f"{r['quiet_median_mpps']:11.3f} ({r['quiet_runs']})" if r["quiet_runs"]
                 else f"{'-':>11s} (0)"))
    for r in rows:
        if r.get("guest_bad_max"):
            print(f"WARNING: {r['system']} {r['flows']} flows {r['frame_bytes']} B: the guest "
                  f"received up to {r['guest_bad_max']} packets not routed right (TTL or "
                  "addresses; see the runs' guest_l3 in the JSON)")
    print("cyc/pkt: the switch's own busy TSC cycles per packet (vswctl stats; OVS: "
          "pmd-stats-show processing cycles), which other "
          "processes disturb less than Mpps; other CPU: CPU time of processes not started by "
          "this benchmark during the samples, in % of one CPU (median over runs); miss%: "
          "vswitch flow cache misses (bridge and routed); quiet: median over the runs with other CPU under "
          f"{QUIET_CPU_PCT}%")


def write_results(args, rows, unavailable, systems, elapsed):
    """latest.json, and latest.png when gnuplot is there."""
    os.makedirs(args.results, exist_ok=True)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory": "hugepages" if args.huge else "no-huge",
        "reps": args.reps, "seconds": args.seconds, "prime_per_port": args.prime,
        "pinning": {"switch_poll_cpu": SWITCH_CPU, "guest_poll_cpu": GUEST_CPU},
        "systems": systems,
        "not_available": unavailable,
        "elapsed_s": round(elapsed, 1),
        "command": " ".join(sys.argv),
        "scenarios": rows,
    }
    json_path = os.path.join(args.results, "latest.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"wrote {json_path}")
    if shutil.which("gnuplot") is None:
        print("gnuplot not found: no plot")
        return
    plot(args.results, doc, rows, systems)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
        return m.group(1) if m else ""
    except OSError:
        return ""


def plot(results, doc, rows, systems):
    """Clustered bars: one cluster per case (guest, flows, frame size), one bar per system,
    median Mpps with min-max error bars."""
    cases = []
    for r in rows:
        c = (r["guest"], r["flows"], r["frame_bytes"])
        if c not in cases:
            cases.append(c)
    by = {(r["system"], r["guest"], r["flows"], r["frame_bytes"]): r for r in rows}
    data = os.path.join(results, "latest.dat")
    with open(data, "w") as f:
        for guest, flows, size in cases:
            label = f"{flows} fl {size} B" + (" (testpmd guest)" if guest == "testpmd" else "")
            cols = []
            for s in systems:
                r = by.get((s, guest, flows, size))
                cols += ([f"{r['median_mpps']:.3f}", f"{r['min_mpps']:.3f}",
                          f"{r['max_mpps']:.3f}"] if r else ["0", "0", "0"])
            f.write(f'"{label}" ' + " ".join(cols) + "\n")
    png = os.path.join(results, "latest.png")
    width = max(900, 60 * len(cases) * len(systems) // 2)
    parts = [f"'{data}' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) title '{s}'"
             for i, s in enumerate(systems)]
    script = f"""set terminal png size {width},520
set output '{png}'
set title 'vhost-user port to port, {doc["date"]}, {doc["memory"]}: median Mpps (min-max)'
set ylabel 'Mpps'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set yrange [0:*]
set key top right
set xtics nomirror font ',9'
plot {', '.join(parts)}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)
    print(f"wrote {png}")


if __name__ == "__main__":
    sys.exit(main())
