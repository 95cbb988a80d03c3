// Blocking client for the dataplane socket, shared by vsw-controld, vsw-dpctl and the tests.
//
// Thread safety: one DataplaneClient per thread; calls on one client are serialised.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "dataplane.pb.h"

namespace vsw::proto {

// The outcome of a call: either a Response (which may itself carry a dataplane Error), or a
// transport failure described in `transport_error` (connection refused, timeout, bad frame).
struct CallResult {
  bool ok() const { return transport_error.empty(); }
  std::string transport_error;
  vswitch::dp::Response response;
};

class DataplaneClient {
 public:
  DataplaneClient() = default;
  ~DataplaneClient();
  DataplaneClient(const DataplaneClient&) = delete;
  DataplaneClient& operator=(const DataplaneClient&) = delete;

  // Connects to the unix socket at `path`. Returns an empty string or the reason it failed.
  std::string connect(const std::string& path);
  bool connected() const { return fd_ >= 0; }
  void close();

  // Sends `request` (its id is assigned here) and waits up to `timeout` for the response.
  // A transport failure closes the connection.
  CallResult call(vswitch::dp::Request request,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  int fd_ = -1;
  uint64_t next_id_ = 1;
};

// "CODE: message" for a dataplane Error, for logs and CLI output.
std::string describe(const vswitch::dp::Error& error);

}  // namespace vsw::proto
