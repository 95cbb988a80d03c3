#include "neighbor.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <algorithm>

namespace vsw::flow {

NeighborKey neighbor_key(uint16_t rif, const IpAddr& ip) {
  NeighborKey k{};
  k.rif = rif;
  k.is_v6 = !ip.is_v4();
  std::memcpy(k.ip, ip.bytes, 16);
  return k;
}

IpAddr neighbor_ip(const NeighborKey& key) {
  IpAddr a;
  a.family = key.is_v6 ? Family::kIpv6 : Family::kIpv4;
  std::memcpy(a.bytes, key.ip, 16);
  return a;
}

const char* state_name(NeighborState s) {
  switch (s) {
    case NeighborState::kIncomplete:
      return "incomplete";
    case NeighborState::kReachable:
      return "reachable";
    case NeighborState::kStale:
      return "stale";
    case NeighborState::kProbe:
      return "probe";
  }
  return "?";
}

NeighborTable::NeighborTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* rcu,
                             uint64_t hz, const NeighborTimers& timers)
    : capacity_(capacity), hz_(hz), timers_(timers) {
  rte_hash_parameters params{};
  params.name = name.c_str();
  params.entries = std::max(capacity, 64u);  // rte_hash's minimum; the capacity is ours
  params.key_len = sizeof(NeighborKey);
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
  const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(hash_)) + 1;
  entries_ = static_cast<NeighborEntry*>(
      rte_zmalloc("vsw_neighbors", sizeof(NeighborEntry) * slots, RTE_CACHE_LINE_SIZE));
  if (entries_ == nullptr) {
    error_ = "cannot allocate neighbor entries";
    rte_hash_free(hash_);
    hash_ = nullptr;
    return;
  }
  for (uint32_t i = 0; i < slots; ++i) new (&entries_[i]) NeighborEntry();
  slots_.resize(slots);
}

NeighborTable::~NeighborTable() {
  for (Slot& s : slots_) {
    for (rte_mbuf* m : s.waiting) rte_pktmbuf_free(m);
  }
  if (hash_) rte_hash_free(hash_);
  rte_free(entries_);
}

void NeighborTable::set(int32_t pos, const uint8_t mac[6], NeighborState state, bool bump) {
  NeighborEntry& e = entries_[pos];
  e.mac_state.store(pack_neighbor(mac, state), std::memory_order_release);
  if (bump) e.generation.fetch_add(1, std::memory_order_release);
}

int32_t NeighborTable::create(const NeighborKey& key, uint64_t now) {
  if (size_ >= capacity_) {
    ++counters_.table_full;
    return -ENOSPC;
  }
  const int32_t pos = rte_hash_add_key(hash_, &key);
  if (pos < 0) {
    ++counters_.table_full;
    return pos;
  }
  const uint8_t zero[6] = {};
  // A reused slot: the new generation tells cached flows of the old neighbor apart.
  set(pos, zero, NeighborState::kIncomplete, true);
  entries_[pos].last_used.store(0, std::memory_order_relaxed);
  Slot& s = slots_[pos];
  s.key = key;
  s.in_use = true;
  s.confirmed = now;
  s.next_probe = now + ms(timers_.retrans_ms);
  s.probes = 1;
  s.waiting.clear();
  ++size_;
  return pos;
}

void NeighborTable::drop(int32_t pos, std::vector<rte_mbuf*>* dropped) {
  Slot& s = slots_[pos];
  const uint8_t zero[6] = {};
  // Stale first, then gone: a cached flow that names this slot misses from now on.
  set(pos, zero, NeighborState::kIncomplete, true);
  pending_ -= static_cast<uint32_t>(s.waiting.size());
  for (rte_mbuf* m : s.waiting) dropped->push_back(m);
  s.waiting.clear();
  s.in_use = false;
  rte_hash_del_key(hash_, &s.key);  // the slot is reused after a grace period
  --size_;
}

NeighborTable::Enqueued NeighborTable::enqueue(const NeighborKey& key, rte_mbuf* m, uint64_t now) {
  int32_t pos = rte_hash_lookup(hash_, &key);
  bool created = false;
  if (pos < 0) {
    if (timers_.pending_total == 0 || pending_ >= timers_.pending_total) {
      ++counters_.pending_overflow;
      return Enqueued::kDropped;
    }
    pos = create(key, now);
    if (pos < 0) return Enqueued::kDropped;
    created = true;
  }
  if (neighbor_usable(entries_[pos].mac_state.load(std::memory_order_relaxed)))
    return Enqueued::kSendNow;
  Slot& s = slots_[pos];
  if (s.waiting.size() >= timers_.pending_per_neighbor || pending_ >= timers_.pending_total) {
    ++counters_.pending_overflow;
    return Enqueued::kDropped;
  }
  s.waiting.push_back(m);
  ++pending_;
  return created ? Enqueued::kSendRequest : Enqueued::kQueued;
}

bool NeighborTable::learn(const NeighborKey& key, const uint8_t mac[6], bool solicited,
                          bool create_entry, uint64_t now, std::vector<rte_mbuf*>* ready) {
  int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos < 0) {
    if (!create_entry) return true;
    pos = create(key, now);
    if (pos < 0) return false;
  }
  Slot& s = slots_[pos];
  const uint64_t old = entries_[pos].mac_state.load(std::memory_order_relaxed);
  uint8_t old_mac[6];
  neighbor_mac(old, old_mac);
  const bool same_mac = std::memcmp(old_mac, mac, 6) == 0;
  const NeighborState state = neighbor_state(old);
  if (state == NeighborState::kIncomplete) {
    set(pos, mac, solicited ? NeighborState::kReachable : NeighborState::kStale, true);
    s.confirmed = now;
    ++counters_.resolved;
    pending_ -= static_cast<uint32_t>(s.waiting.size());
    for (rte_mbuf* m : s.waiting) ready->push_back(m);
    s.waiting.clear();
    return true;
  }
  if (!same_mac) {
    // A moved address (a failover, a new VM): take the new MAC, confirm it later.
    set(pos, mac, solicited ? NeighborState::kReachable : NeighborState::kStale, true);
    s.confirmed = now;
    ++counters_.mac_changes;
    return true;
  }
  if (solicited) {
    set(pos, mac, NeighborState::kReachable, false);
    s.confirmed = now;
    s.probes = 0;
  }
  return true;
}

void NeighborTable::tick(uint64_t now, std::vector<NeighborRequest>* requests,
                         std::vector<rte_mbuf*>* dropped) {
  for (int32_t pos = 0; pos < static_cast<int32_t>(slots_.size()); ++pos) {
    Slot& s = slots_[pos];
    if (!s.in_use) continue;
    NeighborEntry& e = entries_[pos];
    const uint64_t w = e.mac_state.load(std::memory_order_relaxed);
    uint8_t mac[6];
    neighbor_mac(w, mac);
    switch (neighbor_state(w)) {
      case NeighborState::kIncomplete:
      case NeighborState::kProbe:
        if (now < s.next_probe) break;
        if (s.probes >= timers_.max_probes) {
          ++counters_.failed;
          counters_.pending_timeout += s.waiting.size();
          drop(pos, dropped);
          break;
        }
        ++s.probes;
        s.next_probe = now + ms(timers_.retrans_ms);
        requests->push_back({s.key, neighbor_state(w) == NeighborState::kProbe, {}});
        std::memcpy(requests->back().mac, mac, 6);
        break;
      case NeighborState::kReachable:
        if (now - s.confirmed > ms(timers_.reachable_ms))
          set(pos, mac, NeighborState::kStale, false);
        break;
      case NeighborState::kStale: {
        const uint64_t used = e.last_used.load(std::memory_order_relaxed);
        if (used > s.confirmed + ms(timers_.reachable_ms)) {
          // Used since it went stale: confirm it with a unicast request.
          set(pos, mac, NeighborState::kProbe, false);
          s.probes = 1;
          s.next_probe = now + ms(timers_.retrans_ms);
          requests->push_back({s.key, true, {}});
          std::memcpy(requests->back().mac, mac, 6);
        } else if (now - std::max(s.confirmed, used) > ms(timers_.gc_ms)) {
          ++counters_.aged;
          drop(pos, dropped);
        }
        break;
      }
    }
  }
}

bool NeighborTable::remove(const NeighborKey& key, std::vector<rte_mbuf*>* dropped) {
  const int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos < 0) return false;
  drop(pos, dropped);
  return true;
}

void NeighborTable::remove_rif(uint16_t rif, std::vector<rte_mbuf*>* dropped) {
  for (int32_t pos = 0; pos < static_cast<int32_t>(slots_.size()); ++pos) {
    if (slots_[pos].in_use && slots_[pos].key.rif == rif) drop(pos, dropped);
  }
}

void NeighborTable::list(uint64_t now, const std::function<void(const NeighborInfo&)>& fn) const {
  for (int32_t pos = 0; pos < static_cast<int32_t>(slots_.size()); ++pos) {
    const Slot& s = slots_[pos];
    if (!s.in_use) continue;
    const uint64_t w = entries_[pos].mac_state.load(std::memory_order_relaxed);
    NeighborInfo info{};
    info.key = s.key;
    info.state = neighbor_state(w);
    neighbor_mac(w, info.mac);
    info.age_ms = now > s.confirmed ? (now - s.confirmed) * 1000 / hz_ : 0;
    info.pending = static_cast<uint32_t>(s.waiting.size());
    fn(info);
  }
}

}  // namespace vsw::flow
