#include "l2_output.h"

namespace vsw::dp {

void flood(WorkerContext& ctx, const flow::BridgeL2& bridge, rte_mbuf* m, bool in_tagged,
           uint16_t in_port) {
  int last = -1;
  for (int i = 0; i < bridge.member_count; ++i) {
    if (bridge.members[i].port != in_port) last = i;
  }
  if (in_port != kNoPort) bump(ctx.ports[in_port].flooded, 1);
  // Before the copies: each takes the mark with it, and its output joins this record.
  trace_step(ctx, m, {.kind = TraceKind::kFlood, .b = static_cast<uint32_t>(bridge.member_count)});
  if (last < 0) {
    if (in_port != kNoPort) bump(ctx.ports[in_port].no_destination, 1);
    rte_pktmbuf_free(m);
    return;
  }
  for (int i = 0; i <= last; ++i) {
    const flow::BridgeMember& out = bridge.members[i];
    if (out.port == in_port) continue;
    rte_mbuf* copy = i == last ? m : rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
    if (unlikely(copy == nullptr)) {
      bump(ctx.ports[out.port].tx_full, 1);
      continue;
    }
    emit(ctx, copy, in_tagged, out.port, out.vlan);
  }
}

}  // namespace vsw::dp
