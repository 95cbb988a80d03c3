// vsw-loopgen's L3 mode: each port is a host on its own IPv4 subnet behind a router, so the
// loop's packets cross L2 -> L3 -> L2 in the switch. See loop_gen.cc for the loop itself.
//
// Port p owns address ip[p] and sends, to the MAC of its gateway gw[p] (resolved with ARP
// before priming), UDP packets from ip[p] to ip[1-p]. It answers ARP requests for ip[p] (the
// router resolves the hosts and, later, probes them), at any time. A packet the loop receives
// on port p must be ip[1-p] -> ip[p], UDP, to port p's MAC, with the TTL one below what was
// sent (the router decremented it); anything else is counted as bad and freed.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <cstdint>

namespace vsw::loopgen {

// TTL of every packet the generator sends; a routed packet must arrive with kTtl - 1.
constexpr uint8_t kTtl = 64;

// The L3 side of both ports. `enabled` is false in the L2 mode.
struct L3Config {
  bool enabled = false;
  uint32_t ip[2] = {0, 0};  // host byte order
  uint8_t prefix_len[2] = {0, 0};
  uint32_t gw[2] = {0, 0};     // host byte order
  rte_ether_addr mac[2]{};     // the ports' own MACs
  rte_ether_addr gw_mac[2]{};  // filled by resolve_gateways()
};

// What the receive side found that was not a loop packet.
struct L3Counters {
  uint64_t bad_ttl = 0;   // IPv4 loop packet whose TTL is not kTtl - 1
  uint64_t bad_addr = 0;  // IPv4, but other addresses, MACs or protocol than the loop's
  uint64_t other = 0;     // neither IPv4 nor ARP, or truncated
  uint64_t arp_answered = 0;
  uint64_t arp_ignored = 0;  // ARP not for us (requests for other addresses, replies)

  uint64_t bad() const { return bad_ttl + bad_addr + other; }
};

// Parses "A.B.C.D/LEN" (`len` may be null for a plain address). Returns false on bad input.
bool parse_ipv4(const char* s, uint32_t* addr, uint8_t* len);

// Checks the configuration: both addresses, prefixes and gateways set, each gateway inside
// its port's subnet and not the port's own address. Returns an error message, or null.
const char* check_config(const L3Config& c);

// Sends ARP requests for gw[0] and gw[1] from their ports every 100 ms until both are
// answered or `timeout_ms` passes; answers ARP requests for our addresses meanwhile. Other
// packets received are freed. Returns true when both gateways' MACs are in c->gw_mac.
// Not thread safe (polls the ports' queue 0).
bool resolve_gateways(L3Config* c, rte_mempool* pool, uint32_t timeout_ms,
                      const volatile int* stop);

// Fills a new packet's headers for port `port` (MACs, addresses, TTL, IPv4 checksum); the
// UDP ports are set per flow by set_flow().
void init_packet(const L3Config& c, int port, rte_mbuf* m);

// Gives an L3 packet leaving port `port` flow `f`: UDP ports only (the addresses are the
// hosts', so the router resolves one neighbor per side however many flows there are). Port 0
// sends source port 1024 + f % 60000 to destination port 5001 + f / 60000; port 1 the
// reverse, so port 1's flow f is the reply of port 0's (one connection per flow for a
// stateful ACL).
inline void set_flow(rte_mbuf* m, int port, uint32_t f) {
  auto* udp =
      rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr));
  const rte_be16_t a = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + f % 60000));
  const rte_be16_t b = rte_cpu_to_be_16(static_cast<uint16_t>(5001 + f / 60000));
  udp->src_port = port == 0 ? a : b;
  udp->dst_port = port == 0 ? b : a;
}

// Receive side of the loop for a burst from port `port`: keeps the loop packets (checked as
// the header above says) at the front of `bufs` and returns their number; answers ARP
// requests for ip[port] out of `port` at once; counts and frees everything else.
uint16_t classify_rx(const L3Config& c, uint16_t port, rte_mbuf** bufs, uint16_t n,
                     L3Counters* counters);

// Readies a received loop packet to leave port `out` as that port's own packet: its MACs
// (own -> gateway) and the TTL back to kTtl, with the IPv4 checksum updated incrementally. A
// packet received on port 1 - out already carries ip[out] -> ip[1-out]: it came from there.
void rewrite_for(const L3Config& c, int out, rte_mbuf* m);

}  // namespace vsw::loopgen
