// vswctl status: controld's version and its dataplane connection. Scripts poll it to wait for
// readiness, so its exit status says whether the dataplane is connected and fully programmed.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

void print_status(const vswitch::v1::Status& status) {
  const auto& dp = status.dataplane();
  const bool connected = dp.state() == "connected";
  KeyValues kv;
  kv.add("controld version", or_dash(status.version()));
  kv.add("state file", or_dash(status.state_file()));
  std::string summary = or_dash(dp.state());
  if (connected) summary += dp.programmed() ? ", programmed" : ", not yet programmed";
  kv.add("dataplane", summary);
  kv.add("  socket", or_dash(dp.socket()));
  if (connected) {
    kv.add("  pid", std::to_string(dp.pid()));
    kv.add("  version", or_dash(dp.version()));
    kv.add("  memory mode", or_dash(dp.memory_mode()));
    kv.add("  workers", std::to_string(dp.workers()));
    kv.add("  uptime", duration_ms(dp.uptime_ms()));
  }
  kv.add("  connects", std::to_string(dp.connects()));
  kv.add("  last replay", dp.connects() > 0 ? duration_ms(dp.last_replay_ms()) : "-");
  kv.add("  last error", or_dash(dp.last_error()));
  kv.add("ports", std::to_string(status.ports()));
  kv.add("xconnects", std::to_string(status.xconnects()));
  kv.add("bridges", std::to_string(status.bridges()));
  kv.add("attachments", std::to_string(status.attachments()));
  kv.add("static macs", std::to_string(status.static_macs()));
  kv.add("router interfaces", std::to_string(status.router_interfaces()));
  kv.add("routes", std::to_string(status.routes()) + " static");
  kv.add("acl rules", std::to_string(status.acl_rules()));
  kv.add("vms",
         std::to_string(status.vms()) + " (" + std::to_string(status.vms_running()) + " running)");
  kv.add("errors", status.errors().empty() ? "none" : std::to_string(status.errors_size()));
  kv.print();
  for (const auto& error : status.errors()) {
    std::printf("  %s: %s\n", error.object().c_str(), error.error().c_str());
  }
}

int run_status(Context& context, const Args&) {
  vswitch::v1::Status status;
  const grpc::Status rpc = context.client.call(&Stub::GetStatus, {}, &status, kStatusDeadline);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(status);
  } else {
    print_status(status);
  }
  if (status.dataplane().state() != "connected") {
    print_error("dataplane: " + or_dash(status.dataplane().state()));
    return kExitFailure;
  }
  if (!status.dataplane().programmed()) {
    print_error("dataplane: not yet programmed");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

const ObjectSpec& status_object() {
  static const ObjectSpec kObject{
      .name = "status",
      .summary = "Controld's version and its dataplane connection.",
      .verbs = {{
          .name = "",
          .usage = "",
          .summary = "controld and dataplane state; exit 0 once ready",
          .details =
              "Prints controld's version and state file; the dataplane connection (connected or\n"
              "disconnected, whether the whole desired state has been replayed into it, its\n"
              "pid, memory mode, workers, uptime, connects since controld started, how long the\n"
              "last replay took, the last connection error); the number of ports,\n"
              "cross-connects, bridges, attachments and static MACs; and every object the\n"
              "dataplane refused, as 'port vm1: ERROR', 'bridge br0: ERROR', 'attachment br0\n"
              "vm1.10: ERROR' or 'mac br0 02:00:00:00:00:01: ERROR'.\n"
              "\n"
              "Exit status: 0 when the dataplane is connected and programmed. Otherwise the\n"
              "status is printed all the same, stderr says 'vswctl: dataplane: disconnected' or\n"
              "'vswctl: dataplane: not yet programmed', and the exit status is 1, so that\n"
              "scripts can wait for readiness:\n"
              "    until vswctl status >/dev/null 2>&1; do sleep 0.2; done\n"
              "Objects the dataplane refused do not make it fail: they are listed.\n"
              "\n"
              "With --json: the vswitch.v1.Status message (the exit status is the same).\n",
          .run = run_status,
      }},
  };
  return kObject;
}

}  // namespace vsw::cli
