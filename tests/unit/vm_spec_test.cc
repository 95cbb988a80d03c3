// VMs: the pure checks of vm_spec.h, the QEMU command line of qemu_command.h, then the same
// rules through a Controller with no dataplane and VMs added with no_start (QEMU itself runs
// in tests/integration/test_vm_manager.py).
#include "vm_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "controller.h"
#include "qemu_command.h"
#include "state_store.h"

namespace vsw::ctl {
namespace {

using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::v1::VmSpec;

void expect_status(const grpc::Status& st, StatusCode code, const std::string& field) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_EQ(st.error_message().rfind(field + ":", 0), 0u) << st.error_message();
}

VmSpec vm(const std::string& name, const std::string& port = "p1") {
  VmSpec s;
  s.set_name(name);
  s.set_port(port);
  return s;
}

TEST(VmSpec, ValidatesEachField) {
  EXPECT_TRUE(validate_vm(vm("a")).ok());
  expect_status(validate_vm(vm("")), StatusCode::INVALID_ARGUMENT, "name");
  expect_status(validate_vm(vm("a b")), StatusCode::INVALID_ARGUMENT, "name");
  expect_status(validate_vm(vm("a", "")), StatusCode::INVALID_ARGUMENT, "port");
  VmSpec s = vm("a");
  s.set_mem_mib(32);
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "mem_mib");
  s = vm("a");
  s.set_cpus(65);
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "cpus");
  s = vm("a");
  s.set_accel("hvf");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "accel");
  s = vm("a");
  s.set_kernel("/boot/k");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "initrd");
  s.set_initrd("relative/initrd");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "initrd");
  s.set_initrd("/boot/i,x");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "initrd");
  s.set_initrd("/boot/i");
  EXPECT_TRUE(validate_vm(s).ok());
  s.set_disk("/var/lib/d.img");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "disk");
  s = vm("a");
  s.set_disk("/var/lib/d.img");
  s.set_ip("10.0.0.1/24");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "ip");
  s = vm("a");
  for (const char* bad : {"10.0.0.1", "10.0.0.1/33", "10.0.0.1/x", "nope/24", "::1/129"}) {
    s.set_ip(bad);
    expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "ip");
  }
  s.set_ip("fd00::1/64");
  EXPECT_TRUE(validate_vm(s).ok());
  s.set_gw("not-an-ip");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "gw");
  s.set_gw("fd00::ff");
  EXPECT_TRUE(validate_vm(s).ok());
  s = vm("a");
  s.set_gw("10.0.0.254");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "gw");
  s = vm("a");
  s.set_mac("01:00:5e:00:00:01");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "mac");
  s = vm("a");
  s.set_restart("sometimes");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "restart");
  s = vm("a");
  s.set_cmdline("vsw.run=\"ping\"\n");
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "cmdline");
  s.set_cmdline(std::string(kMaxVmCmdlineLength + 1, 'x'));
  expect_status(validate_vm(s), StatusCode::INVALID_ARGUMENT, "cmdline");
}

TEST(VmSpec, NormalizeMakesDefaultsExplicit) {
  VmSpec s = normalize_vm(vm("a"), "/cache");
  EXPECT_EQ(s.mem_mib(), kDefaultVmMemMiB);
  EXPECT_EQ(s.cpus(), 1u);
  EXPECT_EQ(s.accel(), "auto");
  EXPECT_EQ(s.restart(), "no");
  EXPECT_EQ(s.kernel(), "/cache/vmlinuz");
  EXPECT_EQ(s.initrd(), "/cache/initrd.img");
  EXPECT_EQ(s.mac(), derived_vm_mac("a"));
  VmSpec d = vm("b");
  d.set_disk("/d.qcow2");
  d.set_mac("52:54:00:AA:BB:CC");
  d = normalize_vm(d, "/cache");
  EXPECT_TRUE(d.kernel().empty());
  EXPECT_EQ(d.mac(), "52:54:00:aa:bb:cc");
}

TEST(VmSpec, DerivedMacsAreStableUnicastAndDistinct) {
  EXPECT_EQ(derived_vm_mac("a"), derived_vm_mac("a"));
  EXPECT_NE(derived_vm_mac("a"), derived_vm_mac("b"));
  EXPECT_EQ(derived_vm_mac("guest-1").rfind("52:54:00:", 0), 0u);
}

TEST(VmSpec, CpuinfoFlags) {
  EXPECT_TRUE(cpuinfo_has_hw_virt("processor\t: 0\nflags\t\t: fpu vme vmx sse\n"));
  EXPECT_TRUE(cpuinfo_has_hw_virt("flags\t\t: fpu svm\n"));
  EXPECT_FALSE(cpuinfo_has_hw_virt("flags\t\t: fpu vmxx hypervisor\n"));
  EXPECT_FALSE(cpuinfo_has_hw_virt("processor\t: 0\n"));
}

TEST(VmSpec, AccelChoice) {
  AccelChoice c;
  ASSERT_TRUE(choose_accel("auto", {true, true}, &c).ok());
  EXPECT_EQ(c.accel, "kvm");
  EXPECT_TRUE(c.warning.empty());
  // This machine's case: /dev/kvm is there but no vmx/svm flag.
  ASSERT_TRUE(choose_accel("auto", {true, false}, &c).ok());
  EXPECT_EQ(c.accel, "tcg");
  EXPECT_NE(c.warning.find("vmx/svm"), std::string::npos);
  ASSERT_TRUE(choose_accel("auto", {false, false}, &c).ok());
  EXPECT_EQ(c.accel, "tcg");
  ASSERT_TRUE(choose_accel("tcg", {true, true}, &c).ok());
  EXPECT_EQ(c.accel, "tcg");
  EXPECT_TRUE(c.warning.empty());
  expect_status(choose_accel("kvm", {false, true}, &c), StatusCode::FAILED_PRECONDITION, "accel");
  ASSERT_TRUE(choose_accel("kvm", {true, false}, &c).ok());
  EXPECT_EQ(c.accel, "kvm");
}

// ---- the QEMU command line ----

bool has_pair(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

vswitch::v1::PortSpec vhost_port(const std::string& mode, uint32_t queues = 1) {
  vswitch::v1::PortSpec p;
  p.set_name("p1");
  p.set_type("vhost-user");
  p.set_mode(mode);
  p.set_socket("/run/v/p1.sock");
  p.set_queues(queues);
  return p;
}

TEST(QemuCommand, ServerModePortUnderTcg) {
  VmSpec s = vm("a");
  s.set_ip("10.0.0.1/24");
  s.set_gw("10.0.0.254");
  s.set_cmdline("vsw.run=\"ping 10.0.0.2\"");
  s = normalize_vm(s, "/cache");
  const VmPaths paths = vm_paths("/run/v", "a");
  const auto argv = qemu_argv(s, vhost_port("server"), paths, {"qemu-system-x86_64", "tcg", ""});
  EXPECT_EQ(argv[0], "qemu-system-x86_64");
  EXPECT_TRUE(has_pair(argv, "-object", "memory-backend-memfd,id=mem,size=256M,share=on"));
  EXPECT_TRUE(has_pair(argv, "-machine", "q35,memory-backend=mem"));
  EXPECT_TRUE(has_pair(argv, "-accel", "tcg"));
  EXPECT_TRUE(has_pair(argv, "-cpu", "max"));
  EXPECT_TRUE(has_pair(argv, "-kernel", "/cache/vmlinuz"));
  EXPECT_TRUE(has_pair(argv, "-append",
                       "console=ttyS0 panic=-1 vsw.ip=10.0.0.1/24 vsw.gw=10.0.0.254 "
                       "vsw.run=\"ping 10.0.0.2\""));
  EXPECT_TRUE(has_pair(argv, "-chardev", "socket,id=vhost0,path=/run/v/p1.sock,reconnect=1"));
  EXPECT_TRUE(has_pair(argv, "-netdev", "vhost-user,id=net0,chardev=vhost0"));
  EXPECT_TRUE(
      has_pair(argv, "-device", "virtio-net-pci,netdev=net0,mac=" + s.mac() + ",vectors=0"));
  EXPECT_TRUE(has_pair(argv, "-qmp", "unix:/run/v/vms/a/qmp.sock,server=on,wait=off"));
  EXPECT_TRUE(has_pair(argv, "-pidfile", "/run/v/vms/a/qemu.pid"));
  EXPECT_TRUE(has_pair(argv, "-serial", "chardev:console"));
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-no-reboot"), argv.end());
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-enable-kvm"), argv.end());
}

TEST(QemuCommand, ClientModeMultiQueueUnderKvm) {
  VmSpec s = normalize_vm(vm("a"), "/cache");
  const auto argv =
      qemu_argv(s, vhost_port("client", 4), vm_paths("/r", "a"), {"/opt/qemu", "kvm", ""});
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-enable-kvm"), argv.end());
  EXPECT_TRUE(has_pair(argv, "-cpu", "host"));
  EXPECT_TRUE(
      has_pair(argv, "-chardev", "socket,id=vhost0,path=/run/v/p1.sock,server=on,wait=off"));
  EXPECT_TRUE(has_pair(argv, "-netdev", "vhost-user,id=net0,chardev=vhost0,queues=4"));
  EXPECT_TRUE(
      has_pair(argv, "-device", "virtio-net-pci,netdev=net0,mac=" + s.mac() + ",mq=on,vectors=10"));
}

TEST(QemuCommand, DiskBoot) {
  VmSpec s = vm("a");
  s.set_disk("/img/a.qcow2");
  s = normalize_vm(s, "/cache");
  const auto argv =
      qemu_argv(s, vhost_port("server"), vm_paths("/r", "a"), {"qemu", "tcg", "qcow2"});
  EXPECT_TRUE(has_pair(argv, "-drive", "file=/img/a.qcow2,if=virtio,format=qcow2"));
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-kernel"), argv.end());
}

TEST(QemuCommand, DiskFormatFromMagic) {
  char tmpl[] = "/tmp/vsw-disk-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/q") << "QFI\xfb" << std::string(60, '\0');
  std::ofstream(dir + "/r") << std::string(512, '\0');
  EXPECT_EQ(detect_disk_format(dir + "/q"), "qcow2");
  EXPECT_EQ(detect_disk_format(dir + "/r"), "raw");
  EXPECT_EQ(detect_disk_format(dir + "/missing"), "raw");
  std::filesystem::remove_all(dir);
}

// ---- through the controller (no dataplane; VMs added with no_start) ----

class ControllerVmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsw-vm-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/guest");
    std::ofstream(dir_ + "/guest/vmlinuz") << "kernel";
    std::ofstream(dir_ + "/guest/initrd.img") << "initrd";
    store_ = std::make_unique<StateStore>(dir_ + "/state");
    ASSERT_TRUE(store_->load().ok());
    controller_ = std::make_unique<Controller>(*store_, DesiredState{}, dir_ + "/run",
                                               "qemu-system-x86_64", dir_ + "/guest");
    for (auto [name, type] :
         {std::pair{"p1", "vhost-user"}, {"p2", "vhost-user"}, {"r1", "ring"}}) {
      vswitch::v1::PortSpec p;
      p.set_name(name);
      p.set_type(type);
      vswitch::v1::Port out;
      ASSERT_TRUE(controller_->add_port(p, &out).ok());
    }
  }
  void TearDown() override {
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  grpc::Status add(const VmSpec& spec) {
    vswitch::v1::AddVmRequest r;
    *r.mutable_vm() = spec;
    r.set_no_start(true);
    vswitch::v1::Vm out;
    return controller_->add_vm(r, &out);
  }

  std::string dir_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerVmTest, StoredWithDefaultsAndNotRunning) {
  VmSpec s = vm("a");
  s.set_ip("10.0.0.1/24");
  ASSERT_TRUE(add(s).ok());
  const LoadResult r = StateStore(dir_ + "/state").load();
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.state.vms_size(), 1);
  EXPECT_FALSE(r.state.vms(0).running());
  EXPECT_EQ(r.state.vms(0).spec().kernel(), dir_ + "/guest/vmlinuz");
  EXPECT_EQ(r.state.vms(0).spec().mem_mib(), kDefaultVmMemMiB);
  vswitch::v1::Vm v;
  ASSERT_TRUE(controller_->get_vm("a", &v).ok());
  EXPECT_EQ(v.state().state(), "stopped");
  EXPECT_EQ(v.state().pid(), 0u);
  EXPECT_FALSE(v.state().desired_running());
  vswitch::v1::ListVmsResponse list;
  controller_->list_vms(&list);
  ASSERT_EQ(list.vms_size(), 1);
  vswitch::v1::VmConsole console;
  vswitch::v1::GetVmConsoleRequest cr;
  cr.set_name("a");
  ASSERT_TRUE(controller_->vm_console(cr, &console).ok());
  EXPECT_TRUE(console.data().empty());
  cr.set_max_bytes((1 << 20) + 1);
  expect_status(controller_->vm_console(cr, &console), StatusCode::INVALID_ARGUMENT, "max_bytes");
}

TEST_F(ControllerVmTest, RefusalsNameTheField) {
  ASSERT_TRUE(add(vm("a", "p1")).ok());
  expect_status(add(vm("a", "p2")), StatusCode::ALREADY_EXISTS, "name");
  expect_status(add(vm("b", "p1")), StatusCode::FAILED_PRECONDITION, "port");
  expect_status(add(vm("b", "nope")), StatusCode::NOT_FOUND, "port");
  expect_status(add(vm("b", "r1")), StatusCode::INVALID_ARGUMENT, "port");
  VmSpec k = vm("b", "p2");
  k.set_kernel(dir_ + "/missing");
  k.set_initrd(dir_ + "/guest/initrd.img");
  expect_status(add(k), StatusCode::FAILED_PRECONDITION, "kernel");
  // A port with a VM cannot go.
  expect_status(controller_->delete_port("p1"), StatusCode::FAILED_PRECONDITION, "name");
  vswitch::v1::StopVmRequest stop;
  stop.set_name("a");
  stop.set_timeout_seconds(601);
  vswitch::v1::Vm out;
  expect_status(controller_->stop_vm(stop, &out), StatusCode::INVALID_ARGUMENT, "timeout_seconds");
  expect_status(controller_->start_vm("zz", &out), StatusCode::NOT_FOUND, "name");
  // Nothing of the refused requests was stored.
  const LoadResult r = StateStore(dir_ + "/state").load();
  ASSERT_EQ(r.state.vms_size(), 1);
  // Stopping a stopped VM is fine; deleting it frees the port.
  stop.set_timeout_seconds(1);
  ASSERT_TRUE(controller_->stop_vm(stop, &out).ok());
  ASSERT_TRUE(controller_->delete_vm("a").ok());
  EXPECT_TRUE(controller_->delete_port("p1").ok());
  expect_status(controller_->delete_vm("a"), StatusCode::NOT_FOUND, "name");
}

TEST_F(ControllerVmTest, MissingDefaultImageSaysHowToBuildIt) {
  std::filesystem::remove(dir_ + "/guest/vmlinuz");
  const grpc::Status st = add(vm("a"));
  expect_status(st, StatusCode::FAILED_PRECONDITION, "kernel");
}

}  // namespace
}  // namespace vsw::ctl
