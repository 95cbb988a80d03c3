#include "acl_rule.h"

#include <arpa/inet.h>

#include <charconv>

namespace vsw::acl {
namespace {

std::string fail(std::string_view field, const std::string& what) {
  return std::string(field) + ": " + what;
}

bool parse_uint(std::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty()) return false;
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) return false;
  *out = v;
  return true;
}

uint8_t addr_bits(Family f) {
  return f == Family::kIpv4 ? 32 : 128;
}

// True when every bit of `addr` past `len` is zero.
bool host_bits_clear(const std::array<uint8_t, 16>& addr, uint8_t len) {
  for (uint32_t bit = len; bit < 128; ++bit)
    if (addr[bit / 8] & (0x80u >> (bit % 8))) return false;
  return true;
}

bool prefix_contains(const Prefix& p, const std::array<uint8_t, 16>& addr) {
  const uint32_t full = p.len / 8;
  for (uint32_t i = 0; i < full; ++i)
    if (p.addr[i] != addr[i]) return false;
  if (const uint32_t rest = p.len % 8; rest != 0) {
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
    if ((addr[full] & mask) != p.addr[full]) return false;
  }
  return true;
}

bool has_ports(uint8_t proto) {
  return proto == kProtoTcp || proto == kProtoUdp || proto == kProtoSctp;
}

}  // namespace

bool applies_to(const Rule& rule, Family family) {
  if (rule.src && rule.src->family != family) return false;
  if (rule.dst && rule.dst->family != family) return false;
  if (rule.proto == kProtoIcmp && family != Family::kIpv4) return false;
  if (rule.proto == kProtoIcmpv6 && family != Family::kIpv6) return false;
  return true;
}

std::string parse_prefix(std::string_view field, std::string_view text, Prefix* out) {
  Prefix p;
  std::string addr(text.substr(0, text.find('/')));
  if (inet_pton(AF_INET, addr.c_str(), p.addr.data()) == 1) {
    p.family = Family::kIpv4;
  } else if (inet_pton(AF_INET6, addr.c_str(), p.addr.data()) == 1) {
    p.family = Family::kIpv6;
  } else {
    return fail(field, "'" + std::string(text) + "' is not an IPv4 or IPv6 address or prefix");
  }
  p.len = addr_bits(p.family);
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    uint32_t len = 0;
    if (!parse_uint(text.substr(slash + 1), addr_bits(p.family), &len))
      return fail(field, "'" + std::string(text) + "': prefix length must be 0.." +
                             std::to_string(addr_bits(p.family)));
    p.len = static_cast<uint8_t>(len);
  }
  if (!host_bits_clear(p.addr, p.len)) {
    Prefix net = p;
    for (uint32_t bit = p.len; bit < 128; ++bit) net.addr[bit / 8] &= ~(0x80u >> (bit % 8));
    return fail(field, "'" + std::string(text) + "' has host bits set (the network is " +
                           to_string(net) + ")");
  }
  *out = p;
  return {};
}

std::string parse_port_range(std::string_view field, std::string_view text, PortRange* out) {
  const size_t dash = text.find('-');
  uint32_t lo = 0, hi = 0;
  const std::string_view lo_text = text.substr(0, dash);
  const std::string_view hi_text = dash == std::string_view::npos ? lo_text : text.substr(dash + 1);
  if (!parse_uint(lo_text, 65535, &lo) || !parse_uint(hi_text, 65535, &hi))
    return fail(field, "'" + std::string(text) + "' is not a port (0..65535) or range LO-HI");
  if (lo > hi) return fail(field, "'" + std::string(text) + "': range start is above its end");
  *out = PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
  return {};
}

std::string proto_name(uint8_t proto) {
  switch (proto) {
    case kProtoTcp:
      return "tcp";
    case kProtoUdp:
      return "udp";
    case kProtoIcmp:
      return "icmp";
    case kProtoIcmpv6:
      return "icmpv6";
    case kProtoSctp:
      return "sctp";
    default:
      return std::to_string(proto);
  }
}

std::string parse_proto(std::string_view text, uint8_t* out) {
  static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
      {"tcp", kProtoTcp},       {"udp", kProtoUdp},   {"icmp", kProtoIcmp},
      {"icmpv6", kProtoIcmpv6}, {"sctp", kProtoSctp},
  };
  for (const auto& [name, value] : kNames) {
    if (text == name) {
      *out = value;
      return {};
    }
  }
  uint32_t v = 0;
  if (!parse_uint(text, 255, &v))
    return fail("proto", "'" + std::string(text) +
                             "' is not tcp, udp, icmp, icmpv6, sctp or a number 0..255");
  *out = static_cast<uint8_t>(v);
  return {};
}

std::string parse_action(std::string_view text, Action* out) {
  for (Action a : {Action::kPermit, Action::kDeny, Action::kPermitStateful}) {
    if (text == to_string(a)) {
      *out = a;
      return {};
    }
  }
  return fail("action", "'" + std::string(text) + "' is not permit, deny or permit-stateful");
}

std::string parse_direction(std::string_view text, Direction* out) {
  for (Direction d : {Direction::kToPort, Direction::kFromPort}) {
    if (text == to_string(d)) {
      *out = d;
      return {};
    }
  }
  return fail("dir", "'" + std::string(text) + "' is not to-port or from-port");
}

std::string validate(const Rule& r) {
  if (r.priority > kMaxPriority)
    return fail("priority",
                std::to_string(r.priority) + " is above " + std::to_string(kMaxPriority));
  if (r.action != Action::kPermit && r.action != Action::kDeny &&
      r.action != Action::kPermitStateful)
    return fail("action", "unknown action " + std::to_string(static_cast<int>(r.action)));
  for (const auto& [field, p] : {std::pair{"src", &r.src}, std::pair{"dst", &r.dst}}) {
    if (!*p) continue;
    const Prefix& prefix = **p;
    if (prefix.family != Family::kIpv4 && prefix.family != Family::kIpv6)
      return fail(field, "unknown address family");
    if (prefix.len > addr_bits(prefix.family))
      return fail(field, "prefix length " + std::to_string(prefix.len) + " is above " +
                             std::to_string(addr_bits(prefix.family)));
    if (!host_bits_clear(prefix.addr, prefix.len))
      return fail(field, to_string(prefix) + " has host bits set");
  }
  if (r.src && r.dst && r.src->family != r.dst->family)
    return fail("dst", "an " + std::string(r.dst->family == Family::kIpv4 ? "IPv4" : "IPv6") +
                           " prefix with an " + (r.src->family == Family::kIpv4 ? "IPv4" : "IPv6") +
                           " src");
  const std::optional<Prefix>& any_prefix = r.src ? r.src : r.dst;
  if (any_prefix && r.proto == kProtoIcmp && any_prefix->family == Family::kIpv6)
    return fail("proto", "icmp (IPv4) with IPv6 prefixes: use icmpv6");
  if (any_prefix && r.proto == kProtoIcmpv6 && any_prefix->family == Family::kIpv4)
    return fail("proto", "icmpv6 with IPv4 prefixes: use icmp");
  for (const auto& [field, range] : {std::pair{"sport", &r.sport}, std::pair{"dport", &r.dport}}) {
    if (range->lo > range->hi) return fail(field, "range start is above its end");
    if (!range->any() && !(r.proto && has_ports(*r.proto)))
      return fail(field, "a port range needs proto tcp, udp or sctp");
  }
  if (r.icmp_type && !(r.proto == kProtoIcmp || r.proto == kProtoIcmpv6))
    return fail("icmp-type", "needs proto icmp or icmpv6");
  return {};
}

std::string to_string(const Prefix& p) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(p.family == Family::kIpv4 ? AF_INET : AF_INET6, p.addr.data(), text, sizeof(text));
  return std::string(text) + "/" + std::to_string(p.len);
}

std::string_view to_string(Action a) {
  switch (a) {
    case Action::kPermit:
      return "permit";
    case Action::kDeny:
      return "deny";
    case Action::kPermitStateful:
      return "permit-stateful";
  }
  return "?";
}

std::string_view to_string(Direction d) {
  return d == Direction::kToPort ? "to-port" : "from-port";
}

bool matches(const Rule& r, const PacketKey& k) {
  if (!applies_to(r, k.family)) return false;
  if (r.src && !prefix_contains(*r.src, k.src)) return false;
  if (r.dst && !prefix_contains(*r.dst, k.dst)) return false;
  if (r.proto && *r.proto != k.proto) return false;
  if (k.sport < r.sport.lo || k.sport > r.sport.hi) return false;
  if (k.dport < r.dport.lo || k.dport > r.dport.hi) return false;
  if (r.icmp_type && *r.icmp_type != k.sport) return false;
  return true;
}

int32_t classify_reference(std::span<const Rule> rules, const PacketKey& key) {
  int32_t best = -1;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!matches(rules[i], key)) continue;
    if (best < 0 || outranks(rules[i], rules[static_cast<size_t>(best)]))
      best = static_cast<int32_t>(i);
  }
  return best;
}

}  // namespace vsw::acl
