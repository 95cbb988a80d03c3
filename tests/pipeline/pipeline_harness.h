// An in-process dataplane for tests and benchmarks: EAL without hugepages, ring ports
// (what is sent on one can be read back from it), one WorkerContext driven by the calling
// thread, and the real PortManager and BridgeManager. No worker thread runs: the test
// forwards bursts itself, so every step is deterministic.
//
// RCU: the calling thread is registered as worker 0 and is online only while it forwards,
// so the management calls it makes in between (which wait for grace periods) never wait on
// themselves.
#pragma once

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acl_manager.h"
#include "asio.h"
#include "bridge_manager.h"
#include "forwarding_state.h"
#include "port_manager.h"
#include "router_manager.h"
#include "worker.h"

namespace vsw::test {

// Initialises EAL once per process (-m `megabytes`, one lcore): on the hugepages of the
// hugetlbfs at `huge_dir`, or --no-huge when it is empty. Returns false and prints why when
// it cannot.
bool init_eal(const char* program, unsigned megabytes = 512, const std::string& huge_dir = {});

struct Mac {
  uint8_t b[6];
};
Mac mac(uint32_t n);  // 02:00:00:xx:xx:xx

// A frame: Ethernet (optionally 802.1Q), IPv4, UDP with the given ports.
struct FrameSpec {
  Mac dst;
  Mac src;
  uint16_t vlan = 0;  // 0: untagged
  uint32_t src_ip = 0x0a000001;
  uint32_t dst_ip = 0x0a000002;
  uint16_t src_port = 1000;
  uint16_t dst_port = 2000;
  uint16_t size = 64;
};

struct Received {
  Mac dst;
  Mac src;
  bool tagged;
  uint16_t vlan;
};

// Small tables: every test makes its own pipeline.
vsw::dp::RouterOptions small_router_options();

class Pipeline {
 public:
  explicit Pipeline(const vsw::dp::RouterOptions& router_options = small_router_options(),
                    uint32_t ct_capacity = 1024);
  ~Pipeline();

  // Adds a ring port; returns its port id (asserts on failure).
  uint16_t add_port(const std::string& name);
  void remove_port(const std::string& name);
  // A bridge with a new ring port per name attached untagged; returns the port ids in order
  // (throws on failure).
  std::vector<uint16_t> add_bridge_with_ports(const std::string& bridge,
                                              const std::vector<std::string>& names);

  rte_mbuf* make(const FrameSpec& f);
  // Forwards `frames` as one received burst on `port` (split into bursts of 32) and
  // flushes the transmit buffers.
  void send(uint16_t port, const std::vector<FrameSpec>& frames);
  void send_mbufs(uint16_t port, rte_mbuf** pkts, uint16_t n);
  // What the pipeline transmitted on `port` since the last call.
  std::vector<Received> receive(uint16_t port);
  // Discards what is queued on every port.
  void drain_all();
  // Processes the learn reports now (the management timer would, every 2 ms).
  void learn() { bridges->drain_learn(); }
  // The router's management side now: handles the punted packets, then lets the worker send
  // what it injected (the timers and the worker loop would).
  void router_step();
  // Runs the neighbor timers, then as router_step.
  void neighbor_tick();
  // What the pipeline transmitted on `port` since the last call, whole frames.
  std::vector<std::vector<uint8_t>> receive_frames(uint16_t port);
  // Forwards one frame given as bytes.
  void send_frame(uint16_t port, const std::vector<uint8_t>& frame);

  vsw::dp::WorkerContext& worker() { return *ctx; }
  const vsw::flow::FlowCacheCounters& cache() { return ctx->cache.counters; }

  boost::asio::io_context io;
  rte_rcu_qsbr* rcu = nullptr;
  rte_mempool* pool = nullptr;
  std::unique_ptr<vsw::dp::ForwardingState> fwd;
  std::unique_ptr<vsw::dp::WorkerContext> ctx;
  std::unique_ptr<vsw::dp::PortManager> ports;
  std::unique_ptr<vsw::dp::BridgeManager> bridges;
  std::unique_ptr<vsw::dp::RouterManager> router;
  // Conntrack tables of `ct_capacity` (1024 by default); its timer never runs: call
  // acl->tick().
  std::unique_ptr<vsw::dp::AclManager> acl;
  std::vector<uint16_t> port_ids;
};

}  // namespace vsw::test
