// The routed flow-cache hit: what the L2 stage does with a cached entry addressed to a router
// interface. In a header so that it inlines into the L2 burst loop: as a call it paid a
// stack frame, six saved registers and reloads of what the loop already held (bench/README.md).
#pragma once

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "flow_cache.h"
#include "flow_key.h"
#include "ipv4_header.h"
#include "l2_output.h"
#include "l3_stage.h"
#include "neighbor.h"
#include "worker.h"

namespace vsw::dp {

// A flow-cache hit on a routed entry whose L2 generations matched: checks the router's
// generations (FIB, L3 configuration, neighbor), the TTL and the header lengths and checksum,
// rewrites and sends. Returns false, leaving the frame untouched, when the entry cannot be
// used (the miss path decides). `stamp`: how stale the neighbor's last-used stamp may get.
// `routed` counts the frames sent (the caller adds it to the router's counter once a burst).
// kTrace: whether a trace session runs (the hit path is compiled without hooks otherwise).
template <bool kTrace>
__attribute__((always_inline)) inline bool routed_hit(WorkerContext& ctx, const RoutedView& view,
                                                      const flow::FlowEntry& e, rte_mbuf* m,
                                                      const flow::ParsedFrame& parsed, uint64_t now,
                                                      uint64_t stamp, uint64_t& routed) {
  const flow::RoutedPart& r = e.route;
  // No L3 configuration: the router is being torn down (the tables may be gone).
  if (unlikely(view.l3 == nullptr || r.l3_gen != view.l3->generation)) return false;
  if (unlikely(r.fib_gen != (r.v6 ? view.fib_gen6 : view.fib_gen4))) return false;
  flow::NeighborEntry& n = view.neighbors[r.nbr_pos];
  if (unlikely(n.generation.load(std::memory_order_acquire) != r.nbr_gen)) return false;
  const uint64_t w = n.mac_state.load(std::memory_order_acquire);
  if (unlikely(!flow::neighbor_usable(w))) return false;
  auto* p = rte_pktmbuf_mtod(m, uint8_t*);
  const uint16_t l3_off = parsed.l2_len;
  // The key does not cover the IP lengths or the checksum: a header claiming more than the
  // frame holds (found by fuzzing, tests/fuzz) or with a wrong checksum takes the miss path,
  // which drops it as bad_header.
  const uint32_t l3_len = rte_pktmbuf_data_len(m) - l3_off;
  if (r.v6) {
    // The key folds the addresses: the full ones must match too.
    if (unlikely(std::memcmp(p + l3_off + 8, r.addrs, 32) != 0 || p[l3_off + 7] <= 1)) return false;
    if (unlikely(40u + ((p[l3_off + 4] << 8) | p[l3_off + 5]) > l3_len)) return false;
  } else {
    if (unlikely(p[l3_off + 8] <= 1)) return false;  // TTL: the miss path sends time exceeded
    const uint32_t ihl = (p[l3_off] & 0x0f) * 4u, total = (p[l3_off + 2] << 8) | p[l3_off + 3];
    if (unlikely(total < ihl || total > l3_len || !ipv4_checksum_ok(m, p + l3_off, ihl)))
      return false;
  }
  if (unlikely(parsed.tagged)) {
    if (rte_vlan_strip(m) != 0) {
      router_drop(ctx, m, ctx.router.bad_header, TraceRouterDrop::kVlanStrip);
      return true;
    }
    p = rte_pktmbuf_mtod(m, uint8_t*);
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  flow::neighbor_mac(w, eth->dst_addr.addr_bytes);
  std::memcpy(eth->src_addr.addr_bytes, r.src_mac, 6);
  if (r.v6) {
    --p[RTE_ETHER_HDR_LEN + 7];
  } else {
    decrement_ttl(reinterpret_cast<rte_ipv4_hdr*>(p + RTE_ETHER_HDR_LEN));
  }
  if (unlikely(now - n.last_used.load(std::memory_order_relaxed) > stamp))
    n.last_used.store(now, std::memory_order_relaxed);
  ++routed;
  if constexpr (kTrace) {
    TraceStep step{.kind = TraceKind::kRoutedHit, .port = r.out_rif, .b = r.nbr_pos};
    std::memcpy(&step.c, eth->dst_addr.addr_bytes, 6);
    trace_add(ctx, m, step);
  }
  emit(ctx, m, false, e.out_port, e.out_vlan);
  return true;
}

}  // namespace vsw::dp
