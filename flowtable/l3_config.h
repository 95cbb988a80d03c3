// The L3 configuration workers read: router interfaces (which bridge, which MAC) and the
// router's own addresses. Immutable once published; the management thread builds a new one
// for every router-interface change, swaps the pointer and frees the old one after a grace
// period, as for L2Config. Routes and neighbors are not in it: they change far more often
// and have their own tables (Fib, NeighborTable).
#pragma once

#include <cstdint>

#include "ip_addr.h"
#include "l2_config.h"

namespace vsw::flow {

inline constexpr uint16_t kMaxRouterInterfaces = 256;
inline constexpr uint16_t kNoRif = UINT16_MAX;
inline constexpr uint16_t kMaxRifAddresses = 16;
inline constexpr uint16_t kMaxLocalAddresses = 1024;

struct RifL3 {
  bool in_use = false;
  uint16_t bridge = kNoBridge;
  uint8_t mac[6] = {};
  // The first address of each family: the source of ICMP errors sent from this interface.
  bool has_v4 = false, has_v6 = false;
  IpAddr v4, v6;
};

struct LocalAddress {
  IpAddr addr;
  uint16_t rif;
};

struct L3Config {
  uint32_t generation = 0;
  uint16_t bridge_rif[kMaxBridges];  // the router interface on each bridge, or kNoRif
  RifL3 rifs[kMaxRouterInterfaces];
  uint16_t local_count = 0;
  LocalAddress locals[kMaxLocalAddresses];

  L3Config() {
    for (uint16_t& r : bridge_rif) r = kNoRif;
  }
  // The router interface owning `addr`, or kNoRif. Linear: only the miss path asks, and a
  // router has few addresses.
  uint16_t local_rif(const IpAddr& addr) const {
    for (uint16_t i = 0; i < local_count; ++i) {
      if (locals[i].addr == addr) return locals[i].rif;
    }
    return kNoRif;
  }
};

}  // namespace vsw::flow
