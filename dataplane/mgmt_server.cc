#include "mgmt_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <deque>

#include "frame_codec.h"
#include "log.h"

namespace vsw::dp {

namespace asio = boost::asio;
using asio::local::stream_protocol;

void ManagementCounters::fill(vswitch::dp::ManagementStats* out) const {
  out->set_connections_accepted(connections_accepted);
  out->set_connections_active(connections_active);
  out->set_connections_refused(connections_refused);
  out->set_frames_ok(frames_ok);
  out->set_frames_oversized(frames_oversized);
  out->set_frames_truncated(frames_truncated);
  out->set_frames_unparsable(frames_unparsable);
}

class MgmtServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket socket, MgmtServer& server, uint64_t id)
      : socket_(std::move(socket)), server_(server), counters_(server.counters_), id_(id) {}
  ~Session() { --counters_->connections_active; }

  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      if (decoder_.has_partial_frame()) {
        ++counters_->frames_truncated;
        log(LogLevel::kWarning, "client %lu: closed in the middle of a frame", id_);
      }
      return;  // the last reference goes with this handler
    }
    decoder_.append(std::string_view(buffer_.data(), n));
    std::string body;
    for (;;) {
      const proto::DecodeResult r = decoder_.next(body);
      if (r == proto::DecodeResult::kNeedMore) break;
      if (r == proto::DecodeResult::kOversized) {
        ++counters_->frames_oversized;
        log(LogLevel::kWarning, "client %lu: frame of %zu bytes exceeds the limit of %zu; closing",
            id_, decoder_.announced_length(), proto::kMaxFrameBytes);
        return close();
      }
      vswitch::dp::Request request;
      if (!request.ParseFromString(body)) {
        ++counters_->frames_unparsable;
        log(LogLevel::kWarning, "client %lu: frame of %zu bytes is not a request; closing", id_,
            body.size());
        return close();
      }
      ++counters_->frames_ok;
      send(server_.handler_(request));
    }
    read();
  }

  void send(const vswitch::dp::Response& response) {
    std::string frame;
    if (!proto::encode_frame(response, frame)) {
      vswitch::dp::Response too_big;
      too_big.set_id(response.id());
      too_big.mutable_error()->set_code(vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED);
      too_big.mutable_error()->set_message("response exceeds the frame size limit");
      proto::encode_frame(too_big, frame);
    }
    outbox_.push_back(std::move(frame));
    if (outbox_.size() == 1) write();
  }

  void write() {
    asio::async_write(socket_, asio::buffer(outbox_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->outbox_.pop_front();
                        if (!self->outbox_.empty()) self->write();
                      });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  stream_protocol::socket socket_;
  MgmtServer& server_;  // used only from read handlers, which never run after the server is gone
  std::shared_ptr<ManagementCounters> counters_;
  uint64_t id_;
  std::array<char, 64 * 1024> buffer_;
  proto::FrameDecoder decoder_;
  std::deque<std::string> outbox_;
};

MgmtServer::MgmtServer(asio::io_context& io, const std::string& socket_path, Handler handler,
                       std::shared_ptr<ManagementCounters> counters)
    : socket_path_(socket_path),
      acceptor_(io),
      handler_(std::move(handler)),
      counters_(std::move(counters)) {
  ::unlink(socket_path.c_str());
  acceptor_.open(stream_protocol());
  // Create the socket file as 0600 from the start: no window in which others may connect.
  const mode_t old_mask = ::umask(0177);
  boost::system::error_code ec;
  acceptor_.bind(stream_protocol::endpoint(socket_path), ec);
  ::umask(old_mask);
  if (ec) throw boost::system::system_error(ec, "bind " + socket_path);
  acceptor_.listen();
  accept();
}

MgmtServer::~MgmtServer() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(socket_path_.c_str());
}

void MgmtServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (counters_->connections_active >= kMaxConnections) {
        ++counters_->connections_refused;
        log(LogLevel::kWarning, "refusing a client: %u connections are open", kMaxConnections);
      } else {
        ++counters_->connections_accepted;
        ++counters_->connections_active;
        std::make_shared<Session>(std::move(socket), *this, next_session_++)->start();
      }
    }
    accept();
  });
}

}  // namespace vsw::dp
