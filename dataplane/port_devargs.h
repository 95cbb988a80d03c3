// Turns an operator's port description into the DPDK devargs to probe. Pure: unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane.pb.h"
#include "port_fields.h"

namespace vsw::dp {

inline constexpr uint32_t kMaxQueuesPerPort = fields::kMaxQueuesPerPort;

struct DevargsResult {
  bool ok() const { return error.empty(); }
  std::string devargs;      // for rte_dev_probe()
  std::string dev_name;     // the device (and, for vdevs, ethdev) name
  std::string socket_path;  // vhost-user: the socket
  std::string error;        // names the field and the value when !ok()
};

// `unique` makes vdev names unique within the process (ports may reuse operator names after
// a delete while the old device is still being torn down). `run_dir` holds default vhost
// sockets (RUN/vhost/NAME.sock).
DevargsResult build_devargs(const vswitch::dp::PortConfig& config, const std::string& run_dir,
                            uint32_t unique);

// Queue pairs a port gets: config.queues, with 0 meaning 1.
inline uint32_t queue_pairs(const vswitch::dp::PortConfig& config) {
  return config.queues() == 0 ? 1 : config.queues();
}

}  // namespace vsw::dp
