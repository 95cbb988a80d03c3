// The poll-mode worker: receive bursts from its assigned queues, forward, transmit through
// per-output-port buffers, report an RCU quiescent state once per loop.
//
// Everything a worker writes lives in its own WorkerContext. The management thread reads the
// counters without locks (relaxed atomics: plain loads and stores on x86) and replaces the
// worker's plan by pointer; workers never lock (except on shared transmit queues, see
// forwarding_state.h), allocate, log or make system calls.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>

#include "flow_cache.h"
#include "forwarding_state.h"
#include "packet_trace.h"
#include "port_devargs.h"
#include "queue_assignment.h"

namespace vsw::dp {

inline constexpr uint16_t kBurstSize = 32;
inline constexpr unsigned kMaxQueuesPerWorker = kMaxPorts * kMaxQueuesPerPort;

// What a worker polls. Immutable once published; replaced as a whole.
struct WorkerPlan {
  uint32_t count = 0;
  RxQueueRef queues[kMaxQueuesPerWorker];
};

using Counter = std::atomic<uint64_t>;

// Single-writer counter update: no locked instruction, just a load, an add and a store.
inline void bump(Counter& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Per worker, per port. The management thread subtracts the values it saw when the port id
// was (re)used, so a new port on a recycled id starts at zero.
struct alignas(64) PortCounters {
  Counter rx_packets{0};
  Counter rx_bytes{0};
  Counter tx_packets{0};
  Counter tx_bytes{0};
  Counter tx_full{0};          // the device's queue did not take it
  Counter tx_mtu_exceeded{0};  // longer than a standard frame and refused (tap: its MTU)
  Counter malformed{0};
  Counter no_destination{0};
  Counter unknown_vlan{0};   // tagged with a VLAN no attachment of the port claims
  Counter flooded{0};        // received frames flooded (broadcast, multicast, unknown unicast)
  Counter port_security{0};  // received from a source the port may not use
  // Dropped by the port's ACL (either direction), by acl::AclVerdict: [v - 1] for kDeny
  // (acl_deny), kInvalid, kRevoked, kLimit, kFull (ct_*).
  Counter acl_drops[static_cast<int>(acl::AclVerdict::kCount) - 1] = {};
};

// Per worker: what the L3 stage did with the packets addressed to a router interface.
struct alignas(64) RouterCounters {
  Counter routed{0};        // forwarded by the L3 stage
  Counter punted{0};        // handed to the management thread (ARP, ND, local, errors)
  Counter no_route{0};      // dropped: no route (an ICMP unreachable may follow)
  Counter ttl_expired{0};   // dropped: TTL / hop limit (an ICMP time exceeded may follow)
  Counter bad_header{0};    // dropped: malformed IPv4/IPv6 header
  Counter unresolved{0};    // handed over to wait for a neighbor (see the neighbor counters)
  Counter punt_dropped{0};  // dropped: the ring to the management thread was full
};

struct TxBuffer {
  uint16_t count = 0;
  uint32_t bytes = 0;
  rte_mbuf* pkts[kBurstSize];
};

struct alignas(64) WorkerContext {
  // Set before launch, read-only afterwards.
  unsigned index = 0;
  unsigned lcore = 0;
  ForwardingState* fwd = nullptr;
  rte_rcu_qsbr* rcu = nullptr;
  rte_mempool* pool = nullptr;     // for flood copies
  rte_ring* learn_ring = nullptr;  // to the management thread: MACs seen (SP/SC)
  rte_ring* punt_ring = nullptr;   // to the management thread: packets for it (L3Punt, SP/SC)
  // From the management thread: frames to send (L3Inject, SP/SC). Atomic: set while the
  // worker runs.
  std::atomic<rte_ring*> inject_ring{nullptr};

  // Written by the management thread.
  alignas(64) std::atomic<const WorkerPlan*> plan{nullptr};
  std::atomic<bool> stop{false};

  // Written by the worker only.
  alignas(64) Counter loops{0};
  Counter busy_loops{0};
  Counter packets{0};
  Counter busy_cycles{0};
  Counter learn_dropped{0};  // learn events lost because the ring was full
  // Worker-private, on this line because every loop writes it anyway: the trace session
  // loaded at the top of the loop (null almost always), and whether this context is the
  // management thread's dry run (`trace packet`: nothing is sent, learned or tracked).
  TraceSession* trace = nullptr;
  bool dry_run = false;
  PortCounters ports[kMaxPorts];
  RouterCounters router;
  acl::AclFilterCounters acl;
  flow::FlowCache cache;

  // Worker-private.
  TxBuffer tx[kMaxPorts];
  uint16_t dirty[kMaxPorts];
  uint16_t dirty_count = 0;
  uint16_t trace_open = 0;  // records marked in this loop, published at its end
  uint32_t trace_slots[kMaxOpenTraces];

  // On 2 MiB pages where the kernel grants them (transparent huge pages): the flow cache alone
  // spans 1,024 small pages, more than the L1 TLB maps, and 1,000 flows hashed over it touch
  // one each (measured: ~1 cycle on the routed hit, bench/README.md). Used by make_unique.
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size);
};

// A stage's trace hook: free (one load, one untaken branch) when no session runs.
inline void trace_step(WorkerContext& ctx, const rte_mbuf* m, const TraceStep& step) {
  if (unlikely(ctx.trace != nullptr)) trace_add(ctx, m, step);
}

// Sends what is buffered for `port`.
void flush_port(WorkerContext& ctx, uint16_t port);

// Buffers `m` for transmission on `port`; flushed when full and at the end of the loop.
// Inline: every stage calls it once per packet.
inline void enqueue_tx(WorkerContext& ctx, uint16_t port, rte_mbuf* m) {
  TxBuffer& buf = ctx.tx[port];
  if (buf.count == 0) ctx.dirty[ctx.dirty_count++] = port;
  buf.pkts[buf.count++] = m;
  buf.bytes += rte_pktmbuf_pkt_len(m);
  // Still listed as dirty after this flush; flushing an empty buffer is a no-op.
  if (buf.count == kBurstSize) [[unlikely]]
    flush_port(ctx, port);
}

// One received burst through the pipeline: counts it, then cross-connect, L2, or drop.
// `l2` is the configuration the loop loaded (may be null). Transmits stay buffered until
// flush_tx(). Exposed for the loop, the pipeline tests and the pipeline benchmark.
void forward_burst(WorkerContext& ctx, const flow::L2Config* l2, uint16_t in_port, rte_mbuf** pkts,
                   uint16_t n);

// Sends every buffered transmit.
void flush_tx(WorkerContext& ctx);

// Sends what the management thread queued on the worker's inject ring (ARP/ND answers and
// requests, ICMP, packets that waited for a neighbor), at most a burst. Buffered until
// flush_tx(). Returns how many it took.
unsigned process_injected(WorkerContext& ctx, const flow::L2Config* l2);

// Entry point for rte_eal_remote_launch; `arg` is the WorkerContext. Returns when `stop` is set.
int worker_main(void* arg);

}  // namespace vsw::dp
