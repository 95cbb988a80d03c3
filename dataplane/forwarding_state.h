// Forwarding state shared by the management thread (the only writer) and the workers.
//
// Publication rules: the management thread fills a port's transmit mapping before any
// worker can reach the port (before it is anyone's cross-connect peer or in any worker's
// plan), and publishes peers with release stores. Before it tears a port down it unpublishes
// it and waits for an RCU grace period (every worker passes a quiescent state at the end of
// each loop, with its transmit buffers flushed), so no worker still holds the port.
#pragma once

#include <rte_config.h>
#include <rte_spinlock.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "acl_filter.h"
#include "fdb.h"
#include "fib.h"
#include "l2_config.h"
#include "l3_config.h"
#include "neighbor.h"

namespace vsw::dp {

struct CaptureTap;    // capture.h
struct TraceSession;  // packet_trace.h
struct PortSecurity;  // port_security.h

inline constexpr uint16_t kNoPort = UINT16_MAX;
inline constexpr unsigned kMaxPorts = RTE_MAX_ETHPORTS;
inline constexpr unsigned kMaxWorkers = 16;
inline constexpr unsigned kMaxTxQueues = 16;

struct alignas(64) PortForwarding {
  // The first line holds what ingress and egress read per burst.
  // Where everything received on this port goes; kNoPort when not cross-connected.
  std::atomic<uint16_t> xconnect_peer{kNoPort};
  // When the port has fewer transmit queues than there are workers, workers share queues
  // and serialise on the queue's lock (as OVS does for XPS); otherwise no lock is taken.
  bool tx_shared = false;
  // The port's ACL (both directions); null when it has none, which costs the fast path one
  // load and one branch per burst, on this line that ingress (the peer) and egress (the
  // transmit queue) read anyway. Published by AclManager; freed after a grace period.
  std::atomic<const acl::PortAcl*> acl{nullptr};
  // A running `vswctl capture` of this port (capture.h); null almost always.
  std::atomic<CaptureTap*> capture{nullptr};
  // The port's allowed sources (port security); null: none configured.
  std::atomic<const PortSecurity*> security{nullptr};
  // The transmit queue worker w uses on this port.
  uint16_t tx_queue[kMaxWorkers] = {};
  rte_spinlock_t tx_lock[kMaxTxQueues];
};
static_assert(offsetof(PortForwarding, tx_lock) == 64, "the per-burst fields fit one line");

struct ForwardingState {
  PortForwarding ports[kMaxPorts];
  // Bridges and attachments; replaced as a whole (RCU). Null until the first bridge.
  std::atomic<const flow::L2Config*> l2{nullptr};
  // The FDB; read lock-free by workers, written by the management thread.
  flow::Fdb* fdb = nullptr;
  // Router interfaces; replaced as a whole (RCU). Null until the router is set up.
  std::atomic<const flow::L3Config*> l3{nullptr};
  // Routes and neighbors; read lock-free by workers, written by the management thread. Set
  // before the first L3Config is published.
  flow::Fib* fib = nullptr;
  flow::NeighborTable* neighbors = nullptr;
  // Connection tracking for stateful ACLs; set before the first PortAcl is published.
  // Atomic: set by AclManager::init while workers already run.
  std::atomic<acl::Conntrack*> conntrack{nullptr};
  // A running `vswctl trace` (packet_trace.h); null almost always. Workers load it once
  // per loop.
  alignas(64) std::atomic<TraceSession*> trace{nullptr};
};

}  // namespace vsw::dp
