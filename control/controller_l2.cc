// Controller: bridges, attachments, static MACs, and the dataplane's MAC table and flow
// caches. The validation rules are in bridge_spec.h; this file stores, programs and replays.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "bridge_spec.h"
#include "controller.h"
#include "log.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::dp::Request;
using vswitch::dp::Response;
using vswitch::state::AttachmentSpec;
using vswitch::state::StaticMacSpec;
using vswitch::v1::BridgeSpec;

namespace {

std::string attachment_key(const std::string& bridge, const std::string& port) {
  return bridge + "/" + port;
}

std::string mac_key(const std::string& bridge, const std::string& mac) {
  return bridge + "/" + mac;
}

vswitch::dp::BridgeConfig to_dataplane(const BridgeSpec& spec) {
  vswitch::dp::BridgeConfig c;
  c.set_name(spec.name());
  c.set_aging_seconds(spec.aging_seconds());
  c.set_mac_limit(spec.mac_limit());
  return c;
}

// Erases the elements of `list` matching `pred`.
template <typename T, typename Pred>
void erase_if(google::protobuf::RepeatedPtrField<T>* list, Pred pred) {
  list->erase(std::remove_if(list->begin(), list->end(), pred), list->end());
}

}  // namespace

Status from_dataplane(const vswitch::dp::Error& error) {
  StatusCode code = StatusCode::INTERNAL;
  switch (error.code()) {
    case vswitch::dp::ERROR_CODE_INVALID_ARGUMENT:
      code = StatusCode::INVALID_ARGUMENT;
      break;
    case vswitch::dp::ERROR_CODE_NOT_FOUND:
      code = StatusCode::NOT_FOUND;
      break;
    case vswitch::dp::ERROR_CODE_ALREADY_EXISTS:
      code = StatusCode::ALREADY_EXISTS;
      break;
    case vswitch::dp::ERROR_CODE_FAILED_PRECONDITION:
      code = StatusCode::FAILED_PRECONDITION;
      break;
    case vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED:
      code = StatusCode::RESOURCE_EXHAUSTED;
      break;
    default:
      break;
  }
  return Status(code, error.message());
}

// ---- replay ----

std::string Controller::list_l2_locked(LiveL2* live) {
  Request req;
  Response r;
  req.mutable_bridge_list();
  if (!call_locked(req, &r)) return "bridge list: " + last_error_;
  live->bridges = r.bridges();
  req.Clear();
  req.mutable_mac_list();
  if (!call_locked(req, &r)) return "mac list: " + last_error_;
  if (r.has_error()) {
    // A table too large for one frame: static MACs are then re-added (adding is idempotent)
    // and stray ones cannot be found.
    log(LogLevel::kWarning, "mac list: %s; re-adding every static MAC",
        proto::describe(r.error()).c_str());
    return {};
  }
  live->macs_known = true;
  for (const auto& m : r.macs().macs()) {
    if (m.is_static()) live->static_macs.push_back(m);
  }
  return {};
}

std::string Controller::remove_l2_locked(LiveL2* live) {
  Request req;
  Response r;
  // Attachments kept: desired with the same VLAN (in a bridge that is desired too).
  for (const auto& b : live->bridges.bridges()) {
    for (const auto& a : b.attachments()) {
      const AttachmentSpec* want = find_attachment(state_, b.config().name(), a.port());
      if (want && want->vlan() == a.vlan())
        live->kept_attachments.insert(b.config().name() + "/" + a.port() + "/" +
                                      std::to_string(a.vlan()));
    }
  }
  for (const auto& m : live->static_macs) {
    const StaticMacSpec* want = find_static_mac(state_, m.bridge(), m.mac());
    const std::string attachment = m.bridge() + "/" + m.port() + "/" + std::to_string(m.vlan());
    if (want && want->port() == m.port() && live->kept_attachments.count(attachment)) {
      live->kept_static_macs.insert(m.bridge() + "/" + m.mac() + "/" + m.port());
      continue;
    }
    req.Clear();
    req.mutable_mac_del()->set_bridge(m.bridge());
    req.mutable_mac_del()->set_mac(m.mac());
    if (!call_locked(req, &r)) return "mac del: " + last_error_;
  }
  for (const auto& b : live->bridges.bridges()) {
    for (const auto& a : b.attachments()) {
      if (live->kept_attachments.count(b.config().name() + "/" + a.port() + "/" +
                                       std::to_string(a.vlan())))
        continue;
      req.Clear();
      req.mutable_bridge_detach()->set_bridge(b.config().name());
      req.mutable_bridge_detach()->set_port(a.port());
      if (!call_locked(req, &r)) return "bridge detach: " + last_error_;
    }
  }
  for (const auto& b : live->bridges.bridges()) {
    if (find_bridge(state_, b.config().name())) continue;
    req.Clear();
    req.mutable_bridge_del()->set_name(b.config().name());
    if (!call_locked(req, &r)) return "bridge del: " + last_error_;
  }
  return {};
}

std::string Controller::replay_l2_locked(const LiveL2& live,
                                         const std::set<std::string>& kept_ports) {
  bridge_result_.clear();
  attachment_result_.clear();
  mac_result_.clear();
  for (const BridgeSpec& spec : state_.bridges()) {
    const vswitch::dp::BridgeStatus* have = nullptr;
    for (const auto& b : live.bridges.bridges()) {
      if (b.config().name() == spec.name()) have = &b;
    }
    if (have &&
        google::protobuf::util::MessageDifferencer::Equals(have->config(), to_dataplane(spec))) {
      bridge_result_[spec.name()] = "";
    } else {
      program_bridge_locked(spec, have != nullptr);
    }
    if (!connected_) return "replaying bridge " + spec.name() + ": " + last_error_;
  }
  for (const AttachmentSpec& a : state_.attachments()) {
    const std::string key = a.bridge() + "/" + a.port() + "/" + std::to_string(a.vlan());
    if (live.kept_attachments.count(key) && kept_ports.count(a.port())) {
      attachment_result_[attachment_key(a.bridge(), a.port())] = "";
    } else {
      program_attachment_locked(a);
    }
    if (!connected_)
      return "replaying attachment " + a.bridge() + " " + a.port() + ": " + last_error_;
  }
  for (const StaticMacSpec& m : state_.static_macs()) {
    // Kept only with its attachment and port: detaching or re-creating them removed it.
    if (kept_ports.count(m.port()) &&
        live.kept_static_macs.count(m.bridge() + "/" + m.mac() + "/" + m.port())) {
      mac_result_[mac_key(m.bridge(), m.mac())] = "";
    } else {
      program_static_mac_locked(m);
    }
    if (!connected_) return "replaying mac " + m.bridge() + " " + m.mac() + ": " + last_error_;
  }
  return {};
}

// ---- programming one object ----

void Controller::program_bridge_locked(const BridgeSpec& spec, bool exists) {
  Request req;
  if (exists) {
    *req.mutable_bridge_set()->mutable_bridge() = to_dataplane(spec);
  } else {
    *req.mutable_bridge_add()->mutable_bridge() = to_dataplane(spec);
  }
  Response r;
  if (!call_locked(req, &r)) return;  // pending: replayed on reconnect
  bridge_result_[spec.name()] = r.has_error() ? proto::describe(r.error()) : "";
  if (r.has_error())
    log(LogLevel::kWarning, "bridge %s: the dataplane refused it: %s", spec.name().c_str(),
        bridge_result_[spec.name()].c_str());
}

void Controller::program_attachment_locked(const AttachmentSpec& a) {
  const std::string key = attachment_key(a.bridge(), a.port());
  auto port = port_result_.find(a.port());
  if (port != port_result_.end() && !port->second.empty()) {
    attachment_result_[key] = "port '" + a.port() + "' is not in the dataplane: " + port->second;
    return;
  }
  auto bridge = bridge_result_.find(a.bridge());
  if (bridge != bridge_result_.end() && !bridge->second.empty()) {
    attachment_result_[key] =
        "bridge '" + a.bridge() + "' is not in the dataplane: " + bridge->second;
    return;
  }
  Request req;
  auto* attach = req.mutable_bridge_attach();
  attach->set_bridge(a.bridge());
  attach->set_port(a.port());
  attach->set_vlan(a.vlan());
  Response r;
  if (!call_locked(req, &r)) return;
  attachment_result_[key] = r.has_error() ? proto::describe(r.error()) : "";
}

void Controller::program_static_mac_locked(const StaticMacSpec& m) {
  const std::string key = mac_key(m.bridge(), m.mac());
  auto attached = attachment_result_.find(attachment_key(m.bridge(), m.port()));
  if (attached != attachment_result_.end() && !attached->second.empty()) {
    mac_result_[key] = "port '" + m.port() + "' is not attached to bridge '" + m.bridge() +
                       "' in the dataplane: " + attached->second;
    return;
  }
  Request req;
  auto* add = req.mutable_mac_add();
  add->set_bridge(m.bridge());
  add->set_mac(m.mac());
  add->set_port(m.port());
  Response r;
  if (!call_locked(req, &r)) return;
  mac_result_[key] = r.has_error() ? proto::describe(r.error()) : "";
}

// ---- views ----

Status Controller::unavailable_locked() const {
  return Status(StatusCode::UNAVAILABLE,
                "dataplane: disconnected" + (last_error_.empty() ? "" : " (" + last_error_ + ")"));
}

void Controller::fill_attachment_locked(const AttachmentSpec& a,
                                        vswitch::v1::Attachment* out) const {
  out->set_bridge(a.bridge());
  out->set_port(a.port());
  out->set_vlan(a.vlan());
  auto it = attachment_result_.find(attachment_key(a.bridge(), a.port()));
  out->set_programmed(connected_ && it != attachment_result_.end() && it->second.empty());
  if (it != attachment_result_.end()) out->set_error(it->second);
}

void Controller::fill_static_mac_locked(const StaticMacSpec& m, vswitch::v1::StaticMac* out) const {
  out->set_bridge(m.bridge());
  out->set_mac(m.mac());
  out->set_port(m.port());
  auto it = mac_result_.find(mac_key(m.bridge(), m.mac()));
  out->set_programmed(connected_ && it != mac_result_.end() && it->second.empty());
  if (it != mac_result_.end()) out->set_error(it->second);
}

void Controller::fill_bridge_locked(const BridgeSpec& spec, const vswitch::dp::BridgeStatus* live,
                                    vswitch::v1::Bridge* out) const {
  *out->mutable_spec() = spec;
  auto* state = out->mutable_state();
  auto it = bridge_result_.find(spec.name());
  state->set_programmed(connected_ && it != bridge_result_.end() && it->second.empty());
  if (it != bridge_result_.end()) state->set_error(it->second);
  if (live) {
    state->set_macs(live->macs());
    state->set_learned(live->learned());
    state->set_moves(live->moves());
    state->set_aged(live->aged());
    state->set_learn_limit_drops(live->learn_limit_drops());
  }
  for (const AttachmentSpec& a : state_.attachments()) {
    if (a.bridge() == spec.name()) fill_attachment_locked(a, state->add_attachments());
  }
}

void Controller::build_l2_status_locked(vswitch::v1::Status* out) const {
  out->set_bridges(static_cast<uint32_t>(state_.bridges_size()));
  out->set_attachments(static_cast<uint32_t>(state_.attachments_size()));
  out->set_static_macs(static_cast<uint32_t>(state_.static_macs_size()));
  auto add = [out](const std::string& object, const std::string& error) {
    auto* e = out->add_errors();
    e->set_object(object);
    e->set_error(error);
  };
  for (const BridgeSpec& b : state_.bridges()) {
    auto it = bridge_result_.find(b.name());
    if (it != bridge_result_.end() && !it->second.empty()) add("bridge " + b.name(), it->second);
  }
  for (const AttachmentSpec& a : state_.attachments()) {
    auto it = attachment_result_.find(attachment_key(a.bridge(), a.port()));
    if (it != attachment_result_.end() && !it->second.empty())
      add("attachment " + a.bridge() + " " + attachment_label(a.port(), a.vlan()), it->second);
  }
  for (const StaticMacSpec& m : state_.static_macs()) {
    auto it = mac_result_.find(mac_key(m.bridge(), m.mac()));
    if (it != mac_result_.end() && !it->second.empty())
      add("mac " + m.bridge() + " " + m.mac(), it->second);
  }
}

// ---- bridges ----

Status Controller::add_bridge(const BridgeSpec& requested, vswitch::v1::Bridge* out) {
  if (Status s = validate_bridge(requested); !s.ok()) return s;
  const BridgeSpec spec = normalize_bridge(requested);
  std::lock_guard lk(mu_);
  if (Status s = check_add_bridge(state_, spec); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  *next.add_bridges() = spec;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_bridge_locked(spec, false);
  fill_bridge_locked(spec, nullptr, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_bridge(const std::string& name) {
  std::lock_guard lk(mu_);
  if (Status s = check_delete_bridge(state_, name); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  erase_if(next.mutable_bridges(), [&](const BridgeSpec& b) { return b.name() == name; });
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  Request req;
  req.mutable_bridge_del()->set_name(name);
  Response r;
  call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
  bridge_result_.erase(name);
  publish_status_locked();
  return Status::OK;
}

Status Controller::set_bridge(const vswitch::v1::SetBridgeRequest& request,
                              vswitch::v1::Bridge* out) {
  if (Status s = validate_bridge_update(request); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!find_bridge(state_, request.name()))
    return Status(StatusCode::NOT_FOUND, "name: no bridge '" + request.name() + "'");
  vswitch::state::DesiredState next = state_;
  BridgeSpec* stored = nullptr;
  for (BridgeSpec& b : *next.mutable_bridges()) {
    if (b.name() == request.name()) stored = &b;
  }
  if (request.aging_seconds()) stored->set_aging_seconds(request.aging_seconds());
  if (request.mac_limit()) stored->set_mac_limit(request.mac_limit());
  const BridgeSpec spec = *stored;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  // A bridge the dataplane has is changed in place; one it refused is tried again.
  auto it = bridge_result_.find(spec.name());
  program_bridge_locked(spec, it != bridge_result_.end() && it->second.empty());
  fill_bridge_locked(spec, nullptr, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::get_bridge(const std::string& name, vswitch::v1::Bridge* out) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  std::lock_guard lk(mu_);
  const BridgeSpec* spec = find_bridge(state_, name);
  if (!spec) return Status(StatusCode::NOT_FOUND, "name: no bridge '" + name + "'");
  Request req;
  req.mutable_bridge_list();
  Response r;
  const vswitch::dp::BridgeStatus* live = nullptr;
  if (call_locked(req, &r, std::chrono::seconds(5))) {
    for (const auto& b : r.bridges().bridges()) {
      if (b.config().name() == name) live = &b;
    }
  }
  fill_bridge_locked(*spec, live, out);
  return Status::OK;
}

void Controller::list_bridges(vswitch::v1::ListBridgesResponse* out) {
  std::lock_guard lk(mu_);
  Request req;
  req.mutable_bridge_list();
  Response r;
  std::map<std::string, const vswitch::dp::BridgeStatus*> live;
  if (call_locked(req, &r, std::chrono::seconds(5))) {
    for (const auto& b : r.bridges().bridges()) live[b.config().name()] = &b;
  }
  for (const BridgeSpec& spec : state_.bridges()) {
    auto it = live.find(spec.name());
    fill_bridge_locked(spec, it == live.end() ? nullptr : it->second, out->add_bridges());
  }
}

Status Controller::attach_port(const vswitch::v1::AttachPortRequest& request,
                               vswitch::v1::Attachment* out) {
  std::lock_guard lk(mu_);
  if (Status s = check_attach(state_, request); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  AttachmentSpec* a = next.add_attachments();
  a->set_bridge(request.bridge());
  a->set_port(request.port());
  a->set_vlan(request.vlan());
  const AttachmentSpec stored = *a;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_attachment_locked(stored);
  fill_attachment_locked(stored, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::detach_port(const vswitch::v1::DetachPortRequest& request) {
  std::lock_guard lk(mu_);
  if (Status s = check_detach(state_, request); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  erase_if(next.mutable_attachments(), [&](const AttachmentSpec& a) {
    return a.bridge() == request.bridge() && a.port() == request.port();
  });
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  Request req;
  req.mutable_bridge_detach()->set_bridge(request.bridge());
  req.mutable_bridge_detach()->set_port(request.port());
  Response r;
  call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
  attachment_result_.erase(attachment_key(request.bridge(), request.port()));
  publish_status_locked();
  return Status::OK;
}

// ---- MACs ----

Status Controller::add_mac(const vswitch::v1::AddMacRequest& request, vswitch::v1::StaticMac* out) {
  std::lock_guard lk(mu_);
  StaticMacSpec stored;
  if (Status s = check_add_mac(state_, request, &stored); !s.ok()) return s;
  vswitch::state::DesiredState next = state_;
  *next.add_static_macs() = stored;
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  program_static_mac_locked(stored);
  fill_static_mac_locked(stored, out);
  publish_status_locked();
  return Status::OK;
}

Status Controller::delete_mac(const vswitch::v1::DeleteMacRequest& request) {
  const std::string& bridge = request.bridge();
  if (bridge.empty()) return Status(StatusCode::INVALID_ARGUMENT, "bridge: required");
  std::string mac;
  if (Status s = parse_static_mac(request.mac(), &mac); !s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!find_bridge(state_, bridge))
    return Status(StatusCode::NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  Request req;
  req.mutable_mac_del()->set_bridge(bridge);
  req.mutable_mac_del()->set_mac(mac);
  Response r;
  if (find_static_mac(state_, bridge, mac)) {
    vswitch::state::DesiredState next = state_;
    erase_if(next.mutable_static_macs(),
             [&](const StaticMacSpec& m) { return m.bridge() == bridge && m.mac() == mac; });
    if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
    call_locked(req, &r);  // NOT_FOUND is fine: the dataplane had refused it
    mac_result_.erase(mac_key(bridge, mac));
    publish_status_locked();
    return Status::OK;
  }
  // A learned MAC: the dataplane's alone.
  if (!connected_)
    return Status(StatusCode::NOT_FOUND, "mac: '" + mac + "' is not a static MAC of bridge '" +
                                             bridge +
                                             "', and the dataplane, which holds the learned "
                                             "ones, is disconnected");
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  return Status::OK;
}

Status Controller::flush_macs(const std::string& bridge) {
  std::lock_guard lk(mu_);
  if (!bridge.empty() && !find_bridge(state_, bridge))
    return Status(StatusCode::NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_mac_flush()->set_bridge(bridge);
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  return Status::OK;
}

Status Controller::list_macs(const std::string& bridge, vswitch::v1::ListMacsResponse* out) {
  std::lock_guard lk(mu_);
  if (!bridge.empty() && !find_bridge(state_, bridge))
    return Status(StatusCode::NOT_FOUND, "bridge: no bridge '" + bridge + "'");
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_mac_list()->set_bridge(bridge);
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  // The dataplane lists in hash order; bridge then MAC reads better and diffs well.
  std::vector<const vswitch::dp::MacEntry*> sorted;
  for (const auto& m : r.macs().macs()) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::tie(a->bridge(), a->mac()) < std::tie(b->bridge(), b->mac());
  });
  for (const vswitch::dp::MacEntry* e : sorted) {
    const vswitch::dp::MacEntry& m = *e;
    auto* o = out->add_macs();
    o->set_bridge(m.bridge());
    o->set_mac(m.mac());
    o->set_port(m.port());
    o->set_vlan(m.vlan());
    o->set_is_static(m.is_static());
    o->set_age_seconds(m.age_seconds());
  }
  return Status::OK;
}

// ---- flow caches ----

Status Controller::list_flows(uint32_t max, vswitch::v1::ListFlowsResponse* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_flow_list()->set_max(max);
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  for (const auto& f : r.flows().flows()) {
    auto* o = out->add_flows();
    o->set_worker(f.worker());
    o->set_in_port(f.in_port());
    o->set_vlan(f.vlan());
    o->set_src_mac(f.src_mac());
    o->set_dst_mac(f.dst_mac());
    o->set_ethertype(f.ethertype());
    o->set_src_ip(f.src_ip());
    o->set_dst_ip(f.dst_ip());
    o->set_protocol(f.protocol());
    o->set_src_port(f.src_port());
    o->set_dst_port(f.dst_port());
    o->set_out_port(f.out_port());
    o->set_out_vlan(f.out_vlan());
    o->set_stale(f.stale());
    o->set_routed(f.routed());
  }
  return Status::OK;
}

Status Controller::flow_stats(vswitch::v1::FlowStats* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_flow_stats();
  Response r;
  if (!call_locked(req, &r, std::chrono::seconds(5))) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  for (const auto& w : r.flow_stats().workers()) {
    auto* o = out->add_workers();
    o->set_worker(w.worker());
    o->set_hits(w.hits());
    o->set_misses(w.misses());
    o->set_stale(w.stale());
    o->set_evictions(w.evictions());
    o->set_inserts(w.inserts());
    o->set_capacity(w.capacity());
  }
  return Status::OK;
}

}  // namespace vsw::ctl
