#include "bridge_manager.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "ip_addr.h"
#include "log.h"
#include "port_fields.h"

namespace vsw::dp {

using vswitch::dp::ERROR_CODE_ALREADY_EXISTS;
using vswitch::dp::ERROR_CODE_FAILED_PRECONDITION;
using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
using vswitch::dp::ERROR_CODE_NOT_FOUND;
using vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED;

namespace {

std::string format_ip(rte_be32_t ip) {
  const auto* b = reinterpret_cast<const uint8_t*>(&ip);
  char text[16];
  std::snprintf(text, sizeof(text), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  return text;
}

}  // namespace

BridgeManager::BridgeManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu,
                             std::vector<WorkerContext*> workers,
                             std::function<std::string(uint16_t)> port_name)
    : io_(io),
      fwd_(fwd),
      rcu_(rcu),
      workers_(std::move(workers)),
      port_name_(std::move(port_name)),
      learn_timer_(io),
      aging_timer_(io) {}

BridgeManager::~BridgeManager() {
  learn_timer_.cancel();
  aging_timer_.cancel();
  // Workers reach the rings and the FDB only through the L2 configuration: unpublish it,
  // wait until no worker holds it, then take the rest away.
  fwd_.l2.store(nullptr, std::memory_order_release);
  wait_grace_period();
  for (WorkerContext* w : workers_) w->learn_ring = nullptr;
  fwd_.fdb = nullptr;
  for (rte_ring* r : rings_) rte_ring_free(r);
}

std::string BridgeManager::init() {
  fdb_ = std::make_unique<flow::Fdb>("vsw_fdb", flow::kFdbCapacity, rcu_);
  if (!fdb_->ok()) return "FDB: " + fdb_->error();
  fwd_.fdb = fdb_.get();
  for (WorkerContext* w : workers_) {
    const std::string name = "vsw_learn" + std::to_string(w->index);
    rte_ring* r = rte_ring_create_elem(name.c_str(), sizeof(flow::LearnEvent), kLearnRingSize,
                                       SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) return "learn ring: " + std::string(rte_strerror(rte_errno));
    rings_.push_back(r);
    w->learn_ring = r;
  }
  publish();
  schedule_learn();
  schedule_aging();
  return {};
}

// ---- timers ----

void BridgeManager::schedule_learn() {
  learn_timer_.expires_after(kLearnInterval);
  learn_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    drain_learn();
    schedule_learn();
  });
}

void BridgeManager::schedule_aging() {
  aging_timer_.expires_after(kAgingInterval);
  aging_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    age();
    schedule_aging();
  });
}

void BridgeManager::drain_learn() {
  const uint64_t now = rte_rdtsc();
  flow::LearnEvent events[256];
  for (rte_ring* r : rings_) {
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(r, events, sizeof(flow::LearnEvent), 256, nullptr)) >
           0) {
      for (unsigned i = 0; i < n; ++i) learn(events[i], now);
    }
  }
}

void BridgeManager::learn(const flow::LearnEvent& ev, uint64_t now) {
  Bridge* b = by_id(ev.key.bridge);
  const uint16_t port = flow::location_port(ev.location);
  const uint16_t vlan = flow::location_vlan(ev.location);
  if (b == nullptr || port >= kMaxPorts) return;
  // A report from before a detach or a bridge change: ignore it.
  const bool member = std::any_of(b->members.begin(), b->members.end(),
                                  [&](const auto& m) { return m.port == port && m.vlan == vlan; });
  if (!member) return;
  const int32_t pos = fdb_->lookup(ev.key);
  PortL2State& p = ports_[port];
  if (pos >= 0) {
    const flow::FdbEntry& e = fdb_->entry(pos);
    if (e.is_static) return;  // static entries never move
    const uint32_t old = e.location.load(std::memory_order_relaxed);
    if (old == ev.location) return;
    if (p.mac_limit && p.macs >= p.mac_limit) {
      ++p.limit_drops;
      return;
    }
    fdb_->upsert(ev.key, ev.location, false, now);
    --ports_[flow::location_port(old)].macs;
    ++p.macs;
    ++b->moves;
    return;
  }
  if (b->macs >= b->mac_limit) {
    ++b->limit_drops;
    return;
  }
  if (p.mac_limit && p.macs >= p.mac_limit) {
    ++p.limit_drops;
    return;
  }
  if (fdb_->upsert(ev.key, ev.location, false, now) < 0) {
    ++b->limit_drops;  // the FDB itself is full
    return;
  }
  ++b->macs;
  ++b->learned;
  ++p.macs;
}

void BridgeManager::age() {
  const uint64_t now = rte_rdtsc();
  const uint64_t hz = rte_get_tsc_hz();
  std::map<uint16_t, uint64_t> limit;  // bridge id -> aging in cycles
  for (const auto& [name, b] : bridges_) limit[b.id] = uint64_t{b.aging_seconds} * hz;
  std::size_t before = fdb_->size();
  remove_macs(
      [&](const flow::FdbKey& key, const flow::FdbEntry& e) {
        if (e.is_static) return false;
        const uint64_t seen = e.last_seen.load(std::memory_order_relaxed);
        auto it = limit.find(key.bridge);
        return it != limit.end() && now > seen && now - seen > it->second;
      },
      true);
  if (fdb_->size() != before) wait_grace_period();
}

void BridgeManager::remove_macs(
    const std::function<bool(const flow::FdbKey&, const flow::FdbEntry&)>& pred, bool aging) {
  std::vector<flow::FdbKey> doomed;
  fdb_->for_each([&](int32_t, const flow::FdbKey& key, const flow::FdbEntry& e) {
    if (pred(key, e)) doomed.push_back(key);
  });
  for (const flow::FdbKey& key : doomed) {
    const int32_t pos = fdb_->lookup(key);
    if (pos < 0) continue;
    const flow::FdbEntry& e = fdb_->entry(pos);
    const uint16_t port = flow::location_port(e.location.load(std::memory_order_relaxed));
    if (Bridge* b = by_id(key.bridge)) {
      --b->macs;
      if (aging) ++b->aged;
    }
    if (port < kMaxPorts && ports_[port].macs) --ports_[port].macs;
    fdb_->remove(key);
  }
}

// ---- configuration ----

BridgeManager::Bridge* BridgeManager::find(const std::string& name) {
  auto it = bridges_.find(name);
  return it == bridges_.end() ? nullptr : &it->second;
}

const BridgeManager::Bridge* BridgeManager::find(const std::string& name) const {
  auto it = bridges_.find(name);
  return it == bridges_.end() ? nullptr : &it->second;
}

BridgeManager::Bridge* BridgeManager::by_id(uint16_t id) {
  for (auto& [name, b] : bridges_) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

void BridgeManager::publish() {
  auto next = std::make_unique<flow::L2Config>();
  next->generation = ++generation_;
  for (const auto& [name, b] : bridges_) {
    flow::BridgeL2& out = next->bridges[b.id];
    for (const flow::BridgeMember& m : b.members) {
      out.members[out.member_count++] = m;
      flow::PortL2& p = next->ports[m.port];
      if (m.vlan == 0) {
        p.untagged_bridge = b.id;
      } else {
        p.vlans[p.vlan_count++] = {m.vlan, b.id};
      }
    }
  }
  fwd_.l2.store(next.get(), std::memory_order_release);
  wait_grace_period();
  published_ = std::move(next);  // the old one is freed here, after every worker let go
}

Status BridgeManager::bridge_add(const vswitch::dp::BridgeConfig& config) {
  if (std::string err = fields::check_port_name(config.name()); !err.empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, err);
  if (find(config.name()))
    return Status::Error(ERROR_CODE_ALREADY_EXISTS, "name: bridge '" + config.name() + "' exists");
  std::vector<bool> used(flow::kMaxBridges, false);
  for (const auto& [name, b] : bridges_) used[b.id] = true;
  auto free_id = std::find(used.begin(), used.end(), false);
  if (free_id == used.end())
    return Status::Error(
        ERROR_CODE_RESOURCE_EXHAUSTED,
        "bridges: the limit of " + std::to_string(flow::kMaxBridges) + " is reached");
  Bridge b;
  b.name = config.name();
  b.id = static_cast<uint16_t>(free_id - used.begin());
  if (config.aging_seconds()) b.aging_seconds = config.aging_seconds();
  if (config.mac_limit()) b.mac_limit = std::min(config.mac_limit(), flow::kFdbCapacity);
  bridges_[b.name] = b;
  log(LogLevel::kInfo, "bridge %s added (aging %u s, mac limit %u)", b.name.c_str(),
      b.aging_seconds, b.mac_limit);
  return Status::Ok();
}

Status BridgeManager::bridge_set(const vswitch::dp::BridgeConfig& config) {
  Bridge* b = find(config.name());
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "name: no bridge '" + config.name() + "'");
  if (config.aging_seconds()) b->aging_seconds = config.aging_seconds();
  if (config.mac_limit()) b->mac_limit = std::min(config.mac_limit(), flow::kFdbCapacity);
  return Status::Ok();
}

Status BridgeManager::bridge_del(const std::string& name) {
  Bridge* b = find(name);
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "name: no bridge '" + name + "'");
  if (!b->members.empty())
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION, "name: bridge '" + name + "' still has " +
                                                             std::to_string(b->members.size()) +
                                                             " port(s) attached");
  const uint16_t id = b->id;
  remove_macs([&](const flow::FdbKey& key, const flow::FdbEntry&) { return key.bridge == id; });
  bridges_.erase(name);
  publish();
  log(LogLevel::kInfo, "bridge %s removed", name.c_str());
  return Status::Ok();
}

void BridgeManager::bridge_list(vswitch::dp::BridgeList* out) const {
  for (const auto& [name, b] : bridges_) {
    auto* s = out->add_bridges();
    s->mutable_config()->set_name(name);
    s->mutable_config()->set_aging_seconds(b.aging_seconds);
    s->mutable_config()->set_mac_limit(b.mac_limit);
    for (const flow::BridgeMember& m : b.members) {
      auto* a = s->add_attachments();
      a->set_port(port_name_(m.port));
      a->set_vlan(m.vlan);
    }
    s->set_macs(b.macs);
    s->set_learned(b.learned);
    s->set_moves(b.moves);
    s->set_aged(b.aged);
    s->set_learn_limit_drops(b.limit_drops);
  }
}

Status BridgeManager::attach(const std::string& bridge, const std::string& port, uint16_t port_id,
                             uint32_t vlan) {
  Bridge* b = find(bridge);
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  if (vlan > flow::kMaxVlanId)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "vlan: " + std::to_string(vlan) + " is not a VLAN ID (1-4094)");
  if (b->members.size() >= flow::kMaxBridgeMembers)
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         "bridge: '" + bridge + "' has the most ports a bridge may have (" +
                             std::to_string(flow::kMaxBridgeMembers) + ")");
  uint32_t tagged = 0;
  for (const auto& [name, other] : bridges_) {
    for (const flow::BridgeMember& m : other.members) {
      if (m.port != port_id) continue;
      if (other.id == b->id)
        return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                             "port: '" + port + "' is already attached to bridge '" + bridge + "'");
      if (m.vlan == vlan)
        return Status::Error(
            ERROR_CODE_ALREADY_EXISTS,
            "vlan: port '" + port + "' already has " +
                (vlan ? "VLAN " + std::to_string(vlan) : std::string("its untagged traffic")) +
                " in bridge '" + name + "'");
      tagged += m.vlan != 0;
    }
  }
  if (vlan && tagged >= flow::kMaxVlansPerPort)
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         "vlan: port '" + port + "' already carries " +
                             std::to_string(flow::kMaxVlansPerPort) + " VLANs");
  b->members.push_back({port_id, static_cast<uint16_t>(vlan)});
  publish();
  log(LogLevel::kInfo, "bridge %s: port %s attached%s", bridge.c_str(), port.c_str(),
      vlan ? (" with VLAN " + std::to_string(vlan)).c_str() : " untagged");
  return Status::Ok();
}

Status BridgeManager::detach(const std::string& bridge, const std::string& port, uint16_t port_id) {
  Bridge* b = find(bridge);
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  auto it = std::find_if(b->members.begin(), b->members.end(),
                         [&](const flow::BridgeMember& m) { return m.port == port_id; });
  if (it == b->members.end())
    return Status::Error(ERROR_CODE_NOT_FOUND,
                         "port: '" + port + "' is not attached to bridge '" + bridge + "'");
  b->members.erase(it);
  const uint16_t id = b->id;
  publish();
  remove_macs([&](const flow::FdbKey& key, const flow::FdbEntry& e) {
    return key.bridge == id &&
           flow::location_port(e.location.load(std::memory_order_relaxed)) == port_id;
  });
  wait_grace_period();
  log(LogLevel::kInfo, "bridge %s: port %s detached", bridge.c_str(), port.c_str());
  return Status::Ok();
}

bool BridgeManager::attached(uint16_t port_id) const {
  for (const auto& [name, b] : bridges_) {
    for (const flow::BridgeMember& m : b.members) {
      if (m.port == port_id) return true;
    }
  }
  return false;
}

void BridgeManager::port_removed(uint16_t port_id) {
  bool changed = false;
  for (auto& [name, b] : bridges_) {
    const auto before = b.members.size();
    std::erase_if(b.members, [&](const flow::BridgeMember& m) { return m.port == port_id; });
    changed |= b.members.size() != before;
  }
  if (changed) publish();
  remove_macs([&](const flow::FdbKey&, const flow::FdbEntry& e) {
    return flow::location_port(e.location.load(std::memory_order_relaxed)) == port_id;
  });
  wait_grace_period();
  ports_[port_id] = PortL2State{};
}

void BridgeManager::set_port_mac_limit(uint16_t port_id, uint32_t limit) {
  ports_[port_id].mac_limit = limit;
}

void BridgeManager::fill_port(uint16_t port_id, vswitch::dp::PortStatus* out) const {
  out->set_mac_limit(ports_[port_id].mac_limit);
  out->set_macs(ports_[port_id].macs);
  out->set_learn_limit_drops(ports_[port_id].limit_drops);
}

// ---- MACs ----

namespace {

bool make_key(uint16_t bridge, const std::string& mac, flow::FdbKey* key) {
  key->bridge = bridge;
  return fields::parse_mac(mac, key->mac);
}

}  // namespace

Status BridgeManager::mac_add(const std::string& bridge, const std::string& mac,
                              const std::string& port, uint16_t port_id) {
  Bridge* b = find(bridge);
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  flow::FdbKey key;
  if (!make_key(b->id, mac, &key))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "mac: '" + mac + "' is not a unicast MAC");
  auto member = std::find_if(b->members.begin(), b->members.end(),
                             [&](const flow::BridgeMember& m) { return m.port == port_id; });
  if (member == b->members.end())
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "port: '" + port + "' is not attached to bridge '" + bridge + "'");
  const int32_t existing = fdb_->lookup(key);
  const uint32_t location = flow::pack_location(port_id, member->vlan);
  if (existing < 0 && b->macs >= b->mac_limit)
    return Status::Error(
        ERROR_CODE_RESOURCE_EXHAUSTED,
        "bridge: '" + bridge + "' holds its limit of " + std::to_string(b->mac_limit) + " MACs");
  if (int32_t rc = fdb_->upsert(key, location, true, rte_rdtsc()); rc < 0)
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED, "mac: the FDB is full");
  if (existing >= 0) {
    const uint16_t old = flow::location_port(fdb_->entry(existing).location.load());
    if (old < kMaxPorts && ports_[old].macs) --ports_[old].macs;
  } else {
    ++b->macs;
  }
  ++ports_[port_id].macs;
  wait_grace_period();
  return Status::Ok();
}

Status BridgeManager::mac_del(const std::string& bridge, const std::string& mac) {
  Bridge* b = find(bridge);
  if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  flow::FdbKey key;
  if (!make_key(b->id, mac, &key))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "mac: '" + mac + "' is not a unicast MAC");
  if (fdb_->lookup(key) < 0)
    return Status::Error(ERROR_CODE_NOT_FOUND,
                         "mac: '" + mac + "' is not in bridge '" + bridge + "'");
  remove_macs([&](const flow::FdbKey& k, const flow::FdbEntry&) {
    return std::memcmp(&k, &key, sizeof(key)) == 0;
  });
  wait_grace_period();
  return Status::Ok();
}

Status BridgeManager::mac_flush(const std::string& bridge) {
  uint16_t id = flow::kNoBridge;
  if (!bridge.empty()) {
    const Bridge* b = find(bridge);
    if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
    id = b->id;
  }
  // Static entries stay: they are configuration, not learned state.
  remove_macs([&](const flow::FdbKey& k, const flow::FdbEntry& e) {
    return !e.is_static && (id == flow::kNoBridge || k.bridge == id);
  });
  wait_grace_period();
  return Status::Ok();
}

Status BridgeManager::mac_list(const std::string& bridge, vswitch::dp::MacList* out) const {
  uint16_t id = flow::kNoBridge;
  if (!bridge.empty()) {
    const Bridge* b = find(bridge);
    if (!b) return Status::Error(ERROR_CODE_NOT_FOUND, "bridge: no bridge '" + bridge + "'");
    id = b->id;
  }
  std::map<uint16_t, std::string> names;
  for (const auto& [name, b] : bridges_) names[b.id] = name;
  const uint64_t now = rte_rdtsc();
  const uint64_t hz = rte_get_tsc_hz();
  fdb_->for_each([&](int32_t, const flow::FdbKey& key, const flow::FdbEntry& e) {
    if (id != flow::kNoBridge && key.bridge != id) return;
    const uint32_t loc = e.location.load(std::memory_order_relaxed);
    auto* m = out->add_macs();
    m->set_bridge(names[key.bridge]);
    m->set_mac(fields::format_mac(key.mac));
    m->set_port(port_name_(flow::location_port(loc)));
    m->set_vlan(flow::location_vlan(loc));
    m->set_is_static(e.is_static);
    const uint64_t seen = e.last_seen.load(std::memory_order_relaxed);
    m->set_age_seconds(now > seen ? static_cast<uint32_t>((now - seen) / hz) : 0);
  });
  return Status::Ok();
}

// ---- flow cache ----

bool BridgeManager::routed_stale(const flow::FlowEntry& e) const {
  const flow::L3Config* l3 = fwd_.l3.load(std::memory_order_acquire);
  if (l3 == nullptr || fwd_.fib == nullptr || fwd_.neighbors == nullptr) return true;
  const flow::RoutedPart& r = e.route;
  const uint32_t fib_gen = r.v6 ? fwd_.fib->generation6() : fwd_.fib->generation4();
  const flow::NeighborEntry& n = fwd_.neighbors->entry(static_cast<int32_t>(r.nbr_pos));
  return r.l3_gen != l3->generation || r.fib_gen != fib_gen ||
         n.generation.load(std::memory_order_acquire) != r.nbr_gen;
}

void BridgeManager::flow_list(uint32_t max, vswitch::dp::FlowList* out) const {
  if (max == 0) max = 1000;
  // No more than the caches hold: a client's --max must not size an allocation (4e9 entries
  // made the dataplane die of bad_alloc, 1e6 stalled this thread for seconds zeroing 128 MB).
  const uint64_t total = uint64_t{flow::FlowCache::kCapacity} * workers_.size();
  max = static_cast<uint32_t>(std::min<uint64_t>(max, total));
  std::vector<flow::FlowEntry> buf(std::min(max, flow::FlowCache::kCapacity));
  const flow::L2Config* l2 = published_.get();
  for (const WorkerContext* w : workers_) {
    const uint32_t left = max - static_cast<uint32_t>(out->flows_size());
    const uint32_t n =
        w->cache.snapshot(buf.data(), std::min(left, static_cast<uint32_t>(buf.size())));
    for (uint32_t i = 0; i < n; ++i) {
      const flow::FlowEntry& e = buf[i];
      auto* f = out->add_flows();
      f->set_worker(w->index);
      f->set_in_port(port_name_(e.key.in_port));
      f->set_vlan(e.key.vlan);
      f->set_src_mac(fields::format_mac(e.key.src));
      f->set_dst_mac(fields::format_mac(e.key.dst));
      f->set_ethertype(rte_be_to_cpu_16(e.key.ethertype));
      const bool v4 = e.key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
      const bool v6 = e.key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
      if (v4) {
        f->set_src_ip(format_ip(e.key.src_ip));
        f->set_dst_ip(format_ip(e.key.dst_ip));
      } else if (v6 && e.routed) {
        // The key only folds IPv6 addresses; a routed entry keeps them whole.
        f->set_src_ip(flow::format_ip(flow::IpAddr::v6(e.route.addrs)));
        f->set_dst_ip(flow::format_ip(flow::IpAddr::v6(e.route.addrs + 16)));
      }
      if (v4 || v6) {
        f->set_protocol(e.key.l4_proto);
        f->set_src_port(rte_be_to_cpu_16(e.key.src_port));
        f->set_dst_port(rte_be_to_cpu_16(e.key.dst_port));
      }
      f->set_routed(e.routed);
      f->set_out_port(port_name_(e.out_port));
      f->set_out_vlan(e.out_vlan);
      const bool stale =
          !l2 || e.config_gen != l2->generation ||
          fdb_->entry(static_cast<int32_t>(e.dst_pos)).generation.load() != e.dst_gen ||
          fdb_->entry(static_cast<int32_t>(e.src_pos)).generation.load() != e.src_gen;
      f->set_stale(stale || (e.routed && routed_stale(e)));
    }
    if (static_cast<uint32_t>(out->flows_size()) >= max) break;
  }
}

void BridgeManager::flow_stats(vswitch::dp::FlowStats* out) const {
  for (const WorkerContext* w : workers_) {
    auto* s = out->add_workers();
    const flow::FlowCacheCounters& c = w->cache.counters;
    s->set_worker(w->index);
    s->set_hits(c.hits.load(std::memory_order_relaxed));
    s->set_misses(c.misses.load(std::memory_order_relaxed));
    s->set_stale(c.stale.load(std::memory_order_relaxed));
    s->set_evictions(c.evictions.load(std::memory_order_relaxed));
    s->set_inserts(c.inserts.load(std::memory_order_relaxed));
    s->set_capacity(flow::FlowCache::kCapacity);
  }
}

}  // namespace vsw::dp
