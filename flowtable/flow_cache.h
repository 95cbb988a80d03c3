// The per-worker flow cache: an exact-match table from FlowKey to the whole forwarding
// decision, owned by one worker (no locks, no sharing, no allocation after start).
//
// Two-way set associative, 16384 sets (32768 flows, 4 MiB), 128 bytes per entry (an L2 hit
// reads the first line only; routed flows use the second). 4096 sets left 1.6% of 1,000
// flows in sets of three or more, thrashing: ~4 cycles on the average routed hit, gone at
// 16384 (docs/flow-cache.md). A hit costs a
// CRC32 hash of the 32-byte key, one or two key compares and the validity checks of the
// stage that uses it. Replacement: a new flow goes to an empty way, else evicts way 1 after
// moving way 0 there (way 0 holds the most recently installed flow of the set).
//
// Entries are never invalidated by a writer: each carries the generations of what it was
// built from (FDB entries, the L2 configuration), and the stage treats an entry whose
// generations no longer match as a miss. See docs/flow-cache.md.
#pragma once

#include <rte_hash_crc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

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
  static constexpr uint32_t kSets = 16384;
  static constexpr uint32_t kWays = 2;
  static constexpr uint32_t kCapacity = kSets * kWays;

  static uint32_t hash(const FlowKey& key) { return rte_hash_crc(&key, sizeof(key), 0); }

  // The entry for `key`, or nullptr. Does not check generations.
  FlowEntry* find(const FlowKey& key, uint32_t h) {
    FlowEntry* set = sets_[h & (kSets - 1)];
    if (set[0].valid && set[0].key == key) return &set[0];
    if (set[1].valid && set[1].key == key) return &set[1];
    return nullptr;
  }

  // The first line of both ways (an L2 hit reads nothing else).
  void prefetch(uint32_t h) const {
    __builtin_prefetch(&sets_[h & (kSets - 1)][0]);
    __builtin_prefetch(&sets_[h & (kSets - 1)][1]);
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
  FlowEntry sets_[kSets][kWays] = {};
};

}  // namespace vsw::flow
