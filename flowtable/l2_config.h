// The L2 configuration workers read: which bridge each (port, VLAN) belongs to and each
// bridge's members for flooding. Immutable once published; the management thread builds a
// new one for every change, swaps the pointer and frees the old one after a grace period.
// Its generation invalidates every cached flow: bridge and attachment changes are operator
// actions, rare enough for that (learning never changes it).
#pragma once

#include <rte_config.h>

#include <cstdint>

#include "fdb.h"

namespace vsw::flow {

inline constexpr uint16_t kMaxL2Ports = RTE_MAX_ETHPORTS;
inline constexpr uint16_t kMaxBridges = 256;
inline constexpr uint16_t kMaxBridgeMembers = 64;
inline constexpr uint16_t kMaxVlansPerPort = 16;
inline constexpr uint16_t kMaxVlanId = 4094;

struct VlanAttachment {
  uint16_t vlan;
  uint16_t bridge;
};

struct PortL2 {
  uint16_t untagged_bridge = kNoBridge;
  uint16_t vlan_count = 0;
  VlanAttachment vlans[kMaxVlansPerPort] = {};

  // The bridge a frame received on this port with VLAN `vlan` (0: untagged) belongs to.
  uint16_t bridge_for(uint16_t vlan) const {
    if (vlan == 0) return untagged_bridge;
    for (uint16_t i = 0; i < vlan_count; ++i) {
      if (vlans[i].vlan == vlan) return vlans[i].bridge;
    }
    return kNoBridge;
  }
};

struct BridgeMember {
  uint16_t port;
  uint16_t vlan;  // 0: untagged
};

struct BridgeL2 {
  uint16_t member_count = 0;
  BridgeMember members[kMaxBridgeMembers] = {};
};

struct L2Config {
  uint32_t generation = 0;
  PortL2 ports[kMaxL2Ports];
  BridgeL2 bridges[kMaxBridges];
};

}  // namespace vsw::flow
