// Connection tracking shared by all workers: one entry per connection, found from both
// directions, on rte_hash with lock-free readers.
//
// Who writes what (docs/acl.md, "Conntrack across workers", has the why):
// - Each worker owns one rte_hash table and is its only writer: it inserts the connections
//   whose first packet it saw, and deletes entries of its table when asked. rte_hash in
//   RW_CONCURRENCY_LF mode allows one writer beside lock-free readers without any lock, so no
//   worker ever waits for another or for the management thread.
// - Every worker reads every table (its own first): a reply handled by another worker (RSS,
//   another port's queue) still finds the connection.
// - Entry state (TCP state, last-seen time) lives in a ConnEntry array parallel to each
//   table's key slots, changed by whichever worker sees a packet, with atomics only.
// - The management thread scans entries in bounded slices (expire_slice), decides what has
//   timed out, and posts the positions to the owner's SP/SC ring; the owner deletes them in
//   service(), called once per loop. Key slots are reused only after an RCU grace period
//   (rte_hash's QSBR defer queue), so a reader holding a position never sees it reused.
// - The limit is one shared count, touched only when a connection is created or deleted.
//
// Time is in caller-chosen ticks (TSC in the dataplane, a fake clock in tests).
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "acl_rule.h"
#include "conn_state.h"

namespace vsw::acl {

// The normalized connection key: the two (address, port) endpoints in a fixed order (the
// lower first), so both directions of a connection make the same key. `zone` is the port
// whose ACL tracks the connection: the same flow seen at two stateful ports is two
// connections, as in OVN's per-port zones. ICMP echo uses the identifier for both ports.
struct alignas(8) ConnKey {
  uint8_t addr[2][16];  // network byte order; IPv4 in the first 4 bytes
  uint16_t port[2];
  uint16_t zone;
  uint8_t proto;
  uint8_t family;  // 4 or 6
};
static_assert(sizeof(ConnKey) == 40, "the conntrack key is five 8-byte words");

// One packet as conntrack sees it (the stage fills it from the parsed headers).
struct ConnPacket {
  Family family = Family::kIpv4;
  uint8_t proto = 0;
  uint16_t zone = 0;
  std::array<uint8_t, 16> src{};
  std::array<uint8_t, 16> dst{};
  uint16_t sport = 0;     // TCP/UDP/SCTP; ICMP echo: the identifier
  uint16_t dport = 0;     // ICMP echo: the identifier too
  uint8_t tcp_flags = 0;  // TCP only
  uint8_t icmp_type = 0;  // ICMP/ICMPv6 only
};

// ICMP echo request/reply types: 8/0 for ICMP, 128/129 for ICMPv6.
bool is_echo_request(const ConnPacket& p);
bool is_echo_reply(const ConnPacket& p);
// Whether conntrack can track this packet at all: TCP, UDP, SCTP (as a UDP-like
// pseudo-connection), ICMP echo request and reply. Others are handled by rules alone.
bool trackable(const ConnPacket& p);

// Builds the key; *swapped says whether the packet's source is the key's second endpoint.
ConnKey make_conn_key(const ConnPacket& p, bool* swapped);

// Per key position; 32 bytes so two share a cache line with no field shared across them.
struct alignas(32) ConnEntry {
  std::atomic<uint64_t> last_seen{0};       // ticks
  std::atomic<uint32_t> generation{0};      // changes on create and delete (for flow caches)
  std::atomic<uint32_t> acl_generation{0};  // low bits of the CompiledAcl last checked
  std::atomic<uint8_t> state{0};            // ConnState; kNone: free or being created
  std::atomic<uint8_t> revoked{0};          // the rules no longer permit it: drop
  std::atomic<uint8_t> expiring{0};         // posted for deletion (management thread)
  uint8_t orig_swapped = 0;                 // the opener was the key's second endpoint
  uint8_t origin_dir = 0;                   // the Direction whose rule created it
  uint8_t proto = 0;
};
static_assert(sizeof(ConnEntry) == 32, "two conntrack entries per cache line");

// Where an entry is: the owning worker's table and the key position in it.
struct ConnRef {
  int32_t table = -1;
  int32_t pos = -1;
  bool found() const { return pos >= 0; }
};

enum class ConnVerdict : uint8_t {
  kPass,     // tracked (or created): forward
  kInvalid,  // does not fit the connection's state, or opens nothing: drop
  kRevoked,  // the rules changed and no longer permit it: drop
  kLimit,    // over the connection limit: drop
  kFull,     // the worker's table is full: drop
};

// Worker-owned counters: plain loads and stores, summed by the management thread.
struct alignas(64) ConntrackCounters {
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> invalid{0};
  std::atomic<uint64_t> limit_drops{0};
  std::atomic<uint64_t> full_drops{0};
  std::atomic<uint64_t> revoked_drops{0};
  std::atomic<uint64_t> deleted{0};
};

struct ConntrackTotals {
  uint64_t created = 0;
  uint64_t invalid = 0;
  uint64_t limit_drops = 0;
  uint64_t full_drops = 0;
  uint64_t revoked_drops = 0;
  uint64_t deleted = 0;
};

struct ConntrackConfig {
  std::string name = "vsw_ct";    // rte_hash and rte_ring names are derived from it
  uint32_t workers = 1;           // tables, one per worker
  uint32_t capacity = 65536;      // entries per worker table
  uint32_t limit = 65536;         // connections in all tables (settable later)
  uint64_t ticks_per_second = 1;  // the unit of every `now`
  Timeouts timeouts = Timeouts::linux_defaults();
  rte_rcu_qsbr* rcu = nullptr;  // the workers' QSBR variable (nullptr: single thread tests)
};

struct ConnInfo {
  ConnKey key;
  ConnRef ref;
  ConnState state;
  bool orig_swapped;
  Direction origin_dir;
  uint64_t last_seen;
  uint64_t expires;
  bool revoked;
};

class Conntrack {
 public:
  // Management thread. Check ok() / error().
  explicit Conntrack(const ConntrackConfig& config);
  ~Conntrack();
  Conntrack(const Conntrack&) = delete;
  Conntrack& operator=(const Conntrack&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // ---- workers (lock-free; `worker` is the caller's index, < config.workers) ----

  // Finds the connection of `p` in the caller's table, then in the others. *dir: whether
  // `p` goes the way the connection's first packet went.
  ConnRef lookup(uint32_t worker, const ConnPacket& p, ConnDir* dir) const;

  // lookup() for a burst (n <= 64): one rte_hash_lookup_bulk on the caller's table (which
  // prefetches the buckets and keys of the whole burst), single lookups in the other tables
  // for what it misses. refs[i].found() is false for a miss.
  void lookup_bulk(uint32_t worker, const ConnPacket* const* pkts, uint32_t n, ConnRef* refs,
                   ConnDir* dirs) const;

  // Applies `p` to its connection: TCP state machine, pseudo-connection replies, last-seen.
  // kInvalid when the packet does not fit the state, kRevoked when the entry was revoked.
  ConnVerdict update(uint32_t worker, ConnRef ref, ConnDir dir, const ConnPacket& p, uint64_t now);

  // Creates the connection `p` opens (the stage calls it when a permit-stateful rule of
  // `acl_dir` matched and lookup() found nothing); `acl_generation` is that rule set's.
  // kInvalid when `p` opens nothing (a bare TCP ACK, a SYN-ACK, an echo reply), kLimit past
  // the limit, kFull when the caller's table is full. On kPass, *ref is the new entry.
  ConnVerdict create(uint32_t worker, const ConnPacket& p, Direction acl_dir,
                     uint64_t acl_generation, uint64_t now, ConnRef* ref);

  // The rules of the entry's origin direction changed (acl_generation differs): the stage
  // re-classified the original direction's packet and tells the verdict here. A revoked
  // entry drops every later packet until expiry removes it.
  void recheck(ConnRef ref, uint64_t acl_generation, bool still_permitted);

  // Deletes what the management thread posted for the caller's table, at most `budget`.
  // Call once per loop. Returns how many were deleted.
  uint32_t service(uint32_t worker, uint64_t now, uint32_t budget = 64);

  const ConnEntry& entry(ConnRef ref) const { return entries_[ref.table][ref.pos]; }
  ConntrackCounters& counters(uint32_t worker) { return counters_[worker]; }

  // The original direction's packet of a connection, as the ACL classifies it (an ICMP echo
  // as its request's type): for recheck().
  PacketKey original_acl_key(ConnRef ref) const;

  // ---- management thread ----

  // Looks at up to `budget` key positions, continuing where the last call stopped, and posts
  // timed-out and revoked entries to their owners. Returns how many it posted.
  uint32_t expire_slice(uint64_t now, uint32_t budget);
  // Posts every entry (of `zone` only, when it is not UINT32_MAX) for deletion.
  uint32_t flush(uint32_t zone = UINT32_MAX);

  void set_limit(uint32_t limit) { limit_.store(limit, std::memory_order_relaxed); }
  // Timeouts are read by workers (service() re-checks expiry) and by the management thread:
  // each is its own relaxed atomic, so a change needs no grace period. A reader may see a
  // mix of old and new values for an instant, which is harmless (each one is valid).
  void set_timeouts(const Timeouts& t);
  Timeouts timeouts() const;
  uint32_t capacity() const { return config_.capacity; }
  uint32_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // Connections in all tables (created and not yet deleted).
  uint32_t size() const { return count_.load(std::memory_order_relaxed); }
  // Sum of every worker's counters.
  ConntrackTotals totals() const;
  void for_each(const std::function<void(const ConnInfo&)>& fn) const;

 private:
  uint64_t timeout_ticks(uint8_t proto, ConnState state) const;
  bool post_delete(uint32_t table, int32_t pos);

  ConntrackConfig config_;
  std::vector<rte_hash*> tables_;
  std::vector<ConnEntry*> entries_;
  std::vector<rte_ring*> delete_rings_;
  std::vector<uint32_t> slots_;  // key positions per table
  ConntrackCounters* counters_ = nullptr;
  std::atomic<uint32_t> count_{0};
  std::atomic<uint32_t> limit_{0};
  uint64_t refresh_ticks_ = 0;
  // Seconds: the TCP states (ConnState order), then UDP unreplied, UDP replied, ICMP.
  static constexpr int kTimeoutSlots = static_cast<int>(ConnState::kCount) + 3;
  std::array<std::atomic<uint32_t>, kTimeoutSlots> timeout_s_{};
  uint32_t scan_table_ = 0;
  uint32_t scan_pos_ = 0;
  std::string error_;
};

}  // namespace vsw::acl
