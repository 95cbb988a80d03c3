#include "qemu_command.h"

#include <fstream>

namespace vsw::ctl {

VmPaths vm_paths(const std::string& run_dir, const std::string& name) {
  VmPaths p;
  p.dir = run_dir + "/vms/" + name;
  p.qmp_socket = p.dir + "/qmp.sock";
  p.console_log = p.dir + "/console.log";
  p.qemu_log = p.dir + "/qemu.log";
  p.pidfile = p.dir + "/qemu.pid";
  return p;
}

std::string detect_disk_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return (in && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' &&
          static_cast<unsigned char>(magic[3]) == 0xfb)
             ? "qcow2"
             : "raw";
}

std::vector<std::string> qemu_argv(const vswitch::v1::VmSpec& spec,
                                   const vswitch::v1::PortSpec& port, const VmPaths& paths,
                                   const QemuLaunch& launch) {
  const std::string mem = std::to_string(spec.mem_mib()) + "M";
  const uint32_t queues = port.queues() > 1 ? port.queues() : 1;
  std::vector<std::string> a = {
      launch.binary, "-name", "guest=" + spec.name() + ",debug-threads=on", "-nodefaults",
      "-no-user-config", "-display", "none",
      // A guest reboot (and panic=-1) ends QEMU, so a crash shows up as an exit.
      "-no-reboot",
      // vhost-user: the switch maps guest memory, so it must be shared.
      "-object", "memory-backend-memfd,id=mem,size=" + mem + ",share=on", "-machine",
      "q35,memory-backend=mem", "-m", mem, "-smp", std::to_string(spec.cpus())};
  if (launch.accel == "kvm") {
    a.insert(a.end(), {"-enable-kvm", "-cpu", "host"});
  } else {
    a.insert(a.end(), {"-accel", "tcg", "-cpu", "max"});
  }
  if (!spec.disk().empty()) {
    a.insert(a.end(), {"-drive", "file=" + spec.disk() + ",if=virtio,format=" +
                                     (launch.disk_format.empty() ? "raw" : launch.disk_format)});
  } else {
    std::string cmdline = "console=ttyS0 panic=-1";
    if (!spec.ip().empty()) cmdline += " vsw.ip=" + spec.ip();
    if (!spec.gw().empty()) cmdline += " vsw.gw=" + spec.gw();
    if (!spec.cmdline().empty()) cmdline += " " + spec.cmdline();
    a.insert(a.end(), {"-kernel", spec.kernel(), "-initrd", spec.initrd(), "-append", cmdline});
  }
  // The port's mode decides who listens: a client-mode port connects to QEMU, which keeps
  // listening while the dataplane restarts; a server-mode port is connected to, and QEMU
  // reconnects every second when the dataplane went away.
  std::string chardev = "socket,id=vhost0,path=" + port.socket();
  chardev += port.mode() == "client" ? ",server=on,wait=off" : ",reconnect=1";
  a.insert(a.end(), {"-chardev", chardev});
  std::string netdev = "vhost-user,id=net0,chardev=vhost0";
  std::string device = "virtio-net-pci,netdev=net0,mac=" + spec.mac();
  if (queues > 1) {
    netdev += ",queues=" + std::to_string(queues);
    device += ",mq=on";
  }
  // QEMU 7.2 under TCG crashes in msix_set_vector_notifiers when a vhost-user virtio-net
  // device starts with MSI-X; under KVM, one vector per queue plus config and control.
  device += launch.accel == "kvm" ? ",vectors=" + std::to_string(2 * queues + 2) : ",vectors=0";
  a.insert(a.end(), {"-netdev", netdev, "-device", device});
  a.insert(a.end(),
           {"-chardev", "file,id=console,path=" + paths.console_log, "-serial", "chardev:console"});
  a.insert(a.end(), {"-qmp", "unix:" + paths.qmp_socket + ",server=on,wait=off"});
  a.insert(a.end(), {"-pidfile", paths.pidfile});
  return a;
}

}  // namespace vsw::ctl
