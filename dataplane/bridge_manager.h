// Bridges, attachments and the FDB: the control side of L2 switching. Management thread
// only. Publishes the L2Config that workers read, drains the workers' learn reports, ages
// MACs, and answers the bridge, mac and flow requests.
//
// Every change that can make a forwarding decision wrong (MAC delete, flush, detach, port
// removal, bridge delete) waits for an RCU grace period before it returns, so the next burst
// after the call already sees it: cached flows carry generations and miss from then on.
#pragma once

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio.h"
#include "dataplane.pb.h"
#include "fdb.h"
#include "forwarding_state.h"
#include "l2_config.h"
#include "status.h"
#include "worker.h"

namespace vsw::dp {

inline constexpr uint32_t kDefaultAgingSeconds = 300;
inline constexpr uint32_t kDefaultBridgeMacLimit = 8192;
inline constexpr unsigned kLearnRingSize = 4096;
inline constexpr auto kLearnInterval = std::chrono::milliseconds(2);
inline constexpr auto kAgingInterval = std::chrono::seconds(1);

class BridgeManager {
 public:
  // `port_name` maps a port id to the operator's name (for listings).
  BridgeManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu,
                std::vector<WorkerContext*> workers,
                std::function<std::string(uint16_t)> port_name);
  ~BridgeManager();

  // Creates the FDB and the learn rings and starts the timers. Returns an error message.
  std::string init();

  Status bridge_add(const vswitch::dp::BridgeConfig& config);
  Status bridge_set(const vswitch::dp::BridgeConfig& config);
  Status bridge_del(const std::string& name);
  void bridge_list(vswitch::dp::BridgeList* out) const;
  Status attach(const std::string& bridge, const std::string& port, uint16_t port_id,
                uint32_t vlan);
  Status detach(const std::string& bridge, const std::string& port, uint16_t port_id);

  // The bridge's id, or flow::kNoBridge.
  uint16_t bridge_id(const std::string& name) const {
    const Bridge* b = find(name);
    return b ? b->id : flow::kNoBridge;
  }
  // True when the port is attached to any bridge.
  bool attached(uint16_t port_id) const;
  // Detaches the port everywhere and forgets its MACs; call before the port is torn down.
  void port_removed(uint16_t port_id);
  void set_port_mac_limit(uint16_t port_id, uint32_t limit);
  void fill_port(uint16_t port_id, vswitch::dp::PortStatus* out) const;

  Status mac_add(const std::string& bridge, const std::string& mac, const std::string& port,
                 uint16_t port_id);
  Status mac_del(const std::string& bridge, const std::string& mac);
  Status mac_flush(const std::string& bridge);
  Status mac_list(const std::string& bridge, vswitch::dp::MacList* out) const;

  void flow_list(uint32_t max, vswitch::dp::FlowList* out) const;
  void flow_stats(vswitch::dp::FlowStats* out) const;

  // Processes pending learn reports now (the timer does it every kLearnInterval).
  void drain_learn();
  // Removes MACs not seen for their bridge's aging time (the timer runs it every second).
  void age();

 private:
  struct Bridge {
    std::string name;
    uint16_t id = 0;
    uint32_t aging_seconds = kDefaultAgingSeconds;
    uint32_t mac_limit = kDefaultBridgeMacLimit;
    std::vector<flow::BridgeMember> members;
    uint32_t macs = 0;
    uint64_t learned = 0, moves = 0, aged = 0, limit_drops = 0;
  };
  struct PortL2State {
    uint32_t mac_limit = 0;
    uint32_t macs = 0;
    uint64_t limit_drops = 0;
  };

  Bridge* find(const std::string& name);
  const Bridge* find(const std::string& name) const;
  Bridge* by_id(uint16_t id);
  // Builds and publishes a new L2Config (generation + 1) and waits for the grace period.
  void publish();
  void wait_grace_period() { rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID); }
  // Removes FDB entries matching `pred`; keeps the counts right (`aging`: count them as aged).
  void remove_macs(const std::function<bool(const flow::FdbKey&, const flow::FdbEntry&)>& pred,
                   bool aging = false);
  void learn(const flow::LearnEvent& ev, uint64_t now);
  void schedule_learn();
  void schedule_aging();
  // A routed flow-cache entry built on an older FIB, L3 configuration or neighbor.
  bool routed_stale(const flow::FlowEntry& e) const;

  boost::asio::io_context& io_;
  ForwardingState& fwd_;
  rte_rcu_qsbr* rcu_;
  std::vector<WorkerContext*> workers_;
  std::function<std::string(uint16_t)> port_name_;
  std::unique_ptr<flow::Fdb> fdb_;
  std::vector<rte_ring*> rings_;
  std::map<std::string, Bridge> bridges_;
  PortL2State ports_[kMaxPorts];
  uint32_t generation_ = 0;
  std::unique_ptr<flow::L2Config> published_;
  boost::asio::steady_timer learn_timer_;
  boost::asio::steady_timer aging_timer_;
};

}  // namespace vsw::dp
