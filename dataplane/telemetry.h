// The dataplane's counters in DPDK telemetry (`dpdk-telemetry.py -f PREFIX`), beside the
// ethdev and mempool commands DPDK registers itself:
//
//   /vswitch/info                    version, pid, memory mode, workers, uptime
//   /vswitch/port_list               the ports' names
//   /vswitch/port_stats,NAME         a port's counters and drops by reason (drop_*)
//   /vswitch/worker_stats,N          a worker's loops, packets, busy cycles
//   /vswitch/flow_cache,N            a worker's flow cache hits, misses, ...
//   /vswitch/router                  the router's counters and table sizes
//   /vswitch/conntrack               connection tracking (when the dataplane has it)
//
// Telemetry callbacks run on DPDK's telemetry thread, while the state they describe belongs
// to the management thread: a callback posts the matching dataplane-socket request to the
// management thread's io_context and waits (bounded) for its answer, so it reads exactly
// what `vsw-dpctl` would, without a lock on any table. DPDK 22.11 cannot unregister a
// command: after the Telemetry object is gone the commands answer an error.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>

#include "dataplane.pb.h"

namespace vsw::dp {

class Telemetry {
 public:
  using Handler = std::function<vswitch::dp::Response(const vswitch::dp::Request&)>;

  // Registers the commands (once per process) and makes this object answer them.
  Telemetry(boost::asio::io_context& io, Handler handler);
  ~Telemetry();

  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Runs `request` on the management thread; false when it did not answer in time (or is
  // shutting down). Telemetry thread only.
  bool call(const vswitch::dp::Request& request, vswitch::dp::Response* response);

 private:
  boost::asio::io_context& io_;
  Handler handler_;
};

}  // namespace vsw::dp
