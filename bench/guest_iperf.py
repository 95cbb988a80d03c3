#!/usr/bin/python3
"""Guest-to-guest TCP throughput through the switch: two QEMU guests of the default image
(guest/build-image.sh) launched by vsw-controld's VM manager, iperf3 for SECONDS with one
stream and with four. Run by `make bench` after the port-to-port table; with `--peers ovs`
(`make bench PEERS=ovs`) the same guests on OVS-DPDK (action NORMAL) in the same run.

Under TCG (no hardware virtualization, as on these machines) the figure measures the
emulator far more than the switch: the rows are labelled with the accelerator. Guests and the
switches' management threads share CPU 0 (controld runs pinned there and QEMU inherits it);
the switch's poll loop owns CPU 1.

    bench/guest_iperf.py [--seconds 10] [--peers ovs] [--quick]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ovs_peer  # noqa: E402
import port_to_port as p2p  # noqa: E402

REPO = os.path.join(HERE, "..")
GUEST_CACHE = os.environ.get("VSW_GUEST_CACHE", "/var/cache/vswitch/guest")
SERVER_IP, CLIENT_IP = "10.253.0.1", "10.253.0.2"
BOOT_TIMEOUT = 240


class VmHost:
    """vswctl on a controld: the VM manager of one switch's guests."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.argv = [os.path.join(p2p.BIN, "vswctl"), "--run-dir", run_dir]

    def vswctl(self, *args, json_out=True):
        r = subprocess.run(self.argv + (["--json"] if json_out else []) + list(args),
                           capture_output=True, text=True, timeout=90)
        if r.returncode != 0:
            raise RuntimeError(f"vswctl {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout) if json_out else r.stdout

    def console(self, name):
        try:
            return self.vswctl("vm", "console", name, json_out=False)
        except RuntimeError:
            return ""

    def kill_guests(self):
        """The guests' QEMU processes, by the pids controld recorded (they outlive it)."""
        for name in os.listdir(os.path.join(self.run_dir, "vms")) if os.path.isdir(
                os.path.join(self.run_dir, "vms")) else []:
            pidfile = os.path.join(self.run_dir, "vms", name, "qemu.pid")
            try:
                pid = int(open(pidfile).read().strip())
                if pidfile.replace("qemu.pid", "qmp.sock").encode() in open(
                        f"/proc/{pid}/cmdline", "rb").read():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass


def start_ovs_vm_host(run, ovs):
    """A controld with no dataplane, only for its VM manager: the guests' ports are client-mode
    vhost-user ports on OVS's socket paths (QEMU listens, OVS's dpdkvhostuserclient ports
    connect)."""
    d = os.path.join(run.workdir, run.next_name("vmhost"))
    os.makedirs(d)
    ctl = run.start("vsw-controld", ["taskset", "-c", str(p2p.GUEST_CPU),
                                     os.path.join(p2p.BIN, "vsw-controld"), "--run-dir", d,
                                     "--state-dir", os.path.join(d, "state"),
                                     "--guest-dir", GUEST_CACHE], os.path.basename(d) + ".log")
    p2p.wait_for(lambda: os.path.exists(os.path.join(d, "control.sock")) and
                 "ready:" in ctl.text(), 60, "the VM host controld", ctl)
    host = VmHost(d)
    for name, sock in zip(("a", "b"), ovs.socks):
        host.vswctl("port", "add", name, "--type", "vhost-user", "--mode", "client", "--socket",
                    sock)
    return host, ctl


def receiver_mbits(text):
    """(single stream, four streams) Mbit/s from iperf3's receiver lines: the first run's only
    receiver line comes first; the second run ends with a [SUM] receiver line."""
    single = multi = None
    for line in text.splitlines():
        m = re.search(r"([\d.]+) Mbits/sec.*receiver", line)
        if not m:
            continue
        if single is None:
            single = float(m.group(1))
        elif line.lstrip().startswith("[SUM]"):
            multi = float(m.group(1))
    return single, multi


def measure(label, host, seconds):
    host.vswctl("vm", "add", "srv", "--port", "a", "--ip", f"{SERVER_IP}/24", "--cmdline",
                'vsw.run="iperf3 -s -D"')
    p2p.wait_for(lambda: "vsw-guest: ready" in host.console("srv"), BOOT_TIMEOUT,
                 f"{label}: the iperf3 server guest to boot")
    run_cmd = (f"iperf3 -c {SERVER_IP} -t {seconds} -f m; "
               f"iperf3 -c {SERVER_IP} -t {seconds} -P 4 -f m")
    vm = host.vswctl("vm", "add", "cli", "--port", "b", "--ip", f"{CLIENT_IP}/24", "--cmdline",
                     f'vsw.run="{run_cmd}"')
    p2p.wait_for(lambda: "vsw-guest: exit status" in host.console("cli"),
                 BOOT_TIMEOUT + 4 * seconds, f"{label}: the client guest's two iperf3 runs")
    console = host.console("cli")
    single, multi = receiver_mbits(console)
    if single is None or multi is None:
        raise RuntimeError(f"{label}: no iperf3 result in the client's console:\n{console[-3000:]}")
    for name in ("cli", "srv"):
        host.vswctl("vm", "del", name)
    return {"switch": label, "accel": vm["state"]["accel"], "seconds": seconds,
            "mbits_1_stream": single, "mbits_4_streams": multi}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--peers", default="", help="'ovs': OVS-DPDK too")
    ap.add_argument("--quick", action="store_true", help="2 s per iperf3 run (a smoke check)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="where guests.json goes")
    args = ap.parse_args()
    seconds = 2 if args.quick else args.seconds
    subprocess.run([os.path.join(REPO, "guest", "build-image.sh"), GUEST_CACHE], check=True)
    signal.signal(signal.SIGINT, p2p.on_signal)
    signal.signal(signal.SIGTERM, p2p.on_signal)
    p2p.remove_stale()
    run = p2p.Run()
    rows, unavailable = [], {}
    try:
        use_huge = False
        sw = p2p.Vswitch(run, use_huge, "bridge")
        sw.start()
        host = VmHost(sw.dir)
        run.cleanups.append(host.kill_guests)
        print(f"guest-to-guest iperf3 ({seconds} s, 1 and 4 streams) on vswitch-bridge ...",
              flush=True)
        rows.append(measure("vswitch-bridge", host, seconds))
        sw.stop()
        if args.peers == "ovs":
            why = ovs_peer.prepare(run)
            if why:
                unavailable["ovs-normal"] = why
            else:
                ovs = ovs_peer.OvsSwitch(run, use_huge, "normal")
                ovs.start()
                host, ctl = start_ovs_vm_host(run, ovs)
                run.cleanups.append(host.kill_guests)
                print("guest-to-guest iperf3 on ovs-normal ...", flush=True)
                rows.append(measure("ovs-normal", host, seconds))
                run.stop(ctl)
                ovs.stop()
    except p2p.Interrupted as e:
        print(f"interrupted ({e}): cleaning up", file=sys.stderr)
        run.cleanup()
        return 130
    finally:
        run.cleanup()
    print()
    print("| switch | accel | 1 stream Mbit/s | 4 streams Mbit/s |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['switch']} | {r['accel']} | {r['mbits_1_stream']:.0f} | "
              f"{r['mbits_4_streams']:.0f} |")
    for k, why in unavailable.items():
        print(f"| {k} | not available: {why} | | |")
    if any(r["accel"] == "tcg" for r in rows):
        print("\nThe guests ran under TCG software emulation: these figures measure the "
              "emulator far more than the switch.")
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "guests.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows,
                   "unavailable": unavailable}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
