// The flow key: what the per-worker flow cache is keyed by, and the parser that builds it.
//
// The parser trusts nothing: every header is length-checked before it is read, and a frame
// that claims a header it does not carry is reported as malformed. Fast path: no allocation,
// no branches beyond the header checks, inline.
#pragma once

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

namespace vsw::flow {

// 32 bytes: Ethernet addresses, ingress port and VLAN, and the 5-tuple: IPv4 addresses, or
// for IPv6 each address folded to 32 bits (the full addresses sit in the cache entry's second
// line and are compared there for routed flows; an L2 decision does not depend on them).
struct alignas(32) FlowKey {
  uint8_t dst[6];
  uint8_t src[6];
  uint16_t in_port;
  uint16_t vlan;         // VLAN ID of the 802.1Q tag, 0 when untagged
  rte_be16_t ethertype;  // of the payload (after the tag)
  uint8_t l4_proto;
  uint8_t tagged;  // 1 when the frame carried an 802.1Q tag (VLAN 0 included)
  rte_be32_t src_ip;
  rte_be32_t dst_ip;
  rte_be16_t src_port;
  rte_be16_t dst_port;

  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};
static_assert(sizeof(FlowKey) == 32);

enum class ParseResult : uint8_t { kOk, kMalformed };

// Offsets the stages need after parsing.
struct ParsedFrame {
  uint16_t l2_len;  // Ethernet header plus the VLAN tag, if any
  bool tagged;
};

inline bool is_multicast(const uint8_t mac[6]) {
  return (mac[0] & 1) != 0;
}

// Fills `key` from `m` received on `in_port`. The key is written as four 8-byte words, and
// the cache hashes and compares it as such: building it from byte and half-word stores made
// the hash's 8-byte loads stall on store forwarding (measured: a quarter of the L2 stage's
// cycles). Field layout as in FlowKey, little-endian.
__attribute__((always_inline)) inline ParseResult parse_frame(const rte_mbuf* m, uint16_t in_port,
                                                              FlowKey& key, ParsedFrame& out) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (len < RTE_ETHER_HDR_LEN) return ParseResult::kMalformed;
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  uint64_t w0, w1;
  std::memcpy(&w0, p, 8);  // dst[0..5], src[0..1]
  if (likely(len >= 16)) {
    std::memcpy(&w1, p + 8, 8);  // src[2..5], then the type (replaced below)
  } else {
    w1 = 0;
    std::memcpy(&w1, p + 8, 4);
  }
  rte_be16_t type;
  std::memcpy(&type, p + 12, 2);
  uint32_t off = RTE_ETHER_HDR_LEN;
  uint16_t vlan = 0;
  out.tagged = false;
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
    if (len < off + 4) return ParseResult::kMalformed;
    rte_be16_t tci;
    std::memcpy(&tci, p + off, 2);
    std::memcpy(&type, p + off + 2, 2);
    vlan = rte_be_to_cpu_16(tci) & 0xfff;
    off += 4;
    out.tagged = true;
    // Two 802.1Q tags are malformed, not a frame to forward: the bridge would pop the outer
    // tag and emit a frame whose new outer tag may be cut short, one no parser accepts. With
    // this rule the set of accepted frames is closed under pushing and popping one tag.
    if (unlikely(type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN))) return ParseResult::kMalformed;
  }
  out.l2_len = static_cast<uint16_t>(off);
  w1 = (w1 & 0xffffffffull) | (uint64_t{in_port} << 32) | (uint64_t{vlan} << 48);
  uint64_t w2 = uint64_t{type} | (uint64_t{out.tagged} << 24);  // l4_proto 0, src_ip 0
  uint64_t w3 = 0;
  auto store = [&] {
    uint64_t w[4] = {w0, w1, w2, w3};
    std::memcpy(&key, w, sizeof(w));
  };
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (len < off + 40) return ParseResult::kMalformed;
    const uint8_t* ip6 = p + off;
    if ((ip6[0] >> 4) != 6) return ParseResult::kMalformed;
    uint64_t a[4];
    std::memcpy(a, ip6 + 8, 32);
    const uint64_t src = a[0] ^ a[1], dst = a[2] ^ a[3];
    const uint8_t proto = ip6[6];
    w2 |= (uint64_t{proto} << 16) | (uint64_t{static_cast<uint32_t>(src ^ (src >> 32))} << 32);
    w3 = static_cast<uint32_t>(dst ^ (dst >> 32));
    if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && len >= off + 44) {
      uint32_t ports;
      std::memcpy(&ports, ip6 + 40, 4);
      w3 |= uint64_t{ports} << 32;
    }
    store();
    return ParseResult::kOk;
  }
  if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    store();
    return ParseResult::kOk;
  }
  if (len < off + sizeof(rte_ipv4_hdr)) return ParseResult::kMalformed;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p + off);
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || len < off + ihl)
    return ParseResult::kMalformed;
  uint32_t src_ip, dst_ip;
  std::memcpy(&src_ip, &ip->src_addr, 4);
  std::memcpy(&dst_ip, &ip->dst_addr, 4);
  const uint8_t proto = ip->next_proto_id;
  w2 |= (uint64_t{proto} << 16) | (uint64_t{src_ip} << 32);
  w3 = dst_ip;
  // Ports only on first fragments that carry them; later fragments key on addresses.
  const bool first_fragment =
      (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) == 0;
  if (first_fragment && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && len >= off + ihl + 4) {
    uint32_t ports;
    std::memcpy(&ports, p + off + ihl, 4);
    w3 |= uint64_t{ports} << 32;
  }
  store();
  return ParseResult::kOk;
}

}  // namespace vsw::flow
