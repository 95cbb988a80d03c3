// Port security (`vswctl port set NAME --allowed-mac MAC --allowed-ip CIDR ...`): what a
// guest may claim to be. Checked at ingress, before the ACL and every forwarding stage, so
// a guest cannot impersonate another whatever the port is attached to.
//
// With allowed MACs: the Ethernet source, and an ARP sender's hardware address, must be one
// of them. With allowed IPs (either family given restricts both): an IPv4 source, an ARP
// sender address and an IPv6 source must lie in one of the prefixes, and so must the target
// of a neighbor advertisement. Exempt, as OpenStack's port security exempts them: the
// unspecified address (DHCP discovery from 0.0.0.0, ARP probes, IPv6 duplicate address
// detection) and IPv6 link-local addresses (fe80::/10). Frames of other ethertypes pass
// when their MAC does. Anything else, and a header too short to check, is dropped and
// counted as the port's `port_security` drop.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vsw::dp {

inline constexpr uint32_t kMaxAllowedMacs = 16;
inline constexpr uint32_t kMaxAllowedIps = 16;

struct PortSecurity {
  uint32_t mac_count = 0;
  std::array<uint8_t, 6> macs[kMaxAllowedMacs] = {};
  bool ip_restricted = false;  // any --allowed-ip given: both families are checked
  uint32_t v4_count = 0;
  struct V4 {
    uint32_t net;   // host order
    uint32_t mask;  // host order
  } v4[kMaxAllowedIps] = {};
  uint32_t v6_count = 0;
  struct V6 {
    std::array<uint8_t, 16> net;
    uint8_t len;
  } v6[kMaxAllowedIps] = {};
};

// Builds the table from the operator's lists ("aa:bb:cc:dd:ee:ff", "10.0.0.5/32",
// "2001:db8::/64"; a bare address is a host). Returns "" or a message naming the field
// (allowed_macs / allowed_ips) and the value.
std::string build_port_security(const std::vector<std::string>& macs,
                                const std::vector<std::string>& ips, PortSecurity* out);

// True when the frame may enter. Worker: reads the frame, never changes it.
bool port_security_allows(const PortSecurity& ps, const rte_mbuf* m);

}  // namespace vsw::dp
