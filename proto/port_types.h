// The operator's names of port types ("vhost-user", "af-packet", ...), shared by controld's
// API validation and vsw-dpctl so that both accept exactly the same spellings.
#pragma once

#include <string>

#include "dataplane.pb.h"

namespace vsw::fields {

// PORT_TYPE_UNSPECIFIED when `name` is not a port type.
vswitch::dp::PortType port_type_from_name(const std::string& name);

// "vhost-user, tap, af-packet, af-xdp, dpdk, ring, null", for messages.
std::string port_type_names();

}  // namespace vsw::fields
