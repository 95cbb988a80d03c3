#include "qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vsw::ctl {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Reads lines until one holds "return" or "error" (QMP events may come first). Returns ""
// on "return", else why not.
std::string read_reply(int fd, Clock::time_point deadline, bool greeting) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (greeting && line.find("\"QMP\"") != std::string::npos) return "";
      if (!greeting && line.find("\"return\"") != std::string::npos) return "";
      if (!greeting && line.find("\"error\"") != std::string::npos) return "QMP error: " + line;
    }
    if (buf.size() > 65536) return "QMP reply too long";
    pollfd p{fd, POLLIN, 0};
    int ms = remaining_ms(deadline);
    if (ms == 0 || ::poll(&p, 1, ms) <= 0) return "QMP timed out";
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n == 0) return "QMP closed the connection";
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return std::string("QMP read: ") + std::strerror(errno);
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
}

std::string send_line(int fd, const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("QMP write: ") + std::strerror(errno);
    }
    off += static_cast<size_t>(n);
  }
  return "";
}

}  // namespace

std::string qmp_execute(const std::string& socket_path, const std::string& command,
                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return "QMP socket path too long";
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return std::string("socket: ") + std::strerror(errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return "QMP connect " + socket_path + ": " + std::strerror(errno);
  if (std::string err = read_reply(fd.get(), deadline, true); !err.empty()) return err;
  if (std::string err = send_line(fd.get(), "{\"execute\":\"qmp_capabilities\"}\n"); !err.empty())
    return err;
  if (std::string err = read_reply(fd.get(), deadline, false); !err.empty()) return err;
  if (std::string err = send_line(fd.get(), "{\"execute\":\"" + command + "\"}\n"); !err.empty())
    return err;
  return read_reply(fd.get(), deadline, false);
}

}  // namespace vsw::ctl
