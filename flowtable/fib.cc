#include "fib.h"

#include <rte_errno.h>
#include <rte_rib.h>
#include <rte_rib6.h>

#include <algorithm>
#include <cerrno>

namespace vsw::flow {

namespace {

// A lookup that keeps reading zeroed entries is racing a writer that keeps collapsing tbl8
// groups under it; each retry costs one lookup, and the writer does more work per change.
constexpr int kMaxRetries = 64;

// True when the prefix's range ends at the top of the address space (its network bits are all
// ones; the default route too). See Fib::write_guarded.
bool reaches_top(const Prefix& p) {
  for (unsigned b = 0; b < p.len; ++b) {
    if (!((p.addr.bytes[b / 8] >> (7 - b % 8)) & 1)) return false;
  }
  return true;
}

Prefix top_prefix(Family f, uint8_t len) {
  IpAddr a;
  a.family = f;
  std::memset(a.bytes, 0xff, f == Family::kIpv4 ? 4 : 16);
  return make_prefix(a, len);
}

std::string range_error(const char* what, uint32_t value, uint32_t max) {
  return std::string(what) + ": " + std::to_string(value) + " is not in 1-" + std::to_string(max);
}

}  // namespace

Fib::Fib(const std::string& name, const FibConfig& config, rte_rcu_qsbr* rcu)
    : config_(config), hops_(rcu) {
  if (config.ipv4_routes == 0 || config.ipv4_routes > kMaxIpv4Routes) {
    error_ = range_error("IPv4 routes", config.ipv4_routes, kMaxIpv4Routes);
    return;
  }
  if (config.ipv6_routes == 0 || config.ipv6_routes > kMaxIpv6Routes) {
    error_ = range_error("IPv6 routes", config.ipv6_routes, kMaxIpv6Routes);
    return;
  }
  if (config.ipv4_tbl8 == 0 || config.ipv4_tbl8 > kMaxIpv4Tbl8) {
    error_ = range_error("IPv4 tbl8 groups", config.ipv4_tbl8, kMaxIpv4Tbl8);
    return;
  }
  if (config.ipv6_tbl8 == 0 || config.ipv6_tbl8 > kMaxIpv6Tbl8) {
    error_ = range_error("IPv6 tbl8 groups", config.ipv6_tbl8, kMaxIpv6Tbl8);
    return;
  }
  if (!hops_.ok()) {
    error_ = "cannot allocate the next-hop table";
    return;
  }
  rte_fib_conf c4{};
  c4.type = RTE_FIB_DIR24_8;
  c4.default_nh = kFibNoRoute;
  c4.max_routes = static_cast<int>(config.ipv4_routes);
  c4.dir24_8.nh_sz = RTE_FIB_DIR24_8_2B;
  c4.dir24_8.num_tbl8 = config.ipv4_tbl8;
  const std::string name4 = name + "4";
  fib4_ = rte_fib_create(name4.c_str(), SOCKET_ID_ANY, &c4);
  if (fib4_ == nullptr) {
    error_ =
        "IPv4 FIB (" + std::to_string(config.ipv4_routes) + " routes): " + rte_strerror(rte_errno);
    return;
  }
  rte_fib6_conf c6{};
  c6.type = RTE_FIB6_TRIE;
  c6.default_nh = kFibNoRoute;
  c6.max_routes = static_cast<int>(config.ipv6_routes);
  c6.trie.nh_sz = RTE_FIB6_TRIE_4B;
  c6.trie.num_tbl8 = config.ipv6_tbl8;
  const std::string name6 = name + "6";
  fib6_ = rte_fib6_create(name6.c_str(), SOCKET_ID_ANY, &c6);
  if (fib6_ == nullptr) {
    error_ =
        "IPv6 FIB (" + std::to_string(config.ipv6_routes) + " routes): " + rte_strerror(rte_errno);
    rte_fib_free(fib4_);
    fib4_ = nullptr;
  }
}

Fib::~Fib() {
  rte_fib_free(fib4_);
  rte_fib6_free(fib6_);
}

uint64_t Fib::lookup4(uint32_t ip) const {
  uint64_t value = kFibRetry;
  for (int i = 0; i < kMaxRetries && value == kFibRetry; ++i) lookup4_bulk(&ip, &value, 1);
  return value == kFibRetry ? kFibNoRoute : value;
}

uint64_t Fib::lookup6(const uint8_t ip[16]) const {
  uint8_t copy[1][16];
  std::memcpy(copy[0], ip, 16);
  uint64_t value = kFibRetry;
  for (int i = 0; i < kMaxRetries && value == kFibRetry; ++i) lookup6_bulk(copy, &value, 1);
  return value == kFibRetry ? kFibNoRoute : value;
}

uint64_t Fib::exact(const Prefix& prefix) const {
  uint64_t nh = 0;
  if (prefix.addr.is_v4()) {
    rte_rib_node* n =
        rte_rib_lookup_exact(rte_fib_get_rib(fib4_), prefix.addr.v4_host(), prefix.len);
    if (n == nullptr || rte_rib_get_nh(n, &nh) != 0) return 0;
  } else {
    rte_rib6_node* n =
        rte_rib6_lookup_exact(rte_fib6_get_rib(fib6_), prefix.addr.bytes, prefix.len);
    if (n == nullptr || rte_rib6_get_nh(n, &nh) != 0) return 0;
  }
  return nh;
}

int Fib::raw_add(const Prefix& prefix, uint64_t value) {
  return prefix.addr.is_v4() ? rte_fib_add(fib4_, prefix.addr.v4_host(), prefix.len, value)
                             : rte_fib6_add(fib6_, prefix.addr.bytes, prefix.len, value);
}

int Fib::raw_del(const Prefix& prefix) {
  return prefix.addr.is_v4() ? rte_fib_delete(fib4_, prefix.addr.v4_host(), prefix.len)
                             : rte_fib6_delete(fib6_, prefix.addr.bytes, prefix.len);
}

// DPDK 22.11's DIR24_8 and TRIE updates walk the prefix's range edge by edge, and when the last
// more specific route below it also ends at the top of the address space, the edge wraps to 0
// and the update rewrites the whole table with its next hop (found by the differential test:
// fe00::/8 and ff00::/8, then fe00::/7, sent every address to the /7). Only prefixes reaching
// the top can have such a route below them, and those are one nested chain (at most 33 or
// 129): so the chain below the prefix is taken out deepest first, the change is made, and the
// chain goes back shallowest first. Each step then has no top-reaching route below it.
// Meanwhile lookups inside the chain's prefixes match the less specific route for a moment.
int Fib::write_guarded(const Prefix& prefix, uint64_t value, bool del) {
  if (!reaches_top(prefix)) return del ? raw_del(prefix) : raw_add(prefix, value);
  std::vector<std::pair<Prefix, uint64_t>> below;
  for (unsigned len = prefix.len + 1u; len <= prefix.addr.max_len(); ++len) {
    const Prefix p = top_prefix(prefix.addr.family, static_cast<uint8_t>(len));
    if (const uint64_t v = exact(p); v != 0) below.emplace_back(p, v);
  }
  for (auto it = below.rbegin(); it != below.rend(); ++it) raw_del(it->first);
  const int rc = del ? raw_del(prefix) : raw_add(prefix, value);
  for (const auto& [p, v] : below) raw_add(p, v);
  return rc;
}

FibStatus Fib::write(const Prefix& prefix, uint64_t value) {
  const int rc = write_guarded(prefix, value, false);
  if (rc == 0) return {};
  if (rc == -ENOSPC)
    return {FibError::kFull, std::string("route: the ") + (prefix.addr.is_v4() ? "IPv4" : "IPv6") +
                                 " FIB has no tbl8 group left for " + format_prefix(prefix)};
  return {FibError::kFull, "route: " + format_prefix(prefix) + ": " + rte_strerror(-rc)};
}

FibStatus Fib::add(const Prefix& prefix, const std::vector<NextHop>& next_hops, bool replace) {
  if (!(make_prefix(prefix.addr, prefix.len) == prefix) || prefix.len > prefix.addr.max_len())
    return {FibError::kInvalid, "prefix: '" + format_prefix(prefix) + "' has host bits set"};
  if (next_hops.empty() || next_hops.size() > kMaxEcmpWays)
    return {FibError::kInvalid, "via: a route takes 1 to " + std::to_string(kMaxEcmpWays) +
                                    " next hops, not " + std::to_string(next_hops.size())};
  for (size_t i = 0; i < next_hops.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (next_hops[i] == next_hops[j])
        return {FibError::kInvalid, "via: the same next hop is named twice"};
    }
  }
  for (const NextHop& h : next_hops) {
    if (!h.connected && h.gateway.family != prefix.addr.family)
      return {FibError::kInvalid, "via: gateway " + format_ip(h.gateway) +
                                      " is not of the prefix's family (" + format_prefix(prefix) +
                                      ")"};
  }
  const bool v4 = prefix.addr.is_v4();
  const uint64_t old = exact(prefix);
  if (old != 0 && !replace)
    return {FibError::kExists, "prefix: a route to " + format_prefix(prefix) + " exists"};
  uint32_t& count = v4 ? count4_ : count6_;
  const uint32_t capacity = v4 ? config_.ipv4_routes : config_.ipv6_routes;
  if (old == 0 && count >= capacity)
    return {FibError::kFull, std::string("route: the ") + (v4 ? "IPv4" : "IPv6") +
                                 " FIB holds its capacity of " + std::to_string(capacity) +
                                 " routes"};
  std::string error;
  const uint32_t value = hops_.acquire(next_hops, &error);
  if (value == 0) return {FibError::kFull, error};
  if (value == old) {  // same next hops: nothing changes
    hops_.release(value);
    return {};
  }
  if (FibStatus st = write(prefix, value); !st.ok()) {
    hops_.release(value);
    return st;
  }
  (v4 ? gen4_ : gen6_).fetch_add(1, std::memory_order_release);
  if (old != 0) {
    hops_.release(static_cast<uint32_t>(old));
  } else {
    ++count;
  }
  return {};
}

FibStatus Fib::del(const Prefix& prefix) {
  const uint64_t old = exact(prefix);
  if (old == 0) return {FibError::kNotFound, "prefix: no route to " + format_prefix(prefix)};
  const bool v4 = prefix.addr.is_v4();
  const int rc = write_guarded(prefix, 0, true);
  if (rc != 0)
    return {FibError::kFull, "route: deleting " + format_prefix(prefix) + ": " + rte_strerror(-rc)};
  (v4 ? gen4_ : gen6_).fetch_add(1, std::memory_order_release);
  --(v4 ? count4_ : count6_);
  hops_.release(static_cast<uint32_t>(old));
  return {};
}

FibLookup Fib::lookup(const IpAddr& addr, uint32_t hash) const {
  FibLookup out;
  uint64_t value;
  if (addr.is_v4()) {
    value = lookup4(addr.v4_host());
    if (value == kFibNoRoute) return out;
    rte_rib_node* n = rte_rib_lookup(rte_fib_get_rib(fib4_), addr.v4_host());
    uint32_t ip = 0;
    uint8_t depth = 0;
    if (n != nullptr) {
      rte_rib_get_ip(n, &ip);
      rte_rib_get_depth(n, &depth);
    }
    out.prefix = make_prefix(IpAddr::v4(ip), depth);
  } else {
    value = lookup6(addr.bytes);
    if (value == kFibNoRoute) return out;
    rte_rib6_node* n = rte_rib6_lookup(rte_fib6_get_rib(fib6_), addr.bytes);
    IpAddr ip;
    ip.family = Family::kIpv6;
    uint8_t depth = 0;
    if (n != nullptr) {
      rte_rib6_get_ip(n, ip.bytes);
      rte_rib6_get_depth(n, &depth);
    }
    out.prefix = make_prefix(ip, depth);
  }
  out.found = true;
  out.next_hops = hops_.describe(static_cast<uint32_t>(value));
  const uint32_t chosen = hops_.select(value, hash);
  const std::vector<NextHop> picked = hops_.describe(chosen);
  for (size_t i = 0; i < out.next_hops.size() && !picked.empty(); ++i) {
    if (out.next_hops[i] == picked[0]) out.chosen = static_cast<int>(i);
  }
  return out;
}

void Fib::for_each(Family family, const std::function<void(const Route&)>& fn) const {
  uint64_t nh = 0;
  if (family == Family::kIpv4) {
    rte_rib* rib = rte_fib_get_rib(fib4_);
    // get_nxt lists what a prefix covers, not the prefix itself: the default route apart.
    if (rte_rib_node* d = rte_rib_lookup_exact(rib, 0, 0); d && rte_rib_get_nh(d, &nh) == 0)
      fn({make_prefix(IpAddr::v4(0), 0), hops_.describe(static_cast<uint32_t>(nh))});
    rte_rib_node* n = nullptr;
    while ((n = rte_rib_get_nxt(rib, 0, 0, n, RTE_RIB_GET_NXT_ALL)) != nullptr) {
      uint32_t ip = 0;
      uint8_t depth = 0;
      rte_rib_get_ip(n, &ip);
      rte_rib_get_depth(n, &depth);
      rte_rib_get_nh(n, &nh);
      if (depth == 0) continue;
      fn({make_prefix(IpAddr::v4(ip), depth), hops_.describe(static_cast<uint32_t>(nh))});
    }
    return;
  }
  rte_rib6* rib = rte_fib6_get_rib(fib6_);
  const uint8_t zero[16] = {};
  if (rte_rib6_node* d = rte_rib6_lookup_exact(rib, zero, 0); d && rte_rib6_get_nh(d, &nh) == 0)
    fn({make_prefix(IpAddr::v6(zero), 0), hops_.describe(static_cast<uint32_t>(nh))});
  rte_rib6_node* n = nullptr;
  while ((n = rte_rib6_get_nxt(rib, zero, 0, n, RTE_RIB6_GET_NXT_ALL)) != nullptr) {
    IpAddr ip;
    ip.family = Family::kIpv6;
    uint8_t depth = 0;
    rte_rib6_get_ip(n, ip.bytes);
    rte_rib6_get_depth(n, &depth);
    rte_rib6_get_nh(n, &nh);
    if (depth == 0) continue;
    fn({make_prefix(ip, depth), hops_.describe(static_cast<uint32_t>(nh))});
  }
}

bool Fib::uses_rif(uint16_t rif, bool include_connected) const {
  bool used = false;
  for (Family f : {Family::kIpv4, Family::kIpv6}) {
    for_each(f, [&](const Route& r) {
      for (const NextHop& h : r.next_hops) {
        if (h.rif == rif && (include_connected || !h.connected)) used = true;
      }
    });
  }
  return used;
}

}  // namespace vsw::flow
