#include "dataplane_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "frame_codec.h"

namespace vsw::proto {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

DataplaneClient::~DataplaneClient() {
  close();
}

void DataplaneClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string DataplaneClient::connect(const std::string& path) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return "socket path too long: " + path;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_text("socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = errno_text(("connect " + path).c_str());
    ::close(fd);
    return err;
  }
  fd_ = fd;
  return {};
}

CallResult DataplaneClient::call(vswitch::dp::Request request, std::chrono::milliseconds timeout) {
  CallResult result;
  if (fd_ < 0) {
    result.transport_error = "not connected";
    return result;
  }
  const uint64_t id = next_id_++;
  request.set_id(id);
  std::string out;
  if (!encode_frame(request, out)) {
    result.transport_error = "request exceeds the frame size limit";
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  auto fail = [&](std::string why) {
    close();
    result.transport_error = std::move(why);
    return result;
  };
  for (std::size_t sent = 0; sent < out.size();) {
    const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_text("send"));
    }
    sent += static_cast<std::size_t>(n);
  }
  FrameDecoder decoder;
  std::string body;
  char buf[64 * 1024];
  for (;;) {
    switch (decoder.next(body)) {
      case DecodeResult::kOversized:
        return fail("response frame exceeds the size limit");
      case DecodeResult::kFrame:
        if (!result.response.ParseFromString(body)) return fail("response does not parse");
        // One call is outstanding at a time and a timeout closes the connection, so the next
        // frame is always the answer to this request.
        if (result.response.id() != id) return fail("response id does not match the request");
        return result;
      case DecodeResult::kNeedMore:
        break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail("timed out waiting for the dataplane");
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return fail(errno_text("poll"));
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(errno_text("recv"));
    }
    if (n == 0) return fail("the dataplane closed the connection");
    decoder.append(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

std::string describe(const vswitch::dp::Error& error) {
  std::string name = vswitch::dp::ErrorCode_Name(error.code());
  constexpr std::string_view kPrefix = "ERROR_CODE_";
  if (name.starts_with(kPrefix)) name.erase(0, kPrefix.size());
  return name + ": " + error.message();
}

}  // namespace vsw::proto
