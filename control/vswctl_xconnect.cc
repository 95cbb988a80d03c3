// vswctl xconnect add|del|list: cross-connects, which forward everything received on each of
// two ports out of the other.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

int run_xconnect_add(Context& context, const Args& args) {
  vswitch::v1::AddXconnectRequest request;
  request.set_port_a(args.positional[0]);
  request.set_port_b(args.positional[1]);
  vswitch::v1::Xconnect xconnect;
  const grpc::Status rpc = context.client.call(&Stub::AddXconnect, request, &xconnect);
  if (!rpc.ok()) return report_failure(context, rpc);
  const std::string name = xconnect.port_a() + " <-> " + xconnect.port_b();
  if (context.json) {
    print_json(xconnect);
  } else {
    std::string line = "xconnect " + name + " added";
    if (xconnect.error().empty() && !xconnect.programmed()) {
      line += ", pending: programmed once the dataplane has both ports";
    }
    std::printf("%s\n", line.c_str());
  }
  if (!xconnect.error().empty()) {
    print_error("warning: xconnect " + name + " is stored but the dataplane refused it: " +
                xconnect.error() + " (retried when the dataplane reconnects)");
  }
  return kExitOk;
}

int run_xconnect_del(Context& context, const Args& args) {
  vswitch::v1::DeleteXconnectRequest request;
  request.set_port(args.positional[0]);
  vswitch::v1::DeleteXconnectResponse response;
  const grpc::Status rpc = context.client.call(&Stub::DeleteXconnect, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("xconnect of port %s deleted\n", request.port().c_str());
  }
  return kExitOk;
}

int run_xconnect_list(Context& context, const Args&) {
  vswitch::v1::ListXconnectsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListXconnects, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  bool any_error = false;
  for (const auto& xconnect : response.xconnects()) any_error |= !xconnect.error().empty();
  // The ERROR column only when there is one: the usual table stays narrow.
  std::vector<Table::Column> columns = {{"PORT_A"}, {"PORT_B"}, {"STATE"}};
  if (any_error) columns.push_back({"ERROR"});
  Table table(std::move(columns));
  for (const auto& xconnect : response.xconnects()) {
    table.add_row({xconnect.port_a(), xconnect.port_b(), std::string(xconnect_state_name(xconnect)),
                   or_dash(xconnect.error())});
  }
  table.print();
  return kExitOk;
}

}  // namespace

const ObjectSpec& xconnect_object() {
  static const ObjectSpec kObject{
      .name = "xconnect",
      .summary =
          "Cross-connects: everything received on each of two ports goes out of the\n"
          "other, with no lookup. A port belongs to at most one cross-connect.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"PORT_A"}, {"PORT_B"}},
                  .usage = "PORT_A PORT_B",
                  .summary = "cross-connect two ports",
                  .details = "Both ports must exist (NOT_FOUND otherwise) and belong to no other\n"
                             "cross-connect. A refusal by the dataplane is a warning on stderr,\n"
                             "as for 'port add'.\n"
                             "\n"
                             "With --json: the stored vswitch.v1.Xconnect.\n",
                  .run = run_xconnect_add,
              },
              {
                  .name = "del",
                  .args = {{"PORT_A"}},
                  .usage = "PORT_A",
                  .summary = "delete the cross-connect PORT_A belongs to (either end)",
                  .details = "With --json: {}.\n",
                  .run = run_xconnect_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list cross-connects: PORT_A PORT_B STATE",
                  .details = "STATE is programmed, pending (not yet on the dataplane) or error;\n"
                             "an ERROR column is added when a cross-connect has one.\n"
                             "\n"
                             "With --json: vswitch.v1.ListXconnectsResponse.\n",
                  .run = run_xconnect_list,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
