#include "route_spec.h"

#include <arpa/inet.h>

#include <cstring>

#include "port_fields.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::v1::RouterInterfaceSpec;
using vswitch::v1::RouteSpec;

namespace {

Status invalid(const std::string& message) {
  return Status(StatusCode::INVALID_ARGUMENT, message);
}

bool is_unspecified(const IpAddress& a) {
  for (int i = 0; i < a.bits() / 8; ++i) {
    if (a.bytes[i]) return false;
  }
  return true;
}

bool is_multicast(const IpAddress& a) {
  return a.family == AF_INET ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

bool is_loopback(const IpAddress& a) {
  if (a.family == AF_INET) return a.bytes[0] == 127;
  static const uint8_t kV6Loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a.bytes, kV6Loopback, 16) == 0;
}

// "" or why `a` cannot be a router address or a next hop.
std::string unicast_problem(const IpAddress& a) {
  if (is_unspecified(a)) return "is the unspecified address";
  if (is_multicast(a)) return "is a multicast address";
  if (is_loopback(a)) return "is a loopback address";
  if (a.family == AF_INET && a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 &&
      a.bytes[3] == 255)
    return "is the broadcast address";
  return "";
}

const char* family_name(int family) {
  return family == AF_INET ? "IPv4" : "IPv6";
}

}  // namespace

int IpAddress::bits() const {
  return family == AF_INET ? 32 : 128;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(family, bytes, buf, sizeof buf) ? buf : "?";
}

bool IpAddress::operator==(const IpAddress& o) const {
  return family == o.family && std::memcmp(bytes, o.bytes, bits() / 8) == 0;
}

IpAddress IpPrefix::network() const {
  IpAddress n = address;
  for (int i = 0; i < n.bits() / 8; ++i) {
    const int keep = length - i * 8;
    if (keep >= 8) continue;
    n.bytes[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
  }
  return n;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  IpPrefix p{a, length};
  return p.network() == network();
}

bool IpPrefix::overlaps(const IpPrefix& o) const {
  if (o.address.family != address.family) return false;
  const int shorter = std::min(length, o.length);
  return IpPrefix{address, shorter}.network() == IpPrefix{o.address, shorter}.network();
}

std::string IpPrefix::str() const {
  return address.str() + "/" + std::to_string(length);
}

std::string IpPrefix::network_str() const {
  return network().str() + "/" + std::to_string(length);
}

bool parse_ip(const std::string& text, IpAddress* out) {
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
  } else {
    return false;
  }
  *out = a;
  return true;
}

bool parse_prefix(const std::string& text, IpPrefix* out) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return false;
  IpPrefix p;
  if (!parse_ip(text.substr(0, slash), &p.address)) return false;
  const std::string len = text.substr(slash + 1);
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return false;
  p.length = std::stoi(len);
  if (p.length > p.address.bits()) return false;
  *out = p;
  return true;
}

std::string derived_router_mac(const std::string& name) {
  static const uint8_t kLocalPrefix[3] = {0x02, 0x00, 0x5e};  // locally administered
  return fields::mac_from_name(kLocalPrefix, name);
}

Status validate_router_interface(const RouterInterfaceSpec& spec, RouterInterfaceSpec* out) {
  if (std::string err = fields::check_port_name(spec.name()); !err.empty()) return invalid(err);
  if (spec.bridge().empty()) return invalid("bridge: required");
  if (std::string err = fields::check_port_name(spec.bridge(), "bridge"); !err.empty())
    return invalid(err);
  if (spec.addresses().empty()) return invalid("addresses: at least one address is required");
  if (spec.addresses_size() > kMaxAddressesPerInterface)
    return invalid("addresses: more than " + std::to_string(kMaxAddressesPerInterface));
  RouterInterfaceSpec n = spec;
  n.clear_addresses();
  std::vector<IpPrefix> seen;
  for (const std::string& text : spec.addresses()) {
    IpPrefix p;
    if (!parse_prefix(text, &p))
      return invalid("addresses: '" + text + "' is not an address with a prefix length like " +
                     "10.0.0.1/24 or fd00::1/64");
    if (std::string why = unicast_problem(p.address); !why.empty())
      return invalid("addresses: '" + text + "' " + why);
    if (p.address.family == AF_INET && p.length < 31 && p.address == p.network())
      return invalid("addresses: '" + text + "' is the subnet's network address");
    for (const IpPrefix& o : seen) {
      if (o.overlaps(p)) return invalid("addresses: '" + text + "' overlaps '" + o.str() + "'");
    }
    seen.push_back(p);
    n.add_addresses(p.str());
  }
  if (spec.mac().empty()) {
    n.set_mac(derived_router_mac(spec.name()));
  } else {
    uint8_t mac[6];
    if (!fields::parse_mac(spec.mac(), mac))
      return invalid("mac: '" + spec.mac() +
                     "' is not a unicast MAC address like 02:00:00:00:00:01");
    n.set_mac(fields::format_mac(mac));
  }
  *out = n;
  return Status::OK;
}

Status check_router_interface(const DesiredState& state, const RouterInterfaceSpec& spec) {
  bool bridge = false;
  for (const auto& b : state.bridges()) bridge |= b.name() == spec.bridge();
  if (!bridge) return Status(StatusCode::NOT_FOUND, "bridge: no bridge '" + spec.bridge() + "'");
  if (state.router_interfaces_size() >= kMaxRouterInterfaces)
    return Status(
        StatusCode::RESOURCE_EXHAUSTED,
        "router_interfaces: the limit of " + std::to_string(kMaxRouterInterfaces) + " is reached");
  for (const RouterInterfaceSpec& r : state.router_interfaces()) {
    if (r.name() == spec.name())
      return Status(StatusCode::ALREADY_EXISTS,
                    "name: router interface '" + spec.name() + "' already exists");
    if (r.bridge() == spec.bridge())
      return Status(
          StatusCode::ALREADY_EXISTS,
          "bridge: '" + spec.bridge() + "' already has router interface '" + r.name() + "'");
    for (const std::string& mine : spec.addresses()) {
      IpPrefix a;
      parse_prefix(mine, &a);
      for (const std::string& theirs : r.addresses()) {
        IpPrefix b;
        parse_prefix(theirs, &b);
        if (a.overlaps(b))
          return Status(StatusCode::FAILED_PRECONDITION, "addresses: '" + mine + "' overlaps '" +
                                                             theirs + "' of router interface '" +
                                                             r.name() + "'");
      }
    }
  }
  return Status::OK;
}

Status validate_route(const RouteSpec& spec, RouteSpec* out) {
  IpPrefix p;
  if (spec.prefix().empty()) return invalid("prefix: required");
  if (!parse_prefix(spec.prefix(), &p))
    return invalid("prefix: '" + spec.prefix() +
                   "' is not a prefix like 10.1.0.0/16 or fd00:1::/48");
  if (!(p.address == p.network()))
    return invalid("prefix: '" + spec.prefix() + "' has host bits set (the network is " +
                   p.network_str() + ")");
  if (spec.via().empty()) return invalid("via: at least one next hop is required");
  if (spec.via_size() > kMaxEcmpNextHops)
    return invalid("via: more than " + std::to_string(kMaxEcmpNextHops) + " next hops");
  RouteSpec n;
  n.set_prefix(p.str());
  std::vector<IpAddress> seen;
  for (const std::string& text : spec.via()) {
    IpAddress a;
    if (!parse_ip(text, &a)) return invalid("via: '" + text + "' is not an IP address");
    if (a.family != p.address.family)
      return invalid("via: '" + text + "' is " + family_name(a.family) + " but the prefix is " +
                     family_name(p.address.family));
    if (std::string why = unicast_problem(a); !why.empty())
      return invalid("via: '" + text + "' " + why);
    for (const IpAddress& o : seen) {
      if (o == a) return invalid("via: '" + text + "' is given twice");
    }
    seen.push_back(a);
    n.add_via(a.str());
  }
  *out = n;
  return Status::OK;
}

namespace {

// The router interface whose subnet holds `a`, or nullptr.
const RouterInterfaceSpec* interface_for(const DesiredState& state, const IpAddress& a) {
  for (const RouterInterfaceSpec& r : state.router_interfaces()) {
    for (const std::string& text : r.addresses()) {
      IpPrefix p;
      if (parse_prefix(text, &p) && p.contains(a)) return &r;
    }
  }
  return nullptr;
}

}  // namespace

Status check_route(const DesiredState& state, const RouteSpec& spec) {
  IpPrefix p;
  parse_prefix(spec.prefix(), &p);
  // As Linux: a gateway must be on a connected subnet (the dataplane resolves it there).
  for (const std::string& via : spec.via()) {
    IpAddress a;
    parse_ip(via, &a);
    if (!interface_for(state, a))
      return Status(StatusCode::FAILED_PRECONDITION,
                    "via: '" + via + "' is in no router interface's subnet");
  }
  for (const RouterInterfaceSpec& r : state.router_interfaces()) {
    for (const std::string& text : r.addresses()) {
      IpPrefix a;
      parse_prefix(text, &a);
      if (a.length == p.length && a.overlaps(p))
        return Status(StatusCode::FAILED_PRECONDITION, "prefix: '" + spec.prefix() +
                                                           "' is connected on router interface '" +
                                                           r.name() + "' (" + text + ")");
    }
  }
  return Status::OK;
}

}  // namespace vsw::ctl

namespace vsw::ctl {

grpc::Status check_delete_router_interface(const DesiredState& state, const std::string& name) {
  for (const RouteSpec& r : state.routes()) {
    for (const std::string& via : r.via()) {
      IpAddress a;
      parse_ip(via, &a);
      const RouterInterfaceSpec* rif = interface_for(state, a);
      if (rif && rif->name() == name)
        return Status(StatusCode::FAILED_PRECONDITION,
                      "name: the route to '" + r.prefix() + "' goes via " + via +
                          " on router interface '" + name + "'; delete or replace it first");
    }
  }
  return Status::OK;
}

}  // namespace vsw::ctl
