// Fuzz target: the forwarding pipeline, frames in, decisions out (dataplane/worker.h
// forward_burst, with the real L2 and L3 stages and the router's management side).
//
// EAL starts once per process (--no-huge, its own file prefix, no PCI). The forwarding state
// is the router pipeline tests' (tests/pipeline): three ring ports, two bridges (one with a
// VLAN 10 attachment), a router interface on each, routes (a default, an ECMP pair, IPv6),
// and three resolved hosts:
//
//   A (f1, 10.1.0.10)            -- br1 [r1 10.1.0.1/24 2001:db8:1::1/64]
//   B (f2 VLAN 10, 10.1.0.11)    --/
//   G (f3, 10.2.0.254 2001:db8:2::fe) -- br2 [r2 10.2.0.1/24 2001:db8:2::1/64] -- f2 untagged
//
// Input: up to kMaxFrames records, each a control byte (bits 0-1: ingress port f1/f2/f3;
// bit 2: keep the IPv4 header checksum as given, else it is made right; bit 3: trace it
// live, the record must agree with what happened; bit 4: `trace packet` it first), a 16-bit
// big-endian length and that many bytes of frame (fewer when the input ends first).
// Each frame is forwarded alone, the management side handles what was punted, and what
// comes out of every port is collected. Invariants, per frame:
//   - the ingress port counted one more packet and its bytes;
//   - a frame the parser refuses is counted malformed and nothing comes out;
//   - everything that comes out parses, and what the router sends (routed or its own) has
//     an IP header the L3 stage accepts: lengths within the frame, a TTL left;
//   - no frame vanishes uncounted: it comes out, or some drop/flood/router counter moved;
//   - mbufs do not leak: once drained, only packets waiting for a neighbor hold any.
// The frame sits at the start of its mbuf's data room with the rest of the room poisoned
// for ASan, so reading past the frame is reported (DPDK memory is not ASan's otherwise).
//
// Between inputs the FDB and the flow cache are emptied and the hosts announce themselves
// again, so an input replays the same way alone (neighbors learned by an input remain).
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_mempool.h>
#include <sanitizer/asan_interface.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "flow_key.h"
#include "heap_mbuf.h"
#include "pipeline_harness.h"
#include "trace_manager.h"

namespace {

using Frame = std::vector<uint8_t>;
using vsw::test::Mac;

constexpr size_t kMaxFrames = 8;
constexpr uint32_t kPendingTotal = 256;
constexpr unsigned kInputPoolSize = 4095;

const Mac kR1{{0x02, 0, 0, 0, 0x01, 0x01}}, kR2{{0x02, 0, 0, 0, 0x02, 0x01}};
const Mac kA = vsw::test::mac(0xa), kB = vsw::test::mac(0xb), kG = vsw::test::mac(0xfe);

std::string g_runtime_dir;

// As the pipeline harness's init_eal, with a prefix of its own, so its leftovers (after a
// crash) are recognisable: /var/run/dpdk/vsw-fuzz-<pid>.
void init_eal() {
  const std::string prefix = "vsw-fuzz-" + std::to_string(getpid());
  std::vector<std::string> args = {"fuzz_pipeline",
                                   "-l",
                                   "0",
                                   "--no-huge",
                                   "-m",
                                   "256",
                                   "--no-pci",
                                   "--no-telemetry",
                                   "--no-shconf",
                                   "--log-level=*:error",
                                   "--file-prefix=" + prefix};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
    std::abort();
  }
  g_runtime_dir = "/var/run/dpdk/" + prefix;
  // A crashed run leaves its directory behind (no exit handler runs): remove those whose
  // process is gone.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/dpdk", ec)) {
    const std::string name = e.path().filename();
    if (name.rfind("vsw-fuzz-", 0) != 0) continue;
    const std::string pid = name.substr(9);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!std::filesystem::exists("/proc/" + pid)) std::filesystem::remove_all(e.path(), ec);
  }
  std::atexit([] { std::filesystem::remove_all(g_runtime_dir); });
}

void put16(Frame& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

Frame eth(const Mac& dst, const Mac& src, uint16_t type, size_t size) {
  Frame f(size);
  std::memcpy(f.data(), dst.b, 6);
  std::memcpy(f.data() + 6, src.b, 6);
  put16(f, 12, type);
  return f;
}

// An ARP reply from `host` to the router (learned: it is addressed to the router's IP).
Frame arp_reply(const Mac& host, uint32_t host_ip, const Mac& rif, uint32_t rif_ip) {
  Frame f = eth(rif, host, 0x0806, 60);
  put16(f, 14, 1);
  put16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, 2);
  std::memcpy(&f[22], host.b, 6);
  const uint32_t sip = htonl(host_ip), tip = htonl(rif_ip);
  std::memcpy(&f[28], &sip, 4);
  std::memcpy(&f[32], rif.b, 6);
  std::memcpy(&f[38], &tip, 4);
  return f;
}

// A neighbor solicitation from G for r2's address, with G's link-layer address.
Frame g_solicits_r2() {
  const uint8_t g_ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};
  const uint8_t r2_ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Frame f = eth(kR2, kG, 0x86dd, 14 + 40 + 32);
  f[14] = 0x60;
  put16(f, 18, 32);
  f[20] = 58;
  f[21] = 255;
  std::memcpy(&f[22], g_ip, 16);
  std::memcpy(&f[38], r2_ip, 16);
  f[54] = 135;
  std::memcpy(&f[62], r2_ip, 16);
  f[78] = 1;
  f[79] = 1;
  std::memcpy(&f[80], kG.b, 6);
  return f;
}

Frame tag(Frame f, uint16_t vlan) {
  const uint8_t t[4] = {0x81, 0x00, static_cast<uint8_t>(vlan >> 8), static_cast<uint8_t>(vlan)};
  f.insert(f.begin() + 12, t, t + 4);
  return f;
}

struct Counts {
  uint64_t rx_packets = 0, rx_bytes = 0, malformed = 0, accounted = 0;
};

class Harness {
 public:
  Harness() {
    init_eal();
    vsw::dp::RouterOptions o = vsw::test::small_router_options();
    o.timers.pending_total = kPendingTotal;
    o.timers.pending_per_neighbor = 4;
    pl_ = std::make_unique<vsw::test::Pipeline>(o);
    input_pool_ = rte_pktmbuf_pool_create("vsw_fuzz_input", kInputPoolSize, 0, 0,
                                          RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    VSW_FUZZ_CHECK(input_pool_ != nullptr);
    ports_ = {pl_->add_port("f1"), pl_->add_port("f2"), pl_->add_port("f3")};
    traces_ = std::make_unique<vsw::dp::TraceManager>(*pl_->fwd, pl_->rcu, pl_->pool, *pl_->ports,
                                                      *pl_->router);
    for (const char* br : {"br1", "br2"}) {
      vswitch::dp::BridgeConfig c;
      c.set_name(br);
      check(pl_->bridges->bridge_add(c));
    }
    check(pl_->bridges->attach("br1", "f1", ports_[0], 0));
    check(pl_->bridges->attach("br1", "f2", ports_[1], 10));
    check(pl_->bridges->attach("br2", "f2", ports_[1], 0));
    check(pl_->bridges->attach("br2", "f3", ports_[2], 0));
    add_rif("r1", "br1", "02:00:00:00:01:01", {"10.1.0.1/24", "2001:db8:1::1/64"});
    add_rif("r2", "br2", "02:00:00:00:02:01", {"10.2.0.1/24", "2001:db8:2::1/64"});
    add_route("0.0.0.0/0", {"10.2.0.254"});
    add_route("192.168.0.0/16", {"10.1.0.10", "10.2.0.254"});
    add_route("::/0", {"2001:db8:2::fe"});
  }

  // The state every input starts from.
  void reset() {
    // Flushing walks the whole FDB (milliseconds): only when an input changed it.
    if (!fdb_is_baseline()) {
      check(pl_->bridges->mac_flush("br1"));
      check(pl_->bridges->mac_flush("br2"));
    }
    pl_->worker().cache.clear();
    pl_->neighbor_tick();
    send(ports_[0], arp_reply(kA, 0x0a01000a, kR1, 0x0a010001));
    send(ports_[1], tag(arp_reply(kB, 0x0a01000b, kR1, 0x0a010001), 10));
    send(ports_[2], arp_reply(kG, 0x0a0200fe, kR2, 0x0a020001));
    send(ports_[2], g_solicits_r2());
    pl_->learn();
    pl_->router_step();
    drain();
  }

  void run(const uint8_t* data, size_t size) {
    size_t off = 0;
    for (size_t n = 0; n < kMaxFrames && off < size; ++n) {
      const uint8_t control = data[off++];
      size_t len = 0;
      if (size - off >= 2) {
        len = (size_t{data[off]} << 8) | data[off + 1];
        off += 2;
      } else {
        off = size;
      }
      len = std::min(len, size - off);
      // At most what one mbuf holds (2048 bytes of room less the headroom).
      len = std::min<size_t>(len, RTE_MBUF_DEFAULT_DATAROOM - RTE_PKTMBUF_HEADROOM);
      std::vector<uint8_t> frame(data + off, data + off + len);
      if ((control & 4) == 0) fix_ipv4_checksum(frame);
      one_frame(ports_[std::min<size_t>(control & 3, 2)], frame.data(), len, control);
      off += len;
    }
    // Nothing but the packets waiting for a neighbor may still hold an mbuf.
    VSW_FUZZ_CHECK(rte_mempool_in_use_count(input_pool_) + rte_mempool_in_use_count(pl_->pool) <=
                   kPendingTotal);
  }

 private:
  void check(const vsw::dp::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "fuzz_pipeline set-up: %s\n", s.message.c_str());
      std::abort();
    }
  }
  void add_rif(const char* name, const char* bridge, const char* mac,
               const std::vector<std::string>& addrs) {
    vswitch::dp::RouterInterfaceConfig c;
    c.set_name(name);
    c.set_bridge(bridge);
    c.set_mac(mac);
    for (const auto& a : addrs) c.add_addresses(a);
    check(pl_->router->rif_add(c));
  }
  void add_route(const char* prefix, const std::vector<const char*>& vias) {
    vswitch::dp::Route r;
    r.set_prefix(prefix);
    for (const char* v : vias) r.add_next_hops()->set_via(v);
    check(pl_->router->route_add(r, false));
  }

  void send(uint16_t port, const Frame& f) { pl_->send_frame(port, f); }

  // The FDB holds the three hosts where they announce themselves, and nothing else.
  bool fdb_is_baseline() const {
    const vsw::flow::Fdb& fdb = *pl_->fwd->fdb;
    if (fdb.size() != 3) return false;
    struct Host {
      const char* bridge;
      const Mac& mac;
      uint16_t port, vlan;
    };
    for (const Host& h : {Host{"br1", kA, ports_[0], 0}, Host{"br1", kB, ports_[1], 10},
                          Host{"br2", kG, ports_[2], 0}}) {
      vsw::flow::FdbKey key{pl_->bridges->bridge_id(h.bridge), {}};
      std::memcpy(key.mac, h.mac.b, 6);
      const int32_t pos = fdb.lookup(key);
      if (pos < 0 || fdb.entry(pos).location.load() != vsw::flow::pack_location(h.port, h.vlan))
        return false;
    }
    return true;
  }

  // The mbuf for a fuzzed frame: data at the usual headroom, the rest of the room poisoned.
  rte_mbuf* make(const uint8_t* data, size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(input_pool_);
    if (m == nullptr) {
      std::fprintf(stderr, "input pool exhausted: the pipeline leaks mbufs\n");
      std::abort();
    }
    auto* room = static_cast<uint8_t*>(m->buf_addr);
    ASAN_UNPOISON_MEMORY_REGION(room, m->buf_len);
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
    VSW_FUZZ_CHECK(p != nullptr || len == 0);
    if (len) std::memcpy(p, data, len);
    uint8_t* end = rte_pktmbuf_mtod(m, uint8_t*) + len;
    ASAN_POISON_MEMORY_REGION(end, room + m->buf_len - end);
    return m;
  }

  Counts counts(uint16_t in_port) const {
    const vsw::dp::WorkerContext& ctx = pl_->worker();
    Counts c;
    c.rx_packets = ctx.ports[in_port].rx_packets.load();
    c.rx_bytes = ctx.ports[in_port].rx_bytes.load();
    c.malformed = ctx.ports[in_port].malformed.load();
    for (uint16_t p : ports_) {
      const vsw::dp::PortCounters& pc = ctx.ports[p];
      c.accounted += pc.malformed.load() + pc.no_destination.load() + pc.unknown_vlan.load() +
                     pc.flooded.load() + pc.tx_full.load() + pc.tx_mtu_exceeded.load();
    }
    const vsw::dp::RouterCounters& r = ctx.router;
    c.accounted += r.routed.load() + r.punted.load() + r.no_route.load() + r.ttl_expired.load() +
                   r.bad_header.load() + r.unresolved.load() + r.punt_dropped.load();
    return c;
  }

  // A frame the pipeline sent parses; one the router sent (routed, or its own) carries an IP
  // header the L3 stage accepts: lengths within the frame, a TTL left. `sent_src` is the
  // source MAC of the frame sent in: a guest may claim the router's MAC, and be switched.
  static void check_output(const rte_mbuf* m, uint16_t port, const uint8_t* sent_src) {
    vsw::flow::FlowKey key;
    vsw::flow::ParsedFrame parsed;
    VSW_FUZZ_CHECK(vsw::flow::parse_frame(m, port, key, parsed) == vsw::flow::ParseResult::kOk);
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    if (std::memcmp(p + 6, kR1.b, 6) != 0 && std::memcmp(p + 6, kR2.b, 6) != 0) return;
    if (std::memcmp(p + 6, sent_src, 6) == 0) return;
    const uint8_t* ip = p + parsed.l2_len;
    if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
      const size_t ihl = (ip[0] & 0x0f) * 4u, total = (size_t{ip[2]} << 8) | ip[3];
      VSW_FUZZ_CHECK(total >= ihl && parsed.l2_len + total <= len);
      VSW_FUZZ_CHECK(ip[8] >= 1);
    } else if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
      const size_t payload = (size_t{ip[4]} << 8) | ip[5];
      VSW_FUZZ_CHECK(parsed.l2_len + 40 + payload <= len);
      VSW_FUZZ_CHECK(ip[7] >= 1);
    }
  }

  // Reads back and frees what every port transmitted; with `sent_src` (the frame sent in),
  // checks each frame as check_output does.
  size_t drain(const uint8_t* sent_src = nullptr) {
    size_t n = 0;
    rte_mbuf* pkts[32];
    for (uint16_t port : ports_) {
      uint16_t got;
      while ((got = rte_eth_rx_burst(port, 0, pkts, 32)) > 0) {
        if (sent_src != nullptr)
          for (uint16_t i = 0; i < got; ++i) check_output(pkts[i], port, sent_src);
        rte_pktmbuf_free_bulk(pkts, got);
        n += got;
      }
    }
    return n;
  }

  // The router drops a wrong IPv4 header checksum: random bytes would almost never get past
  // it, so the fuzzer's IPv4 frames get a right one unless the control byte says not.
  static void fix_ipv4_checksum(std::vector<uint8_t>& f) {
    size_t off = 12;
    if (f.size() >= 18 && f[12] == 0x81 && f[13] == 0) off = 16;
    if (f.size() < off + 2 + 20 || f[off] != 0x08 || f[off + 1] != 0) return;
    off += 2;
    const size_t ihl = (f[off] & 0x0f) * 4u;
    if (ihl < 20 || f.size() < off + ihl) return;
    f[off + 10] = f[off + 11] = 0;
    const uint16_t c = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(&f[off]));
    std::memcpy(&f[off + 10], &c, 2);
  }

  void one_frame(uint16_t port, const uint8_t* data, size_t len, uint8_t control) {
    // `trace packet` on the frame first: it must decide something and leave no trace in
    // the tables or the counters (the checks below would see a counter move or an mbuf).
    if ((control & 16) != 0 && len >= 14) {
      vswitch::dp::TracePacketRequest req;
      req.set_port(port == ports_[0] ? "f1" : port == ports_[1] ? "f2" : "f3");
      req.set_frame(std::string(reinterpret_cast<const char*>(data), len));
      vswitch::dp::TracedPacket dry;
      VSW_FUZZ_CHECK(traces_->trace_packet(req, &dry).ok());
      VSW_FUZZ_CHECK(!dry.result().empty());
    }
    const bool traced = (control & 8) != 0;
    if (traced) {
      vswitch::dp::TraceStartRequest req;
      req.set_count(1);
      vswitch::dp::TraceStatus st;
      VSW_FUZZ_CHECK(traces_->start(req, &st).ok());
    }
    const Counts before = counts(port);
    rte_mbuf* m = make(data, len);
    vsw::fuzz::HeapMbuf copy(data, len);
    vsw::flow::FlowKey key;
    vsw::flow::ParsedFrame parsed;
    const bool parses =
        vsw::flow::parse_frame(copy.get(), port, key, parsed) == vsw::flow::ParseResult::kOk;
    pl_->send_mbufs(port, &m, 1);
    pl_->learn();
    pl_->router_step();
    uint8_t src[6] = {};
    if (len >= 12) std::memcpy(src, data + 6, 6);
    const size_t out = drain(src);
    const Counts after = counts(port);
    VSW_FUZZ_CHECK(after.rx_packets == before.rx_packets + 1);
    VSW_FUZZ_CHECK(after.rx_bytes == before.rx_bytes + len);
    if (!parses) {
      VSW_FUZZ_CHECK(out == 0);
      VSW_FUZZ_CHECK(after.malformed == before.malformed + 1);
    }
    VSW_FUZZ_CHECK(out > 0 || after.accounted > before.accounted);
    if (traced) {
      // The record agrees with what happened.
      vswitch::dp::TraceStatus st;
      VSW_FUZZ_CHECK(traces_->stop(&st).ok());
      VSW_FUZZ_CHECK(st.packets_size() == 1);
      const std::string& result = st.packets(0).result();
      VSW_FUZZ_CHECK(!result.empty());
      if (!parses) VSW_FUZZ_CHECK(result == "dropped: malformed");
      if (result.rfind("output ", 0) == 0) VSW_FUZZ_CHECK(out > 0);
    }
  }

  std::unique_ptr<vsw::test::Pipeline> pl_;
  std::unique_ptr<vsw::dp::TraceManager> traces_;
  rte_mempool* input_pool_ = nullptr;
  std::array<uint16_t, 3> ports_{};
};

}  // namespace

// Lives until exit: EAL memory outlives it.
static Harness* g_harness = nullptr;

// EAL's start-up happens here, outside libFuzzer's per-input timeout: on a loaded machine it
// can take seconds (one run beside two builds spent over 30 s in it and was reported a hang).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_harness = new Harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness* harness = g_harness;
  if (size > 8 * vsw::fuzz::kMaxFrame) return 0;
  harness->reset();
  harness->run(data, size);
  return 0;
}
