// Port security's frame checks, on frames built by hand in mbufs that only wrap a buffer
// (port_security_allows reads, never allocates).
#include "port_security.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace vsw::dp {
namespace {

const uint8_t kGuestMac[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t kOtherMac[6] = {0x02, 0, 0, 0, 0, 0x99};

class Frame {
 public:
  explicit Frame(const uint8_t* src_mac, uint16_t vlan = 0) {
    const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    bytes_.insert(bytes_.end(), dst, dst + 6);
    bytes_.insert(bytes_.end(), src_mac, src_mac + 6);
    if (vlan) put16(0x8100), put16(vlan);
  }
  void put16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
  }
  void put(std::initializer_list<uint8_t> b) { bytes_.insert(bytes_.end(), b); }
  void put(const void* p, std::size_t n) {
    bytes_.insert(bytes_.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
  void zeros(std::size_t n) { bytes_.insert(bytes_.end(), n, 0); }
  void truncate(std::size_t n) { bytes_.resize(n); }
  std::size_t size() const { return bytes_.size(); }

  // A read-only view as an mbuf: what the check sees.
  bool allowed_by(const PortSecurity& ps) {
    rte_mbuf m{};
    m.buf_addr = bytes_.data();
    m.data_off = 0;
    m.data_len = static_cast<uint16_t>(bytes_.size());
    m.pkt_len = static_cast<uint32_t>(bytes_.size());
    m.nb_segs = 1;
    return port_security_allows(ps, &m);
  }

 private:
  std::vector<uint8_t> bytes_;
};

uint32_t v4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a.s_addr;  // network order, as in a header
}

Frame ipv4(const uint8_t* mac, const char* src, uint16_t vlan = 0) {
  Frame f(mac, vlan);
  f.put16(0x0800);
  f.put({0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0});
  const uint32_t s = v4(src), d = v4("10.0.0.254");
  f.put(&s, 4);
  f.put(&d, 4);
  f.zeros(8);
  return f;
}

Frame arp(const uint8_t* eth_src, const uint8_t* sha, const char* spa) {
  Frame f(eth_src);
  f.put16(0x0806);
  f.put({0, 1, 8, 0, 6, 4, 0, 1});
  f.put(sha, 6);
  const uint32_t s = v4(spa), t = v4("10.0.0.254");
  f.put(&s, 4);
  f.zeros(6);
  f.put(&t, 4);
  return f;
}

Frame ipv6(const uint8_t* mac, const char* src, int icmp_type = -1, const char* target = "") {
  Frame f(mac);
  f.put16(0x86dd);
  const bool icmp = icmp_type >= 0;
  f.put({0x60, 0, 0, 0, 0, static_cast<uint8_t>(icmp ? 32 : 8),
         static_cast<uint8_t>(icmp ? 58 : 17), 255});
  in6_addr s{}, d{};
  inet_pton(AF_INET6, src, &s);
  inet_pton(AF_INET6, "2001:db8::1", &d);
  f.put(&s, 16);
  f.put(&d, 16);
  if (icmp) {
    f.put({static_cast<uint8_t>(icmp_type), 0, 0, 0, 0x20, 0, 0, 0});
    in6_addr t{};
    inet_pton(AF_INET6, target, &t);
    f.put(&t, 16);
    f.zeros(8);
  } else {
    f.zeros(8);
  }
  return f;
}

PortSecurity make(std::vector<std::string> macs, std::vector<std::string> ips) {
  PortSecurity ps;
  const std::string err = build_port_security(macs, ips, &ps);
  EXPECT_EQ(err, "");
  return ps;
}

TEST(PortSecurity, OnlyTheAllowedSourceMacEnters) {
  const PortSecurity ps = make({"02:00:00:00:00:01"}, {});
  EXPECT_TRUE(ipv4(kGuestMac, "10.9.9.9").allowed_by(ps));  // no IP list: any address
  EXPECT_FALSE(ipv4(kOtherMac, "10.9.9.9").allowed_by(ps));
  // An ARP whose sender hardware address is not the guest's.
  EXPECT_FALSE(arp(kGuestMac, kOtherMac, "10.0.0.5").allowed_by(ps));
  EXPECT_TRUE(arp(kGuestMac, kGuestMac, "10.0.0.77").allowed_by(ps));
}

TEST(PortSecurity, IpSourcesMustLieInTheAllowedPrefixes) {
  const PortSecurity ps = make({"02:00:00:00:00:01"}, {"10.0.0.5/32", "2001:db8:5::/64"});
  EXPECT_TRUE(ipv4(kGuestMac, "10.0.0.5").allowed_by(ps));
  EXPECT_FALSE(ipv4(kGuestMac, "10.0.0.6").allowed_by(ps));
  EXPECT_TRUE(ipv4(kGuestMac, "0.0.0.0").allowed_by(ps));       // DHCP discovery
  EXPECT_TRUE(ipv4(kGuestMac, "10.0.0.5", 10).allowed_by(ps));  // checked under a VLAN tag too
  EXPECT_FALSE(ipv4(kGuestMac, "10.0.0.6", 10).allowed_by(ps));
  EXPECT_TRUE(arp(kGuestMac, kGuestMac, "10.0.0.5").allowed_by(ps));
  EXPECT_FALSE(arp(kGuestMac, kGuestMac, "10.0.0.6").allowed_by(ps));  // ARP spoofing
  EXPECT_TRUE(arp(kGuestMac, kGuestMac, "0.0.0.0").allowed_by(ps));    // ARP probe
  EXPECT_TRUE(ipv6(kGuestMac, "2001:db8:5::77").allowed_by(ps));
  EXPECT_FALSE(ipv6(kGuestMac, "2001:db8:6::77").allowed_by(ps));
  EXPECT_TRUE(ipv6(kGuestMac, "fe80::1").allowed_by(ps));  // link-local
  EXPECT_TRUE(ipv6(kGuestMac, "::").allowed_by(ps));       // duplicate address detection
  // A neighbor advertisement claims its target.
  EXPECT_TRUE(ipv6(kGuestMac, "fe80::1", 136, "2001:db8:5::77").allowed_by(ps));
  EXPECT_FALSE(ipv6(kGuestMac, "fe80::1", 136, "2001:db8:6::1").allowed_by(ps));
  EXPECT_TRUE(ipv6(kGuestMac, "fe80::1", 135, "2001:db8:6::1").allowed_by(ps));  // asking is fine
}

TEST(PortSecurity, OneFamilyGivenRestrictsBoth) {
  const PortSecurity ps = make({}, {"10.0.0.0/24"});
  EXPECT_TRUE(ipv4(kOtherMac, "10.0.0.200").allowed_by(ps));  // no MAC list: any MAC
  EXPECT_FALSE(ipv6(kGuestMac, "2001:db8::9").allowed_by(ps));
  EXPECT_TRUE(ipv6(kGuestMac, "fe80::9").allowed_by(ps));
}

TEST(PortSecurity, TooShortToCheckIsDropped) {
  const PortSecurity ps = make({"02:00:00:00:00:01"}, {"10.0.0.5/32"});
  Frame f = ipv4(kGuestMac, "10.0.0.5");
  f.truncate(14 + 12);  // the source address is cut off
  EXPECT_FALSE(f.allowed_by(ps));
  Frame a = arp(kGuestMac, kGuestMac, "10.0.0.5");
  a.truncate(20);
  EXPECT_FALSE(a.allowed_by(ps));
  Frame tiny(kGuestMac);
  tiny.truncate(10);
  EXPECT_FALSE(tiny.allowed_by(ps));
}

TEST(PortSecurity, NothingConfiguredLetsEverythingIn) {
  const PortSecurity ps = make({}, {});
  EXPECT_TRUE(ipv4(kOtherMac, "1.2.3.4").allowed_by(ps));
  EXPECT_TRUE(arp(kOtherMac, kGuestMac, "9.9.9.9").allowed_by(ps));
}

TEST(PortSecurity, BadListsNameTheField) {
  PortSecurity ps;
  EXPECT_NE(build_port_security({"02:00:00:00:00"}, {}, &ps).find("allowed_macs: '02:00"),
            std::string::npos);
  EXPECT_NE(build_port_security({"01:00:5e:00:00:01"}, {}, &ps).find("multicast"),
            std::string::npos);
  EXPECT_NE(build_port_security({}, {"10.0.0.1/24"}, &ps).find("host bits"), std::string::npos);
  EXPECT_NE(build_port_security({}, {"10.0.0.0/33"}, &ps).find("0-32"), std::string::npos);
  EXPECT_NE(build_port_security({}, {"2001:db8::1/64"}, &ps).find("host bits"), std::string::npos);
  EXPECT_NE(build_port_security({}, {"nope"}, &ps).find("allowed_ips: 'nope'"), std::string::npos);
  std::vector<std::string> many(17, "02:00:00:00:00:01");
  EXPECT_NE(build_port_security(many, {}, &ps).find("at most 16"), std::string::npos);
}

}  // namespace
}  // namespace vsw::dp
