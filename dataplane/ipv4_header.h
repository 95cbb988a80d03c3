// IPv4 header arithmetic the router does per packet (the miss path and the routed cache hit).
#pragma once

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

namespace vsw::dp {

// TTL - 1 and the checksum with it (RFC 1624): the TTL is the high byte of its 16-bit word,
// so the one's-complement sum drops by 0x0100 and the checksum rises by as much.
inline void decrement_ttl(rte_ipv4_hdr* ip) {
  --ip->time_to_live;
  uint32_t c = uint32_t{rte_be_to_cpu_16(ip->hdr_checksum)} + 0x0100;
  c = (c & 0xffff) + (c >> 16);
  ip->hdr_checksum = rte_cpu_to_be_16(static_cast<uint16_t>(c));
}

// RFC 1812 5.2.2: a router verifies the IPv4 header checksum and drops the packet when it is
// wrong (forwarding it with a recomputed-looking TTL change would carry the corruption on).
// A device that checked it already says so in ol_flags; otherwise sum the header: a right
// one sums to 0xffff. `ihl` is within the frame (the caller checked).
// The usual 20-byte header is summed as two 8-byte and one 4-byte word with end-around
// carries (the one's-complement sum does not depend on byte order): the whole check costs
// the routed cache hit ~4 cycles (bench/README.md); rte_raw_cksum's general loop is kept for
// headers with options.
inline bool ipv4_checksum_ok(const rte_mbuf* m, const void* ip, uint32_t ihl) {
  const uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD) return true;
  if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD) return false;
  if (unlikely(ihl != sizeof(rte_ipv4_hdr))) return rte_raw_cksum(ip, ihl) == 0xffff;
  uint64_t a, b;
  uint32_t c;
  std::memcpy(&a, ip, 8);
  std::memcpy(&b, static_cast<const uint8_t*>(ip) + 8, 8);
  std::memcpy(&c, static_cast<const uint8_t*>(ip) + 16, 4);
  uint64_t sum = a + b;
  sum += sum < a;
  const uint64_t with_c = sum + c;
  sum = with_c + (with_c < sum);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

}  // namespace vsw::dp
