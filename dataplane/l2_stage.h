// The L2 switching stage: parse, flow cache, and on a miss the FDB (learning by report to
// the management thread), unicast or flood within the bridge, VLAN tags popped and pushed
// per attachment. Worker fast path only.
#pragma once

#include <rte_mbuf.h>

#include "l2_config.h"
#include "worker.h"

namespace vsw::dp {

// Switches a burst received on `in_port` (not cross-connected) according to `l2`.
void l2_stage(WorkerContext& ctx, const flow::L2Config& l2, uint16_t in_port, rte_mbuf** pkts,
              uint16_t n);

}  // namespace vsw::dp
