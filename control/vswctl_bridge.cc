// vswctl bridge add|del|set|list|show|attach|detach: L2 switching domains and the ports (or
// port VLANs) attached to them.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

using vswitch::v1::Bridge;

// "vm1,vm2.10" for the table, "-" when no port is attached.
std::string bridge_ports(const Bridge& bridge) {
  std::string ports;
  for (const auto& a : bridge.state().attachments()) {
    if (!ports.empty()) ports += ",";
    ports += a.port();
    if (a.vlan()) ports += "." + std::to_string(a.vlan());
  }
  return or_dash(ports);
}

std::string settings(const vswitch::v1::BridgeSpec& spec) {
  return "aging " + std::to_string(spec.aging_seconds()) + " s, mac limit " +
         std::to_string(spec.mac_limit());
}

// The one-line confirmation of add and set, and the refusal warning both share.
int confirm(Context& context, const Bridge& bridge, std::string_view verb) {
  const std::string& name = bridge.spec().name();
  if (context.json) {
    print_json(bridge);
  } else {
    std::string line =
        "bridge " + name + " " + std::string(verb) + " (" + settings(bridge.spec()) + ")";
    if (bridge.state().error().empty() && !bridge.state().programmed()) {
      line += ", pending: programmed once the dataplane is connected";
    }
    std::printf("%s\n", line.c_str());
  }
  if (!bridge.state().error().empty()) {
    print_error("warning: bridge " + name + " is stored but the dataplane refused it: " +
                bridge.state().error() + " (retried when the dataplane reconnects)");
  }
  return kExitOk;
}

// --aging and --mac-limit into the request's fields; false (with *status) on a bad number.
template <typename T>
bool take_settings(const Args& args, std::string_view command, T* target, int* status) {
  uint32_t value = 0;
  if (args.has("--aging")) {
    if (!number_option(args, command, "--aging", &value, status)) return false;
    target->set_aging_seconds(value);
  }
  if (args.has("--mac-limit")) {
    if (!number_option(args, command, "--mac-limit", &value, status)) return false;
    target->set_mac_limit(value);
  }
  return true;
}

int run_bridge_add(Context& context, const Args& args) {
  vswitch::v1::AddBridgeRequest request;
  auto* spec = request.mutable_bridge();
  spec->set_name(args.positional[0]);
  int status = kExitOk;
  if (!take_settings(args, "bridge add", spec, &status)) return status;
  Bridge bridge;
  const grpc::Status rpc = context.client.call(&Stub::AddBridge, request, &bridge);
  if (!rpc.ok()) return report_failure(context, rpc);
  return confirm(context, bridge, "added");
}

int run_bridge_del(Context& context, const Args& args) {
  vswitch::v1::DeleteBridgeRequest request;
  request.set_name(args.positional[0]);
  vswitch::v1::DeleteBridgeResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteBridge, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("bridge %s deleted\n", request.name().c_str());
  }
  return kExitOk;
}

int run_bridge_set(Context& context, const Args& args) {
  if (!args.has("--aging") && !args.has("--mac-limit")) {
    return usage_error("bridge set", "nothing to set: give --aging, --mac-limit or both");
  }
  vswitch::v1::SetBridgeRequest request;
  request.set_name(args.positional[0]);
  int status = kExitOk;
  if (!take_settings(args, "bridge set", &request, &status)) return status;
  Bridge bridge;
  const grpc::Status rpc = context.client.call(&Stub::SetBridge, request, &bridge);
  if (!rpc.ok()) return report_failure(context, rpc);
  return confirm(context, bridge, "set");
}

int run_bridge_list(Context& context, const Args&) {
  vswitch::v1::ListBridgesResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListBridges, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  bool any_error = false;
  for (const auto& bridge : response.bridges()) any_error |= !bridge.state().error().empty();
  using Align = Table::Align;
  std::vector<Table::Column> columns = {{"NAME"},
                                        {"PORTS"},
                                        {"MACS", Align::kRight},
                                        {"AGING", Align::kRight},
                                        {"LIMIT", Align::kRight},
                                        {"STATE"}};
  if (any_error) columns.push_back({"ERROR"});
  Table table(std::move(columns));
  for (const auto& bridge : response.bridges()) {
    const auto& state = bridge.state();
    table.add_row({bridge.spec().name(), bridge_ports(bridge),
                   state.programmed() ? std::to_string(state.macs()) : "-",
                   std::to_string(bridge.spec().aging_seconds()) + "s",
                   std::to_string(bridge.spec().mac_limit()),
                   std::string(object_state_name(state.programmed(), state.error())),
                   or_dash(state.error())});
  }
  table.print();
  return kExitOk;
}

void print_bridge(const Bridge& bridge) {
  const auto& spec = bridge.spec();
  const auto& state = bridge.state();
  KeyValues kv;
  kv.add("name", spec.name());
  kv.add("aging", std::to_string(spec.aging_seconds()) + " s");
  kv.add("mac limit", std::to_string(spec.mac_limit()));
  kv.add("state", std::string(object_state_name(state.programmed(), state.error())));
  kv.add("error", or_dash(state.error()));
  kv.add("macs", std::to_string(state.macs()));
  kv.add("learned", std::to_string(state.learned()));
  kv.add("moves", std::to_string(state.moves()));
  kv.add("aged", std::to_string(state.aged()));
  kv.add("learn limit drops", std::to_string(state.learn_limit_drops()));
  kv.add("ports", state.attachments().empty() ? "none" : std::to_string(state.attachments_size()));
  for (const auto& a : state.attachments()) {
    std::string value = a.vlan() ? "VLAN " + std::to_string(a.vlan()) : "untagged";
    value += ", " + std::string(object_state_name(a.programmed(), a.error()));
    if (!a.error().empty()) value += ": " + a.error();
    kv.add("  " + a.port(), value);
  }
  kv.print();
}

int run_bridge_show(Context& context, const Args& args) {
  vswitch::v1::GetBridgeRequest request;
  request.set_name(args.positional[0]);
  Bridge bridge;
  const grpc::Status rpc = context.client.call(&Stub::GetBridge, request, &bridge);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(bridge);
  } else {
    print_bridge(bridge);
  }
  return kExitOk;
}

int run_bridge_attach(Context& context, const Args& args) {
  vswitch::v1::AttachPortRequest request;
  request.set_bridge(args.positional[0]);
  request.set_port(args.positional[1]);
  if (args.has("--vlan")) {
    uint32_t vlan = 0;
    int status = kExitOk;
    if (!number_option(args, "bridge attach", "--vlan", &vlan, &status)) return status;
    request.set_vlan(vlan);
  }
  vswitch::v1::Attachment attachment;
  const grpc::Status rpc = context.client.call(&Stub::AttachPort, request, &attachment);
  if (!rpc.ok()) return report_failure(context, rpc);
  const std::string what =
      attachment.vlan() ? "VLAN " + std::to_string(attachment.vlan()) : std::string("untagged");
  if (context.json) {
    print_json(attachment);
  } else {
    std::string line = "port " + attachment.port() + " attached to bridge " + attachment.bridge() +
                       " (" + what + ")";
    if (attachment.error().empty() && !attachment.programmed()) {
      line += ", pending: programmed once the dataplane has the bridge and the port";
    }
    std::printf("%s\n", line.c_str());
  }
  if (!attachment.error().empty()) {
    print_error("warning: the attachment of port " + attachment.port() + " to bridge " +
                attachment.bridge() + " is stored but the dataplane refused it: " +
                attachment.error() + " (retried when the dataplane reconnects)");
  }
  return kExitOk;
}

int run_bridge_detach(Context& context, const Args& args) {
  vswitch::v1::DetachPortRequest request;
  request.set_bridge(args.positional[0]);
  request.set_port(args.positional[1]);
  vswitch::v1::DetachPortResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DetachPort, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("port %s detached from bridge %s\n", request.port().c_str(),
                request.bridge().c_str());
  }
  return kExitOk;
}

constexpr std::string_view kAddDetails =
    "Stores the bridge in controld's desired state (on disk before the reply) and creates it in\n"
    "the dataplane. The name follows the rules of port names: 1-32 of [A-Za-z0-9_.-].\n"
    "Learned MACs not seen for the aging time are forgotten; a bridge never holds more than\n"
    "its MAC limit (learned and static). A refusal by the dataplane is a warning on stderr, as\n"
    "for 'port add'.\n"
    "\n"
    "With --json: the stored vswitch.v1.Bridge.\n";

constexpr std::string_view kListDetails =
    "One line per bridge: NAME, PORTS (the attached ports, PORT for untagged and PORT.VLAN for\n"
    "a VLAN; - for none), MACS (in the MAC table now; - when not on the dataplane), AGING,\n"
    "LIMIT (MAC limit), STATE (programmed, pending or error); an ERROR column is added when a\n"
    "bridge has one. 'vswctl bridge show BR' has the learning counters, 'vswctl mac list BR'\n"
    "the MACs.\n"
    "\n"
    "With --json: vswitch.v1.ListBridgesResponse.\n";

constexpr std::string_view kAttachDetails =
    "Without --vlan, the port's untagged frames belong to the bridge. With --vlan ID, the\n"
    "frames tagged ID received on the port belong to the bridge (the tag is taken off inside\n"
    "the bridge and put back on the way out of PORT). A port may be in several bridges with\n"
    "distinct VLANs, at most one of them untagged; a cross-connected port cannot be attached\n"
    "(FAILED_PRECONDITION), nor an attached one cross-connected. Frames tagged with a VLAN no\n"
    "attachment claims are dropped (drops unknown_vlan in 'vswctl port show').\n"
    "\n"
    "With --json: the stored vswitch.v1.Attachment.\n";

}  // namespace

const ObjectSpec& bridge_object() {
  static const ObjectSpec kObject{
      .name = "bridge",
      .summary =
          "Bridges: L2 switching domains that learn MACs, age them out and flood unknown\n"
          "destinations; ports are attached untagged or by VLAN.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"BR"}},
                  .options =
                      {
                          {"--aging", "SECONDS",
                           "forget learned MACs unseen this long, 1-86400 (default 300)"},
                          {"--mac-limit", "N", "the most MACs the bridge holds (default 8192)"},
                      },
                  .usage = "BR [--aging SECONDS] [--mac-limit N]",
                  .summary = "add a bridge",
                  .details = kAddDetails,
                  .run = run_bridge_add,
              },
              {
                  .name = "del",
                  .args = {{"BR"}},
                  .usage = "BR",
                  .summary = "delete a bridge",
                  .details = "Fails with FAILED_PRECONDITION while ports are attached: detach\n"
                             "them first ('vswctl bridge detach BR PORT').\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_bridge_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list bridges: ports, MACs, aging, MAC limit, state",
                  .details = kListDetails,
                  .run = run_bridge_list,
              },
              {
                  .name = "show",
                  .args = {{"BR"}},
                  .usage = "BR",
                  .summary = "one bridge: settings, state, learning counters, ports",
                  .details = "Prints the bridge's aging and MAC limit, its state, the MACs it\n"
                             "holds, the MACs learned, moved between ports and aged out since it\n"
                             "was created in the dataplane, the MACs not learned because of its\n"
                             "limit, and each attached port with its VLAN and state.\n"
                             "\n"
                             "With --json: vswitch.v1.Bridge.\n",
                  .run = run_bridge_show,
              },
              {
                  .name = "set",
                  .args = {{"BR"}},
                  .options =
                      {
                          {"--aging", "SECONDS", "forget learned MACs unseen this long, 1-86400"},
                          {"--mac-limit", "N", "the most MACs the bridge holds, 1-65536"},
                      },
                  .usage = "BR [--aging SECONDS] [--mac-limit N]",
                  .summary = "change a bridge's aging time or MAC limit",
                  .details = "Changes the bridge in place: attachments and MACs stay. A lower\n"
                             "MAC limit removes no MAC; it stops learning until the bridge is\n"
                             "under it.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.Bridge.\n",
                  .run = run_bridge_set,
              },
              {
                  .name = "attach",
                  .args = {{"BR"}, {"PORT"}},
                  .options =
                      {
                          {"--vlan", "ID", "the VLAN of PORT that belongs to BR, 1-4094"},
                      },
                  .usage = "BR PORT [--vlan ID]",
                  .summary = "attach a port to a bridge, untagged or by VLAN",
                  .details = kAttachDetails,
                  .run = run_bridge_attach,
              },
              {
                  .name = "detach",
                  .args = {{"BR"}, {"PORT"}},
                  .usage = "BR PORT",
                  .summary = "detach a port from a bridge",
                  .details = "The MACs learned on the port in that bridge are forgotten. Fails\n"
                             "with FAILED_PRECONDITION while static MACs of the bridge point at\n"
                             "the port: delete them first ('vswctl mac del BR MAC').\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_bridge_detach,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
