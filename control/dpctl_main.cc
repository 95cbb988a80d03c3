// vsw-dpctl: talks to the dataplane socket directly, for tests and debugging (as ovs-appctl
// does for ovs-vswitchd). Operators use vswctl, which goes through vsw-controld.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dataplane_client.h"
#include "dpctl_acl.h"
#include "port_types.h"

namespace {

using vswitch::dp::Request;
using vswitch::dp::Response;

constexpr const char* kUsage =
    "usage: vsw-dpctl [--run-dir DIR | --socket PATH] [--json] COMMAND\n"
    "Talks to vsw-dataplane's socket directly (DIR/dataplane.sock; VSW_RUN_DIR, else "
    "/run/vswitch).\n"
    "Commands:\n"
    "  status\n"
    "  port add NAME --type vhost-user|tap|af-packet|af-xdp|dpdk|ring|null\n"
    "           [--iface IFNAME] [--socket PATH] [--mode server|client] [--queues N]\n"
    "           [--devargs DEVARGS] [--mac MAC]\n"
    "  port del NAME | port list | port show NAME\n"
    "  xconnect add PORT_A PORT_B | xconnect del PORT | xconnect list\n"
    "  port set NAME --mac-limit N\n"
    "  bridge add NAME [--aging S] [--mac-limit N] | bridge set NAME [--aging S] [--mac-limit N]\n"
    "  bridge del NAME | bridge list | bridge attach BR PORT [--vlan ID] | bridge detach BR PORT\n"
    "  mac add BR MAC PORT | mac del BR MAC | mac flush [BR] | mac list [BR]\n"
    "  flow list [MAX] | flow stats\n"
    "  router-if add NAME --bridge BR --ip CIDR [--ip CIDR ...] [--mac MAC]\n"
    "  router-if del NAME | router-if list\n"
    "  route add|replace PREFIX (--via IP | --dev RIF) [--via IP ...]   (several: ECMP)\n"
    "  route del PREFIX | route list\n"
    "  route load FILE   (lines 'PREFIX VIA[,VIA...]' or 'del PREFIX', sent in batches)\n"
    "  route lookup ADDR [--src IP] [--proto N] [--sport N] [--dport N]\n"
    "  neigh list | router stats\n"
    "  acl set PORT --dir to-port|from-port [--default permit|deny] [--rule RULE ...]\n"
    "      RULE: 'id=N,priority=N,action=permit|deny|permit-stateful[,src=CIDR][,dst=CIDR]\n"
    "             [,proto=tcp|udp|icmp|icmpv6|sctp|N][,sport=P[-P]][,dport=P[-P]][,icmp-type=N]'\n"
    "      (replaces the port's whole list for that direction; no rule and a permit default\n"
    "      removes it)\n"
    "  acl list [PORT] | conn list [PORT [--max N]] | conn flush [PORT]\n"
    "  ct set [--limit N] [--timeout NAME=SECONDS ...] | ct stats\n"
    "      timeout names: syn_sent syn_recv established fin_wait close_wait last_ack\n"
    "      time_wait close udp_unreplied udp_replied icmp\n"
    "  stats\n";

[[noreturn]] void die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "vsw-dpctl: %s\n", message.c_str());
  std::exit(code);
}

Request port_add_request(const std::vector<std::string>& args) {
  if (args.size() < 3) die("port add: NAME is required");
  Request req;
  auto* port = req.mutable_port_add()->mutable_port();
  port->set_name(args[2]);
  for (std::size_t i = 3; i < args.size(); i += 2) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) die("port add: " + flag + " needs a value");
    const std::string& value = args[i + 1];
    if (flag == "--type") {
      const vswitch::dp::PortType type = vsw::fields::port_type_from_name(value);
      if (type == vswitch::dp::PORT_TYPE_UNSPECIFIED)
        die("port add: --type: '" + value + "' is not a port type (one of " +
            vsw::fields::port_type_names() + ")");
      port->set_type(type);
    } else if (flag == "--iface") {
      port->set_iface(value);
    } else if (flag == "--socket") {
      port->set_socket(value);
    } else if (flag == "--mode") {
      if (value == "server")
        port->set_mode(vswitch::dp::VHOST_MODE_SERVER);
      else if (value == "client")
        port->set_mode(vswitch::dp::VHOST_MODE_CLIENT);
      else
        die("port add: --mode: '" + value + "' is neither server nor client");
    } else if (flag == "--queues") {
      char* end = nullptr;
      const unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (*end != '\0' || value.empty()) die("port add: --queues: '" + value + "' is not a number");
      port->set_queues(static_cast<uint32_t>(n));
    } else if (flag == "--devargs") {
      port->set_devargs(value);
    } else if (flag == "--mac") {
      port->set_mac(value);
    } else {
      die("port add: unknown option " + flag);
    }
  }
  if (port->type() == vswitch::dp::PORT_TYPE_UNSPECIFIED) die("port add: --type is required");
  return req;
}

uint32_t number(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const unsigned long n = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') die(flag + ": '" + value + "' is not a number", 2);
  return static_cast<uint32_t>(n);
}

// "--flag value" pairs after the positional arguments.
std::map<std::string, uint32_t> numeric_flags(const std::vector<std::string>& args,
                                              std::size_t from) {
  std::map<std::string, uint32_t> out;
  for (std::size_t i = from; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) die(args[i] + " needs a value", 2);
    out[args[i]] = number(args[i], args[i + 1]);
  }
  return out;
}

bool build_l2_request(const std::vector<std::string>& args, Request& req) {
  const std::string object = args[0];
  const std::string verb = args.size() > 1 ? args[1] : "";
  const std::string a2 = args.size() > 2 ? args[2] : "";
  const std::string a3 = args.size() > 3 ? args[3] : "";
  if (object == "port" && verb == "set") {
    auto flags = numeric_flags(args, 3);
    req.mutable_port_set()->set_name(a2);
    if (flags.count("--mac-limit")) {
      req.mutable_port_set()->set_set_mac_limit(true);
      req.mutable_port_set()->set_mac_limit(flags["--mac-limit"]);
    }
  } else if (object == "bridge" && (verb == "add" || verb == "set")) {
    auto flags = numeric_flags(args, 3);
    auto* b = verb == "add" ? req.mutable_bridge_add()->mutable_bridge()
                            : req.mutable_bridge_set()->mutable_bridge();
    b->set_name(a2);
    b->set_aging_seconds(flags["--aging"]);
    b->set_mac_limit(flags["--mac-limit"]);
  } else if (object == "bridge" && verb == "del") {
    req.mutable_bridge_del()->set_name(a2);
  } else if (object == "bridge" && verb == "list") {
    req.mutable_bridge_list();
  } else if (object == "bridge" && verb == "attach") {
    auto flags = numeric_flags(args, 4);
    req.mutable_bridge_attach()->set_bridge(a2);
    req.mutable_bridge_attach()->set_port(a3);
    req.mutable_bridge_attach()->set_vlan(flags["--vlan"]);
  } else if (object == "bridge" && verb == "detach") {
    req.mutable_bridge_detach()->set_bridge(a2);
    req.mutable_bridge_detach()->set_port(a3);
  } else if (object == "mac" && verb == "add") {
    if (args.size() != 5) die("mac add: expected BR MAC PORT", 2);
    req.mutable_mac_add()->set_bridge(a2);
    req.mutable_mac_add()->set_mac(a3);
    req.mutable_mac_add()->set_port(args[4]);
  } else if (object == "mac" && verb == "del") {
    req.mutable_mac_del()->set_bridge(a2);
    req.mutable_mac_del()->set_mac(a3);
  } else if (object == "mac" && verb == "flush") {
    req.mutable_mac_flush()->set_bridge(a2);
  } else if (object == "mac" && verb == "list") {
    req.mutable_mac_list()->set_bridge(a2);
  } else if (object == "flow" && verb == "list") {
    req.mutable_flow_list()->set_max(a2.empty() ? 0 : number("MAX", a2));
  } else if (object == "flow" && verb == "stats") {
    req.mutable_flow_stats();
  } else {
    return false;
  }
  return true;
}

// router-if, route, neigh, router.
bool build_router_request(const std::vector<std::string>& args, Request& req) {
  const std::string object = args[0];
  const std::string verb = args.size() > 1 ? args[1] : "";
  const std::string a2 = args.size() > 2 ? args[2] : "";
  auto flag_pairs = [&](std::size_t from, auto&& on) {
    for (std::size_t i = from; i < args.size(); i += 2) {
      if (i + 1 >= args.size()) die(args[i] + " needs a value", 2);
      on(args[i], args[i + 1]);
    }
  };
  if (object == "router-if" && verb == "add") {
    auto* r = req.mutable_router_if_add()->mutable_router_if();
    r->set_name(a2);
    flag_pairs(3, [&](const std::string& f, const std::string& v) {
      if (f == "--bridge") {
        r->set_bridge(v);
      } else if (f == "--ip") {
        r->add_addresses(v);
      } else if (f == "--mac") {
        r->set_mac(v);
      } else {
        die("router-if add: unknown option " + f, 2);
      }
    });
  } else if (object == "router-if" && verb == "del") {
    req.mutable_router_if_del()->set_name(a2);
  } else if (object == "router-if" && verb == "list") {
    req.mutable_router_if_list();
  } else if (object == "route" && (verb == "add" || verb == "replace")) {
    auto* add = req.mutable_route_add();
    add->set_replace(verb == "replace");
    add->mutable_route()->set_prefix(a2);
    flag_pairs(3, [&](const std::string& f, const std::string& v) {
      if (f == "--via") {
        add->mutable_route()->add_next_hops()->set_via(v);
      } else if (f == "--dev") {
        add->mutable_route()->add_next_hops()->set_router_if(v);
      } else {
        die("route " + verb + ": unknown option " + f, 2);
      }
    });
  } else if (object == "route" && verb == "del") {
    req.mutable_route_del()->set_prefix(a2);
  } else if (object == "route" && verb == "list") {
    req.mutable_route_list();
  } else if (object == "route" && verb == "lookup") {
    auto* l = req.mutable_route_lookup();
    l->set_address(a2);
    flag_pairs(3, [&](const std::string& f, const std::string& v) {
      if (f == "--src") {
        l->set_src(v);
      } else if (f == "--proto") {
        l->set_protocol(number(f, v));
      } else if (f == "--sport") {
        l->set_src_port(number(f, v));
      } else if (f == "--dport") {
        l->set_dst_port(number(f, v));
      } else {
        die("route lookup: unknown option " + f, 2);
      }
    });
  } else if (object == "neigh" && verb == "list") {
    req.mutable_neighbor_list();
  } else if (object == "router" && verb == "stats") {
    req.mutable_router_stats();
  } else {
    return false;
  }
  return true;
}

// route load FILE: batches of kLoadBatch routes per request (a batch of 10,000 is ~0.5 MB,
// far under the frame limit, and one grace period per batch instead of per route).
constexpr std::size_t kLoadBatch = 10000;

int route_load(vsw::proto::DataplaneClient& client, const std::string& path, bool json) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) die("route load: cannot open " + path);
  Request req;
  uint64_t total = 0;
  auto flush = [&] {
    if (req.route_batch().add_size() == 0 && req.route_batch().del_size() == 0) return;
    vsw::proto::CallResult result = client.call(req);
    if (!result.ok()) die(result.transport_error);
    if (result.response.has_error()) die(vsw::proto::describe(result.response.error()));
    total += result.response.route_batch().applied();
    req.Clear();
  };
  char line[4096];
  while (std::fgets(line, sizeof(line), f)) {
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty() || text[0] == '#') continue;
    const auto space = text.find(' ');
    if (space == std::string::npos) die("route load: '" + text + "': expected PREFIX VIA[,VIA]");
    if (text.compare(0, space, "del") == 0) {
      req.mutable_route_batch()->add_del(text.substr(space + 1));
    } else {
      auto* add = req.mutable_route_batch()->add_add();
      add->set_replace(true);
      add->mutable_route()->set_prefix(text.substr(0, space));
      std::string vias = text.substr(space + 1);
      for (std::size_t start = 0; start <= vias.size();) {
        const auto comma = vias.find(',', start);
        const std::string via = vias.substr(start, comma - start);
        if (!via.empty()) add->mutable_route()->add_next_hops()->set_via(via);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (static_cast<std::size_t>(req.route_batch().add_size() + req.route_batch().del_size()) >=
        kLoadBatch)
      flush();
  }
  std::fclose(f);
  flush();
  if (json) {
    std::printf("{\"applied\": %lu}\n", total);
  } else {
    std::printf("%lu route changes applied\n", total);
  }
  return 0;
}

Request build_request(const std::vector<std::string>& args) {
  Request req;
  const std::string object = args.empty() ? "" : args[0];
  const std::string verb = args.size() > 1 ? args[1] : "";
  auto need = [&](std::size_t n, const char* what) {
    if (args.size() != n) die(object + " " + verb + ": expected " + what);
  };
  if (object == "status") {
    req.mutable_status();
  } else if (object == "stats") {
    req.mutable_stats();
  } else if (object == "port" && verb == "add") {
    req = port_add_request(args);
  } else if (object == "port" && verb == "del") {
    need(3, "NAME");
    req.mutable_port_del()->set_name(args[2]);
  } else if (object == "port" && (verb == "list" || verb == "show")) {
    req.mutable_port_list();
  } else if (object == "xconnect" && verb == "add") {
    need(4, "PORT_A PORT_B");
    req.mutable_xconnect_add()->set_port_a(args[2]);
    req.mutable_xconnect_add()->set_port_b(args[3]);
  } else if (object == "xconnect" && verb == "del") {
    need(3, "PORT");
    req.mutable_xconnect_del()->set_port(args[2]);
  } else if (object == "xconnect" && verb == "list") {
    req.mutable_xconnect_list();
  } else if (!object.empty() && build_l2_request(args, req)) {
    // bridge, mac, flow, port set
  } else if (!object.empty() && build_router_request(args, req)) {
    // router-if, route, neigh, router
  } else if (!object.empty() && vsw::dpctl::build_acl_request(args, req)) {
    // acl, conn, ct
  } else {
    std::fputs(kUsage, stderr);
    die("unknown command '" + object + (verb.empty() ? "" : " " + verb) + "'", 2);
  }
  return req;
}

void print_ports(const google::protobuf::RepeatedPtrField<vswitch::dp::PortStatus>& ports) {
  std::printf("%-16s %-5s %-5s %-17s %12s %14s %12s %14s %10s %10s %10s %10s %10s  %s\n", "NAME",
              "ID", "LINK", "MAC", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "NO_MBUFS",
              "TX_FULL", "MALFORMED", "NO_DEST", "ACL_DROPS", "XCONNECT");
  for (const auto& p : ports) {
    const auto& d = p.drops();
    const uint64_t acl =
        d.acl_deny() + d.ct_invalid() + d.ct_revoked() + d.ct_limit() + d.ct_full();
    std::printf("%-16s %-5u %-5s %-17s %12lu %14lu %12lu %14lu %10lu %10lu %10lu %10lu %10lu  %s\n",
                p.config().name().c_str(), p.port_id(), p.link_up() ? "up" : "down",
                p.mac().c_str(), p.rx_packets(), p.rx_bytes(), p.tx_packets(), p.tx_bytes(),
                d.no_mbufs(), d.tx_full(), d.malformed(), d.no_destination(), acl,
                p.xconnect_peer().c_str());
  }
  // The ACL drops by reason, for the ports that have any.
  for (const auto& p : ports) {
    const auto& d = p.drops();
    if (d.acl_deny() + d.ct_invalid() + d.ct_revoked() + d.ct_limit() + d.ct_full() == 0) continue;
    std::printf("  %s: acl_deny %lu, ct_invalid %lu, ct_revoked %lu, ct_limit %lu, ct_full %lu\n",
                p.config().name().c_str(), d.acl_deny(), d.ct_invalid(), d.ct_revoked(),
                d.ct_limit(), d.ct_full());
  }
}

void print_human(const Response& r, const std::vector<std::string>& args) {
  switch (r.body_case()) {
    case Response::kStatus:
      std::printf(
          "version %s, pid %u, memory %s, %u worker(s), up %lu ms, mbufs %lu of %lu in use\n",
          r.status().version().c_str(), r.status().pid(), r.status().memory_mode().c_str(),
          r.status().workers(), r.status().uptime_ms(), r.status().mbufs_in_use(),
          r.status().mbufs_total());
      break;
    case Response::kPort:
      std::printf("port %s: port id %u, devargs %s\n", r.port().config().name().c_str(),
                  r.port().port_id(), r.port().devargs().c_str());
      break;
    case Response::kPorts:
      print_ports(r.ports().ports());
      break;
    case Response::kXconnects:
      for (const auto& x : r.xconnects().xconnects())
        std::printf("%s <-> %s\n", x.port_a().c_str(), x.port_b().c_str());
      break;
    case Response::kStats: {
      print_ports(r.stats().ports());
      std::printf("\n%-7s %-6s %14s %14s %14s %16s %12s  %s\n", "WORKER", "LCORE", "LOOPS",
                  "BUSY_LOOPS", "PACKETS", "BUSY_CYCLES", "CYC/PKT", "RX QUEUES");
      for (const auto& w : r.stats().workers()) {
        std::string queues;
        for (const auto& q : w.rx_queues()) queues += (queues.empty() ? "" : " ") + q;
        const double cpp = w.packets() ? double(w.busy_cycles()) / double(w.packets()) : 0.0;
        std::printf("%-7u %-6u %14lu %14lu %14lu %16lu %12.1f  %s\n", w.worker(), w.lcore(),
                    w.loops(), w.busy_loops(), w.packets(), w.busy_cycles(), cpp, queues.c_str());
      }
      break;
    }
    case Response::kRoutes:
      for (const auto& route : r.routes().routes()) {
        std::string hops;
        for (const auto& h : route.next_hops())
          hops += " " + (h.via().empty() ? "dev " + h.router_if() : "via " + h.via());
        std::printf("%s%s%s\n", route.prefix().c_str(), hops.c_str(),
                    route.connected() ? " (connected)" : "");
      }
      break;
    case Response::kRouteLookup: {
      const auto& l = r.route_lookup();
      if (!l.found()) {
        std::printf("no route\n");
        break;
      }
      std::printf("%s", l.prefix().c_str());
      for (int i = 0; i < l.next_hops_size(); ++i) {
        const auto& h = l.next_hops(i);
        std::printf(" %s%s", (h.via().empty() ? "dev " + h.router_if() : "via " + h.via()).c_str(),
                    i == l.chosen() && l.next_hops_size() > 1 ? "*" : "");
      }
      std::printf("\n");
      break;
    }
    case Response::kNeighbors:
      std::printf("%-12s %-40s %-17s %-10s %10s %7s\n", "ROUTER_IF", "IP", "MAC", "STATE", "AGE_MS",
                  "PENDING");
      for (const auto& n : r.neighbors().neighbors())
        std::printf("%-12s %-40s %-17s %-10s %10u %7u\n", n.router_if().c_str(), n.ip().c_str(),
                    n.mac().c_str(), n.state().c_str(), n.age_ms(), n.pending());
      break;
    case Response::kRouterIfs:
    case Response::kRouterStats:
    case Response::kRouteBatch:
    case Response::kBridges:
    case Response::kMacs:
    case Response::kFlows:
    case Response::kFlowStats:
      std::printf("%s", r.DebugString().c_str());
      break;
    default:
      vsw::dpctl::print_acl(r);
      break;
  }
  (void)args;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  const char* env = std::getenv("VSW_RUN_DIR");
  std::string run_dir = env && *env ? env : "/run/vswitch";
  bool json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--run-dir" && i + 1 < argc) {
      run_dir = argv[++i];
    } else if (a == "--socket" && i + 1 < argc && args.empty()) {
      socket = argv[++i];
    } else if (a == "--json" && args.empty()) {
      json = true;
    } else if ((a == "-h" || a == "--help") && args.empty()) {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (socket.empty()) socket = run_dir + "/dataplane.sock";
  const bool load = args.size() >= 2 && args[0] == "route" && args[1] == "load";
  if (load && args.size() != 3) die("route load: expected FILE", 2);
  Request req = load ? Request() : build_request(args);

  vsw::proto::DataplaneClient client;
  if (std::string err = client.connect(socket); !err.empty()) die(err);
  if (load) return route_load(client, args[2], json);
  vsw::proto::CallResult result = client.call(req);
  if (!result.ok()) die(result.transport_error);
  Response& r = result.response;
  if (r.has_error()) die(vsw::proto::describe(r.error()));

  // port show: narrow the listing to one port.
  if (args.size() == 3 && args[0] == "port" && args[1] == "show") {
    const vswitch::dp::PortList all = r.ports();
    r.mutable_ports()->clear_ports();
    for (const auto& p : all.ports()) {
      if (p.config().name() == args[2]) *r.mutable_ports()->add_ports() = p;
    }
    if (r.ports().ports_size() == 0) die("NOT_FOUND: name: no port '" + args[2] + "'");
  }
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    google::protobuf::util::MessageToJsonString(r, &out, options);
    std::printf("%s\n", out.c_str());
  } else {
    print_human(r, args);
  }
  return 0;
}
