// The rte_acl classifier against the reference classifier (acl_rule.h), and its RCU
// publication. Runs on EAL without hugepages (rte_acl allocates from DPDK memory).
#include "acl_classifier.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "pipeline_harness.h"

namespace vsw::acl {
namespace {

class AclClassifier : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(vsw::test::init_eal("acl_classifier_test")); }
};

Prefix prefix(const char* text) {
  Prefix p;
  EXPECT_EQ(parse_prefix("src", text, &p), "");
  return p;
}

Rule rule(uint32_t id, uint32_t priority = 0, Action action = Action::kPermit) {
  Rule r;
  r.id = id;
  r.priority = priority;
  r.action = action;
  return r;
}

PacketKey key(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  PacketKey k;
  k.family =
      std::string_view(src).find(':') == std::string_view::npos ? Family::kIpv4 : Family::kIpv6;
  const int af = k.family == Family::kIpv4 ? AF_INET : AF_INET6;
  inet_pton(af, src, k.src.data());
  inet_pton(af, dst, k.dst.data());
  k.proto = proto;
  k.sport = sport;
  k.dport = dport;
  return k;
}

// One packet through the compiled classifier.
uint32_t classify(const CompiledAcl& acl, const PacketKey& k) {
  uint32_t result = 0;
  if (k.family == Family::kIpv4) {
    const AclInput4 in = to_input4(k);
    const AclInput4* p = &in;
    acl.classify4(&p, 1, &result);
  } else {
    const AclInput6 in = to_input6(k);
    const AclInput6* p = &in;
    acl.classify6(&p, 1, &result);
  }
  return result;
}

uint32_t expected(std::span<const Rule> rules, const PacketKey& k) {
  const int32_t i = classify_reference(rules, k);
  return i < 0 ? kNoRule : static_cast<uint32_t>(i);
}

TEST_F(AclClassifier, NoRulesMeansTheDefault) {
  std::string error;
  auto acl = CompiledAcl::build({}, Action::kDeny, &error);
  ASSERT_TRUE(acl) << error;
  EXPECT_EQ(classify(*acl, key("10.0.0.1", "10.0.0.2", kProtoTcp, 1, 2)), kNoRule);
  EXPECT_EQ(classify(*acl, key("::1", "::2", kProtoTcp, 1, 2)), kNoRule);
  EXPECT_EQ(acl->action(kNoRule), Action::kDeny);
}

TEST_F(AclClassifier, RefusesInvalidRulesNamingThem) {
  std::string error;
  std::vector<Rule> rules(2);
  rules[0].id = 1;
  rules[1].id = 2;
  rules[1].dport = {1, 2};
  EXPECT_FALSE(CompiledAcl::build(rules, Action::kPermit, &error));
  EXPECT_EQ(error, "rule 2: dport: a port range needs proto tcp, udp or sctp");
  rules[1] = Rule{};
  rules[1].id = 1;
  EXPECT_FALSE(CompiledAcl::build(rules, Action::kPermit, &error));
  EXPECT_EQ(error, "rule 1: duplicate id");
}

TEST_F(AclClassifier, SecurityGroupExample) {
  std::vector<Rule> rules(5);
  rules[0] = rule(1, 100, Action::kPermitStateful);
  rules[0].proto = kProtoTcp;
  rules[0].dport = {22, 22};
  rules[0].src = prefix("192.0.2.0/24");
  rules[1] = rule(2, 90, Action::kPermit);
  rules[1].proto = kProtoIcmp;
  rules[1].icmp_type = 8;
  rules[2] = rule(3, 90, Action::kPermitStateful);
  rules[2].proto = kProtoIcmpv6;
  rules[3] = rule(4, 80, Action::kDeny);
  rules[3].dst = prefix("2001:db8::/32");
  rules[4] = rule(5, 10, Action::kPermit);
  rules[4].proto = kProtoUdp;
  rules[4].dport = {1024, 65535};
  std::string error;
  auto acl = CompiledAcl::build(rules, Action::kDeny, &error);
  ASSERT_TRUE(acl) << error;
  EXPECT_EQ(classify(*acl, key("192.0.2.9", "10.0.0.1", kProtoTcp, 40000, 22)), 0u);
  EXPECT_EQ(classify(*acl, key("192.0.3.9", "10.0.0.1", kProtoTcp, 40000, 22)), kNoRule);
  EXPECT_EQ(classify(*acl, key("192.0.2.9", "10.0.0.1", kProtoTcp, 40000, 23)), kNoRule);
  EXPECT_EQ(classify(*acl, key("1.1.1.1", "10.0.0.1", kProtoIcmp, 8, 0)), 1u);
  EXPECT_EQ(classify(*acl, key("1.1.1.1", "10.0.0.1", kProtoIcmp, 0, 0)), kNoRule);
  EXPECT_EQ(classify(*acl, key("2001:db8::1", "2001:db8::2", kProtoIcmpv6, 128, 0)), 2u);
  EXPECT_EQ(classify(*acl, key("2001:db8::1", "2001:db8::2", kProtoUdp, 5, 2000)), 3u);
  EXPECT_EQ(classify(*acl, key("2001:db8::1", "2001:db9::2", kProtoUdp, 5, 2000)), 4u);
  EXPECT_EQ(classify(*acl, key("10.0.0.2", "10.0.0.1", kProtoUdp, 5, 1023)), kNoRule);
  EXPECT_EQ(acl->action(0), Action::kPermitStateful);
  EXPECT_EQ(acl->action(3), Action::kDeny);
}

// Random rules over a small address space, so that rules overlap a lot and priorities and
// ties decide; packets mostly built to fall inside some rule.
class RandomRules {
 public:
  explicit RandomRules(uint32_t seed) : rng_(seed) {}

  Rule rule(uint32_t id) {
    Rule r;
    r.id = id;
    r.priority = pick(0, 20);  // few values: many ties
    r.action = static_cast<Action>(pick(0, 2));
    const int family = pick(0, 2);  // 0: IPv4 prefixes, 1: IPv6, 2: none
    for (std::optional<Prefix>* p : {&r.src, &r.dst}) {
      if (family == 2 || pick(0, 3) == 0) continue;
      *p = random_prefix(family == 0 ? Family::kIpv4 : Family::kIpv6);
    }
    switch (pick(0, 5)) {
      case 0:
        break;
      case 1:
      case 2:
        r.proto = pick(0, 1) ? kProtoTcp : kProtoUdp;
        if (pick(0, 1)) r.sport = range();
        if (pick(0, 1)) r.dport = range();
        break;
      case 3:
        if (family != 1) {
          r.proto = kProtoIcmp;
          if (pick(0, 1)) r.icmp_type = static_cast<uint8_t>(pick(0, 3) * 8 / 3);
        }
        break;
      case 4:
        if (family != 0) {
          r.proto = kProtoIcmpv6;
          if (pick(0, 1)) r.icmp_type = static_cast<uint8_t>(128 + pick(0, 1));
        }
        break;
      default:
        r.proto = static_cast<uint8_t>(pick(0, 255));
        if (r.proto == kProtoIcmp && family == 1) r.proto = 47;
        if (r.proto == kProtoIcmpv6 && family == 0) r.proto = 47;
        break;
    }
    EXPECT_EQ(validate(r), "");
    return r;
  }

  PacketKey packet(std::span<const Rule> rules) {
    PacketKey k;
    k.family = pick(0, 1) ? Family::kIpv4 : Family::kIpv6;
    k.src = address(k.family);
    k.dst = address(k.family);
    k.proto =
        std::array<uint8_t, 6>{kProtoTcp,    kProtoUdp, kProtoIcmp,
                               kProtoIcmpv6, 47,        static_cast<uint8_t>(pick(0, 255))}[pick(
            0, 5)];
    k.sport = port();
    k.dport = port();
    if (k.proto == kProtoIcmp || k.proto == kProtoIcmpv6) {
      k.sport = static_cast<uint16_t>(pick(0, 1) ? pick(0, 8) : 128 + pick(0, 1));
      k.dport = static_cast<uint16_t>(pick(0, 1));
    }
    // Three in four: move the packet into a random rule's space.
    if (!rules.empty() && pick(0, 3) != 0) {
      const Rule& r = rules[pick(0, static_cast<int>(rules.size()) - 1)];
      const Prefix* any = r.src ? &*r.src : r.dst ? &*r.dst : nullptr;
      if (any && any->family != k.family) {
        k.family = any->family;
        k.src = address(k.family);
        k.dst = address(k.family);
      }
      if (r.src) k.src = inside(*r.src);
      if (r.dst) k.dst = inside(*r.dst);
      if (r.proto) k.proto = *r.proto;
      if (k.proto == kProtoIcmp) k.family = Family::kIpv4;
      if (k.proto == kProtoIcmpv6) k.family = Family::kIpv6;
      if (k.family == Family::kIpv4) std::fill(k.src.begin() + 4, k.src.end(), 0);
      if (k.family == Family::kIpv4) std::fill(k.dst.begin() + 4, k.dst.end(), 0);
      k.sport = static_cast<uint16_t>(pick(r.sport.lo, r.sport.hi));
      k.dport = static_cast<uint16_t>(pick(r.dport.lo, r.dport.hi));
      if (r.icmp_type) k.sport = *r.icmp_type;
    }
    return k;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // Addresses from a small space: a few values per byte, the rest zero.
  std::array<uint8_t, 16> address(Family f) {
    std::array<uint8_t, 16> a{};
    const int bytes = f == Family::kIpv4 ? 4 : 16;
    for (int i = 0; i < bytes; ++i) a[i] = static_cast<uint8_t>(pick(0, 3) * 0x41);
    if (f == Family::kIpv6 && pick(0, 1)) std::fill(a.begin() + 4, a.end(), 0);
    return a;
  }

  Prefix random_prefix(Family f) {
    Prefix p;
    p.family = f;
    p.addr = address(f);
    const int bits = f == Family::kIpv4 ? 32 : 128;
    p.len = static_cast<uint8_t>(pick(0, 2) ? pick(0, bits) : pick(0, bits / 8) * 8);
    for (int bit = p.len; bit < 128; ++bit) p.addr[bit / 8] &= ~(0x80u >> (bit % 8));
    return p;
  }

  std::array<uint8_t, 16> inside(const Prefix& p) {
    std::array<uint8_t, 16> a = address(p.family);
    for (int bit = 0; bit < p.len; ++bit) {
      const uint8_t m = static_cast<uint8_t>(0x80u >> (bit % 8));
      a[bit / 8] = static_cast<uint8_t>((a[bit / 8] & ~m) | (p.addr[bit / 8] & m));
    }
    return a;
  }

  PortRange range() {
    const int lo = port();
    const int hi = pick(0, 2) == 0 ? lo : std::min(65535, lo + pick(0, 3000));
    return PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
  }

  uint16_t port() {
    static constexpr uint16_t kCommon[] = {0, 22, 53, 80, 443, 1023, 1024, 8080, 65535};
    return pick(0, 1) ? kCommon[pick(0, 8)] : static_cast<uint16_t>(pick(0, 65535));
  }

  std::mt19937 rng_;
};

TEST_F(AclClassifier, AgreesWithTheReferenceOnRandomRules) {
  for (const auto& [seed, n_rules] :
       {std::pair{1u, 10u}, std::pair{2u, 200u}, std::pair{3u, 600u}, std::pair{4u, 1500u}}) {
    RandomRules gen(seed);
    std::vector<Rule> rules;
    for (uint32_t i = 0; i < n_rules; ++i) rules.push_back(gen.rule(1000 + (i * 7919) % 5000));
    std::string error;
    auto acl = CompiledAcl::build(rules, Action::kPermit, &error);
    ASSERT_TRUE(acl) << error;
    // In bursts, as workers classify: mixed families split into one call per family.
    uint32_t matched = 0, mismatches = 0;
    for (int burst = 0; burst < 100; ++burst) {
      PacketKey keys[32];
      AclInput4 in4[32];
      AclInput6 in6[32];
      const AclInput4* p4[32];
      const AclInput6* p6[32];
      uint32_t idx4[32], idx6[32], n4 = 0, n6 = 0;
      for (uint32_t i = 0; i < 32; ++i) {
        keys[i] = gen.packet(rules);
        if (keys[i].family == Family::kIpv4) {
          in4[n4] = to_input4(keys[i]);
          p4[n4] = &in4[n4];
          idx4[n4++] = i;
        } else {
          in6[n6] = to_input6(keys[i]);
          p6[n6] = &in6[n6];
          idx6[n6++] = i;
        }
      }
      uint32_t r4[32], r6[32];
      acl->classify4(p4, n4, r4);
      acl->classify6(p6, n6, r6);
      uint32_t got[32];
      for (uint32_t i = 0; i < n4; ++i) got[idx4[i]] = r4[i];
      for (uint32_t i = 0; i < n6; ++i) got[idx6[i]] = r6[i];
      for (uint32_t i = 0; i < 32; ++i) {
        const uint32_t want = expected(rules, keys[i]);
        matched += want != kNoRule;
        if (got[i] != want && ++mismatches <= 5) {
          ADD_FAILURE() << "seed " << seed << " packet " << burst * 32 + i << " family "
                        << int(keys[i].family) << " proto " << int(keys[i].proto) << " ports "
                        << keys[i].sport << "/" << keys[i].dport << ": rte_acl " << got[i]
                        << ", reference " << want;
        }
      }
    }
    EXPECT_EQ(mismatches, 0u) << "seed " << seed;
    // The test means something only if most packets hit some rule.
    EXPECT_GT(matched, 3200u / 2) << "seed " << seed;
  }
}

TEST_F(AclClassifier, EqualPrioritiesGoToTheLowerIdWhateverTheOrder) {
  std::vector<Rule> rules;
  for (uint32_t id : {50u, 10u, 40u, 20u, 30u}) {
    Rule r = rule(id, 7, id == 10 ? Action::kDeny : Action::kPermit);
    rules.push_back(r);
  }
  std::string error;
  auto acl = CompiledAcl::build(rules, Action::kPermit, &error);
  ASSERT_TRUE(acl) << error;
  const uint32_t i = classify(*acl, key("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2));
  ASSERT_NE(i, kNoRule);
  EXPECT_EQ(acl->rule(i).id, 10u);
  EXPECT_EQ(classify(*acl, key("::1", "::2", kProtoUdp, 1, 2)), i);
}

TEST_F(AclClassifier, SetPublishesNewRulesAndFreesTheOldAfterTheGracePeriod) {
  const size_t size = rte_rcu_qsbr_get_memsize(1);
  auto* rcu = static_cast<rte_rcu_qsbr*>(aligned_alloc(64, (size + 63) / 64 * 64));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  {
    AclSet set(rcu);
    EXPECT_EQ(set.current()->action(kNoRule), Action::kPermit);
    rte_rcu_qsbr_thread_online(rcu, 0);  // this thread now reads, as a worker would
    const CompiledAcl* before = set.current();

    Rule deny = rule(1, 5, Action::kDeny);
    deny.proto = kProtoTcp;
    ASSERT_EQ(set.update(std::vector<Rule>{deny}, Action::kPermit), "");
    EXPECT_NE(set.current(), before);
    EXPECT_EQ(set.current()->size(), 1u);
    // The reader has not been quiescent since: the old context must stay.
    EXPECT_EQ(set.reclaim(false), 1u);
    EXPECT_EQ(before->size(), 0u);  // still readable
    const uint32_t hit = classify(*set.current(), key("1.1.1.1", "2.2.2.2", kProtoTcp, 1, 2));
    ASSERT_EQ(hit, 0u);
    set.current()->count_hit(0, hit);
    set.current()->count_hit(3, hit);
    rte_rcu_qsbr_quiescent(rcu, 0);
    EXPECT_EQ(set.reclaim(false), 0u);

    // A failed update changes nothing.
    Rule bad = rule(2);
    bad.sport = {5, 5};
    EXPECT_EQ(set.update(std::vector<Rule>{deny, bad}, Action::kDeny),
              "rule 2: sport: a port range needs proto tcp, udp or sctp");
    EXPECT_EQ(set.current()->size(), 1u);
    EXPECT_EQ(set.current()->default_action(), Action::kPermit);

    // Hits survive rebuilds, by rule id.
    ASSERT_EQ(set.set_default(Action::kDeny), "");
    EXPECT_EQ(set.current()->default_action(), Action::kDeny);
    EXPECT_EQ(set.hits(1), 2u);
    rte_rcu_qsbr_quiescent(rcu, 0);
    EXPECT_EQ(set.reclaim(false), 0u);
    EXPECT_EQ(set.hits(1), 2u);
    set.current()->count_hit(0, 0);
    EXPECT_EQ(set.hits(1), 3u);
    EXPECT_EQ(set.hits(99), 0u);
    const auto all = set.all_hits();
    EXPECT_EQ(all.size(), 1u);
    EXPECT_EQ(all.at(1), 3u);
    rte_rcu_qsbr_thread_offline(rcu, 0);
  }
  free(rcu);
}

// A reader thread classifies continuously while the writer swaps rule sets: every answer
// comes from one complete set (never a freed or half-built one), and reclaim waits for it.
TEST_F(AclClassifier, ReaderSeesWholeRuleSetsWhileTheWriterSwaps) {
  const size_t size = rte_rcu_qsbr_get_memsize(1);
  auto* rcu = static_cast<rte_rcu_qsbr*>(aligned_alloc(64, (size + 63) / 64 * 64));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  // Set k (k = 1..) holds k rules, all matching, with the lowest id = k winning.
  auto rules_for = [](uint32_t k) {
    std::vector<Rule> rules;
    for (uint32_t i = 0; i < k; ++i) rules.push_back(rule(k + i, 1));
    return rules;
  };
  AclSet set(rcu);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, bad{0};
  std::thread reader([&] {
    rte_rcu_qsbr_thread_online(rcu, 0);
    const AclInput4 in = to_input4(key("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2));
    const AclInput4* p = &in;
    while (!stop.load()) {
      const CompiledAcl* acl = set.current();
      uint32_t r = 0;
      acl->classify4(&p, 1, &r);
      const uint32_t k = acl->size();
      if (k == 0 ? r != kNoRule : (r >= k || acl->rule(r).id != k)) bad.fetch_add(1);
      reads.fetch_add(1);
      rte_rcu_qsbr_quiescent(rcu, 0);
    }
    rte_rcu_qsbr_thread_offline(rcu, 0);
  });
  for (uint32_t k = 1; k <= 40; ++k) {
    ASSERT_EQ(set.update(rules_for(k), Action::kPermit), "");
    set.reclaim(true);
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(set.reclaim(false), 0u);
  free(rcu);
}

}  // namespace
}  // namespace vsw::acl
