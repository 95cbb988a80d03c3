// TraceManager::describe: a worker's trace record (packet_trace.h) as the operator reads it,
// one stage per line, with names (ports, router interfaces, routes) looked up now.
#include <rte_cycles.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <vector>

#include "acl_filter.h"
#include "conn_state.h"
#include "ip_addr.h"
#include "l3_stage.h"
#include "port_fields.h"
#include "port_manager.h"
#include "router_manager.h"
#include "trace_manager.h"

namespace vsw::dp {

namespace {

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

std::string proto_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return "proto " + std::to_string(proto);
  }
}

// The headers the frame's first bytes show: "src > dst, vlan N, ipv4 A > B udp 1 > 2, ttl 64".
std::string summarize(const uint8_t* p, uint32_t len, flow::IpAddr* dst_out, bool* have_dst) {
  if (len < 14) return "runt frame (" + std::to_string(len) + " bytes)";
  std::string s = fields::format_mac(p + 6) + " > " + fields::format_mac(p);
  uint32_t off = 12;
  uint16_t type = be16(p + off);
  if (type == RTE_ETHER_TYPE_VLAN && len >= 18) {
    s += ", vlan " + std::to_string(be16(p + 14) & 0xfff);
    off = 16;
    type = be16(p + off);
  }
  off += 2;
  char t[16];
  uint8_t proto = 0;
  uint32_t l4 = 0;
  std::string limit;  // TTL or hop limit, after the L4 fields
  if (type == RTE_ETHER_TYPE_IPV4 && len >= off + 20) {
    const flow::IpAddr a = flow::IpAddr::v4((uint32_t{p[off + 12]} << 24) | (p[off + 13] << 16) |
                                            (p[off + 14] << 8) | p[off + 15]);
    const flow::IpAddr b = flow::IpAddr::v4((uint32_t{p[off + 16]} << 24) | (p[off + 17] << 16) |
                                            (p[off + 18] << 8) | p[off + 19]);
    *dst_out = b;
    *have_dst = true;
    proto = p[off + 9];
    s += ", ipv4 " + flow::format_ip(a) + " > " + flow::format_ip(b) + " " + proto_name(proto);
    limit = ", ttl " + std::to_string(p[off + 8]);
    if ((be16(p + off + 6) & 0x1fff) != 0) return s + limit + ", non-first fragment";
    l4 = off + (p[off] & 0x0f) * 4u;
  } else if (type == RTE_ETHER_TYPE_IPV6 && len >= off + 40) {
    const flow::IpAddr a = flow::IpAddr::v6(p + off + 8);
    const flow::IpAddr b = flow::IpAddr::v6(p + off + 24);
    *dst_out = b;
    *have_dst = true;
    proto = p[off + 6];
    s += ", ipv6 " + flow::format_ip(a) + " > " + flow::format_ip(b) + " " + proto_name(proto);
    limit = ", hop limit " + std::to_string(p[off + 7]);
    l4 = off + 40;
  } else {
    std::snprintf(t, sizeof(t), "0x%04x", type);
    return s + ", type " + (type == RTE_ETHER_TYPE_ARP ? std::string("arp") : std::string(t));
  }
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && len >= l4 + 4) {
    s += " " + std::to_string(be16(p + l4)) + " > " + std::to_string(be16(p + l4 + 2));
    if (proto == IPPROTO_TCP && len >= l4 + 14) {
      const uint8_t f = p[l4 + 13];
      std::string flags;
      if (f & 0x02) flags += "S";
      if (f & 0x10) flags += "A";
      if (f & 0x01) flags += "F";
      if (f & 0x04) flags += "R";
      if (!flags.empty()) s += " [" + flags + "]";
    }
  } else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && len >= l4 + 2) {
    s += " type " + std::to_string(p[l4]) + " code " + std::to_string(p[l4 + 1]);
  }
  return s + limit;
}

const char* punt_text(PuntReason r) {
  switch (r) {
    case PuntReason::kArp:
      return "ARP: answered or learned by the router (management thread)";
    case PuntReason::kNd:
      return "neighbor discovery: answered or learned by the router (management thread)";
    case PuntReason::kLocal:
      return "addressed to the router: answered by the management thread";
    case PuntReason::kTtlExpired:
      return "TTL expired: dropped (ttl_expired), ICMP time exceeded sent";
    case PuntReason::kNoRoute:
      return "no route: dropped (no_route), ICMP destination unreachable sent";
    case PuntReason::kResolve:
      return "next hop unresolved: queued while the router resolves it";
  }
  return "?";
}

const char* punt_result(PuntReason r) {
  switch (r) {
    case PuntReason::kArp:
    case PuntReason::kNd:
    case PuntReason::kLocal:
      return "punted: to the router";
    case PuntReason::kTtlExpired:
      return "dropped: ttl_expired";
    case PuntReason::kNoRoute:
      return "dropped: no_route";
    case PuntReason::kResolve:
      return "punted: waits for the neighbor";
  }
  return "punted";
}

const char* router_drop_text(TraceRouterDrop d, const char** counter) {
  switch (d) {
    case TraceRouterDrop::kBadHeader:
      *counter = "bad_header";
      return "malformed IP header: dropped (bad_header)";
    case TraceRouterDrop::kNotRouted:
      *counter = "no_route";
      return "multicast, broadcast or link-local destination: not routed (no_route)";
    case TraceRouterDrop::kNoRoute:
      *counter = "no_route";
      return "the route's next hop is gone: dropped (no_route)";
    case TraceRouterDrop::kVlanStrip:
      *counter = "bad_header";
      return "the VLAN tag could not be removed: dropped (bad_header)";
    case TraceRouterDrop::kNotIp:
      *counter = "bad_header";
      return "neither IPv4, IPv6 nor ARP: dropped (bad_header)";
    case TraceRouterDrop::kPuntRingFull:
      *counter = "punt_dropped";
      return "the management thread's ring is full: dropped (punt_dropped)";
  }
  *counter = "?";
  return "?";
}

std::string action_name(uint8_t a) {
  return std::string(acl::to_string(static_cast<acl::Action>(a)));
}

}  // namespace

TraceManager::RifNames TraceManager::rif_names() const {
  RifNames names;
  vswitch::dp::RouterInterfaceList rifs;
  router_.rif_list(&rifs);
  for (const auto& r : rifs.router_ifs()) names[r.id()] = r.config().name();
  return names;
}

void TraceManager::describe(const TracedPacket& t, uint32_t index, const RifNames& rif_names,
                            vswitch::dp::TracedPacket* out) const {
  out->set_index(index);
  out->set_port(ports_.name_of(t.in_port));
  out->set_worker(t.worker);
  out->set_length(t.length);
  out->set_age_seconds(static_cast<double>(rte_rdtsc() - t.tsc) /
                       static_cast<double>(rte_get_tsc_hz()));
  out->set_head(t.head, t.head_length);
  flow::IpAddr dst;
  bool have_dst = false;
  out->set_summary(summarize(t.head, t.head_length, &dst, &have_dst));
  out->set_steps_lost(t.steps_lost);

  auto rif_name = [&](uint32_t id) {
    auto it = rif_names.find(id);
    return it != rif_names.end() ? it->second : "rif " + std::to_string(id);
  };
  auto port_name = [&](uint16_t id) {
    std::string n = ports_.name_of(id);
    return n.empty() ? "port " + std::to_string(id) : n;
  };

  std::vector<std::string> outputs;
  std::string last_drop;
  auto add = [&](const char* stage, std::string detail) {
    auto* s = out->add_steps();
    s->set_stage(stage);
    s->set_detail(std::move(detail));
  };
  const bool dry = t.dry_run;
  for (uint32_t i = 0; i < t.steps_used; ++i) {
    const TraceStep& s = t.steps[i];
    switch (s.kind) {
      case TraceKind::kMalformed:
        add(s.a ? "acl" : "parse", "malformed headers: dropped (malformed)");
        last_drop = "dropped: malformed";
        break;
      case TraceKind::kPortSecurity:
        add("port-security",
            "source not allowed on " + port_name(s.port) + ": dropped (port_security)");
        last_drop = "dropped: port_security";
        break;
      case TraceKind::kAcl: {
        acl::AclDecision d;
        AclTraceInfo info;
        std::memcpy(&info, &s.c, sizeof(info));
        d.rule_id = s.b;
        const auto verdict = static_cast<acl::AclVerdict>(info.verdict);
        std::string text =
            port_name(s.port) + (static_cast<acl::Direction>(s.a) == acl::Direction::kToPort
                                     ? " to-port: "
                                     : " from-port: ");
        if (info.how != 0) {
          text += "connection " +
                  std::string(acl::to_string(static_cast<acl::ConnState>(info.state))) +
                  (info.how == 2 ? " (tracked; predicted)" : " (tracked)");
        } else {
          text += s.b == kTraceDefaultRule
                      ? "default " + action_name(info.action)
                      : "rule " + std::to_string(s.b) + " " + action_name(info.action);
          if (info.state != 0)
            text += ", opens a connection (" +
                    std::string(acl::to_string(static_cast<acl::ConnState>(info.state))) + ")";
        }
        if (verdict == acl::AclVerdict::kPass) {
          text += ": pass";
        } else {
          text += std::string(": dropped (") + acl::to_string(verdict) + ")";
          last_drop = std::string("dropped: ") + acl::to_string(verdict);
        }
        add("acl", text);
        break;
      }
      case TraceKind::kXconnect:
        add("xconnect", "to " + port_name(s.port));
        break;
      case TraceKind::kNoDestination:
        if (s.a) {
          add("bridge", "VLAN " + std::to_string(s.b) +
                            " is not attached on this port: dropped (unknown_vlan)");
          last_drop = "dropped: unknown_vlan";
        } else {
          add("bridge", "the port is in no bridge and no cross-connect: dropped (no_destination)");
          last_drop = "dropped: no_destination";
        }
        break;
      case TraceKind::kCache:
        switch (static_cast<TraceCache>(s.a)) {
          case TraceCache::kHit:
            add("flow-cache", "hit: to " + port_name(s.port) +
                                  (s.b ? " vlan " + std::to_string(s.b) : std::string()));
            break;
          case TraceCache::kMiss:
            add("flow-cache", dry ? "miss (a dry run starts with an empty cache)" : "miss");
            break;
          case TraceCache::kStale:
            add("flow-cache", "stale entry (a table changed since it was cached): miss");
            break;
        }
        break;
      case TraceKind::kFdbSource:
        add("fdb", s.a ? (dry ? "source not known at this port (a dry run learns nothing)"
                              : "source learned here (new or moved)")
                       : "source known at this port");
        break;
      case TraceKind::kFdbDest:
        switch (static_cast<TraceFdb>(s.a)) {
          case TraceFdb::kUnicast:
            add("fdb", "destination on " + port_name(s.port) +
                           (s.b ? " vlan " + std::to_string(s.b) : std::string()));
            break;
          case TraceFdb::kUnknown:
            add("fdb", "destination unknown: flood");
            break;
          case TraceFdb::kMulticast:
            add("fdb", "broadcast or multicast: flood");
            break;
          case TraceFdb::kIngress:
            add("fdb", "destination is behind the ingress port: dropped (no_destination)");
            last_drop = "dropped: no_destination";
            break;
        }
        break;
      case TraceKind::kFlood:
        add("flood",
            "to the bridge's members but the ingress port (" + std::to_string(s.b) + " members)");
        break;
      case TraceKind::kRouterIf:
        add("router", "addressed to router interface " + rif_name(s.b));
        break;
      case TraceKind::kRouterDrop: {
        const char* counter = nullptr;
        add("router", router_drop_text(static_cast<TraceRouterDrop>(s.a), &counter));
        last_drop = std::string("dropped: ") + counter;
        break;
      }
      case TraceKind::kFib: {
        flow::IpAddr via;
        via.family = dst.family;
        std::memcpy(via.bytes, s.addr, 16);
        std::string text;
        if (have_dst) {
          vswitch::dp::RouteLookupRequest q;
          q.set_address(flow::format_ip(dst));
          vswitch::dp::RouteLookupResult r;
          if (router_.route_lookup(q, &r).ok() && r.found()) text = "route " + r.prefix() + ", ";
        }
        text += std::string(s.a ? "connected: " : "via ") + flow::format_ip(via) + " on " +
                rif_name(s.port);
        if (s.c > 1) text += " (ECMP: 1 of " + std::to_string(s.c) + " next hops, by 5-tuple hash)";
        add("fib", text);
        break;
      }
      case TraceKind::kNeighbor: {
        uint8_t mac[8];
        std::memcpy(mac, &s.c, 8);
        add("neighbor", "resolved: " + fields::format_mac(mac));
        break;
      }
      case TraceKind::kRoutedHit: {
        uint8_t mac[8];
        std::memcpy(mac, &s.c, 8);
        add("flow-cache", "hit (routed): out of " + rif_name(s.port) + " to " +
                              fields::format_mac(mac) + ", TTL decremented");
        break;
      }
      case TraceKind::kPunt: {
        const auto reason = static_cast<PuntReason>(s.a);
        std::string text = punt_text(reason);
        if (reason == PuntReason::kResolve) {
          flow::IpAddr a;
          a.family = dst.family;
          std::memcpy(a.bytes, s.addr, 16);
          text = "next hop " + flow::format_ip(a) + " on " + rif_name(s.b) +
                 (dry ? " unresolved: a packet would wait while the router resolves it"
                      : " unresolved: queued while the router resolves it");
        }
        if (dry) text += " (a dry run stops at the punt)";
        add("punt", text);
        last_drop = punt_result(reason);
        break;
      }
      case TraceKind::kOutput:
        add("output", port_name(s.port) + (s.b ? " vlan " + std::to_string(s.b) : std::string()) +
                          (dry ? " (not sent: dry run)" : ""));
        outputs.push_back(port_name(s.port));
        break;
      case TraceKind::kTxDrop: {
        static constexpr const char* kWhy[] = {
            // by TraceTxDrop
            ": transmit queue full: dropped (tx_full)",
            ": no room for the VLAN tag: dropped (tx_full)",
            ": the device refused it (longer than its MTU): dropped (tx_mtu_exceeded)"};
        add("output", port_name(s.port) + kWhy[s.a < 3 ? s.a : 0]);
        // It was listed as an output before the device refused it.
        for (auto it = outputs.rbegin(); it != outputs.rend(); ++it) {
          if (*it == port_name(s.port)) {
            outputs.erase(std::next(it).base());
            break;
          }
        }
        last_drop = s.a == static_cast<uint8_t>(TraceTxDrop::kTooLong) ? "dropped: tx_mtu_exceeded"
                                                                       : "dropped: tx_full";
        break;
      }
      case TraceKind::kCount:
        break;
    }
  }
  if (!outputs.empty()) {
    std::string list;
    for (const std::string& o : outputs) list += (list.empty() ? "" : ", ") + o;
    out->set_result("output " + list);
  } else if (!last_drop.empty()) {
    out->set_result(last_drop);
  } else {
    out->set_result(t.steps_lost ? "unknown (steps lost)" : "no decision recorded");
  }
}

}  // namespace vsw::dp
