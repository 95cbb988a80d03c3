// The FIB: IPv4 routes on rte_fib (DIR-24-8), IPv6 routes on rte_fib6 (TRIE), both mapping a
// prefix to a next-hop value of the NextHopTable (one next hop or an ECMP group).
//
// One writer, the management thread; workers look up concurrently, lock-free. Capacity is
// fixed at creation (FibConfig). rte_fib keeps its own RIB beside the lookup tables, so the
// routes are listed and looked up exactly from what the workers use: there is no second copy.
//
// Concurrency with DPDK 22.11's rte_fib, which has no RCU hooks: an update writes table
// entries in place (8-, 16- or 32-bit stores, never torn), but when a tbl8 group collapses it
// is zeroed and freed at once. A worker that read the tbl24 entry just before may then read a
// zero: value kFibRetry, which the worker looks up again (lookup4/6_retry). See
// docs/router.md for what remains.
//
// Every change bumps the family's generation after the tables were written (release), so a
// flow-cache entry that recorded the generation before its lookup is stale from then on.
#pragma once

#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ip_addr.h"
#include "next_hop.h"

namespace vsw::flow {

// Capacities. The defaults fit the dataplane's --no-huge -m 512 fallback beside the mbuf
// pool; a full Internet table needs --ipv4-routes 1048576 and about 470 MiB (docs/router.md).
inline constexpr uint32_t kDefaultIpv4Routes = 65536;
inline constexpr uint32_t kDefaultIpv6Routes = 16384;
inline constexpr uint32_t kMaxIpv4Routes = 4u << 20;
inline constexpr uint32_t kMaxIpv6Routes = 1u << 20;
// tbl8 groups: one per /24 (IPv4) or per byte level below /24 (IPv6) that holds longer routes.
inline constexpr uint32_t kDefaultIpv4Tbl8 = 16384;  // 2-byte entries: at most 32767
inline constexpr uint32_t kDefaultIpv6Tbl8 = 16384;  // 4-byte entries
inline constexpr uint32_t kMaxIpv4Tbl8 = 32767;
inline constexpr uint32_t kMaxIpv6Tbl8 = 1u << 20;

struct FibConfig {
  uint32_t ipv4_routes = kDefaultIpv4Routes;
  uint32_t ipv6_routes = kDefaultIpv6Routes;
  uint32_t ipv4_tbl8 = kDefaultIpv4Tbl8;
  uint32_t ipv6_tbl8 = kDefaultIpv6Tbl8;
};

enum class FibError : uint8_t { kOk, kInvalid, kNotFound, kExists, kFull };

struct FibStatus {
  FibError error = FibError::kOk;
  std::string message;
  bool ok() const { return error == FibError::kOk; }
};

struct Route {
  Prefix prefix;
  std::vector<NextHop> next_hops;
};

struct FibLookup {
  bool found = false;
  Prefix prefix;                   // the longest matching route
  std::vector<NextHop> next_hops;  // all of the route's next hops
  int chosen = -1;                 // index in next_hops a flow with the given hash takes
};

class Fib {
 public:
  // `name` prefixes the DPDK object names (unique per process). Check ok() afterwards.
  Fib(const std::string& name, const FibConfig& config, rte_rcu_qsbr* rcu);
  ~Fib();
  Fib(const Fib&) = delete;
  Fib& operator=(const Fib&) = delete;

  bool ok() const { return fib4_ != nullptr && fib6_ != nullptr && hops_.ok(); }
  const std::string& error() const { return error_; }
  const FibConfig& config() const { return config_; }

  // ---- readers (workers; lock-free) ----

  // Generation of each family's table: changes after every route change.
  uint32_t generation4() const { return gen4_.load(std::memory_order_acquire); }
  uint32_t generation6() const { return gen6_.load(std::memory_order_acquire); }
  // `ips` in host byte order. values[i]: kFibNoRoute, a next hop or an ECMP group value,
  // or (rarely, mid-update) kFibRetry.
  void lookup4_bulk(uint32_t* ips, uint64_t* values, unsigned n) const {
    rte_fib_lookup_bulk(fib4_, ips, values, static_cast<int>(n));
  }
  void lookup6_bulk(uint8_t (*ips)[16], uint64_t* values, unsigned n) const {
    rte_fib6_lookup_bulk(fib6_, ips, values, static_cast<int>(n));
  }
  // One lookup, looked up again while it reads a table mid-update.
  uint64_t lookup4(uint32_t ip) const;
  uint64_t lookup6(const uint8_t ip[16]) const;
  const NextHopTable& next_hops() const { return hops_; }

  // ---- writer (management thread) ----

  // Adds a route; with `replace`, an existing route for the prefix takes the new next hops
  // (in place: lookups see the old or the new next hops, never none). Without `replace`, an
  // existing route is kExists. kFull: the route capacity, tbl8 groups or next-hop slots.
  FibStatus add(const Prefix& prefix, const std::vector<NextHop>& next_hops, bool replace);
  FibStatus del(const Prefix& prefix);
  // What the workers' tables give for `addr`, and the next hop a flow hashing to `hash` takes.
  FibLookup lookup(const IpAddr& addr, uint32_t hash) const;
  // Visits every route of `family` in prefix order.
  void for_each(Family family, const std::function<void(const Route&)>& fn) const;
  uint32_t routes(Family family) const { return family == Family::kIpv4 ? count4_ : count6_; }
  // True when any route names a next hop on router interface `rif` (connected ones included
  // when `include_connected`).
  bool uses_rif(uint16_t rif, bool include_connected) const;

 private:
  uint64_t exact(const Prefix& prefix) const;  // 0 when absent
  FibStatus write(const Prefix& prefix, uint64_t value);
  int write_guarded(const Prefix& prefix, uint64_t value, bool del);
  int raw_add(const Prefix& prefix, uint64_t value);
  int raw_del(const Prefix& prefix);

  FibConfig config_;
  std::string error_;
  rte_fib* fib4_ = nullptr;
  rte_fib6* fib6_ = nullptr;
  NextHopTable hops_;
  uint32_t count4_ = 0, count6_ = 0;
  alignas(64) std::atomic<uint32_t> gen4_{0};
  std::atomic<uint32_t> gen6_{0};
};

}  // namespace vsw::flow
