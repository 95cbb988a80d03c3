// The controller's stateful ACL: per port and direction a rule list and a default action,
// and the conntrack settings, stored and replayed; tracked connections and counters read
// from the dataplane (proto/dataplane.proto, "Stateful ACL").
//
// Unlike routes, an ACL change the connected dataplane refuses is not stored: the dataplane
// keeps the previous list (a failed build leaves it in place), and storing the refused one
// would make every later replay of the port fail, leaving the port with no ACL at all after a
// dataplane restart. So the change is sent first and stored only once the dataplane took it
// (or could not be asked: disconnected, or it died mid-call; then it is pending and replayed).
#include <algorithm>
#include <limits>

#include "acl_spec.h"
#include "controller.h"
#include "log.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::dp::Request;
using vswitch::dp::Response;
using vswitch::state::AclRecord;
using vswitch::state::DesiredState;
using vswitch::v1::AclRuleSpec;

namespace {

constexpr const char* kDirs[] = {"to-port", "from-port"};

std::string acl_key(const std::string& port, const std::string& dir) {
  return port + "/" + dir;
}

AclRecord* find_acl(DesiredState& state, const std::string& port, const std::string& dir) {
  for (AclRecord& a : *state.mutable_acls()) {
    if (a.port() == port && a.dir() == dir) return &a;
  }
  return nullptr;
}

AclRecord* find_or_add_acl(DesiredState& state, const std::string& port, const std::string& dir) {
  if (AclRecord* a = find_acl(state, port, dir)) return a;
  AclRecord* a = state.add_acls();
  a->set_port(port);
  a->set_dir(dir);
  a->set_default_action("permit");
  return a;
}

// Drops the record of `port` and `dir` when it says nothing (no rules, permit default).
void drop_if_empty(DesiredState& state, const std::string& port, const std::string& dir) {
  auto* acls = state.mutable_acls();
  acls->erase(std::remove_if(acls->begin(), acls->end(),
                             [&](const AclRecord& a) {
                               return a.port() == port && a.dir() == dir && acl_record_empty(a);
                             }),
              acls->end());
}

bool conntrack_spec_empty(const vswitch::v1::ConntrackSpec& spec) {
  return spec.limit() == 0 && spec.timeouts().empty();
}

void copy_stats(const vswitch::dp::ConntrackStats& s, vswitch::v1::ConntrackStats* out) {
  out->set_connections(s.connections());
  out->set_limit(s.limit());
  out->set_capacity(s.capacity());
  out->set_created(s.created());
  out->set_invalid(s.invalid());
  out->set_limit_drops(s.limit_drops());
  out->set_full_drops(s.full_drops());
  out->set_revoked_drops(s.revoked_drops());
  out->set_deleted(s.deleted());
  for (const auto& [name, seconds] : s.timeouts()) (*out->mutable_timeouts())[name] = seconds;
}

Status no_port(const std::string& port) {
  return Status(StatusCode::NOT_FOUND, "port: no port '" + port + "'");
}

}  // namespace

const AclRecord* Controller::find_acl_locked(const std::string& port,
                                             const std::string& dir) const {
  for (const AclRecord& a : state_.acls()) {
    if (a.port() == port && a.dir() == dir) return &a;
  }
  return nullptr;
}

Status Controller::apply_acl_change_locked(DesiredState next, const std::string& port,
                                           const std::string& dir) {
  const std::string key = acl_key(port, dir);
  const AclRecord* want = find_acl(next, port, dir);
  auto pit = port_result_.find(port);
  std::optional<std::string> result;  // nullopt: pending
  bool sent = false;
  if (connected_ && pit != port_result_.end() && pit->second.empty()) {
    Request req;
    *req.mutable_acl_set() = acl_set_request(port, dir, want);
    Response r;
    if (call_locked(req, &r)) {
      if (r.has_error()) {
        log(LogLevel::kWarning, "acl %s %s: the dataplane refused it: %s", port.c_str(),
            dir.c_str(), proto::describe(r.error()).c_str());
        return from_dataplane(r.error());  // nothing stored; the dataplane kept its list
      }
      sent = true;
      result = "";
    }
  } else if (pit != port_result_.end() && !pit->second.empty()) {
    result = "port '" + port + "' is not in the dataplane: " + pit->second;
  }
  const AclRecord* current = find_acl_locked(port, dir);
  const AclRecord previous = current ? *current : AclRecord();
  const bool had_previous = current != nullptr;
  if (Status s = persist_locked(std::move(next)); !s.ok()) {
    if (sent) {  // put the dataplane back to the stored list
      Request req;
      *req.mutable_acl_set() = acl_set_request(port, dir, had_previous ? &previous : nullptr);
      Response r;
      call_locked(req, &r);
    }
    return s;
  }
  if (result) {
    acl_result_[key] = *result;
  } else {
    acl_result_.erase(key);
  }
  publish_status_locked();
  return Status::OK;
}

Status Controller::add_acl_rule(const AclRuleSpec& requested, vswitch::v1::AclRule* out) {
  AclRuleSpec spec;
  if (Status s = validate_acl_rule(requested, &spec); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!find_port_locked(spec.port())) return no_port(spec.port());
  if (const AclRecord* rec = find_acl_locked(spec.port(), spec.dir())) {
    if (rec->rules_size() >= static_cast<int>(acl::kMaxRules))
      return Status(StatusCode::RESOURCE_EXHAUSTED,
                    "rules: port '" + spec.port() + "' has the limit of " +
                        std::to_string(acl::kMaxRules) + " rules " + spec.dir());
    for (const AclRuleSpec& r : rec->rules()) {
      if (same_acl_rule(r, spec))
        return Status(StatusCode::ALREADY_EXISTS,
                      "rule: port '" + spec.port() + "' has the same rule " + spec.dir() +
                          " already (id " + std::to_string(r.id()) + ")");
    }
  }
  const uint32_t id = std::max<uint32_t>(state_.acl_next_id(), 1);
  if (id == std::numeric_limits<uint32_t>::max())
    return Status(StatusCode::RESOURCE_EXHAUSTED, "id: every rule id has been used");
  spec.set_id(id);
  DesiredState next = state_;
  next.set_acl_next_id(id + 1);
  *find_or_add_acl(next, spec.port(), spec.dir())->add_rules() = spec;
  if (Status s = apply_acl_change_locked(std::move(next), spec.port(), spec.dir()); !s.ok())
    return s;
  *out->mutable_spec() = spec;
  auto it = acl_result_.find(acl_key(spec.port(), spec.dir()));
  out->mutable_state()->set_programmed(connected_ && it != acl_result_.end() && it->second.empty());
  if (it != acl_result_.end()) out->mutable_state()->set_error(it->second);
  return Status::OK;
}

Status Controller::delete_acl_rule(const std::string& port, uint32_t id) {
  if (port.empty()) return Status(StatusCode::INVALID_ARGUMENT, "port: required");
  if (id == 0)
    return Status(StatusCode::INVALID_ARGUMENT, "id: required (the rule's id, see acl list)");
  std::lock_guard lk(mu_);
  if (!find_port_locked(port)) return no_port(port);
  std::string dir;
  for (const AclRecord& a : state_.acls()) {
    if (a.port() != port) continue;
    for (const AclRuleSpec& r : a.rules()) {
      if (r.id() == id) dir = a.dir();
    }
  }
  if (dir.empty())
    return Status(StatusCode::NOT_FOUND,
                  "id: port '" + port + "' has no rule " + std::to_string(id));
  DesiredState next = state_;
  AclRecord* rec = find_acl(next, port, dir);
  auto* rules = rec->mutable_rules();
  rules->erase(std::remove_if(rules->begin(), rules->end(),
                              [&](const AclRuleSpec& r) { return r.id() == id; }),
               rules->end());
  drop_if_empty(next, port, dir);
  return apply_acl_change_locked(std::move(next), port, dir);
}

Status Controller::set_acl_default(const vswitch::v1::SetAclDefaultRequest& request,
                                   vswitch::v1::PortAcl* out) {
  if (Status s = validate_acl_default(request); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!find_port_locked(request.port())) return no_port(request.port());
  DesiredState next = state_;
  find_or_add_acl(next, request.port(), request.dir())->set_default_action(request.action());
  drop_if_empty(next, request.port(), request.dir());
  if (Status s = apply_acl_change_locked(std::move(next), request.port(), request.dir()); !s.ok())
    return s;
  fill_port_acl_locked(request.port(), request.dir(), nullptr, out);
  return Status::OK;
}

void Controller::fill_port_acl_locked(const std::string& port, const std::string& dir,
                                      const vswitch::dp::PortAclStatus* live,
                                      vswitch::v1::PortAcl* out) const {
  const AclRecord* rec = find_acl_locked(port, dir);
  out->set_port(port);
  out->set_dir(dir);
  out->set_default_action(rec ? rec->default_action() : "permit");
  bool programmed = false;
  std::string error;
  if (rec) {
    auto it = acl_result_.find(acl_key(port, dir));
    programmed = connected_ && it != acl_result_.end() && it->second.empty();
    if (it != acl_result_.end()) error = it->second;
  } else {
    // No ACL: what is in force is the port's permit-everything, once the port is there.
    auto it = port_result_.find(port);
    programmed = connected_ && it != port_result_.end() && it->second.empty();
  }
  out->set_programmed(programmed);
  out->set_error(error);
  if (live) out->set_default_hits(live->default_hits());
  if (!rec) return;
  for (const AclRuleSpec* spec : evaluation_order(*rec)) {
    auto* r = out->add_rules();
    *r->mutable_spec() = *spec;
    r->mutable_state()->set_programmed(programmed);
    r->mutable_state()->set_error(error);
    if (!live) continue;
    for (const auto& h : live->rules()) {
      if (h.rule().id() == spec->id()) r->mutable_state()->set_hits(h.hits());
    }
  }
}

Status Controller::list_acls(const std::string& port, vswitch::v1::ListAclsResponse* out) {
  std::lock_guard lk(mu_);
  if (!port.empty() && !find_port_locked(port)) return no_port(port);
  vswitch::dp::AclList live;
  if (!connected_) {
    out->set_counters_error(unavailable_locked().error_message());
  } else {
    Request req;
    req.mutable_acl_list()->set_port(port);
    Response r;
    if (!call_locked(req, &r, std::chrono::seconds(5))) {
      out->set_counters_error("dataplane: " + last_error_);
    } else if (r.has_error()) {
      out->set_counters_error(proto::describe(r.error()));
    } else {
      live = r.acls();
    }
  }
  auto live_of = [&](const std::string& p,
                     const std::string& dir) -> const vswitch::dp::PortAclStatus* {
    for (const auto& a : live.acls()) {
      if (a.port() == p && dir_name(a.dir()) == dir) return &a;
    }
    return nullptr;
  };
  for (const auto& spec : state_.ports()) {
    if (!port.empty() && spec.name() != port) continue;
    for (const char* dir : kDirs) {
      if (port.empty() && !find_acl_locked(spec.name(), dir)) continue;
      fill_port_acl_locked(spec.name(), dir, live_of(spec.name(), dir), out->add_acls());
    }
  }
  return Status::OK;
}

// ---- connections and conntrack ----

Status Controller::list_connections(const vswitch::v1::ListConnectionsRequest& request,
                                    vswitch::v1::ListConnectionsResponse* out) {
  std::lock_guard lk(mu_);
  if (!request.port().empty() && !find_port_locked(request.port())) return no_port(request.port());
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_conn_list()->set_port(request.port());
  req.mutable_conn_list()->set_max(request.max());
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  for (const auto& c : r.conns().conns()) {
    auto* o = out->add_connections();
    o->set_port(c.port());
    o->set_dir(dir_name(c.opened()));
    o->set_proto(c.proto());
    o->set_src(c.src());
    o->set_sport(c.sport());
    o->set_dst(c.dst());
    o->set_dport(c.dport());
    o->set_state(c.state());
    o->set_age_s(c.age_s());
    o->set_timeout_left_s(c.timeout_left_s());
    o->set_revoked(c.revoked());
  }
  out->set_total(r.conns().total());
  return Status::OK;
}

Status Controller::flush_connections(const std::string& port,
                                     vswitch::v1::FlushConnectionsResponse* out) {
  std::lock_guard lk(mu_);
  if (!port.empty() && !find_port_locked(port)) return no_port(port);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_conn_flush()->set_port(port);
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  out->set_flushed(r.conn_flush().flushed());
  return Status::OK;
}

void Controller::fill_conntrack_locked(vswitch::v1::Conntrack* out) {
  *out->mutable_spec() = state_.conntrack();
  if (conntrack_spec_empty(state_.conntrack())) {
    out->set_programmed(connected_);  // the dataplane's defaults are what is asked for
  } else {
    out->set_programmed(connected_ && conntrack_result_ && conntrack_result_->empty());
    if (conntrack_result_) out->set_error(*conntrack_result_);
  }
  if (!connected_) {
    out->set_stats_error(unavailable_locked().error_message());
    return;
  }
  Request req;
  req.mutable_conntrack_stats();
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) {
    out->set_stats_error("dataplane: " + last_error_);
  } else if (r.has_error()) {
    out->set_stats_error(proto::describe(r.error()));
  } else {
    copy_stats(r.conntrack_stats(), out->mutable_stats());
  }
}

Status Controller::set_conntrack(const vswitch::v1::SetConntrackRequest& request,
                                 vswitch::v1::Conntrack* out) {
  if (Status s = validate_conntrack(request); !s.ok()) return s;
  std::lock_guard lk(mu_);
  DesiredState next = state_;
  auto* spec = next.mutable_conntrack();
  if (request.limit() != 0) spec->set_limit(request.limit());
  for (const auto& [name, seconds] : request.timeouts())
    (*spec->mutable_timeouts())[name] = seconds;
  std::optional<std::string> result;  // nullopt: pending
  std::optional<vswitch::dp::ConntrackStats> before;
  if (connected_) {
    Request req;
    Response r;
    req.mutable_conntrack_stats();
    if (call_locked(req, &r, std::chrono::seconds(5)) && r.has_conntrack_stats())
      before = r.conntrack_stats();
    // The whole merged spec: once taken, everything stored is in force, even if an earlier
    // set was refused or pending.
    req.Clear();
    auto* set = req.mutable_conntrack_set();
    set->set_limit(spec->limit());
    *set->mutable_timeouts() = spec->timeouts();
    if (call_locked(req, &r)) {
      if (r.has_error()) return from_dataplane(r.error());  // nothing stored
      result = "";
    }
  }
  if (Status s = persist_locked(std::move(next)); !s.ok()) {
    if (result && before) {  // put the dataplane back
      Request req;
      auto* set = req.mutable_conntrack_set();
      set->set_limit(before->limit());
      *set->mutable_timeouts() = before->timeouts();
      Response r;
      call_locked(req, &r);
    }
    return s;
  }
  if (result) {
    conntrack_result_ = result;
  } else if (!connected_) {
    conntrack_result_.reset();
  }
  fill_conntrack_locked(out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::get_conntrack(vswitch::v1::Conntrack* out) {
  std::lock_guard lk(mu_);
  fill_conntrack_locked(out);
  return Status::OK;
}

// ---- replay ----

std::string Controller::replay_acl_locked() {
  acl_result_.clear();
  conntrack_result_.reset();
  Request req;
  Response r;
  {
    // Always, with `reset`: what the spec leaves unset goes back to the dataplane's own
    // values, so a change it got but that was never stored (controld killed in between)
    // is undone; comparing only the listed values missed those.
    auto* set = req.mutable_conntrack_set();
    set->set_limit(state_.conntrack().limit());
    *set->mutable_timeouts() = state_.conntrack().timeouts();
    set->set_reset(true);
    if (!call_locked(req, &r)) return "conntrack set: " + last_error_;
    conntrack_result_ = r.has_error() ? proto::describe(r.error()) : "";
    if (r.has_error())
      log(LogLevel::kWarning, "the dataplane refused the conntrack settings: %s",
          conntrack_result_->c_str());
  }
  // What the dataplane has (after the port replay: re-created ports have no ACL). A dataplane
  // that cannot list its ACLs gets every desired list sent again.
  req.Clear();
  req.mutable_acl_list();
  if (!call_locked(req, &r)) return "acl list: " + last_error_;
  const bool live_known = !r.has_error();
  const vswitch::dp::AclList live = r.acls();
  for (const auto& a : live.acls()) {
    const std::string dir = dir_name(a.dir());
    if (find_acl_locked(a.port(), dir)) continue;
    if (a.rules_size() == 0 && a.default_action() != vswitch::dp::ACL_ACTION_DENY) continue;
    req.Clear();
    *req.mutable_acl_set() = acl_set_request(a.port(), dir, nullptr);
    if (!call_locked(req, &r)) return "acl set (removal): " + last_error_;
  }
  for (const AclRecord& rec : state_.acls()) {
    const std::string key = acl_key(rec.port(), rec.dir());
    auto pit = port_result_.find(rec.port());
    if (pit == port_result_.end() || !pit->second.empty()) {
      acl_result_[key] = "port '" + rec.port() + "' is not in the dataplane" +
                         (pit == port_result_.end() ? "" : ": " + pit->second);
      continue;
    }
    bool same = false;
    for (const auto& a : live.acls()) {
      if (live_known && a.port() == rec.port() && dir_name(a.dir()) == rec.dir())
        same = acl_matches_live(&rec, a);
    }
    if (same) {
      acl_result_[key] = "";
      continue;
    }
    req.Clear();
    *req.mutable_acl_set() = acl_set_request(rec.port(), rec.dir(), &rec);
    if (!call_locked(req, &r)) return "replaying acl " + key + ": " + last_error_;
    acl_result_[key] = r.has_error() ? proto::describe(r.error()) : "";
    if (r.has_error())
      log(LogLevel::kWarning, "acl %s %s: the dataplane refused it: %s", rec.port().c_str(),
          rec.dir().c_str(), acl_result_[key].c_str());
  }
  return "";
}

void Controller::build_acl_status_locked(vswitch::v1::Status* out) const {
  uint32_t rules = 0;
  for (const AclRecord& rec : state_.acls()) {
    rules += static_cast<uint32_t>(rec.rules_size());
    auto it = acl_result_.find(acl_key(rec.port(), rec.dir()));
    if (it == acl_result_.end() || it->second.empty()) continue;
    auto* e = out->add_errors();
    e->set_object("acl " + rec.port() + " " + rec.dir());
    e->set_error(it->second);
  }
  out->set_acl_rules(rules);
  if (conntrack_result_ && !conntrack_result_->empty()) {
    auto* e = out->add_errors();
    e->set_object("conntrack");
    e->set_error(*conntrack_result_);
  }
}

}  // namespace vsw::ctl
