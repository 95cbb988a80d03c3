#include "flow_cache.h"

#include <cstring>

namespace vsw::flow {

namespace {

void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

void FlowCache::insert(const FlowEntry& entry, uint32_t h) {
  FlowEntry* set = sets_[h & (kSets - 1)];
  bump(counters.inserts);
  for (uint32_t w = 0; w < kWays; ++w) {
    if (set[w].valid && set[w].key == entry.key) {
      set[w] = entry;
      set[w].valid = 1;
      return;
    }
  }
  if (!set[0].valid) {
    set[0] = entry;
  } else {
    if (set[1].valid) bump(counters.evictions);
    set[1] = set[0];
    set[0] = entry;
  }
  set[0].valid = 1;
}

void FlowCache::clear() {
  std::memset(static_cast<void*>(sets_), 0, sizeof(sets_));
}

uint32_t FlowCache::snapshot(FlowEntry* out, uint32_t max) const {
  uint32_t n = 0;
  for (uint32_t s = 0; s < kSets && n < max; ++s) {
    for (uint32_t w = 0; w < kWays && n < max; ++w) {
      FlowEntry copy;
      std::memcpy(static_cast<void*>(&copy), &sets_[s][w], sizeof(copy));
      if (copy.valid) out[n++] = copy;
    }
  }
  return n;
}

}  // namespace vsw::flow
