#include "vm_manager.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "log.h"
#include "qmp_client.h"

extern char** environ;

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

inline constexpr auto kSupervisePeriod = 100ms;
inline constexpr auto kStartCheck = 3s;  // how long a start waits to catch an early exit
inline constexpr auto kTermGrace = 3s;   // SIGTERM to SIGKILL
inline constexpr auto kKillGrace = 5s;
inline constexpr auto kPowerdownRepeat = 2s;  // a guest still booting misses the first one
inline constexpr auto kMaxRestartBackoff = std::chrono::seconds(30);
inline constexpr auto kStableRun = std::chrono::seconds(60);  // resets the restart backoff

std::string read_file(const std::string& path, size_t max = 1 << 20) {
  std::ifstream in(path, std::ios::binary);
  std::string out(max, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// The last non-empty line QEMU printed: its reason for exiting with an error.
std::string last_log_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<long long>(in.tellg());
  in.seekg(size > 4096 ? size - 4096 : 0);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

std::string describe_wait_status(int status, const std::string& qemu_log) {
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0)
      return "QEMU exited: the guest powered off or rebooted (QEMU runs with -no-reboot)";
    std::string why = last_log_line(qemu_log);
    return "QEMU exited with status " + std::to_string(WEXITSTATUS(status)) +
           (why.empty() ? "" : ": " + why);
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "QEMU was killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "QEMU ended (wait status " + std::to_string(status) + ")";
}

double seconds_since_boot() {
  std::ifstream in("/proc/uptime");
  double up = 0;
  in >> up;
  return up;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

unsigned long long process_start_ticks(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  rest >> field;  // field 3: state
  if (field == "Z" || field == "X") return 0;
  for (int i = 4; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

VmManager::VmManager(std::string run_dir, std::string qemu_binary)
    : run_dir_(std::move(run_dir)), qemu_binary_(std::move(qemu_binary)) {}

VmManager::~VmManager() {
  stop_supervisor();
}

void VmManager::start_supervisor() {
  supervisor_ = std::thread([this] { supervise(); });
}

void VmManager::stop_supervisor() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

std::string VmManager::launch_locked(Guest& g, const HostVirt& host) {
  AccelChoice accel;
  if (Status s = choose_accel(g.spec.accel(), host, &accel); !s.ok()) return s.error_message();
  if (Status s = check_vm_files(g.spec); !s.ok()) return s.error_message();
  const VmPaths paths = vm_paths(run_dir_, g.spec.name());
  ::mkdir((run_dir_ + "/vms").c_str(), 0755);
  if (::mkdir(paths.dir.c_str(), 0750) != 0 && errno != EEXIST)
    return paths.dir + ": " + std::strerror(errno);
  // Left by a guest that was killed; QEMU would refuse to bind the socket.
  ::unlink(paths.qmp_socket.c_str());
  ::unlink(paths.pidfile.c_str());
  QemuLaunch launch{qemu_binary_, accel.accel,
                    g.spec.disk().empty() ? "" : detect_disk_format(g.spec.disk())};
  const std::vector<std::string> args = qemu_argv(g.spec, g.port, paths, launch);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, paths.qemu_log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0640);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // gRPC's and the dataplane connection's descriptors are not the guest's business.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: a signal to controld's process group (Ctrl-C) does not reach guests.
  // controld blocks SIGINT/SIGTERM for sigwait(); QEMU must get them back.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return "cannot run " + qemu_binary_ + ": " + std::strerror(rc);

  g.pid = pid;
  g.child = true;
  g.start_ticks = process_start_ticks(pid);
  g.phase = Phase::kRunning;
  g.term_sent = false;
  g.accel = accel.accel;
  g.warning = accel.warning;
  g.error.clear();
  g.started = Clock::now();
  if (!accel.warning.empty())
    log(LogLevel::kWarning, "vm %s: %s", g.spec.name().c_str(), accel.warning.c_str());
  log(LogLevel::kInfo, "vm %s: started QEMU pid %d (%s, port %s)", g.spec.name().c_str(), pid,
      accel.accel.c_str(), g.spec.port().c_str());
  return "";
}

bool VmManager::adopt(const vswitch::v1::VmSpec& spec, const vswitch::v1::PortSpec& port) {
  std::lock_guard lk(mu_);
  Guest& g = guests_[spec.name()];
  g.spec = spec;
  g.port = port;
  if (g.pid != 0) return true;
  const VmPaths paths = vm_paths(run_dir_, spec.name());
  const pid_t pid = static_cast<pid_t>(std::atoi(read_file(paths.pidfile, 64).c_str()));
  if (pid <= 0) return false;
  // QEMU separates its arguments with NULs; the QMP path is unique to this VM and run dir.
  const std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  const unsigned long long ticks = process_start_ticks(pid);
  if (ticks == 0 || cmdline.find(paths.qmp_socket) == std::string::npos) return false;
  g.pid = pid;
  g.child = false;
  g.start_ticks = ticks;
  g.phase = Phase::kRunning;
  g.want_running = true;
  g.accel = cmdline.find("-enable-kvm") != std::string::npos ? "kvm" : "tcg";
  if (g.accel == "tcg") {
    AccelChoice c;
    choose_accel("auto", detect_host_virt(), &c);
    g.warning = c.warning;
  }
  log(LogLevel::kInfo, "vm %s: adopted the running QEMU pid %d", spec.name().c_str(), pid);
  return true;
}

Status VmManager::ensure(const vswitch::v1::VmSpec& spec, const vswitch::v1::PortSpec& port,
                         bool running, const HostVirt& host) {
  if (running && adopt(spec, port)) return Status::OK;
  std::unique_lock lk(mu_);
  Guest& g = guests_[spec.name()];
  g.spec = spec;
  g.port = port;
  if (!running) {
    g.want_running = false;
    return Status::OK;
  }
  if (g.phase == Phase::kStopping)
    return Status(StatusCode::FAILED_PRECONDITION,
                  "name: vm '" + spec.name() + "' is stopping; start it once it has stopped");
  g.want_running = true;
  if (g.pid != 0) return Status::OK;
  if (std::string err = launch_locked(g, host); !err.empty()) {
    g.want_running = false;
    g.error = err;
    return Status(StatusCode::FAILED_PRECONDITION, "start: " + err);
  }
  // Catch what fails at once (a bad image, an accelerator that cannot start): QEMU creates
  // its QMP socket after the devices, so once it is there the guest is past that point.
  const pid_t pid = g.pid;
  const std::string qmp = vm_paths(run_dir_, spec.name()).qmp_socket;
  const auto deadline = Clock::now() + kStartCheck;
  while (Clock::now() < deadline && !exists(qmp)) {
    changed_.wait_for(lk, kSupervisePeriod);
    auto it = guests_.find(spec.name());
    if (it == guests_.end()) return Status(StatusCode::ABORTED, "name: vm deleted while starting");
    Guest& now = it->second;
    if (now.pid == pid && !check_exit_locked(now)) continue;
    if (now.pid == pid) break;
    now.want_running = false;
    now.error = now.exit_reason;
    return Status(StatusCode::FAILED_PRECONDITION, "start: " + now.exit_reason);
  }
  return Status::OK;
}

bool VmManager::check_exit_locked(Guest& g) {
  if (g.pid == 0) return false;
  std::string reason;
  int status = 0;
  const pid_t r = g.child ? ::waitpid(g.pid, &status, WNOHANG) : -1;
  if (r == 0) return false;
  if (r == g.pid) {
    reason = describe_wait_status(status, vm_paths(run_dir_, g.spec.name()).qemu_log);
  } else {
    if (process_start_ticks(g.pid) == g.start_ticks) return false;
    reason = "QEMU ended while controld was not its parent (exit status unknown)";
  }
  const bool by_operator = g.phase == Phase::kStopping;
  if (by_operator) {
    const bool powered_off = r == g.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    reason = std::string("stopped by the operator: ") + (powered_off ? "the guest powered off"
                                                         : g.term_sent
                                                             ? "no power-off in time, " + reason
                                                             : reason);
  }
  log(by_operator ? LogLevel::kInfo : LogLevel::kWarning, "vm %s: pid %d: %s",
      g.spec.name().c_str(), g.pid, reason.c_str());
  g.exit_reason = reason;
  g.pid = 0;
  g.start_ticks = 0;
  g.phase = Phase::kStopped;
  if (!by_operator && g.want_running) {
    if (g.spec.restart() == "always") {
      if (Clock::now() - g.started > kStableRun) g.backoff = 1s;
      g.next_restart = Clock::now() + g.backoff;
      g.backoff = std::min(g.backoff * 2, std::chrono::seconds(kMaxRestartBackoff));
    } else {
      g.want_running = false;  // nothing is restarted behind the operator's back
    }
  }
  changed_.notify_all();
  return true;
}

void VmManager::supervise() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    changed_.wait_for(lk, kSupervisePeriod);
    std::vector<std::string> ended;
    for (auto& [name, g] : guests_) {
      if (g.pid != 0 && check_exit_locked(g)) ended.push_back(name);
      if (g.pid == 0 && g.want_running && g.spec.restart() == "always" &&
          g.next_restart != Clock::time_point{} && Clock::now() >= g.next_restart) {
        g.next_restart = {};
        if (std::string err = launch_locked(g, detect_host_virt()); !err.empty()) {
          g.error = err;
          g.next_restart = Clock::now() + g.backoff;
          g.backoff = std::min(g.backoff * 2, std::chrono::seconds(kMaxRestartBackoff));
          log(LogLevel::kWarning, "vm %s: restart failed: %s", name.c_str(), err.c_str());
        } else {
          ++g.restarts;
        }
      }
    }
    if (!ended.empty() && exit_handler_) {
      lk.unlock();
      for (const std::string& name : ended) exit_handler_(name);
      lk.lock();
    }
  }
}

void VmManager::set_exit_handler(std::function<void(const std::string&)> handler) {
  std::lock_guard lk(mu_);
  exit_handler_ = std::move(handler);
}

bool VmManager::wants_running(const std::string& name) {
  std::lock_guard lk(mu_);
  auto it = guests_.find(name);
  return it != guests_.end() && it->second.want_running;
}

void VmManager::signal_locked(Guest& g, int signo) {
  if (g.pid == 0) return;
  if (!g.child && process_start_ticks(g.pid) != g.start_ticks) return;  // a reused pid
  ::kill(g.pid, signo);
}

Status VmManager::stop(const std::string& name, std::chrono::seconds timeout, bool force) {
  std::unique_lock lk(mu_);
  auto it = guests_.find(name);
  if (it == guests_.end()) return Status(StatusCode::NOT_FOUND, "name: no vm '" + name + "'");
  it->second.want_running = false;
  it->second.next_restart = {};
  const pid_t pid = it->second.pid;
  if (pid == 0) {
    it->second.phase = Phase::kStopped;
    return Status::OK;
  }
  it->second.phase = Phase::kStopping;
  it->second.term_sent = false;
  // Whether the process we were asked to stop still runs (the map may change meanwhile).
  auto running = [&] {
    auto i = guests_.find(name);
    return i != guests_.end() && i->second.pid == pid;
  };
  const std::string qmp = vm_paths(run_dir_, name).qmp_socket;
  const auto deadline = Clock::now() + (force ? 0s : timeout);
  auto next_powerdown = Clock::now();
  while (running() && Clock::now() < deadline) {
    if (Clock::now() >= next_powerdown) {
      lk.unlock();
      std::string err = qmp_execute(qmp, "system_powerdown", 1000ms);
      lk.lock();
      // Expected while QEMU still waits for the vhost-user connection (no QMP yet).
      (void)err;
      next_powerdown = Clock::now() + kPowerdownRepeat;
    }
    changed_.wait_for(lk, kSupervisePeriod);
  }
  for (auto [signo, grace] : {std::pair{SIGTERM, kTermGrace}, {SIGKILL, kKillGrace}}) {
    if (!running()) return Status::OK;
    guests_[name].term_sent = true;
    signal_locked(guests_[name], signo);
    const auto until = Clock::now() + grace;
    while (running() && Clock::now() < until) changed_.wait_for(lk, kSupervisePeriod);
  }
  if (!running()) return Status::OK;
  return Status(StatusCode::INTERNAL, "vm '" + name + "': QEMU pid " + std::to_string(pid) +
                                          " did not exit after SIGKILL");
}

void VmManager::forget(const std::string& name) {
  std::lock_guard lk(mu_);
  auto it = guests_.find(name);
  if (it == guests_.end() || it->second.pid != 0) return;
  guests_.erase(it);
  const VmPaths p = vm_paths(run_dir_, name);
  for (const std::string& f : {p.qmp_socket, p.console_log, p.qemu_log, p.pidfile})
    ::unlink(f.c_str());
  ::rmdir(p.dir.c_str());
}

void VmManager::fill_state(const std::string& name, vswitch::v1::VmState* out) {
  std::lock_guard lk(mu_);
  out->set_console_log(vm_paths(run_dir_, name).console_log);
  auto it = guests_.find(name);
  if (it == guests_.end()) {
    out->set_state("stopped");
    return;
  }
  const Guest& g = it->second;
  out->set_state(g.phase == Phase::kRunning    ? "running"
                 : g.phase == Phase::kStopping ? "stopping"
                                               : "stopped");
  out->set_pid(static_cast<uint32_t>(g.pid));
  out->set_accel(g.accel);
  out->set_warning(g.warning);
  out->set_exit_reason(g.exit_reason);
  out->set_restarts(g.restarts);
  out->set_desired_running(g.want_running);
  out->set_error(g.error);
  if (g.pid != 0 && g.start_ticks != 0) {
    const double started =
        static_cast<double>(g.start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
    const double up = seconds_since_boot() - started;
    out->set_uptime_seconds(up > 0 ? static_cast<uint64_t>(up) : 0);
  }
}

int VmManager::running_count() const {
  std::lock_guard lk(mu_);
  int n = 0;
  for (const auto& [name, g] : guests_) n += g.pid != 0;
  return n;
}

}  // namespace vsw::ctl
