// vsw-loopgen: the guest side of the port-to-port benchmark, a closed-loop generator with
// many flows. testpmd 22.11's io mode keeps packets circulating but varies at most 256 IPv4
// sources (--txonly-multi-flow); this does the same loop and gives every packet it forwards
// the next of N flows.
//
//   vsw-loopgen [EAL options with exactly two ports] -- [--flows N] [--size BYTES]
//               [--prime PACKETS] [--mac0 MAC --mac1 MAC]
//               [--ip0 ADDR/LEN --gw0 ADDR --ip1 ADDR/LEN --gw1 ADDR]
//
// Port 0 and port 1 (two net_virtio_user vdevs, say) face the switch. Each is primed with
// PACKETS UDP/IPv4 frames of BYTES bytes (FCS excluded) from its own MAC to the other's; a
// packet received on one port is sent out of the other, so each direction keeps its MACs
// (an L2 learning switch sees every source on one port) and a fixed number of packets
// circulates: nothing is dropped by design. Before a packet leaves, its IPv4 source address
// (10.X.Y.Z from 10.0.0.1 up) and UDP source port become those of the port's next flow,
// cycling through N; the IPv4 checksum is updated incrementally (RFC 1624).
//
// With --ip0/--gw0/--ip1/--gw1 (L3 mode, loop_gen_l3.h) each port is a host on its own
// subnet behind a router: it resolves its gateway with ARP before priming (and fails after
// 10 s without an answer), answers ARP for its address, and sends UDP from its address to the
// other port's via its gateway's MAC. A packet received on one port leaves by the other with
// that port's MACs and the TTL restored; flows vary the UDP ports only. Received packets must
// show the router's TTL decrement; anything else is counted as bad.
//
// Output (stdout, line-buffered): "ready" once primed, then once a second
// "stats SECONDS RX0 RX1 TX0 TX1 DROP", cumulative packet counts; DROP counts packets the
// switch side did not take (the loop loses them). In L3 mode the line goes on with
// "BAD ARP": packets received that were not the loop's (wrong TTL, addresses or protocol;
// not counted in RX) and ARP requests answered; RX counts loop packets only. At exit a
// line "l3 bad_ttl N bad_addr N other N arp_answered N arp_ignored N" (L3 mode).
// SIGINT/SIGTERM end it cleanly.
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "loop_gen_l3.h"

namespace {

using vsw::loopgen::L3Config;
using vsw::loopgen::L3Counters;

constexpr uint16_t kBurst = 32;
constexpr uint16_t kRingSize = 1024;
constexpr uint32_t kPoolSize = 16383;
constexpr uint32_t kArpTimeoutMs = 10000;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Options {
  uint32_t flows = 1;
  uint32_t size = 64;
  uint32_t prime = 256;
  rte_ether_addr mac[2] = {{{0x02, 0, 0, 0, 0, 0x0a}}, {{0x02, 0, 0, 0, 0, 0x0b}}};
  L3Config l3;
};

bool parse_mac(const char* s, rte_ether_addr* out) {
  return rte_ether_unformat_addr(s, out) == 0;
}

bool parse_options(int argc, char** argv, Options* o) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (v == nullptr) return false;
    if (a == "--flows") {
      o->flows = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--size") {
      o->size = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--prime") {
      o->prime = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--mac0") {
      if (!parse_mac(v, &o->mac[0])) return false;
    } else if (a == "--mac1") {
      if (!parse_mac(v, &o->mac[1])) return false;
    } else if (a == "--ip0" || a == "--ip1") {
      const int p = a[4] - '0';
      if (!vsw::loopgen::parse_ipv4(v, &o->l3.ip[p], &o->l3.prefix_len[p])) return false;
      o->l3.enabled = true;
    } else if (a == "--gw0" || a == "--gw1") {
      if (!vsw::loopgen::parse_ipv4(v, &o->l3.gw[a[4] - '0'], nullptr)) return false;
      o->l3.enabled = true;
    } else {
      return false;
    }
    ++i;
  }
  if (o->l3.enabled) {
    if (const char* why = vsw::loopgen::check_config(o->l3)) {
      std::fprintf(stderr, "vsw-loopgen: %s\n", why);
      return false;
    }
    o->l3.mac[0] = o->mac[0];
    o->l3.mac[1] = o->mac[1];
  }
  constexpr uint32_t kMinSize = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
  return o->flows >= 1 && o->flows <= (1u << 24) && o->size >= kMinSize && o->size <= 1518 &&
         o->prime >= 1 && o->prime <= 4096;
}

constexpr uint32_t kSrcBase = RTE_IPV4(10, 0, 0, 1);
constexpr uint32_t kDst = RTE_IPV4(10, 255, 0, 1);

// One port's flow cycle: the next packet out of the port gets flow `next`.
struct FlowCycle {
  uint32_t next = 0;
  uint32_t flows = 1;
};

// Gives the packet flow `f`: source address kSrcBase + f, UDP source port 1024 + f % 60000.
// The IPv4 checksum is adjusted for the changed address words (RFC 1624: HC' = ~(~HC + ~m +
// m')), so the packet stays valid; the UDP checksum is 0 (none, allowed for IPv4).
inline void set_flow(rte_mbuf* m, uint32_t f) {
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  uint32_t old_src = rte_be_to_cpu_32(ip->src_addr);
  uint32_t new_src = kSrcBase + f;
  uint32_t sum = static_cast<uint16_t>(~rte_be_to_cpu_16(ip->hdr_checksum));
  sum += static_cast<uint16_t>(~(old_src >> 16)) + static_cast<uint16_t>(~old_src);
  sum += (new_src >> 16) + (new_src & 0xffff);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  ip->src_addr = rte_cpu_to_be_32(new_src);
  ip->hdr_checksum = rte_cpu_to_be_16(static_cast<uint16_t>(~sum));
  udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + f % 60000));
}

rte_mbuf* make_packet(rte_mempool* pool, const Options& o, int port) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(o.size));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memset(data, 0, o.size);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  rte_ether_addr_copy(&o.mac[port], &eth->src_addr);
  rte_ether_addr_copy(&o.mac[1 - port], &eth->dst_addr);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(o.size - sizeof(rte_ether_hdr)));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(kSrcBase);
  ip->dst_addr = rte_cpu_to_be_32(kDst + static_cast<uint32_t>(port));
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(1024);
  udp->dst_port = rte_cpu_to_be_16(5001);
  udp->dgram_len = rte_cpu_to_be_16(
      static_cast<uint16_t>(o.size - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr)));
  return m;
}

int setup_port(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, kRingSize, rte_socket_id(), nullptr, pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, kRingSize, rte_socket_id(), nullptr);
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  int eal = rte_eal_init(argc, argv);
  if (eal < 0) {
    std::fprintf(stderr, "vsw-loopgen: EAL init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  Options o;
  if (!parse_options(argc - eal - 1, argv + eal + 1, &o)) {
    std::fprintf(stderr,
                 "usage: vsw-loopgen [EAL options, two ports] -- [--flows N (1..2^24)] "
                 "[--size BYTES (46..1518)] [--prime PACKETS (1..4096)] [--mac0 MAC] "
                 "[--mac1 MAC] [--ip0 ADDR/LEN --gw0 ADDR --ip1 ADDR/LEN --gw1 ADDR]\n");
    rte_eal_cleanup();
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (rte_eth_dev_count_avail() != 2) {
    std::fprintf(stderr, "vsw-loopgen: want exactly two ports, have %u\n",
                 rte_eth_dev_count_avail());
    rte_eal_cleanup();
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("loopgen", kPoolSize, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  int rc = pool == nullptr ? -rte_errno : 0;
  for (uint16_t p = 0; p < 2 && rc == 0; ++p) rc = setup_port(p, pool);
  if (rc != 0) {
    std::fprintf(stderr, "vsw-loopgen: port set-up failed: %s\n", rte_strerror(-rc));
    rte_eal_cleanup();
    return 1;
  }
  // Wait for both links (the switch connects when it is ready).
  for (uint16_t p = 0; p < 2 && !g_stop; ++p) {
    rte_eth_link link{};
    while (!g_stop && (rte_eth_link_get_nowait(p, &link) != 0 || !link.link_status)) {
      rte_delay_ms(10);
    }
  }
  L3Config& l3 = o.l3;
  L3Counters l3c;
  if (l3.enabled && !g_stop && !vsw::loopgen::resolve_gateways(&l3, pool, kArpTimeoutMs, &g_stop)) {
    if (!g_stop) {
      std::fprintf(stderr, "vsw-loopgen: no ARP reply from gateway(s) within %u ms\n",
                   kArpTimeoutMs);
    }
    g_stop = 1;
    rc = 1;
  }
  FlowCycle cycle[2];
  uint64_t rx[2] = {0, 0}, tx[2] = {0, 0}, drop = 0;
  // Prime: each port sends `prime` packets, flows 0.. in turn, retrying until taken.
  for (uint16_t p = 0; p < 2 && !g_stop; ++p) {
    cycle[p].flows = o.flows;
    for (uint32_t i = 0; i < o.prime && !g_stop;) {
      rte_mbuf* m = make_packet(pool, o, p);
      if (m == nullptr) {
        std::fprintf(stderr, "vsw-loopgen: out of mbufs while priming\n");
        g_stop = 1;
        break;
      }
      if (l3.enabled) {
        vsw::loopgen::init_packet(l3, p, m);
        vsw::loopgen::set_flow(m, p, cycle[p].next);
      } else {
        set_flow(m, cycle[p].next);
      }
      if (++cycle[p].next == o.flows) cycle[p].next = 0;
      while (!g_stop && rte_eth_tx_burst(p, 0, &m, 1) == 0) {
      }
      ++tx[p];
      ++i;
    }
  }
  if (!g_stop) std::printf("ready\n");
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  uint64_t next_report = start + hz;
  rte_mbuf* bufs[kBurst];
  while (!g_stop) {
    for (uint16_t p = 0; p < 2; ++p) {
      uint16_t n = rte_eth_rx_burst(p, 0, bufs, kBurst);
      if (n == 0) continue;
      uint16_t out = 1 - p;
      FlowCycle& c = cycle[out];
      if (l3.enabled) {
        n = vsw::loopgen::classify_rx(l3, p, bufs, n, &l3c);
        rx[p] += n;
        for (uint16_t i = 0; i < n; ++i) {
          vsw::loopgen::rewrite_for(l3, out, bufs[i]);
          if (c.flows > 1) {
            vsw::loopgen::set_flow(bufs[i], out, c.next);
            if (++c.next == c.flows) c.next = 0;
          }
        }
        if (n == 0) continue;
      } else {
        rx[p] += n;
        for (uint16_t i = 0; c.flows > 1 && i < n; ++i) {
          set_flow(bufs[i], c.next);
          if (++c.next == c.flows) c.next = 0;
        }
      }
      uint16_t sent = rte_eth_tx_burst(out, 0, bufs, n);
      tx[out] += sent;
      if (sent < n) {
        drop += n - sent;
        rte_pktmbuf_free_bulk(bufs + sent, n - sent);
      }
    }
    uint64_t now = rte_rdtsc();
    if (now >= next_report) {
      next_report += hz;
      std::printf("stats %.3f %lu %lu %lu %lu %lu", static_cast<double>(now - start) / hz, rx[0],
                  rx[1], tx[0], tx[1], drop);
      if (l3.enabled) std::printf(" %lu %lu", l3c.bad(), l3c.arp_answered);
      std::printf("\n");
    }
  }
  if (l3.enabled) {
    std::printf("l3 bad_ttl %lu bad_addr %lu other %lu arp_answered %lu arp_ignored %lu\n",
                l3c.bad_ttl, l3c.bad_addr, l3c.other, l3c.arp_answered, l3c.arp_ignored);
  }
  for (uint16_t p = 0; p < 2; ++p) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return rc;
}
