// The QEMU command line of a VM: a pure function of its spec, its port and the accelerator,
// unit-tested. The flags that matter and why are in docs/vms.md.
#pragma once

#include <string>
#include <vector>

#include "vswitch.pb.h"

namespace vsw::ctl {

// Where a VM's files live: RUN/vms/NAME/.
struct VmPaths {
  std::string dir;
  std::string qmp_socket;   // QMP, for power-down
  std::string console_log;  // the serial console
  std::string qemu_log;     // QEMU's own stdout and stderr (exit reasons)
  std::string pidfile;      // written by QEMU; lets a restarted controld adopt the guest
};
VmPaths vm_paths(const std::string& run_dir, const std::string& name);

struct QemuLaunch {
  std::string binary;       // qemu-system-x86_64, or an absolute path
  std::string accel;        // "kvm" or "tcg"
  std::string disk_format;  // "raw" or "qcow2" for disk boots
};

// `spec` normalized (normalize_vm), `port` normalized (its socket set).
std::vector<std::string> qemu_argv(const vswitch::v1::VmSpec& spec,
                                   const vswitch::v1::PortSpec& port, const VmPaths& paths,
                                   const QemuLaunch& launch);

// "qcow2" when the file starts with QFI\xfb, else "raw".
std::string detect_disk_format(const std::string& path);

}  // namespace vsw::ctl
