// Validation of bridges, attachments, static MACs and MAC limits against the desired state.
//
// Pure functions: each takes the desired state as it is and the request, and returns OK or the
// gRPC status to reply with (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
// RESOURCE_EXHAUSTED), its message starting with the field at fault. The controller calls them
// under its lock, then persists and programs; they are unit-tested without a dataplane.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "controld_state.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

// The dataplane's limits (flowtable/fdb.h, flowtable/l2_config.h), refused here first so
// that a request the dataplane would refuse is never stored.
inline constexpr uint32_t kMaxMacLimit = 65536;  // the FDB's capacity
inline constexpr uint32_t kDefaultBridgeMacLimit = 8192;
inline constexpr uint32_t kDefaultAgingSeconds = 300;
inline constexpr uint32_t kMaxAgingSeconds = 86400;
inline constexpr int kMaxBridges = 256;
inline constexpr int kMaxBridgeMembers = 64;
inline constexpr int kMaxVlansPerPort = 16;
inline constexpr uint32_t kMaxVlanId = 4094;
// Bounds the desired state and the replay.
inline constexpr int kMaxStaticMacs = 4096;

// ---- field checks (no other object involved) ----

// Name, aging_seconds (0 or 1-86400), mac_limit (0 or 1-65536).
grpc::Status validate_bridge(const vswitch::v1::BridgeSpec& spec);
// The spec with its defaults explicit (aging 300 s, limit 8192): what is stored and compared
// with the dataplane's bridge list. `spec` must be valid.
vswitch::v1::BridgeSpec normalize_bridge(const vswitch::v1::BridgeSpec& spec);
// SetBridge's fields: the name, and at least one non-zero value, each in range.
grpc::Status validate_bridge_update(const vswitch::v1::SetBridgeRequest& request);
// A port's learn limit, 0-65536 (0: none).
grpc::Status validate_port_mac_limit(uint32_t limit, const std::string& field = "mac_limit");
// A unicast, non-zero MAC "aa:bb:cc:dd:ee:ff" (either case). On success *normalized is the
// lower-case form, as the dataplane prints it.
grpc::Status parse_static_mac(const std::string& mac, std::string* normalized);

// ---- lookups in the desired state ----

const vswitch::v1::BridgeSpec* find_bridge(const vswitch::state::DesiredState& state,
                                           const std::string& name);
const vswitch::state::AttachmentSpec* find_attachment(const vswitch::state::DesiredState& state,
                                                      const std::string& bridge,
                                                      const std::string& port);
// Every attachment of `port`, in stored order.
std::vector<const vswitch::state::AttachmentSpec*> attachments_of_port(
    const vswitch::state::DesiredState& state, const std::string& port);
int attachment_count(const vswitch::state::DesiredState& state, const std::string& bridge);
// `mac` must be normalized (lower case).
const vswitch::state::StaticMacSpec* find_static_mac(const vswitch::state::DesiredState& state,
                                                     const std::string& bridge,
                                                     const std::string& mac);

// "vm1" or "vm1.10": a port in a bridge, as listings print it.
std::string attachment_label(const std::string& port, uint32_t vlan);

// ---- checks against the desired state ----

// AddBridge: ALREADY_EXISTS, RESOURCE_EXHAUSTED. `spec` must be valid.
grpc::Status check_add_bridge(const vswitch::state::DesiredState& state,
                              const vswitch::v1::BridgeSpec& spec);
// DeleteBridge: NOT_FOUND, or FAILED_PRECONDITION naming how many ports are attached.
grpc::Status check_delete_bridge(const vswitch::state::DesiredState& state,
                                 const std::string& name);
// AttachPort: fields, NOT_FOUND (bridge, port), FAILED_PRECONDITION (cross-connected),
// ALREADY_EXISTS (already in the bridge; the VLAN, or untagged, already used by the port in
// another bridge), RESOURCE_EXHAUSTED (members per bridge, VLANs per port).
grpc::Status check_attach(const vswitch::state::DesiredState& state,
                          const vswitch::v1::AttachPortRequest& request);
// DetachPort: NOT_FOUND (bridge, port, not attached), FAILED_PRECONDITION (static MACs of the
// bridge point at the port).
grpc::Status check_detach(const vswitch::state::DesiredState& state,
                          const vswitch::v1::DetachPortRequest& request);
// AddMac: fields, NOT_FOUND (bridge, port), FAILED_PRECONDITION (port not attached to the
// bridge), ALREADY_EXISTS, RESOURCE_EXHAUSTED. On success *stored is what to store.
grpc::Status check_add_mac(const vswitch::state::DesiredState& state,
                           const vswitch::v1::AddMacRequest& request,
                           vswitch::state::StaticMacSpec* stored);
// DeletePort and AddXconnect: FAILED_PRECONDITION when the port is attached to a bridge,
// "FIELD: port 'p' is attached to bridge 'br'; detach it first".
grpc::Status check_not_attached(const vswitch::state::DesiredState& state, const std::string& port,
                                const std::string& field);

}  // namespace vsw::ctl
