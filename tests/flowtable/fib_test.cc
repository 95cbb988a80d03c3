// The FIB and its next hops: invalid arguments first, then routes, sharing, ECMP, capacity,
// a differential check against a plain longest-prefix match over random tables, and a reader
// thread looking up while the writer churns (as DPDK's test_fib does).
#include <gtest/gtest.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "fib.h"

namespace vsw::flow {
namespace {

int instance = 0;

// Small tables for the tests that do not need many routes.
FibConfig small_config() {
  FibConfig c;
  c.ipv4_routes = 1024;
  c.ipv6_routes = 1024;
  c.ipv4_tbl8 = 256;
  c.ipv6_tbl8 = 1024;
  return c;
}

std::unique_ptr<Fib> make_fib(const FibConfig& c = small_config(), rte_rcu_qsbr* rcu = nullptr) {
  auto fib = std::make_unique<Fib>("vsw_tfib" + std::to_string(instance++), c, rcu);
  EXPECT_TRUE(fib->ok()) << fib->error();
  return fib;
}

Prefix P(const std::string& text) {
  Prefix p;
  EXPECT_EQ(parse_prefix(text, &p), "") << text;
  return p;
}

IpAddr A(const std::string& text) {
  IpAddr a;
  EXPECT_TRUE(parse_ip(text, &a)) << text;
  return a;
}

NextHop via(uint16_t rif, const std::string& gw) {
  return NextHop{rif, false, A(gw)};
}

NextHop connected(uint16_t rif) {
  return NextHop{rif, true, {}};
}

TEST(IpAddr, ParsesAndFormatsBothFamilies) {
  Prefix p;
  EXPECT_EQ(parse_prefix("10.1.0.0/16", &p), "");
  EXPECT_EQ(format_prefix(p), "10.1.0.0/16");
  EXPECT_EQ(parse_prefix("2001:db8::/32", &p), "");
  EXPECT_EQ(format_prefix(p), "2001:db8::/32");
  EXPECT_EQ(parse_prefix("192.0.2.7", &p), "");
  EXPECT_EQ(p.len, 32);
  EXPECT_NE(parse_prefix("10.1.0.1/16", &p), "");  // host bits
  EXPECT_NE(parse_prefix("10.1.0.0/33", &p), "");
  EXPECT_NE(parse_prefix("10.1.0.0/", &p), "");
  EXPECT_NE(parse_prefix("nonsense", &p), "");
  EXPECT_NE(parse_prefix("2001:db8::/129", &p), "");
  EXPECT_TRUE(P("10.0.0.0/8").contains(A("10.255.1.2")));
  EXPECT_FALSE(P("10.0.0.0/8").contains(A("11.0.0.0")));
  EXPECT_FALSE(P("0.0.0.0/0").contains(A("::1")));
}

TEST(Fib, RefusesCapacitiesOutOfRange) {
  FibConfig c = small_config();
  c.ipv4_routes = 0;
  EXPECT_FALSE(Fib("vsw_tbad0", c, nullptr).ok());
  c = small_config();
  c.ipv4_tbl8 = kMaxIpv4Tbl8 + 1;
  Fib f("vsw_tbad1", c, nullptr);
  EXPECT_FALSE(f.ok());
  EXPECT_NE(f.error().find("tbl8"), std::string::npos) << f.error();
  c = small_config();
  c.ipv6_routes = kMaxIpv6Routes + 1;
  EXPECT_FALSE(Fib("vsw_tbad2", c, nullptr).ok());
}

TEST(Fib, RefusesBadRoutes) {
  auto fib = make_fib();
  Prefix bad = P("10.0.0.0/8");
  bad.addr.bytes[3] = 1;  // host bit
  EXPECT_EQ(fib->add(bad, {connected(1)}, false).error, FibError::kInvalid);
  EXPECT_EQ(fib->add(P("10.0.0.0/8"), {}, false).error, FibError::kInvalid);
  EXPECT_EQ(fib->add(P("10.0.0.0/8"), {via(1, "2001:db8::1")}, false).error, FibError::kInvalid);
  EXPECT_EQ(fib->add(P("10.0.0.0/8"), {via(1, "10.0.0.1"), via(1, "10.0.0.1")}, false).error,
            FibError::kInvalid);
  std::vector<NextHop> seventeen;
  for (int i = 0; i < 17; ++i) seventeen.push_back(via(1, "10.0.0." + std::to_string(i + 1)));
  EXPECT_FALSE(fib->add(P("10.0.0.0/8"), seventeen, false).ok());
  EXPECT_EQ(fib->del(P("10.0.0.0/8")).error, FibError::kNotFound);
  EXPECT_EQ(fib->routes(Family::kIpv4), 0u);
  EXPECT_EQ(fib->next_hops().hops_in_use(), 0u);  // nothing leaked by the refusals
}

TEST(Fib, LongestPrefixWinsInBothFamilies) {
  auto fib = make_fib();
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(1, "192.0.2.1")}, false).ok());
  ASSERT_TRUE(fib->add(P("10.1.0.0/16"), {via(2, "192.0.2.2")}, false).ok());
  ASSERT_TRUE(fib->add(P("10.1.2.128/25"), {connected(3)}, false).ok());
  ASSERT_TRUE(fib->add(P("2001:db8::/32"), {via(1, "fe80::1")}, false).ok());
  ASSERT_TRUE(fib->add(P("2001:db8:1::/48"), {connected(2)}, false).ok());
  auto rif_of = [&](const std::string& dst) {
    FibLookup r = fib->lookup(A(dst), 0);
    return r.found ? int(r.next_hops.at(r.chosen).rif) : -1;
  };
  EXPECT_EQ(rif_of("10.9.9.9"), 1);
  EXPECT_EQ(rif_of("10.1.9.9"), 2);
  EXPECT_EQ(rif_of("10.1.2.200"), 3);
  EXPECT_EQ(rif_of("10.1.2.100"), 2);
  EXPECT_EQ(rif_of("11.0.0.1"), -1);
  EXPECT_EQ(rif_of("2001:db8:1::5"), 2);
  EXPECT_EQ(rif_of("2001:db8:2::5"), 1);
  EXPECT_EQ(rif_of("2001:db9::1"), -1);
  FibLookup r = fib->lookup(A("10.1.2.200"), 0);
  EXPECT_EQ(format_prefix(r.prefix), "10.1.2.128/25");
  EXPECT_TRUE(r.next_hops[0].connected);
  // Deleting the /16 uncovers the /8 again; the /25 stays.
  ASSERT_TRUE(fib->del(P("10.1.0.0/16")).ok());
  EXPECT_EQ(rif_of("10.1.9.9"), 1);
  EXPECT_EQ(rif_of("10.1.2.200"), 3);
  EXPECT_EQ(fib->routes(Family::kIpv4), 2u);
  EXPECT_EQ(fib->routes(Family::kIpv6), 2u);
}

TEST(Fib, DefaultRoutesMatchEverythingElse) {
  auto fib = make_fib();
  ASSERT_TRUE(fib->add(P("0.0.0.0/0"), {via(1, "192.0.2.1")}, false).ok());
  ASSERT_TRUE(fib->add(P("::/0"), {via(2, "2001:db8::1")}, false).ok());
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(3, "192.0.2.3")}, false).ok());
  EXPECT_EQ(fib->lookup(A("1.2.3.4"), 0).next_hops.at(0).rif, 1);
  EXPECT_EQ(fib->lookup(A("255.255.255.255"), 0).next_hops.at(0).rif, 1);
  EXPECT_EQ(fib->lookup(A("10.2.3.4"), 0).next_hops.at(0).rif, 3);
  EXPECT_EQ(fib->lookup(A("ffff::1"), 0).next_hops.at(0).rif, 2);
  std::vector<std::string> listed;
  fib->for_each(Family::kIpv4, [&](const Route& r) { listed.push_back(format_prefix(r.prefix)); });
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, (std::vector<std::string>{"0.0.0.0/0", "10.0.0.0/8"}));
  ASSERT_TRUE(fib->del(P("0.0.0.0/0")).ok());
  EXPECT_FALSE(fib->lookup(A("1.2.3.4"), 0).found);
  EXPECT_TRUE(fib->lookup(A("10.2.3.4"), 0).found);
}

// DPDK 22.11 rewrote the whole table when a route whose range ends at the top of the address
// space was changed above another such route (see Fib::write_guarded). Every step checks an
// address far away, and the chain's own addresses.
TEST(Fib, RoutesAtTheTopOfTheAddressSpaceLeaveTheRestAlone) {
  auto fib = make_fib();
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {connected(1)}, false).ok());
  ASSERT_TRUE(fib->add(P("2001:db8::/32"), {connected(1)}, false).ok());
  auto rif_of = [&](const std::string& dst) {
    FibLookup r = fib->lookup(A(dst), 0);
    return r.found ? int(r.next_hops.at(r.chosen).rif) : -1;
  };
  ASSERT_TRUE(fib->add(P("254.0.0.0/8"), {connected(5)}, false).ok());
  ASSERT_TRUE(fib->add(P("255.0.0.0/8"), {connected(7)}, false).ok());
  ASSERT_TRUE(fib->add(P("254.0.0.0/7"), {connected(9)}, false).ok());
  ASSERT_TRUE(fib->add(P("fe00::/8"), {connected(5)}, false).ok());
  ASSERT_TRUE(fib->add(P("ff00::/8"), {connected(7)}, false).ok());
  ASSERT_TRUE(fib->add(P("fe00::/7"), {connected(9)}, false).ok());
  for (const char* far : {"10.1.1.1", "2001:db8::1"}) EXPECT_EQ(rif_of(far), 1) << far;
  EXPECT_EQ(rif_of("11.0.0.1"), -1);
  EXPECT_EQ(rif_of("254.0.0.1"), 5);
  EXPECT_EQ(rif_of("255.1.1.1"), 7);
  EXPECT_EQ(rif_of("fe00::1"), 5);
  EXPECT_EQ(rif_of("ff00::1"), 7);
  ASSERT_TRUE(fib->add(P("0.0.0.0/0"), {connected(3)}, false).ok());
  ASSERT_TRUE(fib->add(P("255.255.255.255/32"), {connected(4)}, false).ok());
  ASSERT_TRUE(fib->add(P("128.0.0.0/1"), {connected(6)}, false).ok());
  ASSERT_TRUE(fib->add(P("254.0.0.0/7"), {connected(8)}, true).ok());
  EXPECT_EQ(rif_of("10.1.1.1"), 1);
  EXPECT_EQ(rif_of("11.0.0.1"), 3);
  EXPECT_EQ(rif_of("200.0.0.1"), 6);
  EXPECT_EQ(rif_of("255.1.1.1"), 7);
  EXPECT_EQ(rif_of("255.255.255.255"), 4);
  ASSERT_TRUE(fib->del(P("255.0.0.0/8")).ok());
  EXPECT_EQ(rif_of("255.1.1.1"), 8);
  EXPECT_EQ(rif_of("255.255.255.255"), 4);
  ASSERT_TRUE(fib->del(P("128.0.0.0/1")).ok());
  ASSERT_TRUE(fib->del(P("0.0.0.0/0")).ok());
  EXPECT_EQ(rif_of("10.1.1.1"), 1);
  EXPECT_EQ(rif_of("11.0.0.1"), -1);
  EXPECT_EQ(rif_of("200.0.0.1"), -1);
  EXPECT_EQ(rif_of("254.0.0.1"), 5);
  EXPECT_EQ(fib->routes(Family::kIpv4), 4u);
}

TEST(Fib, AddRefusesAnExistingRouteAndReplaceSwapsItsNextHops) {
  auto fib = make_fib();
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(1, "192.0.2.1")}, false).ok());
  const uint32_t gen = fib->generation4();
  EXPECT_EQ(fib->add(P("10.0.0.0/8"), {via(2, "192.0.2.2")}, false).error, FibError::kExists);
  EXPECT_EQ(fib->generation4(), gen);
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(2, "192.0.2.2")}, true).ok());
  EXPECT_NE(fib->generation4(), gen);
  EXPECT_EQ(fib->lookup(A("10.1.1.1"), 0).next_hops.at(0).rif, 2);
  EXPECT_EQ(fib->routes(Family::kIpv4), 1u);
  EXPECT_EQ(fib->next_hops().hops_in_use(), 1u);  // the old next hop went with the replace
  // Replace with the same next hops changes nothing, not even the generation.
  const uint32_t gen2 = fib->generation4();
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(2, "192.0.2.2")}, true).ok());
  EXPECT_EQ(fib->generation4(), gen2);
}

TEST(Fib, RoutesShareNextHopsAndGroups) {
  auto fib = make_fib();
  const std::vector<NextHop> two = {via(1, "192.0.2.1"), via(2, "192.0.2.2")};
  const std::vector<NextHop> two_reversed = {two[1], two[0]};
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), {via(1, "192.0.2.1")}, false).ok());
  ASSERT_TRUE(fib->add(P("11.0.0.0/8"), {via(1, "192.0.2.1")}, false).ok());
  ASSERT_TRUE(fib->add(P("12.0.0.0/8"), two, false).ok());
  ASSERT_TRUE(fib->add(P("13.0.0.0/8"), two_reversed, false).ok());
  const NextHopTable& t = fib->next_hops();
  EXPECT_EQ(t.hops_in_use(), 2u);
  EXPECT_EQ(t.groups_in_use(), 1u);
  ASSERT_TRUE(fib->del(P("10.0.0.0/8")).ok());
  ASSERT_TRUE(fib->del(P("12.0.0.0/8")).ok());
  EXPECT_EQ(t.hops_in_use(), 2u);
  EXPECT_EQ(t.groups_in_use(), 1u);
  ASSERT_TRUE(fib->del(P("13.0.0.0/8")).ok());
  EXPECT_EQ(t.groups_in_use(), 0u);
  EXPECT_EQ(t.hops_in_use(), 1u);  // 11/8 still holds 192.0.2.1
  ASSERT_TRUE(fib->del(P("11.0.0.0/8")).ok());
  EXPECT_EQ(t.hops_in_use(), 0u);
}

TEST(Fib, EcmpSpreadsFlowsAndEachFlowSticks) {
  auto fib = make_fib();
  std::vector<NextHop> hops;
  for (int i = 0; i < 4; ++i) hops.push_back(via(1, "192.0.2." + std::to_string(i + 1)));
  ASSERT_TRUE(fib->add(P("10.0.0.0/8"), hops, false).ok());
  std::map<int, int> per_hop;
  std::mt19937 rng(7);
  for (int flow = 0; flow < 4000; ++flow) {
    const uint32_t tuple[3] = {uint32_t(rng()), uint32_t(rng()), uint32_t(rng())};
    const uint32_t h = rte_hash_crc(tuple, sizeof(tuple), 0);
    FibLookup r = fib->lookup(A("10.1.2.3"), h);
    ASSERT_TRUE(r.found);
    ASSERT_EQ(r.next_hops.size(), 4u);
    ASSERT_GE(r.chosen, 0);
    ++per_hop[r.chosen];
    EXPECT_EQ(fib->lookup(A("10.1.2.3"), h).chosen, r.chosen);  // sticky
  }
  ASSERT_EQ(per_hop.size(), 4u);
  for (auto [hop, n] : per_hop) EXPECT_GT(n, 4000 / 4 * 3 / 4) << "next hop " << hop;
}

TEST(Fib, CapacityIsAHardLimitButReplaceStillWorks) {
  FibConfig c = small_config();
  c.ipv4_routes = 100;
  auto fib = make_fib(c);
  for (uint32_t i = 0; i < 100; ++i)
    ASSERT_TRUE(
        fib->add(make_prefix(IpAddr::v4(0x0a000000 + (i << 8)), 24), {connected(1)}, false).ok());
  FibStatus st = fib->add(P("11.0.0.0/8"), {connected(1)}, false);
  EXPECT_EQ(st.error, FibError::kFull);
  EXPECT_NE(st.message.find("capacity of 100"), std::string::npos) << st.message;
  EXPECT_TRUE(fib->add(P("10.0.0.0/24"), {connected(2)}, true).ok());
  ASSERT_TRUE(fib->del(P("10.0.1.0/24")).ok());
  EXPECT_TRUE(fib->add(P("11.0.0.0/8"), {connected(1)}, false).ok());
}

// ---- differential: the FIB against a plain longest-prefix match ----

// Prefixes nested on purpose: addresses from a few bases, so many routes cover each other.
IpAddr random_addr(std::mt19937& rng, Family f) {
  IpAddr a;
  a.family = f;
  const unsigned n = f == Family::kIpv4 ? 4 : 16;
  for (unsigned i = 0; i < n; ++i) a.bytes[i] = static_cast<uint8_t>(rng());
  // Half of the addresses under one of four /8 (/16) bases.
  if (rng() % 2) {
    a.bytes[0] = static_cast<uint8_t>(10 + rng() % 4);
    if (f == Family::kIpv6) a.bytes[1] = 0x0d;
  }
  return a;
}

uint8_t random_len(std::mt19937& rng, Family f) {
  if (f == Family::kIpv4) {
    const unsigned r = rng() % 100;
    if (r < 5) return static_cast<uint8_t>(rng() % 8);
    if (r < 60) return static_cast<uint8_t>(8 + rng() % 17);  // 8..24
    return static_cast<uint8_t>(25 + rng() % 8);              // 25..32: tbl8 groups
  }
  const unsigned r = rng() % 100;
  if (r < 5) return static_cast<uint8_t>(rng() % 16);
  if (r < 70) return static_cast<uint8_t>(16 + rng() % 49);  // 16..64
  return static_cast<uint8_t>(65 + rng() % 64);              // 65..128
}

struct Reference {
  // One map per length: prefix bytes -> rif of the route's next hop.
  std::vector<std::map<IpAddr, uint16_t>> by_len = std::vector<std::map<IpAddr, uint16_t>>(129);
  int lookup(const IpAddr& a) const {
    for (int len = int(a.max_len()); len >= 0; --len) {
      auto it = by_len[len].find(make_prefix(a, static_cast<uint8_t>(len)).addr);
      if (it != by_len[len].end()) return it->second;
    }
    return -1;
  }
};

void differential(Family f, unsigned routes, unsigned destinations, unsigned seed) {
  FibConfig c;
  c.ipv4_routes = 16384;
  c.ipv6_routes = 4096;
  c.ipv4_tbl8 = 8192;
  c.ipv6_tbl8 = 65536;
  auto fib = make_fib(c);
  std::mt19937 rng(seed);
  Reference ref;
  std::vector<Prefix> installed;
  // Next hops on 100 interfaces, so a wrong match shows as a wrong interface.
  auto add = [&](const Prefix& p, bool replace) {
    const auto rif = static_cast<uint16_t>(1 + rng() % 100);
    FibStatus st = fib->add(p, {connected(rif)}, replace);
    if (st.error == FibError::kExists) return;
    ASSERT_TRUE(st.ok()) << format_prefix(p) << ": " << st.message;
    if (!ref.by_len[p.len].count(p.addr)) installed.push_back(p);
    ref.by_len[p.len][p.addr] = rif;
  };
  while (installed.size() < routes)
    add(make_prefix(random_addr(rng, f), random_len(rng, f)), false);
  // Churn: delete a tenth, replace a tenth, add back as many new ones.
  for (unsigned i = 0; i < routes / 10; ++i) {
    const size_t k = rng() % installed.size();
    const Prefix p = installed[k];
    ASSERT_TRUE(fib->del(p).ok()) << format_prefix(p);
    ref.by_len[p.len].erase(p.addr);
    installed[k] = installed.back();
    installed.pop_back();
    add(installed[rng() % installed.size()], true);
    add(make_prefix(random_addr(rng, f), random_len(rng, f)), false);
  }
  ASSERT_EQ(fib->routes(f), installed.size());
  unsigned matched = 0;
  for (unsigned i = 0; i < destinations; ++i) {
    IpAddr dst = random_addr(rng, f);
    // A third of the destinations inside installed routes, at a random offset.
    if (i % 3 == 0) {
      const Prefix& p = installed[rng() % installed.size()];
      const IpAddr r = random_addr(rng, f);
      for (unsigned b = 0; b < dst.max_len(); ++b) {
        const bool bit = b < p.len ? (p.addr.bytes[b / 8] >> (7 - b % 8)) & 1
                                   : (r.bytes[b / 8] >> (7 - b % 8)) & 1;
        dst.bytes[b / 8] =
            static_cast<uint8_t>((dst.bytes[b / 8] & ~(0x80 >> (b % 8))) | (bit << (7 - b % 8)));
      }
    }
    const int want = ref.lookup(dst);
    // The workers' path: the bulk lookup, then the next-hop slot.
    const uint64_t value =
        f == Family::kIpv4 ? fib->lookup4(dst.v4_host()) : fib->lookup6(dst.bytes);
    const int got =
        value == kFibNoRoute ? -1 : int(fib->next_hops().hop(static_cast<uint32_t>(value)).rif);
    ASSERT_EQ(got, want) << format_ip(dst) << " rib says "
                         << format_prefix(fib->lookup(dst, 0).prefix) <<
        [&] {
          std::string s;
          for (int len = int(dst.max_len()); len >= 0; --len) {
            auto it = ref.by_len[len].find(make_prefix(dst, uint8_t(len)).addr);
            if (it != ref.by_len[len].end())
              s += " " + std::to_string(len) + "->" + std::to_string(it->second);
          }
          return s;
        }();
    matched += want >= 0;
  }
  EXPECT_GT(matched, destinations / 3);  // the test exercised real matches
}

TEST(FibDifferential, Ipv4TenThousandRoutes) {
  differential(Family::kIpv4, 10000, 100000, 1);
}

TEST(FibDifferential, Ipv6TwoThousandRoutes) {
  differential(Family::kIpv6, 2000, 100000, 2);
}

// ---- RCU ----

struct Rcu {
  Rcu() {
    const size_t size = rte_rcu_qsbr_get_memsize(1);
    v = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, size, RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(v, 1);
    rte_rcu_qsbr_thread_register(v, 0);
  }
  ~Rcu() { rte_free(v); }
  rte_rcu_qsbr* v;
};

TEST(NextHopTable, ReleasedSlotsWaitForTheGracePeriod) {
  Rcu rcu;
  NextHopTable t(rcu.v);
  std::string err;
  rte_rcu_qsbr_thread_online(rcu.v, 0);  // a reader that has not reported yet
  const uint32_t a = t.acquire({via(1, "192.0.2.1")}, &err);
  ASSERT_NE(a, 0u) << err;
  t.release(a);
  EXPECT_EQ(t.deferred(), 1u);
  const uint32_t b = t.acquire({via(1, "192.0.2.2")}, &err);
  EXPECT_NE(b, a);  // not reused while the reader may still hold it
  EXPECT_EQ(t.deferred(), 1u);
  rte_rcu_qsbr_quiescent(rcu.v, 0);
  t.release(b);
  const uint32_t c = t.acquire({via(1, "192.0.2.3")}, &err);
  EXPECT_EQ(c, a);  // the reader moved on: a's slot is back, b's still waits
  EXPECT_EQ(t.deferred(), 1u);
  rte_rcu_qsbr_thread_offline(rcu.v, 0);
}

// A reader looks up fixed destinations whose routes never change while the writer adds and
// deletes routes around them (in the same /24s, so tbl8 groups come and go under the reader).
TEST(FibConcurrency, ReaderNeverSeesAWrongNextHopWhileTheWriterChurns) {
  Rcu rcu;
  auto fib = make_fib(small_config(), rcu.v);
  constexpr int kStable = 64;
  std::vector<uint32_t> dsts;
  for (int i = 0; i < kStable; ++i) {
    const uint32_t base = 0x0a000000u + (uint32_t(i) << 8);
    ASSERT_TRUE(
        fib->add(make_prefix(IpAddr::v4(base), 24), {connected(uint16_t(1 + i))}, false).ok());
    dsts.push_back(base + 200);  // never inside the churned /25s below 128
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> wrong{0}, lookups{0};
  std::thread reader([&] {
    rte_rcu_qsbr_thread_online(rcu.v, 0);
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < kStable; ++i) {
        const uint64_t v = fib->lookup4(dsts[i]);
        if (v == kFibNoRoute || fib->next_hops().hop(uint32_t(v)).rif != 1 + i) ++wrong;
        ++n;
      }
      rte_rcu_qsbr_quiescent(rcu.v, 0);
    }
    lookups = n;
    rte_rcu_qsbr_thread_offline(rcu.v, 0);
  });
  std::mt19937 rng(3);
  for (int round = 0; round < 20000; ++round) {
    const int i = int(rng() % kStable);
    const Prefix p = make_prefix(IpAddr::v4(0x0a000000u + (uint32_t(i) << 8) + (rng() % 128)),
                                 static_cast<uint8_t>(25 + rng() % 8));
    if (fib->add(p, {connected(200)}, false).ok()) {
      ASSERT_TRUE(fib->del(p).ok());
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(lookups.load(), 0u);
}

}  // namespace
}  // namespace vsw::flow
