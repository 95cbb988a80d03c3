#include "vhost_port.h"

#include <rte_ethdev.h>

#include <cstdio>

namespace vsw::vhost {

std::string vhost_devargs(const VhostPortSpec& spec) {
  std::string args = spec.vdev_name + ",iface=" + spec.socket_path +
                     ",queues=" + std::to_string(spec.queues == 0 ? 1 : spec.queues);
  if (spec.client_mode) args += ",client=1";
  return args;
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
