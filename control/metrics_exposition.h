// Prometheus text exposition (format 0.0.4) of vswitch's state: what `vsw-controld
// --metrics` serves on GET /metrics. Pure: it formats what controld and the dataplane
// answered, so the tests can check the text without sockets.
//
// Naming follows Prometheus' conventions: a `vswitch_` prefix, `_total` on counters, base
// units (seconds, bytes), one family per quantity with labels for what varies (port,
// worker, reason), never a metric name per port. Busy cycles are exported as seconds, so
// `rate(vswitch_worker_busy_seconds_total[1m])` is the worker's busy ratio directly.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

// Writes families one after another: HELP and TYPE once, then that family's samples.
class Exposition {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // Starts a family; `type` is "counter" or "gauge".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the current family.
  void sample(Labels labels, double value);
  void sample(Labels labels, uint64_t value);

  const std::string& text() const { return text_; }

  // Label values escape backslash, double quote and newline (the format's rules).
  static std::string escape(std::string_view value);

 private:
  void begin_sample(Labels labels);

  std::string text_;
  std::string name_;
};

// What one scrape gathered. Absent parts (the dataplane is disconnected, or does not
// answer a request) leave their families out instead of reporting zeros.
struct MetricsSnapshot {
  vswitch::v1::Status controld;  // controld's own view (always present)
  std::optional<vswitch::dp::Status> dp_status;
  std::optional<vswitch::dp::Stats> stats;
  std::optional<vswitch::dp::FlowStats> flows;
  std::optional<vswitch::dp::BridgeList> bridges;
  std::optional<vswitch::dp::RouterStats> router;
  std::optional<vswitch::dp::NeighborList> neighbors;
  std::optional<vswitch::dp::ConntrackStats> conntrack;
  std::optional<vswitch::dp::AclList> acls;
  double scrape_seconds = 0;  // how long gathering took
};

std::string render_metrics(const MetricsSnapshot& s);

}  // namespace vsw::ctl
