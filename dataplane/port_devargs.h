// Turns an operator's port description into the DPDK devargs to probe. Pure: unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane.pb.h"

namespace vsw::dp {

// Port names are the operator's; they also name vhost sockets and tap interfaces.
inline constexpr std::size_t kMaxPortNameLength = 32;
inline constexpr uint32_t kMaxQueuesPerPort = 16;
// Linux IFNAMSIZ - 1.
inline constexpr std::size_t kMaxIfaceNameLength = 15;

struct DevargsResult {
  bool ok() const { return error.empty(); }
  std::string devargs;   // for rte_dev_probe()
  std::string dev_name;  // the device (and, for vdevs, ethdev) name
  std::string error;     // names the field and the value when !ok()
};

// `unique` makes vdev names unique within the process (ports may reuse operator names after
// a delete while the old device is still being torn down). `run_dir` holds default vhost
// sockets (RUN/vhost/NAME.sock).
DevargsResult build_devargs(const vswitch::dp::PortConfig& config, const std::string& run_dir,
                            uint32_t unique);

// Checks the name: 1..32 of [A-Za-z0-9_.-]. Returns an error message or "".
std::string check_port_name(const std::string& name);

// "aa:bb:cc:dd:ee:ff" into 6 bytes. Returns false on any other form, and for multicast.
bool parse_mac(const std::string& text, uint8_t out[6]);

// Queue pairs a port gets: config.queues, with 0 meaning 1.
inline uint32_t queue_pairs(const vswitch::dp::PortConfig& config) {
  return config.queues() == 0 ? 1 : config.queues();
}

}  // namespace vsw::dp
