// The rule model: parsing and validation messages (controld shows them as they are) and the
// reference classifier's semantics, which the rte_acl classifier is held to.
#include "acl_rule.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace vsw::acl {
namespace {

Prefix prefix(const char* text) {
  Prefix p;
  const std::string err = parse_prefix("src", text, &p);
  EXPECT_EQ(err, "") << text;
  return p;
}

PacketKey v4(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  PacketKey k;
  k.family = Family::kIpv4;
  inet_pton(AF_INET, src, k.src.data());
  inet_pton(AF_INET, dst, k.dst.data());
  k.proto = proto;
  k.sport = sport;
  k.dport = dport;
  return k;
}

PacketKey v6(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  PacketKey k;
  k.family = Family::kIpv6;
  inet_pton(AF_INET6, src, k.src.data());
  inet_pton(AF_INET6, dst, k.dst.data());
  k.proto = proto;
  k.sport = sport;
  k.dport = dport;
  return k;
}

TEST(AclParse, PrefixesOfBothFamilies) {
  Prefix p = prefix("10.1.0.0/16");
  EXPECT_EQ(p.family, Family::kIpv4);
  EXPECT_EQ(p.len, 16);
  EXPECT_EQ(p.addr[0], 10);
  EXPECT_EQ(p.addr[1], 1);
  EXPECT_EQ(to_string(p), "10.1.0.0/16");
  EXPECT_EQ(prefix("192.0.2.7").len, 32);
  p = prefix("2001:db8::/32");
  EXPECT_EQ(p.family, Family::kIpv6);
  EXPECT_EQ(p.len, 32);
  EXPECT_EQ(to_string(p), "2001:db8::/32");
  EXPECT_EQ(prefix("::1").len, 128);
  EXPECT_EQ(prefix("0.0.0.0/0").len, 0);
}

TEST(AclParse, BadPrefixesNameTheFieldAndTheProblem) {
  Prefix p;
  EXPECT_EQ(parse_prefix("dst", "10.0.0.0/33", &p),
            "dst: '10.0.0.0/33': prefix length must be 0..32");
  EXPECT_EQ(parse_prefix("src", "2001:db8::/129", &p),
            "src: '2001:db8::/129': prefix length must be 0..128");
  EXPECT_EQ(parse_prefix("src", "10.0.0.1/8", &p),
            "src: '10.0.0.1/8' has host bits set (the network is 10.0.0.0/8)");
  EXPECT_EQ(parse_prefix("src", "10.0.0/8", &p),
            "src: '10.0.0/8' is not an IPv4 or IPv6 address or prefix");
  EXPECT_EQ(parse_prefix("src", "10.0.0.0/", &p), "src: '10.0.0.0/': prefix length must be 0..32");
  EXPECT_EQ(parse_prefix("src", "10.0.0.0/8x", &p),
            "src: '10.0.0.0/8x': prefix length must be 0..32");
  EXPECT_EQ(parse_prefix("src", "", &p), "src: '' is not an IPv4 or IPv6 address or prefix");
}

TEST(AclParse, PortsProtocolsActionsDirections) {
  PortRange r;
  EXPECT_EQ(parse_port_range("dport", "80", &r), "");
  EXPECT_EQ(r, (PortRange{80, 80}));
  EXPECT_EQ(parse_port_range("dport", "1024-65535", &r), "");
  EXPECT_EQ(r, (PortRange{1024, 65535}));
  EXPECT_EQ(parse_port_range("sport", "90-80", &r), "sport: '90-80': range start is above its end");
  EXPECT_EQ(parse_port_range("dport", "65536", &r),
            "dport: '65536' is not a port (0..65535) or range LO-HI");
  EXPECT_EQ(parse_port_range("dport", "-5", &r),
            "dport: '-5' is not a port (0..65535) or range LO-HI");
  EXPECT_EQ(parse_port_range("dport", "5-", &r),
            "dport: '5-' is not a port (0..65535) or range LO-HI");

  uint8_t proto = 0;
  EXPECT_EQ(parse_proto("tcp", &proto), "");
  EXPECT_EQ(proto, kProtoTcp);
  EXPECT_EQ(parse_proto("icmpv6", &proto), "");
  EXPECT_EQ(proto, kProtoIcmpv6);
  EXPECT_EQ(parse_proto("47", &proto), "");
  EXPECT_EQ(proto, 47);
  EXPECT_EQ(parse_proto("256", &proto),
            "proto: '256' is not tcp, udp, icmp, icmpv6, sctp or a number 0..255");
  EXPECT_EQ(parse_proto("TCP", &proto),
            "proto: 'TCP' is not tcp, udp, icmp, icmpv6, sctp or a number 0..255");

  Action a;
  EXPECT_EQ(parse_action("permit-stateful", &a), "");
  EXPECT_EQ(a, Action::kPermitStateful);
  EXPECT_EQ(parse_action("allow", &a), "action: 'allow' is not permit, deny or permit-stateful");
  Direction d;
  EXPECT_EQ(parse_direction("from-port", &d), "");
  EXPECT_EQ(d, Direction::kFromPort);
  EXPECT_EQ(parse_direction("in", &d), "dir: 'in' is not to-port or from-port");
}

TEST(AclValidate, RefusesInconsistentRules) {
  Rule r;
  EXPECT_EQ(validate(r), "");
  r.priority = 65536;
  EXPECT_EQ(validate(r), "priority: 65536 is above 65535");
  r = Rule{};
  r.dport = {80, 80};
  EXPECT_EQ(validate(r), "dport: a port range needs proto tcp, udp or sctp");
  r.proto = kProtoIcmp;
  EXPECT_EQ(validate(r), "dport: a port range needs proto tcp, udp or sctp");
  r.proto = kProtoUdp;
  EXPECT_EQ(validate(r), "");
  r.sport = {9, 3};
  EXPECT_EQ(validate(r), "sport: range start is above its end");
  r = Rule{};
  r.icmp_type = 8;
  EXPECT_EQ(validate(r), "icmp-type: needs proto icmp or icmpv6");
  r.proto = kProtoIcmp;
  EXPECT_EQ(validate(r), "");
  r.src = prefix("2001:db8::/32");
  EXPECT_EQ(validate(r), "proto: icmp (IPv4) with IPv6 prefixes: use icmpv6");
  r.proto = kProtoIcmpv6;
  EXPECT_EQ(validate(r), "");
  r.dst = prefix("10.0.0.0/8");
  EXPECT_EQ(validate(r), "dst: an IPv4 prefix with an IPv6 src");
  r = Rule{};
  r.dst = prefix("10.0.0.0/8");
  r.dst->len = 4;  // built by hand, not parsed: 10/4 has host bits
  EXPECT_EQ(validate(r), "dst: 10.0.0.0/4 has host bits set");
  r.dst->len = 40;
  EXPECT_EQ(validate(r), "dst: prefix length 40 is above 32");
}

TEST(AclReference, FieldsMatchAsWritten) {
  Rule r;
  r.src = prefix("10.1.0.0/16");
  r.proto = kProtoTcp;
  r.dport = {22, 23};
  EXPECT_TRUE(matches(r, v4("10.1.2.3", "192.0.2.1", kProtoTcp, 5000, 22)));
  EXPECT_TRUE(matches(r, v4("10.1.2.3", "192.0.2.1", kProtoTcp, 5000, 23)));
  EXPECT_FALSE(matches(r, v4("10.1.2.3", "192.0.2.1", kProtoTcp, 5000, 24)));
  EXPECT_FALSE(matches(r, v4("10.2.2.3", "192.0.2.1", kProtoTcp, 5000, 22)));
  EXPECT_FALSE(matches(r, v4("10.1.2.3", "192.0.2.1", kProtoUdp, 5000, 22)));
  // An IPv4 prefix never matches IPv6 packets, whatever their bytes.
  EXPECT_FALSE(matches(r, v6("a01:203::", "::1", kProtoTcp, 5000, 22)));

  Rule any;  // no prefix, no protocol: both families
  EXPECT_TRUE(matches(any, v4("1.2.3.4", "5.6.7.8", 47, 0, 0)));
  EXPECT_TRUE(matches(any, v6("2001:db8::1", "2001:db8::2", kProtoUdp, 1, 2)));

  Rule icmp;
  icmp.proto = kProtoIcmp;
  icmp.icmp_type = 8;
  EXPECT_TRUE(matches(icmp, v4("1.2.3.4", "5.6.7.8", kProtoIcmp, 8, 0)));
  EXPECT_FALSE(matches(icmp, v4("1.2.3.4", "5.6.7.8", kProtoIcmp, 0, 0)));
  EXPECT_FALSE(matches(icmp, v6("::1", "::2", kProtoIcmp, 8, 0)));  // icmp is IPv4's

  Rule odd;  // a prefix length that is not a multiple of 8
  odd.dst = prefix("2001:db8:8000::/33");
  EXPECT_TRUE(matches(odd, v6("::1", "2001:db8:ffff::1", kProtoUdp, 1, 2)));
  EXPECT_FALSE(matches(odd, v6("::1", "2001:db8:7fff::1", kProtoUdp, 1, 2)));
}

TEST(AclReference, HighestPriorityWinsAndTiesGoToTheLowerId) {
  std::vector<Rule> rules(3);
  rules[0].id = 7;
  rules[0].priority = 100;
  rules[0].action = Action::kPermit;
  rules[1].id = 3;
  rules[1].priority = 100;
  rules[1].action = Action::kDeny;
  rules[2].id = 9;
  rules[2].priority = 50;
  rules[2].proto = kProtoUdp;
  const PacketKey k = v4("1.1.1.1", "2.2.2.2", kProtoUdp, 1, 2);
  EXPECT_EQ(classify_reference(rules, k), 1);  // priority 100, id 3 < 7
  rules[2].priority = 101;
  EXPECT_EQ(classify_reference(rules, k), 2);
  EXPECT_EQ(classify_reference(rules, v4("1.1.1.1", "2.2.2.2", kProtoTcp, 1, 2)), 1);
  EXPECT_EQ(classify_reference({}, k), -1);
}

}  // namespace
}  // namespace vsw::acl
