#include "pipeline_harness.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_udp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace vsw::test {

bool init_eal(const char* program, unsigned megabytes, const std::string& huge_dir) {
  static int state = 0;  // 0 not yet, 1 ok, -1 failed
  if (state) return state > 0;
  const std::string prefix = "--file-prefix=vsw-unit-" + std::to_string(getpid());
  std::vector<std::string> args = {program,       "-l",
                                   "0",           "--no-huge",
                                   "-m",          std::to_string(megabytes),
                                   "--no-pci",    "--no-telemetry",
                                   "--no-shconf", "--log-level=*:warning",
                                   prefix};
  if (!huge_dir.empty()) {
    std::erase(args, std::string("--no-huge"));
    args.push_back("--huge-dir=" + huge_dir);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
    state = -1;
    return false;
  }
  state = 1;
  // EAL keeps a runtime directory per file prefix even with --no-shconf: remove it at exit.
  static const std::string runtime_dir = "/var/run/dpdk/vsw-unit-" + std::to_string(getpid());
  std::atexit([] {
    rte_eal_cleanup();
    std::error_code ignored;  // not ours to remove when another user made it
    std::filesystem::remove_all(runtime_dir, ignored);
  });
  return true;
}

Mac mac(uint32_t n) {
  return Mac{{0x02, 0x00, static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
              static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)}};
}

vsw::dp::RouterOptions small_router_options() {
  vsw::dp::RouterOptions o;
  o.fib.ipv4_routes = 4096;
  o.fib.ipv6_routes = 1024;
  o.fib.ipv4_tbl8 = 256;
  o.fib.ipv6_tbl8 = 1024;
  o.neighbors = 1024;
  return o;
}

Pipeline::Pipeline(const vsw::dp::RouterOptions& router_options, uint32_t ct_capacity) {
  const size_t size = rte_rcu_qsbr_get_memsize(1);
  rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, size, RTE_CACHE_LINE_SIZE));
  rte_rcu_qsbr_init(rcu, 1);
  rte_rcu_qsbr_thread_register(rcu, 0);
  static int instance = 0;
  const std::string pool_name = "vsw_test_pool" + std::to_string(instance++);
  pool = rte_pktmbuf_pool_create(pool_name.c_str(), 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                 SOCKET_ID_ANY);
  if (!pool) throw std::runtime_error("mbuf pool: " + std::string(rte_strerror(rte_errno)));
  fwd = std::make_unique<vsw::dp::ForwardingState>();
  ctx = std::make_unique<vsw::dp::WorkerContext>();
  ctx->index = 0;
  ctx->fwd = fwd.get();
  ctx->rcu = rcu;
  ctx->pool = pool;
  ports = std::make_unique<vsw::dp::PortManager>(
      "/tmp", pool, *fwd, std::vector<vsw::dp::WorkerContext*>{ctx.get()}, rcu);
  bridges = std::make_unique<vsw::dp::BridgeManager>(
      io, *fwd, rcu, std::vector<vsw::dp::WorkerContext*>{ctx.get()},
      [this](uint16_t id) { return ports->name_of(id); });
  if (std::string err = bridges->init(); !err.empty()) throw std::runtime_error(err);
  router = std::make_unique<vsw::dp::RouterManager>(
      io, *fwd, rcu, std::vector<vsw::dp::WorkerContext*>{ctx.get()}, pool, router_options,
      [this](const std::string& name) { return bridges->bridge_id(name); });
  if (std::string err = router->init(); !err.empty()) throw std::runtime_error(err);
  vsw::dp::AclOptions acl_options;
  acl_options.ct_capacity = ct_capacity;
  acl = std::make_unique<vsw::dp::AclManager>(io, *fwd, rcu, 1, acl_options,
                                              [this](uint16_t id) { return ports->name_of(id); });
  if (std::string err = acl->init(); !err.empty()) throw std::runtime_error(err);
}

void Pipeline::router_step() {
  router->drain_punts();
  rte_rcu_qsbr_thread_online(rcu, 0);
  const vsw::flow::L2Config* l2 = fwd->l2.load(std::memory_order_acquire);
  vsw::dp::trace_loop_begin(*ctx);
  while (vsw::dp::process_injected(*ctx, l2) > 0) vsw::dp::flush_tx(*ctx);
  vsw::dp::trace_loop_end(*ctx);
  rte_rcu_qsbr_quiescent(rcu, 0);
  rte_rcu_qsbr_thread_offline(rcu, 0);
}

void Pipeline::neighbor_tick() {
  router->neighbor_tick();
  router_step();
}

std::vector<std::vector<uint8_t>> Pipeline::receive_frames(uint16_t port) {
  std::vector<std::vector<uint8_t>> out;
  rte_mbuf* pkts[64];
  uint16_t n;
  while ((n = rte_eth_rx_burst(port, 0, pkts, 64)) > 0) {
    for (uint16_t i = 0; i < n; ++i) {
      const auto* p = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
      out.emplace_back(p, p + rte_pktmbuf_data_len(pkts[i]));
    }
    rte_pktmbuf_free_bulk(pkts, n);
  }
  return out;
}

void Pipeline::send_frame(uint16_t port, const std::vector<uint8_t>& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (!m) throw std::runtime_error("out of mbufs");
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())));
  std::memcpy(p, frame.data(), frame.size());
  send_mbufs(port, &m, 1);
}

Pipeline::~Pipeline() {
  drain_all();
  acl.reset();
  router.reset();
  bridges.reset();
  ports.reset();
  rte_mempool_free(pool);
  rte_free(rcu);
}

uint16_t Pipeline::add_port(const std::string& name) {
  vswitch::dp::PortConfig c;
  c.set_name(name);
  c.set_type(vswitch::dp::PORT_TYPE_RING);
  vswitch::dp::PortStatus st;
  vsw::dp::Status s = ports->add(c, &st);
  if (!s.ok()) throw std::runtime_error("add port " + name + ": " + s.message);
  port_ids.push_back(static_cast<uint16_t>(st.port_id()));
  return static_cast<uint16_t>(st.port_id());
}

std::vector<uint16_t> Pipeline::add_bridge_with_ports(const std::string& bridge,
                                                      const std::vector<std::string>& names) {
  std::vector<uint16_t> ids;
  for (const std::string& name : names) ids.push_back(add_port(name));
  vswitch::dp::BridgeConfig br;
  br.set_name(bridge);
  if (vsw::dp::Status s = bridges->bridge_add(br); !s.ok())
    throw std::runtime_error("add bridge " + bridge + ": " + s.message);
  for (size_t i = 0; i < names.size(); ++i) {
    if (vsw::dp::Status s = bridges->attach(bridge, names[i], ids[i], 0); !s.ok())
      throw std::runtime_error("attach " + names[i] + ": " + s.message);
  }
  return ids;
}

void Pipeline::remove_port(const std::string& name) {
  const uint16_t id = ports->port_id(name);
  acl->port_removed(id);
  bridges->port_removed(id);
  ports->remove(name);
  std::erase(port_ids, id);
}

rte_mbuf* Pipeline::make(const FrameSpec& f) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (!m) throw std::runtime_error("out of mbufs");
  const uint16_t l2 = f.vlan ? 18 : 14;
  const uint16_t size = std::max<uint16_t>(f.size, l2 + 28);
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, size));
  std::memset(p, 0, size);
  std::memcpy(p, f.dst.b, 6);
  std::memcpy(p + 6, f.src.b, 6);
  uint8_t* next = p + 12;
  if (f.vlan) {
    *reinterpret_cast<rte_be16_t*>(next) = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
    *reinterpret_cast<rte_be16_t*>(next + 2) = rte_cpu_to_be_16(f.vlan);
    next += 4;
  }
  *reinterpret_cast<rte_be16_t*>(next) = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(next + 2);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(size - l2));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(f.src_ip);
  ip->dst_addr = rte_cpu_to_be_32(f.dst_ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(f.src_port);
  udp->dst_port = rte_cpu_to_be_16(f.dst_port);
  ip->hdr_checksum = rte_ipv4_cksum(ip);  // routers drop a wrong one
  return m;
}

void Pipeline::send_mbufs(uint16_t port, rte_mbuf** pkts, uint16_t n) {
  rte_rcu_qsbr_thread_online(rcu, 0);
  const vsw::flow::L2Config* l2 = fwd->l2.load(std::memory_order_acquire);
  for (uint16_t off = 0; off < n; off += vsw::dp::kBurstSize) {
    const uint16_t burst = std::min<uint16_t>(vsw::dp::kBurstSize, n - off);
    vsw::dp::trace_loop_begin(*ctx);
    vsw::dp::forward_burst(*ctx, l2, port, pkts + off, burst);
    vsw::dp::flush_tx(*ctx);
    vsw::dp::trace_loop_end(*ctx);
  }
  // As the worker loop: delete the connections the management thread posted.
  fwd->conntrack.load()->service(0, rte_rdtsc());
  rte_rcu_qsbr_quiescent(rcu, 0);
  rte_rcu_qsbr_thread_offline(rcu, 0);
}

void Pipeline::send(uint16_t port, const std::vector<FrameSpec>& frames) {
  std::vector<rte_mbuf*> pkts;
  for (const FrameSpec& f : frames) pkts.push_back(make(f));
  send_mbufs(port, pkts.data(), static_cast<uint16_t>(pkts.size()));
}

std::vector<Received> Pipeline::receive(uint16_t port) {
  std::vector<Received> out;
  rte_mbuf* pkts[64];
  uint16_t n;
  while ((n = rte_eth_rx_burst(port, 0, pkts, 64)) > 0) {
    for (uint16_t i = 0; i < n; ++i) {
      const auto* p = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
      Received r{};
      std::memcpy(r.dst.b, p, 6);
      std::memcpy(r.src.b, p + 6, 6);
      r.tagged = p[12] == 0x81 && p[13] == 0x00;
      r.vlan = r.tagged ? static_cast<uint16_t>(((p[14] << 8) | p[15]) & 0xfff) : 0;
      out.push_back(r);
    }
    rte_pktmbuf_free_bulk(pkts, n);
  }
  return out;
}

void Pipeline::drain_all() {
  for (uint16_t id : port_ids) receive(id);
}

}  // namespace vsw::test
