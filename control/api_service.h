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
  grpc::Status GetStats(grpc::ServerContext*, const vswitch::v1::GetStatsRequest*,
                        vswitch::v1::Stats* out) override;

 private:
  Controller& controller_;
};

}  // namespace vsw::ctl
