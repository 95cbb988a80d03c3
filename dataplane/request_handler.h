// Answers dataplane-socket requests. Management thread only.
#pragma once

#include <chrono>
#include <string>

#include "dataplane.pb.h"
#include "port_manager.h"

namespace vsw::dp {

struct ManagementCounters;

class RequestHandler {
 public:
  RequestHandler(PortManager& ports, const ManagementCounters& mgmt, std::string memory_mode,
                 unsigned workers);

  vswitch::dp::Response handle(const vswitch::dp::Request& request);

 private:
  PortManager& ports_;
  const ManagementCounters& mgmt_;
  std::string memory_mode_;
  unsigned workers_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace vsw::dp
