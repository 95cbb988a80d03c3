#include "vhost_port.h"

#include <rte_ethdev.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vsw::vhost {

std::string vhost_devargs(const VhostPortSpec& spec) {
  std::string args = spec.vdev_name + ",iface=" + spec.socket_path +
                     ",queues=" + std::to_string(spec.queues == 0 ? 1 : spec.queues);
  if (spec.client_mode) args += ",client=1";
  return args;
}

std::string reclaim_server_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // nothing there: the library creates it
  if (!S_ISSOCK(st.st_mode)) return "socket: '" + path + "' exists and is not a socket";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return "socket: '" + path + "' is too long";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  const int err = errno;
  ::close(fd);
  if (live) return "socket: '" + path + "' is served by another process";
  if (err != ECONNREFUSED) return "socket: '" + path + "' cannot be checked: " + std::strerror(err);
  ::unlink(path.c_str());
  return {};
}

namespace {

// Runs on the vhost library's event thread, not a worker: logging here costs the fast path
// nothing.
int on_link_event(uint16_t port_id, rte_eth_event_type type, void*, void*) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port_id, name);
  if (type == RTE_ETH_EVENT_INTR_LSC) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port_id, &link);
    std::fprintf(stderr, "vsw-dataplane: vhost %s: link %s (guest %s)\n", name,
                 link.link_status ? "up" : "down", link.link_status ? "connected" : "disconnected");
  }
  return 0;
}

}  // namespace

int watch_link_events(uint16_t port_id) {
  return rte_eth_dev_callback_register(port_id, RTE_ETH_EVENT_INTR_LSC, on_link_event, nullptr);
}

void unwatch_link_events(uint16_t port_id) {
  rte_eth_dev_callback_unregister(port_id, RTE_ETH_EVENT_INTR_LSC, on_link_event, nullptr);
}

}  // namespace vsw::vhost
