// The forwarding database: (bridge, MAC) -> where the MAC lives (port and VLAN attachment).
//
// On rte_hash with lock-free readers. One writer, the management thread; workers look up
// concurrently and never write the table: they report what they learn through a per-worker
// ring (LearnEvent) that the management thread drains. Deleted keys are reclaimed after an
// RCU grace period (rte_hash's QSBR integration, defer-queue mode).
//
// Each key position has an FdbEntry in a parallel array. Its generation changes whenever
// the entry's meaning changes (insert into a reused slot, move, delete), so a flow-cache
// entry that remembers (position, generation) knows when it is stale. The location (port and
// VLAN) is one 32-bit atomic, so a reader never sees a torn port/VLAN pair.
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace vsw::flow {

inline constexpr uint32_t kFdbCapacity = 65536;
inline constexpr uint16_t kNoBridge = UINT16_MAX;

// 8-aligned: rte_hash_crc reads keys as 64-bit words.
struct alignas(8) FdbKey {
  uint16_t bridge;
  uint8_t mac[6];
};
static_assert(sizeof(FdbKey) == 8, "the FDB key is one 8-byte word");

inline uint32_t pack_location(uint16_t port, uint16_t vlan) {
  return (uint32_t{port} << 16) | vlan;
}
inline uint16_t location_port(uint32_t loc) {
  return static_cast<uint16_t>(loc >> 16);
}
inline uint16_t location_vlan(uint32_t loc) {
  return static_cast<uint16_t>(loc & 0xffff);
}

struct alignas(32) FdbEntry {
  std::atomic<uint32_t> generation{0};
  std::atomic<uint32_t> location{0};   // pack_location(port, vlan)
  std::atomic<uint64_t> last_seen{0};  // TSC; refreshed by workers for dynamic entries
  uint16_t bridge = kNoBridge;
  bool is_static = false;
  bool in_use = false;  // management thread only
};

// What a worker saw: `mac` sending on (port, vlan) of `bridge`.
struct LearnEvent {
  FdbKey key;
  uint32_t location;
};

struct FdbMac {
  FdbKey key;
  uint32_t location;
  bool is_static;
  uint64_t last_seen;
};

class Fdb {
 public:
  // `rcu` is the workers' QSBR variable. Returns nullptr-like invalid object on failure:
  // check ok(). Management thread only.
  Fdb(const char* name, uint32_t capacity, rte_rcu_qsbr* rcu);
  ~Fdb();
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  bool ok() const { return hash_ != nullptr; }
  const std::string& error() const { return error_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }

  // ---- readers (workers; lock-free) ----

  // Bulk lookup: positions[i] is the entry index or a negative value when absent.
  void lookup_bulk(const FdbKey* const* keys, uint32_t n, int32_t* positions) const {
    rte_hash_lookup_bulk(hash_, reinterpret_cast<const void**>(const_cast<const FdbKey**>(keys)), n,
                         positions);
  }
  int32_t lookup(const FdbKey& key) const { return rte_hash_lookup(hash_, &key); }
  FdbEntry& entry(int32_t position) const { return entries_[position]; }

  // ---- writer (management thread) ----

  // Inserts or updates. Returns the position, or -ENOSPC when the table is full, -EPERM when
  // a static entry would be overwritten by a dynamic one.
  int32_t upsert(const FdbKey& key, uint32_t location, bool is_static, uint64_t now);
  // Removes the key; returns false when absent.
  bool remove(const FdbKey& key);
  // Visits every entry (management thread).
  void for_each(
      const std::function<void(int32_t position, const FdbKey&, const FdbEntry&)>& fn) const;

 private:
  rte_hash* hash_ = nullptr;
  FdbEntry* entries_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
  std::string error_;
};

}  // namespace vsw::flow
