// The per-worker flow cache: an exact-match table from FlowKey to the whole forwarding
// decision, owned by one worker (no locks, no sharing, no allocation after start).
//
// Two-choice cuckoo: a flow lives in way 0 at one index of its hash or in way 1 at another
// (16384 slots per way, 32768 flows, 4 MiB, 128 bytes per entry: an L2 hit reads the first
// line only; routed flows use the second). A lookup reads two slots, prefetched, as a 2-way
// set did; but where a 2-way set thrashed as soon as three active flows shared it (any
// 1,000 flows hold such a triple about half the time: 0.7% misses, ~200 cycles each), an
// insert here moves the flow in its way to that flow's other slot, so active flows stop
// evicting each other until the table is near half full (docs/flow-cache.md). A hit costs a
// CRC32 hash of the 32-byte key, one or two key compares and the validity checks of the
// stage that uses it.
//
// Entries are never invalidated by a writer: each carries the generations of what it was
// built from (FDB entries, the L2 configuration), and the stage treats an entry whose
// generations no longer match as a miss. See docs/flow-cache.md.
#pragma once

#include <nmmintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "flow_key.h"

namespace vsw::flow {

// What a routed flow adds (the entry's second line; an L2 hit never reads it).
struct RoutedPart {
  uint32_t fib_gen;  // Fib::generation4/6 (of the flow's family) before the FIB lookup
  uint32_t l3_gen;   // L3Config::generation
  uint32_t nbr_pos;  // the neighbor's NeighborTable position, and its generation
  uint32_t nbr_gen;
  uint16_t out_rif;
  uint8_t v6;
  uint8_t pad;
  uint8_t addrs[32];   // IPv6: source and destination, compared on a hit (the key folds them)
  uint8_t src_mac[6];  // the output router interface's (its changes bump l3_gen)
};
static_assert(sizeof(RoutedPart) <= 64);

// Line 0: the key and the L2 decision, all an L2 hit reads. Line 1: the routed decision.
// For a routed flow, dst_pos/dst_gen name the neighbor MAC's FDB slot in the output bridge
// and out_port/out_vlan its attachment.
struct alignas(64) FlowEntry {
  FlowKey key;
  uint32_t dst_pos;  // FDB position of the destination MAC
  uint32_t dst_gen;  // its generation when cached
  uint32_t src_pos;  // FDB position of the source MAC (learned at this ingress)
  uint32_t src_gen;
  uint32_t config_gen;  // L2Config::generation when cached
  uint16_t out_port;
  uint16_t out_vlan;  // VLAN of the output attachment, 0 untagged
  uint8_t valid;
  uint8_t routed;  // 1: addressed to a router interface; `routed` below holds the rest
  alignas(64) RoutedPart route;
};
static_assert(offsetof(FlowEntry, route) == 64, "the L2 decision fits the first line");
static_assert(sizeof(FlowEntry) == 128, "two cache lines per flow");

struct FlowCacheCounters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> stale{0};      // found but built from something that changed
  std::atomic<uint64_t> evictions{0};  // a valid flow replaced by a new one
  std::atomic<uint64_t> inserts{0};
};

class FlowCache {
 public:
  static constexpr uint32_t kSets = 16384;  // slots per way
  static constexpr uint32_t kWays = 2;
  static constexpr uint32_t kCapacity = kSets * kWays;
  // How many flows one insert may move before it evicts the last one it displaced: one move
  // settles nearly every conflict while the cache is lightly loaded, and each further one is
  // a miss in memory (eight cost the 100k-flow miss path 2.5x).
  static constexpr uint32_t kMaxMoves = 1;
  // Inserts into a full pair of slots per window over which the cache judges whether it is
  // crowded (evictions over a quarter of the window's lookups: no moves in the next window).
  // Lookups are read from `counters.hits` and `counters.misses`, which the stage keeps.
  static constexpr uint32_t kWindow = 1024;

  // CRC32-C of the key's four 8-byte words in two independent chains (the instruction's
  // 3-cycle latency overlaps), called directly: rte_hash_crc checks its run-time algorithm
  // choice before every word, and DPDK's x86 build requires SSE4.2 anyway (-march=corei7).
  // CRC is linear: keys that differ in a few bits (sequential addresses) map to a subspace,
  // and flows numbered 0..98303 in the source address reached only 8,192 of the 16,384 slot
  // indexes (tests/flowtable/flow_cache_test.cc). The multiply's high half mixes every bit
  // into the ones the indexes take.
  static uint32_t hash(const FlowKey& key) {
    uint64_t w[4];
    std::memcpy(w, &key, sizeof(w));
    const uint64_t a = _mm_crc32_u64(_mm_crc32_u64(0, w[0]), w[1]);
    const uint64_t b = _mm_crc32_u64(_mm_crc32_u64(0x9e3779b9u, w[2]), w[3]);
    return static_cast<uint32_t>(((a << 32) | b) * 0x9e3779b97f4a7c15ull >> 32);
  }

  // The flow's slot in way 0 (low bits of the hash) and in way 1 (high bits).
  static uint32_t index0(uint32_t h) { return h & (kSets - 1); }
  static uint32_t index1(uint32_t h) { return (h >> 18) & (kSets - 1); }

  // The entry for `key`, or nullptr. Does not check generations.
  FlowEntry* find(const FlowKey& key, uint32_t h) {
    FlowEntry* a = slot(h, 0);
    if (a->valid && a->key == key) return a;
    FlowEntry* b = slot(h, 1);
    if (b->valid && b->key == key) return b;
    return nullptr;
  }

  // Both lines of both slots. An L2 hit reads only the first, but prefetching the routed
  // part too cost the L2 hit nothing measurable and saved the routed hit ~2 cycles
  // (bench/README.md, 2026-11-28).
  void prefetch(uint32_t h) const {
    const FlowEntry* a = slot(h, 0);
    const FlowEntry* b = slot(h, 1);
    __builtin_prefetch(a);
    __builtin_prefetch(b);
    __builtin_prefetch(&a->route);
    __builtin_prefetch(&b->route);
  }

  // Installs `entry` (its key must be set); replaces an existing entry for the same key.
  void insert(const FlowEntry& entry, uint32_t h);

  // Drops every entry (tests, and `flow flush`).
  void clear();

  // Copies up to `max` valid entries into `out` (a best-effort snapshot when called from
  // another thread: entries may be mid-update; callers only display them).
  uint32_t snapshot(FlowEntry* out, uint32_t max) const;

  FlowCacheCounters counters;

 private:
  // The flow's slot in `way` (0 or 1).
  FlowEntry* slot(uint32_t h, uint32_t way) {
    return way == 0 ? &sets_[index0(h)][0] : &sets_[index1(h)][1];
  }
  const FlowEntry* slot(uint32_t h, uint32_t way) const {
    return const_cast<FlowCache*>(this)->slot(h, way);
  }
  void evicted();

  uint32_t window_inserts_ = 0;
  uint32_t window_evictions_ = 0;
  uint64_t window_lookups_ = 0;  // hits + misses when the window began
  bool crowded_ = false;
  FlowEntry sets_[kSets][kWays] = {};
};

}  // namespace vsw::flow
