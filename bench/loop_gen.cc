// vsw-loopgen: the guest side of the port-to-port benchmark, a closed-loop generator with
// many flows. testpmd 22.11's io mode keeps packets circulating but varies at most 256 IPv4
// sources (--txonly-multi-flow); this does the same loop and gives every packet it forwards
// the next of N flows.
//
//   vsw-loopgen [EAL options with exactly two ports] -- [--flows N] [--size BYTES]
//               [--prime PACKETS] [--mac0 MAC --mac1 MAC]
//
// Port 0 and port 1 (two net_virtio_user vdevs, say) face the switch. Each is primed with
// PACKETS UDP/IPv4 frames of BYTES bytes (FCS excluded) from its own MAC to the other's; a
// packet received on one port is sent out of the other, so each direction keeps its MACs
// (an L2 learning switch sees every source on one port) and a fixed number of packets
// circulates: nothing is dropped by design. Before a packet leaves, its IPv4 source address
// (10.X.Y.Z from 10.0.0.1 up) and UDP source port become those of the port's next flow,
// cycling through N; the IPv4 checksum is updated incrementally (RFC 1624).
//
// Output (stdout, line-buffered): "ready" once primed, then once a second
// "stats SECONDS RX0 RX1 TX0 TX1 DROP", cumulative packet counts; DROP counts packets the
// switch side did not take (the loop loses them). SIGINT/SIGTERM end it cleanly.
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

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint16_t kRingSize = 1024;
constexpr uint32_t kPoolSize = 16383;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Options {
  uint32_t flows = 1;
  uint32_t size = 64;
  uint32_t prime = 256;
  rte_ether_addr mac[2] = {{{0x02, 0, 0, 0, 0, 0x0a}}, {{0x02, 0, 0, 0, 0, 0x0b}}};
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
    } else {
      return false;
    }
    ++i;
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
                 "[--mac1 MAC]\n");
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
      set_flow(m, cycle[p].next);
      if (++cycle[p].next == o.flows) cycle[p].next = 0;
      while (!g_stop && rte_eth_tx_burst(p, 0, &m, 1) == 0) {
      }
      ++tx[p];
      ++i;
    }
  }
  std::printf("ready\n");
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  uint64_t next_report = start + hz;
  rte_mbuf* bufs[kBurst];
  while (!g_stop) {
    for (uint16_t p = 0; p < 2; ++p) {
      uint16_t n = rte_eth_rx_burst(p, 0, bufs, kBurst);
      if (n == 0) continue;
      rx[p] += n;
      uint16_t out = 1 - p;
      FlowCycle& c = cycle[out];
      if (c.flows > 1) {
        for (uint16_t i = 0; i < n; ++i) {
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
      std::printf("stats %.3f %lu %lu %lu %lu %lu\n", static_cast<double>(now - start) / hz, rx[0],
                  rx[1], tx[0], tx[1], drop);
    }
  }
  for (uint16_t p = 0; p < 2; ++p) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return 0;
}
