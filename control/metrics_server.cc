#include "metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controller.h"
#include "log.h"

namespace vsw::ctl {

namespace {

using Clock = std::chrono::steady_clock;

// Writes all of `data`, giving up at `deadline`.
bool write_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string response(const char* status, const char* content_type, const std::string& body) {
  std::string r = "HTTP/1.1 ";
  r += status;
  r += "\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size());
  r += "\r\nConnection: close\r\n\r\n";
  r += body;
  return r;
}

// Calls the dataplane; the body on success, nothing on an error answer or a transport failure
// (which closes the client: the next scrape connects again).
template <typename Fill>
bool call(proto::DataplaneClient& dp, Fill fill, vswitch::dp::Response* out) {
  vswitch::dp::Request req;
  fill(req);
  proto::CallResult r = dp.call(std::move(req), kScrapeCallTimeout);
  if (!r.ok()) return false;
  if (r.response.has_error()) return false;
  *out = std::move(r.response);
  return true;
}

}  // namespace

std::string parse_listen_address(const std::string& text, std::string* host, uint16_t* port) {
  std::string h = "127.0.0.1";
  std::string p = text;
  const std::size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (h.empty()) h = "127.0.0.1";
  }
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) != 1 && inet_pton(AF_INET6, h.c_str(), &v6) != 1)
    return "--metrics " + text + ": '" + h + "' is not an IPv4 or IPv6 address";
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) == 0 || std::stoul(p) > 65535)
    return "--metrics " + text + ": the port must be 1-65535";
  *host = h;
  *port = static_cast<uint16_t>(std::stoul(p));
  return {};
}

MetricsServer::MetricsServer(Controller& controller, std::string dataplane_socket)
    : controller_(controller), dataplane_socket_(std::move(dataplane_socket)) {}

MetricsServer::~MetricsServer() {
  stop();
}

std::string MetricsServer::start(const std::string& host, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1) return "bad address " + host;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 16) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return "bind " + host + ":" + std::to_string(port) + ": " + err;
  }
  listen_fd_ = fd;
  address_ = (family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  thread_ = std::thread([this] { serve(); });
  return {};
}

void MetricsServer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void MetricsServer::serve() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    // Wakes up now and then to notice stop(); no scrape waits for it.
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void MetricsServer::handle(int fd) {
  const Clock::time_point deadline = Clock::now() + kRequestTimeout;
  std::string req;
  char buf[2048];
  while (req.find("\r\n\r\n") == std::string::npos) {
    if (req.size() > kMaxRequestBytes) {
      write_all(fd, response("431 Request Header Fields Too Large", "text/plain", "too large\n"),
                deadline);
      return;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return;
    }
    req.append(buf, static_cast<std::size_t>(n));
  }
  const std::string line = req.substr(0, req.find("\r\n"));
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    write_all(fd, response("400 Bad Request", "text/plain", "bad request line\n"), deadline);
    return;
  }
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (const std::size_t q = path.find('?'); q != std::string::npos) path.resize(q);
  if (method != "GET" && method != "HEAD") {
    write_all(fd, response("405 Method Not Allowed", "text/plain", "GET /metrics\n"), deadline);
    return;
  }
  if (path == "/") {
    write_all(fd, response("200 OK", "text/plain", "vsw-controld: metrics at /metrics\n"),
              deadline);
    return;
  }
  if (path != "/metrics") {
    write_all(fd, response("404 Not Found", "text/plain", "not found: GET /metrics\n"), deadline);
    return;
  }
  std::string r = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", scrape());
  if (method == "HEAD") r.resize(r.find("\r\n\r\n") + 4);
  write_all(fd, r, deadline);
}

void MetricsServer::read_dataplane(MetricsSnapshot* s) {
  if (!dp_.connected()) {
    if (!dp_.connect(dataplane_socket_).empty()) return;
  }
  vswitch::dp::Response r;
  if (!call(
          dp_, [](auto& q) { q.mutable_status(); }, &r))
    return;
  s->dp_status = r.status();
  if (!call(
          dp_, [](auto& q) { q.mutable_stats(); }, &r))
    return;
  s->stats = r.stats();
  if (call(
          dp_, [](auto& q) { q.mutable_flow_stats(); }, &r))
    s->flows = r.flow_stats();
  if (call(
          dp_, [](auto& q) { q.mutable_bridge_list(); }, &r))
    s->bridges = r.bridges();
  if (call(
          dp_, [](auto& q) { q.mutable_router_stats(); }, &r))
    s->router = r.router_stats();
  if (call(
          dp_, [](auto& q) { q.mutable_neighbor_list(); }, &r))
    s->neighbors = r.neighbors();
  // Answered once the ACL is in the dataplane; an error answer leaves the families out.
  if (call(
          dp_, [](auto& q) { q.mutable_conntrack_stats(); }, &r))
    s->conntrack = r.conntrack_stats();
  if (call(
          dp_, [](auto& q) { q.mutable_acl_list(); }, &r))
    s->acls = r.acls();
}

std::string MetricsServer::scrape() {
  const Clock::time_point t0 = Clock::now();
  MetricsSnapshot s;
  controller_.status(&s.controld);
  read_dataplane(&s);
  s.scrape_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return render_metrics(s);
}

}  // namespace vsw::ctl
