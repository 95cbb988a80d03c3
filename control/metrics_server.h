// `vsw-controld --metrics [HOST:]PORT`: Prometheus' pull endpoint, GET /metrics.
//
// One thread serves one connection at a time (a scraper every few seconds, not a web
// server): it reads a request of at most kMaxRequestBytes within kRequestTimeout, answers and
// closes. A scrape reads controld's status (never blocks on a change in progress) and the
// dataplane's counters over the metrics thread's own connection to the dataplane socket, so
// scrapes never wait for controld's management lock nor hold it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "dataplane_client.h"
#include "metrics_exposition.h"

namespace vsw::ctl {

class Controller;

inline constexpr std::size_t kMaxRequestBytes = 8192;
inline constexpr auto kRequestTimeout = std::chrono::seconds(5);
inline constexpr auto kScrapeCallTimeout = std::chrono::seconds(5);

// "9469" → 127.0.0.1:9469; "HOST:PORT"; "[::1]:9469". Returns "" or why it is not valid.
std::string parse_listen_address(const std::string& text, std::string* host, uint16_t* port);

class MetricsServer {
 public:
  MetricsServer(Controller& controller, std::string dataplane_socket);
  ~MetricsServer();

  // Binds and starts serving. Returns "" or why it could not bind.
  std::string start(const std::string& host, uint16_t port);
  void stop();
  // The bound address ("127.0.0.1:9469"), for the log.
  const std::string& address() const { return address_; }

  // One scrape's text (also for tests and a future `vswctl metrics`).
  std::string scrape();

 private:
  void serve();
  void handle(int fd);
  void read_dataplane(MetricsSnapshot* s);

  Controller& controller_;
  std::string dataplane_socket_;
  proto::DataplaneClient dp_;  // the metrics thread's only
  int listen_fd_ = -1;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vsw::ctl
