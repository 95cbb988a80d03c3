// The few QMP (QEMU Machine Protocol) exchanges controld needs, over the VM's unix socket.
// Blocking with a bound on every step; never called with a controller lock held.
#pragma once

#include <chrono>
#include <string>

namespace vsw::ctl {

// Connects, negotiates capabilities and runs `command` (e.g. "system_powerdown") without
// arguments. Returns "" or why it failed. QEMU serves one QMP client at a time.
std::string qmp_execute(const std::string& socket_path, const std::string& command,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace vsw::ctl
