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

Status ApiService::GetStats(ServerContext*, const vswitch::v1::GetStatsRequest*,
                            vswitch::v1::Stats* out) {
  return controller_.stats(out);
}

}  // namespace vsw::ctl
