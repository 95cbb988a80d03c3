#include "request_handler.h"

#include <rte_cycles.h>
#include <unistd.h>

#include "mgmt_server.h"

namespace vsw::dp {

using vswitch::dp::Request;
using vswitch::dp::Response;

RequestHandler::RequestHandler(PortManager& ports, BridgeManager& bridges, RouterManager& router,
                               AclManager& acl, CaptureManager& captures, TraceManager& traces,
                               const ManagementCounters& mgmt, std::string memory_mode,
                               unsigned workers)
    : ports_(ports),
      bridges_(bridges),
      router_(router),
      acl_(acl),
      captures_(captures),
      traces_(traces),
      mgmt_(mgmt),
      memory_mode_(std::move(memory_mode)),
      workers_(workers) {}

namespace {

void set_result(Response& response, const Status& status) {
  if (status.ok()) {
    response.mutable_ok();
  } else {
    response.mutable_error()->set_code(status.code);
    response.mutable_error()->set_message(status.message);
  }
}

Status no_port(const char* field, const std::string& name) {
  return Status::Error(vswitch::dp::ERROR_CODE_NOT_FOUND,
                       std::string(field) + ": no port '" + name + "'");
}

}  // namespace

Status RequestHandler::port_del(const std::string& name) {
  const uint16_t id = ports_.port_id(name);
  if (id == kNoPort) return no_port("name", name);
  captures_.port_removed(id);
  traces_.port_removed(id);
  acl_.port_removed(id);
  bridges_.port_removed(id);
  return ports_.remove(name);
}

Status RequestHandler::capture_start(const vswitch::dp::CaptureStartRequest& req,
                                     vswitch::dp::CaptureStatus* out) {
  const uint16_t id = ports_.port_id(req.port());
  if (id == kNoPort) return no_port("port", req.port());
  vswitch::dp::PortStatus st;
  std::string description;
  if (ports_.port_status(req.port(), &st).ok())
    description = vswitch::dp::PortType_Name(st.config().type()) + " " + st.devargs();
  return captures_.start(req, id, description, out);
}

bool RequestHandler::handle_trace(const Request& request, Response& response) {
  Status s;
  switch (request.body_case()) {
    case Request::kTraceStart:
      s = traces_.start(request.trace_start(), response.mutable_trace());
      break;
    case Request::kTraceStop:
      s = traces_.stop(response.mutable_trace());
      break;
    case Request::kTraceShow:
      traces_.show(response.mutable_trace());
      break;
    case Request::kTracePacket:
      s = traces_.trace_packet(request.trace_packet(), response.mutable_traced_packet());
      break;
    default:
      return false;
  }
  if (!s.ok()) set_result(response, s);
  return true;
}

Status RequestHandler::xconnect_add(const std::string& a, const std::string& b) {
  for (const auto& [field, name] : {std::pair{"port_a", a}, std::pair{"port_b", b}}) {
    const uint16_t id = ports_.port_id(name);
    if (id != kNoPort && bridges_.attached(id))
      return Status::Error(vswitch::dp::ERROR_CODE_FAILED_PRECONDITION,
                           std::string(field) + ": '" + name + "' is attached to a bridge");
  }
  return ports_.xconnect_add(a, b);
}

Status RequestHandler::attach(const vswitch::dp::BridgeAttachRequest& req) {
  const uint16_t id = ports_.port_id(req.port());
  if (id == kNoPort) return no_port("port", req.port());
  if (ports_.cross_connected(req.port()))
    return Status::Error(vswitch::dp::ERROR_CODE_FAILED_PRECONDITION,
                         "port: '" + req.port() + "' is cross-connected");
  return bridges_.attach(req.bridge(), req.port(), id, req.vlan());
}

Status RequestHandler::detach(const vswitch::dp::BridgeDetachRequest& req) {
  const uint16_t id = ports_.port_id(req.port());
  if (id == kNoPort) return no_port("port", req.port());
  return bridges_.detach(req.bridge(), req.port(), id);
}

Status RequestHandler::port_set(const vswitch::dp::PortSetRequest& req) {
  const uint16_t id = ports_.port_id(req.name());
  if (id == kNoPort) return no_port("name", req.name());
  if (req.set_security()) {
    const std::vector<std::string> macs(req.allowed_macs().begin(), req.allowed_macs().end());
    const std::vector<std::string> ips(req.allowed_ips().begin(), req.allowed_ips().end());
    if (Status s = ports_.set_security(req.name(), macs, ips); !s.ok()) return s;
  }
  if (req.set_mac_limit()) bridges_.set_port_mac_limit(id, req.mac_limit());
  return Status::Ok();
}

Status RequestHandler::mac_add(const vswitch::dp::MacAddRequest& req) {
  const uint16_t id = ports_.port_id(req.port());
  if (id == kNoPort) return no_port("port", req.port());
  return bridges_.mac_add(req.bridge(), req.mac(), req.port(), id);
}

Status RequestHandler::bridge_del(const std::string& name) {
  const uint16_t id = bridges_.bridge_id(name);
  if (id != flow::kNoBridge && router_.bridge_in_use(id))
    return Status::Error(vswitch::dp::ERROR_CODE_FAILED_PRECONDITION,
                         "name: bridge '" + name + "' has a router interface");
  return bridges_.bridge_del(name);
}

bool RequestHandler::handle_router(const Request& request, Response& response) {
  switch (request.body_case()) {
    case Request::kRouterIfAdd:
      set_result(response, router_.rif_add(request.router_if_add().router_if()));
      return true;
    case Request::kRouterIfDel:
      set_result(response, router_.rif_del(request.router_if_del().name()));
      return true;
    case Request::kRouterIfList:
      router_.rif_list(response.mutable_router_ifs());
      return true;
    case Request::kRouteAdd:
      set_result(response,
                 router_.route_add(request.route_add().route(), request.route_add().replace()));
      return true;
    case Request::kRouteDel:
      set_result(response, router_.route_del(request.route_del().prefix()));
      return true;
    case Request::kRouteBatch: {
      vswitch::dp::RouteBatchResult result;
      Status st = router_.route_batch(request.route_batch(), &result);
      if (st.ok()) {
        *response.mutable_route_batch() = result;
      } else {
        set_result(response, st);
      }
      return true;
    }
    case Request::kRouteList:
      router_.route_list(response.mutable_routes());
      return true;
    case Request::kRouteLookup: {
      Status st = router_.route_lookup(request.route_lookup(), response.mutable_route_lookup());
      if (!st.ok()) set_result(response, st);
      return true;
    }
    case Request::kNeighborList:
      router_.neighbor_list(response.mutable_neighbors());
      return true;
    case Request::kRouterStats:
      router_.router_stats(response.mutable_router_stats());
      return true;
    default:
      return false;
  }
}

bool RequestHandler::handle_acl(const Request& request, Response& response) {
  // An empty port name means every port; an unknown one is NOT_FOUND.
  auto port = [&](const std::string& name, uint16_t* id) {
    *id = name.empty() ? kNoPort : ports_.port_id(name);
    if (!name.empty() && *id == kNoPort) {
      set_result(response, no_port("port", name));
      return false;
    }
    return true;
  };
  uint16_t id;
  switch (request.body_case()) {
    case Request::kAclSet:
      if (request.acl_set().port().empty()) {
        set_result(response, Status::Error(vswitch::dp::ERROR_CODE_INVALID_ARGUMENT,
                                           "port: a port name is required"));
      } else if (port(request.acl_set().port(), &id)) {
        set_result(response, acl_.set(id, request.acl_set()));
      }
      return true;
    case Request::kAclList:
      if (port(request.acl_list().port(), &id)) acl_.list(id, response.mutable_acls());
      return true;
    case Request::kConnList:
      if (port(request.conn_list().port(), &id))
        acl_.conn_list(id, request.conn_list().max(), response.mutable_conns());
      return true;
    case Request::kConnFlush:
      if (port(request.conn_flush().port(), &id))
        response.mutable_conn_flush()->set_flushed(acl_.conn_flush(id));
      return true;
    case Request::kConntrackSet:
      set_result(response, acl_.conntrack_set(request.conntrack_set()));
      return true;
    case Request::kConntrackStats:
      acl_.conntrack_stats(response.mutable_conntrack_stats());
      return true;
    default:
      return false;
  }
}

void RequestHandler::add_l2_state(
    google::protobuf::RepeatedPtrField<vswitch::dp::PortStatus>* ports) {
  for (auto& p : *ports) bridges_.fill_port(static_cast<uint16_t>(p.port_id()), &p);
}

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
      s->set_mbufs_in_use(rte_mempool_in_use_count(ports_.pool()));
      s->set_mbufs_total(ports_.pool()->size);
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
      set_result(response, port_del(request.port_del().name()));
      break;
    case Request::kPortList:
      ports_.port_list(response.mutable_ports());
      add_l2_state(response.mutable_ports()->mutable_ports());
      break;
    case Request::kPortSet:
      set_result(response, port_set(request.port_set()));
      break;
    case Request::kXconnectAdd:
      set_result(response,
                 xconnect_add(request.xconnect_add().port_a(), request.xconnect_add().port_b()));
      break;
    case Request::kBridgeAdd:
      set_result(response, bridges_.bridge_add(request.bridge_add().bridge()));
      break;
    case Request::kBridgeDel:
      set_result(response, bridge_del(request.bridge_del().name()));
      break;
    case Request::kBridgeSet:
      set_result(response, bridges_.bridge_set(request.bridge_set().bridge()));
      break;
    case Request::kBridgeList:
      bridges_.bridge_list(response.mutable_bridges());
      break;
    case Request::kBridgeAttach:
      set_result(response, attach(request.bridge_attach()));
      break;
    case Request::kBridgeDetach:
      set_result(response, detach(request.bridge_detach()));
      break;
    case Request::kMacAdd:
      set_result(response, mac_add(request.mac_add()));
      break;
    case Request::kMacDel:
      set_result(response, bridges_.mac_del(request.mac_del().bridge(), request.mac_del().mac()));
      break;
    case Request::kMacFlush:
      set_result(response, bridges_.mac_flush(request.mac_flush().bridge()));
      break;
    case Request::kMacList: {
      Status st = bridges_.mac_list(request.mac_list().bridge(), response.mutable_macs());
      if (!st.ok()) set_result(response, st);
      break;
    }
    case Request::kFlowList:
      bridges_.flow_list(request.flow_list().max(), response.mutable_flows());
      break;
    case Request::kFlowStats:
      bridges_.flow_stats(response.mutable_flow_stats());
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
      add_l2_state(stats->mutable_ports());
      ports_.worker_stats(stats->mutable_workers());
      mgmt_.fill(stats->mutable_management());
      stats->set_tsc_hz(rte_get_tsc_hz());
      break;
    }
    case Request::kRouterIfAdd:
    case Request::kRouterIfDel:
    case Request::kRouterIfList:
    case Request::kRouteAdd:
    case Request::kRouteDel:
    case Request::kRouteBatch:
    case Request::kRouteList:
    case Request::kRouteLookup:
    case Request::kNeighborList:
    case Request::kRouterStats:
      handle_router(request, response);
      break;
    case Request::kAclSet:
    case Request::kAclList:
    case Request::kConnList:
    case Request::kConnFlush:
    case Request::kConntrackSet:
    case Request::kConntrackStats:
      handle_acl(request, response);
      break;
    case Request::kTraceStart:
    case Request::kTraceStop:
    case Request::kTraceShow:
    case Request::kTracePacket:
      handle_trace(request, response);
      break;
    case Request::kCaptureStart: {
      vswitch::dp::CaptureStatus st;
      if (Status s = capture_start(request.capture_start(), &st); s.ok()) {
        *response.mutable_capture() = std::move(st);
      } else {
        set_result(response, s);
      }
      break;
    }
    case Request::kCaptureStop: {
      vswitch::dp::CaptureStatus st;
      if (Status s = captures_.stop(request.capture_stop().port(), &st); s.ok()) {
        *response.mutable_capture() = std::move(st);
      } else {
        set_result(response, s);
      }
      break;
    }
    case Request::kCaptureList:
      captures_.list(response.mutable_captures());
      break;
    case Request::BODY_NOT_SET:
      set_result(response, Status::Error(vswitch::dp::ERROR_CODE_INVALID_ARGUMENT,
                                         "body: the request names no operation"));
      break;
  }
  return response;
}

}  // namespace vsw::dp
