// IPv4/IPv6 addresses and prefixes as the routing tables and their control side see them.
//
// One 16-byte form for both families: an IPv4 address lives in bytes 0..3 (network order),
// the rest zero, so keys compare and hash the same way whatever the family. Parsing and
// formatting are for the management thread (they use inet_pton/inet_ntop).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace vsw::flow {

enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

struct IpAddr {
  Family family = Family::kIpv4;
  uint8_t bytes[16] = {};  // network order; IPv4 in bytes 0..3

  static IpAddr v4(uint32_t host_order) {
    IpAddr a;
    a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<uint8_t>(host_order);
    return a;
  }
  static IpAddr v6(const uint8_t b[16]) {
    IpAddr a;
    a.family = Family::kIpv6;
    std::memcpy(a.bytes, b, 16);
    return a;
  }
  uint32_t v4_host() const {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           bytes[3];
  }
  bool is_v4() const { return family == Family::kIpv4; }
  unsigned max_len() const { return is_v4() ? 32 : 128; }

  bool operator==(const IpAddr& o) const {
    return family == o.family && std::memcmp(bytes, o.bytes, 16) == 0;
  }
  auto operator<=>(const IpAddr& o) const {
    if (family != o.family) return family <=> o.family;
    return std::memcmp(bytes, o.bytes, 16) <=> 0;
  }
};

struct Prefix {
  IpAddr addr;  // host bits are zero (see make_prefix)
  uint8_t len = 0;

  bool operator==(const Prefix& o) const { return addr == o.addr && len == o.len; }
  auto operator<=>(const Prefix& o) const {
    if (auto c = addr <=> o.addr; c != 0) return c;
    return len <=> o.len;
  }
  // True when `a` (same family) falls inside this prefix.
  bool contains(const IpAddr& a) const;
};

// `addr` with the bits past `len` cleared.
Prefix make_prefix(const IpAddr& addr, uint8_t len);

// "192.0.2.1" or "2001:db8::1". Returns false on anything else.
bool parse_ip(const std::string& text, IpAddr* out);
// "192.0.2.0/24" or "2001:db8::/32"; a bare address is a host prefix (/32, /128). Host bits
// set past the length are an error ("10.0.0.1/8" is refused: it is ambiguous whether the
// operator meant the network or a router address). Returns "" or the reason.
std::string parse_prefix(const std::string& text, Prefix* out);

std::string format_ip(const IpAddr& addr);
std::string format_prefix(const Prefix& prefix);

}  // namespace vsw::flow
