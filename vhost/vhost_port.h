// vhost-user ports: the devargs for DPDK's net_vhost PMD and the link-state events that
// follow a guest connecting and disconnecting.
//
// Who listens on the socket:
//   server mode: the dataplane creates the socket; the guest (QEMU with reconnect=1, or
//                testpmd's net_virtio_user) connects.
//   client mode: the guest listens (QEMU server=on, testpmd virtio_user server=1); the
//                dataplane connects and, when the guest goes away, keeps reconnecting (the
//                vhost library's reconnect thread does this once the port is created with
//                client=1).
#pragma once

#include <cstdint>
#include <string>

namespace vsw::vhost {

// The largest queue-pair count we ask of a vhost-user port (one per guest vCPU is typical).
inline constexpr uint32_t kMaxQueues = 16;

struct VhostPortSpec {
  std::string vdev_name;  // unique DPDK device name, must start with "net_vhost"
  std::string socket_path;
  bool client_mode = false;
  uint32_t queues = 1;
};

// Devargs for rte_dev_probe(), e.g. "net_vhost_vsw3,iface=/run/vswitch/vhost/vm1.sock,queues=2".
std::string vhost_devargs(const VhostPortSpec& spec);

// Prepares `path` for a server-mode port: a socket file that nobody listens on any more (a
// dataplane killed with -9 leaves it behind, and the vhost library then fails to bind) is
// removed. Returns "" or why the path cannot be used (something else listens on it, or it
// is not a socket). Management thread; makes a connect() attempt.
std::string reclaim_server_socket(const std::string& path);

// Subscribes `port_id` to link-state and queue-state events: each one is logged with the
// port name, so an operator sees guests connecting and disconnecting. The vhost PMD updates
// the link state itself; callers read it with rte_eth_link_get_nowait().
// Call from the management thread after the port is configured; returns 0 or -errno.
int watch_link_events(uint16_t port_id);
// Undoes watch_link_events(); call before the port is closed.
void unwatch_link_events(uint16_t port_id);

}  // namespace vsw::vhost
