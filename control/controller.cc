#include "controller.h"

#include <google/protobuf/util/message_differencer.h>
#include <time.h>

#include <algorithm>

#include "bridge_spec.h"
#include "log.h"
#include "port_spec.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::dp::Request;
using vswitch::dp::Response;
using vswitch::state::XconnectSpec;
using vswitch::v1::PortSpec;

namespace {

bool same_config(const vswitch::dp::PortConfig& a, const vswitch::dp::PortConfig& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

bool same_pair(const XconnectSpec& x, const std::string& a, const std::string& b) {
  return (x.port_a() == a && x.port_b() == b) || (x.port_a() == b && x.port_b() == a);
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void copy_counters(const vswitch::dp::PortStatus& live, vswitch::v1::PortState* state) {
  state->set_link_up(live.link_up());
  state->set_mac(live.mac());
  state->set_port_id(live.port_id());
  state->set_devargs(live.devargs());
  state->set_xconnect_peer(live.xconnect_peer());
  auto* c = state->mutable_counters();
  c->set_rx_packets(live.rx_packets());
  c->set_rx_bytes(live.rx_bytes());
  c->set_tx_packets(live.tx_packets());
  c->set_tx_bytes(live.tx_bytes());
  c->set_drop_no_mbufs(live.drops().no_mbufs());
  c->set_drop_tx_full(live.drops().tx_full());
  c->set_drop_malformed(live.drops().malformed());
  c->set_drop_no_destination(live.drops().no_destination());
  c->set_drop_unknown_vlan(live.drops().unknown_vlan());
  c->set_flooded(live.flooded());
  c->set_drop_acl_deny(live.drops().acl_deny());
  c->set_drop_ct_invalid(live.drops().ct_invalid());
  c->set_drop_ct_revoked(live.drops().ct_revoked());
  c->set_drop_ct_limit(live.drops().ct_limit());
  c->set_drop_ct_full(live.drops().ct_full());
  c->set_drop_port_security(live.drops().port_security());
  c->set_drop_tx_mtu_exceeded(live.drops().tx_mtu_exceeded());
  state->set_mac_limit(live.mac_limit());
  state->set_macs(live.macs());
  state->set_learn_limit_drops(live.learn_limit_drops());
}

}  // namespace

Controller::Controller(StateStore& store, vswitch::state::DesiredState initial, std::string run_dir,
                       std::string qemu_binary, std::string guest_dir)
    : store_(store),
      run_dir_(std::move(run_dir)),
      dataplane_socket_(run_dir_ + "/dataplane.sock"),
      state_(std::move(initial)),
      guest_dir_(std::move(guest_dir)),
      vms_(run_dir_, std::move(qemu_binary)) {
  vms_.set_exit_handler([this](const std::string& name) { on_vm_exit(name); });
}

Controller::~Controller() {
  stop();
}

void Controller::start() {
  reconciler_ = std::thread([this] { reconcile_loop(); });
  vms_.start_supervisor();
  vm_starter_ = std::thread([this] { start_vms(); });
}

void Controller::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (reconciler_.joinable()) reconciler_.join();
  vms_stopping_ = true;
  if (vm_starter_.joinable()) vm_starter_.join();
  vms_.stop_supervisor();
}

// ---- dataplane connection ----

bool Controller::call_locked(Request request, Response* response,
                             std::chrono::milliseconds timeout) {
  if (!connected_) return false;
  proto::CallResult r = dataplane_.call(std::move(request), timeout);
  if (!r.ok()) {
    mark_disconnected_locked(r.transport_error);
    return false;
  }
  *response = std::move(r.response);
  return true;
}

void Controller::mark_disconnected_locked(const std::string& why) {
  if (connected_) log(LogLevel::kWarning, "dataplane disconnected: %s", why.c_str());
  connected_ = false;
  programmed_ = false;
  last_error_ = why;
  dataplane_.close();
  wake_.notify_all();
}

void Controller::reconcile_loop() {
  auto backoff = kMinBackoff;
  std::unique_lock lk(mu_);
  while (!stopping_) {
    publish_status_locked();
    if (!connected_) {
      const std::string err = connect_and_replay_locked();
      if (err.empty()) {
        backoff = kMinBackoff;
        continue;
      }
      if (err != last_error_)
        log(LogLevel::kInfo, "dataplane at %s: %s (retrying)", dataplane_socket_.c_str(),
            err.c_str());
      last_error_ = err;
      connected_ = false;
      programmed_ = false;
      dataplane_.close();
      wake_.wait_for(lk, backoff, [this] { return stopping_; });
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    } else {
      wake_.wait_for(lk, kPingInterval, [this] { return stopping_ || !connected_; });
      if (stopping_ || !connected_) continue;
      Request ping;
      ping.mutable_status();
      Response r;
      if (call_locked(ping, &r, std::chrono::seconds(5)) && r.has_status())
        dataplane_status_ = r.status();
    }
  }
  dataplane_.close();
}

std::string Controller::connect_and_replay_locked() {
  const auto started = Clock::now();
  if (std::string err = dataplane_.connect(dataplane_socket_); !err.empty()) return err;
  connected_ = true;  // call_locked() needs it; any failure below resets it
  Request req;
  Response r;
  req.mutable_status();
  if (!call_locked(req, &r, std::chrono::seconds(5)) || !r.has_status())
    return "status: " + (r.has_error() ? proto::describe(r.error()) : last_error_);
  dataplane_status_ = r.status();

  // What the dataplane has now (empty after a restart; everything when controld restarted).
  req.Clear();
  req.mutable_xconnect_list();
  if (!call_locked(req, &r)) return "xconnect list: " + last_error_;
  const vswitch::dp::XconnectList live_x = r.xconnects();
  req.Clear();
  req.mutable_port_list();
  if (!call_locked(req, &r)) return "port list: " + last_error_;
  const vswitch::dp::PortList live_ports = r.ports();
  LiveL2 live_l2;
  if (std::string err = list_l2_locked(&live_l2); !err.empty()) return err;
  LiveL3 live_l3;
  if (std::string err = list_l3_locked(&live_l3); !err.empty()) return err;

  // Remove what is not desired, or not as desired: cross-connects, then the L2 objects
  // (static MACs, attachments, bridges), then ports.
  for (const auto& x : live_x.xconnects()) {
    const XconnectSpec* want = find_xconnect_locked(x.port_a());
    if (want && same_pair(*want, x.port_a(), x.port_b())) continue;
    req.Clear();
    req.mutable_xconnect_del()->set_port(x.port_a());
    if (!call_locked(req, &r)) return "xconnect del: " + last_error_;
  }
  if (std::string err = remove_l3_locked(&live_l3); !err.empty()) return err;
  if (std::string err = remove_l2_locked(&live_l2); !err.empty()) return err;
  std::set<std::string> kept;
  std::map<std::string, vswitch::dp::PortStatus> live_kept;  // the dataplane's view of kept ports
  for (const auto& p : live_ports.ports()) {
    const PortSpec* want = find_port_locked(p.config().name());
    if (want && same_config(to_dataplane(*want), p.config())) {
      kept.insert(p.config().name());
      live_kept[p.config().name()] = p;
      continue;
    }
    req.Clear();
    req.mutable_port_del()->set_name(p.config().name());
    if (!call_locked(req, &r)) return "port del: " + last_error_;
  }
  // Add what is missing.
  port_result_.clear();
  xconnect_result_.clear();
  for (const PortSpec& spec : state_.ports()) {
    if (kept.count(spec.name())) {
      port_result_[spec.name()] = "";
    } else {
      program_port_locked(spec);
    }
    if (!connected_) return "replaying port " + spec.name() + ": " + last_error_;
  }
  // Port security before anything connects the ports to the rest of the switch.
  for (const PortSpec& spec : state_.ports()) {
    auto kept_it = live_kept.find(spec.name());
    const vswitch::dp::PortStatus fresh;  // a port just added has no port security yet
    program_port_security_locked(spec, kept_it == live_kept.end() ? &fresh : &kept_it->second);
    if (!connected_) return "replaying the port security of " + spec.name() + ": " + last_error_;
  }
  for (const XconnectSpec& x : state_.xconnects()) {
    bool live = false;
    for (const auto& l : live_x.xconnects()) live |= same_pair(x, l.port_a(), l.port_b());
    if (live && kept.count(x.port_a()) && kept.count(x.port_b())) {
      xconnect_result_[x.port_a()] = "";
    } else {
      program_xconnect_locked(x);
    }
    if (!connected_) return "replaying xconnect " + x.port_a() + ": " + last_error_;
  }
  if (std::string err = replay_l2_locked(live_l2, kept); !err.empty()) return err;
  if (std::string err = replay_l3_locked(live_l3); !err.empty()) return err;
  for (const PortSpec& spec : state_.ports()) {
    auto it = live_kept.find(spec.name());
    program_port_limit_locked(spec, it == live_kept.end() ? 0 : it->second.mac_limit());
    if (!connected_) return "replaying the MAC limit of port " + spec.name() + ": " + last_error_;
  }
  if (std::string err = replay_acl_locked(); !err.empty()) return err;
  programmed_ = true;
  ++connects_;
  last_replay_ms_ = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  last_error_.clear();
  log(LogLevel::kInfo,
      "dataplane connected (pid %u): %d port(s), %d xconnect(s), %d bridge(s), %d "
      "attachment(s), %d static MAC(s) programmed in %lu ms",
      dataplane_status_.pid(), state_.ports_size(), state_.xconnects_size(), state_.bridges_size(),
      state_.attachments_size(), state_.static_macs_size(), last_replay_ms_);
  return {};
}

void Controller::program_port_locked(const PortSpec& spec, vswitch::dp::PortStatus* live) {
  Request req;
  *req.mutable_port_add()->mutable_port() = to_dataplane(spec);
  Response r;
  if (!call_locked(req, &r)) return;  // pending: replayed on reconnect
  if (r.has_error()) {
    port_result_[spec.name()] = proto::describe(r.error());
    log(LogLevel::kWarning, "port %s: the dataplane refused it: %s", spec.name().c_str(),
        port_result_[spec.name()].c_str());
  } else {
    port_result_[spec.name()] = "";
    if (live) *live = r.port();
  }
}

void Controller::program_port_security_locked(const PortSpec& spec,
                                              const vswitch::dp::PortStatus* live) {
  auto it = port_result_.find(spec.name());
  if (it == port_result_.end() || !it->second.empty()) return;  // not in the dataplane
  auto same = [](const auto& a, const auto& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  if (live != nullptr && same(spec.allowed_macs(), live->allowed_macs()) &&
      same(spec.allowed_ips(), live->allowed_ips()))
    return;
  Request req;
  auto* set = req.mutable_port_set();
  set->set_name(spec.name());
  set->set_set_security(true);
  *set->mutable_allowed_macs() = spec.allowed_macs();
  *set->mutable_allowed_ips() = spec.allowed_ips();
  Response r;
  if (!call_locked(req, &r)) return;
  if (r.has_error()) {
    it->second = "port security: " + proto::describe(r.error());
    log(LogLevel::kWarning, "port %s: the dataplane refused its port security: %s",
        spec.name().c_str(), it->second.c_str());
  }
}

void Controller::program_port_limit_locked(const PortSpec& spec,
                                           std::optional<uint32_t> live_limit) {
  auto it = port_result_.find(spec.name());
  if (it == port_result_.end() || !it->second.empty()) return;  // not in the dataplane
  if (spec.mac_limit() == live_limit) return;
  Request req;
  req.mutable_port_set()->set_name(spec.name());
  req.mutable_port_set()->set_set_mac_limit(true);
  req.mutable_port_set()->set_mac_limit(spec.mac_limit());
  Response r;
  if (!call_locked(req, &r)) return;
  if (r.has_error()) {
    it->second = "mac_limit: " + proto::describe(r.error());
    log(LogLevel::kWarning, "port %s: the dataplane refused its MAC limit: %s", spec.name().c_str(),
        it->second.c_str());
  }
}

void Controller::program_xconnect_locked(const XconnectSpec& x) {
  for (const std::string& p : {x.port_a(), x.port_b()}) {
    auto it = port_result_.find(p);
    if (it != port_result_.end() && !it->second.empty()) {
      xconnect_result_[x.port_a()] = "port '" + p + "' is not in the dataplane: " + it->second;
      return;
    }
  }
  Request req;
  req.mutable_xconnect_add()->set_port_a(x.port_a());
  req.mutable_xconnect_add()->set_port_b(x.port_b());
  Response r;
  if (!call_locked(req, &r)) return;
  xconnect_result_[x.port_a()] = r.has_error() ? proto::describe(r.error()) : "";
}

// ---- desired state ----

Status Controller::persist_locked(vswitch::state::DesiredState next) {
  next.set_generation(state_.generation() + 1);
  if (std::string err = store_.save(next); !err.empty()) {
    log(LogLevel::kError, "cannot persist the state: %s", err.c_str());
    return Status(StatusCode::INTERNAL, "state: cannot be written (" + err + "); nothing changed");
  }
  state_ = std::move(next);
  return Status::OK;
}

const PortSpec* Controller::find_port_locked(const std::string& name) const {
  for (const PortSpec& p : state_.ports()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

const XconnectSpec* Controller::find_xconnect_locked(const std::string& port) const {
  for (const XconnectSpec& x : state_.xconnects()) {
    if (x.port_a() == port || x.port_b() == port) return &x;
  }
  return nullptr;
}

void Controller::fill_port_locked(const PortSpec& spec, const vswitch::dp::PortStatus* live,
                                  vswitch::v1::Port* out) const {
  *out->mutable_spec() = spec;
  auto* state = out->mutable_state();
  auto it = port_result_.find(spec.name());
  state->set_programmed(connected_ && it != port_result_.end() && it->second.empty());
  if (it != port_result_.end()) state->set_error(it->second);
  state->mutable_counters();  // present (zero) even when the dataplane has not got the port
  if (live) copy_counters(*live, state);
}

Status Controller::add_port(const PortSpec& requested, vswitch::v1::Port* out) {
  if (Status s = validate_port(requested); !s.ok()) return s;
  const PortSpec spec = normalize_port(requested, run_dir_);
  std::lock_guard lk(mu_);
  if (find_port_locked(spec.name()))
    return Status(StatusCode::ALREADY_EXISTS, "name: port '" + spec.name() + "' already exists");
  if (state_.ports_size() >= kMaxPorts)
    return Status(StatusCode::RESOURCE_EXHAUSTED,
                  "ports: the limit of " + std::to_string(kMaxPorts) + " ports is reached");
  for (const PortSpec& p : state_.ports()) {
    if (!spec.iface().empty() && p.iface() == spec.iface())
      return Status(StatusCode::ALREADY_EXISTS,
                    "iface: '" + spec.iface() + "' is already used by port '" + p.name() + "'");
    if (!spec.socket().empty() && p.socket() == spec.socket())
      return Status(StatusCode::ALREADY_EXISTS,
                    "socket: '" + spec.socket() + "' is already used by port '" + p.name() + "'");
  }
  vswitch::state::DesiredState next = state_;
  *next.add_ports() = spec;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  vswitch::dp::PortStatus live;
  program_port_locked(spec, &live);
  if (live.has_config()) {
    program_port_limit_locked(spec, live.mac_limit());
    program_port_security_locked(spec, &live);
    if (port_result_[spec.name()].empty()) {
      live.set_mac_limit(spec.mac_limit());
      *live.mutable_allowed_macs() = spec.allowed_macs();
      *live.mutable_allowed_ips() = spec.allowed_ips();
    }
  }
  fill_port_locked(spec, live.has_config() ? &live : nullptr, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_port(const std::string& name) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  std::lock_guard lk(mu_);
  if (!find_port_locked(name)) return Status(StatusCode::NOT_FOUND, "name: no port '" + name + "'");
  for (const auto& vm : state_.vms()) {
    if (vm.spec().port() == name)
      return Status(StatusCode::FAILED_PRECONDITION, "name: port '" + name + "' is used by vm '" +
                                                         vm.spec().name() +
                                                         "'; delete the vm first");
  }
  if (const XconnectSpec* x = find_xconnect_locked(name)) {
    const std::string peer = x->port_a() == name ? x->port_b() : x->port_a();
    return Status(StatusCode::FAILED_PRECONDITION, "name: port '" + name +
                                                       "' is cross-connected to '" + peer +
                                                       "'; delete the xconnect first");
  }
  if (Status s = check_not_attached(state_, name, "name"); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  auto* ports = next.mutable_ports();
  ports->erase(std::remove_if(ports->begin(), ports->end(),
                              [&](const PortSpec& p) { return p.name() == name; }),
               ports->end());
  // Its ACLs go with it (as a Neutron port's security-group bindings do); the dataplane drops
  // them, and the port's connections, with the port.
  auto* acls = next.mutable_acls();
  acls->erase(std::remove_if(acls->begin(), acls->end(),
                             [&](const vswitch::state::AclRecord& a) { return a.port() == name; }),
              acls->end());
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  Request req;
  req.mutable_port_del()->set_name(name);
  Response r;
  call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
  port_result_.erase(name);
  acl_result_.erase(name + "/to-port");
  acl_result_.erase(name + "/from-port");
  publish_status_locked();
  return Status::OK;
}

void Controller::fill_port_live_locked(const PortSpec& spec, vswitch::v1::Port* out) {
  Request req;
  req.mutable_port_list();
  Response r;
  const vswitch::dp::PortStatus* live = nullptr;
  if (call_locked(req, &r, std::chrono::seconds(5))) {
    for (const auto& p : r.ports().ports()) {
      if (p.config().name() == spec.name()) live = &p;
    }
  }
  fill_port_locked(spec, live, out);
}

Status Controller::get_port(const std::string& name, vswitch::v1::Port* out) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  std::lock_guard lk(mu_);
  const PortSpec* spec = find_port_locked(name);
  if (!spec) return Status(StatusCode::NOT_FOUND, "name: no port '" + name + "'");
  fill_port_live_locked(*spec, out);
  return Status::OK;
}

Status Controller::set_port(const vswitch::v1::SetPortRequest& request, vswitch::v1::Port* out) {
  const std::string& name = request.name();
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  if (!request.set_mac_limit() && !request.set_port_security())
    return Status(StatusCode::INVALID_ARGUMENT,
                  "set_mac_limit: nothing to change (set it, with mac_limit, or "
                  "set_port_security with allowed_macs / allowed_ips)");
  if (request.set_mac_limit()) {
    if (Status s = validate_port_mac_limit(request.mac_limit()); !s.ok()) return s;
  }
  if (request.set_port_security()) {
    if (Status s = validate_port_security(request.allowed_macs(), request.allowed_ips()); !s.ok())
      return s;
  }
  std::lock_guard lk(mu_);
  if (!find_port_locked(name)) return Status(StatusCode::NOT_FOUND, "name: no port '" + name + "'");
  vswitch::state::DesiredState next = state_;
  PortSpec* stored = nullptr;
  for (PortSpec& p : *next.mutable_ports()) {
    if (p.name() == name) stored = &p;
  }
  if (request.set_mac_limit()) stored->set_mac_limit(request.mac_limit());
  if (request.set_port_security()) {
    *stored->mutable_allowed_macs() = request.allowed_macs();
    *stored->mutable_allowed_ips() = request.allowed_ips();
  }
  const PortSpec spec = *stored;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  if (request.set_mac_limit()) program_port_limit_locked(spec, std::nullopt);
  if (request.set_port_security()) program_port_security_locked(spec, nullptr);
  fill_port_live_locked(spec, out);
  publish_status_locked();
  return Status::OK;
}

void Controller::list_ports(vswitch::v1::ListPortsResponse* out) {
  std::lock_guard lk(mu_);
  Request req;
  req.mutable_port_list();
  Response r;
  std::map<std::string, const vswitch::dp::PortStatus*> live;
  if (call_locked(req, &r, std::chrono::seconds(5))) {
    for (const auto& p : r.ports().ports()) live[p.config().name()] = &p;
  }
  for (const PortSpec& spec : state_.ports()) {
    auto it = live.find(spec.name());
    fill_port_locked(spec, it == live.end() ? nullptr : it->second, out->add_ports());
  }
}

Status Controller::add_xconnect(const std::string& a, const std::string& b,
                                vswitch::v1::Xconnect* out) {
  if (a.empty()) return Status(StatusCode::INVALID_ARGUMENT, "port_a: required");
  if (b.empty()) return Status(StatusCode::INVALID_ARGUMENT, "port_b: required");
  if (a == b)
    return Status(StatusCode::INVALID_ARGUMENT,
                  "port_b: '" + b + "' is also port_a; a port cannot be cross-connected to itself");
  std::lock_guard lk(mu_);
  for (const auto& [field, name] : {std::pair{"port_a", a}, std::pair{"port_b", b}}) {
    if (!find_port_locked(name))
      return Status(StatusCode::NOT_FOUND, std::string(field) + ": no port '" + name + "'");
    if (const XconnectSpec* x = find_xconnect_locked(name)) {
      const std::string peer = x->port_a() == name ? x->port_b() : x->port_a();
      return Status(
          StatusCode::ALREADY_EXISTS,
          std::string(field) + ": '" + name + "' is already cross-connected to '" + peer + "'");
    }
    if (Status s = check_not_attached(state_, name, field); !s.ok()) return s;
  }
  vswitch::state::DesiredState next = state_;
  XconnectSpec* x = next.add_xconnects();
  x->set_port_a(a);
  x->set_port_b(b);
  const XconnectSpec stored = *x;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_xconnect_locked(stored);
  out->set_port_a(a);
  out->set_port_b(b);
  auto it = xconnect_result_.find(a);
  out->set_programmed(connected_ && it != xconnect_result_.end() && it->second.empty());
  if (it != xconnect_result_.end()) out->set_error(it->second);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_xconnect(const std::string& port) {
  if (port.empty()) return Status(StatusCode::INVALID_ARGUMENT, "port: required");
  std::lock_guard lk(mu_);
  const XconnectSpec* x = find_xconnect_locked(port);
  if (!x) {
    if (!find_port_locked(port))
      return Status(StatusCode::NOT_FOUND, "port: no port '" + port + "'");
    return Status(StatusCode::NOT_FOUND, "port: '" + port + "' is not cross-connected");
  }
  const std::string port_a = x->port_a();
  vswitch::state::DesiredState next = state_;
  auto* list = next.mutable_xconnects();
  list->erase(std::remove_if(list->begin(), list->end(),
                             [&](const XconnectSpec& s) { return s.port_a() == port_a; }),
              list->end());
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  Request req;
  req.mutable_xconnect_del()->set_port(port_a);
  Response r;
  call_locked(req, &r);
  xconnect_result_.erase(port_a);
  publish_status_locked();
  return Status::OK;
}

void Controller::list_xconnects(vswitch::v1::ListXconnectsResponse* out) {
  std::lock_guard lk(mu_);
  for (const XconnectSpec& x : state_.xconnects()) {
    auto* o = out->add_xconnects();
    o->set_port_a(x.port_a());
    o->set_port_b(x.port_b());
    auto it = xconnect_result_.find(x.port_a());
    o->set_programmed(connected_ && it != xconnect_result_.end() && it->second.empty());
    if (it != xconnect_result_.end()) o->set_error(it->second);
  }
}

void Controller::status(vswitch::v1::Status* out) {
  std::lock_guard lk(snapshot_mu_);
  *out = snapshot_;
}

void Controller::publish_status_locked() {
  vswitch::v1::Status s;
  build_status_locked(&s);
  std::lock_guard lk(snapshot_mu_);
  snapshot_ = std::move(s);
}

void Controller::build_status_locked(vswitch::v1::Status* out) const {
  out->set_version(VSW_VERSION);
  out->set_state_file(store_.path());
  out->set_ports(static_cast<uint32_t>(state_.ports_size()));
  out->set_xconnects(static_cast<uint32_t>(state_.xconnects_size()));
  out->set_vms(static_cast<uint32_t>(state_.vms_size()));
  out->set_router_interfaces(static_cast<uint32_t>(state_.router_interfaces_size()));
  out->set_routes(static_cast<uint32_t>(state_.routes_size()));
  out->set_vms_running(static_cast<uint32_t>(vms_.running_count()));
  auto* dp = out->mutable_dataplane();
  dp->set_state(connected_ ? "connected" : "disconnected");
  dp->set_programmed(connected_ && programmed_);
  dp->set_socket(dataplane_socket_);
  dp->set_last_error(last_error_);
  dp->set_connects(connects_);
  dp->set_last_replay_ms(last_replay_ms_);
  if (connected_) {
    dp->set_pid(dataplane_status_.pid());
    dp->set_version(dataplane_status_.version());
    dp->set_memory_mode(dataplane_status_.memory_mode());
    dp->set_workers(dataplane_status_.workers());
    dp->set_uptime_ms(dataplane_status_.uptime_ms());
  }
  for (const auto& [name, err] : port_result_) {
    if (err.empty()) continue;
    auto* e = out->add_errors();
    e->set_object("port " + name);
    e->set_error(err);
  }
  for (const XconnectSpec& x : state_.xconnects()) {
    auto it = xconnect_result_.find(x.port_a());
    if (it == xconnect_result_.end() || it->second.empty()) continue;
    auto* e = out->add_errors();
    e->set_object("xconnect " + x.port_a() + "-" + x.port_b());
    e->set_error(it->second);
  }
  build_l2_status_locked(out);
  build_acl_status_locked(out);
}

Status Controller::stats(vswitch::v1::Stats* out) {
  std::lock_guard lk(mu_);
  if (!connected_)
    return Status(
        StatusCode::UNAVAILABLE,
        "dataplane: disconnected" + (last_error_.empty() ? "" : " (" + last_error_ + ")"));
  Request req;
  req.mutable_stats();
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5)))
    return Status(StatusCode::UNAVAILABLE, "dataplane: " + last_error_);
  out->set_timestamp_ns(monotonic_ns());
  const vswitch::dp::Stats& s = r.stats();
  out->set_tsc_hz(s.tsc_hz());
  std::map<std::string, const vswitch::dp::PortStatus*> live;
  for (const auto& p : s.ports()) live[p.config().name()] = &p;
  for (const PortSpec& spec : state_.ports()) {
    auto it = live.find(spec.name());
    fill_port_locked(spec, it == live.end() ? nullptr : it->second, out->add_ports());
  }
  for (const auto& w : s.workers()) {
    auto* o = out->add_workers();
    o->set_worker(w.worker());
    o->set_lcore(w.lcore());
    o->set_loops(w.loops());
    o->set_busy_loops(w.busy_loops());
    o->set_packets(w.packets());
    o->set_busy_cycles(w.busy_cycles());
    *o->mutable_rx_queues() = w.rx_queues();
    o->set_learn_dropped(w.learn_dropped());
  }
  return Status::OK;
}

}  // namespace vsw::ctl
