#include "l3_stage.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "fdb.h"
#include "l2_output.h"

namespace vsw::dp {

namespace {

using flow::IpAddr;

// How stale a neighbor's last-used stamp may get before a worker writes it again: the
// management thread only needs to know "used since it went stale" (seconds).
inline uint64_t stamp_interval() {
  return rte_get_tsc_hz() >> 4;
}

// TTL - 1 and the checksum with it (RFC 1624): the TTL is the high byte of its 16-bit word,
// so the one's-complement sum drops by 0x0100 and the checksum rises by as much.
inline void decrement_ttl(rte_ipv4_hdr* ip) {
  --ip->time_to_live;
  uint32_t c = uint32_t{rte_be_to_cpu_16(ip->hdr_checksum)} + 0x0100;
  c = (c & 0xffff) + (c >> 16);
  ip->hdr_checksum = rte_cpu_to_be_16(static_cast<uint16_t>(c));
}

void drop(rte_mbuf* m, Counter& reason) {
  bump(reason, 1);
  rte_pktmbuf_free(m);
}

// Sends `m` (untagged, MACs rewritten) into `bridge` towards `dst`: the attachment the FDB
// knows, or a flood when it does not (yet).
void output(WorkerContext& ctx, const flow::L2Config& l2, uint16_t bridge, const uint8_t dst[6],
            rte_mbuf* m) {
  flow::FdbKey key{bridge, {}};
  std::memcpy(key.mac, dst, 6);
  const int32_t pos = ctx.fwd->fdb->lookup(key);
  if (pos < 0) return flood(ctx, l2.bridges[bridge], m, false, kNoPort);
  const uint32_t loc = ctx.fwd->fdb->entry(pos).location.load(std::memory_order_acquire);
  emit(ctx, m, false, flow::location_port(loc), flow::location_vlan(loc));
}

// The rest of the forwarding once the next hop is known: shared by both families.
void forward(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, rte_mbuf* m,
             uint64_t value, uint32_t hash, const IpAddr& dst) {
  const flow::Fib& fib = *ctx.fwd->fib;
  const uint32_t nh = fib.next_hops().select(value, hash);
  const flow::NextHopEntry& hop = fib.next_hops().hop(nh);
  if (unlikely(hop.rif >= flow::kMaxRouterInterfaces || !l3.rifs[hop.rif].in_use))
    return drop(m, ctx.router.no_route);
  const flow::RifL3& out = l3.rifs[hop.rif];
  IpAddr via = dst;
  if (!hop.connected) {
    via.family = hop.is_v6 ? flow::Family::kIpv6 : flow::Family::kIpv4;
    std::memcpy(via.bytes, hop.gateway, 16);
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
  const uint64_t now = rte_rdtsc();
  if (now - n.last_used.load(std::memory_order_relaxed) > stamp_interval())
    n.last_used.store(now, std::memory_order_relaxed);
  flow::neighbor_mac(w, eth->dst_addr.addr_bytes);
  bump(ctx.router.routed, 1);
  output(ctx, l2, out.bridge, eth->dst_addr.addr_bytes, m);
}

void route_v4(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (unlikely(len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr)))
    return drop(m, ctx.router.bad_header);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, RTE_ETHER_HDR_LEN);
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
  const uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if (unlikely((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl ||
               RTE_ETHER_HDR_LEN + total > len))
    return drop(m, ctx.router.bad_header);
  const uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
  const IpAddr dst_addr = IpAddr::v4(dst);
  if (l3.local_rif(dst_addr) != flow::kNoRif) return punt(ctx, m, PuntReason::kLocal, rif);
  // Multicast and limited broadcast are not routed (and get no ICMP error).
  if (unlikely((dst >> 28) == 0xe || dst == 0xffffffffu)) return drop(m, ctx.router.no_route);
  if (unlikely(ip->time_to_live <= 1)) {
    bump(ctx.router.ttl_expired, 1);
    return punt(ctx, m, PuntReason::kTtlExpired, rif);
  }
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
  forward(ctx, l2, l3, m, value, hash, dst_addr);
}

void route_v6(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (unlikely(len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr)))
    return drop(m, ctx.router.bad_header);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, RTE_ETHER_HDR_LEN);
  if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 ||
               RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len) > len))
    return drop(m, ctx.router.bad_header);
  const IpAddr dst = IpAddr::v6(ip->dst_addr);
  if (l3.local_rif(dst) != flow::kNoRif) return punt(ctx, m, PuntReason::kLocal, rif);
  // Multicast (ND included) and link-local destinations stay on their link.
  if (ip->dst_addr[0] == 0xff || (ip->dst_addr[0] == 0xfe && (ip->dst_addr[1] & 0xc0) == 0x80)) {
    if (ip->dst_addr[0] == 0xff && ip->proto == IPPROTO_ICMPV6)
      return punt(ctx, m, PuntReason::kNd, rif);
    return drop(m, ctx.router.no_route);
  }
  if (unlikely(ip->hop_limits <= 1)) {
    bump(ctx.router.ttl_expired, 1);
    return punt(ctx, m, PuntReason::kTtlExpired, rif);
  }
  const uint64_t value = ctx.fwd->fib->lookup6(ip->dst_addr);
  if (unlikely(value == flow::kFibNoRoute)) {
    bump(ctx.router.no_route, 1);
    return punt(ctx, m, PuntReason::kNoRoute, rif);
  }
  flow::FlowKey key{};
  const uint32_t hash = flow_hash(key, m, RTE_ETHER_HDR_LEN);
  --ip->hop_limits;
  forward(ctx, l2, l3, m, value, hash, dst);
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
  if (unlikely(ctx.punt_ring == nullptr ||
               rte_ring_sp_enqueue_elem(ctx.punt_ring, &p, sizeof(p)) != 0))
    return drop(m, ctx.router.punt_dropped);
  bump(ctx.router.punted, 1);
}

void l3_input(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m, const flow::ParsedFrame& parsed) {
  // Routed packets travel untagged inside the router; the output attachment tags them.
  if (parsed.tagged && rte_vlan_strip(m) != 0) return drop(m, ctx.router.bad_header);
  rte_be16_t type;
  std::memcpy(&type, rte_pktmbuf_mtod_offset(m, const uint8_t*, 12), 2);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return route_v4(ctx, l2, l3, rif, m);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) return route_v6(ctx, l2, l3, rif, m);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return punt(ctx, m, PuntReason::kArp, rif);
  drop(m, ctx.router.bad_header);
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
