// The neighbor table: (router interface, IP) -> MAC, for ARP (IPv4) and ND (IPv6), with the
// packets waiting for a neighbor to answer.
//
// On rte_hash with lock-free readers, like the FDB: one writer, the management thread;
// workers look up and read an entry's MAC and state from one 64-bit atomic (never torn), and
// stamp when they last used it. Workers never create entries, never queue packets and never
// send requests: they hand unresolved packets and what they learn to the management thread
// (see docs/router.md), which calls enqueue()/learn() here and sends what tick() asks for.
//
// States (RFC 4861's, ARP included): Incomplete (asked, no answer yet: packets wait, at most
// `pending_per_neighbor` each and `pending_total` overall), Reachable (answered recently),
// Stale (not confirmed for `reachable_ms`: still used, and probed with a unicast request once
// a worker uses it), Probe (asked again). An Incomplete or Probe entry that does not answer
// `max_probes` requests `retrans_ms` apart is removed with its waiting packets; a Stale entry
// nobody used for `gc_ms` is removed too. Every MAC change and every removal bumps the
// entry's generation, so flow-cache entries built on it go stale.
#pragma once

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "ip_addr.h"

namespace vsw::flow {

inline constexpr uint32_t kDefaultNeighbors = 16384;

// 24 bytes, 8-aligned: rte_hash_crc reads keys as 8-byte words, and rte_hash's key store
// keeps them 8-aligned only when the key's size is a multiple of 8 (UBSan caught a 20-byte
// key read misaligned).
struct alignas(8) NeighborKey {
  uint16_t rif;
  uint8_t is_v6;
  uint8_t pad[5];
  uint8_t ip[16];  // IPv4 in bytes 0..3, the rest zero
};
static_assert(sizeof(NeighborKey) == 24);

NeighborKey neighbor_key(uint16_t rif, const IpAddr& ip);
IpAddr neighbor_ip(const NeighborKey& key);

enum class NeighborState : uint8_t { kIncomplete = 0, kReachable = 1, kStale = 2, kProbe = 3 };

const char* state_name(NeighborState s);

// MAC in bits 0..47 (byte i of the MAC in bits 8i..8i+7), state in 48..55.
inline uint64_t pack_neighbor(const uint8_t mac[6], NeighborState state) {
  uint64_t w = 0;
  for (int i = 0; i < 6; ++i) w |= uint64_t{mac[i]} << (8 * i);
  return w | (uint64_t{static_cast<uint8_t>(state)} << 48);
}
inline NeighborState neighbor_state(uint64_t w) {
  return static_cast<NeighborState>((w >> 48) & 0xff);
}
inline void neighbor_mac(uint64_t w, uint8_t mac[6]) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "byte i of the MAC is byte i of w");
  std::memcpy(mac, &w, 6);
}
inline bool neighbor_usable(uint64_t w) {
  return neighbor_state(w) != NeighborState::kIncomplete;
}

struct alignas(32) NeighborEntry {
  std::atomic<uint32_t> generation{0};
  std::atomic<uint64_t> mac_state{0};  // pack_neighbor()
  std::atomic<uint64_t> last_used{0};  // TSC; workers stamp it (at most every few ms)
};

struct NeighborTimers {
  uint64_t reachable_ms = 30000;
  uint64_t retrans_ms = 1000;
  uint32_t max_probes = 3;
  uint64_t gc_ms = 60000;
  uint32_t pending_per_neighbor = 16;
  uint32_t pending_total = 4096;
};

struct NeighborCounters {
  uint64_t resolved = 0;          // Incomplete entries that got an answer
  uint64_t failed = 0;            // entries removed unanswered (Incomplete or Probe)
  uint64_t aged = 0;              // Stale entries removed unused
  uint64_t pending_overflow = 0;  // packets dropped: the neighbor's or the total bound
  uint64_t pending_timeout = 0;   // packets dropped with an unanswered neighbor
  uint64_t table_full = 0;        // entries not created: the table is full
  uint64_t mac_changes = 0;
};

// What tick() wants sent: a request for `key`, broadcast (ARP) / solicited-node multicast
// (ND) when `unicast` is false, else to `mac`.
struct NeighborRequest {
  NeighborKey key;
  bool unicast;
  uint8_t mac[6];
};

struct NeighborInfo {
  NeighborKey key;
  NeighborState state;
  uint8_t mac[6];
  uint64_t age_ms;  // since last confirmed (answer or learning)
  uint32_t pending;
};

class NeighborTable {
 public:
  // `hz`: the clock `now` arguments count in (TSC cycles for the dataplane).
  NeighborTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* rcu, uint64_t hz,
                const NeighborTimers& timers = {});
  ~NeighborTable();
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  bool ok() const { return hash_ != nullptr; }
  const std::string& error() const { return error_; }

  // ---- readers (workers; lock-free) ----
  int32_t lookup(const NeighborKey& key) const { return rte_hash_lookup(hash_, &key); }
  NeighborEntry& entry(int32_t pos) const { return entries_[pos]; }
  NeighborEntry* entries() const { return entries_; }

  // ---- writer (management thread) ----

  enum class Enqueued : uint8_t {
    kSendRequest,  // queued; a new entry: send the first request now
    kQueued,       // queued behind a request already sent
    kSendNow,      // the neighbor is resolved (it answered meanwhile): send the packet now
    kDropped,      // over a bound, or the table is full; the caller frees the packet
  };
  // A packet for `key` that a worker could not resolve.
  Enqueued enqueue(const NeighborKey& key, rte_mbuf* m, uint64_t now);

  // The neighbor answered (`solicited`: a reply to our request, ARP reply or solicited NA)
  // or announced itself (gratuitous ARP, unsolicited NA, a request it sent us). `create`:
  // make an entry if there is none (learning). Appends the packets that waited for it to
  // `ready` (send them to `mac`). Returns false when the table is full.
  bool learn(const NeighborKey& key, const uint8_t mac[6], bool solicited, bool create,
             uint64_t now, std::vector<rte_mbuf*>* ready);

  // Runs the timers: appends requests to send and packets to free (their neighbor failed).
  void tick(uint64_t now, std::vector<NeighborRequest>* requests, std::vector<rte_mbuf*>* dropped);

  // Removes one entry (operator) or every entry of a router interface; appends their
  // waiting packets to `dropped`.
  bool remove(const NeighborKey& key, std::vector<rte_mbuf*>* dropped);
  void remove_rif(uint16_t rif, std::vector<rte_mbuf*>* dropped);

  void list(uint64_t now, const std::function<void(const NeighborInfo&)>& fn) const;
  uint32_t size() const { return size_; }
  uint32_t pending() const { return pending_; }
  const NeighborCounters& counters() const { return counters_; }

 private:
  struct Slot {  // management-only state, by position
    NeighborKey key{};
    bool in_use = false;
    uint64_t confirmed = 0;   // last answer or learning
    uint64_t next_probe = 0;  // Incomplete/Probe: when to ask again or give up
    uint32_t probes = 0;
    std::deque<rte_mbuf*> waiting;
  };
  int32_t create(const NeighborKey& key, uint64_t now);
  void drop(int32_t pos, std::vector<rte_mbuf*>* dropped);
  void set(int32_t pos, const uint8_t mac[6], NeighborState state, bool bump);
  uint64_t ms(uint64_t v) const { return v * hz_ / 1000; }

  rte_hash* hash_ = nullptr;
  NeighborEntry* entries_ = nullptr;
  std::vector<Slot> slots_;
  uint32_t capacity_;
  uint64_t hz_;
  NeighborTimers timers_;
  uint32_t size_ = 0;
  uint32_t pending_ = 0;
  NeighborCounters counters_;
  std::string error_;
};

}  // namespace vsw::flow
