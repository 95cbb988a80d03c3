"""Open vSwitch with DPDK as a peer of the port-to-port benchmark (make bench PEERS=ovs).

Debian's openvswitch-switch-dpdk (installed on first use by scripts/install-deps.sh --ovs,
without starting the system service) runs privately: its own ovsdb-server and database
(created from /usr/share/openvswitch/vswitch.ovsschema) and its own
/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk, everything (sockets, pid files, logs,
database) in one run directory inside the benchmark's work directory, with its own EAL
--file-prefix. Every ovs-vsctl/ovs-ofctl/ovs-appctl call is bounded (timeout).

Topology, as for vsw-dataplane: one netdev bridge with two dpdkvhostuserclient ports; the
guest's virtio_user ports are the vhost-user servers (server=1). Modes:
  xconnect:  in_port=1,actions=output:2 and in_port=2,actions=output:1
  normal:    one flow, actions=NORMAL (MAC learning)
  routed:    the router of vswitch-routed in OpenFlow (see routing_flows): ARP requests for
             the router addresses answered by flows, then per direction "IPv4 to the router
             MAC and the other subnet: set source MAC to the router's, destination MAC to the
             host's (static: OVS has no neighbor resolution of its own), dec_ttl, output"
  routed-ct: the same for UDP through conntrack, as vswitch-routed-acl: ct(table=1), then
             +new is committed and routed, +est routed, everything else dropped
Pinning as for vsw-dataplane: the PMD thread on CPU 1 (pmd-cpu-mask), the main lcore on
CPU 0 (dpdk-lcore-mask), ovsdb-server on CPU 0.
"""
import os
import re
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
CALL_TIMEOUT = 30


def prepare(run):
    """Installs OVS-DPDK when missing. Returns None when it can run, else why not."""
    r = subprocess.run([os.path.join(HERE, "..", "scripts", "install-deps.sh"), "--ovs"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "install failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    for path in (VSWITCHD, SCHEMA, "/usr/sbin/ovsdb-server", "/usr/bin/ovs-vsctl"):
        if not os.path.exists(path):
            return f"{path} missing after install"
    return None


def wait_for(pred, timeout, what, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.p.returncode}) while waiting for "
                               f"{what}; log {proc.log_path}:\n{proc.text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _hex(text, sep):
    return "0x" + "".join(f"{int(x, 16 if sep == ':' else 10):02x}" for x in text.split(sep))


def _subnet(cidr):
    addr, plen = cidr.split("/")
    n = int(_hex(addr, "."), 16) & (~0 << (32 - int(plen))) & 0xffffffff
    return ".".join(str(n >> s & 255) for s in (24, 16, 8, 0)) + "/" + plen


def routing_flows(routing, stateful):
    """The OpenFlow rules of the routed modes. `routing`: guest_macs, guest_ips (ADDR/LEN),
    router_ips, router_macs, per port (OpenFlow port i + 1 is the guest's port i)."""
    gmac, gip = routing["guest_macs"], routing["guest_ips"]
    rip, rmac = routing["router_ips"], routing["router_macs"]
    flows = []
    for i in range(2):
        # ARP responder: the request becomes the reply, back out of the port it came in.
        flows.append(
            f"table=0,priority=100,arp,in_port={i + 1},arp_op=1,arp_tpa={rip[i]},actions="
            "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
            f"mod_dl_src:{rmac[i]},load:0x2->NXM_OF_ARP_OP[],"
            "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
            f"load:{_hex(rmac[i], ':')}->NXM_NX_ARP_SHA[],"
            f"load:{_hex(rip[i], '.')}->NXM_OF_ARP_SPA[],in_port")
    for i in range(2):
        o = 1 - i  # from guest port i to guest port o
        match = (f"dl_dst={rmac[i]},nw_src={_subnet(gip[i])},nw_dst={_subnet(gip[o])}")
        route = f"mod_dl_src:{rmac[o]},mod_dl_dst:{gmac[o]},dec_ttl,output:{o + 1}"
        if not stateful:
            flows.append(f"table=0,priority=50,ip,{match},actions={route}")
            continue
        flows.append(f"table=0,priority=50,udp,{match},actions=ct(table=1)")
        flows.append(f"table=1,priority=50,ct_state=+trk+new,udp,{match},"
                     f"actions=ct(commit),{route}")
        flows.append(f"table=1,priority=50,ct_state=+trk+est,udp,{match},actions={route}")
    return flows


class OvsSwitch:
    guest_server = True  # OVS's ports are vhost-user clients

    def __init__(self, run, use_huge, mode, routing=None):
        self.run = run
        self.use_huge = use_huge
        self.mode = mode
        self.kind = "ovs-" + mode
        self.routed = mode.startswith("routed")
        self.routing = routing
        self.procs = []
        self.dir = os.path.join(run.workdir, run.next_name("ovs"))
        os.makedirs(self.dir)
        self.socks = [os.path.join(self.dir, n + ".sock") for n in ("a", "b")]
        self.env = {**os.environ, "OVS_RUNDIR": self.dir, "OVS_LOGDIR": self.dir,
                    "OVS_DBDIR": self.dir, "OVS_SYSCONFDIR": self.dir}
        self.db = "unix:" + os.path.join(self.dir, "db.sock")
        self.vswitchd_ctl = os.path.join(self.dir, "ovs-vswitchd.ctl")

    def call(self, *argv, check=True):
        r = subprocess.run(["timeout", str(CALL_TIMEOUT)] + list(argv), env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def vsctl(self, *args):
        return self.call("ovs-vsctl", "--db=" + self.db, "--timeout=20", *args)

    def appctl(self, *args):
        return self.call("ovs-appctl", "-t", self.vswitchd_ctl, "--timeout=20", *args)

    def start(self):
        d = self.dir
        self.call("ovsdb-tool", "create", os.path.join(d, "conf.db"), SCHEMA)
        db = self.run.start("ovsdb-server", [
            "taskset", "-c", "0", "ovsdb-server", os.path.join(d, "conf.db"),
            "--remote=punix:" + os.path.join(d, "db.sock"),
            "--unixctl=" + os.path.join(d, "ovsdb-server.ctl"),
            "--pidfile=" + os.path.join(d, "ovsdb-server.pid"),
            "--log-file=" + os.path.join(d, "ovsdb-server.log")], "ovsdb-server.out",
            env=self.env)
        self.procs.append(db)
        wait_for(lambda: os.path.exists(os.path.join(d, "db.sock")), 30, "ovsdb-server's socket",
                 db)
        self.vsctl("--no-wait", "init")
        prefix = self.run.prefix("o")
        extra = f"--no-pci --file-prefix {prefix}"
        cfg = ["other_config:dpdk-init=true", "other_config:dpdk-lcore-mask=0x1",
               "other_config:pmd-cpu-mask=0x2", "other_config:n-handler-threads=1",
               "other_config:n-revalidator-threads=1",
               # The shared mempool wants 262144 mbufs (~600 MB): more than -m 1024 without
               # hugepages can hold. Per-port pools are sized by the ports' queues.
               "other_config:per-port-memory=true"]
        if self.use_huge:
            cfg += ["other_config:dpdk-socket-mem=512", "other_config:dpdk-socket-limit=1024"]
        else:
            extra += " --no-huge -m 1024 --legacy-mem"
        cfg.append(f'other_config:dpdk-extra="{extra}"')
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", *cfg)
        sw = self.run.start("ovs-vswitchd", [
            VSWITCHD, self.db, "--unixctl=" + self.vswitchd_ctl,
            "--pidfile=" + os.path.join(d, "ovs-vswitchd.pid"),
            "--log-file=" + os.path.join(d, "ovs-vswitchd.log")], "ovs-vswitchd.out",
            env=self.env)
        self.procs.append(sw)

        def dpdk_up():
            out = self.call("ovs-vsctl", "--db=" + self.db, "--timeout=5", "get",
                            "Open_vSwitch", ".", "dpdk_initialized", check=False)
            return out.strip() == "true"

        wait_for(dpdk_up, 60, "OVS's dpdk_initialized=true", sw)
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
                   "fail_mode=secure")
        for i, name in enumerate(("a", "b")):
            self.vsctl("add-port", "br0", name, "--", "set", "Interface", name,
                       "type=dpdkvhostuserclient", f"options:vhost-server-path={self.socks[i]}",
                       f"ofport_request={i + 1}")
        self.call("ovs-ofctl", "del-flows", "br0")
        if self.mode == "xconnect":
            self.call("ovs-ofctl", "add-flow", "br0", "in_port=1,actions=output:2")
            self.call("ovs-ofctl", "add-flow", "br0", "in_port=2,actions=output:1")
        elif self.mode == "normal":
            self.call("ovs-ofctl", "add-flow", "br0", "actions=NORMAL")
        else:
            for flow in routing_flows(self.routing, self.mode == "routed-ct"):
                self.call("ovs-ofctl", "add-flow", "br0", flow)

    def links_up(self):
        out = self.vsctl("--columns=name,link_state", "list", "Interface")
        return len(re.findall(r'link_state\s*:\s*up', out)) >= 2

    def stop(self):
        for p in reversed(self.procs):
            self.run.stop(p)
        self.procs.clear()

    def counters(self):
        """(processing cycles, packets received) of the PMD threads: pmd-stats-show, the
        counterpart of vsw-dataplane's busy cycles and packets."""
        out = self.appctl("dpif-netdev/pmd-stats-show")
        cycles = sum(int(x) for x in re.findall(r"processing cycles:\s+(\d+)", out))
        pkts = sum(int(x) for x in re.findall(r"packets received:\s+(\d+)", out))
        return cycles, pkts

    def flow_cache(self):
        return None

    def connections(self):
        """Userspace conntrack's connection count (routed-ct), or None."""
        try:
            return int(self.appctl("dpctl/ct-get-nconns").strip())
        except (RuntimeError, ValueError):
            return None
