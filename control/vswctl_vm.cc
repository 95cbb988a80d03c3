// vswctl vm add|start|stop|del|list|show|console: QEMU guests on vhost-user ports, launched
// and tracked by vsw-controld.
#include <cstdio>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

using vswitch::v1::Vm;

// Beyond the stop timeout: SIGTERM's and SIGKILL's grace (3 + 5 s) and some slack.
constexpr std::chrono::seconds kStopSlack{15};

std::string accel_cell(const vswitch::v1::VmState& state) {
  if (state.accel().empty()) return "-";
  return state.accel() == "tcg" ? "tcg (emulated)" : state.accel();
}

std::string boot_cell(const vswitch::v1::VmSpec& spec) {
  if (!spec.disk().empty()) return "disk " + spec.disk();
  return "kernel " + spec.kernel();
}

std::string uptime(uint64_t seconds) {
  return seconds < 60 ? std::to_string(seconds) + " s" : duration_ms(seconds * 1000);
}

void warn_emulation(const Vm& vm) {
  if (!vm.state().warning().empty())
    print_error("warning: vm " + vm.spec().name() + ": " + vm.state().warning());
}

int confirm(Context& context, const Vm& vm, const std::string& what) {
  if (context.json) {
    print_json(vm);
  } else {
    std::string line = "vm " + vm.spec().name() + " " + what;
    if (vm.state().state() == "running")
      line += " (pid " + std::to_string(vm.state().pid()) + ", " + accel_cell(vm.state()) +
              ", port " + vm.spec().port() + ", console: vswctl vm console " + vm.spec().name() +
              ")";
    std::printf("%s\n", line.c_str());
  }
  if (vm.state().state() == "running") warn_emulation(vm);
  return kExitOk;
}

int run_vm_add(Context& context, const Args& args) {
  vswitch::v1::AddVmRequest request;
  auto* spec = request.mutable_vm();
  spec->set_name(args.positional[0]);
  spec->set_port(args.get("--port"));
  int status = kExitOk;
  uint32_t value = 0;
  if (args.has("--mem")) {
    if (!number_option(args, "vm add", "--mem", &value, &status)) return status;
    spec->set_mem_mib(value);
  }
  if (args.has("--cpus")) {
    if (!number_option(args, "vm add", "--cpus", &value, &status)) return status;
    spec->set_cpus(value);
  }
  spec->set_accel(args.get("--accel"));
  spec->set_kernel(args.get("--kernel"));
  spec->set_initrd(args.get("--initrd"));
  spec->set_disk(args.get("--disk"));
  spec->set_ip(args.get("--ip"));
  spec->set_gw(args.get("--gw"));
  spec->set_mac(args.get("--mac"));
  spec->set_restart(args.get("--restart"));
  spec->set_cmdline(args.get("--cmdline"));
  request.set_no_start(args.has("--no-start"));
  Vm vm;
  const grpc::Status rpc = context.client.call(&Stub::AddVm, request, &vm);
  if (!rpc.ok()) return report_failure(context, rpc);
  return confirm(context, vm, request.no_start() ? "added (not started)" : "added and started");
}

int run_vm_start(Context& context, const Args& args) {
  vswitch::v1::StartVmRequest request;
  request.set_name(args.positional[0]);
  Vm vm;
  const grpc::Status rpc = context.client.call(&Stub::StartVm, request, &vm);
  if (!rpc.ok()) return report_failure(context, rpc);
  return confirm(context, vm, "started");
}

int run_vm_stop(Context& context, const Args& args) {
  vswitch::v1::StopVmRequest request;
  request.set_name(args.positional[0]);
  int status = kExitOk;
  uint32_t timeout = 20;
  if (args.has("--timeout")) {
    if (!number_option(args, "vm stop", "--timeout", &timeout, &status)) return status;
    request.set_timeout_seconds(timeout);
  }
  request.set_force(args.has("--force"));
  Vm vm;
  const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::seconds(timeout) + kStopSlack);
  const grpc::Status rpc = context.client.call(&Stub::StopVm, request, &vm, deadline);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(vm);
  } else {
    std::printf("vm %s stopped (%s)\n", vm.spec().name().c_str(),
                or_dash(vm.state().exit_reason()).c_str());
  }
  return kExitOk;
}

int run_vm_del(Context& context, const Args& args) {
  vswitch::v1::DeleteVmRequest request;
  request.set_name(args.positional[0]);
  vswitch::v1::DeleteVmResponse response;
  const auto deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(20) + kStopSlack);
  const grpc::Status rpc = context.client.call(&Stub::DeleteVm, request, &response, deadline);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("vm %s deleted\n", request.name().c_str());
  }
  return kExitOk;
}

int run_vm_list(Context& context, const Args&) {
  vswitch::v1::ListVmsResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListVms, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  using Align = Table::Align;
  Table table({{"NAME"},
               {"STATE"},
               {"PID", Align::kRight},
               {"PORT"},
               {"ACCEL"},
               {"MEM", Align::kRight},
               {"CPUS", Align::kRight},
               {"IP"},
               {"UPTIME", Align::kRight},
               {"LAST EXIT"}});
  bool emulated = false;
  for (const Vm& vm : response.vms()) {
    const auto& s = vm.state();
    const bool running = s.state() == "running" || s.state() == "stopping";
    emulated |= running && s.accel() == "tcg";
    table.add_row({vm.spec().name(), s.state(), running ? std::to_string(s.pid()) : "-",
                   vm.spec().port(), accel_cell(s), std::to_string(vm.spec().mem_mib()) + "M",
                   std::to_string(vm.spec().cpus()), or_dash(vm.spec().ip()),
                   running ? uptime(s.uptime_seconds()) : "-",
                   or_dash(s.error().empty() ? s.exit_reason() : "start failed: " + s.error())});
  }
  table.print();
  if (emulated)
    print_error(
        "warning: VMs under tcg run in software emulation: good for functional tests, "
        "not for performance");
  return kExitOk;
}

int run_vm_show(Context& context, const Args& args) {
  vswitch::v1::GetVmRequest request;
  request.set_name(args.positional[0]);
  Vm vm;
  const grpc::Status rpc = context.client.call(&Stub::GetVm, request, &vm);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(vm);
    return kExitOk;
  }
  const auto& spec = vm.spec();
  const auto& s = vm.state();
  KeyValues kv;
  kv.add("name", spec.name());
  kv.add("state", s.state() + (s.desired_running() ? " (wanted running)" : " (wanted stopped)"));
  kv.add("pid", s.pid() ? std::to_string(s.pid()) : "-");
  kv.add("uptime", s.pid() ? uptime(s.uptime_seconds()) : "-");
  kv.add("port", spec.port());
  kv.add("mac", spec.mac());
  kv.add("accel", spec.accel() + ", in use: " + accel_cell(s));
  kv.add("warning", or_dash(s.warning()));
  kv.add("memory", std::to_string(spec.mem_mib()) + " MiB");
  kv.add("cpus", std::to_string(spec.cpus()));
  kv.add("boot", boot_cell(spec));
  if (!spec.initrd().empty()) kv.add("initrd", spec.initrd());
  kv.add("ip", or_dash(spec.ip()));
  kv.add("gw", or_dash(spec.gw()));
  kv.add("cmdline", or_dash(spec.cmdline()));
  kv.add("restart", spec.restart());
  kv.add("restarts", std::to_string(s.restarts()));
  kv.add("last exit", or_dash(s.exit_reason()));
  kv.add("error", or_dash(s.error()));
  kv.add("console log", s.console_log());
  kv.print();
  return kExitOk;
}

int run_vm_console(Context& context, const Args& args) {
  vswitch::v1::GetVmConsoleRequest request;
  request.set_name(args.positional[0]);
  int status = kExitOk;
  if (args.has("--bytes")) {
    uint32_t bytes = 0;
    if (!number_option(args, "vm console", "--bytes", &bytes, &status)) return status;
    request.set_max_bytes(bytes);
  }
  vswitch::v1::VmConsole console;
  const grpc::Status rpc = context.client.call(&Stub::GetVmConsole, request, &console);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(console);
  } else {
    std::fwrite(console.data().data(), 1, console.data().size(), stdout);
    if (!console.data().empty() && console.data().back() != '\n') std::fputc('\n', stdout);
  }
  return kExitOk;
}

constexpr std::string_view kAddDetails =
    "Stores the VM in controld's desired state and starts QEMU (unless --no-start) with its\n"
    "network on PORT, a vhost-user port ('vswctl port add PORT --type vhost-user'): guest\n"
    "memory shared with the switch (memfd), one virtio-net device with the port's queues, the\n"
    "serial console in a log ('vswctl vm console NAME'), QMP for a clean power-down. The port's\n"
    "mode decides who listens: a client-mode port (recommended) keeps the guest's socket while\n"
    "the dataplane restarts; for a server-mode port QEMU reconnects every second.\n"
    "\n"
    "Boots the default guest (/var/cache/vswitch/guest, built by guest/build-image.sh) unless\n"
    "--kernel and --initrd, or --disk, are given. --ip/--gw configure the default guest's eth0\n"
    "(vsw.ip=, vsw.gw= on the kernel command line); --cmdline adds to that command line, e.g.\n"
    "--cmdline 'vsw.run=\"iperf3 -s\"' for a command to run once the network is up.\n"
    "\n"
    "--accel auto uses KVM where /dev/kvm is usable and the CPU has vmx or svm, else TCG\n"
    "software emulation with a warning (functional tests only). A start that fails at once\n"
    "(no image, QEMU refusing an option) fails the command and stores nothing. Running VMs\n"
    "are started again when controld starts; guests keep running while controld restarts.\n"
    "\n"
    "With --json: the stored vswitch.v1.Vm.\n";

constexpr std::string_view kListDetails =
    "One line per VM: NAME, STATE (running, stopping, stopped), PID, PORT, ACCEL (kvm, or tcg\n"
    "(emulated)), MEM, CPUS, IP, UPTIME and LAST EXIT (why the last run ended: stopped by the\n"
    "operator, powered off inside the guest, QEMU's exit status and last message, a signal).\n"
    "A guest that exits is not started again unless it was added with --restart always.\n"
    "\n"
    "With --json: vswitch.v1.ListVmsResponse.\n";

}  // namespace

const ObjectSpec& vm_object() {
  static const ObjectSpec kObject{
      .name = "vm",
      .summary = "VMs: QEMU guests on vhost-user ports, launched and tracked by controld.",
      .verbs =
          {
              {
                  .name = "add",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--port", "PORT", "the vhost-user port of the guest's NIC (required)"},
                          {"--mem", "MiB", "guest memory, 64-65536 (default 256)"},
                          {"--cpus", "N", "vCPUs, 1-64 (default 1)"},
                          {"--accel", "auto|kvm|tcg", "accelerator (default auto)"},
                          {"--kernel", "FILE", "kernel for a direct boot (with --initrd)"},
                          {"--initrd", "FILE", "initramfs for a direct boot (with --kernel)"},
                          {"--disk", "IMG", "boot a raw or qcow2 disk image instead"},
                          {"--ip", "CIDR", "eth0's address in the default guest, 10.0.0.1/24"},
                          {"--gw", "IP", "the default guest's default gateway"},
                          {"--mac", "MAC", "the guest's MAC (default 52:54:00 + a name hash)"},
                          {"--restart", "no|always", "start it again when it exits (default no)"},
                          {"--cmdline", "TEXT", "appended to the kernel command line"},
                          {"--no-start", "", "store it only; 'vswctl vm start NAME' later"},
                      },
                  .usage = "NAME --port PORT [--mem MiB] [--cpus N] [--accel auto|kvm|tcg]\n"
                           "       [--kernel K --initrd I | --disk IMG] [--ip CIDR --gw IP] "
                           "[--mac MAC]\n"
                           "       [--restart no|always] [--cmdline TEXT] [--no-start]",
                  .summary = "add a VM on a vhost-user port and start it",
                  .details = kAddDetails,
                  .run = run_vm_add,
              },
              {
                  .name = "start",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "start a stopped VM (a running one is left as it is)",
                  .details = "The guest comes back on the same port with the same MAC.\n"
                             "\n"
                             "With --json: vswitch.v1.Vm.\n",
                  .run = run_vm_start,
              },
              {
                  .name = "stop",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--timeout", "SECONDS",
                           "wait this long for the guest to power off (default 20)"},
                          {"--force", "", "no power-down: SIGTERM to QEMU at once"},
                      },
                  .usage = "NAME [--timeout SECONDS] [--force]",
                  .summary = "power a VM down (ACPI), then terminate QEMU after a timeout",
                  .details = "Sends an ACPI power-button press through QMP (again every 2 s:\n"
                             "a guest still booting misses it), waits for the guest to power off,\n"
                             "then sends SIGTERM to QEMU and SIGKILL 3 s later. The VM stays\n"
                             "stopped, also across controld restarts, until 'vm start'.\n"
                             "\n"
                             "With --json: vswitch.v1.Vm.\n",
                  .run = run_vm_stop,
              },
              {
                  .name = "del",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "stop a VM (as 'vm stop') and delete it",
                  .details = "With --json: {}.\n",
                  .run = run_vm_del,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "list VMs: state, pid, port, accelerator, uptime, last exit",
                  .details = kListDetails,
                  .run = run_vm_list,
              },
              {
                  .name = "show",
                  .args = {{"NAME"}},
                  .usage = "NAME",
                  .summary = "one VM: its spec and state",
                  .details = "With --json: vswitch.v1.Vm.\n",
                  .run = run_vm_show,
              },
              {
                  .name = "console",
                  .args = {{"NAME"}},
                  .options =
                      {
                          {"--bytes", "N", "the end of the log, at most N bytes (default 65536)"},
                      },
                  .usage = "NAME [--bytes N]",
                  .summary = "print the VM's serial console log",
                  .details = "The guest's serial console (ttyS0) since its last start.\n"
                             "\n"
                             "With --json: vswitch.v1.VmConsole (data base64-encoded).\n",
                  .run = run_vm_console,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
