// The stateful filter end to end on real rte_acl contexts and conntrack tables: a guest on
// port 1 behind security-group rules, packets in both directions, rule changes between
// bursts (docs/acl.md, "The filter").
#include "acl_filter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "pipeline_harness.h"

namespace vsw::acl {
namespace {

constexpr uint16_t kPort = 1;
constexpr uint8_t SYN = kTcpSyn, ACK = kTcpAck;
const char* const kGuest = "10.0.0.10";
const char* const kPeer = "192.0.2.1";

AclPacket pkt(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport,
              uint8_t flags = 0) {
  AclPacket p;
  p.key.family =
      std::string_view(src).find(':') == std::string_view::npos ? Family::kIpv4 : Family::kIpv6;
  const int af = p.key.family == Family::kIpv4 ? AF_INET : AF_INET6;
  inet_pton(af, src, p.key.src.data());
  inet_pton(af, dst, p.key.dst.data());
  p.key.proto = proto;
  p.key.sport = sport;
  p.key.dport = dport;
  p.tcp_flags = flags;
  return p;
}

AclPacket echo(const char* src, const char* dst, uint8_t type, uint16_t id) {
  AclPacket p = pkt(src, dst, kProtoIcmp, type, 0);
  p.echo_id = id;
  return p;
}

Rule rule(uint32_t id, uint32_t priority, Action action) {
  Rule r;
  r.id = id;
  r.priority = priority;
  r.action = action;
  return r;
}

class AclFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vsw::test::init_eal("acl_filter_test"));
    ConntrackConfig cfg;
    cfg.workers = 1;
    cfg.capacity = 1024;
    cfg.limit = 1000;
    cfg.ticks_per_second = 1000;
    ct = std::make_unique<Conntrack>(cfg);
    ASSERT_TRUE(ct->ok()) << ct->error();
    acl = std::make_unique<PortAcl>(nullptr);
  }

  // The usual security group: the guest may open TCP to anywhere and ping; from outside
  // only SSH comes in; everything else inbound is denied by default.
  void security_group() {
    Rule out = rule(1, 100, Action::kPermitStateful);
    out.proto = kProtoTcp;
    Rule ping = rule(2, 100, Action::kPermitStateful);
    ping.proto = kProtoIcmp;
    ping.icmp_type = 8;
    ASSERT_EQ(acl->set(Direction::kFromPort).update(std::vector<Rule>{out, ping}, Action::kDeny),
              "");
    Rule ssh = rule(3, 100, Action::kPermitStateful);
    ssh.proto = kProtoTcp;
    ssh.dport = {22, 22};
    ASSERT_EQ(acl->set(Direction::kToPort).update(std::vector<Rule>{ssh}, Action::kDeny), "");
  }

  std::vector<AclVerdict> run(Direction dir, const std::vector<AclPacket>& pkts) {
    std::vector<AclVerdict> v(pkts.size());
    filter_burst(0, kPort, dir, *acl, ct.get(), pkts.data(), static_cast<uint32_t>(pkts.size()),
                 now, v.data(), counters);
    return v;
  }
  AclVerdict from_guest(const AclPacket& p) { return run(Direction::kFromPort, {p})[0]; }
  AclVerdict to_guest(const AclPacket& p) { return run(Direction::kToPort, {p})[0]; }

  std::unique_ptr<Conntrack> ct;
  std::unique_ptr<PortAcl> acl;
  AclFilterCounters counters;
  uint64_t now = 0;
};

TEST_F(AclFilter, NoRulesPassEverythingAndTrackNothing) {
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 1, 2, ACK)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoUdp, 1, 2)), AclVerdict::kPass);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(counters.tracked.load(), 0u);
}

TEST_F(AclFilter, StatelessRulesNeverTouchConntrack) {
  Rule deny = rule(1, 10, Action::kDeny);
  deny.proto = kProtoUdp;
  ASSERT_EQ(acl->set(Direction::kFromPort).update(std::vector<Rule>{deny}, Action::kPermit), "");
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoUdp, 1, 2)), AclVerdict::kDeny);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 1, 2, ACK)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 2, 1, ACK)), AclVerdict::kPass);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(counters.tracked.load(), 0u);
  EXPECT_EQ(counters.classified.load(), 3u);
  EXPECT_EQ(acl->set(Direction::kFromPort).hits(1), 1u);
}

TEST_F(AclFilter, RepliesOfTheGuestsConnectionsPassTheDeniedDirection) {
  security_group();
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, SYN)), AclVerdict::kPass);
  EXPECT_EQ(ct->size(), 1u);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40000, SYN | ACK)), AclVerdict::kPass);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, ACK)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40000, ACK)), AclVerdict::kPass);
  // The same server opening a connection to the guest is not a reply: default deny.
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40001, SYN)), AclVerdict::kDeny);
  // Nor is an ACK for a connection that does not exist.
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40002, ACK)), AclVerdict::kDeny);
  // Inbound SSH is a stateful permit: the guest's replies pass the from-port rules.
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 5555, 22, SYN)), AclVerdict::kPass);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 22, 5555, SYN | ACK)), AclVerdict::kPass);
  EXPECT_EQ(ct->size(), 2u);
  EXPECT_EQ(acl->set(Direction::kToPort).hits(3), 1u);  // only the SYN was classified
  EXPECT_EQ(acl->set(Direction::kFromPort).hits(1), 1u);
}

TEST_F(AclFilter, InvalidOpenersAreDroppedAsInvalid) {
  security_group();
  // The guest sends a bare ACK with no connection: its rule is stateful, the packet opens
  // nothing.
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, ACK)), AclVerdict::kInvalid);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, SYN | ACK)), AclVerdict::kInvalid);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(counters.verdicts[static_cast<int>(AclVerdict::kInvalid)].load(), 2u);
}

TEST_F(AclFilter, PingOutAndItsReplyButNoPingIn) {
  security_group();
  EXPECT_EQ(from_guest(echo(kGuest, kPeer, 8, 99)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(echo(kPeer, kGuest, 0, 99)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(echo(kPeer, kGuest, 0, 98)), AclVerdict::kDeny);  // no such request
  EXPECT_EQ(to_guest(echo(kPeer, kGuest, 8, 5)), AclVerdict::kDeny);
}

TEST_F(AclFilter, RuleChangesRevokeConnectionsNoLongerPermittedOnly) {
  security_group();
  ASSERT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, SYN)), AclVerdict::kPass);
  ASSERT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40001, 80, SYN)), AclVerdict::kPass);
  ASSERT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40000, SYN | ACK)), AclVerdict::kPass);
  ASSERT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 80, 40001, SYN | ACK)), AclVerdict::kPass);
  // Now port 443 is denied outbound, above the general permit.
  Rule out = rule(1, 100, Action::kPermitStateful);
  out.proto = kProtoTcp;
  Rule no_https = rule(4, 200, Action::kDeny);
  no_https.proto = kProtoTcp;
  no_https.dport = {443, 443};
  ASSERT_EQ(acl->set(Direction::kFromPort).update(std::vector<Rule>{out, no_https}, Action::kDeny),
            "");
  // The reply direction's next packet already sees it: revoked, both ways.
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 443, 40000, ACK)), AclVerdict::kRevoked);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, ACK)), AclVerdict::kRevoked);
  // Port 80 is still permitted: carries on.
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40001, 80, ACK)), AclVerdict::kPass);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 80, 40001, ACK)), AclVerdict::kPass);
  EXPECT_EQ(counters.rechecked.load(), 2u);  // once per connection
  // The revoked one is removed at the next expiry slice; a new attempt meets the deny.
  ct->expire_slice(now, 4096);
  ct->service(0, now, 64);
  EXPECT_EQ(ct->size(), 1u);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 40000, 443, SYN)), AclVerdict::kDeny);
  EXPECT_EQ(acl->set(Direction::kFromPort).hits(4), 1u);
}

TEST_F(AclFilter, LimitDropsNewConnectionsOnly) {
  security_group();
  ct->set_limit(2);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 1, 80, SYN)), AclVerdict::kPass);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 2, 80, SYN)), AclVerdict::kPass);
  EXPECT_EQ(from_guest(pkt(kGuest, kPeer, kProtoTcp, 3, 80, SYN)), AclVerdict::kLimit);
  EXPECT_EQ(to_guest(pkt(kPeer, kGuest, kProtoTcp, 80, 1, SYN | ACK)), AclVerdict::kPass);
  EXPECT_EQ(ct->totals().limit_drops, 1u);
}

TEST_F(AclFilter, MixedBurstOfBothFamiliesInOrder) {
  Rule v6 = rule(1, 10, Action::kDeny);
  Prefix p;
  ASSERT_EQ(parse_prefix("dst", "2001:db8::/32", &p), "");
  v6.dst = p;
  Rule udp = rule(2, 5, Action::kPermitStateful);
  udp.proto = kProtoUdp;
  ASSERT_EQ(acl->set(Direction::kFromPort).update(std::vector<Rule>{v6, udp}, Action::kPermit), "");
  std::vector<AclPacket> burst;
  for (int i = 0; i < 32; ++i) {
    if (i % 3 == 0) burst.push_back(pkt("2001:db8::1", "2001:db8::2", kProtoUdp, 1, 2));
    if (i % 3 == 1) burst.push_back(pkt("fd00::1", "fd00::2", kProtoUdp, 1, uint16_t(i)));
    if (i % 3 == 2) burst.push_back(pkt(kGuest, kPeer, kProtoTcp, 1, 2, ACK));
  }
  const std::vector<AclVerdict> v = run(Direction::kFromPort, burst);
  for (int i = 0; i < 32; ++i) {
    const AclVerdict want = i % 3 == 0 ? AclVerdict::kDeny : AclVerdict::kPass;
    EXPECT_EQ(v[i], want) << "packet " << i;
  }
  EXPECT_EQ(ct->size(), 11u);  // the fd00:: datagrams (i = 1, 4, ... 31), one connection each
}

}  // namespace
}  // namespace vsw::acl
