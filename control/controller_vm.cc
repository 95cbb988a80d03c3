// The controller's VM objects: stored in the desired state, run by the VmManager.
//
// A VM change is validated and persisted under mu_; QEMU is started and stopped after mu_ is
// released (a start waits up to 3 s for an early failure, a stop up to its timeout), so the
// rest of the API never waits for a guest.
#include <fstream>

#include "controller.h"
#include "log.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::state::VmRecord;
using vswitch::v1::VmSpec;

namespace {

inline constexpr uint32_t kDefaultConsoleBytes = 65536;
inline constexpr uint32_t kMaxConsoleBytes = 1 << 20;

}  // namespace

VmRecord* Controller::find_vm_locked(DesiredState& state, const std::string& name) {
  for (VmRecord& r : *state.mutable_vms()) {
    if (r.spec().name() == name) return &r;
  }
  return nullptr;
}

const VmRecord* Controller::find_vm_locked(const std::string& name) const {
  for (const VmRecord& r : state_.vms()) {
    if (r.spec().name() == name) return &r;
  }
  return nullptr;
}

Status Controller::set_vm_running_locked(const std::string& name, bool running) {
  const VmRecord* r = find_vm_locked(name);
  if (!r || r->running() == running) return Status::OK;
  DesiredState next = state_;
  find_vm_locked(next, name)->set_running(running);
  Status s = persist_locked(std::move(next));
  publish_status_locked();
  return s;
}

void Controller::fill_vm(const VmSpec& spec, vswitch::v1::Vm* out) {
  *out->mutable_spec() = spec;
  vms_.fill_state(spec.name(), out->mutable_state());
}

void Controller::publish_status() {
  std::lock_guard lk(mu_);
  publish_status_locked();
}

void Controller::start_vms() {
  // What the desired state says, on controld's start: adopt the guests a previous controld
  // left running, start the others that should run.
  std::vector<std::pair<VmRecord, vswitch::v1::PortSpec>> todo;
  {
    std::lock_guard lk(mu_);
    for (const VmRecord& r : state_.vms()) {
      const vswitch::v1::PortSpec* port = find_port_locked(r.spec().port());
      if (port) todo.emplace_back(r, *port);
    }
  }
  // Adopt every running guest first (quick), then start the missing ones (each start waits
  // a moment for an early failure).
  std::vector<const std::pair<VmRecord, vswitch::v1::PortSpec>*> to_start;
  for (const auto& item : todo) {
    const auto& [record, port] = item;
    const bool adopted = vms_.adopt(record.spec(), port);
    if (!record.running()) {
      vms_.ensure(record.spec(), port, false, HostVirt{});
      if (adopted)
        log(LogLevel::kWarning, "vm %s runs but is stopped in the desired state: vswctl vm stop %s",
            record.spec().name().c_str(), record.spec().name().c_str());
    } else if (!adopted) {
      to_start.push_back(&item);
    }
  }
  publish_status();
  for (const auto* item : to_start) {
    if (vms_stopping_) return;
    const auto& [record, port] = *item;
    Status s = vms_.ensure(record.spec(), port, true, detect_host_virt());
    if (!s.ok()) {
      log(LogLevel::kError, "vm %s: %s", record.spec().name().c_str(), s.error_message().c_str());
      std::lock_guard lk(mu_);
      set_vm_running_locked(record.spec().name(), false);
    }
  }
  publish_status();
}

void Controller::on_vm_exit(const std::string& name) {
  std::lock_guard lk(mu_);
  set_vm_running_locked(name, vms_.wants_running(name));
  publish_status_locked();
}

Status Controller::add_vm(const vswitch::v1::AddVmRequest& request, vswitch::v1::Vm* out) {
  if (Status s = validate_vm(request.vm()); !s.ok()) return s;
  const VmSpec spec = normalize_vm(request.vm(), guest_dir_);
  if (Status s = check_vm_files(spec); !s.ok()) return s;
  AccelChoice accel;
  if (Status s = choose_accel(spec.accel(), detect_host_virt(), &accel); !s.ok()) return s;
  vswitch::v1::PortSpec port;
  {
    std::lock_guard lk(mu_);
    if (find_vm_locked(spec.name()))
      return Status(StatusCode::ALREADY_EXISTS, "name: vm '" + spec.name() + "' already exists");
    if (state_.vms_size() >= kMaxVms)
      return Status(StatusCode::RESOURCE_EXHAUSTED,
                    "vms: the limit of " + std::to_string(kMaxVms) + " VMs is reached");
    if (Status s = check_vm_port(state_, spec); !s.ok()) return s;
    port = *find_port_locked(spec.port());
    DesiredState next = state_;
    VmRecord* r = next.add_vms();
    *r->mutable_spec() = spec;
    r->set_running(!request.no_start());
    if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
    publish_status_locked();
  }
  Status s = vms_.ensure(spec, port, !request.no_start(), detect_host_virt());
  if (!s.ok()) {
    // Nothing of a VM that cannot start is kept: the operator fixes the request and retries.
    std::lock_guard lk(mu_);
    DesiredState next = state_;
    auto* vms = next.mutable_vms();
    vms->erase(std::remove_if(vms->begin(), vms->end(),
                              [&](const VmRecord& r) { return r.spec().name() == spec.name(); }),
               vms->end());
    persist_locked(std::move(next));
    vms_.forget(spec.name());
    publish_status_locked();
    return s;
  }
  publish_status();
  fill_vm(spec, out);
  return Status::OK;
}

Status Controller::start_vm(const std::string& name, vswitch::v1::Vm* out) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  VmSpec spec;
  vswitch::v1::PortSpec port;
  {
    std::lock_guard lk(mu_);
    const VmRecord* r = find_vm_locked(name);
    if (!r) return Status(StatusCode::NOT_FOUND, "name: no vm '" + name + "'");
    spec = r->spec();
    const vswitch::v1::PortSpec* p = find_port_locked(spec.port());
    if (!p) return Status(StatusCode::NOT_FOUND, "port: no port '" + spec.port() + "'");
    port = *p;
    if (Status s = set_vm_running_locked(name, true); !s.ok()) return s;
  }
  Status s = vms_.ensure(spec, port, true, detect_host_virt());
  if (!s.ok()) {
    std::lock_guard lk(mu_);
    set_vm_running_locked(name, false);
    return s;
  }
  publish_status();
  fill_vm(spec, out);
  return Status::OK;
}

Status Controller::stop_vm(const vswitch::v1::StopVmRequest& request, vswitch::v1::Vm* out) {
  const std::string& name = request.name();
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  const auto max = std::chrono::duration_cast<std::chrono::seconds>(kMaxVmStopTimeout).count();
  if (request.timeout_seconds() > max)
    return Status(StatusCode::INVALID_ARGUMENT,
                  "timeout_seconds: " + std::to_string(request.timeout_seconds()) +
                      " is more than " + std::to_string(max));
  VmSpec spec;
  {
    std::lock_guard lk(mu_);
    const VmRecord* r = find_vm_locked(name);
    if (!r) return Status(StatusCode::NOT_FOUND, "name: no vm '" + name + "'");
    spec = r->spec();
    if (Status s = set_vm_running_locked(name, false); !s.ok()) return s;
  }
  const auto timeout = request.timeout_seconds() ? std::chrono::seconds(request.timeout_seconds())
                                                 : kDefaultVmStopTimeout;
  Status s = vms_.stop(name, timeout, request.force());
  publish_status();
  if (!s.ok()) return s;
  fill_vm(spec, out);
  return Status::OK;
}

Status Controller::delete_vm(const std::string& name) {
  if (name.empty()) return Status(StatusCode::INVALID_ARGUMENT, "name: required");
  {
    std::lock_guard lk(mu_);
    if (!find_vm_locked(name)) return Status(StatusCode::NOT_FOUND, "name: no vm '" + name + "'");
    if (Status s = set_vm_running_locked(name, false); !s.ok()) return s;
  }
  if (Status s = vms_.stop(name, kDefaultVmStopTimeout, false); !s.ok()) return s;
  std::lock_guard lk(mu_);
  DesiredState next = state_;
  auto* vms = next.mutable_vms();
  vms->erase(std::remove_if(vms->begin(), vms->end(),
                            [&](const VmRecord& r) { return r.spec().name() == name; }),
             vms->end());
  if (Status s = persist_locked(std::move(next)); !s.ok()) return s;
  vms_.forget(name);
  publish_status_locked();
  return Status::OK;
}

Status Controller::get_vm(const std::string& name, vswitch::v1::Vm* out) {
  VmSpec spec;
  {
    std::lock_guard lk(mu_);
    const VmRecord* r = find_vm_locked(name);
    if (!r) return Status(StatusCode::NOT_FOUND, "name: no vm '" + name + "'");
    spec = r->spec();
  }
  fill_vm(spec, out);
  return Status::OK;
}

void Controller::list_vms(vswitch::v1::ListVmsResponse* out) {
  std::vector<VmSpec> specs;
  {
    std::lock_guard lk(mu_);
    for (const VmRecord& r : state_.vms()) specs.push_back(r.spec());
  }
  for (const VmSpec& spec : specs) fill_vm(spec, out->add_vms());
}

Status Controller::vm_console(const vswitch::v1::GetVmConsoleRequest& request,
                              vswitch::v1::VmConsole* out) {
  {
    std::lock_guard lk(mu_);
    if (!find_vm_locked(request.name()))
      return Status(StatusCode::NOT_FOUND, "name: no vm '" + request.name() + "'");
  }
  if (request.max_bytes() > kMaxConsoleBytes)
    return Status(StatusCode::INVALID_ARGUMENT,
                  "max_bytes: " + std::to_string(request.max_bytes()) + " is more than " +
                      std::to_string(kMaxConsoleBytes));
  const uint32_t max = request.max_bytes() ? request.max_bytes() : kDefaultConsoleBytes;
  const std::string path = vms_.paths(request.name()).console_log;
  out->set_path(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::OK;  // never started: an empty console
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  const uint64_t from = size > max ? size - max : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string data(size - from, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  out->set_data(std::move(data));
  out->set_truncated(from > 0);
  return Status::OK;
}

}  // namespace vsw::ctl
