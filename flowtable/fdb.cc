#include "fdb.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <cerrno>
#include <vector>

namespace vsw::flow {

Fdb::Fdb(const char* name, uint32_t capacity, rte_rcu_qsbr* rcu) : capacity_(capacity) {
  rte_hash_parameters params{};
  params.name = name;
  params.entries = capacity;
  params.key_len = sizeof(FdbKey);
  params.hash_func = rte_hash_crc;
  params.socket_id = SOCKET_ID_ANY;
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&params);
  if (hash_ == nullptr) {
    error_ = std::string("rte_hash_create: ") + rte_strerror(rte_errno);
    return;
  }
  if (rcu != nullptr) {
    rte_hash_rcu_config rcfg{};
    rcfg.v = rcu;
    rcfg.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(hash_, &rcfg) != 0) {
      error_ = std::string("rte_hash_rcu_qsbr_add: ") + rte_strerror(rte_errno);
      rte_hash_free(hash_);
      hash_ = nullptr;
      return;
    }
  }
  // rte_hash hands out positions below its internal key count, which rounds the capacity up.
  const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(hash_)) + 1;
  entries_ = static_cast<FdbEntry*>(rte_zmalloc("vsw_fdb_entries", sizeof(FdbEntry) * slots, 64));
  if (entries_ == nullptr) {
    error_ = "cannot allocate FDB entries";
    rte_hash_free(hash_);
    hash_ = nullptr;
    return;
  }
  for (uint32_t i = 0; i < slots; ++i) new (&entries_[i]) FdbEntry();
}

Fdb::~Fdb() {
  if (hash_) rte_hash_free(hash_);
  rte_free(entries_);
}

int32_t Fdb::upsert(const FdbKey& key, uint32_t location, bool is_static, uint64_t now) {
  const int32_t existing = rte_hash_lookup(hash_, &key);
  if (existing >= 0) {
    FdbEntry& e = entries_[existing];
    if (e.is_static && !is_static) return -EPERM;
    e.last_seen.store(now, std::memory_order_relaxed);
    const bool moved = e.location.load(std::memory_order_relaxed) != location;
    if (moved || e.is_static != is_static) {
      e.location.store(location, std::memory_order_release);
      e.is_static = is_static;
      e.generation.fetch_add(1, std::memory_order_release);
    }
    return existing;
  }
  if (size_ >= capacity_) return -ENOSPC;
  const int32_t pos = rte_hash_add_key(hash_, &key);
  if (pos < 0) return pos;
  FdbEntry& e = entries_[pos];
  // A reused slot: the new generation tells cached flows of the old key apart.
  e.generation.fetch_add(1, std::memory_order_relaxed);
  e.location.store(location, std::memory_order_relaxed);
  e.last_seen.store(now, std::memory_order_relaxed);
  e.bridge = key.bridge;
  e.is_static = is_static;
  e.in_use = true;
  std::atomic_thread_fence(std::memory_order_release);
  ++size_;
  return pos;
}

bool Fdb::remove(const FdbKey& key) {
  const int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos < 0) return false;
  FdbEntry& e = entries_[pos];
  // Stale first, then gone: a cached flow that still names this slot misses from now on.
  e.generation.fetch_add(1, std::memory_order_release);
  e.in_use = false;
  rte_hash_del_key(hash_, &key);  // the slot is reclaimed after a grace period
  --size_;
  return true;
}

void Fdb::for_each(const std::function<void(int32_t, const FdbKey&, const FdbEntry&)>& fn) const {
  uint32_t iter = 0;
  const void* key;
  void* data;
  int32_t pos;
  while ((pos = rte_hash_iterate(hash_, &key, &data, &iter)) >= 0) {
    fn(pos, *static_cast<const FdbKey*>(key), entries_[pos]);
  }
}

}  // namespace vsw::flow
