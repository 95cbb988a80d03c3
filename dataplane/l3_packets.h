// The router's own packets: ARP and ND parsing and building, echo replies, ICMP errors.
// Management thread only (they allocate). Every parser checks lengths before reading.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "ip_addr.h"

namespace vsw::dp {

struct ArpInfo {
  uint16_t op = 0;  // 1 request, 2 reply
  uint8_t sender_mac[6] = {};
  flow::IpAddr sender_ip;
  uint8_t target_mac[6] = {};
  flow::IpAddr target_ip;
};

// An Ethernet/IPv4 ARP packet starting at `l2_len`. Returns false for anything else.
bool parse_arp(const rte_mbuf* m, uint16_t l2_len, ArpInfo* out);

// An ARP packet in a new mbuf (untagged). `eth_dst` all ones for a broadcast request.
rte_mbuf* build_arp(rte_mempool* pool, uint16_t op, const uint8_t eth_dst[6],
                    const uint8_t sender_mac[6], const flow::IpAddr& sender_ip,
                    const uint8_t target_mac[6], const flow::IpAddr& target_ip);

struct NdInfo {
  uint8_t type = 0;  // 135 solicitation, 136 advertisement
  flow::IpAddr src, dst, target;
  bool has_lladdr = false;  // source (NS) or target (NA) link-layer address option
  uint8_t lladdr[6] = {};
  bool solicited = false, override_flag = false;
  uint8_t eth_src[6] = {};
};

// An IPv6 neighbor solicitation or advertisement starting at `l2_len` (hop limit 255, as
// RFC 4861 requires). Returns false for anything else.
bool parse_nd(const rte_mbuf* m, uint16_t l2_len, NdInfo* out);

// A neighbor solicitation for `target`: to its solicited-node multicast address, or unicast
// to `unicast_mac`/`target` (a probe) when `unicast_mac` is not null.
rte_mbuf* build_ns(rte_mempool* pool, const uint8_t src_mac[6], const flow::IpAddr& src,
                   const flow::IpAddr& target, const uint8_t* unicast_mac);

// A solicited (or unsolicited) advertisement of `target` with our MAC, to `dst`/`dst_mac`.
rte_mbuf* build_na(rte_mempool* pool, const uint8_t src_mac[6], const flow::IpAddr& target,
                   const uint8_t dst_mac[6], const flow::IpAddr& dst, bool solicited);

// Turns an ICMP/ICMPv6 echo request (untagged, at offset 14) into its reply in place, from
// `router_mac` back to the sender's MAC. Returns false when it is not an echo request.
bool make_echo_reply(rte_mbuf* m, const uint8_t router_mac[6]);

// An ICMP time exceeded (`type` 11/3, IPv6 3/1) or destination unreachable quoting the
// untagged packet `orig`, from `src` (the router's address) back to its sender at the
// frame's source MAC. Returns null when no error may be sent about `orig` (an ICMP error
// itself, a fragment after the first, a multicast/unspecified source).
rte_mbuf* build_icmp_error(rte_mempool* pool, const rte_mbuf* orig, const uint8_t router_mac[6],
                           const flow::IpAddr& src, uint8_t type, uint8_t code);

// The ICMP types used above.
inline constexpr uint8_t kIcmpUnreachable = 3, kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmp6Unreachable = 1, kIcmp6TimeExceeded = 3;

}  // namespace vsw::dp
