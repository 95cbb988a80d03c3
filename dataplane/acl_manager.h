// The ACL's control side: a PortAcl per port, published to workers through
// PortForwarding::acl, the one Conntrack all workers share, and the timer that expires
// connections and frees replaced rule sets. Management thread only.
//
// Publication: a port's PortAcl is created, its rule sets compiled, then its pointer stored
// (release). Removing it (the port's last rule gone, or the port deleted) clears the
// pointer, waits for an RCU grace period, frees it and flushes the port's connections.
// Rule changes go through AclSet::update (a new rte_acl context, the old one retired and
// freed by the timer's reclaim once no worker can hold it). Nothing ever pauses traffic.
#pragma once

#include <rte_rcu_qsbr.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acl_filter.h"
#include "asio.h"
#include "dataplane.pb.h"
#include "forwarding_state.h"
#include "status.h"

namespace vsw::dp {

inline constexpr auto kConntrackInterval = std::chrono::milliseconds(10);
// Key positions the expiry timer looks at per tick: 4096 every 10 ms walks a 65536-entry
// table in 160 ms, and no tick touches more than 4096 entries.
inline constexpr uint32_t kExpireBudget = 4096;
inline constexpr uint32_t kDefaultCtCapacity = 65536;
inline constexpr uint32_t kMaxCtCapacity = 1u << 24;

struct AclOptions {
  uint32_t ct_capacity = kDefaultCtCapacity;  // per worker table
  uint32_t ct_limit = 0;                      // 0: the capacity
};

class AclManager {
 public:
  // `port_name` maps a port id to the operator's name (for listings).
  AclManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu, unsigned workers,
             AclOptions options, std::function<std::string(uint16_t)> port_name);
  ~AclManager();
  AclManager(const AclManager&) = delete;
  AclManager& operator=(const AclManager&) = delete;

  // Creates the conntrack tables, publishes them, starts the timer. An error message or "".
  std::string init();

  // Replaces port `port_id`'s rules for one direction. INVALID_ARGUMENT names the rule id
  // and field ("rules[id 7].src: ..."); RESOURCE_EXHAUSTED when rte_acl cannot build.
  Status set(uint16_t port_id, const vswitch::dp::AclSetRequest& req);
  // The ACLs of `port_id` (kNoPort: every port with one).
  void list(uint16_t port_id, vswitch::dp::AclList* out) const;
  // Connections tracked at `port_id` (kNoPort: all), at most `max` listed.
  void conn_list(uint16_t port_id, uint32_t max, vswitch::dp::ConnList* out) const;
  // Posts the connections of `port_id` (kNoPort: all) for deletion; returns how many.
  uint32_t conn_flush(uint16_t port_id);
  Status conntrack_set(const vswitch::dp::ConntrackSetRequest& req);
  void conntrack_stats(vswitch::dp::ConntrackStats* out) const;
  // The port is going away: drop its ACL (after a grace period) and flush its connections.
  void port_removed(uint16_t port_id);

  // One timer tick now: an expiry slice and reclaiming replaced rule sets.
  void tick();
  acl::Conntrack& conntrack() { return *ct_; }

 private:
  struct PortState {
    std::unique_ptr<acl::PortAcl> acl;
    // As the operator gave them, per acl::Direction, for listing.
    std::vector<vswitch::dp::AclRule> rules[2];
    acl::Action default_action[2] = {acl::Action::kPermit, acl::Action::kPermit};
  };

  void remove(uint16_t port_id);
  void schedule();
  void fill(uint16_t port_id, const PortState& st, acl::Direction dir,
            vswitch::dp::PortAclStatus* out) const;

  boost::asio::io_context& io_;
  ForwardingState& fwd_;
  rte_rcu_qsbr* rcu_;
  unsigned workers_;
  AclOptions options_;
  std::function<std::string(uint16_t)> port_name_;
  std::unique_ptr<acl::Conntrack> ct_;
  // What conntrack started with (a ConntrackSetRequest with `reset` goes back to it).
  uint32_t start_limit_ = 0;
  acl::Timeouts start_timeouts_{};
  std::map<uint16_t, PortState> ports_;
  boost::asio::steady_timer timer_;
};

}  // namespace vsw::dp
