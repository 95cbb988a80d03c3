#include "bridge_spec.h"

#include <cctype>

#include "port_fields.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::AttachmentSpec;
using vswitch::state::DesiredState;
using vswitch::state::StaticMacSpec;
using vswitch::v1::BridgeSpec;

namespace {

Status invalid(const std::string& message) {
  return Status(StatusCode::INVALID_ARGUMENT, message);
}

Status check_aging(uint32_t seconds) {
  if (seconds > kMaxAgingSeconds)
    return invalid("aging_seconds: " + std::to_string(seconds) + " is not within 1-" +
                   std::to_string(kMaxAgingSeconds) + " seconds");
  return Status::OK;
}

Status check_bridge_limit(uint32_t limit) {
  if (limit > kMaxMacLimit)
    return invalid("mac_limit: " + std::to_string(limit) + " is more than the FDB's capacity of " +
                   std::to_string(kMaxMacLimit) + " MACs");
  return Status::OK;
}

const vswitch::v1::PortSpec* find_port(const DesiredState& state, const std::string& name) {
  for (const auto& p : state.ports()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

const vswitch::state::XconnectSpec* find_xconnect(const DesiredState& state,
                                                  const std::string& port) {
  for (const auto& x : state.xconnects()) {
    if (x.port_a() == port || x.port_b() == port) return &x;
  }
  return nullptr;
}

Status no_bridge(const std::string& field, const std::string& name) {
  return Status(StatusCode::NOT_FOUND, field + ": no bridge '" + name + "'");
}

Status no_port(const std::string& field, const std::string& name) {
  return Status(StatusCode::NOT_FOUND, field + ": no port '" + name + "'");
}

std::string what_vlan(uint32_t vlan) {
  return vlan ? "VLAN " + std::to_string(vlan) : std::string("its untagged traffic");
}

}  // namespace

Status validate_bridge(const BridgeSpec& spec) {
  if (std::string err = fields::check_port_name(spec.name()); !err.empty()) return invalid(err);
  if (Status s = check_aging(spec.aging_seconds()); !s.ok()) return s;
  return check_bridge_limit(spec.mac_limit());
}

BridgeSpec normalize_bridge(const BridgeSpec& spec) {
  BridgeSpec out = spec;
  if (out.aging_seconds() == 0) out.set_aging_seconds(kDefaultAgingSeconds);
  if (out.mac_limit() == 0) out.set_mac_limit(kDefaultBridgeMacLimit);
  return out;
}

Status validate_bridge_update(const vswitch::v1::SetBridgeRequest& request) {
  if (std::string err = fields::check_port_name(request.name()); !err.empty()) return invalid(err);
  if (request.aging_seconds() == 0 && request.mac_limit() == 0)
    return invalid("aging_seconds: nothing to change (give aging_seconds, mac_limit or both)");
  if (Status s = check_aging(request.aging_seconds()); !s.ok()) return s;
  return check_bridge_limit(request.mac_limit());
}

Status validate_port_mac_limit(uint32_t limit, const std::string& field) {
  if (limit > kMaxMacLimit)
    return invalid(field + ": " + std::to_string(limit) + " is more than the FDB's capacity of " +
                   std::to_string(kMaxMacLimit) + " MACs (0: no limit)");
  return Status::OK;
}

Status parse_static_mac(const std::string& mac, std::string* normalized) {
  if (mac.empty()) return invalid("mac: required");
  uint8_t bytes[6] = {};
  const bool ok = fields::parse_mac(mac, bytes);
  bool zero = true;
  for (const uint8_t b : bytes) zero &= b == 0;
  if (!ok || zero)
    return invalid("mac: '" + mac + "' is not a unicast MAC address like 02:00:00:00:00:01");
  normalized->clear();
  for (const char c : mac) normalized->push_back(static_cast<char>(std::tolower(c)));
  return Status::OK;
}

const BridgeSpec* find_bridge(const DesiredState& state, const std::string& name) {
  for (const BridgeSpec& b : state.bridges()) {
    if (b.name() == name) return &b;
  }
  return nullptr;
}

const AttachmentSpec* find_attachment(const DesiredState& state, const std::string& bridge,
                                      const std::string& port) {
  for (const AttachmentSpec& a : state.attachments()) {
    if (a.bridge() == bridge && a.port() == port) return &a;
  }
  return nullptr;
}

std::vector<const AttachmentSpec*> attachments_of_port(const DesiredState& state,
                                                       const std::string& port) {
  std::vector<const AttachmentSpec*> out;
  for (const AttachmentSpec& a : state.attachments()) {
    if (a.port() == port) out.push_back(&a);
  }
  return out;
}

int attachment_count(const DesiredState& state, const std::string& bridge) {
  int n = 0;
  for (const AttachmentSpec& a : state.attachments()) n += a.bridge() == bridge;
  return n;
}

const StaticMacSpec* find_static_mac(const DesiredState& state, const std::string& bridge,
                                     const std::string& mac) {
  for (const StaticMacSpec& m : state.static_macs()) {
    if (m.bridge() == bridge && m.mac() == mac) return &m;
  }
  return nullptr;
}

std::string attachment_label(const std::string& port, uint32_t vlan) {
  return vlan ? port + "." + std::to_string(vlan) : port;
}

Status check_add_bridge(const DesiredState& state, const BridgeSpec& spec) {
  if (find_bridge(state, spec.name()))
    return Status(StatusCode::ALREADY_EXISTS, "name: bridge '" + spec.name() + "' already exists");
  if (state.bridges_size() >= kMaxBridges)
    return Status(StatusCode::RESOURCE_EXHAUSTED,
                  "bridges: the limit of " + std::to_string(kMaxBridges) + " bridges is reached");
  return Status::OK;
}

Status check_delete_bridge(const DesiredState& state, const std::string& name) {
  if (name.empty()) return invalid("name: required");
  if (!find_bridge(state, name)) return no_bridge("name", name);
  if (const int n = attachment_count(state, name); n > 0)
    return Status(StatusCode::FAILED_PRECONDITION, "name: bridge '" + name + "' still has " +
                                                       std::to_string(n) +
                                                       " port(s) attached; detach them first");
  for (const auto& r : state.router_interfaces()) {
    if (r.bridge() == name)
      return Status(
          StatusCode::FAILED_PRECONDITION,
          "name: bridge '" + name + "' has router interface '" + r.name() + "'; delete it first");
  }
  return Status::OK;
}

Status check_attach(const DesiredState& state, const vswitch::v1::AttachPortRequest& request) {
  const std::string& bridge = request.bridge();
  const std::string& port = request.port();
  const uint32_t vlan = request.vlan();
  if (bridge.empty()) return invalid("bridge: required");
  if (port.empty()) return invalid("port: required");
  if (vlan > kMaxVlanId)
    return invalid("vlan: " + std::to_string(vlan) + " is not a VLAN ID (1-" +
                   std::to_string(kMaxVlanId) + ", or 0 for untagged)");
  if (!find_bridge(state, bridge)) return no_bridge("bridge", bridge);
  if (!find_port(state, port)) return no_port("port", port);
  if (const auto* x = find_xconnect(state, port)) {
    const std::string peer = x->port_a() == port ? x->port_b() : x->port_a();
    return Status(StatusCode::FAILED_PRECONDITION, "port: '" + port + "' is cross-connected to '" +
                                                       peer + "'; delete the xconnect first");
  }
  int tagged = 0;
  for (const AttachmentSpec* a : attachments_of_port(state, port)) {
    if (a->bridge() == bridge)
      return Status(StatusCode::ALREADY_EXISTS,
                    "port: '" + port + "' is already attached to bridge '" + bridge + "'" +
                        (a->vlan() ? " with VLAN " + std::to_string(a->vlan()) : " untagged"));
    if (a->vlan() == vlan)
      return Status(StatusCode::ALREADY_EXISTS, "vlan: port '" + port + "' already has " +
                                                    what_vlan(vlan) + " in bridge '" + a->bridge() +
                                                    "'");
    tagged += a->vlan() != 0;
  }
  if (attachment_count(state, bridge) >= kMaxBridgeMembers)
    return Status(StatusCode::RESOURCE_EXHAUSTED, "bridge: '" + bridge +
                                                      "' has the most ports a bridge may have (" +
                                                      std::to_string(kMaxBridgeMembers) + ")");
  if (vlan && tagged >= kMaxVlansPerPort)
    return Status(StatusCode::RESOURCE_EXHAUSTED, "vlan: port '" + port + "' already carries " +
                                                      std::to_string(kMaxVlansPerPort) +
                                                      " VLANs, the most a port may");
  return Status::OK;
}

Status check_detach(const DesiredState& state, const vswitch::v1::DetachPortRequest& request) {
  const std::string& bridge = request.bridge();
  const std::string& port = request.port();
  if (bridge.empty()) return invalid("bridge: required");
  if (port.empty()) return invalid("port: required");
  if (!find_bridge(state, bridge)) return no_bridge("bridge", bridge);
  if (!find_port(state, port)) return no_port("port", port);
  if (!find_attachment(state, bridge, port))
    return Status(StatusCode::NOT_FOUND,
                  "port: '" + port + "' is not attached to bridge '" + bridge + "'");
  std::string macs;
  int n = 0;
  for (const StaticMacSpec& m : state.static_macs()) {
    if (m.bridge() != bridge || m.port() != port) continue;
    if (n++ < 3) macs += (macs.empty() ? "" : ", ") + m.mac();
  }
  if (n > 0)
    return Status(StatusCode::FAILED_PRECONDITION,
                  "port: '" + port + "' has " + std::to_string(n) + " static MAC(s) in bridge '" +
                      bridge + "' (" + macs + (n > 3 ? ", ..." : "") + "); delete them first");
  return Status::OK;
}

Status check_add_mac(const DesiredState& state, const vswitch::v1::AddMacRequest& request,
                     StaticMacSpec* stored) {
  const std::string& bridge = request.bridge();
  const std::string& port = request.port();
  if (bridge.empty()) return invalid("bridge: required");
  std::string mac;
  if (Status s = parse_static_mac(request.mac(), &mac); !s.ok()) return s;
  if (port.empty()) return invalid("port: required");
  if (!find_bridge(state, bridge)) return no_bridge("bridge", bridge);
  if (!find_port(state, port)) return no_port("port", port);
  if (const StaticMacSpec* m = find_static_mac(state, bridge, mac))
    return Status(StatusCode::ALREADY_EXISTS, "mac: '" + mac +
                                                  "' is already a static MAC of bridge '" + bridge +
                                                  "' (on port '" + m->port() + "')");
  if (!find_attachment(state, bridge, port))
    return Status(
        StatusCode::FAILED_PRECONDITION,
        "port: '" + port + "' is not attached to bridge '" + bridge + "'; attach it first");
  if (state.static_macs_size() >= kMaxStaticMacs)
    return Status(
        StatusCode::RESOURCE_EXHAUSTED,
        "static_macs: the limit of " + std::to_string(kMaxStaticMacs) + " static MACs is reached");
  stored->set_bridge(bridge);
  stored->set_mac(mac);
  stored->set_port(port);
  return Status::OK;
}

Status check_not_attached(const DesiredState& state, const std::string& port,
                          const std::string& field) {
  const auto attachments = attachments_of_port(state, port);
  if (attachments.empty()) return Status::OK;
  std::string bridges;
  for (const AttachmentSpec* a : attachments)
    bridges += (bridges.empty() ? "'" : ", '") + a->bridge() + "'";
  return Status(StatusCode::FAILED_PRECONDITION,
                field + ": port '" + port + "' is attached to bridge" +
                    (attachments.size() > 1 ? "s " : " ") + bridges + "; detach it first");
}

}  // namespace vsw::ctl
