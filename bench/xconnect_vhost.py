#!/usr/bin/python3
"""Port-to-port throughput between two vhost-user ports, vsw-dataplane beside testpmd.

Scenarios: vsw-dataplane cross-connecting the two ports (`vswitch-xconnect`), the same two
ports on one bridge (`vswitch-bridge`: MAC learning, flow-cache hits), and `testpmd-io`.

Topology (two cores), a closed loop:
    testpmd io (guest, ports P0 and P1) --vhost-user--> SWITCH --vhost-user--> back to the guest
The guest is one testpmd with two net_virtio_user ports in io mode, primed with
`start tx_first N`: a fixed number of packets circulates (P0 -> switch -> P1 -> guest -> P0,
and the other way), so nothing is dropped by design and the figure is the rate of the slower
of guest and switch. The switch is either vsw-dataplane with the two ports cross-connected, or
`dpdk-testpmd --forward-mode=io` on two net_vhost ports (the ceiling: the same vhost library,
zero work). Pinning: the switch's poll loop owns CPU 1 (its management thread sleeps on CPU 0);
the guest's poll loop owns CPU 0.

Why not a txonly generator and an rxonly sink: on two cores they must share one CPU, and the
sink then drains only when the scheduler runs it (about one ring per time slice: ~50 kpps
whatever the switch does).

Runs alternate between the switches; each run's figure is the median of per-second rates.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("VSW_BIN", os.path.join(HERE, "..", "build", "bin"))
TESTPMD = "dpdk-testpmd"


def memory_args(use_huge):
    return [] if use_huge else ["--no-huge", "-m", "512"]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class Proc:
    """A process with its output in a log file, driven (optionally) through stdin."""

    def __init__(self, argv, log_path, interactive=False):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
                                  start_new_session=True)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=15):
        if self.p.poll() is None:
            try:
                if self.p.stdin:
                    self.send("stop")
                    self.send("quit")
                else:
                    self.p.terminate()
                self.p.wait(timeout)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.log.close()


# The guest's MACs, and each port's peer: frames from P0 are addressed to P1 and back, so a
# learning bridge sees each source on one port only and forwards from its flow cache.
GUEST_MACS = ("02:00:00:00:00:0a", "02:00:00:00:00:0b")


def start_switch(kind, run_dir, use_huge, tag):
    os.makedirs(os.path.join(run_dir, "vhost"), exist_ok=True)
    s0 = os.path.join(run_dir, "vhost", "a.sock")
    s1 = os.path.join(run_dir, "vhost", "b.sock")
    eal = ["--lcores", "0@0,1@1", "--main-lcore", "0", "--no-pci",
           "--file-prefix", "vswbench-sw" + tag] + memory_args(use_huge)
    log = os.path.join(run_dir, "switch.log")
    if kind.startswith("vswitch"):
        sw = Proc([os.path.join(BIN, "vsw-dataplane")] + eal + ["--", "--run-dir", run_dir], log)
        sock = os.path.join(run_dir, "dataplane.sock")
        wait_for(lambda: os.path.exists(sock), 60, "vsw-dataplane socket")
        dpctl = [os.path.join(BIN, "vsw-dpctl"), "--run-dir", run_dir]

        def do(*args):
            subprocess.run(dpctl + list(args), check=True, stdout=subprocess.DEVNULL)

        for name in ("a", "b"):
            do("port", "add", name, "--type", "vhost-user")
        if kind == "vswitch-xconnect":
            do("xconnect", "add", "a", "b")
        else:
            do("bridge", "add", "br")
            do("bridge", "attach", "br", "a")
            do("bridge", "attach", "br", "b")
    else:
        sw = Proc([TESTPMD] + eal + ["--vdev", f"net_vhost0,iface={s0},queues=1",
                                     "--vdev", f"net_vhost1,iface={s1},queues=1", "--",
                                     "--forward-mode=io", "--auto-start",
                                     "--total-num-mbufs=16384"], log, interactive=True)
        # Non-interactive testpmd runs until a line arrives on stdin: keep the pipe open.
    wait_for(lambda: os.path.exists(s0) and os.path.exists(s1), 60, "vhost-user sockets")
    return sw, s0, s1


def rx_total(guest):
    """Sum of the guest's two ports' RX-packets, read through `show port stats all`."""
    before = len(guest.text())
    guest.send("show port stats all")
    found = []

    def have_both():
        found[:] = re.findall(r"RX-packets:\s+(\d+)", guest.text()[before:])
        return len(found) >= 2

    wait_for(have_both, 10, "port stats")
    return int(found[0]) + int(found[1])


def worker_cycles(run_dir):
    """(busy_cycles, packets) summed over vsw-dataplane's workers."""
    out = subprocess.run([os.path.join(BIN, "vsw-dpctl"), "--run-dir", run_dir, "--json", "stats"],
                         check=True, capture_output=True, text=True).stdout
    import json
    workers = json.loads(out)["stats"]["workers"]
    return (sum(int(w["busy_cycles"]) for w in workers), sum(int(w["packets"]) for w in workers))


def run_once(kind, seconds, use_huge, bursts, tag, flows=1, size=64):
    """Returns (median pps, switch busy cycles per packet or None). `flows` > 1 makes the
    guest vary the IPv4 source per primed packet (testpmd --txonly-multi-flow: at most 256
    distinct); `size` is the frame length."""
    run_dir = tempfile.mkdtemp(prefix="vsw-bench-")
    procs = []
    try:
        sw, s0, s1 = start_switch(kind, run_dir, use_huge, tag)
        procs.append(sw)
        guest = Proc(["stdbuf", "-oL", TESTPMD, "--lcores", "0@0,1@0", "--main-lcore", "0", "--no-pci",
                      "--file-prefix", "vswbench-guest" + tag,
                      "--vdev", f"net_virtio_user0,path={s0},queues=1,mac={GUEST_MACS[0]}",
                      "--vdev", f"net_virtio_user1,path={s1},queues=1,mac={GUEST_MACS[1]}"] +
                     memory_args(use_huge) +
                     ["--", "-i", "--total-num-mbufs=16384", "--forward-mode=io",
                      f"--eth-peer=0,{GUEST_MACS[1]}", f"--eth-peer=1,{GUEST_MACS[0]}",
                      f"--txpkts={size}"] + (["--txonly-multi-flow"] if flows > 1 else []),
                     os.path.join(run_dir, "guest.log"), interactive=True)
        procs.append(guest)
        wait_for(lambda: "testpmd>" in guest.text(), 60, "the guest's prompt")
        guest.send(f"start tx_first {bursts}")
        first = rx_total(guest)
        wait_for(lambda: rx_total(guest) > first, 30, "traffic through the loop")
        time.sleep(2)  # warm-up: rings fill and caches warm before the samples count
        rates = []
        own = kind.startswith("vswitch")
        c0 = worker_cycles(run_dir) if own else None
        last_t, last_n = time.monotonic(), rx_total(guest)
        for _ in range(seconds):
            time.sleep(1)
            t, n = time.monotonic(), rx_total(guest)
            rates.append((n - last_n) / (t - last_t))
            last_t, last_n = t, n
        cpp = None
        if own:
            c1 = worker_cycles(run_dir)
            cpp = (c1[0] - c0[0]) / max(1, c1[1] - c0[1])
        return statistics.median(rates), cpp
    finally:
        for p in reversed(procs):
            p.stop()
        if os.environ.get("VSW_BENCH_KEEP") is None:
            subprocess.run(["rm", "-rf", run_dir])
        # EAL leaves a runtime directory per file prefix: remove the ones this run used.
        for prefix in ("vswbench-sw" + tag, "vswbench-guest" + tag):
            shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)


SWITCHES = ("testpmd-io", "vswitch-xconnect", "vswitch-bridge")
# Scenarios of the benchmark plan that need features vswitch does not have yet.
NOT_AVAILABLE = {"vswitch-ipv4-routed": "no router yet", "vswitch-routed-acl": "no ACL yet"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=8, help="one-second samples per run")
    ap.add_argument("--reps", type=int, default=3, help="runs per case (switches alternate)")
    ap.add_argument("--flows", default="1,256",
                    help="flow counts, comma-separated (1, or up to 256 with testpmd's "
                         "--txonly-multi-flow)")
    ap.add_argument("--sizes", default="64,1518", help="frame lengths, comma-separated")
    ap.add_argument("--bursts", type=int, default=8,
                    help="bursts of 32 packets primed into the loop per port")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="where latest.json and latest.png go (default bench/results)")
    ap.add_argument("--huge", action="store_true",
                    help="run switch and guest on hugepages (reserve and mount them first: "
                         "about 1.5 GiB); default --no-huge")
    args = ap.parse_args()
    use_huge = args.huge
    cases = [(int(f), int(z)) for z in args.sizes.split(",") for f in args.flows.split(",")]
    total = len(cases) * len(SWITCHES) * args.reps
    print(f"vhost-user port to port: {len(cases)} case(s) (flows x frame size) x "
          f"{len(SWITCHES)} switches x {args.reps} runs of {args.seconds} s, "
          f"memory: {'hugepages' if use_huge else 'no-huge'}")
    print(f"pinning: switch poll loop on CPU 1, guest testpmd io loop on CPU 0 "
          f"({args.bursts}x32 packets primed per port); management threads sleep")
    for name, why in NOT_AVAILABLE.items():
        print(f"  {name}: not available ({why})")
    rows = []
    done = 0
    for flows, size in cases:
        results = {k: [] for k in SWITCHES}
        cycles = {k: [] for k in SWITCHES}
        bursts = max(args.bursts, 8 if flows == 1 else 32)
        for rep in range(args.reps):
            for kind in SWITCHES:
                done += 1
                pps, cpp = run_once(kind, args.seconds, use_huge, bursts,
                                    f"{os.getpid()}-{done}", flows, size)
                results[kind].append(pps)
                if cpp is not None:
                    cycles[kind].append(cpp)
                print(f"  [{done}/{total}] flows {flows:3d} {size:4d} B {kind:16s}"
                      f" {pps / 1e6:7.3f} Mpps"
                      + (f"  {cpp:6.1f} busy cycles/pkt" if cpp is not None else "")
                      + f"  (load avg {os.getloadavg()[0]:.1f})", flush=True)
        base = statistics.median(results["testpmd-io"])
        for kind in SWITCHES:
            v = results[kind]
            med = statistics.median(v)
            rows.append({
                "switch": kind, "flows": flows, "frame_bytes": size,
                "median_mpps": med / 1e6, "min_mpps": min(v) / 1e6, "max_mpps": max(v) / 1e6,
                "median_gbps": med * size * 8 / 1e9,
                "ratio_to_testpmd_io": med / base if base else None,
                "busy_cycles_per_packet": statistics.median(cycles[kind]) if cycles[kind] else None,
                "runs_mpps": [x / 1e6 for x in v],
            })
    print(f"\n{'switch':16s} {'flows':>5s} {'bytes':>5s} {'median Mpps':>11s} {'min-max':>15s}"
          f" {'Gbit/s':>7s} {'vs testpmd':>10s} {'cycles/pkt':>10s}")
    for r in rows:
        cpp = f"{r['busy_cycles_per_packet']:10.1f}" if r["busy_cycles_per_packet"] else f"{'-':>10s}"
        print(f"{r['switch']:16s} {r['flows']:5d} {r['frame_bytes']:5d} {r['median_mpps']:11.3f}"
              f" {r['min_mpps']:7.3f}-{r['max_mpps']:<7.3f} {r['median_gbps']:7.2f}"
              f" {r['ratio_to_testpmd_io'] or 0:9.2f}x {cpp}")
    print("cycles/pkt: the switch's own busy TSC cycles per packet (vsw-dpctl stats), which"
          " noise from other processes inflates less than Mpps")
    write_results(args, use_huge, rows)
    return 0


def write_results(args, use_huge, rows):
    """bench/results/latest.json, and latest.png when gnuplot is there."""
    os.makedirs(args.results, exist_ok=True)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(),
        "memory": "hugepages" if use_huge else "no-huge",
        "reps": args.reps, "seconds": args.seconds,
        "not_available": NOT_AVAILABLE,
        "scenarios": rows,
    }
    json_path = os.path.join(args.results, "latest.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"wrote {json_path}")
    if shutil.which("gnuplot") is None:
        print("gnuplot not found: no plot")
        return
    data = os.path.join(args.results, "latest.dat")
    with open(data, "w") as f:
        for r in rows:
            label = f'{r["switch"].replace("vswitch-", "vsw ")}\\n{r["flows"]} fl {r["frame_bytes"]} B'
            f.write(f'"{label}" {r["median_mpps"]:.3f} {r["min_mpps"]:.3f} {r["max_mpps"]:.3f}\n')
    png = os.path.join(args.results, "latest.png")
    width = max(800, 110 * len(rows))
    script = f"""set terminal png size {width},480
set output '{png}'
set title 'vhost-user port to port ({doc["date"]}, {doc["memory"]}); median Mpps, min-max'
set ylabel 'Mpps'
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set xtics nomirror font ',9'
plot '{data}' using 0:2:xtic(1) with boxes notitle, '' using 0:2:3:4 with yerrorbars notitle lc rgb 'black'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data)
    print(f"wrote {png}")


if __name__ == "__main__":
    sys.exit(main())
