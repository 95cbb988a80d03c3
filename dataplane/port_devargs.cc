#include "port_devargs.h"

#include <cctype>

#include "port_fields.h"
#include "vhost_port.h"

namespace vsw::dp {

using vswitch::dp::PortConfig;

namespace {

std::string check_iface(const std::string& iface, bool required) {
  if (iface.empty()) return required ? "iface: required for this port type" : "";
  return fields::check_iface_name(iface);
}

// Devargs values cannot carry ',' (it separates arguments).
std::string check_path(const std::string& path) {
  if (path.empty()) return {};
  if (path[0] != '/') return "socket: '" + path + "' must be an absolute path";
  if (path.find(',') != std::string::npos) return "socket: '" + path + "' must not contain ','";
  if (path.size() > fields::kMaxSocketPathLength)
    return "socket: '" + path + "' is longer than a unix socket path allows";
  return {};
}

}  // namespace

DevargsResult build_devargs(const PortConfig& config, const std::string& run_dir, uint32_t unique) {
  DevargsResult r;
  if (std::string err = fields::check_port_name(config.name()); !err.empty()) {
    r.error = err;
    return r;
  }
  const uint32_t queues = queue_pairs(config);
  if (queues > kMaxQueuesPerPort) {
    r.error = "queues: " + std::to_string(queues) + " is more than the limit of " +
              std::to_string(kMaxQueuesPerPort);
    return r;
  }
  uint8_t mac[6];
  if (!config.mac().empty() && !fields::parse_mac(config.mac(), mac)) {
    r.error = "mac: '" + config.mac() + "' is not a unicast MAC address like 02:00:00:00:00:01";
    return r;
  }
  const std::string id = "_vsw" + std::to_string(unique);
  const std::string q = std::to_string(queues);
  switch (config.type()) {
    case vswitch::dp::PORT_TYPE_VHOST_USER: {
      if (std::string err = check_path(config.socket()); !err.empty()) {
        r.error = err;
        return r;
      }
      vhost::VhostPortSpec spec;
      spec.vdev_name = "net_vhost" + id;
      spec.socket_path =
          config.socket().empty() ? run_dir + "/vhost/" + config.name() + ".sock" : config.socket();
      if (spec.socket_path.size() > fields::kMaxSocketPathLength) {
        r.error = "socket: '" + spec.socket_path + "' is longer than a unix socket path allows";
        return r;
      }
      spec.client_mode = config.mode() == vswitch::dp::VHOST_MODE_CLIENT;
      spec.queues = queues;
      r.dev_name = spec.vdev_name;
      r.socket_path = spec.socket_path;
      r.devargs = vhost::vhost_devargs(spec);
      return r;
    }
    case vswitch::dp::PORT_TYPE_TAP: {
      const std::string iface = config.iface().empty() ? config.name() : config.iface();
      if (std::string err = check_iface(iface, true); !err.empty()) {
        r.error =
            config.iface().empty() ? err + " (the tap interface defaults to the port name)" : err;
        return r;
      }
      r.dev_name = "net_tap" + id;
      r.devargs = r.dev_name + ",iface=" + iface;
      if (!config.mac().empty()) r.devargs += ",mac=" + config.mac();
      return r;
    }
    case vswitch::dp::PORT_TYPE_AF_PACKET: {
      if (std::string err = check_iface(config.iface(), true); !err.empty()) {
        r.error = err;
        return r;
      }
      r.dev_name = "net_af_packet" + id;
      r.devargs = r.dev_name + ",iface=" + config.iface() + ",qpairs=" + q;
      return r;
    }
    case vswitch::dp::PORT_TYPE_AF_XDP: {
      if (std::string err = check_iface(config.iface(), true); !err.empty()) {
        r.error = err;
        return r;
      }
      r.dev_name = "net_af_xdp" + id;
      r.devargs = r.dev_name + ",iface=" + config.iface() + ",start_queue=0,queue_count=" + q;
      return r;
    }
    case vswitch::dp::PORT_TYPE_DPDK: {
      const std::string& d = config.devargs();
      if (d.empty()) {
        r.error = "devargs: required for type dpdk (a PCI address or a vdev, e.g. net_null0)";
        return r;
      }
      if (d.find_first_of(" \t\n") != std::string::npos) {
        r.error = "devargs: '" + d + "' must not contain white space";
        return r;
      }
      r.dev_name = d.substr(0, d.find(','));
      r.devargs = d;
      return r;
    }
    case vswitch::dp::PORT_TYPE_RING:
      r.dev_name = "net_ring" + id;
      r.devargs = r.dev_name;
      return r;
    case vswitch::dp::PORT_TYPE_NULL:
      r.dev_name = "net_null" + id;
      r.devargs = r.dev_name;
      return r;
    default:
      r.error =
          "type: " + std::to_string(static_cast<int>(config.type())) + " is not a known port type";
      return r;
  }
}

}  // namespace vsw::dp
