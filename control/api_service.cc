#include "api_service.h"

namespace vsw::ctl {

using grpc::ServerContext;
using grpc::Status;

Status ApiService::GetStatus(ServerContext*, const vswitch::v1::GetStatusRequest*,
                             vswitch::v1::Status* out) {
  controller_.status(out);
  return Status::OK;
}

Status ApiService::AddPort(ServerContext*, const vswitch::v1::AddPortRequest* req,
                           vswitch::v1::Port* out) {
  if (!req->has_port()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "port: required");
  return controller_.add_port(req->port(), out);
}

Status ApiService::DeletePort(ServerContext*, const vswitch::v1::DeletePortRequest* req,
                              vswitch::v1::DeletePortResponse*) {
  return controller_.delete_port(req->name());
}

Status ApiService::GetPort(ServerContext*, const vswitch::v1::GetPortRequest* req,
                           vswitch::v1::Port* out) {
  return controller_.get_port(req->name(), out);
}

Status ApiService::ListPorts(ServerContext*, const vswitch::v1::ListPortsRequest*,
                             vswitch::v1::ListPortsResponse* out) {
  controller_.list_ports(out);
  return Status::OK;
}

Status ApiService::AddXconnect(ServerContext*, const vswitch::v1::AddXconnectRequest* req,
                               vswitch::v1::Xconnect* out) {
  return controller_.add_xconnect(req->port_a(), req->port_b(), out);
}

Status ApiService::DeleteXconnect(ServerContext*, const vswitch::v1::DeleteXconnectRequest* req,
                                  vswitch::v1::DeleteXconnectResponse*) {
  return controller_.delete_xconnect(req->port());
}

Status ApiService::ListXconnects(ServerContext*, const vswitch::v1::ListXconnectsRequest*,
                                 vswitch::v1::ListXconnectsResponse* out) {
  controller_.list_xconnects(out);
  return Status::OK;
}

Status ApiService::SetPort(ServerContext*, const vswitch::v1::SetPortRequest* req,
                           vswitch::v1::Port* out) {
  return controller_.set_port(*req, out);
}

Status ApiService::AddBridge(ServerContext*, const vswitch::v1::AddBridgeRequest* req,
                             vswitch::v1::Bridge* out) {
  if (!req->has_bridge()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "bridge: required");
  return controller_.add_bridge(req->bridge(), out);
}

Status ApiService::DeleteBridge(ServerContext*, const vswitch::v1::DeleteBridgeRequest* req,
                                vswitch::v1::DeleteBridgeResponse*) {
  return controller_.delete_bridge(req->name());
}

Status ApiService::SetBridge(ServerContext*, const vswitch::v1::SetBridgeRequest* req,
                             vswitch::v1::Bridge* out) {
  return controller_.set_bridge(*req, out);
}

Status ApiService::GetBridge(ServerContext*, const vswitch::v1::GetBridgeRequest* req,
                             vswitch::v1::Bridge* out) {
  return controller_.get_bridge(req->name(), out);
}

Status ApiService::ListBridges(ServerContext*, const vswitch::v1::ListBridgesRequest*,
                               vswitch::v1::ListBridgesResponse* out) {
  controller_.list_bridges(out);
  return Status::OK;
}

Status ApiService::AttachPort(ServerContext*, const vswitch::v1::AttachPortRequest* req,
                              vswitch::v1::Attachment* out) {
  return controller_.attach_port(*req, out);
}

Status ApiService::DetachPort(ServerContext*, const vswitch::v1::DetachPortRequest* req,
                              vswitch::v1::DetachPortResponse*) {
  return controller_.detach_port(*req);
}

Status ApiService::AddMac(ServerContext*, const vswitch::v1::AddMacRequest* req,
                          vswitch::v1::StaticMac* out) {
  return controller_.add_mac(*req, out);
}

Status ApiService::DeleteMac(ServerContext*, const vswitch::v1::DeleteMacRequest* req,
                             vswitch::v1::DeleteMacResponse*) {
  return controller_.delete_mac(*req);
}

Status ApiService::FlushMacs(ServerContext*, const vswitch::v1::FlushMacsRequest* req,
                             vswitch::v1::FlushMacsResponse*) {
  return controller_.flush_macs(req->bridge());
}

Status ApiService::ListMacs(ServerContext*, const vswitch::v1::ListMacsRequest* req,
                            vswitch::v1::ListMacsResponse* out) {
  return controller_.list_macs(req->bridge(), out);
}

Status ApiService::ListFlows(ServerContext*, const vswitch::v1::ListFlowsRequest* req,
                             vswitch::v1::ListFlowsResponse* out) {
  return controller_.list_flows(req->max(), out);
}

Status ApiService::GetFlowStats(ServerContext*, const vswitch::v1::GetFlowStatsRequest*,
                                vswitch::v1::FlowStats* out) {
  return controller_.flow_stats(out);
}

Status ApiService::GetStats(ServerContext*, const vswitch::v1::GetStatsRequest*,
                            vswitch::v1::Stats* out) {
  return controller_.stats(out);
}

Status ApiService::AddRouterInterface(ServerContext*,
                                      const vswitch::v1::AddRouterInterfaceRequest* req,
                                      vswitch::v1::RouterInterface* out) {
  if (!req->has_router_interface())
    return Status(grpc::StatusCode::INVALID_ARGUMENT, "router_interface: required");
  return controller_.add_router_interface(req->router_interface(), out);
}

Status ApiService::DeleteRouterInterface(ServerContext*,
                                         const vswitch::v1::DeleteRouterInterfaceRequest* req,
                                         vswitch::v1::DeleteRouterInterfaceResponse*) {
  return controller_.delete_router_interface(req->name());
}

Status ApiService::ListRouterInterfaces(ServerContext*,
                                        const vswitch::v1::ListRouterInterfacesRequest*,
                                        vswitch::v1::ListRouterInterfacesResponse* out) {
  controller_.list_router_interfaces(out);
  return Status::OK;
}

Status ApiService::AddRoute(ServerContext*, const vswitch::v1::AddRouteRequest* req,
                            vswitch::v1::Route* out) {
  if (!req->has_route()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "route: required");
  return controller_.add_route(*req, out);
}

Status ApiService::DeleteRoute(ServerContext*, const vswitch::v1::DeleteRouteRequest* req,
                               vswitch::v1::DeleteRouteResponse*) {
  return controller_.delete_route(req->prefix());
}

Status ApiService::ListRoutes(ServerContext*, const vswitch::v1::ListRoutesRequest*,
                              vswitch::v1::ListRoutesResponse* out) {
  controller_.list_routes(out);
  return Status::OK;
}

Status ApiService::LookupRoute(ServerContext*, const vswitch::v1::LookupRouteRequest* req,
                               vswitch::v1::RouteLookup* out) {
  return controller_.lookup_route(req->address(), out);
}

Status ApiService::ListNeighbors(ServerContext*, const vswitch::v1::ListNeighborsRequest*,
                                 vswitch::v1::ListNeighborsResponse* out) {
  return controller_.list_neighbors(out);
}

Status ApiService::AddVm(ServerContext*, const vswitch::v1::AddVmRequest* req,
                         vswitch::v1::Vm* out) {
  if (!req->has_vm()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "vm: required");
  return controller_.add_vm(*req, out);
}

Status ApiService::StartVm(ServerContext*, const vswitch::v1::StartVmRequest* req,
                           vswitch::v1::Vm* out) {
  return controller_.start_vm(req->name(), out);
}

Status ApiService::StopVm(ServerContext*, const vswitch::v1::StopVmRequest* req,
                          vswitch::v1::Vm* out) {
  return controller_.stop_vm(*req, out);
}

Status ApiService::DeleteVm(ServerContext*, const vswitch::v1::DeleteVmRequest* req,
                            vswitch::v1::DeleteVmResponse*) {
  return controller_.delete_vm(req->name());
}

Status ApiService::GetVm(ServerContext*, const vswitch::v1::GetVmRequest* req,
                         vswitch::v1::Vm* out) {
  return controller_.get_vm(req->name(), out);
}

Status ApiService::ListVms(ServerContext*, const vswitch::v1::ListVmsRequest*,
                           vswitch::v1::ListVmsResponse* out) {
  controller_.list_vms(out);
  return Status::OK;
}

Status ApiService::GetVmConsole(ServerContext*, const vswitch::v1::GetVmConsoleRequest* req,
                                vswitch::v1::VmConsole* out) {
  return controller_.vm_console(*req, out);
}

Status ApiService::AddAclRule(ServerContext*, const vswitch::v1::AddAclRuleRequest* req,
                              vswitch::v1::AclRule* out) {
  if (!req->has_rule()) return Status(grpc::StatusCode::INVALID_ARGUMENT, "rule: required");
  return controller_.add_acl_rule(req->rule(), out);
}

Status ApiService::DeleteAclRule(ServerContext*, const vswitch::v1::DeleteAclRuleRequest* req,
                                 vswitch::v1::DeleteAclRuleResponse*) {
  return controller_.delete_acl_rule(req->port(), req->id());
}

Status ApiService::ListAcls(ServerContext*, const vswitch::v1::ListAclsRequest* req,
                            vswitch::v1::ListAclsResponse* out) {
  return controller_.list_acls(req->port(), out);
}

Status ApiService::SetAclDefault(ServerContext*, const vswitch::v1::SetAclDefaultRequest* req,
                                 vswitch::v1::PortAcl* out) {
  return controller_.set_acl_default(*req, out);
}

Status ApiService::ListConnections(ServerContext*, const vswitch::v1::ListConnectionsRequest* req,
                                   vswitch::v1::ListConnectionsResponse* out) {
  return controller_.list_connections(*req, out);
}

Status ApiService::FlushConnections(ServerContext*, const vswitch::v1::FlushConnectionsRequest* req,
                                    vswitch::v1::FlushConnectionsResponse* out) {
  return controller_.flush_connections(req->port(), out);
}

Status ApiService::SetConntrack(ServerContext*, const vswitch::v1::SetConntrackRequest* req,
                                vswitch::v1::Conntrack* out) {
  return controller_.set_conntrack(*req, out);
}

Status ApiService::GetConntrack(ServerContext*, const vswitch::v1::GetConntrackRequest*,
                                vswitch::v1::Conntrack* out) {
  return controller_.get_conntrack(out);
}

Status ApiService::StartCapture(ServerContext*, const vswitch::v1::StartCaptureRequest* req,
                                vswitch::v1::Capture* out) {
  return controller_.start_capture(*req, out);
}

Status ApiService::StopCapture(ServerContext*, const vswitch::v1::StopCaptureRequest* req,
                               vswitch::v1::Capture* out) {
  return controller_.stop_capture(req->port(), out);
}

Status ApiService::ListCaptures(ServerContext*, const vswitch::v1::ListCapturesRequest*,
                                vswitch::v1::ListCapturesResponse* out) {
  return controller_.list_captures(out);
}

Status ApiService::StartTrace(ServerContext*, const vswitch::v1::StartTraceRequest* req,
                              vswitch::v1::Trace* out) {
  return controller_.start_trace(*req, out);
}

Status ApiService::ShowTrace(ServerContext*, const vswitch::v1::ShowTraceRequest*,
                             vswitch::v1::Trace* out) {
  return controller_.show_trace(out);
}

Status ApiService::StopTrace(ServerContext*, const vswitch::v1::StopTraceRequest*,
                             vswitch::v1::Trace* out) {
  return controller_.stop_trace(out);
}

Status ApiService::TracePacket(ServerContext*, const vswitch::v1::TracePacketRequest* req,
                               vswitch::v1::TracedPacket* out) {
  return controller_.trace_packet(*req, out);
}

}  // namespace vsw::ctl
