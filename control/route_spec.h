// Validation of router interfaces and static routes against the desired state, and the IP
// address parsing they share.
//
// Pure functions: each returns OK or the gRPC status to reply with, the message starting with
// the field at fault; on success the normalized spec (canonical addresses, defaults explicit)
// is what controld stores and compares with the dataplane's. Unit-tested without a dataplane.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "controld_state.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

inline constexpr int kMaxRouterInterfaces = 256;  // one per bridge at most
inline constexpr int kMaxAddressesPerInterface = 16;
inline constexpr int kMaxEcmpNextHops = 16;
// Static routes through controld; each change rewrites the state file, so bulk tables belong
// on the dataplane socket (docs/router.md).
inline constexpr int kMaxStaticRoutes = 65536;

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};
  int bits() const;  // 32 or 128
  std::string str() const;
  bool operator==(const IpAddress& o) const;
};

struct IpPrefix {
  IpAddress address;  // as written (host bits kept: interface addresses have them)
  int length = 0;
  // The network: address with the host bits cleared.
  IpAddress network() const;
  bool contains(const IpAddress& a) const;
  bool overlaps(const IpPrefix& o) const;
  std::string str() const;          // address/length
  std::string network_str() const;  // network/length
};

bool parse_ip(const std::string& text, IpAddress* out);
// "ADDRESS/LENGTH"; false when either part is malformed or the length exceeds the family's.
bool parse_prefix(const std::string& text, IpPrefix* out);

// Name, bridge, 1-16 addresses (unicast, not loopback, distinct, not overlapping each other),
// the MAC. *out is the spec with canonical addresses and the MAC made explicit.
grpc::Status validate_router_interface(const vswitch::v1::RouterInterfaceSpec& spec,
                                       vswitch::v1::RouterInterfaceSpec* out);
// Against the desired state: the bridge exists and has no router interface yet; no address
// overlaps another interface's subnet.
grpc::Status check_router_interface(const vswitch::state::DesiredState& state,
                                    const vswitch::v1::RouterInterfaceSpec& spec);
// Prefix with zero host bits; 1-16 distinct unicast next hops of its family. *out canonical.
grpc::Status validate_route(const vswitch::v1::RouteSpec& spec, vswitch::v1::RouteSpec* out);
// Against the desired state: the prefix is not a connected one, and every next hop is on a
// router interface's subnet.
grpc::Status check_route(const vswitch::state::DesiredState& state,
                         const vswitch::v1::RouteSpec& spec);
// No static route has a next hop on the interface's subnets.
grpc::Status check_delete_router_interface(const vswitch::state::DesiredState& state,
                                           const std::string& name);
// 02:00:5e (locally administered) and three bytes of a hash of the name.
std::string derived_router_mac(const std::string& name);

}  // namespace vsw::ctl
