#include "port_manager.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <cstdio>
#include <cstring>

#include "log.h"
#include "port_devargs.h"
#include "vhost_port.h"

namespace vsw::dp {

using vswitch::dp::ERROR_CODE_ALREADY_EXISTS;
using vswitch::dp::ERROR_CODE_FAILED_PRECONDITION;
using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
using vswitch::dp::ERROR_CODE_NOT_FOUND;
using vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED;

namespace {

std::string dpdk_error(int rc) {
  return std::strerror(rc < 0 ? -rc : rc);
}

}  // namespace

PortManager::PortManager(std::string run_dir, rte_mempool* pool, ForwardingState& fwd,
                         std::vector<WorkerContext*> workers, rte_rcu_qsbr* rcu)
    : run_dir_(std::move(run_dir)),
      pool_(pool),
      fwd_(fwd),
      workers_(std::move(workers)),
      rcu_(rcu),
      assignment_(workers_.size()) {
  plans_.resize(workers_.size());
  for (PortForwarding& pf : fwd_.ports) {
    for (rte_spinlock_t& lock : pf.tx_lock) rte_spinlock_init(&lock);
  }
}

PortManager::~PortManager() {
  remove_all();
  // Workers keep polling until main stops them: take the (now empty) plans away from them
  // before they are freed.
  for (WorkerContext* w : workers_) w->plan.store(nullptr, std::memory_order_release);
  wait_grace_period();
}

Status PortManager::add(const vswitch::dp::PortConfig& config, vswitch::dp::PortStatus* out) {
  if (ports_.count(config.name()))
    return Status::Error(ERROR_CODE_ALREADY_EXISTS, "name: port '" + config.name() + "' exists");
  if (ports_.size() >= kMaxPorts)
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         "ports: the limit of " + std::to_string(kMaxPorts) + " is reached");
  DevargsResult d = build_devargs(config, run_dir_, next_unique_++);
  if (!d.ok()) return Status::Error(ERROR_CODE_INVALID_ARGUMENT, d.error);
  for (const auto& [name, p] : ports_) {
    const bool same_iface = !config.iface().empty() && p.config.type() == config.type() &&
                            p.config.iface() == config.iface();
    if (p.dev_name == d.dev_name || same_iface)
      return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                           "iface: '" + (same_iface ? config.iface() : d.dev_name) +
                               "' is already used by port '" + name + "'");
    if (config.type() == vswitch::dp::PORT_TYPE_VHOST_USER && p.devargs == d.devargs)
      return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                           "socket: already used by port '" + name + "'");
  }

  if (config.type() == vswitch::dp::PORT_TYPE_VHOST_USER &&
      config.mode() != vswitch::dp::VHOST_MODE_CLIENT) {
    if (std::string err = vhost::reclaim_server_socket(d.socket_path); !err.empty())
      return Status::Error(ERROR_CODE_FAILED_PRECONDITION, err);
  }
  int rc = rte_dev_probe(d.devargs.c_str());
  if (rc != 0)
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "device '" + d.devargs + "' cannot be created: " + dpdk_error(rc));
  Port port;
  port.config = config;
  port.devargs = d.devargs;
  port.dev_name = d.dev_name;
  uint16_t port_id = kNoPort;
  if (rte_eth_dev_get_port_by_name(d.dev_name.c_str(), &port_id) != 0) {
    rte_dev_iterator it;
    if (rte_eth_iterator_init(&it, d.devargs.c_str()) == 0) {
      port_id = rte_eth_iterator_next(&it);
      rte_eth_iterator_cleanup(&it);
    }
  }
  if (port_id == kNoPort || port_id >= kMaxPorts) {
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "device '" + d.devargs + "' was probed but has no ethdev port");
  }
  port.port_id = port_id;
  rte_eth_dev_info info{};
  rte_eth_dev_info_get(port_id, &info);
  port.bus_name = rte_bus_name(rte_dev_bus(info.device));
  port.dev_name = rte_dev_name(info.device);

  // From here on a failure must tear the device down again.
  auto fail = [&](const std::string& what, int code) {
    destroy_device(port);
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "port '" + config.name() + "': " + what + ": " + dpdk_error(code));
  };
  const uint32_t want_rx = queue_pairs(config);
  if (want_rx > info.max_rx_queues) {
    destroy_device(port);
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "queues: " + std::to_string(want_rx) +
                                                          " is more than the device's " +
                                                          std::to_string(info.max_rx_queues));
  }
  port.rx_queues = static_cast<uint16_t>(want_rx);
  uint32_t want_tx = std::max<uint32_t>(want_rx, static_cast<uint32_t>(workers_.size()));
  want_tx = std::min<uint32_t>({want_tx, info.max_tx_queues, kMaxTxQueues});
  port.tx_queues = static_cast<uint16_t>(want_tx);

  rte_eth_conf conf{};
  if (*info.dev_flags & RTE_ETH_DEV_INTR_LSC) conf.intr_conf.lsc = 1;
  if ((rc = rte_eth_dev_configure(port_id, port.rx_queues, port.tx_queues, &conf)) != 0)
    return fail("configure", rc);
  uint16_t rx_desc = kRxDescriptors, tx_desc = kTxDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned numa = socket < 0 ? 0 : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < port.rx_queues; ++q) {
    if ((rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, numa, nullptr, pool_)) != 0)
      return fail("receive queue " + std::to_string(q), rc);
  }
  for (uint16_t q = 0; q < port.tx_queues; ++q) {
    if ((rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, numa, nullptr)) != 0)
      return fail("transmit queue " + std::to_string(q), rc);
  }
  // A tap takes its MAC through devargs; a vhost-user port's MAC is the guest's (QEMU puts it
  // on the virtio-net device), the vhost PMD has none to set.
  uint8_t mac[6];
  const bool mac_on_device = config.type() != vswitch::dp::PORT_TYPE_TAP &&
                             config.type() != vswitch::dp::PORT_TYPE_VHOST_USER;
  if (!config.mac().empty() && mac_on_device && fields::parse_mac(config.mac(), mac)) {
    rte_ether_addr addr;
    std::memcpy(addr.addr_bytes, mac, 6);
    if ((rc = rte_eth_dev_default_mac_addr_set(port_id, &addr)) != 0)
      return fail("set mac " + config.mac(), rc);
  }
  // A switch port must see every destination MAC; some devices (vhost) have no filter at all.
  rte_eth_promiscuous_enable(port_id);
  if (conf.intr_conf.lsc) port.watching_link = vhost::watch_link_events(port_id) == 0;

  PortForwarding& pf = fwd_.ports[port_id];
  pf.xconnect_peer.store(kNoPort, std::memory_order_relaxed);
  pf.tx_shared = port.tx_queues < workers_.size();
  for (unsigned w = 0; w < kMaxWorkers; ++w)
    pf.tx_queue[w] = static_cast<uint16_t>(w % port.tx_queues);

  if ((rc = rte_eth_dev_start(port_id)) != 0) return fail("start", rc);
  port.baseline = sum_counters(port_id);
  const std::string name = config.name();
  auto& stored = ports_[name] = std::move(port);
  publish_plans();
  log(LogLevel::kInfo, "port %s added: %s (port %u, %u rx / %u tx queues%s)", name.c_str(),
      stored.devargs.c_str(), stored.port_id, stored.rx_queues, stored.tx_queues,
      pf.tx_shared ? ", tx queues shared by workers" : "");
  if (out) fill_status(stored, out);
  return Status::Ok();
}

Status PortManager::remove(const std::string& name) {
  auto it = ports_.find(name);
  if (it == ports_.end())
    return Status::Error(ERROR_CODE_NOT_FOUND, "name: no port '" + name + "'");
  if (!it->second.xconnect_peer.empty()) xconnect_del(name);
  fwd_.ports[it->second.port_id].security.store(nullptr, std::memory_order_release);
  Port port = std::move(it->second);
  ports_.erase(it);
  publish_plans();  // waits for the grace period: no worker polls or sends to the port now
  destroy_device(port);
  log(LogLevel::kInfo, "port %s removed", name.c_str());
  return Status::Ok();
}

Status PortManager::set_security(const std::string& name, const std::vector<std::string>& macs,
                                 const std::vector<std::string>& ips) {
  auto it = ports_.find(name);
  if (it == ports_.end())
    return Status::Error(ERROR_CODE_NOT_FOUND, "name: no port '" + name + "'");
  Port& port = it->second;
  std::unique_ptr<PortSecurity> next;
  if (!macs.empty() || !ips.empty()) {
    next = std::make_unique<PortSecurity>();
    if (std::string err = build_port_security(macs, ips, next.get()); !err.empty())
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT, err);
  }
  fwd_.ports[port.port_id].security.store(next.get(), std::memory_order_release);
  wait_grace_period();  // no worker still reads the old table
  port.security = std::move(next);
  port.allowed_macs = macs;
  port.allowed_ips = ips;
  log(LogLevel::kInfo, "port %s: port security %s (%zu MAC(s), %zu prefix(es))", name.c_str(),
      port.security ? "on" : "off", macs.size(), ips.size());
  return Status::Ok();
}

void PortManager::remove_all() {
  while (!ports_.empty()) {
    const std::string name = ports_.begin()->first;  // remove() erases the key it is given
    remove(name);
  }
}

namespace {

// DPDK 22.11's ring PMD creates RTE_PMD_RING_MAX_RX_RINGS (16, private to
// drivers/net/ring/rte_eth_ring.c) rings "ETH_RXTX<i>_<device>" for a device made from plain
// devargs, but its close frees only the configured queues' rings: every ring port added and
// removed leaked 15 rings, memzones included, until RTE_MAX_MEMZONE (2560) was reached after
// ~170 ports and no port of any kind could be created any more (found by the soak,
// docs/soak.md). Free what the PMD left; a ring it did free is no longer found.
constexpr unsigned kRingPmdRings = 16;

void free_ring_pmd_leftovers(const std::string& dev_name) {
  if (dev_name.rfind("net_ring", 0) != 0) return;
  for (unsigned i = 0; i < kRingPmdRings; ++i) {
    char name[RTE_RING_NAMESIZE];
    std::snprintf(name, sizeof(name), "ETH_RXTX%u_%s", i, dev_name.c_str());
    rte_ring_free(rte_ring_lookup(name));
  }
}

}  // namespace

void PortManager::destroy_device(Port& port) {
  if (port.watching_link) vhost::unwatch_link_events(port.port_id);
  rte_eth_dev_stop(port.port_id);
  rte_eth_dev_close(port.port_id);
  if (!port.bus_name.empty()) {
    if (int rc = rte_eal_hotplug_remove(port.bus_name.c_str(), port.dev_name.c_str()); rc != 0)
      log(LogLevel::kWarning, "port %s: removing device %s: %s", port.config.name().c_str(),
          port.dev_name.c_str(), dpdk_error(rc).c_str());
  }
  free_ring_pmd_leftovers(port.dev_name);
}

Status PortManager::xconnect_add(const std::string& a, const std::string& b) {
  auto ia = ports_.find(a);
  if (ia == ports_.end()) return Status::Error(ERROR_CODE_NOT_FOUND, "port_a: no port '" + a + "'");
  auto ib = ports_.find(b);
  if (ib == ports_.end()) return Status::Error(ERROR_CODE_NOT_FOUND, "port_b: no port '" + b + "'");
  if (a == b)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "port_b: '" + b + "' is also port_a");
  if (!ia->second.xconnect_peer.empty())
    return Status::Error(
        ERROR_CODE_ALREADY_EXISTS,
        "port_a: '" + a + "' is already cross-connected to '" + ia->second.xconnect_peer + "'");
  if (!ib->second.xconnect_peer.empty())
    return Status::Error(
        ERROR_CODE_ALREADY_EXISTS,
        "port_b: '" + b + "' is already cross-connected to '" + ib->second.xconnect_peer + "'");
  ia->second.xconnect_peer = b;
  ib->second.xconnect_peer = a;
  fwd_.ports[ia->second.port_id].xconnect_peer.store(ib->second.port_id, std::memory_order_release);
  fwd_.ports[ib->second.port_id].xconnect_peer.store(ia->second.port_id, std::memory_order_release);
  log(LogLevel::kInfo, "xconnect %s <-> %s", a.c_str(), b.c_str());
  return Status::Ok();
}

Status PortManager::xconnect_del(const std::string& name) {
  auto it = ports_.find(name);
  if (it == ports_.end())
    return Status::Error(ERROR_CODE_NOT_FOUND, "port: no port '" + name + "'");
  if (it->second.xconnect_peer.empty())
    return Status::Error(ERROR_CODE_NOT_FOUND, "port: '" + name + "' is not cross-connected");
  Port& peer = ports_.at(it->second.xconnect_peer);
  fwd_.ports[it->second.port_id].xconnect_peer.store(kNoPort, std::memory_order_release);
  fwd_.ports[peer.port_id].xconnect_peer.store(kNoPort, std::memory_order_release);
  log(LogLevel::kInfo, "xconnect %s <-> %s removed", name.c_str(), peer.config.name().c_str());
  peer.xconnect_peer.clear();
  it->second.xconnect_peer.clear();
  wait_grace_period();
  return Status::Ok();
}

void PortManager::xconnect_list(vswitch::dp::XconnectList* out) const {
  for (const auto& [name, p] : ports_) {
    if (p.xconnect_peer.empty() || p.xconnect_peer < name) continue;  // each pair once
    auto* x = out->add_xconnects();
    x->set_port_a(name);
    x->set_port_b(p.xconnect_peer);
  }
}

PortManager::Baseline PortManager::sum_counters(uint16_t port_id) const {
  Baseline b;
  for (const WorkerContext* w : workers_) {
    const PortCounters& c = w->ports[port_id];
    b.rx_packets += c.rx_packets.load(std::memory_order_relaxed);
    b.rx_bytes += c.rx_bytes.load(std::memory_order_relaxed);
    b.tx_packets += c.tx_packets.load(std::memory_order_relaxed);
    b.tx_bytes += c.tx_bytes.load(std::memory_order_relaxed);
    b.tx_full += c.tx_full.load(std::memory_order_relaxed);
    b.tx_mtu_exceeded += c.tx_mtu_exceeded.load(std::memory_order_relaxed);
    b.malformed += c.malformed.load(std::memory_order_relaxed);
    b.no_destination += c.no_destination.load(std::memory_order_relaxed);
    b.unknown_vlan += c.unknown_vlan.load(std::memory_order_relaxed);
    b.flooded += c.flooded.load(std::memory_order_relaxed);
    b.port_security += c.port_security.load(std::memory_order_relaxed);
    for (size_t v = 0; v < std::size(b.acl_drops); ++v)
      b.acl_drops[v] += c.acl_drops[v].load(std::memory_order_relaxed);
  }
  return b;
}

void PortManager::fill_status(const Port& port, vswitch::dp::PortStatus* out) const {
  *out->mutable_config() = port.config;
  out->set_port_id(port.port_id);
  out->set_devargs(port.devargs);
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port.port_id, &mac) == 0)
    out->set_mac(fields::format_mac(mac.addr_bytes));
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port.port_id, &link) == 0) {
    out->set_link_up(link.link_status == RTE_ETH_LINK_UP);
    if (link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) out->set_link_speed_mbps(link.link_speed);
  }
  out->set_rx_queues(port.rx_queues);
  out->set_tx_queues(port.tx_queues);
  const Baseline now = sum_counters(port.port_id);
  const Baseline& base = port.baseline;
  out->set_rx_packets(now.rx_packets - base.rx_packets);
  out->set_rx_bytes(now.rx_bytes - base.rx_bytes);
  out->set_tx_packets(now.tx_packets - base.tx_packets);
  out->set_tx_bytes(now.tx_bytes - base.tx_bytes);
  auto* drops = out->mutable_drops();
  rte_eth_stats stats{};
  if (rte_eth_stats_get(port.port_id, &stats) == 0) drops->set_no_mbufs(stats.rx_nombuf);
  drops->set_tx_full(now.tx_full - base.tx_full);
  drops->set_tx_mtu_exceeded(now.tx_mtu_exceeded - base.tx_mtu_exceeded);
  drops->set_malformed(now.malformed - base.malformed);
  drops->set_no_destination(now.no_destination - base.no_destination);
  drops->set_unknown_vlan(now.unknown_vlan - base.unknown_vlan);
  auto acl_drop = [&](acl::AclVerdict v) {
    const auto i = static_cast<size_t>(v) - 1;
    return now.acl_drops[i] - base.acl_drops[i];
  };
  drops->set_acl_deny(acl_drop(acl::AclVerdict::kDeny));
  drops->set_ct_invalid(acl_drop(acl::AclVerdict::kInvalid));
  drops->set_ct_revoked(acl_drop(acl::AclVerdict::kRevoked));
  drops->set_ct_limit(acl_drop(acl::AclVerdict::kLimit));
  drops->set_ct_full(acl_drop(acl::AclVerdict::kFull));
  drops->set_port_security(now.port_security - base.port_security);
  for (const auto& m : port.allowed_macs) out->add_allowed_macs(m);
  for (const auto& ip : port.allowed_ips) out->add_allowed_ips(ip);
  out->set_flooded(now.flooded - base.flooded);
  out->set_xconnect_peer(port.xconnect_peer);
}

uint16_t PortManager::port_id(const std::string& name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? kNoPort : it->second.port_id;
}

std::string PortManager::name_of(uint16_t port_id) const {
  for (const auto& [name, p] : ports_) {
    if (p.port_id == port_id) return name;
  }
  return {};
}

bool PortManager::cross_connected(const std::string& name) const {
  auto it = ports_.find(name);
  return it != ports_.end() && !it->second.xconnect_peer.empty();
}

void PortManager::port_list(vswitch::dp::PortList* out) const {
  for (const auto& [name, p] : ports_) fill_status(p, out->add_ports());
}

Status PortManager::port_status(const std::string& name, vswitch::dp::PortStatus* out) const {
  auto it = ports_.find(name);
  if (it == ports_.end())
    return Status::Error(ERROR_CODE_NOT_FOUND, "name: no port '" + name + "'");
  fill_status(it->second, out);
  return Status::Ok();
}

void PortManager::worker_stats(
    google::protobuf::RepeatedPtrField<vswitch::dp::WorkerStats>* out) const {
  std::map<uint16_t, std::string> names;
  for (const auto& [name, p] : ports_) names[p.port_id] = name;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const WorkerContext& w = *workers_[i];
    auto* s = out->Add();
    s->set_worker(w.index);
    s->set_lcore(w.lcore);
    s->set_loops(w.loops.load(std::memory_order_relaxed));
    s->set_busy_loops(w.busy_loops.load(std::memory_order_relaxed));
    s->set_packets(w.packets.load(std::memory_order_relaxed));
    s->set_busy_cycles(w.busy_cycles.load(std::memory_order_relaxed));
    s->set_learn_dropped(w.learn_dropped.load(std::memory_order_relaxed));
    s->set_acl_tracked(w.acl.tracked.load(std::memory_order_relaxed));
    s->set_acl_classified(w.acl.classified.load(std::memory_order_relaxed));
    s->set_acl_rechecked(w.acl.rechecked.load(std::memory_order_relaxed));
    for (const RxQueueRef& q : assignment_[i])
      s->add_rx_queues(names[q.port] + "/" + std::to_string(q.queue));
  }
}

void PortManager::publish_plans() {
  std::vector<RxQueueRef> wanted;
  for (const auto& [name, p] : ports_) {
    for (uint16_t q = 0; q < p.rx_queues; ++q) wanted.push_back({p.port_id, q});
  }
  assignment_ = assign_queues(assignment_, wanted, workers_.size());
  std::vector<std::unique_ptr<WorkerPlan>> retired;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    auto plan = std::make_unique<WorkerPlan>();
    for (const RxQueueRef& q : assignment_[w]) plan->queues[plan->count++] = q;
    workers_[w]->plan.store(plan.get(), std::memory_order_release);
    retired.push_back(std::move(plans_[w]));
    plans_[w] = std::move(plan);
  }
  wait_grace_period();
  // `retired` is freed here, after every worker stopped using it.
}

void PortManager::wait_grace_period() {
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
}

}  // namespace vsw::dp
