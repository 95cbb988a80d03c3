# vsw-memory-modes: nohuge
"""Who may talk to the switch (issue 10, "Access").

- control.sock is 0660 (root's group, or `--group NAME`); `nobody` cannot use it unless
  it is in that group; dataplane.sock is 0600: `nobody` cannot use it at all; RUN/vhost is
  0750, so only root creates vhost-user sockets (a looser directory left behind is
  tightened at start).
- gRPC over TCP only with TLS: `--listen` without a certificate is refused, on loopback
  too (a plain TCP port would let any local user past control.sock's mode); vswctl refuses
  a host:port server without `--tls-ca`; with the CA it works, bound to the address given
  (never a wildcard), from vswctl and from Python's grpc; a client trusting another CA
  fails the handshake.
- `--tls-client-ca`: a client without a certificate, or with one from another CA, is
  refused; one signed by the CA gets in.

Certificates are made by openssl in the test's directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import controld_env
import vswtest
from controld_env import ControldEnv
from vswtest import BIN, run


def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    key, crt = d / f"{name}-ca.key", d / f"{name}-ca.crt"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name} test CA", "-keyout", str(key), "-out", str(crt)])
    return key, crt


def make_cert(d: Path, name: str, ca: tuple[Path, Path], san: str) -> tuple[Path, Path]:
    key, csr, crt, ext = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt",
                          d / f"{name}.ext")
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
         "-keyout", str(key), "-out", str(csr)])
    ext.write_text(f"subjectAltName={san}\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt)])
    return key, crt


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return run(["runuser", "-u", "nobody", "--", *argv], check=False, timeout=60)


class AccessTest(vswtest.TestCase):

    def test_socket_modes_and_groups(self):
        with ControldEnv() as env:
            vhost = env.run_dir / "vhost"
            vhost.mkdir(parents=True)
            vhost.chmod(0o777)  # left behind by someone: the dataplane tightens it
            env.dataplane()
            self.assertEqual(stat.S_IMODE(vhost.stat().st_mode), 0o750)
            self.assertEqual(stat.S_IMODE((env.run_dir / "dataplane.sock").stat().st_mode),
                             0o600)
            # nobody must be able to reach the sockets' directory to be refused by the
            # sockets' own modes, not by the path.
            for p in (env.workdir, env.run_dir):
                p.chmod(0o755)
            code, err = controld_env.Controld(
                env.workdir, env.run_dir, env.workdir / "state-g", ["--group", "no-such-grp"],
                "controld-badgroup").start_expect_exit()
            self.assertEqual(code, 2, err)
            self.assertIn("no-such-grp", err)

            ctl = env.controld()
            sock = ctl.socket_path
            self.assertEqual(stat.S_IMODE(sock.stat().st_mode), 0o660)
            self.assertEqual(sock.stat().st_gid, 0)
            r = as_nobody(str(BIN / "vswctl"), "--run-dir", str(env.run_dir), "port", "list")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("UNAVAILABLE", r.stderr)
            r = as_nobody(str(BIN / "vsw-dpctl"), "--run-dir", str(env.run_dir), "port", "list")
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ermission denied", r.stderr)
            ctl.stop()

            # With --group nogroup, nobody (whose group that is) may use vswctl.
            ctl = env.controld(extra_args=["--group", "nogroup"], label="controld-group")
            self.assertEqual(sock.stat().st_gid, 65534)
            r = as_nobody(str(BIN / "vswctl"), "--run-dir", str(env.run_dir), "--json",
                          "port", "list")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_tcp_only_with_tls(self):
        with ControldEnv() as env:
            d = env.workdir / "tls"
            d.mkdir()
            ca = make_ca(d, "good")
            other_ca = make_ca(d, "other")
            server = make_cert(d, "server", ca, "IP:127.0.0.1")
            client = make_cert(d, "client", ca, "DNS:client")
            rogue = make_cert(d, "rogue", other_ca, "DNS:rogue")
            port = controld_env.free_tcp_port()
            address = f"127.0.0.1:{port}"

            for args in (["--listen", address], ["--listen", f"0.0.0.0:{port}"],
                         ["--listen", address, "--tls-cert", str(server[1])]):
                with self.subTest(args):
                    code, out = controld_env.Controld(
                        env.workdir, env.run_dir, env.workdir / "state-x", args,
                        "controld-refused").start_expect_exit()
                    self.assertEqual(code, 2, out)
                    self.assertIn("--tls-", out)

            tls = ["--listen", address, "--tls-cert", str(server[1]), "--tls-key", str(server[0])]
            ctl = env.controld(extra_args=tls)
            local = [line.split()[3] for line in
                     run(["ss", "-Hltn", f"sport = :{port}"]).stdout.splitlines()]
            self.assertTrue(local, f"nothing listens on port {port}")
            for bound in local:
                self.assertIn(bound, (address, f"[::ffff:127.0.0.1]:{port}"), local)

            vswctl = [str(BIN / "vswctl"), "--server", address]
            r = run([*vswctl, "port", "list"], check=False)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--tls-ca", r.stderr)
            r = run([*vswctl, "--tls-ca", str(ca[1]), "port", "add", "overtls", "--type",
                     "ring"], check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(ctl.ports()), ["overtls"])  # over the unix socket
            r = run([*vswctl, "--tls-ca", str(other_ca[1]), "port", "list"], check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("UNAVAILABLE", r.stderr)

            api = env.api(address, root_ca=ca[1].read_bytes())
            listed = api.call("ListPorts", api.pb.ListPortsRequest())
            self.assertEqual([p.spec.name for p in listed.ports], ["overtls"])
            ctl.stop()

            # Client certificates required.
            ctl = env.controld(extra_args=[*tls, "--tls-client-ca", str(ca[1])],
                               label="controld-mtls")
            base = [*vswctl, "--tls-ca", str(ca[1])]
            r = run([*base, "port", "list"], check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("UNAVAILABLE", r.stderr)
            r = run([*base, "--tls-cert", str(rogue[1]), "--tls-key", str(rogue[0]),
                     "port", "list"], check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            r = run([*base, "--tls-cert", str(client[1]), "--tls-key", str(client[0]),
                     "--json", "port", "list"], check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("overtls", r.stdout)
            r = run([*base, "--tls-cert", str(client[1]), "port", "list"], check=False)
            self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    controld_env.main()
