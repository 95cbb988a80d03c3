#include "acl_manager.h"

#include <arpa/inet.h>
#include <rte_cycles.h>

#include <algorithm>
#include <set>

#include "log.h"

namespace vsw::dp {

using vswitch::dp::ERROR_CODE_INTERNAL;
using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
using vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED;

namespace {

acl::Direction to_dir(vswitch::dp::AclDirection d) {
  return d == vswitch::dp::ACL_DIRECTION_TO_PORT ? acl::Direction::kToPort
                                                 : acl::Direction::kFromPort;
}

vswitch::dp::AclDirection from_dir(acl::Direction d) {
  return d == acl::Direction::kToPort ? vswitch::dp::ACL_DIRECTION_TO_PORT
                                      : vswitch::dp::ACL_DIRECTION_FROM_PORT;
}

vswitch::dp::AclAction from_action(acl::Action a) {
  switch (a) {
    case acl::Action::kPermit:
      return vswitch::dp::ACL_ACTION_PERMIT;
    case acl::Action::kDeny:
      return vswitch::dp::ACL_ACTION_DENY;
    case acl::Action::kPermitStateful:
      return vswitch::dp::ACL_ACTION_PERMIT_STATEFUL;
  }
  return vswitch::dp::ACL_ACTION_UNSPECIFIED;
}

// The protobuf rule as the library's, validated. The message names the rule and the field.
std::string to_rule(const vswitch::dp::AclRule& r, acl::Rule* out) {
  const std::string where = "rules[id " + std::to_string(r.id()) + "].";
  out->id = r.id();
  out->priority = r.priority();
  switch (r.action()) {
    case vswitch::dp::ACL_ACTION_PERMIT:
      out->action = acl::Action::kPermit;
      break;
    case vswitch::dp::ACL_ACTION_DENY:
      out->action = acl::Action::kDeny;
      break;
    case vswitch::dp::ACL_ACTION_PERMIT_STATEFUL:
      out->action = acl::Action::kPermitStateful;
      break;
    default:
      return where + "action: permit, deny or permit-stateful is required";
  }
  for (const auto& [field, text, prefix] :
       {std::tuple{"src", &r.src(), &out->src}, std::tuple{"dst", &r.dst(), &out->dst}}) {
    if (text->empty()) continue;
    acl::Prefix p;
    if (std::string err = acl::parse_prefix(field, *text, &p); !err.empty()) return where + err;
    *prefix = p;
  }
  if (r.has_proto()) {
    if (r.proto() > 255) return where + "proto: " + std::to_string(r.proto()) + " is above 255";
    out->proto = static_cast<uint8_t>(r.proto());
  }
  for (const auto& [field, text, range] : {std::tuple{"sport", &r.sport(), &out->sport},
                                           std::tuple{"dport", &r.dport(), &out->dport}}) {
    if (text->empty()) continue;
    if (std::string err = acl::parse_port_range(field, *text, range); !err.empty())
      return where + err;
  }
  if (r.has_icmp_type()) {
    if (r.icmp_type() > 255)
      return where + "icmp_type: " + std::to_string(r.icmp_type()) + " is above 255";
    out->icmp_type = static_cast<uint8_t>(r.icmp_type());
  }
  if (std::string err = acl::validate(*out); !err.empty()) return where + err;
  return "";
}

std::string format_addr(const uint8_t* addr, uint8_t family) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf));
  return buf;
}

// ConntrackSetRequest's timeout names, in Timeouts.
uint32_t* timeout_slot(acl::Timeouts& t, const std::string& name) {
  using acl::ConnState;
  static const std::pair<const char*, ConnState> kTcp[] = {
      {"syn_sent", ConnState::kSynSent},        {"syn_recv", ConnState::kSynRecv},
      {"established", ConnState::kEstablished}, {"fin_wait", ConnState::kFinWait},
      {"close_wait", ConnState::kCloseWait},    {"last_ack", ConnState::kLastAck},
      {"time_wait", ConnState::kTimeWait},      {"close", ConnState::kClose}};
  for (const auto& [n, s] : kTcp)
    if (name == n) return &t.seconds[static_cast<int>(s)];
  if (name == "udp_unreplied") return &t.udp_unreplied;
  if (name == "udp_replied") return &t.udp_replied;
  if (name == "icmp") return &t.icmp;
  return nullptr;
}

constexpr const char* kTimeoutNames[] = {"syn_sent",      "syn_recv",    "established", "fin_wait",
                                         "close_wait",    "last_ack",    "time_wait",   "close",
                                         "udp_unreplied", "udp_replied", "icmp"};

}  // namespace

AclManager::AclManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu,
                       unsigned workers, AclOptions options,
                       std::function<std::string(uint16_t)> port_name)
    : io_(io),
      fwd_(fwd),
      rcu_(rcu),
      workers_(workers),
      options_(options),
      port_name_(std::move(port_name)),
      timer_(io) {}

AclManager::~AclManager() {
  timer_.cancel();
  // Unpublish everything, wait until no worker can hold it, then free.
  for (auto& [id, st] : ports_) fwd_.ports[id].acl.store(nullptr, std::memory_order_release);
  fwd_.conntrack.store(nullptr, std::memory_order_release);
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  ports_.clear();
  ct_.reset();
}

std::string AclManager::init() {
  acl::ConntrackConfig c;
  c.workers = workers_;
  c.capacity = options_.ct_capacity;
  c.limit = options_.ct_limit != 0 ? options_.ct_limit : options_.ct_capacity;
  c.ticks_per_second = rte_get_tsc_hz();
  c.rcu = rcu_;
  ct_ = std::make_unique<acl::Conntrack>(c);
  if (!ct_->ok()) return "conntrack: " + ct_->error();
  start_limit_ = ct_->limit();
  start_timeouts_ = ct_->timeouts();
  fwd_.conntrack.store(ct_.get(), std::memory_order_release);
  schedule();
  return "";
}

void AclManager::schedule() {
  timer_.expires_after(kConntrackInterval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    tick();
    schedule();
  });
}

void AclManager::tick() {
  ct_->expire_slice(rte_rdtsc(), kExpireBudget);
  for (auto& [id, st] : ports_) {
    st.acl->set(acl::Direction::kToPort).reclaim(false);
    st.acl->set(acl::Direction::kFromPort).reclaim(false);
  }
}

Status AclManager::set(uint16_t port_id, const vswitch::dp::AclSetRequest& req) {
  if (req.dir() != vswitch::dp::ACL_DIRECTION_TO_PORT &&
      req.dir() != vswitch::dp::ACL_DIRECTION_FROM_PORT)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "dir: to-port or from-port is required");
  acl::Action def;
  switch (req.default_action()) {
    case vswitch::dp::ACL_ACTION_UNSPECIFIED:
    case vswitch::dp::ACL_ACTION_PERMIT:
      def = acl::Action::kPermit;
      break;
    case vswitch::dp::ACL_ACTION_DENY:
      def = acl::Action::kDeny;
      break;
    default:
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "default_action: must be permit or deny (permit-stateful is for rules)");
  }
  if (static_cast<uint32_t>(req.rules_size()) > acl::kMaxRules)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "rules: " + std::to_string(req.rules_size()) + " rules, at most " +
                             std::to_string(acl::kMaxRules) + " per port and direction");
  std::vector<acl::Rule> rules(static_cast<size_t>(req.rules_size()));
  std::set<uint32_t> ids;
  for (int i = 0; i < req.rules_size(); ++i) {
    const auto& r = req.rules(i);
    if (!ids.insert(r.id()).second)
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "rules[id " + std::to_string(r.id()) + "].id: used twice");
    if (std::string err = to_rule(r, &rules[static_cast<size_t>(i)]); !err.empty())
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT, err);
  }
  const acl::Direction dir = to_dir(req.dir());
  const int d = static_cast<int>(dir);
  auto it = ports_.find(port_id);
  if (rules.empty() && def == acl::Action::kPermit) {
    // Nothing in this direction: if nothing is left in the other either, the port has no
    // ACL any more and its fast path goes back to one pointer test.
    if (it == ports_.end()) return Status::Ok();
    PortState& st = it->second;
    if (st.rules[1 - d].empty() && st.default_action[1 - d] == acl::Action::kPermit) {
      remove(port_id);
      return Status::Ok();
    }
  }
  const bool created = it == ports_.end();
  if (created) {
    PortState st;
    st.acl = std::make_unique<acl::PortAcl>(rcu_);
    it = ports_.emplace(port_id, std::move(st)).first;
  }
  PortState& st = it->second;
  if (std::string err = st.acl->set(dir).update(rules, def); !err.empty()) {
    if (created) ports_.erase(it);
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED, "rules: " + err);
  }
  st.rules[d].assign(req.rules().begin(), req.rules().end());
  st.default_action[d] = def;
  if (created) fwd_.ports[port_id].acl.store(st.acl.get(), std::memory_order_release);
  log(LogLevel::kInfo, "acl %s %s: %d rule(s), default %s", port_name_(port_id).c_str(),
      std::string(acl::to_string(dir)).c_str(), req.rules_size(),
      std::string(acl::to_string(def)).c_str());
  return Status::Ok();
}

void AclManager::remove(uint16_t port_id) {
  auto it = ports_.find(port_id);
  if (it == ports_.end()) return;
  fwd_.ports[port_id].acl.store(nullptr, std::memory_order_release);
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  ports_.erase(it);
  ct_->flush(port_id);
}

void AclManager::port_removed(uint16_t port_id) {
  remove(port_id);
  // Connections can outlive the ACL that made them (its stateful rules removed earlier).
  ct_->flush(port_id);
}

void AclManager::fill(uint16_t port_id, const PortState& st, acl::Direction dir,
                      vswitch::dp::PortAclStatus* out) const {
  const int d = static_cast<int>(dir);
  const acl::AclSet& set = st.acl->set(dir);
  out->set_port(port_name_(port_id));
  out->set_dir(from_dir(dir));
  out->set_default_action(from_action(st.default_action[d]));
  out->set_generation(set.current()->generation());
  const auto hits = set.all_hits();
  std::vector<const vswitch::dp::AclRule*> order;
  for (const auto& r : st.rules[d]) order.push_back(&r);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->priority() != b->priority() ? a->priority() > b->priority() : a->id() < b->id();
  });
  for (const auto* r : order) {
    auto* rs = out->add_rules();
    *rs->mutable_rule() = *r;
    auto h = hits.find(r->id());
    rs->set_hits(h == hits.end() ? 0 : h->second);
  }
}

void AclManager::list(uint16_t port_id, vswitch::dp::AclList* out) const {
  for (const auto& [id, st] : ports_) {
    if (port_id != kNoPort && id != port_id) continue;
    for (acl::Direction dir : {acl::Direction::kFromPort, acl::Direction::kToPort}) {
      const int d = static_cast<int>(dir);
      if (st.rules[d].empty() && st.default_action[d] == acl::Action::kPermit) continue;
      fill(id, st, dir, out->add_acls());
    }
  }
}

void AclManager::conn_list(uint16_t port_id, uint32_t max, vswitch::dp::ConnList* out) const {
  if (max == 0) max = 1000;
  const uint64_t now = rte_rdtsc();
  const double hz = static_cast<double>(rte_get_tsc_hz());
  uint32_t total = 0;
  ct_->for_each([&](const acl::ConnInfo& c) {
    if (port_id != kNoPort && c.key.zone != port_id) return;
    ++total;
    if (static_cast<uint32_t>(out->conns_size()) >= max) return;
    auto* o = out->add_conns();
    const int opener = c.orig_swapped ? 1 : 0;
    o->set_port(port_name_(c.key.zone));
    o->set_opened(from_dir(c.origin_dir));
    o->set_proto(acl::proto_name(c.key.proto));
    o->set_src(format_addr(c.key.addr[opener], c.key.family));
    o->set_sport(c.key.port[opener]);
    o->set_dst(format_addr(c.key.addr[1 - opener], c.key.family));
    o->set_dport(c.key.port[1 - opener]);
    o->set_state(acl::to_string(c.state));
    o->set_age_s(now > c.last_seen ? static_cast<double>(now - c.last_seen) / hz : 0.0);
    o->set_timeout_left_s(c.expires > now ? static_cast<double>(c.expires - now) / hz : 0.0);
    o->set_revoked(c.revoked);
  });
  out->set_total(total);
}

uint32_t AclManager::conn_flush(uint16_t port_id) {
  return ct_->flush(port_id == kNoPort ? UINT32_MAX : port_id);
}

Status AclManager::conntrack_set(const vswitch::dp::ConntrackSetRequest& req) {
  const uint64_t max_limit = uint64_t{ct_->capacity()} * workers_;
  if (req.limit() > max_limit)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "limit: " + std::to_string(req.limit()) + " is above the capacity " +
                             std::to_string(max_limit) + " (--ct-capacity per worker)");
  acl::Timeouts t = req.reset() ? start_timeouts_ : ct_->timeouts();
  for (const auto& [name, seconds] : req.timeouts()) {
    uint32_t* slot = timeout_slot(t, name);
    if (slot == nullptr)
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "timeouts: unknown timeout '" + name +
                               "' (syn_sent, syn_recv, established, fin_wait, close_wait, "
                               "last_ack, time_wait, close, udp_unreplied, udp_replied, icmp)");
    if (seconds != 0) *slot = seconds;  // zero keeps the value, as for the limit
  }
  if (req.limit() != 0 || req.reset())
    ct_->set_limit(req.limit() != 0 ? req.limit() : start_limit_);
  ct_->set_timeouts(t);
  return Status::Ok();
}

void AclManager::conntrack_stats(vswitch::dp::ConntrackStats* out) const {
  const acl::ConntrackTotals t = ct_->totals();
  out->set_connections(ct_->size());
  out->set_limit(ct_->limit());
  out->set_capacity(ct_->capacity());
  out->set_created(t.created);
  out->set_invalid(t.invalid);
  out->set_limit_drops(t.limit_drops);
  out->set_full_drops(t.full_drops);
  out->set_revoked_drops(t.revoked_drops);
  out->set_deleted(t.deleted);
  acl::Timeouts timeouts = ct_->timeouts();
  for (const char* name : kTimeoutNames)
    (*out->mutable_timeouts())[name] = *timeout_slot(timeouts, name);
}

}  // namespace vsw::dp
