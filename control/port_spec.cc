#include "port_spec.h"

#include "bridge_spec.h"
#include "port_fields.h"
#include "port_types.h"
#include "route_spec.h"

namespace vsw::ctl {

namespace {

using vswitch::dp::PortType;

PortType type_of(const std::string& name) {
  return fields::port_type_from_name(name);
}

grpc::Status invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// A field that does not apply to the port type is refused rather than silently ignored.
grpc::Status refuse_unless(bool applies, const std::string& field, const std::string& value,
                           const std::string& type) {
  if (applies || value.empty()) return grpc::Status::OK;
  return invalid(field + ": '" + value + "' does not apply to a " + type + " port");
}

}  // namespace

std::string port_type_names() {
  return fields::port_type_names();
}

grpc::Status validate_port(const vswitch::v1::PortSpec& spec) {
  if (std::string err = fields::check_port_name(spec.name()); !err.empty()) return invalid(err);
  if (spec.type().empty()) return invalid("type: required (one of " + port_type_names() + ")");
  const PortType type = type_of(spec.type());
  if (type == vswitch::dp::PORT_TYPE_UNSPECIFIED)
    return invalid("type: '" + spec.type() + "' is not a port type (one of " + port_type_names() +
                   ")");
  const std::string& t = spec.type();
  const bool vhost = type == vswitch::dp::PORT_TYPE_VHOST_USER;
  const bool tap = type == vswitch::dp::PORT_TYPE_TAP;
  const bool kernel =
      type == vswitch::dp::PORT_TYPE_AF_PACKET || type == vswitch::dp::PORT_TYPE_AF_XDP;
  for (const grpc::Status& s :
       {refuse_unless(vhost, "socket", spec.socket(), t),
        refuse_unless(vhost, "mode", spec.mode(), t),
        refuse_unless(tap || kernel, "iface", spec.iface(), t),
        refuse_unless(type == vswitch::dp::PORT_TYPE_DPDK, "devargs", spec.devargs(), t),
        refuse_unless(vhost || tap, "mac", spec.mac(), t)}) {
    if (!s.ok()) return s;
  }
  if (spec.queues() > fields::kMaxQueuesPerPort)
    return invalid("queues: " + std::to_string(spec.queues()) + " is more than the limit of " +
                   std::to_string(fields::kMaxQueuesPerPort));
  if (vhost) {
    if (!spec.mode().empty() && spec.mode() != "server" && spec.mode() != "client")
      return invalid("mode: '" + spec.mode() + "' is neither server nor client");
    const std::string& socket = spec.socket();
    if (!socket.empty()) {
      if (socket[0] != '/') return invalid("socket: '" + socket + "' must be an absolute path");
      if (socket.find(',') != std::string::npos)
        return invalid("socket: '" + socket + "' must not contain ','");
      if (socket.size() > fields::kMaxSocketPathLength)
        return invalid("socket: '" + socket + "' is longer than " +
                       std::to_string(fields::kMaxSocketPathLength) + " characters");
    }
  }
  if (kernel && spec.iface().empty()) return invalid("iface: required for a " + t + " port");
  if (!spec.iface().empty()) {
    if (std::string err = fields::check_iface_name(spec.iface()); !err.empty()) return invalid(err);
  }
  if (tap && spec.iface().empty()) {
    if (std::string err = fields::check_iface_name(spec.name(), "name"); !err.empty())
      return invalid("iface: not given, so the tap interface would be the port name, but " + err);
  }
  if (type == vswitch::dp::PORT_TYPE_DPDK) {
    if (spec.devargs().empty())
      return invalid("devargs: required for a dpdk port (a PCI address or a vdev)");
    if (spec.devargs().find_first_of(" \t\n") != std::string::npos)
      return invalid("devargs: '" + spec.devargs() + "' must not contain white space");
  }
  uint8_t mac[6];
  if (!spec.mac().empty() && !fields::parse_mac(spec.mac(), mac))
    return invalid("mac: '" + spec.mac() + "' is not a unicast MAC address like 02:00:00:00:00:01");
  if (grpc::Status s = validate_port_security(spec.allowed_macs(), spec.allowed_ips()); !s.ok())
    return s;
  return validate_port_mac_limit(spec.mac_limit());
}

grpc::Status validate_port_security(const google::protobuf::RepeatedPtrField<std::string>& macs,
                                    const google::protobuf::RepeatedPtrField<std::string>& ips) {
  if (macs.size() > static_cast<int>(kMaxAllowedMacs))
    return invalid("allowed_macs: at most " + std::to_string(kMaxAllowedMacs) + " MACs");
  if (ips.size() > static_cast<int>(kMaxAllowedIps))
    return invalid("allowed_ips: at most " + std::to_string(kMaxAllowedIps) + " prefixes");
  for (const std::string& m : macs) {
    uint8_t mac[6];
    if (!fields::parse_mac(m, mac))
      return invalid("allowed_macs: '" + m +
                     "' is not a unicast MAC address like 02:00:00:00:00:01");
  }
  for (const std::string& text : ips) {
    IpPrefix p;
    const bool host = text.find('/') == std::string::npos;
    IpAddress a;
    if (host ? !parse_ip(text, &a) : !parse_prefix(text, &p))
      return invalid("allowed_ips: '" + text + "' is not an address or a prefix like 10.0.0.0/24");
    if (!host && !(p.address == p.network()))
      return invalid("allowed_ips: '" + text + "' has host bits set (the network is " +
                     p.network_str() + ")");
  }
  return grpc::Status::OK;
}

vswitch::v1::PortSpec normalize_port(const vswitch::v1::PortSpec& spec,
                                     const std::string& run_dir) {
  vswitch::v1::PortSpec out = spec;
  if (out.queues() == 0) out.set_queues(1);
  if (out.type() == "vhost-user" && out.mode().empty()) out.set_mode("server");
  if (out.type() == "vhost-user" && out.socket().empty())
    out.set_socket(run_dir + "/vhost/" + out.name() + ".sock");
  if (out.type() == "tap" && out.iface().empty()) out.set_iface(out.name());
  return out;
}

vswitch::dp::PortConfig to_dataplane(const vswitch::v1::PortSpec& spec) {
  vswitch::dp::PortConfig c;
  c.set_name(spec.name());
  c.set_type(type_of(spec.type()));
  c.set_iface(spec.iface());
  c.set_socket(spec.socket());
  if (spec.mode() == "client")
    c.set_mode(vswitch::dp::VHOST_MODE_CLIENT);
  else if (spec.mode() == "server")
    c.set_mode(vswitch::dp::VHOST_MODE_SERVER);
  c.set_queues(spec.queues());
  c.set_devargs(spec.devargs());
  c.set_mac(spec.mac());
  return c;
}

}  // namespace vsw::ctl
