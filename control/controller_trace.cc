// Packet trace through controld: validated here, run by the dataplane (trace_manager.h). Not
// part of the desired state: a trace is a debugging session, and a restarted dataplane has
// none.
#include <cctype>
#include <string>

#include "controller.h"

namespace vsw::ctl {

namespace {

using grpc::Status;
using vswitch::dp::Request;
using vswitch::dp::Response;

constexpr uint32_t kMaxTraceCount = 1000;  // the dataplane's kMaxTraceCount
constexpr size_t kMaxFrameBytes = 9600;

std::string to_hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// Hex digits, optionally separated by spaces, colons or dashes ("0200..." or "02:00 ...").
bool from_hex(const std::string& text, std::string* out) {
  out->clear();
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '-' || c == '\n' || c == '\t') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    const int v = std::isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out->push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  return high < 0;
}

void to_public(const vswitch::dp::TracedPacket& in, vswitch::v1::TracedPacket* out) {
  out->set_index(in.index());
  out->set_port(in.port());
  out->set_worker(in.worker());
  out->set_length(in.length());
  out->set_age_seconds(in.age_seconds());
  out->set_summary(in.summary());
  out->set_head(to_hex(in.head()));
  for (const auto& s : in.steps()) {
    auto* step = out->add_steps();
    step->set_stage(s.stage());
    step->set_detail(s.detail());
  }
  out->set_result(in.result());
  out->set_steps_lost(in.steps_lost());
}

void to_public(const vswitch::dp::TraceStatus& in, vswitch::v1::Trace* out) {
  out->set_running(in.running());
  out->set_port(in.port());
  out->set_count(in.count());
  out->set_marked(in.marked());
  for (const auto& p : in.packets()) to_public(p, out->add_packets());
}

}  // namespace

Status Controller::start_trace(const vswitch::v1::StartTraceRequest& request,
                               vswitch::v1::Trace* out) {
  if (request.count() > kMaxTraceCount)
    return Status(grpc::StatusCode::INVALID_ARGUMENT, "count: " + std::to_string(request.count()) +
                                                          " is over the limit of " +
                                                          std::to_string(kMaxTraceCount));
  std::lock_guard lk(mu_);
  if (!request.port().empty() && find_port_locked(request.port()) == nullptr)
    return Status(grpc::StatusCode::NOT_FOUND, "port: no port '" + request.port() + "'");
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_trace_start()->set_port(request.port());
  req.mutable_trace_start()->set_count(request.count());
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.trace(), out);
  return Status::OK;
}

Status Controller::show_trace(vswitch::v1::Trace* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_trace_show();
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.trace(), out);
  return Status::OK;
}

Status Controller::stop_trace(vswitch::v1::Trace* out) {
  std::lock_guard lk(mu_);
  if (!connected_) return unavailable_locked();
  Request req;
  req.mutable_trace_stop();
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.trace(), out);
  return Status::OK;
}

Status Controller::trace_packet(const vswitch::v1::TracePacketRequest& request,
                                vswitch::v1::TracedPacket* out) {
  Request req;
  auto* t = req.mutable_trace_packet();
  t->set_port(request.port());
  if (!request.frame().empty()) {
    std::string bytes;
    if (!from_hex(request.frame(), &bytes))
      return Status(grpc::StatusCode::INVALID_ARGUMENT, "frame: not an even number of hex digits");
    if (bytes.size() < 14 || bytes.size() > kMaxFrameBytes)
      return Status(grpc::StatusCode::INVALID_ARGUMENT, "frame: " + std::to_string(bytes.size()) +
                                                            " bytes; a frame has 14 to " +
                                                            std::to_string(kMaxFrameBytes));
    if (!request.src().empty() || !request.dst().empty())
      return Status(grpc::StatusCode::INVALID_ARGUMENT,
                    "frame: give either a frame or src and dst, not both");
    t->set_frame(bytes);
  } else {
    if (request.src().empty())
      return Status(grpc::StatusCode::INVALID_ARGUMENT, "src: required without a frame");
    if (request.dst().empty())
      return Status(grpc::StatusCode::INVALID_ARGUMENT, "dst: required without a frame");
    const std::string& p = request.protocol();
    uint32_t proto = 17;
    if (p == "tcp") {
      proto = 6;
    } else if (p == "icmp" || p == "icmpv6") {
      proto = p == "icmp" ? 1 : 58;
    } else if (!p.empty() && p != "udp") {
      if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 3 ||
          std::stoul(p) > 255)
        return Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "protocol: '" + p + "' is not tcp, udp, icmp or a number 0-255");
      proto = static_cast<uint32_t>(std::stoul(p));
    }
    t->set_src(request.src());
    t->set_dst(request.dst());
    t->set_protocol(proto);
    t->set_src_port(request.src_port());
    t->set_dst_port(request.dst_port());
    t->set_src_mac(request.src_mac());
    t->set_dst_mac(request.dst_mac());
    t->set_vlan(request.vlan());
  }
  std::lock_guard lk(mu_);
  if (find_port_locked(request.port()) == nullptr)
    return Status(grpc::StatusCode::NOT_FOUND, "port: no port '" + request.port() + "'");
  if (!connected_) return unavailable_locked();
  Response r;
  if (!call_locked(req, &r)) return unavailable_locked();
  if (r.has_error()) return from_dataplane(r.error());
  to_public(r.traced_packet(), out);
  return Status::OK;
}

}  // namespace vsw::ctl
