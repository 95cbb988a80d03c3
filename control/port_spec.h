// Validation of the public PortSpec and its translation to the dataplane's PortConfig.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "dataplane.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

// The port types of the API, as spelled there ("vhost-user", ...), joined for messages.
std::string port_type_names();

// INVALID_ARGUMENT naming the field and the value, or OK. Checks everything that does not
// depend on other objects (duplicates are the caller's).
grpc::Status validate_port(const vswitch::v1::PortSpec& spec);

// Port security's limits (the dataplane's, dataplane/port_security.h).
inline constexpr unsigned kMaxAllowedMacs = 16;
inline constexpr unsigned kMaxAllowedIps = 16;
// allowed_macs: unicast MACs; allowed_ips: addresses or prefixes without host bits.
grpc::Status validate_port_security(const google::protobuf::RepeatedPtrField<std::string>& macs,
                                    const google::protobuf::RepeatedPtrField<std::string>& ips);

// The spec with defaults made explicit (vhost-user: mode "server" and socket
// RUN/vhost/NAME.sock; queues 1; tap iface = name), so that what is stored and compared is
// what runs. `spec` must be valid.
vswitch::v1::PortSpec normalize_port(const vswitch::v1::PortSpec& spec, const std::string& run_dir);

// The dataplane's form of a valid spec.
vswitch::dp::PortConfig to_dataplane(const vswitch::v1::PortSpec& spec);

}  // namespace vsw::ctl
