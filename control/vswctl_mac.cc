// vswctl mac list|add|del|flush: the bridges' MAC tables. Static MACs are configuration
// (stored, replayed); learned ones are the dataplane's and are listed live from it.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

int run_mac_list(Context& context, const Args& args) {
  vswitch::v1::ListMacsRequest request;
  if (!args.positional.empty()) request.set_bridge(args.positional[0]);
  vswitch::v1::ListMacsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListMacs, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table(
      {{"BRIDGE"}, {"MAC"}, {"PORT"}, {"VLAN", Align::kRight}, {"TYPE"}, {"AGE", Align::kRight}});
  for (const auto& m : response.macs()) {
    table.add_row({m.bridge(), m.mac(), m.port(), m.vlan() ? std::to_string(m.vlan()) : "-",
                   m.is_static() ? "static" : "learned",
                   m.is_static() ? "-" : std::to_string(m.age_seconds()) + "s"});
  }
  table.print();
  return kExitOk;
}

int run_mac_add(Context& context, const Args& args) {
  vswitch::v1::AddMacRequest request;
  request.set_bridge(args.positional[0]);
  request.set_mac(args.positional[1]);
  request.set_port(args.positional[2]);
  vswitch::v1::StaticMac mac;
  const grpc::Status rpc = context.client.call(&Stub::AddMac, request, &mac);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(mac);
  } else {
    std::string line =
        "static mac " + mac.mac() + " added to bridge " + mac.bridge() + " on port " + mac.port();
    if (mac.error().empty() && !mac.programmed()) {
      line += ", pending: programmed once the dataplane has the attachment";
    }
    std::printf("%s\n", line.c_str());
  }
  if (!mac.error().empty()) {
    print_error("warning: static mac " + mac.mac() + " of bridge " + mac.bridge() +
                " is stored but the dataplane refused it: " + mac.error() +
                " (retried when the dataplane reconnects)");
  }
  return kExitOk;
}

int run_mac_del(Context& context, const Args& args) {
  vswitch::v1::DeleteMacRequest request;
  request.set_bridge(args.positional[0]);
  request.set_mac(args.positional[1]);
  vswitch::v1::DeleteMacResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteMac, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("mac %s deleted from bridge %s\n", request.mac().c_str(), request.bridge().c_str());
  }
  return kExitOk;
}

int run_mac_flush(Context& context, const Args& args) {
  vswitch::v1::FlushMacsRequest request;
  if (!args.positional.empty()) request.set_bridge(args.positional[0]);
  vswitch::v1::FlushMacsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::FlushMacs, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else if (request.bridge().empty()) {
    std::printf("learned macs flushed from every bridge\n");
  } else {
    std::printf("learned macs flushed from bridge %s\n", request.bridge().c_str());
  }
  return kExitOk;
}

}  // namespace

const ObjectSpec& mac_object() {
  static const ObjectSpec kObject{
      .name = "mac",
      .summary =
          "MAC tables of the bridges: learned MACs (from the dataplane) and static ones\n"
          "(stored by controld, replayed after a dataplane restart).",
      .verbs =
          {
              {
                  .name = "list",
                  .args = {{"BR", true}},
                  .usage = "[BR]",
                  .summary = "list the MACs of one bridge or of all",
                  .details =
                      "Read live from the dataplane (UNAVAILABLE while it is disconnected).\n"
                      "One line per MAC: BRIDGE, MAC, PORT, VLAN (the attachment's VLAN on\n"
                      "that port; - for untagged), TYPE (static or learned), AGE (seconds\n"
                      "since the MAC was last seen; - for static MACs).\n"
                      "\n"
                      "With --json: vswitch.v1.ListMacsResponse.\n",
                  .run = run_mac_list,
              },
              {
                  .name = "add",
                  .args = {{"BR"}, {"MAC"}, {"PORT"}},
                  .usage = "BR MAC PORT",
                  .summary = "add a static MAC: MAC lives behind PORT in BR",
                  .details = "MAC is unicast, 02:00:00:00:00:01. PORT must be attached to BR\n"
                             "(FAILED_PRECONDITION otherwise). A static MAC is never learned\n"
                             "elsewhere, never ages and survives 'mac flush'; it is stored and\n"
                             "comes back after a dataplane restart.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.StaticMac.\n",
                  .run = run_mac_add,
              },
              {
                  .name = "del",
                  .args = {{"BR"}, {"MAC"}},
                  .usage = "BR MAC",
                  .summary = "delete a static MAC, or forget a learned one",
                  .details = "A static MAC is removed from the desired state and the dataplane;\n"
                             "a learned one is forgotten by the dataplane (and learned again\n"
                             "when the MAC sends).\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_mac_del,
              },
              {
                  .name = "flush",
                  .args = {{"BR", true}},
                  .usage = "[BR]",
                  .summary = "forget the learned MACs of one bridge or of all",
                  .details = "Static MACs stay. UNAVAILABLE while the dataplane is disconnected.\n"
                             "\n"
                             "With --json: {}.\n",
                  .run = run_mac_flush,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
