// The router end to end in one process: frames in on ring ports, through the real worker
// code (L2 stage, L3 stage) and the real management code (punt handling, neighbor
// resolution, ICMP), frames out. Two bridges, a router interface on each:
//
//   A (p1, 10.1.0.10, 2001:db8:1::10) -- br1 [r1 10.1.0.1/24, 2001:db8:1::1/64]
//   B (p2, 10.2.0.20, 2001:db8:2::20) -- br2 [r2 10.2.0.1/24, 2001:db8:2::1/64] -- C
//   (p3, 10.2.0.30)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_ip.h>

#include <map>
#include <set>
#include <thread>

#include "l3_packets.h"
#include "pipeline_harness.h"

namespace vsw::test {
namespace {

using Frame = std::vector<uint8_t>;

uint16_t rd16(const Frame& f, size_t off) {
  return static_cast<uint16_t>((f[off] << 8) | f[off + 1]);
}

void put16(Frame& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

// One's-complement sum over bytes as 16-bit big-endian words (independent of DPDK's).
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n % 2) sum += p[n - 1] << 8;
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::array<uint8_t, 4> v4(const char* text) {
  std::array<uint8_t, 4> a;
  inet_pton(AF_INET, text, a.data());
  return a;
}
std::array<uint8_t, 16> v6(const char* text) {
  std::array<uint8_t, 16> a;
  inet_pton(AF_INET6, text, a.data());
  return a;
}

Frame eth(const Mac& dst, const Mac& src, uint16_t type) {
  Frame f(14);
  std::memcpy(f.data(), dst.b, 6);
  std::memcpy(f.data() + 6, src.b, 6);
  put16(f, 12, type);
  return f;
}

Frame udp4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t ttl = 64,
           uint16_t sport = 1000, uint16_t dport = 2000) {
  Frame f = eth(dst, src, 0x0800);
  f.resize(14 + 20 + 8 + 18);
  f[14] = 0x45;
  put16(f, 16, 20 + 8 + 18);
  f[22] = ttl;
  f[23] = IPPROTO_UDP;
  std::memcpy(&f[26], v4(sip).data(), 4);
  std::memcpy(&f[30], v4(dip).data(), 4);
  put16(f, 24, static_cast<uint16_t>(~fold(sum16(&f[14], 20))));
  put16(f, 34, sport);
  put16(f, 36, dport);
  put16(f, 38, 8 + 18);
  return f;
}

Frame echo4(const Mac& dst, const Mac& src, const char* sip, const char* dip) {
  Frame f = udp4(dst, src, sip, dip);
  f[23] = IPPROTO_ICMP;
  put16(f, 24, 0);
  put16(f, 24, static_cast<uint16_t>(~fold(sum16(&f[14], 20))));
  f[34] = 8;  // echo request
  f[35] = 0;
  put16(f, 36, 0);
  put16(f, 38, 0x1234);  // identifier
  put16(f, 36, static_cast<uint16_t>(~fold(sum16(&f[34], f.size() - 34))));
  return f;
}

Frame arp(const Mac& dst, const Mac& src, uint16_t op, const Mac& sha, const char* spa,
          const Mac& tha, const char* tpa) {
  Frame f = eth(dst, src, 0x0806);
  f.resize(14 + 28);
  put16(f, 14, 1);
  put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, op);
  std::memcpy(&f[22], sha.b, 6);
  std::memcpy(&f[28], v4(spa).data(), 4);
  std::memcpy(&f[32], tha.b, 6);
  std::memcpy(&f[38], v4(tpa).data(), 4);
  return f;
}

uint16_t icmp6_sum(const Frame& f) {
  const size_t len = rd16(f, 18);
  uint32_t s = sum16(&f[22], 32);
  s += static_cast<uint32_t>(len >> 16) + (len & 0xffff) + IPPROTO_ICMPV6;
  return fold(sum16(&f[54], len, s));
}

Frame ip6(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t proto,
          const Frame& payload, uint8_t hlim = 64) {
  Frame f = eth(dst, src, 0x86dd);
  f.resize(54);
  f[14] = 0x60;
  put16(f, 18, static_cast<uint16_t>(payload.size()));
  f[20] = proto;
  f[21] = hlim;
  std::memcpy(&f[22], v6(sip).data(), 16);
  std::memcpy(&f[38], v6(dip).data(), 16);
  f.insert(f.end(), payload.begin(), payload.end());
  if (proto == IPPROTO_ICMPV6) put16(f, 56, static_cast<uint16_t>(~icmp6_sum(f)));
  return f;
}

Frame udp6(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t hlim = 64) {
  Frame udp(8 + 16);
  put16(udp, 0, 1000);
  put16(udp, 2, 2000);
  put16(udp, 4, 8 + 16);
  return ip6(dst, src, sip, dip, IPPROTO_UDP, udp, hlim);
}

// Neighbor solicitation / advertisement with the link-layer option, as a host sends them.
Frame nd(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t type,
         const char* target, uint8_t flags = 0) {
  Frame icmp(32);
  icmp[0] = type;
  icmp[4] = flags;
  std::memcpy(&icmp[8], v6(target).data(), 16);
  icmp[24] = type == 135 ? 1 : 2;
  icmp[25] = 1;
  std::memcpy(&icmp[26], src.b, 6);
  return ip6(dst, src, sip, dip, IPPROTO_ICMPV6, icmp, 255);
}

bool is_mac(const Frame& f, size_t off, const Mac& m) {
  return std::memcmp(&f[off], m.b, 6) == 0;
}

class Router : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_eal("router_pipeline_test"));
    vsw::dp::RouterOptions o = small_router_options();
    o.timers.retrans_ms = 20;  // the silent-host test waits for three of these
    o.timers.pending_per_neighbor = 4;
    pl = std::make_unique<Pipeline>(o);
    p1 = pl->add_port("p1");
    p2 = pl->add_port("p2");
    p3 = pl->add_port("p3");
    for (const char* br : {"br1", "br2"}) {
      vswitch::dp::BridgeConfig c;
      c.set_name(br);
      ASSERT_TRUE(pl->bridges->bridge_add(c).ok());
    }
    ASSERT_TRUE(pl->bridges->attach("br1", "p1", p1, 0).ok());
    ASSERT_TRUE(pl->bridges->attach("br2", "p2", p2, 0).ok());
    ASSERT_TRUE(pl->bridges->attach("br2", "p3", p3, 0).ok());
    add_rif("r1", "br1", "02:00:00:00:01:01", {"10.1.0.1/24", "2001:db8:1::1/64"});
    add_rif("r2", "br2", "02:00:00:00:02:01", {"10.2.0.1/24", "2001:db8:2::1/64"});
  }
  void TearDown() override { pl.reset(); }

  void add_rif(const char* name, const char* bridge, const char* mac,
               std::vector<std::string> addrs) {
    vswitch::dp::RouterInterfaceConfig c;
    c.set_name(name);
    c.set_bridge(bridge);
    c.set_mac(mac);
    for (auto& a : addrs) c.add_addresses(a);
    vsw::dp::Status st = pl->router->rif_add(c);
    ASSERT_TRUE(st.ok()) << st.message;
  }
  vsw::dp::Status route(const char* prefix, std::vector<const char*> vias, bool replace = false) {
    vswitch::dp::Route r;
    r.set_prefix(prefix);
    for (const char* v : vias) r.add_next_hops()->set_via(v);
    return pl->router->route_add(r, replace);
  }
  // A host answers the router's ARP request for it (and so is learned in the bridge too).
  void arp_reply(uint16_t port, const Mac& host, const char* host_ip, const Mac& rif_mac,
                 const char* rif_ip) {
    pl->send_frame(port, arp(rif_mac, host, 2, host, host_ip, rif_mac, rif_ip));
    pl->learn();
    pl->router_step();
  }
  // The three hosts are known to the switch and the router.
  void resolve_all() {
    arp_reply(p1, A, "10.1.0.10", R1, "10.1.0.1");
    pl->send_frame(p2, arp(kBroadcast, B, 1, B, "10.2.0.20", Mac{}, "10.2.0.1"));
    pl->send_frame(p3, arp(kBroadcast, C, 1, C, "10.2.0.30", Mac{}, "10.2.0.1"));
    pl->learn();
    pl->router_step();
    pl->drain_all();
  }
  vswitch::dp::RouterStats stats() {
    vswitch::dp::RouterStats s;
    pl->router->router_stats(&s);
    return s;
  }
  vswitch::dp::NeighborList neighbors() {
    vswitch::dp::NeighborList n;
    pl->router->neighbor_list(&n);
    return n;
  }
  // The entry for `ip`, or an empty one.
  vswitch::dp::Neighbor neighbor(const std::string& ip) {
    const vswitch::dp::NeighborList all = neighbors();
    for (const auto& n : all.neighbors()) {
      if (n.ip() == ip) return n;
    }
    return {};
  }

  std::unique_ptr<Pipeline> pl;
  uint16_t p1 = 0, p2 = 0, p3 = 0;
  const Mac A = mac(0xa), B = mac(0xb), C = mac(0xc);
  const Mac R1{{0x02, 0, 0, 0, 0x01, 0x01}}, R2{{0x02, 0, 0, 0, 0x02, 0x01}};
  const Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
};

TEST_F(Router, AnswersArpForItsAddressAndLearnsTheAsker) {
  pl->send_frame(p1, arp(kBroadcast, A, 1, A, "10.1.0.10", Mac{}, "10.1.0.1"));
  pl->learn();
  pl->router_step();
  auto out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 1u);
  const Frame& r = out[0];
  EXPECT_TRUE(is_mac(r, 0, A));
  EXPECT_TRUE(is_mac(r, 6, R1));
  EXPECT_EQ(rd16(r, 12), 0x0806);
  EXPECT_EQ(rd16(r, 20), 2);  // reply
  EXPECT_TRUE(is_mac(r, 22, R1));
  EXPECT_EQ(std::memcmp(&r[28], v4("10.1.0.1").data(), 4), 0);
  EXPECT_TRUE(is_mac(r, 32, A));
  EXPECT_EQ(std::memcmp(&r[38], v4("10.1.0.10").data(), 4), 0);
  // A request for somebody else's address is not answered.
  pl->send_frame(p1, arp(kBroadcast, A, 1, A, "10.1.0.10", Mac{}, "10.1.0.99"));
  pl->router_step();
  EXPECT_TRUE(pl->receive_frames(p1).empty());
  auto n = neighbors();
  ASSERT_EQ(n.neighbors_size(), 1);
  EXPECT_EQ(n.neighbors(0).ip(), "10.1.0.10");
  EXPECT_EQ(n.neighbors(0).mac(), "02:00:00:00:00:0a");
  EXPECT_EQ(n.neighbors(0).router_if(), "r1");
  EXPECT_EQ(stats().arp_replies(), 1u);
}

TEST_F(Router, FirstPacketsWaitForArpAndGoOnceTheHostAnswers) {
  arp_reply(p1, A, "10.1.0.10", R1, "10.1.0.1");  // A is learned by the bridge (and ignored)
  pl->drain_all();
  for (int i = 0; i < 3; ++i) pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.20"));
  pl->router_step();
  auto asked = pl->receive_frames(p2);
  ASSERT_EQ(asked.size(), 1u);  // one request, not one per packet
  EXPECT_TRUE(is_mac(asked[0], 0, kBroadcast));
  EXPECT_TRUE(is_mac(asked[0], 6, R2));
  EXPECT_EQ(rd16(asked[0], 20), 1);
  EXPECT_EQ(std::memcmp(&asked[0][28], v4("10.2.0.1").data(), 4), 0);
  EXPECT_EQ(std::memcmp(&asked[0][38], v4("10.2.0.20").data(), 4), 0);
  EXPECT_EQ(pl->receive_frames(p3).size(), 1u);  // flooded in br2
  EXPECT_EQ(neighbor("10.2.0.20").pending(), 3u);
  EXPECT_EQ(neighbor("10.2.0.20").state(), "incomplete");
  arp_reply(p2, B, "10.2.0.20", R2, "10.2.0.1");
  auto out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 3u);
  for (const Frame& f : out) {
    EXPECT_TRUE(is_mac(f, 0, B));
    EXPECT_TRUE(is_mac(f, 6, R2));
    EXPECT_EQ(f[22], 63);                        // TTL decremented
    EXPECT_EQ(fold(sum16(&f[14], 20)), 0xffff);  // checksum still right
  }
  EXPECT_TRUE(pl->receive_frames(p3).empty());
  // Resolved: the next packet goes straight through the worker.
  const uint64_t punted = stats().punted();
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.20", 17));
  out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][22], 16);
  EXPECT_EQ(fold(sum16(&out[0][14], 20)), 0xffff);
  EXPECT_EQ(stats().punted(), punted);
  EXPECT_EQ(stats().routed(), 1u);  // by the worker; the first three waited (unresolved)
  EXPECT_EQ(stats().unresolved(), 3u);
  EXPECT_EQ(neighbor("10.2.0.20").state(), "reachable");
  // And back the other way.
  pl->send_frame(p2, udp4(R2, B, "10.2.0.20", "10.1.0.10"));
  pl->router_step();
  pl->router_step();
  EXPECT_EQ(pl->receive_frames(p1).size(), 1u);
}

TEST_F(Router, ASilentHostCostsBoundedMemoryAndIsCounted) {
  arp_reply(p1, A, "10.1.0.10", R1, "10.1.0.1");
  pl->drain_all();
  const unsigned before = rte_mempool_in_use_count(pl->pool);
  for (int i = 0; i < 10; ++i) pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.99"));
  pl->router_step();
  auto n = neighbors();
  EXPECT_EQ(n.counters().pending_overflow(), 6u);  // 4 wait, 6 over the bound
  // Three requests 20 ms apart, then the neighbor and its packets are gone.
  for (int i = 0; i < 20 && !neighbor("10.2.0.99").ip().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    pl->neighbor_tick();
  }
  n = neighbors();
  EXPECT_EQ(n.neighbors_size(), 1);  // A only
  EXPECT_EQ(n.counters().failed(), 1u);
  EXPECT_EQ(n.counters().pending_timeout(), 4u);
  EXPECT_EQ(stats().requests_sent(), 3u);
  pl->drain_all();
  EXPECT_EQ(rte_mempool_in_use_count(pl->pool), before);
}

TEST_F(Router, TtlExpiryAndNoRouteGetIcmpErrorsFromTheIngressInterface) {
  resolve_all();
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.20", 1));
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "192.0.2.1"));
  pl->router_step();
  auto out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 2u);
  for (const Frame& f : out) {
    EXPECT_TRUE(is_mac(f, 0, A));
    EXPECT_TRUE(is_mac(f, 6, R1));
    EXPECT_EQ(f[23], IPPROTO_ICMP);
    EXPECT_EQ(std::memcmp(&f[26], v4("10.1.0.1").data(), 4), 0);
    EXPECT_EQ(std::memcmp(&f[30], v4("10.1.0.10").data(), 4), 0);
    EXPECT_EQ(fold(sum16(&f[14], 20)), 0xffff);
    EXPECT_EQ(fold(sum16(&f[34], f.size() - 34)), 0xffff);
    EXPECT_EQ(f[34 + 8], 0x45);  // the quoted header
  }
  EXPECT_EQ(out[0][34], 11);  // time exceeded
  EXPECT_EQ(out[1][34], 3);   // unreachable
  EXPECT_EQ(out[1][35], 0);
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  auto s = stats();
  EXPECT_EQ(s.ttl_expired(), 1u);
  EXPECT_EQ(s.no_route(), 1u);
  EXPECT_EQ(s.icmp_errors(), 2u);
}

TEST_F(Router, IcmpErrorsAreRateLimited) {
  resolve_all();
  for (int i = 0; i < 200; ++i) pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "192.0.2.1"));
  pl->router_step();
  const size_t sent = pl->receive_frames(p1).size();
  EXPECT_GE(sent, vsw::dp::kIcmpErrorBurst);
  EXPECT_LT(sent, 200u);
  EXPECT_EQ(stats().icmp_rate_limited(), 200u - sent);
}

TEST_F(Router, AnswersEchoRequestsToEitherInterfaceAddress) {
  resolve_all();
  pl->send_frame(p1, echo4(R1, A, "10.1.0.10", "10.2.0.1"));
  pl->router_step();
  auto out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, A));
  EXPECT_EQ(out[0][34], 0);  // echo reply
  EXPECT_EQ(std::memcmp(&out[0][26], v4("10.2.0.1").data(), 4), 0);
  EXPECT_EQ(std::memcmp(&out[0][30], v4("10.1.0.10").data(), 4), 0);
  EXPECT_EQ(fold(sum16(&out[0][34], out[0].size() - 34)), 0xffff);
  EXPECT_EQ(rd16(out[0], 38), 0x1234);
}

TEST_F(Router, Ipv6NeighborDiscoveryEchoAndForwarding) {
  // A asks for the router's address: answered with a solicited NA carrying R1.
  pl->send_frame(p1, nd(Mac{{0x33, 0x33, 0xff, 0, 0, 0x01}}, A, "2001:db8:1::10", "ff02::1:ff00:1",
                        135, "2001:db8:1::1"));
  pl->learn();
  pl->router_step();
  auto out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, A));
  EXPECT_EQ(out[0][54], 136);
  EXPECT_EQ(out[0][58] & 0x40, 0x40);  // solicited
  EXPECT_EQ(std::memcmp(&out[0][62], v6("2001:db8:1::1").data(), 16), 0);
  EXPECT_TRUE(is_mac(out[0], 80, R1));
  EXPECT_EQ(icmp6_sum(out[0]), 0xffff);
  // A -> B: the router solicits B on br2 (multicast), B answers, the packet goes.
  pl->send_frame(p1, udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20"));
  pl->router_step();
  out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][0], 0x33);
  EXPECT_EQ(out[0][54], 135);
  EXPECT_EQ(std::memcmp(&out[0][38], v6("ff02::1:ff00:20").data(), 16), 0);
  EXPECT_EQ(icmp6_sum(out[0]), 0xffff);
  pl->send_frame(p2, nd(R2, B, "2001:db8:2::20", "2001:db8:2::1", 136, "2001:db8:2::20", 0x60));
  pl->learn();
  pl->router_step();
  out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, B));
  EXPECT_TRUE(is_mac(out[0], 6, R2));
  EXPECT_EQ(out[0][21], 63);  // hop limit
  // Echo to the router's far address, and hop limit 1 -> time exceeded.
  Frame echo(8);
  echo[0] = 128;
  pl->send_frame(p1, ip6(R1, A, "2001:db8:1::10", "2001:db8:2::1", IPPROTO_ICMPV6, echo));
  pl->send_frame(p1, udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20", 1));
  pl->router_step();
  out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0][54], 129);
  EXPECT_EQ(icmp6_sum(out[0]), 0xffff);
  EXPECT_EQ(out[1][54], 3);
  EXPECT_EQ(std::memcmp(&out[1][22], v6("2001:db8:1::1").data(), 16), 0);
  EXPECT_EQ(icmp6_sum(out[1]), 0xffff);
}

TEST_F(Router, StaticRouteViaAGatewayAndDeleteStopsTheNextPacket) {
  resolve_all();
  ASSERT_TRUE(route("10.3.0.0/16", {"10.2.0.20"}).ok());
  EXPECT_EQ(route("10.3.0.0/16", {"10.2.0.30"}).code, vswitch::dp::ERROR_CODE_ALREADY_EXISTS);
  EXPECT_EQ(route("10.4.0.0/16", {"10.9.0.1"}).code, vswitch::dp::ERROR_CODE_FAILED_PRECONDITION);
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));
  auto out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, B));
  EXPECT_EQ(std::memcmp(&out[0][30], v4("10.3.7.7").data(), 4), 0);
  ASSERT_TRUE(route("10.3.0.0/16", {"10.2.0.30"}, true).ok());
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));
  EXPECT_EQ(pl->receive_frames(p3).size(), 1u);
  ASSERT_TRUE(pl->router->route_del("10.3.0.0/16").ok());
  EXPECT_EQ(pl->router->route_del("10.3.0.0/16").code, vswitch::dp::ERROR_CODE_NOT_FOUND);
  EXPECT_EQ(pl->router->route_del("10.2.0.0/24").code,
            vswitch::dp::ERROR_CODE_FAILED_PRECONDITION);  // connected
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  EXPECT_TRUE(pl->receive_frames(p3).empty());
  EXPECT_EQ(stats().no_route(), 1u);
  vswitch::dp::RouteList list;
  pl->router->route_list(&list);
  EXPECT_EQ(list.ipv4_routes(), 2u);  // the connected ones
  EXPECT_EQ(list.ipv6_routes(), 2u);
}

TEST_F(Router, EcmpSpreadsFlowsOverBothGatewaysAndEachFlowSticks) {
  resolve_all();
  ASSERT_TRUE(route("10.5.0.0/16", {"10.2.0.20", "10.2.0.30"}).ok());
  std::map<uint16_t, uint16_t> path;  // source port -> port it left by
  for (int round = 0; round < 2; ++round) {
    for (uint16_t sport = 1; sport <= 400; ++sport) {
      pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.5.1.1", 64, sport, 53));
      const size_t to_b = pl->receive_frames(p2).size();
      const size_t to_c = pl->receive_frames(p3).size();
      ASSERT_EQ(to_b + to_c, 1u);
      const uint16_t port = to_b ? p2 : p3;
      if (round == 0) {
        path[sport] = port;
      } else {
        EXPECT_EQ(path[sport], port) << "flow " << sport << " moved";
      }
    }
  }
  size_t via_b = 0;
  for (auto& [sport, port] : path) via_b += port == p2;
  EXPECT_GT(via_b, 100u);  // neither gets under 25%
  EXPECT_LT(via_b, 300u);
  // route lookup names both next hops and the one a given flow takes.
  vswitch::dp::RouteLookupRequest req;
  req.set_address("10.5.1.1");
  req.set_src("10.1.0.10");
  req.set_protocol(IPPROTO_UDP);
  req.set_src_port(7);
  req.set_dst_port(53);
  vswitch::dp::RouteLookupResult res;
  ASSERT_TRUE(pl->router->route_lookup(req, &res).ok());
  EXPECT_EQ(res.prefix(), "10.5.0.0/16");
  ASSERT_EQ(res.next_hops_size(), 2);
  const std::string want = path[7] == p2 ? "10.2.0.20" : "10.2.0.30";
  EXPECT_EQ(res.next_hops(res.chosen()).via(), want);
}

TEST_F(Router, RoutedFlowsAreCachedAndRouteNeighborAndTtlChangesTakeEffect) {
  resolve_all();
  ASSERT_TRUE(route("10.3.0.0/16", {"10.2.0.20"}).ok());
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));  // miss: installs the flow
  ASSERT_EQ(pl->receive_frames(p2).size(), 1u);
  const uint64_t hits = pl->cache().hits.load(), routed = stats().routed();
  for (int i = 0; i < 3; ++i) pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7", 20));
  auto out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(pl->cache().hits.load(), hits + 3);
  EXPECT_EQ(stats().routed(), routed + 3);
  for (const Frame& f : out) {
    EXPECT_TRUE(is_mac(f, 0, B));
    EXPECT_TRUE(is_mac(f, 6, R2));
    EXPECT_EQ(f[22], 19);
    EXPECT_EQ(fold(sum16(&f[14], 20)), 0xffff);
  }
  // B's address moves to another MAC (gratuitous ARP): the very next packet follows.
  const Mac B2 = mac(0xb2);
  pl->send_frame(p3, arp(kBroadcast, B2, 1, B2, "10.2.0.20", Mac{}, "10.2.0.20"));
  pl->learn();
  pl->router_step();
  pl->drain_all();
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));
  out = pl->receive_frames(p3);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, B2));
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  // A route replace: the next packet takes the new gateway (C, on p3 too: check the MAC).
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));  // cached again
  pl->receive_frames(p3);
  auto routed_flow = [&] {
    vswitch::dp::FlowList list;
    pl->bridges->flow_list(0, &list);
    for (const auto& f : list.flows()) {
      if (f.routed() && f.dst_ip() == "10.3.7.7") return f;
    }
    return vswitch::dp::FlowEntry{};
  };
  EXPECT_TRUE(routed_flow().routed());
  EXPECT_FALSE(routed_flow().stale());
  EXPECT_EQ(routed_flow().out_port(), "p3");
  ASSERT_TRUE(route("10.3.0.0/16", {"10.2.0.30"}, true).ok());
  EXPECT_TRUE(routed_flow().stale());  // listed as stale until the next packet rebuilds it
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7"));
  out = pl->receive_frames(p3);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(is_mac(out[0], 0, C));
  // The same flow with TTL 1 is not forwarded from the cache: time exceeded.
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.3.7.7", 1));
  pl->router_step();
  EXPECT_TRUE(pl->receive_frames(p3).empty());
  out = pl->receive_frames(p1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][34], 11);
  // IPv6 flows are cached too, each on its full addresses.
  pl->send_frame(p2, nd(R2, B, "2001:db8:2::20", "2001:db8:2::1", 136, "2001:db8:2::20", 0x20));
  pl->learn();
  pl->router_step();
  pl->send_frame(p1, udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20"));
  pl->router_step();
  pl->drain_all();
  const uint64_t hits6 = pl->cache().hits.load();
  pl->send_frame(p1, udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20"));
  pl->send_frame(p1, udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20"));
  out = pl->receive_frames(p2);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(pl->cache().hits.load(), hits6 + 2);
  EXPECT_EQ(out[0][21], 63);
  EXPECT_TRUE(is_mac(out[0], 0, B));
}

// A worker thread forwards a routed flow mix while this thread changes routes as fast as it
// can: the forwarded prefix flips between two resolved gateways every batch, and 1,000 other
// routes come and go. Every frame sent must come out (DESIGN.md: a table update never
// loses a packet).
TEST_F(Router, RouteChurnWhileForwardingLosesNoPacket) {
  resolve_all();
  ASSERT_TRUE(route("10.6.0.0/16", {"10.2.0.20"}).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, received{0};
  std::thread worker([&] {
    std::vector<rte_mbuf*> burst(32);
    uint16_t sport = 0;
    while (!stop.load()) {
      for (rte_mbuf*& m : burst) {
        Frame f = udp4(R1, A, "10.1.0.10", "10.6.1.1", 64, ++sport, 53);
        m = rte_pktmbuf_alloc(pl->pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
      }
      pl->send_mbufs(p1, burst.data(), static_cast<uint16_t>(burst.size()));
      sent += burst.size();
      rte_mbuf* out[64];
      for (uint16_t port : {p2, p3}) {
        uint16_t n;
        while ((n = rte_eth_rx_burst(port, 0, out, 64)) > 0) {
          received += n;
          rte_pktmbuf_free_bulk(out, n);
        }
      }
    }
  });
  const auto start = std::chrono::steady_clock::now();
  uint64_t changes = 0;
  for (int round = 0; std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500);
       ++round) {
    vswitch::dp::RouteBatchRequest batch;
    auto* flip = batch.add_add();
    flip->set_replace(true);
    flip->mutable_route()->set_prefix("10.6.0.0/16");
    flip->mutable_route()->add_next_hops()->set_via(round % 2 ? "10.2.0.20" : "10.2.0.30");
    for (int i = 0; i < 500; ++i) {
      auto* add = batch.add_add();
      const std::string prefix = "172." + std::to_string(16 + round % 2) + "." +
                                 std::to_string(i >> 8) + "." + std::to_string(i & 255) + "/32";
      add->mutable_route()->set_prefix(prefix);
      add->mutable_route()->add_next_hops()->set_via("10.2.0.20");
      if (round > 0)
        batch.add_del("172." + std::to_string(16 + (round + 1) % 2) + "." + std::to_string(i >> 8) +
                      "." + std::to_string(i & 255) + "/32");
    }
    vswitch::dp::RouteBatchResult res;
    vsw::dp::Status st = pl->router->route_batch(batch, &res);
    ASSERT_TRUE(st.ok()) << st.message;
    changes += res.applied();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  worker.join();
  for (uint16_t port : {p2, p3}) received += pl->receive_frames(port).size();
  std::printf("route churn: %.0f changes/s while forwarding %lu frames\n", changes / seconds,
              static_cast<unsigned long>(sent.load()));
  EXPECT_GT(sent.load(), 0u);
  EXPECT_EQ(received.load(), sent.load());
  EXPECT_EQ(stats().no_route(), 0u);
  EXPECT_EQ(stats().unresolved(), 0u);
}

// Nothing a host sends to the router is trusted: malformed headers are dropped and counted,
// truncated ARP and ND are ignored, and nothing comes out anywhere.
TEST_F(Router, MalformedPacketsAreDroppedAndCounted) {
  resolve_all();
  Frame bad_version = udp4(R1, A, "10.1.0.10", "10.2.0.20");
  bad_version[14] = 0x55;
  Frame short_ihl = udp4(R1, A, "10.1.0.10", "10.2.0.20");
  short_ihl[14] = 0x44;
  Frame long_total = udp4(R1, A, "10.1.0.10", "10.2.0.20");
  put16(long_total, 16, 1500);  // claims more than the frame holds
  Frame bad_v6 = udp6(R1, A, "2001:db8:1::10", "2001:db8:2::20");
  put16(bad_v6, 18, 1000);
  Frame truncated_v4 = udp4(R1, A, "10.1.0.10", "10.2.0.20");
  truncated_v4.resize(14 + 12);
  const uint64_t malformed_before = pl->worker().ports[p1].malformed.load();
  const uint64_t arp_before = stats().arp_replies(), nd_before = stats().nd_replies();
  for (const Frame& f : {bad_version, short_ihl, long_total, bad_v6, truncated_v4})
    pl->send_frame(p1, f);
  // The flow-key parser refuses the first two and the truncated one before the router sees
  // them; the router's own checks catch the lengths.
  EXPECT_EQ(pl->worker().ports[p1].malformed.load(), malformed_before + 3);
  // ARP and ND cut short, and an ND option of length 0 (RFC 4861: discard).
  Frame short_arp = arp(R1, A, 1, A, "10.1.0.10", Mac{}, "10.1.0.1");
  short_arp.resize(14 + 20);
  Frame zero_option = nd(Mac{{0x33, 0x33, 0xff, 0, 0, 0x01}}, A, "2001:db8:1::10", "ff02::1:ff00:1",
                         135, "2001:db8:1::1");
  zero_option[54 + 25] = 0;
  put16(zero_option, 56, 0);
  put16(zero_option, 56, static_cast<uint16_t>(~icmp6_sum(zero_option)));
  Frame short_ns = zero_option;
  short_ns.resize(54 + 16);
  for (const Frame& f : {short_arp, zero_option, short_ns}) pl->send_frame(p1, f);
  pl->router_step();
  EXPECT_EQ(stats().bad_header(), 2u);
  EXPECT_EQ(stats().arp_replies(), arp_before);
  EXPECT_EQ(stats().nd_replies(), nd_before);
  EXPECT_TRUE(pl->receive_frames(p1).empty());
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  EXPECT_TRUE(pl->receive_frames(p3).empty());
}

// RFC 1812 5.2.2: a wrong IPv4 header checksum is dropped as bad_header, on the miss path
// and when the flow is cached (the key does not cover the checksum). Before, the router
// decremented the TTL, patched the checksum incrementally and sent the corruption on
// (tests/integration/test_hostile_frames.py found it).
TEST_F(Router, WrongIpv4HeaderChecksumIsDroppedCachedOrNot) {
  resolve_all();
  Frame bad = udp4(R1, A, "10.1.0.10", "10.2.0.20", 30);
  put16(bad, 24, static_cast<uint16_t>(rd16(bad, 24) ^ 0x0101));
  const uint64_t routed = stats().routed();
  pl->send_frame(p1, bad);  // miss path
  EXPECT_EQ(stats().bad_header(), 1u);
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.20", 30));  // installs the flow
  ASSERT_EQ(pl->receive_frames(p2).size(), 1u);
  pl->send_frame(p1, udp4(R1, A, "10.1.0.10", "10.2.0.20", 30));  // a hit
  ASSERT_EQ(pl->receive_frames(p2).size(), 1u);
  const uint64_t hits = pl->cache().hits.load();
  pl->send_frame(p1, bad);  // same flow key: the hit path must check too
  EXPECT_EQ(pl->cache().hits.load(), hits);
  EXPECT_EQ(stats().bad_header(), 2u);
  EXPECT_TRUE(pl->receive_frames(p2).empty());
  EXPECT_TRUE(pl->receive_frames(p3).empty());
  EXPECT_EQ(stats().routed(), routed + 2);
}

TEST_F(Router, InterfaceAndRouteRequestsAreChecked) {
  vswitch::dp::RouterInterfaceConfig c;
  c.set_name("r3");
  c.set_bridge("br1");
  c.add_addresses("10.9.0.1/24");
  EXPECT_EQ(pl->router->rif_add(c).code, vswitch::dp::ERROR_CODE_ALREADY_EXISTS);  // br1 has r1
  c.set_bridge("nope");
  EXPECT_EQ(pl->router->rif_add(c).code, vswitch::dp::ERROR_CODE_NOT_FOUND);
  vswitch::dp::BridgeConfig br;
  br.set_name("br3");
  ASSERT_TRUE(pl->bridges->bridge_add(br).ok());
  c.set_bridge("br3");
  c.set_addresses(0, "10.9.0.0/24");
  EXPECT_EQ(pl->router->rif_add(c).code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  c.set_addresses(0, "10.1.0.1/24");
  EXPECT_EQ(pl->router->rif_add(c).code, vswitch::dp::ERROR_CODE_ALREADY_EXISTS);
  c.set_addresses(0, "10.9.0.1/24");
  ASSERT_TRUE(pl->router->rif_add(c).ok());
  ASSERT_TRUE(route("10.10.0.0/16", {"10.9.0.5"}).ok());
  EXPECT_EQ(pl->router->rif_del("r3").code, vswitch::dp::ERROR_CODE_FAILED_PRECONDITION);
  ASSERT_TRUE(pl->router->route_del("10.10.0.0/16").ok());
  ASSERT_TRUE(pl->router->rif_del("r3").ok());
  vswitch::dp::RouteList list;
  pl->router->route_list(&list);
  EXPECT_EQ(list.ipv4_routes(), 2u);
  EXPECT_EQ(route("10.11.0.0/16", {"2001:db8:1::5"}).code,
            vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace vsw::test
