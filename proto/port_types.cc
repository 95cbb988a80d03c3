#include "port_types.h"

#include <array>
#include <utility>

namespace vsw::fields {

namespace {

constexpr std::array<std::pair<const char*, vswitch::dp::PortType>, 7> kTypes = {{
    {"vhost-user", vswitch::dp::PORT_TYPE_VHOST_USER},
    {"tap", vswitch::dp::PORT_TYPE_TAP},
    {"af-packet", vswitch::dp::PORT_TYPE_AF_PACKET},
    {"af-xdp", vswitch::dp::PORT_TYPE_AF_XDP},
    {"dpdk", vswitch::dp::PORT_TYPE_DPDK},
    {"ring", vswitch::dp::PORT_TYPE_RING},
    {"null", vswitch::dp::PORT_TYPE_NULL},
}};

}  // namespace

vswitch::dp::PortType port_type_from_name(const std::string& name) {
  for (const auto& [n, t] : kTypes) {
    if (name == n) return t;
  }
  return vswitch::dp::PORT_TYPE_UNSPECIFIED;
}

std::string port_type_names() {
  std::string out;
  for (const auto& [n, t] : kTypes) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace vsw::fields
