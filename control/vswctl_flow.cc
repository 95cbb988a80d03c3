// vswctl flow list|stats: the per-worker flow caches, read from the dataplane.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

std::string ethertype_name(uint32_t ethertype) {
  switch (ethertype) {
    case 0x0800:
      return "ipv4";
    case 0x0806:
      return "arp";
    case 0x86dd:
      return "ipv6";
    default: {
      char text[8];
      std::snprintf(text, sizeof(text), "0x%04x", ethertype & 0xffff);
      return text;
    }
  }
}

std::string protocol_name(uint32_t protocol) {
  switch (protocol) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "icmpv6";
    default:
      return std::to_string(protocol);
  }
}

int run_flow_list(Context& context, const Args& args) {
  vswitch::v1::ListFlowsRequest request;
  if (args.has("--max")) {
    uint32_t max = 0;
    int status = kExitOk;
    if (!number_option(args, "flow list", "--max", &max, &status)) return status;
    request.set_max(max);
  }
  vswitch::v1::ListFlowsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListFlows, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"WORKER", Align::kRight},
               {"IN_PORT"},
               {"VLAN", Align::kRight},
               {"SRC_MAC"},
               {"DST_MAC"},
               {"TYPE"},
               {"SRC"},
               {"DST"},
               {"PROTO"},
               {"SPORT", Align::kRight},
               {"DPORT", Align::kRight},
               {"OUT_PORT"},
               {"OUT_VLAN", Align::kRight},
               {"ROUTED"},
               {"STALE"}});
  for (const auto& f : response.flows()) {
    const bool ip = !f.src_ip().empty();
    const bool ports = ip && (f.protocol() == 6 || f.protocol() == 17);
    table.add_row(
        {std::to_string(f.worker()), f.in_port(), f.vlan() ? std::to_string(f.vlan()) : "-",
         f.src_mac(), f.dst_mac(), ethertype_name(f.ethertype()), or_dash(f.src_ip()),
         or_dash(f.dst_ip()), ip ? protocol_name(f.protocol()) : "-",
         ports ? std::to_string(f.src_port()) : "-", ports ? std::to_string(f.dst_port()) : "-",
         f.out_port(), f.out_vlan() ? std::to_string(f.out_vlan()) : "-", f.routed() ? "yes" : "no",
         f.stale() ? "yes" : "no"});
  }
  table.print();
  return kExitOk;
}

int run_flow_stats(Context& context, const Args&) {
  vswitch::v1::FlowStats response;
  const grpc::Status rpc = context.client.call(&Stub::GetFlowStats, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"WORKER", Align::kRight},
               {"HITS", Align::kRight},
               {"MISSES", Align::kRight},
               {"STALE", Align::kRight},
               {"EVICTIONS", Align::kRight},
               {"INSERTS", Align::kRight},
               {"CAPACITY", Align::kRight},
               {"HIT%", Align::kRight}});
  for (const auto& w : response.workers()) {
    const uint64_t lookups = w.hits() + w.misses();
    table.add_row(
        {std::to_string(w.worker()), std::to_string(w.hits()), std::to_string(w.misses()),
         std::to_string(w.stale()), std::to_string(w.evictions()), std::to_string(w.inserts()),
         std::to_string(w.capacity()),
         lookups ? fixed(static_cast<double>(w.hits()) * 100 / static_cast<double>(lookups), 1)
                 : "-"});
  }
  table.print();
  return kExitOk;
}

}  // namespace

const ObjectSpec& flow_object() {
  static const ObjectSpec kObject{
      .name = "flow",
      .summary =
          "The flow caches: each worker's exact-match cache of forwarding decisions, read\n"
          "from the dataplane (UNAVAILABLE while it is disconnected).",
      .verbs =
          {
              {
                  .name = "list",
                  .options =
                      {
                          {"--max", "N", "list at most N entries (default 1000)"},
                      },
                  .usage = "[--max N]",
                  .summary = "list cached flows",
                  .details =
                      "One line per cached flow: WORKER, IN_PORT, VLAN (received with; - for\n"
                      "untagged), SRC_MAC, DST_MAC, TYPE (ipv4, arp, ipv6 or the ethertype),\n"
                      "SRC, DST, PROTO (IPv4 and IPv6), SPORT, DPORT (TCP and UDP only),\n"
                      "OUT_PORT, OUT_VLAN (sent with), ROUTED (yes: to a router interface, so\n"
                      "MACs rewritten and TTL decremented), STALE (yes: built from a MAC, a\n"
                      "route, a neighbor or a configuration that changed since, so the next\n"
                      "packet misses and rebuilds it).\n"
                      "Flooded frames are never cached.\n"
                      "\n"
                      "With --json: vswitch.v1.ListFlowsResponse.\n",
                  .run = run_flow_list,
              },
              {
                  .name = "stats",
                  .usage = "",
                  .summary = "flow cache hits and misses per worker",
                  .details =
                      "One line per worker, since the dataplane started: HITS, MISSES (stale\n"
                      "entries included), STALE, EVICTIONS (entries replaced by a new flow),\n"
                      "INSERTS, CAPACITY (entries), HIT% (hits / lookups; - before any).\n"
                      "\n"
                      "With --json: vswitch.v1.FlowStats.\n",
                  .run = run_flow_stats,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
