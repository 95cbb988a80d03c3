// vsw-loopgen's L3 mode: addresses, ARP, and the receive-side checks (loop_gen_l3.h).
#include "loop_gen_l3.h"

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace vsw::loopgen {
namespace {

constexpr uint16_t kBurst = 32;

uint32_t mask_of(uint8_t len) {
  return len == 0 ? 0 : ~uint32_t{0} << (32 - len);
}

// Adds the change of one 16-bit word of a header to its Internet checksum (RFC 1624:
// HC' = ~(~HC + ~m + m')); all values in host byte order.
uint16_t csum_update(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~hc) + static_cast<uint16_t>(~old_word) + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Builds an ARP packet (60 bytes, the Ethernet minimum without FCS).
rte_mbuf* make_arp(rte_mempool* pool, uint16_t op, const rte_ether_addr& eth_dst,
                   const rte_ether_addr& sha, uint32_t sip, const rte_ether_addr& tha,
                   uint32_t tip) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(m, 60);
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memset(data, 0, 60);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  rte_ether_addr_copy(&eth_dst, &eth->dst_addr);
  rte_ether_addr_copy(&sha, &eth->src_addr);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  a->arp_hlen = RTE_ETHER_ADDR_LEN;
  a->arp_plen = 4;
  a->arp_opcode = rte_cpu_to_be_16(op);
  rte_ether_addr_copy(&sha, &a->arp_data.arp_sha);
  a->arp_data.arp_sip = rte_cpu_to_be_32(sip);
  rte_ether_addr_copy(&tha, &a->arp_data.arp_tha);
  a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
  return m;
}

// Handles an ARP packet received on `port`: a request for ip[port] is turned into the reply
// in place and sent back out of `port`; a reply from gw[port] fills `*gw_mac` unless it is
// null. Takes ownership of `m`.
void handle_arp(const L3Config& c, uint16_t port, rte_mbuf* m, rte_ether_addr* gw_mac,
                L3Counters* counters) {
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
    ++counters->other;
    rte_pktmbuf_free(m);
    return;
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  const uint16_t op = rte_be_to_cpu_16(a->arp_opcode);
  const uint32_t tip = rte_be_to_cpu_32(a->arp_data.arp_tip);
  const uint32_t sip = rte_be_to_cpu_32(a->arp_data.arp_sip);
  if (op == RTE_ARP_OP_REQUEST && tip == c.ip[port]) {
    const rte_ether_addr asker = a->arp_data.arp_sha;
    rte_ether_addr_copy(&asker, &eth->dst_addr);
    rte_ether_addr_copy(&c.mac[port], &eth->src_addr);
    a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    rte_ether_addr_copy(&asker, &a->arp_data.arp_tha);
    a->arp_data.arp_tip = rte_cpu_to_be_32(sip);
    rte_ether_addr_copy(&c.mac[port], &a->arp_data.arp_sha);
    a->arp_data.arp_sip = rte_cpu_to_be_32(c.ip[port]);
    if (rte_eth_tx_burst(port, 0, &m, 1) == 1) {
      ++counters->arp_answered;
    } else {
      rte_pktmbuf_free(m);  // the asker retries
    }
    return;
  }
  if (gw_mac != nullptr && op == RTE_ARP_OP_REPLY && sip == c.gw[port]) {
    rte_ether_addr_copy(&a->arp_data.arp_sha, gw_mac);
  } else {
    ++counters->arp_ignored;
  }
  rte_pktmbuf_free(m);
}

}  // namespace

bool parse_ipv4(const char* s, uint32_t* addr, uint8_t* len) {
  std::string text = s;
  std::string host = text;
  long plen = 32;
  const auto slash = text.find('/');
  if (slash != std::string::npos) {
    if (len == nullptr) return false;
    host = text.substr(0, slash);
    char* end = nullptr;
    plen = std::strtol(text.c_str() + slash + 1, &end, 10);
    if (*end != '\0' || end == text.c_str() + slash + 1 || plen < 1 || plen > 30) return false;
  } else if (len != nullptr) {
    return false;
  }
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) != 1) return false;
  *addr = ntohl(a.s_addr);
  if (len != nullptr) *len = static_cast<uint8_t>(plen);
  return true;
}

const char* check_config(const L3Config& c) {
  for (int p = 0; p < 2; ++p) {
    if (c.ip[p] == 0 || c.prefix_len[p] == 0 || c.gw[p] == 0) {
      return "L3 mode needs --ip0 ADDR/LEN --gw0 ADDR --ip1 ADDR/LEN --gw1 ADDR";
    }
    const uint32_t m = mask_of(c.prefix_len[p]);
    if ((c.gw[p] & m) != (c.ip[p] & m)) return "a gateway is outside its port's subnet";
    if (c.gw[p] == c.ip[p]) return "a gateway is its port's own address";
  }
  const uint32_t m = mask_of(c.prefix_len[0]);
  if ((c.ip[1] & m) == (c.ip[0] & m)) return "the two ports need different subnets";
  return nullptr;
}

bool resolve_gateways(L3Config* c, rte_mempool* pool, uint32_t timeout_ms,
                      const volatile int* stop) {
  static const rte_ether_addr kBroadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  static const rte_ether_addr kZero = {{0, 0, 0, 0, 0, 0}};
  bool have[2] = {false, false};
  L3Counters ignored;
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t deadline = rte_rdtsc() + hz * timeout_ms / 1000;
  uint64_t next_ask = 0;
  while (!*stop && !(have[0] && have[1]) && rte_rdtsc() < deadline) {
    if (rte_rdtsc() >= next_ask) {
      next_ask = rte_rdtsc() + hz / 10;
      for (uint16_t p = 0; p < 2; ++p) {
        if (have[p]) continue;
        rte_mbuf* m =
            make_arp(pool, RTE_ARP_OP_REQUEST, kBroadcast, c->mac[p], c->ip[p], kZero, c->gw[p]);
        if (m != nullptr && rte_eth_tx_burst(p, 0, &m, 1) == 0) rte_pktmbuf_free(m);
      }
    }
    rte_mbuf* bufs[kBurst];
    for (uint16_t p = 0; p < 2; ++p) {
      const uint16_t n = rte_eth_rx_burst(p, 0, bufs, kBurst);
      for (uint16_t i = 0; i < n; ++i) {
        auto* eth = rte_pktmbuf_mtod(bufs[i], rte_ether_hdr*);
        if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
          handle_arp(*c, p, bufs[i], &c->gw_mac[p], &ignored);
        } else {
          rte_pktmbuf_free(bufs[i]);
        }
      }
      if (!rte_is_zero_ether_addr(&c->gw_mac[p])) have[p] = true;
    }
    rte_delay_us_sleep(1000);
  }
  return have[0] && have[1];
}

void init_packet(const L3Config& c, int port, rte_mbuf* m) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  rte_ether_addr_copy(&c.mac[port], &eth->src_addr);
  rte_ether_addr_copy(&c.gw_mac[port], &eth->dst_addr);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->time_to_live = kTtl;
  ip->src_addr = rte_cpu_to_be_32(c.ip[port]);
  ip->dst_addr = rte_cpu_to_be_32(c.ip[1 - port]);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

uint16_t classify_rx(const L3Config& c, uint16_t port, rte_mbuf** bufs, uint16_t n,
                     L3Counters* counters) {
  constexpr uint32_t kMin = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
  const rte_be32_t want_src = rte_cpu_to_be_32(c.ip[1 - port]);
  const rte_be32_t want_dst = rte_cpu_to_be_32(c.ip[port]);
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = bufs[i];
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
        rte_pktmbuf_data_len(m) >= kMin) {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
      if (ip->src_addr != want_src || ip->dst_addr != want_dst ||
          ip->next_proto_id != IPPROTO_UDP || ip->version_ihl != RTE_IPV4_VHL_DEF ||
          !rte_is_same_ether_addr(&eth->dst_addr, &c.mac[port])) {
        ++counters->bad_addr;
      } else if (ip->time_to_live != kTtl - 1) {
        ++counters->bad_ttl;
      } else {
        bufs[kept++] = m;
        continue;
      }
    } else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
      handle_arp(c, port, m, nullptr, counters);
      continue;
    } else {
      ++counters->other;
    }
    rte_pktmbuf_free(m);
  }
  return kept;
}

void rewrite_for(const L3Config& c, int out, rte_mbuf* m) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  rte_ether_addr_copy(&c.gw_mac[out], &eth->dst_addr);
  rte_ether_addr_copy(&c.mac[out], &eth->src_addr);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  // TTL and protocol share a 16-bit word of the header.
  const uint16_t old_word = static_cast<uint16_t>(ip->time_to_live << 8 | ip->next_proto_id);
  ip->time_to_live = kTtl;
  const uint16_t new_word = static_cast<uint16_t>(kTtl << 8 | ip->next_proto_id);
  ip->hdr_checksum =
      rte_cpu_to_be_16(csum_update(rte_be_to_cpu_16(ip->hdr_checksum), old_word, new_word));
}

}  // namespace vsw::loopgen
