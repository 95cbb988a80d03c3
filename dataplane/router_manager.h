// The router's control side: router interfaces, routes and neighbors. Management thread
// only. Owns the FIB and the neighbor table that workers read, publishes the L3Config, and
// handles what workers punt (router_punt.cc): ARP and ND answers, echo replies, ICMP
// errors (rate-limited), and packets waiting for a neighbor, which it resolves with ARP
// requests / neighbor solicitations and sends back through the workers' inject rings.
//
// Route deletes and replaces wait for an RCU grace period before they return, so the next
// burst already uses the new table (docs/router.md).
#pragma once

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio.h"
#include "dataplane.pb.h"
#include "fib.h"
#include "forwarding_state.h"
#include "l3_config.h"
#include "l3_stage.h"
#include "neighbor.h"
#include "status.h"
#include "worker.h"

namespace vsw::dp {

inline constexpr unsigned kPuntRingSize = 1024;
inline constexpr unsigned kInjectRingSize = 1024;
inline constexpr auto kPuntInterval = std::chrono::milliseconds(1);
inline constexpr auto kNeighborInterval = std::chrono::milliseconds(100);
// ICMP errors: a token bucket per router, as Linux's icmp_ratelimit (1 per ms, burst 50).
inline constexpr uint32_t kIcmpErrorsPerSecond = 1000;
inline constexpr uint32_t kIcmpErrorBurst = 50;

struct RouterOptions {
  flow::FibConfig fib;
  uint32_t neighbors = flow::kDefaultNeighbors;
  flow::NeighborTimers timers;
};

class RouterManager {
 public:
  // `bridge_id` maps a bridge name to its id (kNoBridge when there is none).
  RouterManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu,
                std::vector<WorkerContext*> workers, rte_mempool* pool, RouterOptions options,
                std::function<uint16_t(const std::string&)> bridge_id);
  ~RouterManager();

  // Creates the tables and rings, publishes an empty L3Config, starts the timers.
  std::string init();

  Status rif_add(const vswitch::dp::RouterInterfaceConfig& config);
  Status rif_del(const std::string& name);
  void rif_list(vswitch::dp::RouterInterfaceList* out) const;
  // True when a router interface sits on the bridge (it cannot be deleted then).
  bool bridge_in_use(uint16_t bridge) const;

  Status route_add(const vswitch::dp::Route& route, bool replace);
  Status route_del(const std::string& prefix);
  Status route_batch(const vswitch::dp::RouteBatchRequest& batch,
                     vswitch::dp::RouteBatchResult* out);
  void route_list(vswitch::dp::RouteList* out) const;
  Status route_lookup(const vswitch::dp::RouteLookupRequest& req,
                      vswitch::dp::RouteLookupResult* out) const;
  void neighbor_list(vswitch::dp::NeighborList* out) const;
  void router_stats(vswitch::dp::RouterStats* out) const;

  // Handles what the workers punted (the timer does it every kPuntInterval).
  void drain_punts();
  // Runs the neighbor timers now (the timer does it every kNeighborInterval).
  void neighbor_tick();

  const flow::Fib& fib() const { return *fib_; }

 private:
  struct Rif {
    std::string name;
    uint16_t id = 0;
    uint16_t bridge = 0;
    std::string bridge_name;
    uint8_t mac[6] = {};
    std::vector<flow::Prefix> addresses;  // address (host bits kept) and subnet length
  };

  // ---- configuration (router_manager.cc) ----
  const Rif* find(const std::string& name) const;
  const Rif* by_id(uint16_t id) const;
  const Rif* owner_of_connected(const flow::Prefix& prefix) const;
  Status parse_route(const vswitch::dp::Route& route, flow::Prefix* prefix,
                     std::vector<flow::NextHop>* hops) const;
  Status apply_add(const vswitch::dp::Route& route, bool replace);
  Status apply_del(const std::string& prefix);
  void publish();
  void wait_grace_period() { rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID); }
  void describe(const std::vector<flow::NextHop>& hops,
                google::protobuf::RepeatedPtrField<vswitch::dp::NextHop>* out) const;

  // ---- packets (router_punt.cc) ----
  void handle(const L3Punt& p, uint64_t now);
  void handle_arp(const Rif& rif, rte_mbuf* m, uint64_t now);
  void handle_nd(const Rif& rif, rte_mbuf* m, uint64_t now);
  void handle_local(const Rif& rif, rte_mbuf* m, uint64_t now);
  void handle_error(const Rif& rif, rte_mbuf* m, bool ttl);
  void resolve(const L3Punt& p, uint64_t now);
  void learn(const flow::NeighborKey& key, const uint8_t mac[6], bool solicited, bool create,
             uint64_t now);
  void send_request(const flow::NeighborRequest& r);
  // Sends `m` into the bridge towards `dst` (a flood for group addresses or unknown MACs).
  void send(rte_mbuf* m, uint16_t bridge, const uint8_t dst[6]);
  // The rif address of `family` on the subnet holding `peer` (else the first one).
  bool source_for(const Rif& rif, const flow::IpAddr& peer, flow::IpAddr* out) const;
  bool take_icmp_token(uint64_t now);
  void schedule_punts();
  void schedule_neighbors();

  boost::asio::io_context& io_;
  ForwardingState& fwd_;
  rte_rcu_qsbr* rcu_;
  std::vector<WorkerContext*> workers_;
  rte_mempool* pool_;
  RouterOptions options_;
  std::function<uint16_t(const std::string&)> bridge_id_;
  std::unique_ptr<flow::Fib> fib_;
  std::unique_ptr<flow::NeighborTable> neighbors_;
  std::vector<rte_ring*> punt_rings_, inject_rings_;
  unsigned next_inject_ = 0;
  std::map<std::string, Rif> rifs_;
  uint32_t generation_ = 0;
  std::unique_ptr<flow::L3Config> published_;
  boost::asio::steady_timer punt_timer_;
  boost::asio::steady_timer neighbor_timer_;
  double icmp_tokens_ = kIcmpErrorBurst;
  uint64_t icmp_refill_ = 0;
  struct {
    uint64_t arp_replies = 0, nd_replies = 0, echo_replies = 0, icmp_errors = 0,
             icmp_rate_limited = 0, requests_sent = 0, inject_dropped = 0;
  } counters_;
};

}  // namespace vsw::dp
