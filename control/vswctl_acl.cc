// vswctl acl add|del|list|default, conn list|flush, conntrack set|show: the stateful ACL of
// each port (rules and defaults are configuration, stored and replayed) and the connections
// it tracks (read live from the dataplane).
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

// "src 10.0.0.0/24 proto tcp dport 80", or "any".
std::string match_text(const vswitch::v1::AclRuleSpec& r) {
  std::string out;
  auto add = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += " ";
    out += std::string(name) + " " + value;
  };
  add("src", r.src());
  add("dst", r.dst());
  add("proto", r.proto());
  add("sport", r.sport());
  add("dport", r.dport());
  add("icmp-type", r.icmp_type());
  return out.empty() ? "any" : out;
}

// "10.0.0.1:80", "[2001:db8::1]:80".
std::string endpoint(const std::string& address, uint32_t port) {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::string seconds_text(double s) {
  return s < 0 ? "-" : duration_ms(static_cast<uint64_t>(s * 1000));
}

int run_acl_add(Context& context, const Args& args) {
  if (!args.has("--priority"))
    return usage_error("acl add", "--priority is required (0-65535, larger wins)");
  vswitch::v1::AddAclRuleRequest request;
  auto* spec = request.mutable_rule();
  spec->set_port(args.positional[0]);
  spec->set_dir(args.get("--dir"));
  uint32_t priority = 0;
  int status = kExitOk;
  if (!number_option(args, "acl add", "--priority", &priority, &status)) return status;
  spec->set_priority(priority);
  spec->set_action(args.get("--action"));
  spec->set_src(args.get("--src"));
  spec->set_dst(args.get("--dst"));
  spec->set_proto(args.get("--proto"));
  spec->set_sport(args.get("--sport"));
  spec->set_dport(args.get("--dport"));
  spec->set_icmp_type(args.get("--icmp-type"));
  vswitch::v1::AclRule rule;
  const grpc::Status rpc = context.client.call(&Stub::AddAclRule, request, &rule);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(rule);
  } else {
    std::printf("%u\n", rule.spec().id());
  }
  if (!rule.state().error().empty()) {
    print_error("warning: the ACL of port " + rule.spec().port() + " " + rule.spec().dir() +
                " is stored but not in the dataplane: " + rule.state().error());
  }
  return kExitOk;
}

int run_acl_del(Context& context, const Args& args) {
  vswitch::v1::DeleteAclRuleRequest request;
  request.set_port(args.positional[0]);
  const auto id = parse_uint32(args.positional[1]);
  if (!id) return usage_error("acl del", "ID: '" + args.positional[1] + "' is not a number");
  request.set_id(*id);
  vswitch::v1::DeleteAclRuleResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteAclRule, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("acl rule %u deleted from port %s\n", request.id(), request.port().c_str());
  }
  return kExitOk;
}

int run_acl_list(Context& context, const Args& args) {
  vswitch::v1::ListAclsRequest request;
  if (!args.positional.empty()) request.set_port(args.positional[0]);
  vswitch::v1::ListAclsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListAcls, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"PORT"},
               {"DIR"},
               {"ID", Align::kRight},
               {"PRIO", Align::kRight},
               {"ACTION"},
               {"MATCH"},
               {"HITS", Align::kRight},
               {"STATE"}});
  for (const auto& acl : response.acls()) {
    const std::string state(object_state_name(acl.programmed(), acl.error()));
    for (const auto& r : acl.rules()) {
      table.add_row({acl.port(), acl.dir(), std::to_string(r.spec().id()),
                     std::to_string(r.spec().priority()), r.spec().action(), match_text(r.spec()),
                     std::to_string(r.state().hits()), state});
    }
    // What no rule matches, evaluated last.
    table.add_row({acl.port(), acl.dir(), "-", "-", acl.default_action(), "(default)",
                   std::to_string(acl.default_hits()), state});
  }
  table.print();
  for (const auto& acl : response.acls()) {
    if (!acl.error().empty())
      print_error("warning: the ACL of port " + acl.port() + " " + acl.dir() +
                  " is not in the dataplane: " + acl.error());
  }
  if (!response.counters_error().empty())
    print_error("note: hit counters unavailable: " + response.counters_error());
  return kExitOk;
}

int run_acl_default(Context& context, const Args& args) {
  vswitch::v1::SetAclDefaultRequest request;
  request.set_port(args.positional[0]);
  request.set_dir(args.get("--dir"));
  request.set_action(args.positional[1]);
  vswitch::v1::PortAcl acl;
  const grpc::Status rpc = context.client.call(&Stub::SetAclDefault, request, &acl);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(acl);
  } else {
    std::printf("port %s %s: default %s\n", acl.port().c_str(), acl.dir().c_str(),
                acl.default_action().c_str());
  }
  if (!acl.error().empty())
    print_error("warning: the ACL of port " + acl.port() + " " + acl.dir() +
                " is stored but not in the dataplane: " + acl.error());
  return kExitOk;
}

int run_conn_list(Context& context, const Args& args) {
  vswitch::v1::ListConnectionsRequest request;
  if (!args.positional.empty()) request.set_port(args.positional[0]);
  if (args.has("--max")) {
    uint32_t max = 0;
    int status = kExitOk;
    if (!number_option(args, "conn list", "--max", &max, &status)) return status;
    request.set_max(max);
  }
  vswitch::v1::ListConnectionsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListConnections, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"PORT"},
               {"DIR"},
               {"PROTO"},
               {"SRC"},
               {"DST"},
               {"STATE"},
               {"AGE", Align::kRight},
               {"TIMEOUT", Align::kRight}});
  for (const auto& c : response.connections()) {
    table.add_row({c.port(), c.dir(), c.proto(), endpoint(c.src(), c.sport()),
                   endpoint(c.dst(), c.dport()), c.state() + (c.revoked() ? " (revoked)" : ""),
                   seconds_text(c.age_s()), seconds_text(c.timeout_left_s())});
  }
  table.print();
  if (static_cast<int>(response.total()) > response.connections_size())
    std::printf("(%d of %u connections listed; --max N for more)\n", response.connections_size(),
                response.total());
  return kExitOk;
}

int run_conn_flush(Context& context, const Args& args) {
  vswitch::v1::FlushConnectionsRequest request;
  if (!args.positional.empty()) request.set_port(args.positional[0]);
  vswitch::v1::FlushConnectionsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::FlushConnections, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("%u connection(s) flushed\n", response.flushed());
  }
  return kExitOk;
}

void print_conntrack(const vswitch::v1::Conntrack& ct) {
  KeyValues kv;
  kv.add("state", std::string(object_state_name(ct.programmed(), ct.error())));
  if (!ct.error().empty()) kv.add("error", ct.error());
  kv.add("limit (stored)", ct.spec().limit() ? std::to_string(ct.spec().limit()) : "default");
  if (ct.has_stats()) {
    const auto& s = ct.stats();
    kv.add("connections", std::to_string(s.connections()));
    kv.add("limit", std::to_string(s.limit()));
    kv.add("capacity", std::to_string(s.capacity()) + " per worker");
    kv.add("created", std::to_string(s.created()));
    kv.add("deleted", std::to_string(s.deleted()));
    kv.add("invalid", std::to_string(s.invalid()));
    kv.add("limit drops", std::to_string(s.limit_drops()));
    kv.add("full drops", std::to_string(s.full_drops()));
    kv.add("revoked drops", std::to_string(s.revoked_drops()));
    kv.add("timeouts", "");
    std::map<std::string, uint32_t> sorted(s.timeouts().begin(), s.timeouts().end());
    for (const auto& [name, seconds] : sorted) kv.add("  " + name, std::to_string(seconds) + " s");
  } else {
    if (!ct.spec().timeouts().empty()) {
      kv.add("timeouts (stored)", "");
      std::map<std::string, uint32_t> sorted(ct.spec().timeouts().begin(),
                                             ct.spec().timeouts().end());
      for (const auto& [name, seconds] : sorted)
        kv.add("  " + name, std::to_string(seconds) + " s");
    }
    kv.add("stats", "unavailable: " + ct.stats_error());
  }
  kv.print();
}

int run_conntrack_set(Context& context, const Args& args) {
  vswitch::v1::SetConntrackRequest request;
  int status = kExitOk;
  if (args.has("--limit")) {
    uint32_t limit = 0;
    if (!number_option(args, "conntrack set", "--limit", &limit, &status)) return status;
    if (limit == 0) return usage_error("conntrack set", "--limit: must be at least 1");
    request.set_limit(limit);
  }
  for (const std::string& t : args.all("--timeout")) {
    const auto eq = t.find('=');
    const auto seconds = eq == std::string::npos ? std::nullopt : parse_uint32(t.substr(eq + 1));
    if (!seconds) return usage_error("conntrack set", "--timeout: '" + t + "' is not NAME=SECONDS");
    (*request.mutable_timeouts())[t.substr(0, eq)] = *seconds;
  }
  if (request.limit() == 0 && request.timeouts().empty())
    return usage_error("conntrack set", "nothing to set: give --limit and/or --timeout");
  vswitch::v1::Conntrack ct;
  const grpc::Status rpc = context.client.call(&Stub::SetConntrack, request, &ct);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(ct);
  } else {
    print_conntrack(ct);
  }
  return kExitOk;
}

int run_conntrack_show(Context& context, const Args&) {
  vswitch::v1::Conntrack ct;
  const grpc::Status rpc = context.client.call(&Stub::GetConntrack, {}, &ct);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(ct);
  } else {
    print_conntrack(ct);
  }
  return kExitOk;
}

}  // namespace

const ObjectSpec& acl_object() {
  static const ObjectSpec kObject{
      .name = "acl",
      .summary =
          "Stateful ACLs: per port and direction, rules (highest priority wins; equal\n"
          "priorities: the lower id) and a default action for what no rule matches.\n"
          "to-port is what the switch sends towards the port's guest, from-port what it\n"
          "receives from it (OVN's to-lport / from-lport). permit-stateful tracks the\n"
          "connection: its replies pass whatever the other direction says. A port's ACL is\n"
          "deleted with the port.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"PORT"}},
                  .options =
                      {
                          {"--dir", "DIR", "to-port or from-port (required)"},
                          {"--priority", "N", "0-65535, larger wins (required)"},
                          {"--action", "ACTION", "permit, deny or permit-stateful (required)"},
                          {"--src", "CIDR", "source prefix, IPv4 or IPv6 (default any)"},
                          {"--dst", "CIDR", "destination prefix (default any)"},
                          {"--proto", "PROTO", "tcp, udp, icmp, icmpv6, sctp or 0-255"},
                          {"--sport", "LO[-HI]", "source port or range (tcp, udp, sctp)"},
                          {"--dport", "LO[-HI]", "destination port or range (tcp, udp, sctp)"},
                          {"--icmp-type", "N", "ICMP or ICMPv6 type, 0-255"},
                      },
                  .usage = "PORT --dir to-port|from-port --priority N --action "
                           "permit|deny|permit-stateful [--src CIDR] [--dst CIDR] [--proto "
                           "P] [--sport LO[-HI]] [--dport LO[-HI]] [--icmp-type N]",
                  .summary = "add an ACL rule to a port; prints its ID",
                  .details =
                      "Prints the new rule's ID (unique across ports, never reused) alone on\n"
                      "stdout. A prefix pins the rule to its family; with neither prefix nor\n"
                      "icmp/icmpv6 it applies to IPv4 and IPv6. Prefixes must have no host\n"
                      "bits set (10.0.0.0/8, not 10.0.0.1/8). An identical rule on the same\n"
                      "port and direction is ALREADY_EXISTS.\n"
                      "\n"
                      "With --json: the stored vswitch.v1.AclRule.\n",
                  .run = run_acl_add,
              },
              {
                  .name = "del",
                  .args = {{"PORT"}, {"ID"}},
                  .usage = "PORT ID",
                  .summary = "delete an ACL rule by its ID",
                  .details = "With --json: {}.\n",
                  .run = run_acl_del,
              },
              {
                  .name = "list",
                  .args = {{"PORT", true}},
                  .usage = "[PORT]",
                  .summary = "list ACL rules and defaults with their hit counters",
                  .details =
                      "One row per rule in evaluation order, then the direction's default\n"
                      "(ID '-', MATCH '(default)'). HITS are the packets a rule decided (for\n"
                      "permit-stateful: the connections it opened), read from the dataplane.\n"
                      "With PORT: both directions, even without rules; without: every port\n"
                      "and direction with rules or a deny default.\n"
                      "\n"
                      "With --json: vswitch.v1.ListAclsResponse.\n",
                  .run = run_acl_list,
              },
              {
                  .name = "default",
                  .args = {{"PORT"}, {"ACTION"}},
                  .options = {{"--dir", "DIR", "to-port or from-port (required)"}},
                  .usage = "PORT --dir to-port|from-port permit|deny",
                  .summary = "set what no rule of a port and direction matches (permit at first)",
                  .details = "With --json: vswitch.v1.PortAcl.\n",
                  .run = run_acl_default,
              },
          },
  };
  return kObject;
}

const ObjectSpec& conn_object() {
  static const ObjectSpec kObject{
      .name = "conn",
      .summary =
          "Connections tracked by the ports' permit-stateful rules, read from the\n"
          "dataplane (UNAVAILABLE while it is disconnected). Settings and counters:\n"
          "'vswctl conntrack'.",
      .verbs =
          {
              {
                  .name = "list",
                  .args = {{"PORT", true}},
                  .options = {{"--max", "N", "list at most N (default 1000)"}},
                  .usage = "[PORT] [--max N]",
                  .summary = "list connections: tuple, state, age, timeout left",
                  .details = "SRC is the opener. AGE is since the last packet; TIMEOUT is what\n"
                             "is left of the state's timeout.\n"
                             "\n"
                             "With --json: vswitch.v1.ListConnectionsResponse.\n",
                  .run = run_conn_list,
              },
              {
                  .name = "flush",
                  .args = {{"PORT", true}},
                  .usage = "[PORT]",
                  .summary = "forget tracked connections, of one port or all",
                  .details = "Replies of flushed connections are then judged by the rules as\n"
                             "new packets.\n"
                             "\n"
                             "With --json: vswitch.v1.FlushConnectionsResponse.\n",
                  .run = run_conn_flush,
              },
          },
  };
  return kObject;
}

const ObjectSpec& conntrack_object() {
  static const ObjectSpec kObject{
      .name = "conntrack",
      .summary =
          "Connection tracking settings (stored and replayed) and counters (read from\n"
          "the dataplane). The connections themselves: 'vswctl conn'.",
      .verbs =
          {
              {
                  .name = "set",
                  .options =
                      {
                          {"--limit", "N", "connections in all, at most the capacity"},
                          {"--timeout", "NAME=SEC",
                           "a state's timeout: syn_sent, syn_recv, established, fin_wait, "
                           "close_wait, last_ack, time_wait, close, udp_unreplied, "
                           "udp_replied, icmp",
                           true},
                      },
                  .usage = "[--limit N] [--timeout NAME=SEC ...]",
                  .summary = "set the connection limit and/or timeouts",
                  .details = "Settings not given keep their value. New connections past the\n"
                             "limit are dropped (a port's drop reason ct_limit); existing ones\n"
                             "are not affected.\n"
                             "\n"
                             "With --json: vswitch.v1.Conntrack.\n",
                  .run = run_conntrack_set,
              },
              {
                  .name = "show",
                  .usage = "",
                  .summary = "conntrack settings and counters (connections, drops, timeouts)",
                  .details = "With --json: vswitch.v1.Conntrack.\n",
                  .run = run_conntrack_show,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
