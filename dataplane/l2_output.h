// Sending a frame out of a bridge: to one attachment (with the attachment's VLAN tag) or
// flooded to every member but the ingress port. Shared by the L2 stage, the L3 stage and the
// management thread's injected frames. Worker fast path only.
#pragma once

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "l2_config.h"
#include "worker.h"

namespace vsw::dp {

// Rewrites the frame's tag for the output attachment: strip, push, or retag.
// Returns false when the mbuf cannot take a tag (no headroom or shared): the caller drops.
inline bool retag(rte_mbuf* m, bool in_tagged, uint16_t out_vlan) {
  if (!in_tagged && out_vlan == 0) return true;
  if (in_tagged && out_vlan == 0) return rte_vlan_strip(m) == 0;
  if (!in_tagged) {
    m->vlan_tci = out_vlan;
    return rte_vlan_insert(&m) == 0;
  }
  auto* vh = rte_pktmbuf_mtod_offset(m, rte_vlan_hdr*, RTE_ETHER_HDR_LEN - sizeof(rte_be16_t));
  // The TCI follows the TPID at byte 14: keep priority and DEI, replace the VLAN ID.
  auto* tci = reinterpret_cast<rte_be16_t*>(reinterpret_cast<uint8_t*>(vh) + 2);
  const uint16_t old = rte_be_to_cpu_16(*tci);
  *tci = rte_cpu_to_be_16(static_cast<uint16_t>((old & 0xf000) | out_vlan));
  return true;
}

// Always inlined: it is on the hit path of every packet.
__attribute__((always_inline)) inline void emit(WorkerContext& ctx, rte_mbuf* m, bool in_tagged,
                                                uint16_t out_port, uint16_t out_vlan) {
  if (likely(!in_tagged && out_vlan == 0)) return enqueue_tx(ctx, out_port, m);
  if (unlikely(!retag(m, in_tagged, out_vlan))) {
    bump(ctx.ports[out_port].tx_full, 1);
    trace_step(ctx, m,
               {.kind = TraceKind::kTxDrop,
                .a = static_cast<uint8_t>(TraceTxDrop::kNoTagRoom),
                .port = out_port});
    rte_pktmbuf_free(m);
    return;
  }
  enqueue_tx(ctx, out_port, m);
}

// Sends `m` to every member of `bridge` but `in_port` (kNoPort: to all), copying it for all
// but the last. Counts the flood on `in_port` when it is a port.
void flood(WorkerContext& ctx, const flow::BridgeL2& bridge, rte_mbuf* m, bool in_tagged,
           uint16_t in_port);

}  // namespace vsw::dp
