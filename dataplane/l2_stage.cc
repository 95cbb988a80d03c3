#include "l2_stage.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "fdb.h"
#include "flow_key.h"
#include "l2_output.h"
#include "l3_stage.h"
#include "routed_hit.h"

namespace vsw::dp {

namespace {

using flow::FdbEntry;
using flow::FdbKey;
using flow::FlowEntry;
using flow::FlowKey;
using flow::kNoBridge;

// How stale a MAC's last-seen stamp may get before a worker refreshes it: keeps the shared
// FDB line from bouncing between workers on every packet.
inline uint64_t refresh_interval() {
  return rte_get_tsc_hz() >> 3;
}

inline void report_learn(WorkerContext& ctx, const FdbKey& key, uint32_t location) {
  flow::LearnEvent ev{key, location};
  if (unlikely(rte_ring_sp_enqueue_elem(ctx.learn_ring, &ev, sizeof(ev)) != 0))
    bump(ctx.learn_dropped, 1);
}

// The router's interface is a member of the bridge too: it gets its copy of ARP broadcasts
// and of ICMPv6 multicast (neighbor solicitations) while the bridge floods the original.
void punt_copy(WorkerContext& ctx, uint16_t rif, const rte_mbuf* m, const FlowKey& key,
               const flow::ParsedFrame& parsed) {
  PuntReason reason;
  if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
    reason = PuntReason::kArp;
  } else if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
             rte_pktmbuf_data_len(m) > parsed.l2_len + 6u &&
             rte_pktmbuf_mtod(m, const uint8_t*)[parsed.l2_len + 6] == IPPROTO_ICMPV6) {
    reason = PuntReason::kNd;
  } else {
    return;
  }
  rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
  if (unlikely(copy == nullptr)) return bump(ctx.router.punt_dropped, 1);
  punt(ctx, copy, reason, rif);
}

// A trace hook that exists only in the traced instantiation of the templates below.
template <bool kTrace>
inline void step(WorkerContext& ctx, const rte_mbuf* m, const TraceStep& s) {
  if constexpr (kTrace) trace_add(ctx, m, s);
}

// The miss path for one frame: learn, decide, cache when the decision is cacheable. Compiled
// with and without trace hooks, as the burst loop.
template <bool kTrace>
void switch_miss(WorkerContext& ctx, const flow::L2Config& l2, uint16_t bridge_id, rte_mbuf* m,
                 const FlowKey& key, uint32_t hash, bool tagged, uint64_t now) {
  const flow::Fdb& fdb = *ctx.fwd->fdb;
  const uint32_t here = flow::pack_location(key.in_port, key.vlan);
  FdbKey src{bridge_id, {}};
  std::memcpy(src.mac, key.src, 6);
  int32_t src_pos = -1;
  if (!flow::is_multicast(key.src)) {
    src_pos = fdb.lookup(src);
    if (src_pos < 0 || fdb.entry(src_pos).location.load(std::memory_order_acquire) != here) {
      // A dry run's source is made up: it is not learned (a dry run always traces).
      if (!kTrace || !ctx.dry_run) report_learn(ctx, src, here);
      step<kTrace>(ctx, m, {.kind = TraceKind::kFdbSource, .a = 1});
    } else {
      FdbEntry& s = fdb.entry(src_pos);
      if (now - s.last_seen.load(std::memory_order_relaxed) > refresh_interval() &&
          (!kTrace || !ctx.dry_run))
        s.last_seen.store(now, std::memory_order_relaxed);
      step<kTrace>(ctx, m, {.kind = TraceKind::kFdbSource, .a = 0});
    }
  }
  const flow::L3Config* l3 = ctx.fwd->l3.load(std::memory_order_acquire);
  if (l3 != nullptr && l3->bridge_rif[bridge_id] != flow::kNoRif) {
    const uint16_t rif = l3->bridge_rif[bridge_id];
    const flow::ParsedFrame parsed{static_cast<uint16_t>(tagged ? 18 : 14), tagged};
    if (std::memcmp(key.dst, l3->rifs[rif].mac, 6) == 0) {
      step<kTrace>(ctx, m, {.kind = TraceKind::kRouterIf, .b = rif});
      // Cacheable only once the source is learned here, as for switched flows.
      L3Cacheable c{&key, hash, -1, 0};
      if (src_pos >= 0) {
        const FdbEntry& s = fdb.entry(src_pos);
        const uint32_t gen = s.generation.load(std::memory_order_acquire);
        if (s.location.load(std::memory_order_acquire) == here) {
          c.src_pos = src_pos;
          c.src_gen = gen;
        }
      }
      return l3_input(ctx, l2, *l3, rif, m, parsed, c);
    }
    if (flow::is_multicast(key.dst)) punt_copy(ctx, rif, m, key, parsed);
  }
  const flow::BridgeL2& bridge = l2.bridges[bridge_id];
  if (flow::is_multicast(key.dst)) {
    step<kTrace>(ctx, m,
                 {.kind = TraceKind::kFdbDest, .a = static_cast<uint8_t>(TraceFdb::kMulticast)});
    return flood(ctx, bridge, m, tagged, key.in_port);
  }
  FdbKey dst{bridge_id, {}};
  std::memcpy(dst.mac, key.dst, 6);
  const int32_t dst_pos = fdb.lookup(dst);
  if (dst_pos < 0) {
    step<kTrace>(ctx, m,
                 {.kind = TraceKind::kFdbDest, .a = static_cast<uint8_t>(TraceFdb::kUnknown)});
    return flood(ctx, bridge, m, tagged, key.in_port);
  }
  const FdbEntry& d = fdb.entry(dst_pos);
  const uint32_t dst_gen = d.generation.load(std::memory_order_acquire);
  const uint32_t loc = d.location.load(std::memory_order_acquire);
  const uint16_t out_port = flow::location_port(loc);
  const uint16_t out_vlan = flow::location_vlan(loc);
  step<kTrace>(
      ctx, m,
      {.kind = TraceKind::kFdbDest,
       .a = static_cast<uint8_t>(out_port == key.in_port ? TraceFdb::kIngress : TraceFdb::kUnicast),
       .port = out_port,
       .b = out_vlan});
  if (out_port == key.in_port) {
    // The destination lives behind the ingress port: never send a frame back out.
    bump(ctx.ports[key.in_port].no_destination, 1);
    rte_pktmbuf_free(m);
    return;
  }
  // Cacheable only once the source is learned here: a hit skips learning, so the cache must
  // not hide a source that still has to be learned or has moved.
  if (src_pos >= 0) {
    const FdbEntry& s = fdb.entry(src_pos);
    if (s.location.load(std::memory_order_acquire) == here) {
      FlowEntry e{};
      e.key = key;
      e.dst_pos = static_cast<uint32_t>(dst_pos);
      e.dst_gen = dst_gen;
      e.src_pos = static_cast<uint32_t>(src_pos);
      e.src_gen = s.generation.load(std::memory_order_acquire);
      e.config_gen = l2.generation;
      e.out_port = out_port;
      e.out_vlan = out_vlan;
      ctx.cache.insert(e, hash);
    }
  }
  emit(ctx, m, tagged, out_port, out_vlan);
}

// The burst loop, compiled twice: with kTrace false (no session: the usual case) the hit
// path carries no trace hook at all; the measured cost of one load and untaken branch per
// packet was 1.5-2.5 cycles on a 35-cycle hit.
template <bool kTrace>
void l2_burst(WorkerContext& ctx, const flow::L2Config& l2, uint16_t in_port, rte_mbuf** pkts,
              uint16_t n) {
  PortCounters& in = ctx.ports[in_port];
  const flow::PortL2& port = l2.ports[in_port];
  const flow::Fdb& fdb = *ctx.fwd->fdb;
  const uint64_t now = rte_rdtsc();
  const uint64_t refresh = refresh_interval();
  const flow::L3Config* l3 = ctx.fwd->l3.load(std::memory_order_acquire);
  FlowKey keys[kBurstSize];
  uint32_t hashes[kBurstSize];
  flow::ParsedFrame parsed[kBurstSize];
  bool ok[kBurstSize];
  // Stage 1: parse the whole burst and prefetch each flow's cache slots.
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 2 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void*));
    ok[i] = flow::parse_frame(pkts[i], in_port, keys[i], parsed[i]) == flow::ParseResult::kOk;
    if (likely(ok[i])) {
      hashes[i] = flow::FlowCache::hash(keys[i]);
      ctx.cache.prefetch(hashes[i]);
    }
  }
  // Stage 2: decide per packet.
  const RoutedView view = routed_view(ctx, l3);
  uint64_t hits = 0, misses = 0, stale = 0, routed = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (unlikely(!ok[i])) {
      bump(in.malformed, 1);
      step<kTrace>(ctx, m, {.kind = TraceKind::kMalformed});
      rte_pktmbuf_free(m);
      continue;
    }
    const FlowKey& key = keys[i];
    const uint16_t bridge = port.bridge_for(parsed[i].tagged ? key.vlan : 0);
    if (unlikely(bridge == kNoBridge)) {
      bump(parsed[i].tagged ? in.unknown_vlan : in.no_destination, 1);
      step<kTrace>(ctx, m,
                   {.kind = TraceKind::kNoDestination, .a = parsed[i].tagged, .b = key.vlan});
      rte_pktmbuf_free(m);
      continue;
    }
    const FlowEntry* e = ctx.cache.find(key, hashes[i]);
    if (likely(e != nullptr)) {
      const FdbEntry& d = fdb.entry(static_cast<int32_t>(e->dst_pos));
      FdbEntry& s = fdb.entry(static_cast<int32_t>(e->src_pos));
      if (likely(e->config_gen == l2.generation &&
                 d.generation.load(std::memory_order_acquire) == e->dst_gen &&
                 s.generation.load(std::memory_order_acquire) == e->src_gen) &&
          (likely(!e->routed) ||
           routed_hit<kTrace>(ctx, view, *e, m, parsed[i], now, refresh, routed))) {
        ++hits;
        if (unlikely(now - s.last_seen.load(std::memory_order_relaxed) > refresh))
          s.last_seen.store(now, std::memory_order_relaxed);
        if (likely(!e->routed)) {
          step<kTrace>(ctx, m,
                       {.kind = TraceKind::kCache,
                        .a = static_cast<uint8_t>(TraceCache::kHit),
                        .port = e->out_port,
                        .b = e->out_vlan});
          emit(ctx, m, parsed[i].tagged, e->out_port, e->out_vlan);
        }
        continue;
      }
      ++stale;
      step<kTrace>(ctx, m,
                   {.kind = TraceKind::kCache, .a = static_cast<uint8_t>(TraceCache::kStale)});
    } else {
      step<kTrace>(ctx, m,
                   {.kind = TraceKind::kCache, .a = static_cast<uint8_t>(TraceCache::kMiss)});
    }
    ++misses;
    switch_miss<kTrace>(ctx, l2, bridge, m, key, hashes[i], parsed[i].tagged, now);
  }
  flow::FlowCacheCounters& c = ctx.cache.counters;
  if (hits) bump(c.hits, hits);
  if (misses) bump(c.misses, misses);
  if (stale) bump(c.stale, stale);
  if (routed) bump(ctx.router.routed, routed);
}

}  // namespace

void l2_stage(WorkerContext& ctx, const flow::L2Config& l2, uint16_t in_port, rte_mbuf** pkts,
              uint16_t n) {
  if (unlikely(ctx.trace != nullptr)) return l2_burst<true>(ctx, l2, in_port, pkts, n);
  l2_burst<false>(ctx, l2, in_port, pkts, n);
}

}  // namespace vsw::dp
