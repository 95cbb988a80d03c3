// The L3 stage: IPv4/IPv6 packets a bridge received for its router interface's MAC. Checks
// the header, looks the destination up in the FIB, picks the ECMP member by the 5-tuple
// hash, resolves the neighbor, rewrites the MACs and the TTL / hop limit (IPv4 checksum
// updated incrementally) and sends through the output bridge's FDB. Worker fast path only.
//
// What a worker cannot do without locking, allocating or building packets goes to the
// management thread on the worker's punt ring (L3Punt): ARP, ND, packets for the router
// itself, packets needing an ICMP error, and packets whose neighbor is not resolved yet
// (rewritten but for the destination MAC). The management thread sends its frames back
// through the worker's inject ring (L3Inject). See docs/router.md.
#pragma once

#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "flow_cache.h"
#include "flow_key.h"
#include "l2_config.h"
#include "l3_config.h"
#include "neighbor.h"
#include "worker.h"

namespace vsw::dp {

enum class PuntReason : uint8_t {
  kArp,         // ARP to the router MAC, or a broadcast ARP copied off the flood
  kNd,          // ICMPv6 multicast (neighbor solicitations) copied off the flood
  kLocal,       // addressed to one of the router's addresses (echo, ND)
  kTtlExpired,  // TTL / hop limit would reach 0: time exceeded
  kNoRoute,     // no route: destination unreachable
  kResolve,     // rewritten but for the destination MAC: waits for neighbor `key`
};

// 40 bytes: a punted packet and what the management thread needs to handle it.
struct L3Punt {
  rte_mbuf* m;
  uint16_t rif;  // ingress router interface (kResolve: the output one)
  PuntReason reason;
  uint8_t pad;
  flow::NeighborKey key;  // kResolve only
};
static_assert(sizeof(L3Punt) == 40);

// A frame from the management thread: to one attachment, or flooded in a bridge. Built
// against L2Config `l2_generation`: a worker that has a newer one drops it (the port or
// bridge it names may be gone).
struct L3Inject {
  rte_mbuf* m;
  uint16_t port;  // kNoPort: flood in `bridge`
  uint16_t vlan;
  uint16_t bridge;
  uint16_t pad;
  uint32_t l2_generation;
  uint32_t pad2;
};
static_assert(sizeof(L3Inject) == 24);

// What the L2 stage knows that a routed decision's cache entry needs.
struct L3Cacheable {
  const flow::FlowKey* key;
  uint32_t hash;    // the flow cache's hash of `key`
  int32_t src_pos;  // the source's FDB slot when learned at this ingress, else -1 (no caching)
  uint32_t src_gen;
};

// Routes one frame received on the bridge of router interface `rif` (addressed to its MAC;
// learning already done). `parsed` from parse_frame. A forwarded flow is cached.
void l3_input(WorkerContext& ctx, const flow::L2Config& l2, const flow::L3Config& l3, uint16_t rif,
              rte_mbuf* m, const flow::ParsedFrame& parsed, const L3Cacheable& cacheable);

// What a burst's routed cache hits check their entries against, read once per burst instead
// of through three or four dependent loads per packet. A table change during the burst takes
// effect from the next one; what the entries point at stays valid until the loop's
// quiescent state.
struct RoutedView {
  const flow::L3Config* l3 = nullptr;  // null: no router, no routed hit is usable
  uint32_t fib_gen4 = 0;
  uint32_t fib_gen6 = 0;
  flow::NeighborEntry* neighbors = nullptr;
};

inline RoutedView routed_view(const WorkerContext& ctx, const flow::L3Config* l3) {
  RoutedView v;
  if (l3 == nullptr) return v;
  v.l3 = l3;
  v.fib_gen4 = ctx.fwd->fib->generation4();
  v.fib_gen6 = ctx.fwd->fib->generation6();
  v.neighbors = ctx.fwd->neighbors->entries();
  return v;
}

// Counts `m` on `reason`, records the drop in a trace, frees it.
void router_drop(WorkerContext& ctx, rte_mbuf* m, Counter& reason, TraceRouterDrop why);

// Hands `m` to the management thread; drops and counts it when the ring is full.
void punt(WorkerContext& ctx, rte_mbuf* m, PuntReason reason, uint16_t rif,
          const flow::NeighborKey* key = nullptr);

// The 5-tuple hash ECMP uses (stable per flow, whatever the ingress port or MACs): of an
// IPv4 flow key, or of the IPv6 packet at `l3_offset`.
uint32_t flow_hash(const flow::FlowKey& key, const rte_mbuf* m, uint16_t l3_offset);
// The same from fields in network order (route lookup on the control side).
inline uint32_t flow_hash_v4(rte_be32_t src, rte_be32_t dst, uint8_t proto, rte_be16_t sport,
                             rte_be16_t dport) {
  const uint32_t words[3] = {src, dst, uint32_t{proto} ^ (uint32_t{sport} << 16) ^ uint32_t{dport}};
  return rte_hash_crc(words, sizeof(words), 0);
}
// `addrs`: source then destination (32 bytes); `ports`: both ports as they sit in the header.
// Copied first: rte_hash_crc reads 8-byte words, and packet data is only 2-aligned here.
inline uint32_t flow_hash_v6(const uint8_t* addrs, uint8_t proto, uint32_t ports) {
  uint64_t words[4];
  std::memcpy(words, addrs, sizeof(words));
  return rte_hash_crc_4byte(ports ^ proto, rte_hash_crc(words, sizeof(words), 0));
}

}  // namespace vsw::dp
