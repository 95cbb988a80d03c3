// vswctl trace start|show|stop|packet: what the switch did with given packets, stage by stage
// (the dataplane records it; see dataplane/packet_trace.h).
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

void print_packet(const vswitch::v1::TracedPacket& p, bool with_age) {
  std::printf("Packet %u: port %s, worker %u, %u bytes", p.index(), p.port().c_str(), p.worker(),
              p.length());
  if (with_age) std::printf(", %.1f s ago", p.age_seconds());
  std::printf("\n  %s\n", p.summary().c_str());
  Table table({{"  STAGE"}, {"DECISION"}});
  for (const auto& s : p.steps()) table.add_row({"  " + s.stage(), s.detail()});
  table.add_row({"  result", p.result()});
  if (p.steps_lost() > 0)
    table.add_row({"  (lost)", std::to_string(p.steps_lost()) + " steps past the record's room"});
  table.print();
}

void print_trace(const vswitch::v1::Trace& t) {
  std::printf("trace %s: port %s, %u of %u packets marked\n", t.running() ? "running" : "done",
              t.port().empty() ? "any" : t.port().c_str(), t.marked(), t.count());
  for (const auto& p : t.packets()) {
    std::printf("\n");
    print_packet(p, true);
  }
}

int run_trace_start(Context& context, const Args& args) {
  vswitch::v1::StartTraceRequest request;
  request.set_port(args.get("--port"));
  int status = kExitOk;
  if (args.has("--count")) {
    uint32_t count = 0;
    if (!number_option(args, "trace start", "--count", &count, &status)) return status;
    if (count == 0) return usage_error("trace start", "--count: 0 packets; give 1-1000");
    request.set_count(count);
  }
  vswitch::v1::Trace response;
  const grpc::Status rpc = context.client.call(&Stub::StartTrace, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("tracing the next %u packets received on %s\n", response.count(),
                response.port().empty() ? "any port" : response.port().c_str());
  }
  return kExitOk;
}

int run_trace_show(Context& context, const Args&) {
  vswitch::v1::Trace response;
  const grpc::Status rpc = context.client.call(&Stub::ShowTrace, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    print_trace(response);
  }
  return kExitOk;
}

int run_trace_stop(Context& context, const Args&) {
  vswitch::v1::Trace response;
  const grpc::Status rpc = context.client.call(&Stub::StopTrace, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("trace stopped: %u packets recorded\n", response.packets_size());
  }
  return kExitOk;
}

int run_trace_packet(Context& context, const Args& args) {
  vswitch::v1::TracePacketRequest request;
  if (!args.has("--port")) return usage_error("trace packet", "--port PORT is required");
  request.set_port(args.get("--port"));
  const bool fields = args.has("--src") || args.has("--dst");
  if (args.has("--hex") == fields)
    return usage_error("trace packet", "give either --hex FRAME or --src IP --dst IP");
  request.set_frame(args.get("--hex"));
  request.set_src(args.get("--src"));
  request.set_dst(args.get("--dst"));
  request.set_protocol(args.get("--proto"));
  request.set_src_mac(args.get("--smac"));
  request.set_dst_mac(args.get("--dmac"));
  int status = kExitOk;
  for (auto [option, setter] :
       {std::pair{"--sport", &vswitch::v1::TracePacketRequest::set_src_port},
        std::pair{"--dport", &vswitch::v1::TracePacketRequest::set_dst_port},
        std::pair{"--vlan", &vswitch::v1::TracePacketRequest::set_vlan}}) {
    if (!args.has(option)) continue;
    uint32_t value = 0;
    if (!number_option(args, "trace packet", option, &value, &status)) return status;
    (request.*setter)(value);
  }
  vswitch::v1::TracedPacket response;
  const grpc::Status rpc = context.client.call(&Stub::TracePacket, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    print_packet(response, false);
  }
  return kExitOk;
}

}  // namespace

const ObjectSpec& trace_object() {
  static const ObjectSpec kObject{
      .name = "trace",
      .summary =
          "Packet trace: why a packet went where it went, or did not arrive. The workers\n"
          "record, for each marked packet, every stage it passed and what it decided: flow\n"
          "cache, FDB, router interface, FIB route and next hop, neighbor, ACL rule and\n"
          "connection state, output port or drop reason. Costs nothing while no trace runs.",
      .verbs =
          {
              {
                  .name = "start",
                  .options =
                      {
                          {"--port", "PORT", "mark only packets received on PORT (default any)"},
                          {"--count", "N", "mark the next N packets, 1-1000 (default 10)"},
                      },
                  .usage = "[--port PORT] [--count N]",
                  .summary = "mark the next packets received and record their path",
                  .details = "Replaces a running trace and its records.\n"
                             "\n"
                             "With --json: vswitch.v1.Trace.\n",
                  .run = run_trace_start,
              },
              {
                  .name = "show",
                  .usage = "",
                  .summary = "print the recorded packets, stage by stage",
                  .details =
                      "A packet shows once the worker has finished with it (sent or\n"
                      "dropped). Records stay until the next 'trace start' or 'trace stop'.\n"
                      "\n"
                      "With --json: vswitch.v1.Trace.\n",
                  .run = run_trace_show,
              },
              {
                  .name = "stop",
                  .usage = "",
                  .summary = "stop marking and forget the records",
                  .details = "With --json: vswitch.v1.Trace (the records, a last time).\n",
                  .run = run_trace_stop,
              },
              {
                  .name = "packet",
                  .options =
                      {
                          {"--port", "PORT", "the port the packet arrives on (required)"},
                          {"--hex", "FRAME", "the whole Ethernet frame in hex digits"},
                          {"--src", "IP", "source address (IPv4 or IPv6)"},
                          {"--dst", "IP", "destination address"},
                          {"--proto", "P", "tcp (a SYN), udp, icmp (an echo request) or a number"},
                          {"--sport", "N", "source port (default 49152)"},
                          {"--dport", "N", "destination port (default 9)"},
                          {"--smac", "MAC", "source MAC (default: the port's, see below)"},
                          {"--dmac", "MAC", "destination MAC (default: see below)"},
                          {"--vlan", "N", "add an 802.1Q tag (trunk ports)"},
                      },
                  .usage = "--port PORT (--hex FRAME | --src IP --dst IP [--proto P] [--sport N] "
                           "[--dport N] [--smac MAC] [--dmac MAC] [--vlan N])",
                  .summary = "what would happen to this packet? (nothing is sent)",
                  .details =
                      "Runs one packet through the current tables as if PORT had received it,\n"
                      "and prints the same stages as 'trace show'. Nothing is sent, learned,\n"
                      "counted or tracked: the ACL says what it would decide, and the flow\n"
                      "cache starts empty (the miss path, which a cache hit repeats).\n"
                      "\n"
                      "With --src/--dst the packet is built with TTL 64: the source MAC is the\n"
                      "port's first --allowed-mac, else the router's neighbor entry for --src;\n"
                      "the destination MAC is the router interface's when --dst is not on the\n"
                      "port's subnet, else the neighbor entry for --dst. Give --smac/--dmac\n"
                      "when they are not known.\n"
                      "\n"
                      "With --json: vswitch.v1.TracedPacket.\n",
                  .run = run_trace_packet,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
