// Router interfaces, routes and neighbor listings: the configuration half of RouterManager.
#include "router_manager.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_ring_elem.h>

#include <algorithm>

#include "log.h"
#include "port_fields.h"

namespace vsw::dp {

using flow::IpAddr;
using flow::Prefix;
using vswitch::dp::ERROR_CODE_ALREADY_EXISTS;
using vswitch::dp::ERROR_CODE_FAILED_PRECONDITION;
using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
using vswitch::dp::ERROR_CODE_NOT_FOUND;
using vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED;

namespace {

Status from_fib(const flow::FibStatus& st) {
  switch (st.error) {
    case flow::FibError::kOk:
      return Status::Ok();
    case flow::FibError::kInvalid:
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT, st.message);
    case flow::FibError::kNotFound:
      return Status::Error(ERROR_CODE_NOT_FOUND, st.message);
    case flow::FibError::kExists:
      return Status::Error(ERROR_CODE_ALREADY_EXISTS, st.message);
    case flow::FibError::kFull:
      return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED, st.message);
  }
  return Status::Error(vswitch::dp::ERROR_CODE_INTERNAL, st.message);
}

// "10.1.0.1/24": the address with its host bits and the subnet length.
std::string parse_interface_address(const std::string& text, Prefix* out) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return "'" + text + "' needs a length (10.1.0.1/24)";
  IpAddr addr;
  if (!flow::parse_ip(text.substr(0, slash), &addr)) return "'" + text + "' is not an address";
  char* end = nullptr;
  const std::string digits = text.substr(slash + 1);
  const unsigned long len = std::strtoul(digits.c_str(), &end, 10);
  if (digits.empty() || *end != '\0' || len > addr.max_len() || len == 0)
    return "'" + text + "': the length must be 1-" + std::to_string(addr.max_len());
  out->addr = addr;
  out->len = static_cast<uint8_t>(len);
  return {};
}

}  // namespace

RouterManager::RouterManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu,
                             std::vector<WorkerContext*> workers, rte_mempool* pool,
                             RouterOptions options,
                             std::function<uint16_t(const std::string&)> bridge_id)
    : io_(io),
      fwd_(fwd),
      rcu_(rcu),
      workers_(std::move(workers)),
      pool_(pool),
      options_(options),
      bridge_id_(std::move(bridge_id)),
      punt_timer_(io),
      neighbor_timer_(io) {}

RouterManager::~RouterManager() {
  punt_timer_.cancel();
  neighbor_timer_.cancel();
  // Workers reach the tables only through the L3 configuration and the rings: unpublish,
  // wait until no worker holds them, then take the rest away.
  fwd_.l3.store(nullptr, std::memory_order_release);
  for (WorkerContext* w : workers_) w->inject_ring.store(nullptr, std::memory_order_release);
  wait_grace_period();
  for (WorkerContext* w : workers_) w->punt_ring = nullptr;
  auto free_ring = [](rte_ring* r, size_t elem) {
    // What is still queued holds mbufs: every element starts with one.
    alignas(8) uint8_t buf[std::max(sizeof(L3Punt), sizeof(L3Inject))];
    while (rte_ring_dequeue_elem(r, buf, static_cast<unsigned>(elem)) == 0) {
      rte_mbuf* m;
      std::memcpy(&m, buf, sizeof(m));
      rte_pktmbuf_free(m);
    }
    rte_ring_free(r);
  };
  for (rte_ring* r : punt_rings_) free_ring(r, sizeof(L3Punt));
  for (rte_ring* r : inject_rings_) free_ring(r, sizeof(L3Inject));
  fwd_.fib = nullptr;
  fwd_.neighbors = nullptr;
}

std::string RouterManager::init() {
  fib_ = std::make_unique<flow::Fib>("vsw_fib", options_.fib, rcu_);
  if (!fib_->ok()) return "FIB: " + fib_->error();
  neighbors_ = std::make_unique<flow::NeighborTable>("vsw_neigh", options_.neighbors, rcu_,
                                                     rte_get_tsc_hz(), options_.timers);
  if (!neighbors_->ok()) return "neighbors: " + neighbors_->error();
  fwd_.fib = fib_.get();
  fwd_.neighbors = neighbors_.get();
  for (WorkerContext* w : workers_) {
    const std::string punt_name = "vsw_punt" + std::to_string(w->index);
    const std::string inject_name = "vsw_inject" + std::to_string(w->index);
    rte_ring* punt = rte_ring_create_elem(punt_name.c_str(), sizeof(L3Punt), kPuntRingSize,
                                          SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* inject = rte_ring_create_elem(inject_name.c_str(), sizeof(L3Inject), kInjectRingSize,
                                            SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (punt == nullptr || inject == nullptr) {
      rte_ring_free(punt);
      rte_ring_free(inject);
      return "router rings: " + std::string(rte_strerror(rte_errno));
    }
    punt_rings_.push_back(punt);
    inject_rings_.push_back(inject);
    w->punt_ring = punt;
    w->inject_ring.store(inject, std::memory_order_release);
  }
  publish();
  schedule_punts();
  schedule_neighbors();
  log(LogLevel::kInfo, "router: FIB for %u IPv4 and %u IPv6 routes, %u neighbors",
      options_.fib.ipv4_routes, options_.fib.ipv6_routes, options_.neighbors);
  return {};
}

void RouterManager::schedule_punts() {
  punt_timer_.expires_after(kPuntInterval);
  punt_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    drain_punts();
    schedule_punts();
  });
}

void RouterManager::schedule_neighbors() {
  neighbor_timer_.expires_after(kNeighborInterval);
  neighbor_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    neighbor_tick();
    schedule_neighbors();
  });
}

// ---- router interfaces ----

const RouterManager::Rif* RouterManager::find(const std::string& name) const {
  auto it = rifs_.find(name);
  return it == rifs_.end() ? nullptr : &it->second;
}

const RouterManager::Rif* RouterManager::by_id(uint16_t id) const {
  for (const auto& [name, r] : rifs_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

const RouterManager::Rif* RouterManager::owner_of_connected(const Prefix& prefix) const {
  for (const auto& [name, r] : rifs_) {
    for (const Prefix& a : r.addresses) {
      if (flow::make_prefix(a.addr, a.len) == prefix) return &r;
    }
  }
  return nullptr;
}

bool RouterManager::bridge_in_use(uint16_t bridge) const {
  return std::any_of(rifs_.begin(), rifs_.end(),
                     [&](const auto& kv) { return kv.second.bridge == bridge; });
}

void RouterManager::publish() {
  auto next = std::make_unique<flow::L3Config>();
  next->generation = ++generation_;
  for (const auto& [name, r] : rifs_) {
    flow::RifL3& out = next->rifs[r.id];
    out.in_use = true;
    out.bridge = r.bridge;
    std::memcpy(out.mac, r.mac, 6);
    next->bridge_rif[r.bridge] = r.id;
    for (const Prefix& a : r.addresses) {
      if (a.addr.is_v4() && !out.has_v4) {
        out.has_v4 = true;
        out.v4 = a.addr;
      } else if (!a.addr.is_v4() && !out.has_v6) {
        out.has_v6 = true;
        out.v6 = a.addr;
      }
      if (next->local_count < flow::kMaxLocalAddresses)
        next->locals[next->local_count++] = {a.addr, r.id};
    }
  }
  fwd_.l3.store(next.get(), std::memory_order_release);
  wait_grace_period();
  published_ = std::move(next);  // the old one is freed here, after every worker let go
}

Status RouterManager::rif_add(const vswitch::dp::RouterInterfaceConfig& config) {
  if (std::string err = fields::check_port_name(config.name()); !err.empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, err);
  if (find(config.name()))
    return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                         "name: router interface '" + config.name() + "' exists");
  const uint16_t bridge = bridge_id_(config.bridge());
  if (bridge == flow::kNoBridge)
    return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + config.bridge() + "'");
  if (bridge_in_use(bridge))
    return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                         "bridge: '" + config.bridge() + "' already has a router interface");
  if (config.addresses().empty() || config.addresses_size() > flow::kMaxRifAddresses)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "addresses: a router interface takes 1 to " +
                                                          std::to_string(flow::kMaxRifAddresses));
  Rif r;
  r.name = config.name();
  r.bridge = bridge;
  r.bridge_name = config.bridge();
  if (!config.mac().empty()) {
    if (!fields::parse_mac(config.mac(), r.mac))
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "mac: '" + config.mac() + "' is not a unicast MAC");
  } else {
    // Locally administered, stable per name (a restarted dataplane answers with the same MAC).
    const uint32_t h = rte_hash_crc(r.name.data(), r.name.size(), 0x76737721);
    const uint8_t mac[6] = {0x02,
                            0x76,
                            static_cast<uint8_t>(h >> 24),
                            static_cast<uint8_t>(h >> 16),
                            static_cast<uint8_t>(h >> 8),
                            static_cast<uint8_t>(h)};
    std::memcpy(r.mac, mac, 6);
  }
  for (const std::string& text : config.addresses()) {
    Prefix a;
    if (std::string err = parse_interface_address(text, &a); !err.empty())
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "addresses: " + err);
    const Prefix subnet = flow::make_prefix(a.addr, a.len);
    if (subnet.addr == a.addr && a.len < a.addr.max_len() - 1)
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "addresses: '" + text + "' is the subnet's own address");
    for (const auto& [name, other] : rifs_) {
      for (const Prefix& b : other.addresses) {
        if (b.addr == a.addr)
          return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                               "addresses: " + flow::format_ip(a.addr) + " is on '" + name + "'");
      }
    }
    r.addresses.push_back(a);
  }
  std::vector<bool> used(flow::kMaxRouterInterfaces, false);
  for (const auto& [name, other] : rifs_) used[other.id] = true;
  auto free_id = std::find(used.begin(), used.end(), false);
  if (free_id == used.end())
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         "router interfaces: the limit of " +
                             std::to_string(flow::kMaxRouterInterfaces) + " is reached");
  r.id = static_cast<uint16_t>(free_id - used.begin());
  // Connected routes first (rolled back on failure), then the interface becomes visible.
  std::vector<Prefix> added;
  for (const Prefix& a : r.addresses) {
    const Prefix subnet = flow::make_prefix(a.addr, a.len);
    if (std::find(added.begin(), added.end(), subnet) != added.end()) continue;
    flow::FibStatus st = fib_->add(subnet, {flow::NextHop{r.id, true, {}}}, false);
    if (!st.ok()) {
      for (const Prefix& p : added) fib_->del(p);
      if (st.error == flow::FibError::kExists)
        return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                             "addresses: a route to " + flow::format_prefix(subnet) + " exists");
      return from_fib(st);
    }
    added.push_back(subnet);
  }
  rifs_[r.name] = r;
  publish();
  log(LogLevel::kInfo, "router interface %s added on bridge %s (%s)", r.name.c_str(),
      r.bridge_name.c_str(), fields::format_mac(r.mac).c_str());
  return Status::Ok();
}

Status RouterManager::rif_del(const std::string& name) {
  const Rif* r = find(name);
  if (!r) return Status::Error(ERROR_CODE_NOT_FOUND, "name: no router interface '" + name + "'");
  const uint16_t id = r->id;
  if (fib_->uses_rif(id, false))
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "name: routes still go through router interface '" + name + "'");
  for (const Prefix& a : r->addresses) fib_->del(flow::make_prefix(a.addr, a.len));
  rifs_.erase(name);
  publish();  // waits for the grace period: no worker still uses the interface
  std::vector<rte_mbuf*> dropped;
  neighbors_->remove_rif(id, &dropped);
  for (rte_mbuf* m : dropped) rte_pktmbuf_free(m);
  log(LogLevel::kInfo, "router interface %s removed", name.c_str());
  return Status::Ok();
}

void RouterManager::rif_list(vswitch::dp::RouterInterfaceList* out) const {
  for (const auto& [name, r] : rifs_) {
    auto* s = out->add_router_ifs();
    s->mutable_config()->set_name(name);
    s->mutable_config()->set_bridge(r.bridge_name);
    s->mutable_config()->set_mac(fields::format_mac(r.mac));
    for (const Prefix& a : r.addresses)
      s->mutable_config()->add_addresses(flow::format_ip(a.addr) + "/" + std::to_string(a.len));
    s->set_id(r.id);
  }
}

// ---- routes ----

Status RouterManager::parse_route(const vswitch::dp::Route& route, Prefix* prefix,
                                  std::vector<flow::NextHop>* hops) const {
  if (std::string err = flow::parse_prefix(route.prefix(), prefix); !err.empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "prefix: " + err);
  if (route.next_hops().empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "via: a route needs a next hop");
  for (const vswitch::dp::NextHop& h : route.next_hops()) {
    flow::NextHop hop;
    const Rif* named = nullptr;
    if (!h.router_if().empty()) {
      named = find(h.router_if());
      if (!named)
        return Status::Error(ERROR_CODE_NOT_FOUND,
                             "router_if: no router interface '" + h.router_if() + "'");
    }
    if (h.via().empty()) {
      if (!named)
        return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                             "via: a next hop needs a gateway or a router interface");
      hop.rif = named->id;
      hop.connected = true;
    } else {
      if (!flow::parse_ip(h.via(), &hop.gateway))
        return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                             "via: '" + h.via() + "' is not an IP address");
      if (hop.gateway.family != prefix->addr.family)
        return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                             "via: " + h.via() + " is not of the prefix's family");
      // The interface whose subnet holds the gateway (longest first), unless one is named.
      const Rif* on = nullptr;
      unsigned best = 0;
      for (const auto& [name, r] : rifs_) {
        if (named && &r != named) continue;
        for (const Prefix& a : r.addresses) {
          if (flow::make_prefix(a.addr, a.len).contains(hop.gateway) && a.len + 1u > best) {
            on = &r;
            best = a.len + 1u;
          }
        }
      }
      if (!on)
        return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                             "via: " + h.via() + " is on no router interface's subnet");
      hop.rif = on->id;
    }
    hops->push_back(hop);
  }
  return Status::Ok();
}

Status RouterManager::apply_add(const vswitch::dp::Route& route, bool replace) {
  Prefix prefix;
  std::vector<flow::NextHop> hops;
  if (Status st = parse_route(route, &prefix, &hops); !st.ok()) return st;
  if (const Rif* owner = owner_of_connected(prefix); owner && replace)
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "prefix: " + flow::format_prefix(prefix) +
                             " is the connected route of router interface '" + owner->name + "'");
  return from_fib(fib_->add(prefix, hops, replace));
}

Status RouterManager::apply_del(const std::string& text) {
  Prefix prefix;
  if (std::string err = flow::parse_prefix(text, &prefix); !err.empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "prefix: " + err);
  if (const Rif* owner = owner_of_connected(prefix))
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "prefix: " + flow::format_prefix(prefix) +
                             " is the connected route of router interface '" + owner->name + "'");
  return from_fib(fib_->del(prefix));
}

Status RouterManager::route_add(const vswitch::dp::Route& route, bool replace) {
  Status st = apply_add(route, replace);
  if (st.ok() && replace) wait_grace_period();
  return st;
}

Status RouterManager::route_del(const std::string& prefix) {
  Status st = apply_del(prefix);
  if (st.ok()) wait_grace_period();
  return st;
}

Status RouterManager::route_batch(const vswitch::dp::RouteBatchRequest& batch,
                                  vswitch::dp::RouteBatchResult* out) {
  uint32_t applied = 0;
  Status st;
  for (const auto& add : batch.add()) {
    st = apply_add(add.route(), add.replace());
    if (!st.ok()) break;
    ++applied;
  }
  if (st.ok()) {
    for (const std::string& prefix : batch.del()) {
      st = apply_del(prefix);
      if (!st.ok()) break;
      ++applied;
    }
  }
  wait_grace_period();
  out->set_applied(applied);
  if (!st.ok()) st.message += " (after " + std::to_string(applied) + " applied)";
  return st;
}

void RouterManager::describe(const std::vector<flow::NextHop>& hops,
                             google::protobuf::RepeatedPtrField<vswitch::dp::NextHop>* out) const {
  for (const flow::NextHop& h : hops) {
    auto* n = out->Add();
    if (const Rif* r = by_id(h.rif)) n->set_router_if(r->name);
    if (!h.connected) n->set_via(flow::format_ip(h.gateway));
  }
}

void RouterManager::route_list(vswitch::dp::RouteList* out) const {
  for (flow::Family f : {flow::Family::kIpv4, flow::Family::kIpv6}) {
    fib_->for_each(f, [&](const flow::Route& r) {
      auto* route = out->add_routes();
      route->set_prefix(flow::format_prefix(r.prefix));
      describe(r.next_hops, route->mutable_next_hops());
      route->set_connected(owner_of_connected(r.prefix) != nullptr);
    });
  }
  out->set_ipv4_routes(fib_->routes(flow::Family::kIpv4));
  out->set_ipv6_routes(fib_->routes(flow::Family::kIpv6));
  out->set_ipv4_capacity(fib_->config().ipv4_routes);
  out->set_ipv6_capacity(fib_->config().ipv6_routes);
}

Status RouterManager::route_lookup(const vswitch::dp::RouteLookupRequest& req,
                                   vswitch::dp::RouteLookupResult* out) const {
  IpAddr dst, src;
  if (!flow::parse_ip(req.address(), &dst))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "address: '" + req.address() + "' is not an IP address");
  src.family = dst.family;
  if (!req.src().empty() && (!flow::parse_ip(req.src(), &src) || src.family != dst.family))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "src: '" + req.src() + "' is not an address of the same family");
  const auto proto = static_cast<uint8_t>(req.protocol());
  const rte_be16_t sport = rte_cpu_to_be_16(static_cast<uint16_t>(req.src_port()));
  const rte_be16_t dport = rte_cpu_to_be_16(static_cast<uint16_t>(req.dst_port()));
  uint32_t hash;
  if (dst.is_v4()) {
    hash = flow_hash_v4(rte_cpu_to_be_32(src.v4_host()), rte_cpu_to_be_32(dst.v4_host()), proto,
                        sport, dport);
  } else {
    uint8_t addrs[32];
    std::memcpy(addrs, src.bytes, 16);
    std::memcpy(addrs + 16, dst.bytes, 16);
    const bool ported = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
    const uint32_t ports = ported ? (uint32_t{sport} | (uint32_t{dport} << 16)) : 0;
    hash = flow_hash_v6(addrs, proto, ports);
  }
  const flow::FibLookup r = fib_->lookup(dst, hash);
  out->set_found(r.found);
  out->set_chosen(r.chosen);
  if (r.found) {
    out->set_prefix(flow::format_prefix(r.prefix));
    describe(r.next_hops, out->mutable_next_hops());
  }
  return Status::Ok();
}

// ---- neighbors and counters ----

void RouterManager::neighbor_list(vswitch::dp::NeighborList* out) const {
  neighbors_->list(rte_rdtsc(), [&](const flow::NeighborInfo& i) {
    auto* n = out->add_neighbors();
    if (const Rif* r = by_id(i.key.rif)) n->set_router_if(r->name);
    n->set_ip(flow::format_ip(flow::neighbor_ip(i.key)));
    if (i.state != flow::NeighborState::kIncomplete) n->set_mac(fields::format_mac(i.mac));
    n->set_state(flow::state_name(i.state));
    n->set_age_ms(static_cast<uint32_t>(std::min<uint64_t>(i.age_ms, UINT32_MAX)));
    n->set_pending(i.pending);
  });
  const flow::NeighborCounters& c = neighbors_->counters();
  auto* oc = out->mutable_counters();
  oc->set_resolved(c.resolved);
  oc->set_failed(c.failed);
  oc->set_aged(c.aged);
  oc->set_pending_overflow(c.pending_overflow);
  oc->set_pending_timeout(c.pending_timeout);
  oc->set_table_full(c.table_full);
  oc->set_mac_changes(c.mac_changes);
}

void RouterManager::router_stats(vswitch::dp::RouterStats* out) const {
  for (const WorkerContext* w : workers_) {
    const RouterCounters& c = w->router;
    out->set_routed(out->routed() + c.routed.load(std::memory_order_relaxed));
    out->set_punted(out->punted() + c.punted.load(std::memory_order_relaxed));
    out->set_no_route(out->no_route() + c.no_route.load(std::memory_order_relaxed));
    out->set_ttl_expired(out->ttl_expired() + c.ttl_expired.load(std::memory_order_relaxed));
    out->set_bad_header(out->bad_header() + c.bad_header.load(std::memory_order_relaxed));
    out->set_unresolved(out->unresolved() + c.unresolved.load(std::memory_order_relaxed));
    out->set_punt_dropped(out->punt_dropped() + c.punt_dropped.load(std::memory_order_relaxed));
  }
  out->set_arp_replies(counters_.arp_replies);
  out->set_nd_replies(counters_.nd_replies);
  out->set_echo_replies(counters_.echo_replies);
  out->set_icmp_errors(counters_.icmp_errors);
  out->set_icmp_rate_limited(counters_.icmp_rate_limited);
  out->set_requests_sent(counters_.requests_sent);
  out->set_fib_ipv4_generation(fib_->generation4());
  out->set_fib_ipv6_generation(fib_->generation6());
  out->set_ipv4_routes(fib_->routes(flow::Family::kIpv4));
  out->set_ipv6_routes(fib_->routes(flow::Family::kIpv6));
  out->set_ipv4_capacity(fib_->config().ipv4_routes);
  out->set_ipv6_capacity(fib_->config().ipv6_routes);
  out->set_neighbors(neighbors_->size());
  out->set_neighbor_capacity(options_.neighbors);
}

}  // namespace vsw::dp
