// Adds and removes ports while traffic runs, owns the cross-connects and assigns receive
// queues to workers. Management thread only.
#pragma once

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane.pb.h"
#include "forwarding_state.h"
#include "port_security.h"
#include "queue_assignment.h"
#include "status.h"
#include "worker.h"

namespace vsw::dp {

// Receive and transmit descriptors per queue. Kept small: every receive descriptor of every
// port pins an mbuf of the shared pool.
inline constexpr uint16_t kRxDescriptors = 512;
inline constexpr uint16_t kTxDescriptors = 512;

class PortManager {
 public:
  PortManager(std::string run_dir, rte_mempool* pool, ForwardingState& fwd,
              std::vector<WorkerContext*> workers, rte_rcu_qsbr* rcu);
  ~PortManager();

  // Probes the device, configures one receive queue per queue pair and one transmit queue
  // per worker (fewer when the device has fewer: then workers share them), starts it and
  // hands its queues to workers. Errors: INVALID_ARGUMENT (bad field), ALREADY_EXISTS (name
  // or device in use), RESOURCE_EXHAUSTED (port limit), FAILED_PRECONDITION (the device
  // cannot be created; the message carries DPDK's reason).
  Status add(const vswitch::dp::PortConfig& config, vswitch::dp::PortStatus* out);
  // Removes the port, and its cross-connect if any, without pausing other ports.
  Status remove(const std::string& name);
  void remove_all();

  Status xconnect_add(const std::string& a, const std::string& b);
  Status xconnect_del(const std::string& name);
  void xconnect_list(vswitch::dp::XconnectList* out) const;

  void port_list(vswitch::dp::PortList* out) const;
  // The packet mbuf pool every port receives into.
  rte_mempool* pool() const { return pool_; }
  // The DPDK port id of a port, or kNoPort.
  uint16_t port_id(const std::string& name) const;
  // The operator's name of a port id, or "" (for listings).
  std::string name_of(uint16_t port_id) const;
  bool cross_connected(const std::string& name) const;
  // Replaces the port's allowed sources (both lists empty: no port security). The old table
  // is freed after a grace period. INVALID_ARGUMENT names allowed_macs or allowed_ips.
  Status set_security(const std::string& name, const std::vector<std::string>& macs,
                      const std::vector<std::string>& ips);
  Status port_status(const std::string& name, vswitch::dp::PortStatus* out) const;
  void worker_stats(google::protobuf::RepeatedPtrField<vswitch::dp::WorkerStats>* out) const;

 private:
  struct Baseline {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    uint64_t tx_full = 0, tx_mtu_exceeded = 0, malformed = 0, no_destination = 0;
    uint64_t unknown_vlan = 0, flooded = 0;
    uint64_t port_security = 0;
    uint64_t acl_drops[static_cast<int>(acl::AclVerdict::kCount) - 1] = {};
  };
  struct Port {
    vswitch::dp::PortConfig config;
    uint16_t port_id = kNoPort;
    std::string devargs;
    std::string dev_name;
    std::string bus_name;
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
    std::string xconnect_peer;
    Baseline baseline;
    bool watching_link = false;
    // Port security as configured, and what workers read (published in PortForwarding).
    std::vector<std::string> allowed_macs, allowed_ips;
    std::unique_ptr<PortSecurity> security;
  };

  Baseline sum_counters(uint16_t port_id) const;
  void fill_status(const Port& port, vswitch::dp::PortStatus* out) const;
  // Recomputes which worker polls which queue and publishes the new plans.
  void publish_plans();
  // Waits until every worker has passed a quiescent state: after this no worker holds a
  // pointer, peer or packet it read before the call.
  void wait_grace_period();
  void destroy_device(Port& port);

  std::string run_dir_;
  rte_mempool* pool_;
  ForwardingState& fwd_;
  std::vector<WorkerContext*> workers_;
  rte_rcu_qsbr* rcu_;
  std::map<std::string, Port> ports_;
  QueueAssignment assignment_;
  std::vector<std::unique_ptr<WorkerPlan>> plans_;  // [worker], the published ones
  uint32_t next_unique_ = 0;
};

}  // namespace vsw::dp
