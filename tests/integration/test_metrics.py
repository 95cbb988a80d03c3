# vsw-memory-modes: nohuge
"""`vsw-controld --metrics`: Prometheus' text format on http://127.0.0.1:PORT/metrics.

Two namespaces on a bridge ping each other while the endpoint is scraped:
- the text parses under a strict reading of the exposition format 0.0.4 (and under
  `promtool check metrics` when Debian's prometheus package is installed: it is not by
  default, as its postinst starts a Prometheus server);
- per-port counters grow between scrapes, the FDB gauge holds both hosts, the worker's busy
  seconds grow, controld reports its dataplane connected;
- DPDK telemetry (`dpdk-telemetry.py -f PREFIX`, DPDK's own client) shows the same port
  counters under /vswitch/port_stats,PORT, and the other /vswitch commands answer;
- `vswctl stats --watch` prints live rates: the pinging port's rate shows up while a ping
  runs, and SIGINT ends it with exit 0;
- with the dataplane stopped, the endpoint still answers: dataplane_up 0, connected 0;
- anything but GET /metrics gets 404 or 405.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import shutil
import signal
import subprocess

import controld_env
import vswtest
from l2_env import L2Env
from vswtest import wait_until

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(rf"^({NAME})(\{{(.*)\}})? (\S+)$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')


def parse_exposition(text: str) -> dict[tuple[str, tuple], float]:
    """Strict reader of the text format: HELP/TYPE once per family and before its samples,
    a family's samples together, valid names, label syntax and escapes, float values, no
    duplicate series, counters named *_total. Returns {(name, labels): value}."""
    if not text.endswith("\n"):
        raise AssertionError("the text must end with a newline")
    types: dict[str, str] = {}
    helps: set[str] = set()
    finished: set[str] = set()
    current = None
    series: dict[tuple[str, tuple], float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if not re.fullmatch(NAME, name) or name in helps:
                raise AssertionError(f"{where}: bad or repeated HELP")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary",
                                                   "untyped"):
                raise AssertionError(f"{where}: bad TYPE")
            name = parts[2]
            if name in types:
                raise AssertionError(f"{where}: TYPE repeated")
            if current is not None:
                finished.add(current)
            types[name], current = parts[3], name
            continue
        if line.startswith("#") or not line:
            raise AssertionError(f"{where}: unexpected line")
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"{where}: not a sample")
        name, _, labels_text, value = m.groups()
        if name != current or name in finished:
            raise AssertionError(f"{where}: sample outside its family's block")
        labels = []
        if labels_text:
            rest = labels_text
            while rest:
                lm = LABEL_PAIR.match(rest)
                if not lm:
                    raise AssertionError(f"{where}: bad labels at {rest!r}")
                labels.append((lm.group(1), lm.group(2)))
                rest = rest[lm.end():]
                if rest.startswith(","):
                    rest = rest[1:]
                elif rest:
                    raise AssertionError(f"{where}: bad label separator at {rest!r}")
            if len({k for k, _ in labels}) != len(labels):
                raise AssertionError(f"{where}: repeated label")
        v = float(value)  # raises on a bad value; NaN/+Inf/-Inf are spelled as float() reads
        if types[name] == "counter":
            if not name.endswith("_total"):
                raise AssertionError(f"{where}: a counter's name should end in _total")
            if v < 0 or math.isnan(v):
                raise AssertionError(f"{where}: a counter cannot be {v}")
        key = (name, tuple(sorted(labels)))
        if key in series:
            raise AssertionError(f"{where}: duplicate series")
        series[key] = v
    missing_help = set(types) - helps
    if missing_help:
        raise AssertionError(f"families without HELP: {sorted(missing_help)}")
    return series


def get(port: int, path: str = "/metrics", method: str = "GET") -> tuple[int, str, str]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read().decode()
    finally:
        c.close()


def telemetry(prefix: str, commands: list[str]) -> dict:
    """Runs DPDK's dpdk-telemetry.py against the process with EAL prefix `prefix`; returns
    {command: answer}."""
    p = subprocess.run(["/usr/bin/dpdk-telemetry.py", "-f", prefix],
                       input="\n".join(commands) + "\n", capture_output=True, text=True,
                       timeout=60)
    out = {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.update(json.loads(line))
    missing = [c.split(",")[0] for c in commands if c.split(",")[0] not in out]
    if missing:
        raise AssertionError(f"dpdk-telemetry.py did not answer {missing}: {p.stdout[-2000:]}"
                             f"{p.stderr[-2000:]}")
    return out


def value(series, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    if key not in series:
        raise AssertionError(f"no series {key}; have "
                             f"{sorted(k for k in series if k[0] == name)}")
    return series[key]


class MetricsTest(vswtest.TestCase):

    def test_scrape_while_traffic_flows(self):
        with L2Env() as env:
            port = controld_env.free_tcp_port()
            env.dp = env.dataplane()
            env.ctl = env.controld(extra_args=["--metrics", str(port)])
            ctl = env.ctl
            ctl.wait_programmed()
            ctl.vswctl("bridge", "add", "br0")
            a = env.tap_host("ma", "10.212.0.1/24")
            b = env.tap_host("mb", "10.212.0.2/24")
            for h in (a, b):
                ctl.vswctl("bridge", "attach", "br0", h.port)

            status, ctype, text = get(port)
            self.assertEqual(status, 200, text)
            self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
            first = parse_exposition(text)
            self.assertEqual(value(first, "vswitch_dataplane_up"), 1)
            self.assertEqual(value(first, "vswitch_controld_dataplane_connected"), 1)
            self.assertEqual(value(first, "vswitch_controld_objects", kind="port"), 2)
            self.assertEqual(value(first, "vswitch_port_drops_total", port=a.port,
                                   reason="malformed"), 0)

            rule = ctl.vswctl("acl", "add", b.port, "--dir", "to-port", "--priority", "10",
                              "--action", "permit", "--proto", "icmp")
            r = a.ping(b, count=20, interval=0.05)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # The ports' counters are the workers' own: wait until this scrape sees the
            # pings (a worker publishes its counters as it forwards; no fixed sleep).
            def grown():
                s = parse_exposition(get(port)[2])
                return s if value(s, "vswitch_port_rx_packets_total", port=a.port) >= \
                    value(first, "vswitch_port_rx_packets_total", port=a.port) + 20 else None
            second = wait_until(grown, 30, "port counters to count the pings")
            for name in ("vswitch_port_rx_packets_total", "vswitch_port_tx_packets_total",
                         "vswitch_port_rx_bytes_total"):
                for h in (a, b):
                    self.assertGreater(value(second, name, port=h.port),
                                       value(first, name, port=h.port), (name, h.port))
            self.assertGreaterEqual(value(second, "vswitch_fdb_macs", bridge="br0"), 2)
            self.assertGreater(value(second, "vswitch_worker_busy_seconds_total", worker="0"),
                               value(first, "vswitch_worker_busy_seconds_total", worker="0"))
            self.assertGreater(value(second, "vswitch_worker_packets_total", worker="0"), 0)
            self.assertIn(("vswitch_flow_cache_hits_total", (("worker", "0"),)), second)
            self.assertIn(("vswitch_fib_capacity", (("family", "ipv4"),)), second)
            self.assertGreater(value(second, "vswitch_conntrack_capacity"), 0)
            def rule_hits():
                s = parse_exposition(get(port)[2])
                return value(s, "vswitch_acl_rule_hits_total", port=b.port, dir="to-port",
                             rule=str(rule["spec"]["id"])) >= 20
            wait_until(rule_hits, 30, "the ICMP rule's hits in the metrics")
            self.assertEqual(value(second, "vswitch_port_drops_total", port=a.port,
                                   reason="acl_deny"), 0)
            self.assertEqual(value(second, "vswitch_port_drops_total", port=a.port,
                                   reason="port_security"), 0)

            promtool = shutil.which("promtool")
            if promtool:
                p = subprocess.run([promtool, "check", "metrics"], input=get(port)[2],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

            self.assertEqual(get(port, "/nothing")[0], 404)
            self.assertEqual(get(port, method="POST")[0], 405)
            self.assertEqual(get(port, method="HEAD")[0], 200)

            # DPDK telemetry: the same counters through DPDK's own client.
            tel = telemetry(env.dp.file_prefix, [f"/vswitch/port_stats,{a.port}",
                                                 "/vswitch/port_list", "/vswitch/info",
                                                 "/vswitch/worker_stats,0",
                                                 "/vswitch/flow_cache,0", "/vswitch/router"])
            stats = tel["/vswitch/port_stats"]
            self.assertGreaterEqual(stats["rx_packets"],
                                    value(second, "vswitch_port_rx_packets_total", port=a.port))
            self.assertIn("drop_malformed", stats)
            self.assertEqual(sorted(tel["/vswitch/port_list"]), sorted([a.port, b.port]))
            self.assertEqual(tel["/vswitch/info"]["pid"], env.dp.pid)
            self.assertGreater(tel["/vswitch/worker_stats"]["packets"], 0)
            self.assertIn("hits", tel["/vswitch/flow_cache"])
            self.assertIn("ipv4_capacity", tel["/vswitch/router"])

            # vswctl stats --watch: JSON lines of rates while a ping runs.
            ping = controld_env.PingRun(a.ns, b.ip, interval=0.05)
            watch = subprocess.Popen([str(vswtest.BIN / "vswctl"), "--run-dir", str(env.run_dir),
                                      "--json", "stats", "--watch", "--interval", "0.3"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                def rate_seen():
                    line = watch.stdout.readline()
                    if not line:
                        raise AssertionError(f"vswctl stats --watch ended: {watch.stderr.read()}")
                    doc = json.loads(line)
                    return any(p["name"] == a.port and (p["rx_pps"] or 0) > 5
                               for p in doc["ports"])
                wait_until(rate_seen, 30, "a rx rate for the pinging port")
            finally:
                watch.send_signal(signal.SIGINT)
                code = watch.wait(20)
                ping.stop()
            self.assertEqual(code, 0)

            # Without a dataplane the endpoint still answers, and says so.
            env.dp.stop()
            def down():
                s = parse_exposition(get(port)[2])
                return s if value(s, "vswitch_controld_dataplane_connected") == 0 else None
            third = wait_until(down, 30, "controld to notice the dataplane is gone")
            self.assertEqual(value(third, "vswitch_dataplane_up"), 0)
            self.assertNotIn(("vswitch_port_rx_packets_total", (("port", a.port),)), third)


if __name__ == "__main__":
    import l2_env
    l2_env.main()
