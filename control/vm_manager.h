// Launches and tracks the QEMU guests of the desired state (docs/vms.md).
//
// QEMU runs in its own session, outside controld's lifetime: stopping or restarting controld
// leaves guests running, and a new controld adopts them from RUN/vms/NAME/qemu.pid (checked
// against the process's command line and start time, so a reused pid is never taken for a
// guest). A supervisor thread notices exits (waitpid for our children, /proc for adopted
// guests), records why, and applies the restart policy. Nothing is restarted unless the
// spec says restart "always" and the operator has not stopped the VM.
//
// Thread-safe; its lock is taken inside the controller's, never the other way round, and
// stop() waits for a guest with no lock held.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "qemu_command.h"
#include "vm_spec.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

inline constexpr auto kDefaultVmStopTimeout = std::chrono::seconds(20);
inline constexpr auto kMaxVmStopTimeout = std::chrono::seconds(600);

class VmManager {
 public:
  VmManager(std::string run_dir, std::string qemu_binary);
  ~VmManager();  // stops the supervisor; guests keep running

  // Called by the supervisor, with no lock held, after a guest's process ended on its own
  // watch (not in stop()): the controller records whether the VM is still wanted running.
  void set_exit_handler(std::function<void(const std::string& name)> handler);
  void start_supervisor();
  void stop_supervisor();

  // Makes the VM known (or updates its spec and port) and its wanted state: running adopts a
  // guest a previous controld left running, or starts one; stopped leaves it (use stop()).
  // Returns the start failure, if any (the VM stays known, not running).
  grpc::Status ensure(const vswitch::v1::VmSpec& spec, const vswitch::v1::PortSpec& port,
                      bool running, const HostVirt& host);
  // Adopts a guest left running by a previous controld, if there is one. Returns true then.
  bool adopt(const vswitch::v1::VmSpec& spec, const vswitch::v1::PortSpec& port);
  // Power-down, then SIGTERM after `timeout` (force: at once), SIGKILL 2 s later. Waits for
  // the exit. OK when it was not running.
  grpc::Status stop(const std::string& name, std::chrono::seconds timeout, bool force);
  // Forgets a stopped VM and removes its directory.
  void forget(const std::string& name);

  void fill_state(const std::string& name, vswitch::v1::VmState* out);
  int running_count() const;
  bool wants_running(const std::string& name);
  VmPaths paths(const std::string& name) const { return vm_paths(run_dir_, name); }

 private:
  enum class Phase { kStopped, kRunning, kStopping };
  struct Guest {
    vswitch::v1::VmSpec spec;
    vswitch::v1::PortSpec port;
    Phase phase = Phase::kStopped;
    bool want_running = false;
    pid_t pid = 0;
    bool child = false;                  // ours to waitpid; else adopted
    unsigned long long start_ticks = 0;  // /proc/PID/stat field 22: the process's identity
    std::string accel;
    std::string warning;
    std::string exit_reason;
    std::string error;
    bool term_sent = false;  // stop() gave up waiting for the power-off
    uint32_t restarts = 0;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point next_restart{};
    std::chrono::seconds backoff{1};
  };

  // Starts QEMU for `g`. Returns "" or why it failed. Holds mu_ (posix_spawn is quick; the
  // wait for an early exit is bounded).
  std::string launch_locked(Guest& g, const HostVirt& host);
  // Whether g's process has ended; reaps children and records the reason.
  bool check_exit_locked(Guest& g);
  void supervise();
  // Signals g's process if it is still the same process.
  void signal_locked(Guest& g, int signo);

  const std::string run_dir_;
  const std::string qemu_binary_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a guest exited, or stopping
  bool stopping_ = false;
  std::map<std::string, Guest> guests_;
  std::function<void(const std::string&)> exit_handler_;
  std::thread supervisor_;
};

// The start time of a process in clock ticks since boot (/proc/PID/stat field 22), 0 when
// there is no such process (or it is a zombie).
unsigned long long process_start_ticks(pid_t pid);

}  // namespace vsw::ctl
