// Answers dataplane-socket requests. Management thread only.
#pragma once

#include <chrono>
#include <string>

#include "acl_manager.h"
#include "bridge_manager.h"
#include "capture.h"
#include "dataplane.pb.h"
#include "port_manager.h"
#include "router_manager.h"
#include "trace_manager.h"

namespace vsw::dp {

struct ManagementCounters;

class RequestHandler {
 public:
  RequestHandler(PortManager& ports, BridgeManager& bridges, RouterManager& router, AclManager& acl,
                 CaptureManager& captures, TraceManager& traces, const ManagementCounters& mgmt,
                 std::string memory_mode, unsigned workers);

  vswitch::dp::Response handle(const vswitch::dp::Request& request);

 private:
  // Requests that involve ports and bridges together (cross-checks, port removal).
  Status port_del(const std::string& name);
  Status xconnect_add(const std::string& a, const std::string& b);
  Status attach(const vswitch::dp::BridgeAttachRequest& req);
  Status detach(const vswitch::dp::BridgeDetachRequest& req);
  Status port_set(const vswitch::dp::PortSetRequest& req);
  Status mac_add(const vswitch::dp::MacAddRequest& req);
  // Router interfaces, routes, neighbors; false when `request` is none of those.
  bool handle_router(const vswitch::dp::Request& request, vswitch::dp::Response& response);
  // ACL rule sets, connections, conntrack settings; false when `request` is none of those.
  bool handle_acl(const vswitch::dp::Request& request, vswitch::dp::Response& response);
  // Packet trace; false when `request` is not one.
  bool handle_trace(const vswitch::dp::Request& request, vswitch::dp::Response& response);
  Status bridge_del(const std::string& name);
  Status capture_start(const vswitch::dp::CaptureStartRequest& req,
                       vswitch::dp::CaptureStatus* out);
  void add_l2_state(google::protobuf::RepeatedPtrField<vswitch::dp::PortStatus>* ports);

  PortManager& ports_;
  BridgeManager& bridges_;
  RouterManager& router_;
  AclManager& acl_;
  CaptureManager& captures_;
  TraceManager& traces_;
  const ManagementCounters& mgmt_;
  std::string memory_mode_;
  unsigned workers_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace vsw::dp
