// The gRPC service vswitch.v1.Vswitch: a thin adapter from RPCs to the Controller.
#pragma once

#include "controller.h"
#include "vswitch.grpc.pb.h"

namespace vsw::ctl {

class ApiService final : public vswitch::v1::Vswitch::Service {
 public:
  explicit ApiService(Controller& controller) : controller_(controller) {}

  grpc::Status GetStatus(grpc::ServerContext*, const vswitch::v1::GetStatusRequest*,
                         vswitch::v1::Status* out) override;
  grpc::Status AddPort(grpc::ServerContext*, const vswitch::v1::AddPortRequest* req,
                       vswitch::v1::Port* out) override;
  grpc::Status DeletePort(grpc::ServerContext*, const vswitch::v1::DeletePortRequest* req,
                          vswitch::v1::DeletePortResponse*) override;
  grpc::Status GetPort(grpc::ServerContext*, const vswitch::v1::GetPortRequest* req,
                       vswitch::v1::Port* out) override;
  grpc::Status ListPorts(grpc::ServerContext*, const vswitch::v1::ListPortsRequest*,
                         vswitch::v1::ListPortsResponse* out) override;
  grpc::Status AddXconnect(grpc::ServerContext*, const vswitch::v1::AddXconnectRequest* req,
                           vswitch::v1::Xconnect* out) override;
  grpc::Status DeleteXconnect(grpc::ServerContext*, const vswitch::v1::DeleteXconnectRequest* req,
                              vswitch::v1::DeleteXconnectResponse*) override;
  grpc::Status ListXconnects(grpc::ServerContext*, const vswitch::v1::ListXconnectsRequest*,
                             vswitch::v1::ListXconnectsResponse* out) override;
  grpc::Status SetPort(grpc::ServerContext*, const vswitch::v1::SetPortRequest* req,
                       vswitch::v1::Port* out) override;
  grpc::Status AddBridge(grpc::ServerContext*, const vswitch::v1::AddBridgeRequest* req,
                         vswitch::v1::Bridge* out) override;
  grpc::Status DeleteBridge(grpc::ServerContext*, const vswitch::v1::DeleteBridgeRequest* req,
                            vswitch::v1::DeleteBridgeResponse*) override;
  grpc::Status SetBridge(grpc::ServerContext*, const vswitch::v1::SetBridgeRequest* req,
                         vswitch::v1::Bridge* out) override;
  grpc::Status GetBridge(grpc::ServerContext*, const vswitch::v1::GetBridgeRequest* req,
                         vswitch::v1::Bridge* out) override;
  grpc::Status ListBridges(grpc::ServerContext*, const vswitch::v1::ListBridgesRequest*,
                           vswitch::v1::ListBridgesResponse* out) override;
  grpc::Status AttachPort(grpc::ServerContext*, const vswitch::v1::AttachPortRequest* req,
                          vswitch::v1::Attachment* out) override;
  grpc::Status DetachPort(grpc::ServerContext*, const vswitch::v1::DetachPortRequest* req,
                          vswitch::v1::DetachPortResponse*) override;
  grpc::Status AddMac(grpc::ServerContext*, const vswitch::v1::AddMacRequest* req,
                      vswitch::v1::StaticMac* out) override;
  grpc::Status DeleteMac(grpc::ServerContext*, const vswitch::v1::DeleteMacRequest* req,
                         vswitch::v1::DeleteMacResponse*) override;
  grpc::Status FlushMacs(grpc::ServerContext*, const vswitch::v1::FlushMacsRequest* req,
                         vswitch::v1::FlushMacsResponse*) override;
  grpc::Status ListMacs(grpc::ServerContext*, const vswitch::v1::ListMacsRequest* req,
                        vswitch::v1::ListMacsResponse* out) override;
  grpc::Status ListFlows(grpc::ServerContext*, const vswitch::v1::ListFlowsRequest* req,
                         vswitch::v1::ListFlowsResponse* out) override;
  grpc::Status GetFlowStats(grpc::ServerContext*, const vswitch::v1::GetFlowStatsRequest*,
                            vswitch::v1::FlowStats* out) override;
  grpc::Status GetStats(grpc::ServerContext*, const vswitch::v1::GetStatsRequest*,
                        vswitch::v1::Stats* out) override;

  grpc::Status AddRouterInterface(grpc::ServerContext*,
                                  const vswitch::v1::AddRouterInterfaceRequest* req,
                                  vswitch::v1::RouterInterface* out) override;
  grpc::Status DeleteRouterInterface(grpc::ServerContext*,
                                     const vswitch::v1::DeleteRouterInterfaceRequest* req,
                                     vswitch::v1::DeleteRouterInterfaceResponse*) override;
  grpc::Status ListRouterInterfaces(grpc::ServerContext*,
                                    const vswitch::v1::ListRouterInterfacesRequest*,
                                    vswitch::v1::ListRouterInterfacesResponse* out) override;
  grpc::Status AddRoute(grpc::ServerContext*, const vswitch::v1::AddRouteRequest* req,
                        vswitch::v1::Route* out) override;
  grpc::Status DeleteRoute(grpc::ServerContext*, const vswitch::v1::DeleteRouteRequest* req,
                           vswitch::v1::DeleteRouteResponse*) override;
  grpc::Status ListRoutes(grpc::ServerContext*, const vswitch::v1::ListRoutesRequest*,
                          vswitch::v1::ListRoutesResponse* out) override;
  grpc::Status LookupRoute(grpc::ServerContext*, const vswitch::v1::LookupRouteRequest* req,
                           vswitch::v1::RouteLookup* out) override;
  grpc::Status ListNeighbors(grpc::ServerContext*, const vswitch::v1::ListNeighborsRequest*,
                             vswitch::v1::ListNeighborsResponse* out) override;
  grpc::Status AddVm(grpc::ServerContext*, const vswitch::v1::AddVmRequest* req,
                     vswitch::v1::Vm* out) override;
  grpc::Status StartVm(grpc::ServerContext*, const vswitch::v1::StartVmRequest* req,
                       vswitch::v1::Vm* out) override;
  grpc::Status StopVm(grpc::ServerContext*, const vswitch::v1::StopVmRequest* req,
                      vswitch::v1::Vm* out) override;
  grpc::Status DeleteVm(grpc::ServerContext*, const vswitch::v1::DeleteVmRequest* req,
                        vswitch::v1::DeleteVmResponse*) override;
  grpc::Status GetVm(grpc::ServerContext*, const vswitch::v1::GetVmRequest* req,
                     vswitch::v1::Vm* out) override;
  grpc::Status ListVms(grpc::ServerContext*, const vswitch::v1::ListVmsRequest*,
                       vswitch::v1::ListVmsResponse* out) override;
  grpc::Status GetVmConsole(grpc::ServerContext*, const vswitch::v1::GetVmConsoleRequest* req,
                            vswitch::v1::VmConsole* out) override;
  grpc::Status AddAclRule(grpc::ServerContext*, const vswitch::v1::AddAclRuleRequest* req,
                          vswitch::v1::AclRule* out) override;
  grpc::Status DeleteAclRule(grpc::ServerContext*, const vswitch::v1::DeleteAclRuleRequest* req,
                             vswitch::v1::DeleteAclRuleResponse*) override;
  grpc::Status ListAcls(grpc::ServerContext*, const vswitch::v1::ListAclsRequest* req,
                        vswitch::v1::ListAclsResponse* out) override;
  grpc::Status SetAclDefault(grpc::ServerContext*, const vswitch::v1::SetAclDefaultRequest* req,
                             vswitch::v1::PortAcl* out) override;
  grpc::Status ListConnections(grpc::ServerContext*, const vswitch::v1::ListConnectionsRequest* req,
                               vswitch::v1::ListConnectionsResponse* out) override;
  grpc::Status FlushConnections(grpc::ServerContext*,
                                const vswitch::v1::FlushConnectionsRequest* req,
                                vswitch::v1::FlushConnectionsResponse* out) override;
  grpc::Status SetConntrack(grpc::ServerContext*, const vswitch::v1::SetConntrackRequest* req,
                            vswitch::v1::Conntrack* out) override;
  grpc::Status GetConntrack(grpc::ServerContext*, const vswitch::v1::GetConntrackRequest*,
                            vswitch::v1::Conntrack* out) override;

  grpc::Status StartCapture(grpc::ServerContext*, const vswitch::v1::StartCaptureRequest* req,
                            vswitch::v1::Capture* out) override;
  grpc::Status StopCapture(grpc::ServerContext*, const vswitch::v1::StopCaptureRequest* req,
                           vswitch::v1::Capture* out) override;
  grpc::Status ListCaptures(grpc::ServerContext*, const vswitch::v1::ListCapturesRequest*,
                            vswitch::v1::ListCapturesResponse* out) override;
  grpc::Status StartTrace(grpc::ServerContext*, const vswitch::v1::StartTraceRequest* req,
                          vswitch::v1::Trace* out) override;
  grpc::Status ShowTrace(grpc::ServerContext*, const vswitch::v1::ShowTraceRequest*,
                         vswitch::v1::Trace* out) override;
  grpc::Status StopTrace(grpc::ServerContext*, const vswitch::v1::StopTraceRequest*,
                         vswitch::v1::Trace* out) override;
  grpc::Status TracePacket(grpc::ServerContext*, const vswitch::v1::TracePacketRequest* req,
                           vswitch::v1::TracedPacket* out) override;

 private:
  Controller& controller_;
};

}  // namespace vsw::ctl
