#include "l3_stage.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "fdb.h"
#include "ipv4_header.h"
#include "l2_output.h"

namespace vsw::dp {

namespace {

using flow::IpAddr;

// How stale a neighbor's last-used stamp may get before a worker writes it again: the
// management thread only needs to know "used since it went stale" (seconds).
inline uint64_t stamp_interval() {
  return rte_get_tsc_hz() >> 4;
}

}  // namespace

void router_drop(WorkerContext& ctx, rte_mbuf* m, Counter& reason, TraceRouterDrop why) {
  bump(reason, 1);
  trace_step(ctx, m, {.kind = TraceKind::kRouterDrop, .a = static_cast<uint8_t>(why)});
  rte_pktmbuf_free(m);
}

namespace {

// The rest of the forwarding once the next hop is known: shared by both families.
// `fib_gen` was read before the FIB lookup.
void forward(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, rte_mbuf* m,
             uint64_t value, uint32_t hash, const IpAddr& dst, const L3Cacheable& cacheable,
             uint32_t fib_gen) {
  const flow::Fib& fib = *ctx.fwd->fib;
  const uint32_t nh = fib.next_hops().select(value, hash);
  const flow::NextHopEntry& hop = fib.next_hops().hop(nh);
  if (unlikely(hop.rif >= flow::kMaxRouterInterfaces || !l3.rifs[hop.rif].in_use))
    return router_drop(ctx, m, ctx.router.no_route, TraceRouterDrop::kNoRoute);
  const flow::RifL3& out = l3.rifs[hop.rif];
  IpAddr via = dst;
  if (!hop.connected) {
    via.family = hop.is_v6 ? flow::Family::kIpv6 : flow::Family::kIpv4;
    std::memcpy(via.bytes, hop.gateway, 16);
  }
  if (unlikely(ctx.trace != nullptr)) {
    TraceStep step{.kind = TraceKind::kFib,
                   .a = hop.connected,
                   .port = hop.rif,
                   .b = nh,
                   .c = flow::is_ecmp_value(value)
                            ? fib.next_hops().group(static_cast<uint32_t>(value)).count
                            : 1u};
    std::memcpy(step.addr, via.bytes, 16);
    trace_add(ctx, m, step);
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  std::memcpy(eth->src_addr.addr_bytes, out.mac, 6);
  const flow::NeighborKey key = flow::neighbor_key(hop.rif, via);
  const flow::NeighborTable& neighbors = *ctx.fwd->neighbors;
  const int32_t pos = neighbors.lookup(key);
  const uint64_t w =
      pos >= 0 ? neighbors.entry(pos).mac_state.load(std::memory_order_acquire) : uint64_t{0};
  if (pos < 0 || !flow::neighbor_usable(w)) {
    bump(ctx.router.unresolved, 1);
    return punt(ctx, m, PuntReason::kResolve, hop.rif, &key);
  }
  flow::NeighborEntry& n = neighbors.entry(pos);
  // Generation before the MAC: a change in between makes the cached flow stale at once.
  const uint32_t nbr_gen = n.generation.load(std::memory_order_acquire);
  const uint64_t w2 = n.mac_state.load(std::memory_order_acquire);
  if (unlikely(!flow::neighbor_usable(w2))) {
    bump(ctx.router.unresolved, 1);
    return punt(ctx, m, PuntReason::kResolve, hop.rif, &key);
  }
  const uint64_t now = rte_rdtsc();
  if (now - n.last_used.load(std::memory_order_relaxed) > stamp_interval() && !ctx.dry_run)
    n.last_used.store(now, std::memory_order_relaxed);
  flow::neighbor_mac(w2, eth->dst_addr.addr_bytes);
  if (unlikely(ctx.trace != nullptr)) {
    TraceStep step{.kind = TraceKind::kNeighbor, .b = static_cast<uint32_t>(pos)};
    std::memcpy(&step.c, eth->dst_addr.addr_bytes, 6);
    trace_add(ctx, m, step);
  }
  bump(ctx.router.routed, 1);
  flow::FdbKey fkey{out.bridge, {}};
  std::memcpy(fkey.mac, eth->dst_addr.addr_bytes, 6);
  const flow::Fdb& fdb = *ctx.fwd->fdb;
  const int32_t fpos = fdb.lookup(fkey);
  if (fpos < 0) {
    trace_step(ctx, m,
               {.kind = TraceKind::kFdbDest, .a = static_cast<uint8_t>(TraceFdb::kUnknown)});
    return flood(ctx, l2.bridges[out.bridge], m, false, kNoPort);  // not cached
  }
  const flow::FdbEntry& d = fdb.entry(fpos);
  const uint32_t dst_gen = d.generation.load(std::memory_order_acquire);
  const uint32_t loc = d.location.load(std::memory_order_acquire);
  trace_step(ctx, m,
             {.kind = TraceKind::kFdbDest,
              .a = static_cast<uint8_t>(TraceFdb::kUnicast),
              .port = flow::location_port(loc),
              .b = flow::location_vlan(loc)});
  if (cacheable.src_pos >= 0) {
    flow::FlowEntry e{};
    e.key = *cacheable.key;
    e.dst_pos = static_cast<uint32_t>(fpos);
    e.dst_gen = dst_gen;
    e.src_pos = static_cast<uint32_t>(cacheable.src_pos);
    e.src_gen = cacheable.src_gen;
    e.config_gen = l2.generation;
    e.out_port = flow::location_port(loc);
    e.out_vlan = flow::location_vlan(loc);
    e.routed = 1;
    e.route.fib_gen = fib_gen;
    e.route.l3_gen = l3.generation;
    e.route.nbr_pos = static_cast<uint32_t>(pos);
    e.route.nbr_gen = nbr_gen;
    e.route.out_rif = hop.rif;
    std::memcpy(e.route.src_mac, out.mac, 6);
    e.route.v6 = !dst.is_v4();
    if (e.route.v6)
      std::memcpy(e.route.addrs, rte_pktmbuf_mtod_offset(m, const uint8_t*, RTE_ETHER_HDR_LEN + 8),
                  32);
    ctx.cache.insert(e, cacheable.hash);
  }
  emit(ctx, m, false, flow::location_port(loc), flow::location_vlan(loc));
}

void route_v4(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m, const L3Cacheable& cacheable) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (unlikely(len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr)))
    return router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kBadHeader);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, RTE_ETHER_HDR_LEN);
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
  const uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if (unlikely((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl ||
               RTE_ETHER_HDR_LEN + total > len || !ipv4_checksum_ok(m, ip, ihl)))
    return router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kBadHeader);
  const uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
  const IpAddr dst_addr = IpAddr::v4(dst);
  if (l3.local_rif(dst_addr) != flow::kNoRif) return punt(ctx, m, PuntReason::kLocal, rif);
  // Multicast and limited broadcast are not routed (and get no ICMP error).
  if (unlikely((dst >> 28) == 0xe || dst == 0xffffffffu))
    return router_drop(ctx, m, ctx.router.no_route, TraceRouterDrop::kNotRouted);
  if (unlikely(ip->time_to_live <= 1)) {
    bump(ctx.router.ttl_expired, 1);
    return punt(ctx, m, PuntReason::kTtlExpired, rif);
  }
  const uint32_t fib_gen = ctx.fwd->fib->generation4();
  const uint64_t value = ctx.fwd->fib->lookup4(dst);
  if (unlikely(value == flow::kFibNoRoute)) {
    bump(ctx.router.no_route, 1);
    return punt(ctx, m, PuntReason::kNoRoute, rif);
  }
  flow::FlowKey key;
  flow::ParsedFrame parsed;
  flow::parse_frame(m, 0, key, parsed);
  const uint32_t hash = flow_hash(key, m, RTE_ETHER_HDR_LEN);
  decrement_ttl(ip);
  forward(ctx, l2, l3, m, value, hash, dst_addr, cacheable, fib_gen);
}

void route_v6(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m, const L3Cacheable& cacheable) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (unlikely(len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr)))
    return router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kBadHeader);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, RTE_ETHER_HDR_LEN);
  if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 ||
               RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len) > len))
    return router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kBadHeader);
  const IpAddr dst = IpAddr::v6(ip->dst_addr);
  if (l3.local_rif(dst) != flow::kNoRif) return punt(ctx, m, PuntReason::kLocal, rif);
  // Multicast (ND included) and link-local destinations stay on their link.
  if (ip->dst_addr[0] == 0xff || (ip->dst_addr[0] == 0xfe && (ip->dst_addr[1] & 0xc0) == 0x80)) {
    if (ip->dst_addr[0] == 0xff && ip->proto == IPPROTO_ICMPV6)
      return punt(ctx, m, PuntReason::kNd, rif);
    return router_drop(ctx, m, ctx.router.no_route, TraceRouterDrop::kNotRouted);
  }
  if (unlikely(ip->hop_limits <= 1)) {
    bump(ctx.router.ttl_expired, 1);
    return punt(ctx, m, PuntReason::kTtlExpired, rif);
  }
  const uint32_t fib_gen = ctx.fwd->fib->generation6();
  const uint64_t value = ctx.fwd->fib->lookup6(ip->dst_addr);
  if (unlikely(value == flow::kFibNoRoute)) {
    bump(ctx.router.no_route, 1);
    return punt(ctx, m, PuntReason::kNoRoute, rif);
  }
  flow::FlowKey key{};
  const uint32_t hash = flow_hash(key, m, RTE_ETHER_HDR_LEN);
  --ip->hop_limits;
  forward(ctx, l2, l3, m, value, hash, dst, cacheable, fib_gen);
}

}  // namespace

uint32_t flow_hash(const flow::FlowKey& key, const rte_mbuf* m, uint16_t l3_offset) {
  if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
    return flow_hash_v4(key.src_ip, key.dst_ip, key.l4_proto, key.src_port, key.dst_port);
  // IPv6: addresses, next header, and the ports when TCP/UDP follows the fixed header.
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint8_t proto = p[l3_offset + 6];
  uint32_t ports = 0;
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
      rte_pktmbuf_data_len(m) >= l3_offset + 40u + 4u)
    std::memcpy(&ports, p + l3_offset + 40, 4);
  return flow_hash_v6(p + l3_offset + 8, proto, ports);
}

void punt(WorkerContext& ctx, rte_mbuf* m, PuntReason reason, uint16_t rif,
          const flow::NeighborKey* key) {
  L3Punt p{m, rif, reason, 0, {}};
  if (key != nullptr) p.key = *key;
  if (unlikely(ctx.trace != nullptr)) {
    if (trace_marked(m)) {
      TraceStep step{.kind = TraceKind::kPunt, .a = static_cast<uint8_t>(reason), .b = rif};
      if (key != nullptr) std::memcpy(step.addr, key->ip, 16);
      trace_add(ctx, m, step);
    }
    // The management thread may send it on long after this loop's record is published.
    trace_unmark(m);
  }
  if (unlikely(ctx.punt_ring == nullptr ||
               rte_ring_sp_enqueue_elem(ctx.punt_ring, &p, sizeof(p)) != 0))
    return router_drop(ctx, m, ctx.router.punt_dropped, TraceRouterDrop::kPuntRingFull);
  bump(ctx.router.punted, 1);
}

void l3_input(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m, const flow::ParsedFrame& parsed, const L3Cacheable& cacheable) {
  // Routed packets travel untagged inside the router; the output attachment tags them.
  if (parsed.tagged && rte_vlan_strip(m) != 0)
    return router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kVlanStrip);
  rte_be16_t type;
  std::memcpy(&type, rte_pktmbuf_mtod_offset(m, const uint8_t*, 12), 2);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
    return route_v4(ctx, l2, l3, rif, m, cacheable);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
    return route_v6(ctx, l2, l3, rif, m, cacheable);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return punt(ctx, m, PuntReason::kArp, rif);
  router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kNotIp);
}

unsigned process_injected(WorkerContext& ctx, const flow::L2Config* l2) {
  rte_ring* ring = ctx.inject_ring.load(std::memory_order_acquire);
  if (ring == nullptr) return 0;
  L3Inject items[kBurstSize];
  const unsigned n =
      rte_ring_sc_dequeue_burst_elem(ring, items, sizeof(L3Inject), kBurstSize, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    const L3Inject& it = items[i];
    // Built against another L2 configuration: its port or bridge may be gone.
    if (l2 == nullptr || it.l2_generation != l2->generation) {
      rte_pktmbuf_free(it.m);
      continue;
    }
    if (it.port != kNoPort) {
      emit(ctx, it.m, false, it.port, it.vlan);
    } else {
      flood(ctx, l2->bridges[it.bridge], it.m, false, kNoPort);
    }
  }
  return n;
}

}  // namespace vsw::dp
