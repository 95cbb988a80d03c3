// The controller's routing objects: router interfaces and static routes, stored and
// replayed; the FIB lookup and the neighbor table, read from the dataplane.
#include <algorithm>

#include "controller.h"
#include "log.h"
#include "route_spec.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::v1::RouterInterfaceSpec;
using vswitch::v1::RouteSpec;

namespace {

template <typename Repeated, typename Pred>
void erase_where(Repeated* r, Pred pred) {
  r->erase(std::remove_if(r->begin(), r->end(), pred), r->end());
}

// The stored (canonical) form of an operator's prefix, or "" when it does not parse.
std::string canonical_prefix(const std::string& text) {
  IpPrefix p;
  return parse_prefix(text, &p) ? p.str() : "";
}

}  // namespace

const RouterInterfaceSpec* Controller::find_router_if_locked(const std::string& name) const {
  for (const RouterInterfaceSpec& r : state_.router_interfaces()) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

const RouteSpec* Controller::find_route_locked(const std::string& prefix) const {
  for (const RouteSpec& r : state_.routes()) {
    if (r.prefix() == prefix) return &r;
  }
  return nullptr;
}

void Controller::fill_router_if_locked(const RouterInterfaceSpec& spec,
                                       vswitch::v1::RouterInterface* out) const {
  *out->mutable_spec() = spec;
  auto it = router_if_result_.find(spec.name());
  out->mutable_state()->set_programmed(connected_ && it != router_if_result_.end() &&
                                       it->second.empty());
  if (it != router_if_result_.end()) out->mutable_state()->set_error(it->second);
}

void Controller::fill_route_locked(const RouteSpec& spec, vswitch::v1::Route* out) const {
  *out->mutable_spec() = spec;
  out->set_kind("static");
  auto it = route_result_.find(spec.prefix());
  out->mutable_state()->set_programmed(connected_ && it != route_result_.end() &&
                                       it->second.empty());
  if (it != route_result_.end()) out->mutable_state()->set_error(it->second);
}

Status Controller::add_router_interface(const RouterInterfaceSpec& requested,
                                        vswitch::v1::RouterInterface* out) {
  RouterInterfaceSpec spec;
  if (Status s = validate_router_interface(requested, &spec); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (Status s = check_router_interface(state_, spec); !s.ok()) return s;
  DesiredState next = state_;
  *next.add_router_interfaces() = spec;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_router_if_locked(spec);
  fill_router_if_locked(spec, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_router_interface(const std::string& name) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  std::lock_guard lk(mu_);
  if (!find_router_if_locked(name))
    return Status(StatusCode::NOT_FOUND, "name: no router interface '" + name + "'");
  if (Status s = check_delete_router_interface(state_, name); !s.ok()) return s;
  DesiredState next = state_;
  erase_where(next.mutable_router_interfaces(),
              [&](const RouterInterfaceSpec& r) { return r.name() == name; });
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  unprogram_router_if_locked(name);
  router_if_result_.erase(name);
  publish_status_locked();
  return Status::OK;
}

void Controller::list_router_interfaces(vswitch::v1::ListRouterInterfacesResponse* out) {
  std::lock_guard lk(mu_);
  for (const RouterInterfaceSpec& r : state_.router_interfaces())
    fill_router_if_locked(r, out->add_router_interfaces());
}

Status Controller::add_route(const vswitch::v1::AddRouteRequest& request, vswitch::v1::Route* out) {
  RouteSpec spec;
  if (Status s = validate_route(request.route(), &spec); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (Status s = check_route(state_, spec); !s.ok()) return s;
  const bool exists = find_route_locked(spec.prefix()) != nullptr;
  if (exists && !request.replace())
    return Status(StatusCode::ALREADY_EXISTS, "prefix: a route to '" + spec.prefix() +
                                                  "' already exists (replace it with --replace)");
  if (!exists && state_.routes_size() >= kMaxStaticRoutes)
    return Status(
        StatusCode::RESOURCE_EXHAUSTED,
        "routes: the limit of " + std::to_string(kMaxStaticRoutes) + " static routes is reached");
  DesiredState next = state_;
  if (exists) {
    for (RouteSpec& r : *next.mutable_routes()) {
      if (r.prefix() == spec.prefix()) r = spec;
    }
  } else {
    *next.add_routes() = spec;
  }
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_route_locked(spec, exists);
  fill_route_locked(spec, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_route(const std::string& prefix) {
  if (prefix.empty()) return Status(StatusCode::INVALID_ARGUMENT, "prefix: required");
  const std::string canonical = canonical_prefix(prefix);
  if (canonical.empty())
    return Status(StatusCode::INVALID_ARGUMENT, "prefix: '" + prefix + "' is not a prefix");
  std::lock_guard lk(mu_);
  if (!find_route_locked(canonical))
    return Status(StatusCode::NOT_FOUND, "prefix: no static route to '" + canonical + "'");
  DesiredState next = state_;
  erase_where(next.mutable_routes(), [&](const RouteSpec& r) { return r.prefix() == canonical; });
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  unprogram_route_locked(canonical);
  route_result_.erase(canonical);
  publish_status_locked();
  return Status::OK;
}

void Controller::list_routes(vswitch::v1::ListRoutesResponse* out) {
  std::lock_guard lk(mu_);
  for (const RouterInterfaceSpec& r : state_.router_interfaces()) {
    for (const std::string& text : r.addresses()) {
      IpPrefix p;
      parse_prefix(text, &p);
      auto* route = out->add_routes();
      route->mutable_spec()->set_prefix(p.network_str());
      route->set_kind("connected");
      route->set_router_interface(r.name());
      auto it = router_if_result_.find(r.name());
      route->mutable_state()->set_programmed(connected_ && it != router_if_result_.end() &&
                                             it->second.empty());
      if (it != router_if_result_.end()) route->mutable_state()->set_error(it->second);
    }
  }
  for (const RouteSpec& r : state_.routes()) fill_route_locked(r, out->add_routes());
}

}  // namespace vsw::ctl

// ---- the dataplane side (messages in proto/dataplane.proto) ----

namespace vsw::ctl {

using vswitch::dp::Request;
using vswitch::dp::Response;

namespace {

vswitch::dp::RouterInterfaceConfig to_dataplane(const RouterInterfaceSpec& spec) {
  vswitch::dp::RouterInterfaceConfig c;
  c.set_name(spec.name());
  c.set_bridge(spec.bridge());
  c.set_mac(spec.mac());
  for (const std::string& a : spec.addresses()) c.add_addresses(a);
  return c;
}

// The dataplane's spelling may differ (it prints addresses itself): compare parsed forms.
bool same_router_if(const RouterInterfaceSpec& spec, const vswitch::dp::RouterInterfaceConfig& c) {
  if (spec.name() != c.name() || spec.bridge() != c.bridge() || spec.mac() != c.mac() ||
      spec.addresses_size() != c.addresses_size())
    return false;
  for (int i = 0; i < spec.addresses_size(); ++i) {
    IpPrefix a, b;
    if (!parse_prefix(spec.addresses(i), &a) || !parse_prefix(c.addresses(i), &b) ||
        a.str() != b.str())
      return false;
  }
  return true;
}

vswitch::dp::Route route_to_dataplane(const RouteSpec& spec) {
  vswitch::dp::Route r;
  r.set_prefix(spec.prefix());
  for (const std::string& via : spec.via()) r.add_next_hops()->set_via(via);
  return r;
}

bool same_route(const RouteSpec& spec, const vswitch::dp::Route& live) {
  IpPrefix a, b;
  if (!parse_prefix(spec.prefix(), &a) || !parse_prefix(live.prefix(), &b) || a.str() != b.str() ||
      spec.via_size() != live.next_hops_size())
    return false;
  for (int i = 0; i < spec.via_size(); ++i) {
    IpAddress x, y;
    if (!parse_ip(spec.via(i), &x) || !parse_ip(live.next_hops(i).via(), &y) || !(x == y))
      return false;
  }
  return true;
}

std::string canonical(const std::string& prefix) {
  IpPrefix p;
  return parse_prefix(prefix, &p) ? p.str() : prefix;
}

}  // namespace

void Controller::program_router_if_locked(const RouterInterfaceSpec& spec) {
  Request req;
  *req.mutable_router_if_add()->mutable_router_if() = to_dataplane(spec);
  Response r;
  if (!call_locked(req, &r)) return;
  router_if_result_[spec.name()] = r.has_error() ? proto::describe(r.error()) : "";
  if (r.has_error())
    log(LogLevel::kWarning, "dataplane refused router interface %s: %s", spec.name().c_str(),
        router_if_result_[spec.name()].c_str());
}

void Controller::unprogram_router_if_locked(const std::string& name) {
  Request req;
  req.mutable_router_if_del()->set_name(name);
  Response r;
  call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
}

void Controller::program_route_locked(const RouteSpec& spec, bool replace) {
  Request req;
  auto* add = req.mutable_route_add();
  *add->mutable_route() = route_to_dataplane(spec);
  add->set_replace(replace || route_result_.count(spec.prefix()) == 0);
  Response r;
  if (!call_locked(req, &r)) return;
  route_result_[spec.prefix()] = r.has_error() ? proto::describe(r.error()) : "";
}

void Controller::unprogram_route_locked(const std::string& prefix) {
  Request req;
  req.mutable_route_del()->set_prefix(prefix);
  Response r;
  call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
}

std::string Controller::list_l3_locked(LiveL3* live) {
  Request req;
  Response r;
  req.mutable_router_if_list();
  if (!call_locked(req, &r)) return "router interface list: " + last_error_;
  if (r.has_error()) return "router interface list: " + proto::describe(r.error());
  live->router_ifs = r.router_ifs();
  req.Clear();
  req.mutable_route_list();
  if (!call_locked(req, &r)) return "route list: " + last_error_;
  if (r.has_error()) return "route list: " + proto::describe(r.error());
  live->routes = r.routes();
  return "";
}

std::string Controller::remove_l3_locked(LiveL3* live) {
  Request req;
  Response r;
  // Routes first (their next hops may resolve through an interface about to go).
  for (const auto& route : live->routes.routes()) {
    if (route.connected()) continue;
    const RouteSpec* want = find_route_locked(canonical(route.prefix()));
    if (want && same_route(*want, route)) {
      live->kept_routes.insert(want->prefix());
      continue;
    }
    req.Clear();
    req.mutable_route_del()->set_prefix(route.prefix());
    if (!call_locked(req, &r)) return "route del: " + last_error_;
  }
  for (const auto& rif : live->router_ifs.router_ifs()) {
    const RouterInterfaceSpec* want = find_router_if_locked(rif.config().name());
    if (want && same_router_if(*want, rif.config())) {
      live->kept_router_ifs.insert(want->name());
      continue;
    }
    req.Clear();
    req.mutable_router_if_del()->set_name(rif.config().name());
    if (!call_locked(req, &r)) return "router interface del: " + last_error_;
  }
  return "";
}

std::string Controller::replay_l3_locked(const LiveL3& live) {
  router_if_result_.clear();
  route_result_.clear();
  for (const RouterInterfaceSpec& spec : state_.router_interfaces()) {
    if (live.kept_router_ifs.count(spec.name())) {
      router_if_result_[spec.name()] = "";
    } else {
      program_router_if_locked(spec);
    }
    if (!connected_) return "replaying router interface " + spec.name() + ": " + last_error_;
  }
  // Routes in batches: a replay of many routes costs one round trip per batch, not per route.
  constexpr int kBatch = 4096;
  std::vector<const RouteSpec*> todo;
  for (const RouteSpec& spec : state_.routes()) {
    if (live.kept_routes.count(spec.prefix())) {
      route_result_[spec.prefix()] = "";
    } else {
      todo.push_back(&spec);
    }
  }
  for (size_t i = 0; i < todo.size();) {
    Request req;
    auto* batch = req.mutable_route_batch();
    const size_t end = std::min(todo.size(), i + kBatch);
    for (size_t j = i; j < end; ++j) {
      auto* add = batch->add_add();
      *add->mutable_route() = route_to_dataplane(*todo[j]);
      add->set_replace(true);
    }
    Response r;
    if (!call_locked(req, &r)) return "replaying routes: " + last_error_;
    const size_t applied = r.has_route_batch() ? r.route_batch().applied() : 0;
    for (size_t j = i; j < i + applied && j < end; ++j) route_result_[todo[j]->prefix()] = "";
    if (r.has_error()) {
      // The batch stopped at the route the dataplane refused: record it, go on after it.
      const size_t failed = i + applied;
      if (failed < end) route_result_[todo[failed]->prefix()] = proto::describe(r.error());
      i = failed + 1;
    } else {
      i = end;
    }
  }
  return "";
}

Status Controller::lookup_route(const std::string& address, vswitch::v1::RouteLookup* out) {
  IpAddress a;
  if (address.empty()) return Status(StatusCode::INVALID_ARGUMENT, "address: required");
  if (!parse_ip(address, &a))
    return Status(StatusCode::INVALID_ARGUMENT, "address: '" + address + "' is not an IP address");
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_route_lookup()->set_address(a.str());
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  out->set_address(a.str());
  if (!r.route_lookup().found()) return Status::OK;
  out->set_prefix(r.route_lookup().prefix());
  for (const auto& nh : r.route_lookup().next_hops()) {
    auto* o = out->add_next_hops();
    o->set_via(nh.via());
    o->set_router_interface(nh.router_if());
  }
  return Status::OK;
}

Status Controller::list_neighbors(vswitch::v1::ListNeighborsResponse* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_neighbor_list();
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  for (const auto& n : r.neighbors().neighbors()) {
    auto* o = out->add_neighbors();
    o->set_address(n.ip());
    o->set_mac(n.mac());
    o->set_router_interface(n.router_if());
    o->set_state(n.state());
    o->set_age_ms(n.age_ms());
  }
  return Status::OK;
}

}  // namespace vsw::ctl
