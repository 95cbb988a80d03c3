# vsw-memory-modes: nohuge
"""`vswctl capture`: a port's packets into a pcapng file that tshark reads.

Two namespaces on a bridge; A pings B while A's port is captured in both directions: tshark
finds the echo requests (received from A: inbound) and the replies (sent to A: outbound),
on an interface named after the port. Then a `--count 3 --dir rx` capture ends by itself
with exactly 3 packets, a relative --file lands in vswctl's directory, and the refusals name
their field: an existing file (never overwritten), a port with a capture already, an
unknown port, a bad direction.
"""

from __future__ import annotations

import os
import subprocess

import controld_env
import vswtest
from l2_env import L2Env
from vswtest import wait_until


def tshark(path: str, fields: list[str], display_filter: str = "") -> list[list[str]]:
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"tshark -r {path} failed ({p.returncode}): {p.stderr}")
    return [line.split("|") for line in p.stdout.splitlines() if line]


class CaptureTest(vswtest.TestCase):

    def test_capture_ping_and_read_it_back(self):
        with L2Env() as env:
            ctl = env.switch()
            ctl.vswctl("bridge", "add", "br0")
            a = env.tap_host("ca", "10.213.0.1/24")
            b = env.tap_host("cb", "10.213.0.2/24")
            for h in (a, b):
                ctl.vswctl("bridge", "attach", "br0", h.port)
            path = str(env.workdir / "a.pcapng")
            started = ctl.vswctl("capture", "start", a.port, "--file", path)
            self.assertEqual((started["state"], started["direction"]), ("running", "both"))

            r = a.ping(b, count=5, interval=0.1)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

            def captured():
                caps = {c["port"]: c for c in ctl.vswctl("capture", "list").get("captures", [])}
                return int(caps[a.port]["packets"]) >= 10
            wait_until(captured, 30, "the capture to hold 5 requests and 5 replies")
            stopped = ctl.vswctl("capture", "stop", a.port)
            self.assertEqual(stopped["state"], "stopped")
            self.assertEqual(int(stopped["dropped"]), 0)
            self.assertEqual(int(stopped["bytes"]), os.path.getsize(path))

            rows = tshark(path, ["frame.interface_name", "frame.packet_flags_direction",
                                 "icmp.type", "ip.src", "ip.dst"], "icmp")
            requests = [x for x in rows if x[2] == "8"]
            replies = [x for x in rows if x[2] == "0"]
            self.assertGreaterEqual(len(requests), 5, rows)
            self.assertGreaterEqual(len(replies), 5, rows)
            for x in rows:
                self.assertEqual(x[0], a.port, x)
            # epb_flags: 1 inbound (received from A), 2 outbound (sent to A).
            self.assertEqual({int(x[1], 0) for x in requests}, {1}, requests)
            self.assertEqual({int(x[1], 0) for x in replies}, {2}, replies)
            self.assertEqual({(x[3], x[4]) for x in requests}, {(a.ip, b.ip)})

            # --count ends the capture by itself; a relative path is vswctl's directory.
            r = subprocess.run([str(vswtest.BIN / "vswctl"), "--run-dir", str(env.run_dir),
                                "--json", "capture", "start", b.port, "--file", "b.pcapng",
                                "--dir", "rx", "--count", "3", "--snaplen", "64"],
                               cwd=env.workdir, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = a.ping(b, count=5, interval=0.1)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

            def done():
                caps = {c["port"]: c for c in ctl.vswctl("capture", "list").get("captures", [])}
                return caps[b.port] if caps[b.port]["state"] == "done" else None
            b_cap = wait_until(done, 30, "the counted capture to end")
            self.assertEqual(int(b_cap["packets"]), 3)
            self.assertEqual(b_cap["file"], str(env.workdir / "b.pcapng"))
            lengths = tshark(b_cap["file"], ["frame.cap_len", "frame.len"])
            self.assertEqual(len(lengths), 3)
            for cap_len, length in lengths:
                self.assertLessEqual(int(cap_len), 64)
                self.assertGreaterEqual(int(length), int(cap_len))

            # Refusals.
            ctl.vswctl("capture", "start", a.port, "--file", str(env.workdir / "c.pcapng"))
            code, err = ctl.vswctl_fail("capture", "start", a.port, "--file",
                                        str(env.workdir / "d.pcapng"))
            self.assertIn("ALREADY_EXISTS", err)
            ctl.vswctl("capture", "stop", a.port)
            code, err = ctl.vswctl_fail("capture", "start", a.port, "--file", path)
            self.assertIn("INVALID_ARGUMENT: file:", err)
            self.assertIn("exists", err)
            code, err = ctl.vswctl_fail("capture", "start", "nope", "--file", path + ".x")
            self.assertIn("NOT_FOUND: port:", err)
            code, err = ctl.vswctl_fail("capture", "start", a.port, "--file", path + ".y",
                                        "--dir", "sideways")
            self.assertIn("INVALID_ARGUMENT: direction:", err)
            code, err = ctl.vswctl_fail("capture", "stop", b.port)
            self.assertIn("NOT_FOUND", err)


if __name__ == "__main__":
    controld_env.main()
