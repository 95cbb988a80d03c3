#include "vm_spec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "port_fields.h"
#include "route_spec.h"

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::v1::VmSpec;

namespace {

Status invalid(const std::string& message) {
  return Status(StatusCode::INVALID_ARGUMENT, message);
}

Status check_path(const std::string& value, const char* field) {
  if (value.empty()) return Status::OK;
  if (value[0] != '/')
    return invalid(std::string(field) + ": '" + value + "' must be an absolute path");
  // QEMU's option parser splits on ','; a path with one would need escaping.
  if (value.find(',') != std::string::npos)
    return invalid(std::string(field) + ": '" + value + "' must not contain ','");
  return Status::OK;
}

Status check_readable(const std::string& path, const char* field) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status(StatusCode::FAILED_PRECONDITION,
                  std::string(field) + ": '" + path + "' is not a file");
  if (::access(path.c_str(), R_OK) != 0)
    return Status(StatusCode::FAILED_PRECONDITION,
                  std::string(field) + ": '" + path + "' is not readable");
  return Status::OK;
}

}  // namespace

Status validate_vm(const VmSpec& spec) {
  if (std::string err = fields::check_port_name(spec.name()); !err.empty()) return invalid(err);
  if (spec.port().empty()) return invalid("port: required (a vhost-user port)");
  if (std::string err = fields::check_port_name(spec.port(), "port"); !err.empty())
    return invalid(err);
  if (spec.mem_mib() != 0 && (spec.mem_mib() < kMinVmMemMiB || spec.mem_mib() > kMaxVmMemMiB))
    return invalid("mem_mib: " + std::to_string(spec.mem_mib()) + " is not within " +
                   std::to_string(kMinVmMemMiB) + "-" + std::to_string(kMaxVmMemMiB) + " MiB");
  if (spec.cpus() > kMaxVmCpus)
    return invalid("cpus: " + std::to_string(spec.cpus()) + " is not within 1-" +
                   std::to_string(kMaxVmCpus));
  const std::string& accel = spec.accel();
  if (!accel.empty() && accel != "auto" && accel != "kvm" && accel != "tcg")
    return invalid("accel: '" + accel + "' is not one of auto, kvm, tcg");
  for (auto [value, field] :
       {std::pair{&spec.kernel(), "kernel"}, {&spec.initrd(), "initrd"}, {&spec.disk(), "disk"}}) {
    if (Status s = check_path(*value, field); !s.ok()) return s;
  }
  if (spec.kernel().empty() != spec.initrd().empty())
    return invalid(spec.kernel().empty() ? "kernel: required with initrd"
                                         : "initrd: required with kernel");
  if (!spec.disk().empty() && !spec.kernel().empty())
    return invalid("disk: either a disk image or a kernel and initrd, not both");
  const bool disk_boot = !spec.disk().empty();
  if (!spec.ip().empty()) {
    if (disk_boot)
      return invalid("ip: only for kernel boots; a disk image configures its own network");
    IpPrefix cidr;
    if (!parse_prefix(spec.ip(), &cidr))
      return invalid("ip: '" + spec.ip() +
                     "' is not an address with a prefix length like 10.0.0.1/24 or fd00::1/64");
  }
  if (!spec.gw().empty()) {
    if (disk_boot)
      return invalid("gw: only for kernel boots; a disk image configures its own network");
    if (spec.ip().empty()) return invalid("gw: needs ip");
    IpAddress gw;
    if (!parse_ip(spec.gw(), &gw)) return invalid("gw: '" + spec.gw() + "' is not an IP address");
  }
  uint8_t mac[6];
  if (!spec.mac().empty() && !fields::parse_mac(spec.mac(), mac))
    return invalid("mac: '" + spec.mac() + "' is not a unicast MAC address like 52:54:00:00:00:01");
  if (!spec.restart().empty() && spec.restart() != "no" && spec.restart() != "always")
    return invalid("restart: '" + spec.restart() + "' is not one of no, always");
  if (!spec.cmdline().empty()) {
    if (disk_boot) return invalid("cmdline: only for kernel boots");
    if (spec.cmdline().size() > kMaxVmCmdlineLength)
      return invalid("cmdline: longer than " + std::to_string(kMaxVmCmdlineLength) + " bytes");
    for (char c : spec.cmdline()) {
      if (c < 0x20 || c > 0x7e) return invalid("cmdline: only printable ASCII is allowed");
    }
  }
  return Status::OK;
}

std::string derived_vm_mac(const std::string& name) {
  static const uint8_t kQemuPrefix[3] = {0x52, 0x54, 0x00};
  return fields::mac_from_name(kQemuPrefix, name);
}

VmSpec normalize_vm(const VmSpec& spec, const std::string& guest_dir) {
  VmSpec out = spec;
  if (out.mem_mib() == 0) out.set_mem_mib(kDefaultVmMemMiB);
  if (out.cpus() == 0) out.set_cpus(1);
  if (out.accel().empty()) out.set_accel("auto");
  if (out.restart().empty()) out.set_restart("no");
  if (out.mac().empty()) {
    out.set_mac(derived_vm_mac(out.name()));
  } else {
    uint8_t mac[6];
    fields::parse_mac(out.mac(), mac);
    out.set_mac(fields::format_mac(mac));
  }
  if (out.kernel().empty() && out.disk().empty()) {
    out.set_kernel(guest_dir + "/vmlinuz");
    out.set_initrd(guest_dir + "/initrd.img");
  }
  return out;
}

Status check_vm_port(const DesiredState& state, const VmSpec& spec) {
  const vswitch::v1::PortSpec* port = nullptr;
  for (const auto& p : state.ports()) {
    if (p.name() == spec.port()) port = &p;
  }
  if (!port) return Status(StatusCode::NOT_FOUND, "port: no port '" + spec.port() + "'");
  if (port->type() != "vhost-user")
    return invalid("port: '" + spec.port() + "' is a " + port->type() +
                   " port; a VM needs a vhost-user port");
  for (const auto& vm : state.vms()) {
    if (vm.spec().port() == spec.port() && vm.spec().name() != spec.name())
      return Status(StatusCode::FAILED_PRECONDITION,
                    "port: '" + spec.port() + "' is already used by vm '" + vm.spec().name() + "'");
  }
  return Status::OK;
}

Status check_vm_files(const VmSpec& spec) {
  if (!spec.disk().empty()) return check_readable(spec.disk(), "disk");
  if (Status s = check_readable(spec.kernel(), "kernel"); !s.ok()) {
    if (spec.kernel() == std::string(kDefaultGuestDir) + "/vmlinuz")
      return Status(StatusCode::FAILED_PRECONDITION,
                    "kernel: the default guest image " + spec.kernel() +
                        " is missing; build it with guest/build-image.sh (make demo does), or "
                        "give --kernel and --initrd or --disk");
    return s;
  }
  return check_readable(spec.initrd(), "initrd");
}

bool cpuinfo_has_hw_virt(const std::string& cpuinfo) {
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(
        line.substr(line.find(':') == std::string::npos ? line.size() : line.find(':') + 1));
    std::string w;
    while (words >> w) {
      if (w == "vmx" || w == "svm") return true;
    }
    return false;  // every CPU lists the same flags
  }
  return false;
}

HostVirt detect_host_virt() {
  HostVirt host;
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    host.kvm_device = true;
    ::close(fd);
  }
  std::ifstream in("/proc/cpuinfo");
  std::stringstream text;
  text << in.rdbuf();
  host.hw_virt_flag = cpuinfo_has_hw_virt(text.str());
  return host;
}

Status choose_accel(const std::string& requested, const HostVirt& host, AccelChoice* out) {
  if (requested == "tcg") {
    *out = {"tcg", ""};
    return Status::OK;
  }
  if (requested == "kvm") {
    if (!host.kvm_device)
      return Status(
          StatusCode::FAILED_PRECONDITION,
          "accel: kvm is not available here (/dev/kvm cannot be opened); use auto or tcg");
    *out = {"kvm", ""};
    return Status::OK;
  }
  if (host.kvm_device && host.hw_virt_flag) {
    *out = {"kvm", ""};
    return Status::OK;
  }
  *out = {"tcg", std::string("no hardware virtualization (") +
                     (host.kvm_device ? "/dev/kvm is there but the CPU has no vmx/svm flag"
                                      : "no usable /dev/kvm") +
                     "): the guest runs under TCG software emulation, good for functional tests "
                     "only"};
  return Status::OK;
}

}  // namespace vsw::ctl
