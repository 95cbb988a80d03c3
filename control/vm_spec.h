// Validation of VM specs, their defaults, and the choice of accelerator.
//
// Pure functions (the host's facts are passed in), unit-tested without QEMU. Errors are the
// gRPC status to reply with, the message starting with the field at fault.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "controld_state.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

inline constexpr uint32_t kDefaultVmMemMiB = 256;
inline constexpr uint32_t kMinVmMemMiB = 64;
inline constexpr uint32_t kMaxVmMemMiB = 65536;
inline constexpr uint32_t kMaxVmCpus = 64;
// One VM per vhost-user port, and the ports are bounded by kMaxPorts.
inline constexpr int kMaxVms = 32;
// Kernel command lines are limited to 2048 bytes on x86; leave room for ours.
inline constexpr std::size_t kMaxVmCmdlineLength = 1024;
inline constexpr const char* kDefaultGuestDir = "/var/cache/vswitch/guest";

// Every field on its own (paths are checked for existence by check_vm_files).
grpc::Status validate_vm(const vswitch::v1::VmSpec& spec);
// Defaults made explicit: mem 256, cpus 1, accel "auto", restart "no", the MAC derived from
// the name, and the default guest image when neither kernel nor disk is given. `spec` must be
// valid.
vswitch::v1::VmSpec normalize_vm(const vswitch::v1::VmSpec& spec,
                                 const std::string& guest_dir = kDefaultGuestDir);
// The VM's port exists, is vhost-user, and no other VM uses it.
grpc::Status check_vm_port(const vswitch::state::DesiredState& state,
                           const vswitch::v1::VmSpec& spec);
// The kernel, initrd or disk of a normalized spec are readable files.
grpc::Status check_vm_files(const vswitch::v1::VmSpec& spec);
// 52:54:00 (QEMU's prefix) and three bytes of a hash of the name: stable across restarts.
std::string derived_vm_mac(const std::string& name);

// What the host offers: /dev/kvm can be opened read-write, and /proc/cpuinfo's flags.
struct HostVirt {
  bool kvm_device = false;
  bool hw_virt_flag = false;  // vmx or svm
};
HostVirt detect_host_virt();
// The cpuinfo part of detect_host_virt, on given text.
bool cpuinfo_has_hw_virt(const std::string& cpuinfo);

struct AccelChoice {
  std::string accel;    // "kvm" or "tcg"
  std::string warning;  // set when "auto" fell back to emulation
};
// auto: kvm when the device is there and the CPU flag too; else tcg with a warning.
// kvm without /dev/kvm: FAILED_PRECONDITION.
grpc::Status choose_accel(const std::string& requested, const HostVirt& host, AccelChoice* out);

}  // namespace vsw::ctl
