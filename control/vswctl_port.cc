// vswctl port add|del|list|show|set.
//
// Spec fields go to controld as typed: controld validates them and names the field in its
// INVALID_ARGUMENT, so vswctl checks only what it must to build the request (--queues is a
// uint32 on the wire).
#include <charconv>
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

using vswitch::v1::Port;

// What a port is attached through, for the one-line confirmation of 'port add'.
std::string port_summary(const vswitch::v1::PortSpec& spec) {
  std::string summary = spec.type();
  if (spec.type() == "vhost-user" && !spec.mode().empty() && spec.mode() != "server") {
    summary += " " + spec.mode();
  }
  if (!spec.socket().empty()) summary += ", socket " + spec.socket();
  if (!spec.iface().empty()) summary += ", iface " + spec.iface();
  if (!spec.devargs().empty()) summary += ", devargs " + spec.devargs();
  if (spec.queues() > 1) summary += ", " + std::to_string(spec.queues()) + " queues";
  if (!spec.mac().empty()) summary += ", mac " + spec.mac();
  return summary;
}

// ", pending: ..." when controld stored the port but has no dataplane to program it yet.
std::string pending_suffix(const vswitch::v1::Port& port) {
  if (port.state().error().empty() && !port.state().programmed())
    return ", pending: programmed once the dataplane is connected";
  return {};
}

void warn_if_refused(const vswitch::v1::Port& port) {
  if (port.state().error().empty()) return;
  print_error("warning: port " + port.spec().name() + " is stored but the dataplane refused it: " +
              port.state().error() + " (retried when the dataplane reconnects)");
}

int run_port_add(Context& context, const Args& args) {
  vswitch::v1::AddPortRequest request;
  auto* spec = request.mutable_port();
  spec->set_name(args.positional[0]);
  spec->set_type(args.get("--type"));
  spec->set_mode(args.get("--mode"));
  spec->set_socket(args.get("--socket"));
  spec->set_mac(args.get("--mac"));
  spec->set_iface(args.get("--iface"));
  spec->set_devargs(args.get("--devargs"));
  if (args.has("--queues")) {
    const std::string text = args.get("--queues");
    uint32_t queues = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), queues);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return usage_error("port add", "--queues: '" + text + "' is not a number");
    }
    spec->set_queues(queues);
  }
  if (args.has("--mac-limit")) {
    uint32_t limit = 0;
    int status = kExitOk;
    if (!number_option(args, "port add", "--mac-limit", &limit, &status)) return status;
    spec->set_mac_limit(limit);
  }
  for (const std::string& m : args.all("--allowed-mac")) spec->add_allowed_macs(m);
  for (const std::string& ip : args.all("--allowed-ip")) spec->add_allowed_ips(ip);

  Port port;
  const grpc::Status rpc = context.client.call(&Stub::AddPort, request, &port);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(port);
  } else {
    std::string line = "port " + port.spec().name() + " added (" + port_summary(port.spec()) + ")";
    std::printf("%s\n", (line + pending_suffix(port)).c_str());
  }
  warn_if_refused(port);
  return kExitOk;
}

int run_port_del(Context& context, const Args& args) {
  vswitch::v1::DeletePortRequest request;
  request.set_name(args.positional[0]);
  vswitch::v1::DeletePortResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeletePort, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("port %s deleted\n", request.name().c_str());
  }
  return kExitOk;
}

// The MAC the port has on the dataplane, else the one asked for.
std::string port_mac(const Port& port) {
  return or_dash(port.state().mac().empty() ? port.spec().mac() : port.state().mac());
}

// Link state is only known for a port the dataplane has.
std::string port_link(const Port& port) {
  if (!port.state().programmed()) return "-";
  return port.state().link_up() ? "up" : "down";
}

int run_port_list(Context& context, const Args&) {
  vswitch::v1::ListPortsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListPorts, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"NAME"},
               {"TYPE"},
               {"STATE"},
               {"LINK"},
               {"MAC"},
               {"RX_PKTS", Align::kRight},
               {"TX_PKTS", Align::kRight},
               {"DROPS", Align::kRight},
               {"XCONNECT"}});
  for (const auto& port : response.ports()) {
    const auto& counters = port.state().counters();
    table.add_row({port.spec().name(), port.spec().type(), std::string(port_state_name(port)),
                   port_link(port), port_mac(port), std::to_string(counters.rx_packets()),
                   std::to_string(counters.tx_packets()), std::to_string(total_drops(counters)),
                   or_dash(port.state().xconnect_peer())});
  }
  table.print();
  return kExitOk;
}

std::string join_list(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// "off", or "macs 02:..:01 ips 10.0.0.5/32" (a list not given: any).
std::string security_text(const vswitch::v1::PortSpec& spec) {
  if (spec.allowed_macs().empty() && spec.allowed_ips().empty()) return "off";
  return "macs " +
         (spec.allowed_macs().empty() ? std::string("any") : join_list(spec.allowed_macs())) +
         ", ips " +
         (spec.allowed_ips().empty() ? std::string("any") : join_list(spec.allowed_ips()));
}

std::string mac_limit_text(uint32_t limit) {
  return limit ? std::to_string(limit) : std::string("none");
}

void print_port(const Port& port) {
  const auto& spec = port.spec();
  const auto& state = port.state();
  const auto& counters = state.counters();
  KeyValues kv;
  kv.add("name", spec.name());
  kv.add("type", or_dash(spec.type()));
  kv.add("mode", or_dash(spec.mode()));
  kv.add("socket", or_dash(spec.socket()));
  kv.add("queues", spec.queues() == 0 ? "1" : std::to_string(spec.queues()));
  kv.add("iface", or_dash(spec.iface()));
  kv.add("mac", port_mac(port));
  if (!spec.mac().empty() && !state.mac().empty() && spec.mac() != state.mac()) {
    kv.add("requested mac", spec.mac());
  }
  kv.add("devargs", or_dash(state.devargs().empty() ? spec.devargs() : state.devargs()));
  kv.add("state", std::string(port_state_name(port)));
  kv.add("error", or_dash(state.error()));
  kv.add("port id", state.programmed() ? std::to_string(state.port_id()) : "-");
  kv.add("link", port_link(port));
  kv.add("xconnect", or_dash(state.xconnect_peer()));
  kv.add("rx packets", std::to_string(counters.rx_packets()));
  kv.add("rx bytes", std::to_string(counters.rx_bytes()));
  kv.add("tx packets", std::to_string(counters.tx_packets()));
  kv.add("tx bytes", std::to_string(counters.tx_bytes()));
  kv.add("flooded", std::to_string(counters.flooded()));
  kv.add("drops", std::to_string(total_drops(counters)));
  for (const auto& [reason, count] : drop_reasons(counters)) {
    kv.add("  " + reason, std::to_string(count));
  }
  kv.add("macs", std::to_string(state.macs()));
  kv.add("mac limit", mac_limit_text(spec.mac_limit()));
  if (state.programmed() && state.mac_limit() != spec.mac_limit()) {
    kv.add("  in the dataplane", mac_limit_text(state.mac_limit()));
  }
  kv.add("learn limit drops", std::to_string(state.learn_limit_drops()));
  kv.add("port security", security_text(spec));
  kv.print();
}

int run_port_show(Context& context, const Args& args) {
  vswitch::v1::GetPortRequest request;
  request.set_name(args.positional[0]);
  Port port;
  const grpc::Status rpc = context.client.call(&Stub::GetPort, request, &port);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(port);
  } else {
    print_port(port);
  }
  return kExitOk;
}

int run_port_set(Context& context, const Args& args) {
  const bool security = args.has("--allowed-mac") || args.has("--allowed-ip");
  const bool off = args.has("--no-port-security");
  if (!args.has("--mac-limit") && !security && !off)
    return usage_error("port set",
                       "nothing to set: give --mac-limit, --allowed-mac, --allowed-ip or "
                       "--no-port-security");
  if (off && security)
    return usage_error("port set", "--no-port-security goes without --allowed-mac/--allowed-ip");
  vswitch::v1::SetPortRequest request;
  request.set_name(args.positional[0]);
  uint32_t limit = 0;
  if (args.has("--mac-limit")) {
    int status = kExitOk;
    if (!number_option(args, "port set", "--mac-limit", &limit, &status)) return status;
    request.set_set_mac_limit(true);
    request.set_mac_limit(limit);
  }
  if (security) {
    // A list not given keeps the port's current one: read it first.
    vswitch::v1::GetPortRequest get;
    get.set_name(args.positional[0]);
    Port current;
    if (const grpc::Status rpc = context.client.call(&Stub::GetPort, get, &current); !rpc.ok())
      return report_failure(context, rpc);
    request.set_set_port_security(true);
    if (args.has("--allowed-mac")) {
      for (const std::string& m : args.all("--allowed-mac")) request.add_allowed_macs(m);
    } else {
      *request.mutable_allowed_macs() = current.spec().allowed_macs();
    }
    if (args.has("--allowed-ip")) {
      for (const std::string& ip : args.all("--allowed-ip")) request.add_allowed_ips(ip);
    } else {
      *request.mutable_allowed_ips() = current.spec().allowed_ips();
    }
  }
  if (off) request.set_set_port_security(true);
  Port port;
  const grpc::Status rpc = context.client.call(&Stub::SetPort, request, &port);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(port);
  } else {
    std::string line = "port " + port.spec().name() + " set (mac limit " +
                       mac_limit_text(port.spec().mac_limit()) + ", port security " +
                       security_text(port.spec()) + ")";
    std::printf("%s\n", (line + pending_suffix(port)).c_str());
  }
  warn_if_refused(port);
  return kExitOk;
}

constexpr std::string_view kAddDetails =
    "Stores the port in controld's desired state (on disk before the reply) and adds it to\n"
    "the dataplane. Prints 'port NAME added (TYPE, ...)' with what controld stored, defaults\n"
    "filled in. When the dataplane refuses the port, the port stays stored, the refusal is\n"
    "printed as a warning on stderr, the exit status is still 0, and the port is retried when\n"
    "the dataplane reconnects ('vswctl port show NAME' and 'vswctl status' show the error).\n"
    "\n"
    "Types and the options they use:\n"
    "  vhost-user  [--mode server|client] [--socket PATH] [--queues N] [--mac MAC]\n"
    "              server (default): the dataplane listens on the socket (default\n"
    "              RUN/vhost/NAME.sock); client: the guest listens and the dataplane reconnects\n"
    "  tap         [--iface IFNAME] [--mac MAC]    a kernel tap device (default: NAME)\n"
    "  af-packet   --iface IFNAME                  an existing kernel interface, AF_PACKET\n"
    "  af-xdp      --iface IFNAME                  an existing kernel interface, AF_XDP\n"
    "  dpdk        --devargs DEVARGS               a PCI address or a DPDK vdev\n"
    "  ring, null                                  test ports\n"
    "Values are checked by controld, whose error names the field (INVALID_ARGUMENT: ...).\n"
    "\n"
    "With --json: the stored vswitch.v1.Port.\n";

constexpr std::string_view kListDetails =
    "One line per port: NAME, TYPE, STATE (programmed; pending: stored, not yet on the\n"
    "dataplane; error: the dataplane refused it, see 'port show'), LINK (up, down; - when not\n"
    "on the dataplane), MAC, RX_PKTS, TX_PKTS, DROPS (all reasons), XCONNECT (the peer).\n"
    "\n"
    "With --json: vswitch.v1.ListPortsResponse.\n";

constexpr std::string_view kShowDetails =
    "Prints the port's spec (type, mode, socket, queues, iface, mac, devargs), its state\n"
    "(programmed, pending or error, and the error), its dataplane port id, link, the devargs\n"
    "it was probed with, its cross-connect peer, rx/tx packets and bytes, the frames it\n"
    "flooded in its bridges, its drops, in total and by reason, one per line (unknown_vlan:\n"
    "tagged with a VLAN no attachment of the port claims), the MACs learned on it, its MAC\n"
    "limit (none: no limit), the MACs not learned because of it, and its port security\n"
    "(allowed source MACs and addresses; off: any).\n"
    "\n"
    "With --json: vswitch.v1.Port.\n";

}  // namespace

const ObjectSpec& port_object() {
  static const ObjectSpec kObject{
      .name = "port",
      .summary =
          "Ports: vhost-user sockets, kernel interfaces (tap, af-packet, af-xdp), DPDK\n"
          "devices, and ring/null test ports.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--type", "TYPE",
                           "vhost-user, tap, af-packet, af-xdp, dpdk, ring or null"},
                          {"--mode", "server|client", "vhost-user: who listens (default server)"},
                          {"--socket", "PATH",
                           "vhost-user: the socket (default RUN/vhost/NAME.sock)"},
                          {"--queues", "N", "vhost-user: queue pairs, 1-16 (default 1)"},
                          {"--mac", "MAC", "tap, vhost-user: the MAC, 02:00:00:00:00:01"},
                          {"--iface", "IFNAME",
                           "tap (default NAME), af-packet, af-xdp: the kernel interface"},
                          {"--devargs", "DEVARGS", "dpdk: a PCI address or a vdev"},
                          {"--mac-limit", "N",
                           "the most MACs learned on the port, 0-65536 (default 0: none)"},
                          {"--allowed-mac", "MAC",
                           "port security: a source MAC the guest may use (repeat)", true},
                          {"--allowed-ip", "CIDR",
                           "port security: a source address or prefix the guest may use "
                           "(repeat)",
                           true},
                      },
                  .usage = "NAME --type TYPE [OPTIONS]",
                  .summary = "add a port",
                  .details = kAddDetails,
                  .run = run_port_add,
              },
              {
                  .name = "del",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "delete a port",
                  .details = "Fails with FAILED_PRECONDITION while a cross-connect uses it or\n"
                             "it is attached to a bridge.\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_port_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list ports: state, link, MAC, packets, drops, peer",
                  .details = kListDetails,
                  .run = run_port_list,
              },
              {
                  .name = "show",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "one port: spec, state, link, counters, drops by reason",
                  .details = kShowDetails,
                  .run = run_port_show,
              },
              {
                  .name = "set",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--mac-limit", "N",
                           "the most MACs learned on the port at once, 0-65536 (0: none)"},
                          {"--allowed-mac", "MAC",
                           "port security: a source MAC the guest may use (repeat; replaces "
                           "the list)",
                           true},
                          {"--allowed-ip", "CIDR",
                           "port security: a source address or prefix the guest may use "
                           "(repeat; replaces the list)",
                           true},
                          {"--no-port-security", "", "allow any source again"},
                      },
                  .usage = "NAME [--mac-limit N] [--allowed-mac MAC ...] [--allowed-ip CIDR ...] "
                           "[--no-port-security]",
                  .summary = "change a port's MAC learn limit or port security",
                  .details = "The limit counts the MACs on the port in all its bridges, static\n"
                             "ones included; past it, new source MACs are not learned (counted\n"
                             "as learn limit drops in 'vswctl port show') and the replies to\n"
                             "them are flooded. Stored with the port and replayed; the port is\n"
                             "not re-created and traffic is not interrupted.\n"
                             "\n"
                             "Port security: with allowed MACs, frames (and ARP senders) from\n"
                             "any other source MAC are dropped; with allowed addresses (either\n"
                             "family restricts both), IPv4/IPv6 sources, ARP sender addresses\n"
                             "and neighbor advertisement targets outside them are dropped, so a\n"
                             "guest cannot impersonate another. Exempt: 0.0.0.0 (DHCP, ARP\n"
                             "probes), :: (duplicate address detection) and fe80::/10. Drops\n"
                             "show as 'port_security' in 'vswctl port show'. At most 16 of\n"
                             "each. A list not given keeps its current value.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.Port.\n",
                  .run = run_port_set,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
