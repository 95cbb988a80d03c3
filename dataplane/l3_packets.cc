#include "l3_packets.h"

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

namespace vsw::dp {

namespace {

using flow::IpAddr;

constexpr uint8_t kNs = 135, kNa = 136;
constexpr uint8_t kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
// RFC 4443: an ICMPv6 error carries as much of the packet as fits in the minimum MTU.
constexpr uint32_t kIcmp6ErrorMax = 1280;
// RFC 1812 4.3.2.3: at most 576 bytes for an ICMP error (we quote the header and 8 bytes
// more, which is what every receiver needs to find its socket; Linux quotes more).
constexpr uint32_t kIcmpQuote = 8;

uint16_t checksum(const void* p, size_t len) {
  const uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(p, len));
  return c;
}

uint16_t icmp6_checksum(const rte_ipv6_hdr* ip, const uint8_t* l4, uint32_t len) {
  uint32_t sum = __rte_raw_cksum(ip->src_addr, 32, 0);
  const uint32_t be_len = rte_cpu_to_be_32(len);
  const uint32_t be_nh = rte_cpu_to_be_32(IPPROTO_ICMPV6);
  sum = __rte_raw_cksum(&be_len, 4, sum);
  sum = __rte_raw_cksum(&be_nh, 4, sum);
  sum = __rte_raw_cksum(l4, len, sum);
  return static_cast<uint16_t>(~__rte_raw_cksum_reduce(sum));
}

uint8_t* start(rte_mempool* pool, rte_mbuf** m, uint32_t len) {
  *m = rte_pktmbuf_alloc(pool);
  if (*m == nullptr) return nullptr;
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(*m, static_cast<uint16_t>(len)));
  if (p == nullptr) {
    rte_pktmbuf_free(*m);
    *m = nullptr;
    return nullptr;
  }
  std::memset(p, 0, len);
  return p;
}

void put_eth(uint8_t* p, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
  std::memcpy(p, dst, 6);
  std::memcpy(p + 6, src, 6);
  const rte_be16_t t = rte_cpu_to_be_16(type);
  std::memcpy(p + 12, &t, 2);
}

void put_ipv6(rte_ipv6_hdr* ip, const IpAddr& src, const IpAddr& dst, uint16_t payload,
              uint8_t hop_limit) {
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(payload);
  ip->proto = IPPROTO_ICMPV6;
  ip->hop_limits = hop_limit;
  std::memcpy(ip->src_addr, src.bytes, 16);
  std::memcpy(ip->dst_addr, dst.bytes, 16);
}

// An ND message: ICMPv6 header (4), reserved/flags (4), target (16), one link-layer option
// (8): 32 bytes.
rte_mbuf* build_nd(rte_mempool* pool, uint8_t type, const uint8_t eth_dst[6],
                   const uint8_t src_mac[6], const IpAddr& src, const IpAddr& dst,
                   const IpAddr& target, uint32_t flags) {
  constexpr uint32_t kNdLen = 32;
  rte_mbuf* m;
  uint8_t* p = start(pool, &m, RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + kNdLen);
  if (p == nullptr) return nullptr;
  put_eth(p, eth_dst, src_mac, RTE_ETHER_TYPE_IPV6);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(p + RTE_ETHER_HDR_LEN);
  put_ipv6(ip, src, dst, kNdLen, 255);
  uint8_t* nd = p + RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr);
  nd[0] = type;
  const uint32_t be_flags = rte_cpu_to_be_32(flags);
  std::memcpy(nd + 4, &be_flags, 4);
  std::memcpy(nd + 8, target.bytes, 16);
  nd[24] = type == kNs ? 1 : 2;  // source / target link-layer address
  nd[25] = 1;                    // in units of 8 bytes
  std::memcpy(nd + 26, src_mac, 6);
  const uint16_t c = icmp6_checksum(ip, nd, kNdLen);
  std::memcpy(nd + 2, &c, 2);
  return m;
}

bool is_unicast_source_v4(uint32_t src) {
  return src != 0 && (src >> 28) != 0xe && src != 0xffffffffu;
}

}  // namespace

bool parse_arp(const rte_mbuf* m, uint16_t l2_len, ArpInfo* out) {
  if (rte_pktmbuf_data_len(m) < l2_len + sizeof(rte_arp_hdr)) return false;
  const auto* a = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, l2_len);
  if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
      a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || a->arp_hlen != 6 ||
      a->arp_plen != 4)
    return false;
  out->op = rte_be_to_cpu_16(a->arp_opcode);
  std::memcpy(out->sender_mac, a->arp_data.arp_sha.addr_bytes, 6);
  std::memcpy(out->target_mac, a->arp_data.arp_tha.addr_bytes, 6);
  uint32_t sip, tip;
  std::memcpy(&sip, &a->arp_data.arp_sip, 4);
  std::memcpy(&tip, &a->arp_data.arp_tip, 4);
  out->sender_ip = IpAddr::v4(rte_be_to_cpu_32(sip));
  out->target_ip = IpAddr::v4(rte_be_to_cpu_32(tip));
  return out->op == RTE_ARP_OP_REQUEST || out->op == RTE_ARP_OP_REPLY;
}

rte_mbuf* build_arp(rte_mempool* pool, uint16_t op, const uint8_t eth_dst[6],
                    const uint8_t sender_mac[6], const IpAddr& sender_ip,
                    const uint8_t target_mac[6], const IpAddr& target_ip) {
  rte_mbuf* m;
  // Padded to the Ethernet minimum (60 bytes without the FCS).
  uint8_t* p = start(pool, &m, 60);
  if (p == nullptr) return nullptr;
  put_eth(p, eth_dst, sender_mac, RTE_ETHER_TYPE_ARP);
  auto* a = reinterpret_cast<rte_arp_hdr*>(p + RTE_ETHER_HDR_LEN);
  a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  a->arp_hlen = 6;
  a->arp_plen = 4;
  a->arp_opcode = rte_cpu_to_be_16(op);
  std::memcpy(a->arp_data.arp_sha.addr_bytes, sender_mac, 6);
  std::memcpy(a->arp_data.arp_tha.addr_bytes, target_mac, 6);
  const uint32_t sip = rte_cpu_to_be_32(sender_ip.v4_host());
  const uint32_t tip = rte_cpu_to_be_32(target_ip.v4_host());
  std::memcpy(&a->arp_data.arp_sip, &sip, 4);
  std::memcpy(&a->arp_data.arp_tip, &tip, 4);
  return m;
}

bool parse_nd(const rte_mbuf* m, uint16_t l2_len, NdInfo* out) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  if (len < l2_len + sizeof(rte_ipv6_hdr) + 24u) return false;
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(p + l2_len);
  const uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
  if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 || ip->proto != IPPROTO_ICMPV6 ||
      ip->hop_limits != 255 || payload < 24 || l2_len + sizeof(rte_ipv6_hdr) + payload > len)
    return false;
  const uint8_t* nd = p + l2_len + sizeof(rte_ipv6_hdr);
  if ((nd[0] != kNs && nd[0] != kNa) || nd[1] != 0) return false;
  out->type = nd[0];
  out->src = IpAddr::v6(ip->src_addr);
  out->dst = IpAddr::v6(ip->dst_addr);
  out->target = IpAddr::v6(nd + 8);
  out->solicited = (nd[4] & 0x40) != 0;
  out->override_flag = (nd[4] & 0x20) != 0;
  std::memcpy(out->eth_src, p + 6, 6);
  // Options: type, length in 8-byte units; a zero length is malformed (RFC 4861 4.6).
  for (uint32_t off = 24; off + 8 <= payload;) {
    const uint8_t type = nd[off], units = nd[off + 1];
    if (units == 0) return false;
    if ((type == 1 && out->type == kNs) || (type == 2 && out->type == kNa)) {
      out->has_lladdr = true;
      std::memcpy(out->lladdr, nd + off + 2, 6);
    }
    off += units * 8u;
  }
  return true;
}

rte_mbuf* build_ns(rte_mempool* pool, const uint8_t src_mac[6], const IpAddr& src,
                   const IpAddr& target, const uint8_t* unicast_mac) {
  IpAddr dst = target;
  uint8_t eth_dst[6];
  if (unicast_mac != nullptr) {
    std::memcpy(eth_dst, unicast_mac, 6);
  } else {
    // ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX (RFC 4291 2.7.1, RFC 2464 7).
    const uint8_t solicited[16] = {0xff,
                                   0x02,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0,
                                   0x01,
                                   0xff,
                                   target.bytes[13],
                                   target.bytes[14],
                                   target.bytes[15]};
    dst = IpAddr::v6(solicited);
    const uint8_t mac[6] = {0x33, 0x33, 0xff, target.bytes[13], target.bytes[14], target.bytes[15]};
    std::memcpy(eth_dst, mac, 6);
  }
  return build_nd(pool, kNs, eth_dst, src_mac, src, dst, target, 0);
}

rte_mbuf* build_na(rte_mempool* pool, const uint8_t src_mac[6], const IpAddr& target,
                   const uint8_t dst_mac[6], const IpAddr& dst, bool solicited) {
  // Router, (solicited,) override.
  const uint32_t flags = 0x80000000u | (solicited ? 0x40000000u : 0) | 0x20000000u;
  return build_nd(pool, kNa, dst_mac, src_mac, target, dst, target, flags);
}

bool make_echo_reply(rte_mbuf* m, const uint8_t router_mac[6]) {
  const uint32_t len = rte_pktmbuf_data_len(m);
  auto* p = rte_pktmbuf_mtod(m, uint8_t*);
  rte_be16_t type;
  std::memcpy(&type, p + 12, 2);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    if (len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr)) return false;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + RTE_ETHER_HDR_LEN);
    const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
    const uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if (ip->next_proto_id != IPPROTO_ICMP || total < ihl + sizeof(rte_icmp_hdr) ||
        RTE_ETHER_HDR_LEN + total > len ||
        (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
      return false;
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(p + RTE_ETHER_HDR_LEN + ihl);
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) return false;
    const rte_be32_t from = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = from;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = checksum(icmp, total - ihl);
  } else if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + 8) return false;
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(p + RTE_ETHER_HDR_LEN);
    const uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
    uint8_t* icmp = p + RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr);
    if (ip->proto != IPPROTO_ICMPV6 || payload < 8 ||
        RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + payload > len || icmp[0] != kIcmp6EchoRequest ||
        icmp[1] != 0)
      return false;
    uint8_t tmp[16];
    std::memcpy(tmp, ip->src_addr, 16);
    std::memcpy(ip->src_addr, ip->dst_addr, 16);
    std::memcpy(ip->dst_addr, tmp, 16);
    ip->hop_limits = 64;
    icmp[0] = kIcmp6EchoReply;
    icmp[2] = icmp[3] = 0;
    const uint16_t c = icmp6_checksum(ip, icmp, payload);
    std::memcpy(icmp + 2, &c, 2);
  } else {
    return false;
  }
  std::memcpy(p, p + 6, 6);
  std::memcpy(p + 6, router_mac, 6);
  return true;
}

rte_mbuf* build_icmp_error(rte_mempool* pool, const rte_mbuf* orig, const uint8_t router_mac[6],
                           const IpAddr& src, uint8_t type, uint8_t code) {
  const uint32_t len = rte_pktmbuf_data_len(orig);
  const auto* o = rte_pktmbuf_mtod(orig, const uint8_t*);
  rte_be16_t ether_type;
  std::memcpy(&ether_type, o + 12, 2);
  const uint8_t* eth_src = o + 6;
  if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) && src.is_v4()) {
    if (len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr)) return nullptr;
    const auto* oip = reinterpret_cast<const rte_ipv4_hdr*>(o + RTE_ETHER_HDR_LEN);
    const uint32_t ihl = (oip->version_ihl & 0x0f) * 4u;
    if (RTE_ETHER_HDR_LEN + ihl > len || !is_unicast_source_v4(rte_be_to_cpu_32(oip->src_addr)))
      return nullptr;
    if (rte_be_to_cpu_16(oip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) return nullptr;
    if (oip->next_proto_id == IPPROTO_ICMP) {
      // Never an error about an error: only echo requests/replies may trigger one.
      if (RTE_ETHER_HDR_LEN + ihl + 1 > len) return nullptr;
      const uint8_t t = o[RTE_ETHER_HDR_LEN + ihl];
      if (t != RTE_IP_ICMP_ECHO_REQUEST && t != RTE_IP_ICMP_ECHO_REPLY) return nullptr;
    }
    const uint32_t quote = std::min<uint32_t>(len - RTE_ETHER_HDR_LEN, ihl + kIcmpQuote);
    const uint32_t icmp_len = sizeof(rte_icmp_hdr) + quote;
    rte_mbuf* m;
    uint8_t* p = start(pool, &m, RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr) + icmp_len);
    if (p == nullptr) return nullptr;
    put_eth(p, eth_src, router_mac, RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + RTE_ETHER_HDR_LEN);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_len));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = rte_cpu_to_be_32(src.v4_host());
    ip->dst_addr = oip->src_addr;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* icmp = p + RTE_ETHER_HDR_LEN + sizeof(rte_ipv4_hdr);
    icmp[0] = type;
    icmp[1] = code;
    std::memcpy(icmp + sizeof(rte_icmp_hdr), oip, quote);
    const uint16_t c = checksum(icmp, icmp_len);
    std::memcpy(icmp + 2, &c, 2);
    return m;
  }
  if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) && !src.is_v4()) {
    if (len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr)) return nullptr;
    const auto* oip = reinterpret_cast<const rte_ipv6_hdr*>(o + RTE_ETHER_HDR_LEN);
    const uint8_t* osrc = oip->src_addr;
    static const uint8_t zero[16] = {};
    if (osrc[0] == 0xff || std::memcmp(osrc, zero, 16) == 0) return nullptr;
    if (oip->proto == IPPROTO_ICMPV6) {
      if (len < RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + 1) return nullptr;
      if (o[RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr)] < 128) return nullptr;  // an error
    }
    const uint32_t quote =
        std::min<uint32_t>(len - RTE_ETHER_HDR_LEN, kIcmp6ErrorMax - sizeof(rte_ipv6_hdr) - 8);
    const uint32_t icmp_len = 8 + quote;
    rte_mbuf* m;
    uint8_t* p = start(pool, &m, RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr) + icmp_len);
    if (p == nullptr) return nullptr;
    put_eth(p, eth_src, router_mac, RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(p + RTE_ETHER_HDR_LEN);
    put_ipv6(ip, src, IpAddr::v6(osrc), static_cast<uint16_t>(icmp_len), 64);
    uint8_t* icmp = p + RTE_ETHER_HDR_LEN + sizeof(rte_ipv6_hdr);
    icmp[0] = type;
    icmp[1] = code;
    std::memcpy(icmp + 8, oip, quote);
    const uint16_t c = icmp6_checksum(ip, icmp, icmp_len);
    std::memcpy(icmp + 2, &c, 2);
    return m;
  }
  return nullptr;
}

}  // namespace vsw::dp
