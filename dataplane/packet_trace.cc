#include "packet_trace.h"

#include <rte_cycles.h>
#include <rte_mbuf_dyn.h>

#include <algorithm>
#include <cstring>

#include "worker.h"

namespace vsw::dp {

namespace {

// Set once by trace_init(), before any session can exist; read by workers afterwards.
uint64_t g_trace_flag = 0;
int g_slot_offset = -1;

uint32_t& slot_of(rte_mbuf* m) {
  return *RTE_MBUF_DYNFIELD(m, g_slot_offset, uint32_t*);
}
uint32_t slot_of(const rte_mbuf* m) {
  return *RTE_MBUF_DYNFIELD(m, g_slot_offset, const uint32_t*);
}

}  // namespace

bool trace_init() {
  if (g_slot_offset >= 0) return true;
  static const rte_mbuf_dynflag kFlag = {"vsw_trace_mark", 0};
  static const rte_mbuf_dynfield kField = {"vsw_trace_slot", sizeof(uint32_t), alignof(uint32_t),
                                           0};
  const int bit = rte_mbuf_dynflag_register(&kFlag);
  const int offset = rte_mbuf_dynfield_register(&kField);
  if (bit < 0 || offset < 0) return false;
  g_trace_flag = uint64_t{1} << bit;
  g_slot_offset = offset;
  return true;
}

bool trace_marked(const rte_mbuf* m) {
  return g_trace_flag != 0 && (m->ol_flags & g_trace_flag) != 0;
}

void trace_mark(WorkerContext& ctx, uint16_t port, rte_mbuf* const* pkts, uint16_t n) {
  TraceSession& s = *ctx.trace;
  if (s.port != kNoPort && s.port != port) return;
  if (s.claimed.load(std::memory_order_relaxed) >= s.capacity) return;
  const uint64_t now = rte_rdtsc();
  for (uint16_t i = 0; i < n && ctx.trace_open < kMaxOpenTraces; ++i) {
    const uint32_t slot = s.claimed.fetch_add(1, std::memory_order_relaxed);
    if (slot >= s.capacity) return;
    rte_mbuf* m = pkts[i];
    TracedPacket& t = s.packets[slot];
    t.worker = static_cast<uint16_t>(ctx.index);
    t.in_port = port;
    t.length = rte_pktmbuf_pkt_len(m);
    t.tsc = now;
    t.head_length =
        static_cast<uint16_t>(std::min<uint32_t>(rte_pktmbuf_data_len(m), kTraceHeadBytes));
    std::memcpy(t.head, rte_pktmbuf_mtod(m, const uint8_t*), t.head_length);
    t.steps_used = 0;
    t.steps_lost = 0;
    t.dry_run = ctx.dry_run;
    m->ol_flags |= g_trace_flag;
    slot_of(m) = slot;
    ctx.trace_slots[ctx.trace_open++] = slot;
  }
}

void trace_add(WorkerContext& ctx, const rte_mbuf* m, const TraceStep& step) {
  if ((m->ol_flags & g_trace_flag) == 0) return;
  const uint32_t slot = slot_of(m);
  if (slot >= ctx.trace->capacity) return;
  TracedPacket& t = ctx.trace->packets[slot];
  if (t.steps_used == kMaxTraceSteps) {
    if (t.steps_lost != UINT8_MAX) ++t.steps_lost;
    return;
  }
  t.steps[t.steps_used++] = step;
}

void trace_unmark(rte_mbuf* m) {
  m->ol_flags &= ~g_trace_flag;
}

void trace_loop_begin(WorkerContext& ctx) {
  ctx.trace = ctx.fwd->trace.load(std::memory_order_acquire);
}

void trace_loop_end(WorkerContext& ctx) {
  if (ctx.trace_open == 0) return;
  for (uint16_t i = 0; i < ctx.trace_open; ++i)
    ctx.trace->packets[ctx.trace_slots[i]].complete.store(true, std::memory_order_release);
  ctx.trace_open = 0;
}

}  // namespace vsw::dp
