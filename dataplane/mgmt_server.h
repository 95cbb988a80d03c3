// The dataplane socket: length-prefixed protobuf frames over a unix stream socket, served by
// the management thread's io_context. Several clients at once; a client that sends an
// oversized, truncated or unparsable frame is disconnected (logged and counted) and nobody
// else notices.
#pragma once

#include "asio.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dataplane.pb.h"

namespace vsw::dp {

// Concurrent clients served; one more is accepted, counted as refused and closed.
inline constexpr unsigned kMaxConnections = 64;

struct ManagementCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_active = 0;
  uint64_t connections_refused = 0;
  uint64_t frames_ok = 0;
  uint64_t frames_oversized = 0;
  uint64_t frames_truncated = 0;
  uint64_t frames_unparsable = 0;

  void fill(vswitch::dp::ManagementStats* out) const;
};

class MgmtServer {
 public:
  using Handler = std::function<vswitch::dp::Response(const vswitch::dp::Request&)>;

  // Binds `socket_path` with mode 0600 (an existing stale socket file is replaced).
  // Throws boost::system::system_error when it cannot. `counters` is shared with the sessions,
  // which may outlive the server by a few handlers at shutdown.
  MgmtServer(boost::asio::io_context& io, const std::string& socket_path, Handler handler,
             std::shared_ptr<ManagementCounters> counters);
  ~MgmtServer();

 private:
  class Session;
  void accept();

  std::string socket_path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  Handler handler_;
  std::shared_ptr<ManagementCounters> counters_;
  uint64_t next_session_ = 1;
};

}  // namespace vsw::dp
