#include "conntrack.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <algorithm>
#include <cstring>

namespace vsw::acl {
namespace {

// Values of ConnEntry::expiring.
constexpr uint8_t kExpiryPosted = 1;  // timed out when looked at: the owner checks again
constexpr uint8_t kFlushPosted = 2;   // deleted whatever its age

ConnState initial_state(uint8_t proto) {
  return proto == kProtoTcp ? ConnState::kSynSent : ConnState::kUnreplied;
}

bool is_icmp(uint8_t proto) {
  return proto == kProtoIcmp || proto == kProtoIcmpv6;
}

std::string unique_name(const std::string& base, const char* what, uint32_t index) {
  // DPDK object names are process-wide (and short): a counter keeps instances apart.
  static std::atomic<uint32_t> instance{0};
  return base + what + std::to_string(instance.fetch_add(1)) + "_" + std::to_string(index);
}

}  // namespace

bool is_echo_request(const ConnPacket& p) {
  return (p.proto == kProtoIcmp && p.icmp_type == 8) ||
         (p.proto == kProtoIcmpv6 && p.icmp_type == 128);
}

bool is_echo_reply(const ConnPacket& p) {
  return (p.proto == kProtoIcmp && p.icmp_type == 0) ||
         (p.proto == kProtoIcmpv6 && p.icmp_type == 129);
}

bool trackable(const ConnPacket& p) {
  if (p.proto == kProtoTcp || p.proto == kProtoUdp || p.proto == kProtoSctp) return true;
  return is_echo_request(p) || is_echo_reply(p);
}

ConnKey make_conn_key(const ConnPacket& p, bool* swapped) {
  ConnKey k;
  std::memset(&k, 0, sizeof(k));  // padding included: the hash reads every byte
  const size_t len = p.family == Family::kIpv4 ? 4 : 16;
  const int order = std::memcmp(p.src.data(), p.dst.data(), len);
  *swapped = order > 0 || (order == 0 && p.sport > p.dport);
  const auto& first = *swapped ? p.dst : p.src;
  const auto& second = *swapped ? p.src : p.dst;
  std::memcpy(k.addr[0], first.data(), len);
  std::memcpy(k.addr[1], second.data(), len);
  k.port[0] = *swapped ? p.dport : p.sport;
  k.port[1] = *swapped ? p.sport : p.dport;
  k.zone = p.zone;
  k.proto = p.proto;
  k.family = static_cast<uint8_t>(p.family);
  return k;
}

Conntrack::Conntrack(const ConntrackConfig& config) : config_(config), limit_(config.limit) {
  refresh_ticks_ = std::max<uint64_t>(1, config.ticks_per_second / 8);
  set_timeouts(config.timeouts);
  counters_ = static_cast<ConntrackCounters*>(
      rte_zmalloc("vsw_ct_counters", sizeof(ConntrackCounters) * config.workers, 64));
  if (counters_ == nullptr) {
    error_ = "cannot allocate conntrack counters";
    return;
  }
  for (uint32_t w = 0; w < config.workers; ++w) new (&counters_[w]) ConntrackCounters();
  for (uint32_t w = 0; w < config.workers; ++w) {
    const std::string hash_name = unique_name(config.name, "h", w);
    rte_hash_parameters params{};
    params.name = hash_name.c_str();
    params.entries = config.capacity;
    params.key_len = sizeof(ConnKey);
    params.hash_func = rte_hash_crc;
    params.socket_id = SOCKET_ID_ANY;
    // One writer (the owner) beside lock-free readers: no MULTI_WRITER_ADD, which would make
    // every insert take rte_hash's rwlock.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* h = rte_hash_create(&params);
    if (h == nullptr) {
      error_ = "rte_hash_create " + hash_name + ": " + rte_strerror(rte_errno);
      return;
    }
    tables_.push_back(h);
    if (config.rcu != nullptr) {
      rte_hash_rcu_config rcfg{};
      rcfg.v = config.rcu;
      rcfg.mode = RTE_HASH_QSBR_MODE_DQ;
      if (rte_hash_rcu_qsbr_add(h, &rcfg) != 0) {
        error_ = std::string("rte_hash_rcu_qsbr_add: ") + rte_strerror(rte_errno);
        return;
      }
    }
    const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(h)) + 1;
    slots_.push_back(slots);
    auto* entries =
        static_cast<ConnEntry*>(rte_zmalloc("vsw_ct_entries", sizeof(ConnEntry) * slots, 64));
    if (entries == nullptr) {
      error_ = "cannot allocate " + std::to_string(slots) + " conntrack entries";
      return;
    }
    for (uint32_t i = 0; i < slots; ++i) new (&entries[i]) ConnEntry();
    entries_.push_back(entries);
    const std::string ring_name = unique_name(config.name, "r", w);
    rte_ring* ring = rte_ring_create(ring_name.c_str(), slots, SOCKET_ID_ANY,
                                     RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (ring == nullptr) {
      error_ = "rte_ring_create " + ring_name + ": " + rte_strerror(rte_errno);
      return;
    }
    delete_rings_.push_back(ring);
  }
}

Conntrack::~Conntrack() {
  for (rte_hash* h : tables_) rte_hash_free(h);
  for (ConnEntry* e : entries_) rte_free(e);
  for (rte_ring* r : delete_rings_) rte_ring_free(r);
  rte_free(counters_);
}

uint64_t Conntrack::timeout_ticks(uint8_t proto, ConnState state) const {
  constexpr int kUdp = static_cast<int>(ConnState::kCount);
  int slot;
  if (proto == kProtoTcp) {
    slot = static_cast<int>(state);
  } else if (proto == kProtoUdp || proto == kProtoSctp) {
    slot = state == ConnState::kReplied ? kUdp + 1 : kUdp;
  } else {
    slot = kUdp + 2;
  }
  return uint64_t{timeout_s_[slot].load(std::memory_order_relaxed)} * config_.ticks_per_second;
}

void Conntrack::set_timeouts(const Timeouts& t) {
  constexpr int kUdp = static_cast<int>(ConnState::kCount);
  for (int i = 0; i < kUdp; ++i) timeout_s_[i].store(t.seconds[i], std::memory_order_relaxed);
  timeout_s_[kUdp].store(t.udp_unreplied, std::memory_order_relaxed);
  timeout_s_[kUdp + 1].store(t.udp_replied, std::memory_order_relaxed);
  timeout_s_[kUdp + 2].store(t.icmp, std::memory_order_relaxed);
}

Timeouts Conntrack::timeouts() const {
  constexpr int kUdp = static_cast<int>(ConnState::kCount);
  Timeouts t{};
  for (int i = 0; i < kUdp; ++i) t.seconds[i] = timeout_s_[i].load(std::memory_order_relaxed);
  t.udp_unreplied = timeout_s_[kUdp].load(std::memory_order_relaxed);
  t.udp_replied = timeout_s_[kUdp + 1].load(std::memory_order_relaxed);
  t.icmp = timeout_s_[kUdp + 2].load(std::memory_order_relaxed);
  return t;
}

ConnRef Conntrack::lookup(uint32_t worker, const ConnPacket& p, ConnDir* dir) const {
  bool swapped = false;
  const ConnKey key = make_conn_key(p, &swapped);
  const hash_sig_t sig = rte_hash_hash(tables_[worker], &key);
  const uint32_t n = static_cast<uint32_t>(tables_.size());
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t t = (worker + i) % n;  // the caller's own table first
    const int32_t pos = rte_hash_lookup_with_hash(tables_[t], &key, sig);
    if (pos < 0) continue;
    const ConnEntry& e = entries_[t][pos];
    // kNone: being created or being deleted right now; either way not usable yet.
    if (e.state.load(std::memory_order_acquire) == static_cast<uint8_t>(ConnState::kNone)) continue;
    *dir = (swapped == (e.orig_swapped != 0)) ? ConnDir::kOriginal : ConnDir::kReply;
    return ConnRef{static_cast<int32_t>(t), pos};
  }
  return ConnRef{};
}

void Conntrack::lookup_bulk(uint32_t worker, const ConnPacket* const* pkts, uint32_t n,
                            ConnRef* refs, ConnDir* dirs) const {
  ConnKey keys[RTE_HASH_LOOKUP_BULK_MAX];
  const void* key_ptrs[RTE_HASH_LOOKUP_BULK_MAX];
  bool swapped[RTE_HASH_LOOKUP_BULK_MAX];
  int32_t positions[RTE_HASH_LOOKUP_BULK_MAX];
  for (uint32_t i = 0; i < n; ++i) {
    keys[i] = make_conn_key(*pkts[i], &swapped[i]);
    key_ptrs[i] = &keys[i];
  }
  rte_hash_lookup_bulk(tables_[worker], key_ptrs, n, positions);
  const uint32_t n_tables = static_cast<uint32_t>(tables_.size());
  for (uint32_t i = 0; i < n; ++i) {
    refs[i] = ConnRef{};
    for (uint32_t k = 0; k < n_tables; ++k) {
      const uint32_t t = (worker + k) % n_tables;
      const int32_t pos = k == 0 ? positions[i] : rte_hash_lookup(tables_[t], &keys[i]);
      if (pos < 0) continue;
      const ConnEntry& e = entries_[t][pos];
      if (e.state.load(std::memory_order_acquire) == static_cast<uint8_t>(ConnState::kNone))
        continue;
      dirs[i] = (swapped[i] == (e.orig_swapped != 0)) ? ConnDir::kOriginal : ConnDir::kReply;
      refs[i] = ConnRef{static_cast<int32_t>(t), pos};
      break;
    }
  }
}

ConnVerdict Conntrack::update(uint32_t worker, ConnRef ref, ConnDir dir, const ConnPacket& p,
                              uint64_t now) {
  ConnEntry& e = entries_[ref.table][ref.pos];
  ConntrackCounters& c = counters_[worker];
  auto count = [](std::atomic<uint64_t>& v) {
    v.store(v.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  if (e.revoked.load(std::memory_order_relaxed)) {
    count(c.revoked_drops);
    return ConnVerdict::kRevoked;
  }
  uint8_t state = e.state.load(std::memory_order_acquire);
  bool changed = false;
  if (state == static_cast<uint8_t>(ConnState::kNone)) {
    count(c.invalid);
    return ConnVerdict::kInvalid;
  }
  if (p.proto == kProtoTcp) {
    // Two workers may see the two directions at once: compare-and-swap, retried on the
    // state the other one wrote. Connections change state a handful of times in their life.
    for (;;) {
      const TcpStep step = tcp_step(static_cast<ConnState>(state), dir, p.tcp_flags);
      if (!step.valid) {
        count(c.invalid);
        return ConnVerdict::kInvalid;
      }
      const auto next = static_cast<uint8_t>(step.next);
      if (next == state) break;
      if (e.state.compare_exchange_weak(state, next, std::memory_order_acq_rel)) {
        changed = true;
        break;
      }
    }
  } else {
    if (is_icmp(p.proto) && !(dir == ConnDir::kOriginal ? is_echo_request(p) : is_echo_reply(p))) {
      count(c.invalid);
      return ConnVerdict::kInvalid;
    }
    if (dir == ConnDir::kReply && state == static_cast<uint8_t>(ConnState::kUnreplied)) {
      changed = e.state.compare_exchange_strong(state, static_cast<uint8_t>(ConnState::kReplied),
                                                std::memory_order_acq_rel);
    }
  }
  // Last-seen is written at most every 1/8 s (or on a state change, which restarts the
  // timeout), so a busy connection's line is not written by every packet on every worker.
  const uint64_t last = e.last_seen.load(std::memory_order_relaxed);
  if (changed || now >= last + refresh_ticks_) e.last_seen.store(now, std::memory_order_relaxed);
  return ConnVerdict::kPass;
}

ConnVerdict Conntrack::create(uint32_t worker, const ConnPacket& p, Direction acl_dir,
                              uint64_t acl_generation, uint64_t now, ConnRef* ref) {
  ConntrackCounters& c = counters_[worker];
  auto count = [](std::atomic<uint64_t>& v) {
    v.store(v.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  *ref = ConnRef{};
  if (!trackable(p)) return ConnVerdict::kPass;  // other protocols: the rule alone decides
  if (p.proto == kProtoTcp ? !tcp_opens(p.tcp_flags) : is_echo_reply(p)) {
    count(c.invalid);
    return ConnVerdict::kInvalid;
  }
  // The one shared write on this path, paid once per connection. Compare-and-swap rather
  // than add-then-undo, so the count never shows more than the limit, even for an instant.
  uint32_t n = count_.load(std::memory_order_relaxed);
  do {
    if (n >= limit_.load(std::memory_order_relaxed)) {
      count(c.limit_drops);
      return ConnVerdict::kLimit;
    }
  } while (!count_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  bool swapped = false;
  const ConnKey key = make_conn_key(p, &swapped);
  const int32_t pos = rte_hash_add_key(tables_[worker], &key);
  if (pos < 0) {
    count_.fetch_sub(1, std::memory_order_relaxed);
    count(c.full_drops);
    return ConnVerdict::kFull;
  }
  ConnEntry& e = entries_[worker][pos];
  if (e.state.load(std::memory_order_relaxed) != static_cast<uint8_t>(ConnState::kNone)) {
    // Already ours (lookup raced with our own earlier insert): not a new connection.
    count_.fetch_sub(1, std::memory_order_relaxed);
    *ref = ConnRef{static_cast<int32_t>(worker), pos};
    return ConnVerdict::kPass;
  }
  e.orig_swapped = swapped;
  e.origin_dir = static_cast<uint8_t>(acl_dir);
  e.proto = p.proto;
  e.revoked.store(0, std::memory_order_relaxed);
  e.expiring.store(0, std::memory_order_relaxed);
  e.acl_generation.store(static_cast<uint32_t>(acl_generation), std::memory_order_relaxed);
  e.last_seen.store(now, std::memory_order_relaxed);
  e.generation.fetch_add(1, std::memory_order_relaxed);
  // Last, with release: a reader that sees a state sees every field above.
  e.state.store(static_cast<uint8_t>(initial_state(p.proto)), std::memory_order_release);
  count(c.created);
  *ref = ConnRef{static_cast<int32_t>(worker), pos};
  return ConnVerdict::kPass;
}

void Conntrack::recheck(ConnRef ref, uint64_t acl_generation, bool still_permitted) {
  ConnEntry& e = entries_[ref.table][ref.pos];
  if (!still_permitted) e.revoked.store(1, std::memory_order_relaxed);
  e.acl_generation.store(static_cast<uint32_t>(acl_generation), std::memory_order_relaxed);
}

uint32_t Conntrack::service(uint32_t worker, uint64_t now, uint32_t budget) {
  void* objs[64];
  uint32_t deleted = 0;
  while (budget > 0) {
    const unsigned n = rte_ring_sc_dequeue_burst(delete_rings_[worker], objs,
                                                 std::min<uint32_t>(budget, 64), nullptr);
    if (n == 0) break;
    budget -= n;
    for (unsigned i = 0; i < n; ++i) {
      const auto pos = static_cast<int32_t>(reinterpret_cast<uintptr_t>(objs[i]));
      ConnEntry& e = entries_[worker][pos];
      const uint8_t why = e.expiring.load(std::memory_order_relaxed);
      const auto state = static_cast<ConnState>(e.state.load(std::memory_order_relaxed));
      if (state == ConnState::kNone) {
        e.expiring.store(0, std::memory_order_relaxed);
        continue;
      }
      // A packet may have refreshed it since the management thread looked.
      if (why == kExpiryPosted && !e.revoked.load(std::memory_order_relaxed) &&
          now < e.last_seen.load(std::memory_order_relaxed) + timeout_ticks(e.proto, state)) {
        e.expiring.store(0, std::memory_order_relaxed);
        continue;
      }
      void* key = nullptr;
      if (rte_hash_get_key_with_position(tables_[worker], pos, &key) != 0) {
        e.expiring.store(0, std::memory_order_relaxed);
        continue;
      }
      // Unusable first, then gone: a reader that still finds the key sees kNone and misses.
      e.state.store(static_cast<uint8_t>(ConnState::kNone), std::memory_order_release);
      e.generation.fetch_add(1, std::memory_order_release);
      rte_hash_del_key(tables_[worker], key);
      // Without RCU (single-threaded use) nobody can hold the position: free it now. With
      // RCU, rte_hash's defer queue frees it after the grace period.
      if (config_.rcu == nullptr) rte_hash_free_key_with_position(tables_[worker], pos);
      e.expiring.store(0, std::memory_order_relaxed);
      count_.fetch_sub(1, std::memory_order_relaxed);
      counters_[worker].deleted.store(counters_[worker].deleted.load(std::memory_order_relaxed) + 1,
                                      std::memory_order_relaxed);
      ++deleted;
    }
  }
  return deleted;
}

PacketKey Conntrack::original_acl_key(ConnRef ref) const {
  void* kp = nullptr;
  PacketKey k;
  if (rte_hash_get_key_with_position(tables_[ref.table], ref.pos, &kp) != 0) return k;
  const auto& key = *static_cast<const ConnKey*>(kp);
  const int o = entries_[ref.table][ref.pos].orig_swapped ? 1 : 0;
  k.family = static_cast<Family>(key.family);
  k.proto = key.proto;
  std::memcpy(k.src.data(), key.addr[o], 16);
  std::memcpy(k.dst.data(), key.addr[1 - o], 16);
  k.sport = key.port[o];
  k.dport = key.port[1 - o];
  if (is_icmp(key.proto)) {  // the ACL sees type and code, not the echo identifier
    k.sport = key.proto == kProtoIcmp ? 8 : 128;
    k.dport = 0;
  }
  return k;
}

bool Conntrack::post_delete(uint32_t table, int32_t pos) {
  return rte_ring_sp_enqueue(delete_rings_[table],
                             reinterpret_cast<void*>(static_cast<uintptr_t>(pos))) == 0;
}

uint32_t Conntrack::expire_slice(uint64_t now, uint32_t budget) {
  uint32_t posted = 0;
  const uint32_t n_tables = static_cast<uint32_t>(tables_.size());
  for (uint32_t looked = 0; looked < budget; ++looked) {
    if (scan_pos_ >= slots_[scan_table_]) {
      scan_pos_ = 0;
      scan_table_ = (scan_table_ + 1) % n_tables;
    }
    const uint32_t t = scan_table_;
    const auto pos = static_cast<int32_t>(scan_pos_++);
    ConnEntry& e = entries_[t][pos];
    const auto state = static_cast<ConnState>(e.state.load(std::memory_order_acquire));
    if (state == ConnState::kNone || e.expiring.load(std::memory_order_relaxed) != 0) continue;
    const uint64_t last = e.last_seen.load(std::memory_order_relaxed);
    const bool expired = now >= last + timeout_ticks(e.proto, state);
    if (!expired && !e.revoked.load(std::memory_order_relaxed)) continue;
    e.expiring.store(kExpiryPosted, std::memory_order_relaxed);
    if (!post_delete(t, pos)) {
      e.expiring.store(0, std::memory_order_relaxed);  // the owner is behind: next round
      continue;
    }
    ++posted;
  }
  return posted;
}

uint32_t Conntrack::flush(uint32_t zone) {
  uint32_t posted = 0;
  for (uint32_t t = 0; t < tables_.size(); ++t) {
    uint32_t iter = 0;
    const void* key;
    void* data;
    int32_t pos;
    while ((pos = rte_hash_iterate(tables_[t], &key, &data, &iter)) >= 0) {
      if (zone != UINT32_MAX && static_cast<const ConnKey*>(key)->zone != zone) continue;
      ConnEntry& e = entries_[t][pos];
      if (e.state.load(std::memory_order_acquire) == static_cast<uint8_t>(ConnState::kNone))
        continue;
      const uint8_t before = e.expiring.exchange(kFlushPosted, std::memory_order_relaxed);
      if (before != 0) continue;  // already posted: the owner now deletes it regardless
      if (!post_delete(t, pos)) {
        e.expiring.store(0, std::memory_order_relaxed);
        continue;
      }
      ++posted;
    }
  }
  return posted;
}

ConntrackTotals Conntrack::totals() const {
  ConntrackTotals sum;
  for (uint32_t w = 0; w < config_.workers; ++w) {
    const ConntrackCounters& c = counters_[w];
    sum.created += c.created.load(std::memory_order_relaxed);
    sum.invalid += c.invalid.load(std::memory_order_relaxed);
    sum.limit_drops += c.limit_drops.load(std::memory_order_relaxed);
    sum.full_drops += c.full_drops.load(std::memory_order_relaxed);
    sum.revoked_drops += c.revoked_drops.load(std::memory_order_relaxed);
    sum.deleted += c.deleted.load(std::memory_order_relaxed);
  }
  return sum;
}

void Conntrack::for_each(const std::function<void(const ConnInfo&)>& fn) const {
  for (uint32_t t = 0; t < tables_.size(); ++t) {
    uint32_t iter = 0;
    const void* key;
    void* data;
    int32_t pos;
    while ((pos = rte_hash_iterate(tables_[t], &key, &data, &iter)) >= 0) {
      const ConnEntry& e = entries_[t][pos];
      const auto state = static_cast<ConnState>(e.state.load(std::memory_order_acquire));
      if (state == ConnState::kNone) continue;
      ConnInfo info{};
      info.key = *static_cast<const ConnKey*>(key);
      info.ref = ConnRef{static_cast<int32_t>(t), pos};
      info.state = state;
      info.orig_swapped = e.orig_swapped != 0;
      info.origin_dir = static_cast<Direction>(e.origin_dir);
      info.last_seen = e.last_seen.load(std::memory_order_relaxed);
      info.expires = info.last_seen + timeout_ticks(e.proto, state);
      info.revoked = e.revoked.load(std::memory_order_relaxed) != 0;
      fn(info);
    }
  }
}

}  // namespace vsw::acl
