// vsw-dpctl's ACL and conntrack commands: acl set/list, conn list/flush, ct set/stats.
#include "dpctl_acl.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vsw::dpctl {

namespace {

using vswitch::dp::Request;
using vswitch::dp::Response;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "vsw-dpctl: %s\n", message.c_str());
  std::exit(2);
}

uint32_t num(const std::string& what, const std::string& value) {
  char* end = nullptr;
  const unsigned long n = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') fail(what + ": '" + value + "' is not a number");
  return static_cast<uint32_t>(n);
}

vswitch::dp::AclAction action(const std::string& what, const std::string& v) {
  if (v == "permit") return vswitch::dp::ACL_ACTION_PERMIT;
  if (v == "deny") return vswitch::dp::ACL_ACTION_DENY;
  if (v == "permit-stateful") return vswitch::dp::ACL_ACTION_PERMIT_STATEFUL;
  fail(what + ": '" + v + "' is not permit, deny or permit-stateful");
}

const char* action_name(vswitch::dp::AclAction a) {
  switch (a) {
    case vswitch::dp::ACL_ACTION_PERMIT:
      return "permit";
    case vswitch::dp::ACL_ACTION_DENY:
      return "deny";
    case vswitch::dp::ACL_ACTION_PERMIT_STATEFUL:
      return "permit-stateful";
    default:
      return "permit";  // an unspecified default is permit
  }
}

const char* dir_name(vswitch::dp::AclDirection d) {
  return d == vswitch::dp::ACL_DIRECTION_TO_PORT ? "to-port" : "from-port";
}

uint32_t proto(const std::string& v) {
  if (v == "tcp") return 6;
  if (v == "udp") return 17;
  if (v == "icmp") return 1;
  if (v == "icmpv6") return 58;
  if (v == "sctp") return 132;
  return num("proto", v);
}

std::string proto_text(uint32_t p) {
  switch (p) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "icmpv6";
    case 132:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

// "id=1,priority=10,action=permit-stateful,src=10.0.1.0/24,proto=tcp,dport=80"
void parse_rule(const std::string& text, vswitch::dp::AclRule* r) {
  bool has_id = false;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) fail("--rule: '" + item + "' is not KEY=VALUE");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "id") {
      r->set_id(num("--rule id", v));
      has_id = true;
    } else if (k == "priority") {
      r->set_priority(num("--rule priority", v));
    } else if (k == "action") {
      r->set_action(action("--rule action", v));
    } else if (k == "src") {
      r->set_src(v);
    } else if (k == "dst") {
      r->set_dst(v);
    } else if (k == "proto") {
      r->set_proto(proto(v));
    } else if (k == "sport") {
      r->set_sport(v);
    } else if (k == "dport") {
      r->set_dport(v);
    } else if (k == "icmp-type" || k == "icmp_type") {
      r->set_icmp_type(num("--rule icmp-type", v));
    } else {
      fail("--rule: unknown key '" + k +
           "' (id, priority, action, src, dst, proto, sport, dport, icmp-type)");
    }
  }
  if (!has_id) fail("--rule: id=N is required");
}

std::string rule_text(const vswitch::dp::AclRule& r) {
  std::string s = "id=" + std::to_string(r.id()) + ",priority=" + std::to_string(r.priority()) +
                  ",action=" + action_name(r.action());
  if (!r.src().empty()) s += ",src=" + r.src();
  if (!r.dst().empty()) s += ",dst=" + r.dst();
  if (r.has_proto()) s += ",proto=" + proto_text(r.proto());
  if (!r.sport().empty()) s += ",sport=" + r.sport();
  if (!r.dport().empty()) s += ",dport=" + r.dport();
  if (r.has_icmp_type()) s += ",icmp-type=" + std::to_string(r.icmp_type());
  return s;
}

}  // namespace

bool build_acl_request(const std::vector<std::string>& args, Request& req) {
  const std::string object = args[0];
  const std::string verb = args.size() > 1 ? args[1] : "";
  const std::string a2 = args.size() > 2 ? args[2] : "";
  if (object == "acl" && verb == "set") {
    if (a2.empty() || a2[0] == '-') fail("acl set: PORT is required");
    auto* s = req.mutable_acl_set();
    s->set_port(a2);
    for (std::size_t i = 3; i < args.size(); i += 2) {
      if (i + 1 >= args.size()) fail("acl set: " + args[i] + " needs a value");
      const std::string &f = args[i], &v = args[i + 1];
      if (f == "--dir") {
        if (v == "to-port") {
          s->set_dir(vswitch::dp::ACL_DIRECTION_TO_PORT);
        } else if (v == "from-port") {
          s->set_dir(vswitch::dp::ACL_DIRECTION_FROM_PORT);
        } else {
          fail("acl set: --dir: '" + v + "' is neither to-port nor from-port");
        }
      } else if (f == "--default") {
        s->set_default_action(action("acl set: --default", v));
      } else if (f == "--rule") {
        parse_rule(v, s->add_rules());
      } else {
        fail("acl set: unknown option " + f);
      }
    }
    if (s->dir() == vswitch::dp::ACL_DIRECTION_UNSPECIFIED) fail("acl set: --dir is required");
  } else if (object == "acl" && verb == "list") {
    req.mutable_acl_list()->set_port(a2);
  } else if (object == "conn" && verb == "list") {
    req.mutable_conn_list()->set_port(a2);
    if (args.size() > 4 && args[3] == "--max")
      req.mutable_conn_list()->set_max(num("--max", args[4]));
  } else if (object == "conn" && verb == "flush") {
    req.mutable_conn_flush()->set_port(a2);
  } else if (object == "ct" && verb == "set") {
    auto* s = req.mutable_conntrack_set();
    for (std::size_t i = 2; i < args.size(); i += 2) {
      if (i + 1 >= args.size()) fail("ct set: " + args[i] + " needs a value");
      const std::string &f = args[i], &v = args[i + 1];
      if (f == "--limit") {
        s->set_limit(num("--limit", v));
      } else if (f == "--timeout") {
        const auto eq = v.find('=');
        if (eq == std::string::npos) fail("ct set: --timeout: expected NAME=SECONDS");
        (*s->mutable_timeouts())[v.substr(0, eq)] =
            num("--timeout " + v.substr(0, eq), v.substr(eq + 1));
      } else {
        fail("ct set: unknown option " + f);
      }
    }
  } else if (object == "ct" && verb == "stats") {
    req.mutable_conntrack_stats();
  } else {
    return false;
  }
  return true;
}

bool print_acl(const Response& r) {
  switch (r.body_case()) {
    case Response::kAcls:
      for (const auto& a : r.acls().acls()) {
        std::printf("%s %s default %s (generation %lu)\n", a.port().c_str(), dir_name(a.dir()),
                    action_name(a.default_action()), a.generation());
        for (const auto& s : a.rules())
          std::printf("  %-70s hits %lu\n", rule_text(s.rule()).c_str(), s.hits());
      }
      return true;
    case Response::kConns:
      std::printf("%-12s %-9s %-6s %-40s %-40s %-12s %9s %10s\n", "PORT", "OPENED", "PROTO", "SRC",
                  "DST", "STATE", "AGE_S", "TIMEOUT_S");
      for (const auto& c : r.conns().conns())
        std::printf("%-12s %-9s %-6s %-40s %-40s %-12s %9.1f %10.1f%s\n", c.port().c_str(),
                    dir_name(c.opened()), c.proto().c_str(),
                    (c.src() + ":" + std::to_string(c.sport())).c_str(),
                    (c.dst() + ":" + std::to_string(c.dport())).c_str(), c.state().c_str(),
                    c.age_s(), c.timeout_left_s(), c.revoked() ? " revoked" : "");
      std::printf("%u connection(s)\n", r.conns().total());
      return true;
    case Response::kConnFlush:
      std::printf("%u connection(s) flushed\n", r.conn_flush().flushed());
      return true;
    case Response::kConntrackStats: {
      const auto& s = r.conntrack_stats();
      std::printf(
          "connections %u, limit %u, capacity %u per worker\n"
          "created %lu, deleted %lu, invalid %lu, limit_drops %lu, full_drops %lu, "
          "revoked_drops %lu\ntimeouts:",
          s.connections(), s.limit(), s.capacity(), s.created(), s.deleted(), s.invalid(),
          s.limit_drops(), s.full_drops(), s.revoked_drops());
      for (const auto& [name, seconds] : s.timeouts()) std::printf(" %s=%u", name.c_str(), seconds);
      std::printf("\n");
      return true;
    }
    default:
      return false;
  }
}

}  // namespace vsw::dpctl
