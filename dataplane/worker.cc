#include "worker.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_prefetch.h>
#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include "acl_stage.h"
#include "capture.h"
#include "l2_stage.h"
#include "l3_stage.h"
#include "port_security.h"

namespace vsw::dp {

namespace {

// The longest frame every device takes: 1500 bytes of payload, the Ethernet header and one
// VLAN tag (no FCS).
constexpr uint32_t kMaxStandardFrame = RTE_ETHER_MAX_VLAN_FRAME_LEN - RTE_ETHER_CRC_LEN;

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_to_huge(std::size_t size) {
  return (size + kHugePage - 1) & ~(kHugePage - 1);
}

}  // namespace

void* WorkerContext::operator new(std::size_t size) {
  // Whole 2 MiB pages, 2 MiB-aligned: the kernel backs only aligned ranges with a huge page.
  const std::size_t bytes = round_to_huge(size);
  void* p = std::aligned_alloc(kHugePage, bytes);
  if (p == nullptr) throw std::bad_alloc();
  // Advice only: with transparent huge pages off it does nothing and small pages serve.
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void WorkerContext::operator delete(void* p, std::size_t) {
  std::free(p);
}

void flush_port(WorkerContext& ctx, uint16_t port) {
  TxBuffer& buf = ctx.tx[port];
  if (buf.count == 0) return;
  PortForwarding& pf = ctx.fwd->ports[port];
  // to-port ACL: whatever put the frames here (switching, routing, flooding, injection).
  if (const acl::PortAcl* acl = pf.acl.load(std::memory_order_acquire); unlikely(acl != nullptr)) {
    const uint16_t before = buf.count;
    buf.count = acl_filter_mbufs(ctx, *acl, port, acl::Direction::kToPort, buf.pkts, buf.count);
    if (buf.count != before) {
      buf.bytes = 0;
      for (uint16_t i = 0; i < buf.count; ++i) buf.bytes += rte_pktmbuf_pkt_len(buf.pkts[i]);
      if (buf.count == 0) return;
    }
  }
  if (unlikely(ctx.trace != nullptr)) {
    for (uint16_t i = 0; i < buf.count; ++i) {
      const auto* p = rte_pktmbuf_mtod(buf.pkts[i], const uint8_t*);
      const bool tagged = rte_pktmbuf_data_len(buf.pkts[i]) >= 16 && p[12] == 0x81 && p[13] == 0;
      trace_add(ctx, buf.pkts[i],
                {.kind = TraceKind::kOutput,
                 .port = port,
                 .b = tagged ? ((p[14] & 0x0fu) << 8 | p[15]) : 0u});
    }
    // `trace packet`: the decision is made, nothing leaves.
    if (ctx.dry_run) {
      rte_pktmbuf_free_bulk(buf.pkts, buf.count);
      buf.count = 0;
      buf.bytes = 0;
      return;
    }
  }
  const uint16_t queue = pf.tx_queue[ctx.index];
  if (CaptureTap* tap = pf.capture.load(std::memory_order_acquire);
      unlikely(tap != nullptr) && tap->tx)
    capture_burst(*tap, buf.pkts, buf.count, PacketDirection::kOutbound);
  if (pf.tx_shared) rte_spinlock_lock(&pf.tx_lock[queue]);
  uint16_t sent = rte_eth_tx_burst(port, queue, buf.pkts, buf.count);
  uint16_t done = sent;
  // A device stops at the first frame it refuses. One longer than a standard Ethernet frame
  // may have been refused for its size (the tap PMD refuses a frame past its interface's
  // MTU): drop it alone and offer the rest again, so a guest's oversized frame does not take
  // the frames queued behind it down with it. A standard frame refused means the queue is
  // full: it and the rest are dropped.
  uint32_t unsent_bytes = 0;
  uint16_t too_long = 0;
  while (unlikely(done < buf.count) && rte_pktmbuf_pkt_len(buf.pkts[done]) > kMaxStandardFrame) {
    ++too_long;
    unsent_bytes += rte_pktmbuf_pkt_len(buf.pkts[done]);
    trace_step(ctx, buf.pkts[done],
               {.kind = TraceKind::kTxDrop,
                .a = static_cast<uint8_t>(TraceTxDrop::kTooLong),
                .port = port});
    rte_pktmbuf_free(buf.pkts[done++]);
    const uint16_t more = rte_eth_tx_burst(port, queue, &buf.pkts[done], buf.count - done);
    sent += more;
    done += more;
  }
  if (pf.tx_shared) rte_spinlock_unlock(&pf.tx_lock[queue]);
  if (unlikely(done < buf.count)) {
    for (uint16_t i = done; i < buf.count; ++i) {
      unsent_bytes += rte_pktmbuf_pkt_len(buf.pkts[i]);
      trace_step(ctx, buf.pkts[i],
                 {.kind = TraceKind::kTxDrop,
                  .a = static_cast<uint8_t>(TraceTxDrop::kQueueFull),
                  .port = port});
    }
    rte_pktmbuf_free_bulk(&buf.pkts[done], buf.count - done);
  }
  PortCounters& c = ctx.ports[port];
  bump(c.tx_packets, sent);
  bump(c.tx_bytes, buf.bytes - unsent_bytes);
  if (unlikely(too_long)) bump(c.tx_mtu_exceeded, too_long);
  if (unlikely(sent + too_long < buf.count)) bump(c.tx_full, buf.count - sent - too_long);
  buf.count = 0;
  buf.bytes = 0;
}

namespace {

// Keeps the frames port security allows, in order; drops and counts the rest.
uint16_t port_security_filter(WorkerContext& ctx, const PortSecurity& ps, uint16_t port,
                              rte_mbuf** pkts, uint16_t n) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (likely(port_security_allows(ps, pkts[i]))) {
      pkts[kept++] = pkts[i];
    } else {
      trace_step(ctx, pkts[i], {.kind = TraceKind::kPortSecurity, .port = port});
      rte_pktmbuf_free(pkts[i]);
    }
  }
  if (kept != n) bump(ctx.ports[port].port_security, n - kept);
  return kept;
}

// The cross-connect stage: the zero-work path. Everything received on a port goes out of its
// peer, after the one check every stage makes (a whole Ethernet header is present).
void xconnect_stage(WorkerContext& ctx, uint16_t in_port, uint16_t peer, rte_mbuf** pkts,
                    uint16_t n) {
  PortCounters& in = ctx.ports[in_port];
  uint64_t malformed = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 4 < n) rte_prefetch0(pkts[i + 4]);
    rte_mbuf* m = pkts[i];
    if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN)) {
      ++malformed;
      trace_step(ctx, m, {.kind = TraceKind::kMalformed});
      rte_pktmbuf_free(m);
      continue;
    }
    trace_step(ctx, m, {.kind = TraceKind::kXconnect, .port = peer});
    enqueue_tx(ctx, peer, m);
  }
  if (unlikely(malformed)) bump(in.malformed, malformed);
}

}  // namespace

void flush_tx(WorkerContext& ctx) {
  for (uint16_t i = 0; i < ctx.dirty_count; ++i) flush_port(ctx, ctx.dirty[i]);
  ctx.dirty_count = 0;
}

void forward_burst(WorkerContext& ctx, const flow::L2Config* l2, uint16_t in_port, rte_mbuf** pkts,
                   uint16_t n) {
  uint32_t bytes = 0;
  for (uint16_t j = 0; j < n; ++j) bytes += rte_pktmbuf_pkt_len(pkts[j]);
  PortCounters& c = ctx.ports[in_port];
  bump(c.rx_packets, n);
  bump(c.rx_bytes, bytes);
  const PortForwarding& pf = ctx.fwd->ports[in_port];
  if (unlikely(ctx.trace != nullptr)) trace_mark(ctx, in_port, pkts, n);
  // What the guest sent, before the ACL judges it (a dry run's frame was not sent).
  if (CaptureTap* tap = pf.capture.load(std::memory_order_acquire);
      unlikely(tap != nullptr) && tap->rx && !ctx.dry_run)
    capture_burst(*tap, pkts, n, PacketDirection::kInbound);
  // Port security, then the from-port ACL: before every stage (and the flow cache), so
  // nothing bypasses them.
  if (const PortSecurity* ps = pf.security.load(std::memory_order_acquire);
      unlikely(ps != nullptr)) {
    n = port_security_filter(ctx, *ps, in_port, pkts, n);
    if (n == 0) return;
  }
  if (const acl::PortAcl* acl = pf.acl.load(std::memory_order_acquire); unlikely(acl != nullptr)) {
    n = acl_filter_mbufs(ctx, *acl, in_port, acl::Direction::kFromPort, pkts, n);
    if (n == 0) return;
  }
  const uint16_t peer = pf.xconnect_peer.load(std::memory_order_acquire);
  if (peer != kNoPort) {
    xconnect_stage(ctx, in_port, peer, pkts, n);
  } else if (l2 != nullptr) {
    l2_stage(ctx, *l2, in_port, pkts, n);
  } else {
    bump(c.no_destination, n);
    for (uint16_t i = 0; i < n; ++i) trace_step(ctx, pkts[i], {.kind = TraceKind::kNoDestination});
    rte_pktmbuf_free_bulk(pkts, n);
  }
}

int worker_main(void* arg) {
  auto& ctx = *static_cast<WorkerContext*>(arg);
  rte_rcu_qsbr_thread_register(ctx.rcu, ctx.index);
  rte_rcu_qsbr_thread_online(ctx.rcu, ctx.index);
  rte_mbuf* pkts[kBurstSize];
  while (!ctx.stop.load(std::memory_order_relaxed)) {
    const uint64_t start = rte_rdtsc();
    trace_loop_begin(ctx);
    const WorkerPlan* plan = ctx.plan.load(std::memory_order_acquire);
    const flow::L2Config* l2 = ctx.fwd->l2.load(std::memory_order_acquire);
    uint64_t received = 0;
    if (plan != nullptr) {
      for (uint32_t i = 0; i < plan->count; ++i) {
        const RxQueueRef q = plan->queues[i];
        const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, kBurstSize);
        if (n == 0) continue;
        received += n;
        forward_burst(ctx, l2, q.port, pkts, n);
      }
      process_injected(ctx, l2);
      flush_tx(ctx);
      trace_loop_end(ctx);
    }
    // Connections the management thread posted for deletion (expired, revoked, flushed).
    if (acl::Conntrack* ct = ctx.fwd->conntrack.load(std::memory_order_acquire); ct != nullptr)
      ct->service(ctx.index, start);
    bump(ctx.loops, 1);
    if (received) {
      bump(ctx.busy_loops, 1);
      bump(ctx.packets, received);
      bump(ctx.busy_cycles, rte_rdtsc() - start);
    }
    // The plan pointer, the peers and the buffers are all released here: the management
    // thread may free or tear down what this loop used once every worker has passed this.
    rte_rcu_qsbr_quiescent(ctx.rcu, ctx.index);
  }
  rte_rcu_qsbr_thread_offline(ctx.rcu, ctx.index);
  rte_rcu_qsbr_thread_unregister(ctx.rcu, ctx.index);
  return 0;
}

}  // namespace vsw::dp
