// Packet capture through controld: validated here, run by the dataplane (capture.h), which
// writes the file. Not part of the desired state: a capture is a debugging session, and a
// restarted dataplane has none.
#include <string>

#include "controller.h"

namespace vsw::ctl {

namespace {

using grpc::Status;
using vswitch::dp::Request;
using vswitch::dp::Response;

constexpr uint32_t kMaxSnaplen = 9216;

std::string direction_name(vswitch::dp::CaptureDirection d) {
  switch (d) {
    case vswitch::dp::CAPTURE_DIRECTION_RX:
      return "rx";
    case vswitch::dp::CAPTURE_DIRECTION_TX:
      return "tx";
    default:
      return "both";
  }
}

void to_public(const vswitch::dp::CaptureStatus& in, vswitch::v1::Capture* out) {
  out->set_port(in.port());
  out->set_file(in.file());
  out->set_direction(direction_name(in.direction()));
  out->set_count(in.count());
  out->set_snaplen(in.snaplen());
  out->set_state(in.state());
  out->set_packets(in.packets());
  out->set_dropped(in.dropped());
  out->set_bytes(in.bytes());
}

}  // namespace

Status Controller::start_capture(const vswitch::v1::StartCaptureRequest& request,
                                 vswitch::v1::Capture* out) {
  vswitch::dp::CaptureDirection dir;
  const std::string& d = request.direction();
  if (d.empty() || d == "both") {
    dir = vswitch::dp::CAPTURE_DIRECTION_BOTH;
  } else if (d == "rx") {
    dir = vswitch::dp::CAPTURE_DIRECTION_RX;
  } else if (d == "tx") {
    dir = vswitch::dp::CAPTURE_DIRECTION_TX;
  } else {
    return Status(grpc::StatusCode::INVALID_ARGUMENT,
                  "direction: '" + d + "' is not rx, tx or both");
  }
  if (request.file().empty() || request.file().front() != '/')
    return Status(grpc::StatusCode::INVALID_ARGUMENT,
                  "file: '" + request.file() + "' is not an absolute path");
  if (request.snaplen() > kMaxSnaplen)
    return Status(grpc::StatusCode::INVALID_ARGUMENT,
                  "snaplen: " + std::to_string(request.snaplen()) + " is over " +
                      std::to_string(kMaxSnaplen));
  std::lock_guard lk(mu_);
  if (find_port_locked(request.port()) == nullptr)
    return Status(grpc::StatusCode::NOT_FOUND, "port: no port '" + request.port() + "'");
  if (!connected_) return unavailable_locked();
  Request req;
  auto* c = req.mutable_capture_start();
  c->set_port(request.port());
  c->set_file(request.file());
  c->set_direction(dir);
  c->set_count(request.count());
  c->set_snaplen(request.snaplen());
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.capture(), out);
  return Status::OK;
}

Status Controller::stop_capture(const std::string& port, vswitch::v1::Capture* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_capture_stop()->set_port(port);
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.capture(), out);
  return Status::OK;
}

Status Controller::list_captures(vswitch::v1::ListCapturesResponse* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_capture_list();
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  for (const auto& c : r.captures().captures()) to_public(c, out->add_captures());
  return Status::OK;
}

}  // namespace vsw::ctl
