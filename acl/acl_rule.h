// The ACL rule model: what an operator writes with `vswctl acl add`, validated, and a
// reference classifier (a linear scan) that defines what the compiled rte_acl contexts must
// answer (acl_classifier.h is tested against it).
//
// Everything here is plain C++ without DPDK: controld validates requests with it, the
// dataplane compiles from it, the tests use it as the oracle.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vsw::acl {

// OVN's to-lport / from-lport: kToPort is what the switch sends towards the port's guest,
// kFromPort what it receives from the guest.
enum class Direction : uint8_t { kToPort = 0, kFromPort = 1 };
enum class Action : uint8_t { kPermit = 0, kDeny = 1, kPermitStateful = 2 };
enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoSctp = 132;

// Priorities are OVN's range; 0 is allowed. Larger wins.
inline constexpr uint32_t kMaxPriority = 65535;
// Rules per (port, direction): what one rte_acl context is sized for.
inline constexpr uint32_t kMaxRules = 16384;

// An address prefix. `addr` is in network byte order; IPv4 uses the first 4 bytes and the
// rest stay zero. Host bits beyond `len` are always zero (validate() refuses others).
struct Prefix {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> addr{};
  uint8_t len = 0;

  bool operator==(const Prefix&) const = default;
};

struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 65535;

  bool any() const { return lo == 0 && hi == 65535; }
  bool operator==(const PortRange&) const = default;
};

struct Rule {
  uint32_t id = 0;  // the owner's handle (unique per port and direction); ties on priority
  uint32_t priority = 0;
  Action action = Action::kPermit;
  std::optional<Prefix> src;
  std::optional<Prefix> dst;
  std::optional<uint8_t> proto;      // IP protocol / IPv6 next header; none: any
  PortRange sport;                   // TCP, UDP, SCTP only
  PortRange dport;                   // TCP, UDP, SCTP only
  std::optional<uint8_t> icmp_type;  // ICMP / ICMPv6 only

  bool operator==(const Rule&) const = default;
};

// Which address families a (valid) rule can match: a prefix or an ICMP protocol pins one
// family, otherwise it applies to both.
bool applies_to(const Rule& rule, Family family);

// What a classifier looks at, in host byte order except the addresses. For ICMP and ICMPv6
// `sport` carries the type and `dport` the code (as OVS does), so an ICMP type is a
// one-value source port range to rte_acl. Protocols without ports (and non-first fragments)
// have both zero.
struct PacketKey {
  Family family = Family::kIpv4;
  uint8_t proto = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::array<uint8_t, 16> src{};  // network byte order; IPv4 in the first 4 bytes
  std::array<uint8_t, 16> dst{};
};

// ---- parsing and validation (control side) ----
//
// Each returns an empty string on success, otherwise a one-line message that starts with
// the field's CLI name ("src: ...", "dport: ...") so controld can pass it on as the
// INVALID_ARGUMENT text unchanged.

// "10.0.0.0/8", "2001:db8::/32"; a bare address is a host prefix (/32, /128).
std::string parse_prefix(std::string_view field, std::string_view text, Prefix* out);
// "80" or "1024-65535".
std::string parse_port_range(std::string_view field, std::string_view text, PortRange* out);
// "tcp", "udp", "icmp", "icmpv6", "sctp" or a number 0..255.
std::string parse_proto(std::string_view text, uint8_t* out);
// The name parse_proto reads ("tcp", ...), or the number.
std::string proto_name(uint8_t proto);
std::string parse_action(std::string_view text, Action* out);
std::string parse_direction(std::string_view text, Direction* out);

// Checks a rule as a whole: priority range, prefix lengths and host bits, src and dst of
// the same family, ports only with TCP/UDP/SCTP, lo <= hi, ICMP type only with ICMP/ICMPv6
// and of the ICMP flavour that matches the addresses' family.
std::string validate(const Rule& rule);

std::string to_string(const Prefix& p);
std::string_view to_string(Action a);
std::string_view to_string(Direction d);

// ---- the reference semantics ----

bool matches(const Rule& rule, const PacketKey& key);

// True when `a` beats `b`: the higher priority, and on equal priorities the lower id (the
// rule added first, ids being handed out in increasing order). A total order, so every
// classifier agrees on one winner.
inline bool outranks(const Rule& a, const Rule& b) {
  return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
}

// Linear scan: the index of the winning rule in `rules`, or -1 when none matches.
int32_t classify_reference(std::span<const Rule> rules, const PacketKey& key);

}  // namespace vsw::acl
