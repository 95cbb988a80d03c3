// Next hops and ECMP groups: the objects routes point at, shared between routes.
//
// A next hop is a router interface plus either a gateway address or "connected" (the packet's
// own destination is the neighbor). An ECMP group is 2..16 next hops. Both are interned:
// routes naming the same next hop (or the same set) share one object, counted by reference.
//
// Workers read slots by index (the value the FIB returns) with no lock. A slot is written
// only while no route names it, and a released slot is reused only after an RCU grace period,
// so a worker that read an index from the FIB before the route went away still finds the
// object it expects. Management thread only for everything but the readers.
#pragma once

#include <rte_rcu_qsbr.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "ip_addr.h"

namespace vsw::flow {

inline constexpr uint32_t kMaxEcmpWays = 16;

// The FIB's next-hop value. DIR24_8 with 2-byte entries keeps 15 bits, so every value fits
// under 0x8000 (see docs/router.md for the memory this saves).
inline constexpr uint32_t kFibRetry = 0;    // a zeroed table entry: looked up mid-update, retry
inline constexpr uint32_t kFibNoRoute = 1;  // the tables' default
inline constexpr uint32_t kFirstNextHop = 2;
inline constexpr uint32_t kMaxNextHops = 16382;                           // slots 2..16383
inline constexpr uint32_t kEcmpGroupBase = kFirstNextHop + kMaxNextHops;  // 16384
inline constexpr uint32_t kMaxEcmpGroups = 16384;                         // values 16384..32767

inline bool is_ecmp_value(uint64_t value) {
  return value >= kEcmpGroupBase;
}

// What the operator names: interface and gateway (or connected).
struct NextHop {
  uint16_t rif = 0;  // router interface id
  bool connected = false;
  IpAddr gateway;  // unused when connected

  auto operator<=>(const NextHop& o) const = default;
};

// The worker's view of a next hop; immutable while any route names it.
struct alignas(32) NextHopEntry {
  uint16_t rif;
  uint8_t connected;
  uint8_t is_v6;  // gateway family
  uint8_t gateway[16];
};
static_assert(sizeof(NextHopEntry) == 32);

struct alignas(64) EcmpGroupEntry {
  uint16_t count;
  uint16_t members[kMaxEcmpWays];  // next-hop values
};
static_assert(sizeof(EcmpGroupEntry) == 64);

class NextHopTable {
 public:
  // `rcu` may be null (no readers: tests of the control side), then slots are reused at once.
  explicit NextHopTable(rte_rcu_qsbr* rcu);
  ~NextHopTable();
  NextHopTable(const NextHopTable&) = delete;
  NextHopTable& operator=(const NextHopTable&) = delete;

  bool ok() const { return hops_ != nullptr && groups_ != nullptr; }

  // ---- readers (workers) ----
  const NextHopEntry& hop(uint32_t value) const { return hops_[value]; }
  const EcmpGroupEntry& group(uint32_t value) const { return groups_[value - kEcmpGroupBase]; }
  // The next-hop value a flow with `hash` takes for FIB value `value` (a next hop or group).
  uint32_t select(uint64_t value, uint32_t hash) const {
    if (!is_ecmp_value(value)) return static_cast<uint32_t>(value);
    const EcmpGroupEntry& g = group(static_cast<uint32_t>(value));
    // Multiply-shift instead of a division: same spread, a few cycles.
    return g.members[(uint64_t{hash} * g.count) >> 32];
  }

  // ---- writer (management thread) ----

  // A value for `hops` (one next hop, or a group of 2..16 distinct ones), with one more
  // reference. Returns 0 and sets `error` when the table is full or `hops` is invalid.
  uint32_t acquire(const std::vector<NextHop>& hops, std::string* error);
  // Drops one reference of a value acquire() returned.
  void release(uint32_t value);
  // The next hops a value stands for (for listings and lookups).
  std::vector<NextHop> describe(uint32_t value) const;

  uint32_t hops_in_use() const { return static_cast<uint32_t>(hop_ids_.size()); }
  uint32_t groups_in_use() const { return static_cast<uint32_t>(group_ids_.size()); }
  uint32_t refs(uint32_t value) const;
  // Slots waiting for a grace period before reuse.
  uint32_t deferred() const { return static_cast<uint32_t>(deferred_.size()); }

 private:
  struct Deferred {
    uint32_t value;
    uint64_t token;
  };
  uint32_t acquire_hop(const NextHop& hop, std::string* error);
  uint32_t take_free(std::vector<uint32_t>& free_list);
  void reclaim(bool wait);

  rte_rcu_qsbr* rcu_;
  NextHopEntry* hops_ = nullptr;      // indexed by value; 0 and 1 unused
  EcmpGroupEntry* groups_ = nullptr;  // indexed by value - kEcmpGroupBase
  std::map<NextHop, uint32_t> hop_ids_;
  std::map<std::vector<uint32_t>, uint32_t> group_ids_;  // sorted member values -> value
  std::vector<NextHop> hop_specs_;                       // by value
  std::vector<std::vector<uint32_t>> group_members_;     // by value - kEcmpGroupBase
  std::vector<uint32_t> refs_hops_, refs_groups_;
  std::vector<uint32_t> free_hops_, free_groups_;
  std::deque<Deferred> deferred_;
};

}  // namespace vsw::flow
