# vsw-memory-modes: nohuge
"""vsw-controld's ACL and conntrack API without a dataplane: validation naming the field,
rule ids, port deletion, and persistence across kill -9 of controld.

Every refused request is made twice, through vswctl (exit 1, one stderr line
`vswctl: CODE: field: ...`) and as a raw gRPC call (the same code and message), and must
leave the lists and SDIR/state.pb (bytes, inode, mtime) exactly as before (the pattern of
test_controld_api.py, whose check_refused this reuses).

No dataplane runs (changes are stored and pending), so this file does not depend on the
memory mode. The traffic side is test_acl.py.
"""

from __future__ import annotations

import controld_env
import test_controld_api
import vswtest
from controld_env import ControldEnv
from test_controld_api import INVALID, NOT_FOUND, Case, state_fingerprint

EXISTS = "ALREADY_EXISTS"
UNAVAILABLE = "UNAVAILABLE"


def acl_add_case(what: str, port: str, code: str, field: str, value: str | None = None,
                 **spec) -> Case:
    """`vswctl acl add PORT --dir .. --priority .. --action ..` and the same AddAclRule."""
    spec = {"dir": "to-port", "priority": 10, "action": "permit", **spec}
    args = ["acl", "add", port]
    for key, v in spec.items():
        if v is not None:
            args += [f"--{key.replace('_', '-')}", str(v)]
    rule = {"port": port, **{k: v for k, v in spec.items() if v is not None}}
    if "priority" in rule:
        rule["priority"] = int(rule["priority"])
    return Case(what, args, "AddAclRule", {"rule": rule}, code, field, value)


class ControldAclTest(vswtest.TestCase):

    # The refusal check of test_controld_api.py (vswctl and gRPC, nothing changed), with this
    # file's request builder.
    check_refused = test_controld_api.ControldApiTest.check_refused

    def request(self, api: controld_env.Api, method: str, fields: dict):
        pb = api.pb
        types = {"AddAclRule": pb.AddAclRuleRequest, "DeleteAclRule": pb.DeleteAclRuleRequest,
                 "ListAcls": pb.ListAclsRequest, "SetAclDefault": pb.SetAclDefaultRequest,
                 "ListConnections": pb.ListConnectionsRequest,
                 "FlushConnections": pb.FlushConnectionsRequest,
                 "SetConntrack": pb.SetConntrackRequest}
        message = types[method]()
        for key, value in fields.items():
            if key == "rule":
                message.rule.CopyFrom(pb.AclRuleSpec(**value))
            elif key == "timeouts":
                for name, seconds in value.items():
                    message.timeouts[name] = seconds
            else:
                setattr(message, key, value)
        return message

    def acl_list(self, ctl, *args) -> dict:
        return ctl.vswctl("acl", "list", *args)

    # -----------------------------------------------------------------------------------------

    def test_acl_validation_errors(self):
        with ControldEnv() as env:
            ctl = env.controld()
            api = env.api(f"unix:{ctl.socket_path}")
            ctl.vswctl("port", "add", "a", "--type", "ring")
            ctl.vswctl("port", "add", "b", "--type", "null")
            first = ctl.vswctl("acl", "add", "b", "--dir", "to-port", "--priority", "100",
                               "--action", "permit-stateful", "--src", "10.1.0.0/24",
                               "--proto", "tcp", "--dport", "80")
            rid = first["spec"]["id"]
            cases = [
                acl_add_case("unknown port", "nope", NOT_FOUND, "port", "'nope'"),
                acl_add_case("bad direction", "a", INVALID, "dir", "'in'", dir="in"),
                acl_add_case("missing direction", "a", INVALID, "dir", dir=None),
                acl_add_case("bad action", "a", INVALID, "action", "'allow'", action="allow"),
                acl_add_case("missing action", "a", INVALID, "action", action=None),
                acl_add_case("priority too high", "a", INVALID, "priority", "70000",
                             priority=70000),
                acl_add_case("src with host bits", "a", INVALID, "src", "10.0.0.0/8",
                             src="10.0.0.1/8"),
                acl_add_case("src not an address", "a", INVALID, "src", "'10.0.0/8x'",
                             src="10.0.0/8x"),
                acl_add_case("dst prefix too long", "a", INVALID, "dst", dst="10.0.0.0/33"),
                acl_add_case("src and dst of two families", "a", INVALID, "dst",
                             src="10.0.0.0/8", dst="2001:db8::/32"),
                acl_add_case("unknown protocol", "a", INVALID, "proto", "'tcpp'", proto="tcpp"),
                acl_add_case("icmp with IPv6 prefixes", "a", INVALID, "proto",
                             src="2001:db8::/32", proto="icmp"),
                acl_add_case("ports without a protocol", "a", INVALID, "dport", dport="80"),
                acl_add_case("ports with icmp", "a", INVALID, "sport", proto="icmp",
                             sport="1-2"),
                acl_add_case("reversed range", "a", INVALID, "dport", "'90-80'", proto="udp",
                             dport="90-80"),
                acl_add_case("port out of range", "a", INVALID, "dport", "'65536'", proto="udp",
                             dport="65536"),
                acl_add_case("icmp type without icmp", "a", INVALID, "icmp-type", proto="tcp",
                             icmp_type="8"),
                acl_add_case("icmp type too big", "a", INVALID, "icmp-type", "'300'",
                             proto="icmp", icmp_type="300"),
                acl_add_case("the same rule again", "b", EXISTS, "rule", f"id {rid}",
                             priority=100, action="permit-stateful", src="10.1.0.0/24",
                             proto="tcp", dport="80"),
                Case("AddAclRule without a rule", None, "AddAclRule", {}, INVALID, "rule"),
                Case("delete from an unknown port", ["acl", "del", "nope", str(rid)],
                     "DeleteAclRule", {"port": "nope", "id": rid}, NOT_FOUND, "port", "'nope'"),
                Case("delete an unknown id", ["acl", "del", "b", "999"], "DeleteAclRule",
                     {"port": "b", "id": 999}, NOT_FOUND, "id", "999"),
                Case("delete another port's id", ["acl", "del", "a", str(rid)], "DeleteAclRule",
                     {"port": "a", "id": rid}, NOT_FOUND, "id"),
                Case("delete without an id", ["acl", "del", "b", "0"], "DeleteAclRule",
                     {"port": "b"}, INVALID, "id"),
                Case("list an unknown port", ["acl", "list", "nope"], "ListAcls",
                     {"port": "nope"}, NOT_FOUND, "port", "'nope'"),
                Case("permit-stateful as a default",
                     ["acl", "default", "a", "--dir", "to-port", "permit-stateful"],
                     "SetAclDefault", {"port": "a", "dir": "to-port",
                                       "action": "permit-stateful"}, INVALID, "action"),
                Case("default without a direction", ["acl", "default", "a", "deny"],
                     "SetAclDefault", {"port": "a", "action": "deny"}, INVALID, "dir"),
                Case("default of an unknown port",
                     ["acl", "default", "nope", "--dir", "from-port", "deny"], "SetAclDefault",
                     {"port": "nope", "dir": "from-port", "action": "deny"}, NOT_FOUND, "port"),
                Case("connections of an unknown port", ["conn", "list", "nope"],
                     "ListConnections", {"port": "nope"}, NOT_FOUND, "port", "'nope'"),
                Case("connections without a dataplane", ["conn", "list"], "ListConnections", {},
                     UNAVAILABLE, "dataplane"),
                Case("flush without a dataplane", ["conn", "flush", "a"], "FlushConnections",
                     {"port": "a"}, UNAVAILABLE, "dataplane"),
                Case("unknown conntrack timeout", ["conntrack", "set", "--timeout", "estab=5"],
                     "SetConntrack", {"timeouts": {"estab": 5}}, INVALID, "timeouts", "'estab'"),
                Case("zero conntrack timeout", ["conntrack", "set", "--timeout", "icmp=0"],
                     "SetConntrack", {"timeouts": {"icmp": 0}}, INVALID, "timeouts"),
                Case("SetConntrack with nothing", None, "SetConntrack", {}, INVALID, "limit"),
            ]
            for case in cases:
                with self.subTest(case.what):
                    self.check_refused(ctl, api, case)

            # Usage errors (exit 2) send nothing.
            before = state_fingerprint(ctl)
            for args in (["acl", "add", "a", "--dir", "to-port", "--action", "permit"],
                         ["acl", "add", "a", "--dir", "to-port", "--priority", "x",
                          "--action", "permit"],
                         ["acl", "del", "a", "x"], ["acl", "default", "a"],
                         ["conntrack", "set"], ["conntrack", "set", "--timeout", "icmp"],
                         ["conn", "list", "--max", "many"]):
                code, line = ctl.vswctl_fail(*args, code=2)
                self.assertIn("--help", line, args)
            self.assertEqual(state_fingerprint(ctl), before)

    def test_ids_listing_and_port_deletion(self):
        with ControldEnv() as env:
            ctl = env.controld()
            for p in ("a", "b"):
                ctl.vswctl("port", "add", p, "--type", "ring")
            # Plain output: the id alone on stdout.
            r = ctl.vswctl.raw("acl", "add", "a", "--dir", "from-port", "--priority", "5",
                               "--action", "deny", "--proto", "udp", "--dport", "53")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "1")
            ids = [1]
            for args in (["b", "--dir", "to-port", "--priority", "100", "--action",
                          "permit-stateful", "--src", "10.1.0.0/24", "--proto", "tcp",
                          "--dport", "80"],
                         ["b", "--dir", "to-port", "--priority", "100", "--action", "permit",
                          "--src", "fd00:1::/64", "--proto", "icmpv6", "--icmp-type", "128"],
                         ["b", "--dir", "from-port", "--priority", "0", "--action", "permit"]):
                ids.append(ctl.vswctl("acl", "add", *args)["spec"]["id"])
            self.assertEqual(ids, [1, 2, 3, 4])
            d = ctl.vswctl("acl", "default", "b", "--dir", "to-port", "deny")
            self.assertEqual(d["default_action"], "deny")

            acls = self.acl_list(ctl, "b")["acls"]
            self.assertEqual([(a["dir"], a["default_action"]) for a in acls],
                             [("to-port", "deny"), ("from-port", "permit")])
            # Equal priorities: the lower id first; pending without a dataplane.
            self.assertEqual([r["spec"]["id"] for r in acls[0]["rules"]], [2, 3])
            self.assertFalse(acls[0]["programmed"])
            self.assertEqual(acls[0]["rules"][1]["spec"]["proto"], "icmpv6")
            self.assertTrue(self.acl_list(ctl)["counters_error"])
            human = ctl.vswctl.raw("acl", "list", "b")
            self.assertEqual(human.returncode, 0, human.stderr)
            self.assertRegex(human.stdout, r"(?m)^PORT\s+DIR\s+ID\s+PRIO\s+ACTION\s+MATCH\s+HITS")
            self.assertRegex(human.stdout, r"(?m)^b\s+to-port\s+2\s+100\s+permit-stateful\s+"
                             r"src 10\.1\.0\.0/24 proto tcp dport 80\s+0")
            self.assertRegex(human.stdout, r"(?m)^b\s+to-port\s+-\s+-\s+deny\s+\(default\)")

            # Deleting a port deletes its ACL; ids are not reused.
            ctl.vswctl("port", "del", "a")
            ctl.vswctl("port", "add", "a", "--type", "ring")
            self.assertEqual([r for acl in self.acl_list(ctl, "a")["acls"]
                              for r in acl.get("rules", [])], [])
            ctl.vswctl("acl", "del", "b", "4")
            new = ctl.vswctl("acl", "add", "a", "--dir", "from-port", "--priority", "5",
                             "--action", "deny", "--proto", "udp", "--dport", "53")
            self.assertEqual(new["spec"]["id"], 5)
            status = ctl.status()
            self.assertEqual(status["acl_rules"], 3, status)

    def test_acl_survives_controld_kill(self):
        with ControldEnv() as env:
            ctl = env.controld()
            ctl.vswctl("port", "add", "b", "--type", "ring")
            ctl.vswctl("acl", "add", "b", "--dir", "to-port", "--priority", "100", "--action",
                       "permit-stateful", "--src", "10.1.0.0/24", "--proto", "tcp",
                       "--dport", "80")
            ctl.vswctl("acl", "add", "b", "--dir", "from-port", "--priority", "7", "--action",
                       "deny", "--dst", "2001:db8::/48")
            ctl.vswctl("acl", "default", "b", "--dir", "to-port", "deny")
            ctl.vswctl("conntrack", "set", "--limit", "1000", "--timeout", "established=60",
                       "--timeout", "udp_replied=5")
            before = self.acl_list(ctl)
            for _ in range(2):
                ctl.kill()
                ctl.start()
                self.assertEqual(self.acl_list(ctl), before)
            ct = ctl.vswctl("conntrack", "show")
            self.assertEqual(ct["spec"]["limit"], 1000, ct)
            self.assertEqual(ct["spec"]["timeouts"], {"established": 60, "udp_replied": 5}, ct)
            self.assertTrue(ct["stats_error"], ct)
            # The next id continues after a restart: never reused.
            r = ctl.vswctl("acl", "add", "b", "--dir", "from-port", "--priority", "7",
                           "--action", "permit")
            self.assertEqual(r["spec"]["id"], 3)
            vswtest.log(f"stored and reloaded: {before}")


if __name__ == "__main__":
    controld_env.main()
