// The ACL wired into the pipeline: frames in on ring ports through the real worker code
// (forward_burst's from-port ACL, flush_port's to-port ACL, the L2 and L3 stages, the
// cross-connect) with the real AclManager programming it.
//
//   A (p1, 10.0.0.1) -- br0 -- B (p2, 10.0.0.2), C (p3, 10.0.0.3, never has an ACL)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_ip.h>

#include <cstring>

#include "pipeline_harness.h"

namespace vsw::test {
namespace {

using Frame = std::vector<uint8_t>;
using vswitch::dp::AclRule;
using vswitch::dp::AclSetRequest;

constexpr uint8_t kSyn = 0x02, kAck = 0x10;

void put16(Frame& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

Frame eth(const Mac& dst, const Mac& src, uint16_t type) {
  Frame f(14);
  std::memcpy(f.data(), dst.b, 6);
  std::memcpy(f.data() + 6, src.b, 6);
  put16(f, 12, type);
  return f;
}

// IPv4 with an L4 header of `l4_len` bytes (zeroed) after it; only the IP header checksum is
// right (the router checks it; the ACL reads no L4 checksum).
Frame ip4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t proto,
          size_t l4_len) {
  Frame f = eth(dst, src, 0x0800);
  f.resize(14 + 20 + l4_len);
  f[14] = 0x45;
  put16(f, 16, static_cast<uint16_t>(20 + l4_len));
  f[22] = 64;
  f[23] = proto;
  inet_pton(AF_INET, sip, &f[26]);
  inet_pton(AF_INET, dip, &f[30]);
  const uint16_t sum = static_cast<uint16_t>(~rte_raw_cksum(&f[14], 20));  // in memory order
  std::memcpy(&f[24], &sum, 2);
  return f;
}

Frame tcp4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t sport,
           uint16_t dport, uint8_t flags) {
  Frame f = ip4(dst, src, sip, dip, IPPROTO_TCP, 20);
  put16(f, 34, sport);
  put16(f, 36, dport);
  f[46] = 0x50;
  f[47] = flags;
  return f;
}

Frame udp4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t sport,
           uint16_t dport) {
  Frame f = ip4(dst, src, sip, dip, IPPROTO_UDP, 8 + 18);
  put16(f, 34, sport);
  put16(f, 36, dport);
  put16(f, 38, 8 + 18);
  return f;
}

Frame echo4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t type) {
  Frame f = ip4(dst, src, sip, dip, IPPROTO_ICMP, 8 + 16);
  f[34] = type;
  put16(f, 38, 0x1234);  // identifier
  return f;
}

Frame tcp6(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t sport,
           uint16_t dport, uint8_t flags) {
  Frame f = eth(dst, src, 0x86dd);
  f.resize(14 + 40 + 20);
  f[14] = 0x60;
  put16(f, 18, 20);
  f[20] = IPPROTO_TCP;
  f[21] = 64;
  inet_pton(AF_INET6, sip, &f[22]);
  inet_pton(AF_INET6, dip, &f[38]);
  put16(f, 54, sport);
  put16(f, 56, dport);
  f[66] = 0x50;
  f[67] = flags;
  return f;
}

// tcp6 with IPv6 extension headers (`types`, 8 bytes each) between the fixed header and TCP;
// a fragment header (44) gets `frag_offset` (in 8-byte units).
Frame tcp6_ext(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t dport,
               const std::vector<uint8_t>& types, uint16_t frag_offset = 0) {
  Frame f = tcp6(dst, src, sip, dip, 40000, dport, kSyn);
  Frame tcp(f.begin() + 54, f.end());
  f.resize(54);
  for (uint8_t t : types) {
    const size_t at = f.size();
    f.resize(at + 8);  // length field 0: 8 bytes
    if (t == IPPROTO_FRAGMENT) put16(f, at + 2, static_cast<uint16_t>(frag_offset << 3));
  }
  // Chain the next-header fields: fixed header -> types[0] -> ... -> TCP.
  f[20] = types.empty() ? uint8_t{IPPROTO_TCP} : types[0];
  for (size_t i = 0; i < types.size(); ++i)
    f[54 + 8 * i] = i + 1 < types.size() ? types[i + 1] : uint8_t{IPPROTO_TCP};
  f.insert(f.end(), tcp.begin(), tcp.end());
  put16(f, 18, static_cast<uint16_t>(f.size() - 54));
  return f;
}

Frame arp_request(const Mac& src, const char* spa, const char* tpa) {
  Frame f = eth(Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, src, 0x0806);
  f.resize(14 + 28);
  put16(f, 14, 1);
  put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, 1);
  std::memcpy(&f[22], src.b, 6);
  inet_pton(AF_INET, spa, &f[28]);
  inet_pton(AF_INET, tpa, &f[38]);
  return f;
}

AclRule rule(uint32_t id, uint32_t priority, vswitch::dp::AclAction action) {
  AclRule r;
  r.set_id(id);
  r.set_priority(priority);
  r.set_action(action);
  return r;
}

class AclPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_eal("acl_dataplane_test"));
    pl = std::make_unique<Pipeline>();
    const std::vector<uint16_t> ids = pl->add_bridge_with_ports("br0", {"p1", "p2", "p3"});
    p1 = ids[0];
    p2 = ids[1];
    p3 = ids[2];
    // Everyone learned, so frames are unicast (and cached).
    for (auto [port, m, ip] : {std::tuple{p1, A, "10.0.0.1"}, std::tuple{p2, B, "10.0.0.2"},
                               std::tuple{p3, C, "10.0.0.3"}}) {
      pl->send_frame(port, arp_request(m, ip, "10.0.0.254"));
      pl->learn();
    }
    pl->drain_all();
  }
  void TearDown() override { pl.reset(); }

  vsw::dp::Status set(uint16_t port, vswitch::dp::AclDirection dir, vswitch::dp::AclAction def,
                      std::vector<AclRule> rules) {
    AclSetRequest req;
    req.set_port("x");
    req.set_dir(dir);
    req.set_default_action(def);
    for (auto& r : rules) *req.add_rules() = r;
    return pl->acl->set(port, req);
  }
  // Sends `f` on `in` and says whether it came out of `out`.
  bool passes(uint16_t in, const Frame& f, uint16_t out) {
    pl->send_frame(in, f);
    const size_t n = pl->receive_frames(out).size();
    pl->drain_all();
    return n == 1;
  }
  uint64_t drops(uint16_t port, acl::AclVerdict v) {
    return pl->worker().ports[port].acl_drops[static_cast<int>(v) - 1].load();
  }

  std::unique_ptr<Pipeline> pl;
  uint16_t p1 = 0, p2 = 0, p3 = 0;
  const Mac A = mac(0xa), B = mac(0xb), C = mac(0xc);
};

TEST_F(AclPipeline, FromPortDenyDropsAndCountsEvenACachedFlow) {
  const Frame f = udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 53);
  ASSERT_TRUE(passes(p1, f, p2));  // cached now
  ASSERT_TRUE(passes(p1, f, p2));
  AclRule deny = rule(1, 10, vswitch::dp::ACL_ACTION_DENY);
  deny.set_proto(17);
  deny.set_dport("53");
  ASSERT_TRUE(
      set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {deny}).ok());
  EXPECT_FALSE(passes(p1, f, p2));
  EXPECT_FALSE(passes(p1, f, p2));
  EXPECT_EQ(drops(p1, acl::AclVerdict::kDeny), 2u);
  EXPECT_TRUE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 54), p2));
  // Non-IP frames are not the ACL's business.
  pl->send_frame(p1, arp_request(A, "10.0.0.1", "10.0.0.2"));
  EXPECT_EQ(pl->receive_frames(p2).size(), 1u);
  pl->drain_all();
  vswitch::dp::AclList list;
  pl->acl->list(vsw::dp::kNoPort, &list);
  ASSERT_EQ(list.acls_size(), 1);
  ASSERT_EQ(list.acls(0).rules_size(), 1);
  EXPECT_EQ(list.acls(0).rules(0).hits(), 2u);
  // Removing the rules removes the port's ACL altogether.
  ASSERT_TRUE(
      set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {}).ok());
  EXPECT_EQ(pl->fwd->ports[p1].acl.load(), nullptr);
  EXPECT_TRUE(passes(p1, f, p2));
}

TEST_F(AclPipeline, ToPortStatefulLetsRepliesThroughButNoNewConnectionFromTheDenySide) {
  AclRule web = rule(1, 10, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  web.set_src("10.0.0.0/24");
  web.set_proto(6);
  web.set_dport("80");
  ASSERT_TRUE(
      set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {web}).ok());
  // A opens a connection to B:80; B's answers go back; the data flows both ways.
  EXPECT_TRUE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 40000, 80, kSyn), p2));
  EXPECT_TRUE(passes(p2, tcp4(A, B, "10.0.0.2", "10.0.0.1", 80, 40000, kSyn | kAck), p1));
  EXPECT_TRUE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 40000, 80, kAck), p2));
  EXPECT_TRUE(passes(p2, tcp4(A, B, "10.0.0.2", "10.0.0.1", 80, 40000, kAck), p1));
  vswitch::dp::ConnList conns;
  pl->acl->conn_list(p2, 0, &conns);
  ASSERT_EQ(conns.total(), 1u);
  EXPECT_EQ(conns.conns(0).state(), "ESTABLISHED");
  EXPECT_EQ(conns.conns(0).src(), "10.0.0.1");
  EXPECT_EQ(conns.conns(0).dport(), 80u);
  // B may send (its from-port has no rule) but what answers it is denied towards it.
  EXPECT_TRUE(passes(p2, tcp4(A, B, "10.0.0.2", "10.0.0.1", 50000, 22, kSyn), p1));
  EXPECT_FALSE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 22, 50000, kSyn | kAck), p2));
  // A cannot open anything but port 80; a bare ACK opens nothing.
  EXPECT_FALSE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 40001, 22, kSyn), p2));
  EXPECT_FALSE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 40002, 80, kAck), p2));
  EXPECT_EQ(drops(p2, acl::AclVerdict::kDeny), 2u);
  EXPECT_EQ(drops(p2, acl::AclVerdict::kInvalid), 1u);
  EXPECT_EQ(drops(p1, acl::AclVerdict::kDeny), 0u);
  // ICMP is denied until a rule permits it.
  EXPECT_FALSE(passes(p1, echo4(B, A, "10.0.0.1", "10.0.0.2", 8), p2));
  AclRule ping = rule(2, 5, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  ping.set_proto(1);
  ASSERT_TRUE(
      set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {web, ping}).ok());
  EXPECT_TRUE(passes(p1, echo4(B, A, "10.0.0.1", "10.0.0.2", 8), p2));
  EXPECT_TRUE(passes(p2, echo4(A, B, "10.0.0.2", "10.0.0.1", 0), p1));
  // The established connection survived the rule change (still permitted).
  EXPECT_TRUE(passes(p1, tcp4(B, A, "10.0.0.1", "10.0.0.2", 40000, 80, kAck), p2));
}

TEST_F(AclPipeline, RuleChangeRevokesConnectionsNoLongerPermitted) {
  AclRule dns = rule(1, 10, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  dns.set_proto(17);
  dns.set_dport("53");
  ASSERT_TRUE(
      set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {dns}).ok());
  EXPECT_TRUE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 53), p2));
  EXPECT_TRUE(passes(p2, udp4(A, B, "10.0.0.2", "10.0.0.1", 53, 1000), p1));
  AclRule other = rule(2, 10, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  other.set_proto(17);
  other.set_dport("54");
  ASSERT_TRUE(
      set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {other}).ok());
  EXPECT_FALSE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 53), p2));
  EXPECT_FALSE(passes(p2, udp4(A, B, "10.0.0.2", "10.0.0.1", 53, 1000), p1));
  EXPECT_EQ(drops(p2, acl::AclVerdict::kRevoked), 2u);
  // The next expiry pass removes it; then the same flow is classified afresh (denied).
  pl->acl->tick();
  pl->send(p3, {});  // a worker loop: service() deletes what was posted
  pl->drain_all();
  vswitch::dp::ConnList conns;
  pl->acl->conn_list(vsw::dp::kNoPort, 0, &conns);
  EXPECT_EQ(conns.total(), 0u);
  EXPECT_FALSE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 53), p2));
  EXPECT_EQ(drops(p2, acl::AclVerdict::kDeny), 1u);
}

TEST_F(AclPipeline, PortWithoutAclIsUnaffected) {
  ASSERT_TRUE(set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {}).ok());
  const uint64_t classified = pl->worker().acl.classified.load();
  EXPECT_TRUE(passes(p3, udp4(A, C, "10.0.0.3", "10.0.0.1", 1000, 53), p1));
  EXPECT_TRUE(passes(p1, udp4(C, A, "10.0.0.1", "10.0.0.3", 53, 1000), p3));
  EXPECT_EQ(pl->worker().acl.classified.load(), classified);
  EXPECT_FALSE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 53, 1000), p2));
}

TEST_F(AclPipeline, Ipv6RulesAndAFromPortDefaultDeny) {
  AclRule ssh = rule(1, 10, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  ssh.set_dst("2001:db8::/64");
  ssh.set_proto(6);
  ssh.set_dport("22");
  ASSERT_TRUE(
      set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_DENY, {ssh}).ok());
  EXPECT_TRUE(passes(p1, tcp6(B, A, "2001:db8::1", "2001:db8::2", 33000, 22, kSyn), p2));
  EXPECT_TRUE(passes(p2, tcp6(A, B, "2001:db8::2", "2001:db8::1", 22, 33000, kSyn | kAck), p1));
  EXPECT_FALSE(passes(p1, tcp6(B, A, "2001:db8::1", "2001:db8:1::2", 33000, 22, kSyn), p2));
  EXPECT_FALSE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1000, 53), p2));
  // A new connection from B to A is not A's own: its SYN-ACK back is denied at A's from-port.
  EXPECT_TRUE(passes(p2, tcp6(A, B, "2001:db8::2", "2001:db8::1", 33001, 22, kSyn), p1));
  EXPECT_FALSE(passes(p1, tcp6(B, A, "2001:db8::1", "2001:db8::2", 22, 33001, kSyn | kAck), p2));
}

TEST_F(AclPipeline, Ipv6ExtensionHeadersAreWalkedAndLongChainsDropped) {
  AclRule ssh = rule(1, 10, vswitch::dp::ACL_ACTION_DENY);
  ssh.set_proto(6);
  ssh.set_dport("22");
  ASSERT_TRUE(
      set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {ssh}).ok());
  const char *sa = "2001:db8::1", *da = "2001:db8::2";
  EXPECT_FALSE(passes(p1, tcp6_ext(B, A, sa, da, 22, {}), p2));
  EXPECT_TRUE(passes(p1, tcp6_ext(B, A, sa, da, 23, {}), p2));
  // Hop-by-hop, destination options and a first fragment: the TCP header is found behind them.
  EXPECT_FALSE(passes(p1, tcp6_ext(B, A, sa, da, 22, {IPPROTO_HOPOPTS}), p2));
  EXPECT_FALSE(passes(p1, tcp6_ext(B, A, sa, da, 22, {IPPROTO_DSTOPTS, IPPROTO_FRAGMENT}), p2));
  EXPECT_TRUE(passes(p1, tcp6_ext(B, A, sa, da, 23, {IPPROTO_HOPOPTS, IPPROTO_DSTOPTS}), p2));
  // A later fragment has no ports: a port rule cannot match it.
  EXPECT_TRUE(passes(p1, tcp6_ext(B, A, sa, da, 22, {IPPROTO_FRAGMENT}, 100), p2));
  EXPECT_EQ(drops(p1, acl::AclVerdict::kDeny), 3u);
  // Five extension headers: not classified on a guess, dropped as malformed.
  const uint64_t malformed = pl->worker().ports[p1].malformed.load();
  EXPECT_FALSE(
      passes(p1, tcp6_ext(B, A, sa, da, 23, std::vector<uint8_t>(5, IPPROTO_DSTOPTS)), p2));
  EXPECT_EQ(pl->worker().ports[p1].malformed.load(), malformed + 1);
}

TEST_F(AclPipeline, CrossConnectIsFiltered) {
  const uint16_t x1 = pl->add_port("x1"), x2 = pl->add_port("x2");
  ASSERT_TRUE(pl->ports->xconnect_add("x1", "x2").ok());
  ASSERT_TRUE(set(x2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {}).ok());
  EXPECT_FALSE(passes(x1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1, 2), x2));
  EXPECT_TRUE(passes(x1, arp_request(A, "10.0.0.1", "10.0.0.2"), x2));
  AclRule deny = rule(1, 1, vswitch::dp::ACL_ACTION_DENY);
  ASSERT_TRUE(
      set(x2, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {deny}).ok());
  EXPECT_FALSE(passes(x2, udp4(A, B, "10.0.0.2", "10.0.0.1", 2, 1), x1));
  EXPECT_EQ(drops(x2, acl::AclVerdict::kDeny), 2u);
}

// Two more bridges joined by the router: A2 (r1, 10.1.0.10 on q1) and B2 (r2, 10.2.0.20 on
// q2). The to-port ACL of q2 filters routed packets (rewritten MACs and TTL, same 5-tuple),
// cached routed flows included, and the replies pass by their connection.
TEST_F(AclPipeline, RoutedPathIsFiltered) {
  const uint16_t q1 = pl->add_port("q1"), q2 = pl->add_port("q2");
  for (auto [br, port, id] : {std::tuple{"br1", "q1", q1}, std::tuple{"br2", "q2", q2}}) {
    vswitch::dp::BridgeConfig c;
    c.set_name(br);
    ASSERT_TRUE(pl->bridges->bridge_add(c).ok());
    ASSERT_TRUE(pl->bridges->attach(br, port, id, 0).ok());
  }
  const Mac R1{{0x02, 0, 0, 0, 0x01, 0x01}}, R2{{0x02, 0, 0, 0, 0x02, 0x01}};
  for (auto [name, br, m, ip] : {std::tuple{"r1", "br1", "02:00:00:00:01:01", "10.1.0.1/24"},
                                 std::tuple{"r2", "br2", "02:00:00:00:02:01", "10.2.0.1/24"}}) {
    vswitch::dp::RouterInterfaceConfig c;
    c.set_name(name);
    c.set_bridge(br);
    c.set_mac(m);
    c.add_addresses(ip);
    ASSERT_TRUE(pl->router->rif_add(c).ok());
  }
  const Mac A2 = mac(0xa2), B2 = mac(0xb2);
  pl->send_frame(q1, arp_request(A2, "10.1.0.10", "10.1.0.1"));
  pl->send_frame(q2, arp_request(B2, "10.2.0.20", "10.2.0.1"));
  pl->learn();
  pl->router_step();
  pl->drain_all();
  ASSERT_TRUE(passes(q1, udp4(R1, A2, "10.1.0.10", "10.2.0.20", 1000, 54), q2));

  AclRule dns = rule(1, 10, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  dns.set_proto(17);
  dns.set_dport("53");
  ASSERT_TRUE(
      set(q2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {dns}).ok());
  EXPECT_FALSE(passes(q1, udp4(R1, A2, "10.1.0.10", "10.2.0.20", 1000, 54), q2));  // was cached
  EXPECT_TRUE(passes(q1, udp4(R1, A2, "10.1.0.10", "10.2.0.20", 1000, 53), q2));
  EXPECT_TRUE(passes(q2, udp4(R2, B2, "10.2.0.20", "10.1.0.10", 53, 1000), q1));
  EXPECT_TRUE(passes(q1, udp4(R1, A2, "10.1.0.10", "10.2.0.20", 1000, 53), q2));  // cached
  EXPECT_EQ(drops(q2, acl::AclVerdict::kDeny), 1u);
  // A from-port ACL on the sender's side drops before routing.
  AclRule deny = rule(1, 1, vswitch::dp::ACL_ACTION_DENY);
  ASSERT_TRUE(
      set(q1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {deny}).ok());
  EXPECT_FALSE(passes(q1, udp4(R1, A2, "10.1.0.10", "10.2.0.20", 1000, 53), q2));
  EXPECT_EQ(drops(q1, acl::AclVerdict::kDeny), 1u);
}

TEST_F(AclPipeline, DeletingThePortDropsItsAclAndConnections) {
  const uint16_t x1 = pl->add_port("x1");
  ASSERT_TRUE(pl->bridges->attach("br0", "x1", x1, 0).ok());
  AclRule any = rule(1, 1, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  ASSERT_TRUE(
      set(x1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_DENY, {any}).ok());
  const Mac X = mac(0x99);
  EXPECT_TRUE(passes(x1, udp4(A, X, "10.0.0.9", "10.0.0.1", 5, 6), p1));
  vswitch::dp::ConnList conns;
  pl->acl->conn_list(x1, 0, &conns);
  EXPECT_EQ(conns.total(), 1u);
  pl->remove_port("x1");
  EXPECT_EQ(pl->fwd->ports[x1].acl.load(), nullptr);
  pl->send(p3, {});  // a worker loop deletes the flushed connections
  conns.Clear();
  pl->acl->conn_list(vsw::dp::kNoPort, 0, &conns);
  EXPECT_EQ(conns.total(), 0u);
  vswitch::dp::AclList list;
  pl->acl->list(vsw::dp::kNoPort, &list);
  EXPECT_EQ(list.acls_size(), 0);
}

TEST_F(AclPipeline, RequestsAreValidatedWithTheRuleAndFieldNamed) {
  AclRule bad = rule(7, 1, vswitch::dp::ACL_ACTION_PERMIT);
  bad.set_src("10.0.0.1/8");
  vsw::dp::Status st =
      set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {bad});
  EXPECT_EQ(st.code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(st.message.rfind("rules[id 7].src: ", 0), 0u) << st.message;
  AclRule ports = rule(8, 1, vswitch::dp::ACL_ACTION_PERMIT);
  ports.set_dport("80");
  st = set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT, {ports});
  EXPECT_EQ(st.message.rfind("rules[id 8].dport: ", 0), 0u) << st.message;
  st = set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL, {});
  EXPECT_EQ(st.code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  st = set(p1, vswitch::dp::ACL_DIRECTION_UNSPECIFIED, vswitch::dp::ACL_ACTION_DENY, {});
  EXPECT_EQ(st.code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  AclRule dup = rule(3, 1, vswitch::dp::ACL_ACTION_PERMIT);
  st = set(p1, vswitch::dp::ACL_DIRECTION_FROM_PORT, vswitch::dp::ACL_ACTION_DENY, {dup, dup});
  EXPECT_EQ(st.message, "rules[id 3].id: used twice");
  EXPECT_EQ(pl->fwd->ports[p1].acl.load(), nullptr);  // nothing half-applied

  vswitch::dp::ConntrackSetRequest ct;
  (*ct.mutable_timeouts())["tcp_whatever"] = 5;
  st = pl->acl->conntrack_set(ct);
  EXPECT_EQ(st.code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  EXPECT_NE(st.message.find("tcp_whatever"), std::string::npos);
  ct.Clear();
  ct.set_limit(1u << 30);
  EXPECT_EQ(pl->acl->conntrack_set(ct).code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  ct.Clear();
  ct.set_limit(10);
  (*ct.mutable_timeouts())["udp_unreplied"] = 3;
  ASSERT_TRUE(pl->acl->conntrack_set(ct).ok());
  vswitch::dp::ConntrackStats stats;
  pl->acl->conntrack_stats(&stats);
  EXPECT_EQ(stats.limit(), 10u);
  EXPECT_EQ(stats.capacity(), 1024u);
  EXPECT_EQ(stats.timeouts().at("udp_unreplied"), 3u);
  EXPECT_EQ(stats.timeouts().at("established"), 432000u);
}

TEST_F(AclPipeline, ConnectionLimitDropsNewConnectionsOnly) {
  vswitch::dp::ConntrackSetRequest ct;
  ct.set_limit(2);
  ASSERT_TRUE(pl->acl->conntrack_set(ct).ok());
  AclRule any = rule(1, 1, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  ASSERT_TRUE(
      set(p2, vswitch::dp::ACL_DIRECTION_TO_PORT, vswitch::dp::ACL_ACTION_DENY, {any}).ok());
  EXPECT_TRUE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 1, 53), p2));
  EXPECT_TRUE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 2, 53), p2));
  EXPECT_FALSE(passes(p1, udp4(B, A, "10.0.0.1", "10.0.0.2", 3, 53), p2));
  EXPECT_TRUE(passes(p2, udp4(A, B, "10.0.0.2", "10.0.0.1", 53, 1), p1));
  EXPECT_EQ(drops(p2, acl::AclVerdict::kLimit), 1u);
}

}  // namespace
}  // namespace vsw::test
