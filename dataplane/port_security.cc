#include "port_security.h"

#include <arpa/inet.h>
#include <rte_byteorder.h>

#include <cstring>

#include "port_fields.h"

namespace vsw::dp {

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kNeighborAdvertisement = 136;

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

bool v4_allowed(const PortSecurity& ps, uint32_t addr) {
  if (addr == 0) return true;  // DHCP discovery, ARP probes
  for (uint32_t i = 0; i < ps.v4_count; ++i)
    if ((addr & ps.v4[i].mask) == ps.v4[i].net) return true;
  return false;
}

bool v6_allowed(const PortSecurity& ps, const uint8_t* addr) {
  static const uint8_t kZero[16] = {};
  if (std::memcmp(addr, kZero, 16) == 0) return true;            // DAD
  if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) return true;  // link-local
  for (uint32_t i = 0; i < ps.v6_count; ++i) {
    const auto& p = ps.v6[i];
    const uint8_t full = p.len / 8, rest = p.len % 8;
    if (std::memcmp(addr, p.net.data(), full) != 0) continue;
    if (rest && ((addr[full] ^ p.net[full]) & static_cast<uint8_t>(0xff << (8 - rest)))) continue;
    return true;
  }
  return false;
}

bool mac_allowed(const PortSecurity& ps, const uint8_t* mac) {
  if (ps.mac_count == 0) return true;
  for (uint32_t i = 0; i < ps.mac_count; ++i)
    if (std::memcmp(mac, ps.macs[i].data(), 6) == 0) return true;
  return false;
}

}  // namespace

std::string build_port_security(const std::vector<std::string>& macs,
                                const std::vector<std::string>& ips, PortSecurity* out) {
  PortSecurity ps;
  if (macs.size() > kMaxAllowedMacs)
    return "allowed_macs: at most " + std::to_string(kMaxAllowedMacs) + " MACs per port";
  if (ips.size() > kMaxAllowedIps)
    return "allowed_ips: at most " + std::to_string(kMaxAllowedIps) + " prefixes per port";
  for (const std::string& m : macs) {
    std::array<uint8_t, 6> mac{};
    if (!fields::parse_mac_any(m, mac.data()))
      return "allowed_macs: '" + m + "' is not a MAC (aa:bb:cc:dd:ee:ff)";
    if (mac[0] & 1) return "allowed_macs: '" + m + "' is a multicast MAC";
    ps.macs[ps.mac_count++] = mac;
  }
  for (const std::string& text : ips) {
    const std::size_t slash = text.find('/');
    const std::string addr = text.substr(0, slash);
    in_addr v4{};
    in6_addr v6{};
    const bool is4 = inet_pton(AF_INET, addr.c_str(), &v4) == 1;
    if (!is4 && inet_pton(AF_INET6, addr.c_str(), &v6) != 1)
      return "allowed_ips: '" + text + "' is not an IPv4 or IPv6 address or prefix";
    const int max = is4 ? 32 : 128;
    int len = max;
    if (slash != std::string::npos) {
      const std::string l = text.substr(slash + 1);
      if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(l) > max)
        return "allowed_ips: '" + text + "': the prefix length must be 0-" + std::to_string(max);
      len = std::stoi(l);
    }
    if (is4) {
      const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
      const uint32_t net = ntohl(v4.s_addr);
      if (net & ~mask) return "allowed_ips: '" + text + "' has host bits set";
      ps.v4[ps.v4_count++] = {net, mask};
    } else {
      PortSecurity::V6 p{};
      std::memcpy(p.net.data(), v6.s6_addr, 16);
      p.len = static_cast<uint8_t>(len);
      for (int bit = len; bit < 128; ++bit)
        if (p.net[bit / 8] & (0x80 >> (bit % 8)))
          return "allowed_ips: '" + text + "' has host bits set";
      ps.v6[ps.v6_count++] = p;
    }
  }
  ps.ip_restricted = !ips.empty();
  *out = ps;
  return {};
}

bool port_security_allows(const PortSecurity& ps, const rte_mbuf* m) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  if (len < 14) return false;
  if (!mac_allowed(ps, p + 6)) return false;
  if (!ps.ip_restricted && ps.mac_count == 0) return true;
  uint32_t off = 12;
  uint16_t type = be16(p + off);
  for (int tags = 0; (type == kEtherVlan || type == kEtherQinQ) && tags < 2; ++tags) {
    if (len < off + 6) return false;
    off += 4;
    type = be16(p + off);
  }
  off += 2;  // the L3 header
  if (type == kEtherArp) {
    // Ethernet/IPv4 ARP: sender hardware address at 8, sender protocol address at 14.
    if (len < off + 28) return false;
    if (ps.mac_count && !mac_allowed(ps, p + off + 8)) return false;
    if (ps.ip_restricted) {
      uint32_t spa;
      std::memcpy(&spa, p + off + 14, 4);
      if (!v4_allowed(ps, rte_be_to_cpu_32(spa))) return false;
    }
    return true;
  }
  if (!ps.ip_restricted) return true;
  if (type == kEtherIpv4) {
    if (len < off + 20) return false;
    uint32_t src;
    std::memcpy(&src, p + off + 12, 4);
    return v4_allowed(ps, rte_be_to_cpu_32(src));
  }
  if (type == kEtherIpv6) {
    if (len < off + 40) return false;
    if (!v6_allowed(ps, p + off + 8)) return false;
    // A neighbor advertisement claims its target: it must be the guest's too. (Only when
    // ICMPv6 follows the fixed header directly; NA carries no extension headers.)
    if (p[off + 6] == kProtoIcmpv6 && len >= off + 40 + 24 && p[off + 40] == kNeighborAdvertisement)
      return v6_allowed(ps, p + off + 40 + 8);
    return true;
  }
  return true;
}

}  // namespace vsw::dp
