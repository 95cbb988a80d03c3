#include "request_handler.h"

#include <rte_cycles.h>
#include <unistd.h>

#include "mgmt_server.h"

namespace vsw::dp {

using vswitch::dp::Request;
using vswitch::dp::Response;

RequestHandler::RequestHandler(PortManager& ports, const ManagementCounters& mgmt,
                               std::string memory_mode, unsigned workers)
    : ports_(ports), mgmt_(mgmt), memory_mode_(std::move(memory_mode)), workers_(workers) {}

namespace {

void set_result(Response& response, const Status& status) {
  if (status.ok()) {
    response.mutable_ok();
  } else {
    response.mutable_error()->set_code(status.code);
    response.mutable_error()->set_message(status.message);
  }
}

}  // namespace

Response RequestHandler::handle(const Request& request) {
  Response response;
  response.set_id(request.id());
  switch (request.body_case()) {
    case Request::kStatus: {
      auto* s = response.mutable_status();
      s->set_version(VSW_VERSION);
      s->set_pid(static_cast<uint32_t>(getpid()));
      s->set_memory_mode(memory_mode_);
      s->set_workers(workers_);
      s->set_uptime_ms(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - started_)
                                                 .count()));
      s->set_tsc_hz(rte_get_tsc_hz());
      s->set_max_ports(kMaxPorts);
      break;
    }
    case Request::kPortAdd: {
      vswitch::dp::PortStatus status;
      Status st = ports_.add(request.port_add().port(), &status);
      if (st.ok()) {
        *response.mutable_port() = std::move(status);
      } else {
        set_result(response, st);
      }
      break;
    }
    case Request::kPortDel:
      set_result(response, ports_.remove(request.port_del().name()));
      break;
    case Request::kPortList:
      ports_.port_list(response.mutable_ports());
      break;
    case Request::kXconnectAdd:
      set_result(response, ports_.xconnect_add(request.xconnect_add().port_a(),
                                               request.xconnect_add().port_b()));
      break;
    case Request::kXconnectDel:
      set_result(response, ports_.xconnect_del(request.xconnect_del().port()));
      break;
    case Request::kXconnectList:
      ports_.xconnect_list(response.mutable_xconnects());
      break;
    case Request::kStats: {
      auto* stats = response.mutable_stats();
      vswitch::dp::PortList list;
      ports_.port_list(&list);
      *stats->mutable_ports() = std::move(*list.mutable_ports());
      ports_.worker_stats(stats->mutable_workers());
      mgmt_.fill(stats->mutable_management());
      stats->set_tsc_hz(rte_get_tsc_hz());
      break;
    }
    case Request::BODY_NOT_SET:
      set_result(response, Status::Error(vswitch::dp::ERROR_CODE_INVALID_ARGUMENT,
                                         "body: the request names no operation"));
      break;
  }
  return response;
}

}  // namespace vsw::dp
