// Packet trace, the management side: `vswctl trace start|show|stop` and `trace packet`.
//
// start publishes a TraceSession (packet_trace.h) in ForwardingState; workers mark and
// record; show reads the records the workers have published; stop (or a new start)
// unpublishes the session and frees it after an RCU grace period. A session ends by itself
// when its count is reached (the workers stop marking) but its records stay until the next
// start or stop, so `trace show` works after the fact.
//
// `trace packet` runs one synthetic frame through forward_burst() on a private worker
// context of this thread: the same stages and tables, with nothing sent, learned, counted on
// the real counters, or tracked (the ACL explains instead of deciding; see acl::explain).
// Its flow cache is empty each time, so it shows the miss path (what a hit would repeat).
#pragma once

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include <map>
#include <memory>
#include <string>

#include "dataplane.pb.h"
#include "forwarding_state.h"
#include "packet_trace.h"
#include "status.h"

namespace vsw::dp {

class PortManager;
class RouterManager;
struct WorkerContext;

class TraceManager {
 public:
  TraceManager(ForwardingState& fwd, rte_rcu_qsbr* rcu, rte_mempool* pool, const PortManager& ports,
               const RouterManager& router);
  ~TraceManager();
  TraceManager(const TraceManager&) = delete;
  TraceManager& operator=(const TraceManager&) = delete;

  Status start(const vswitch::dp::TraceStartRequest& req, vswitch::dp::TraceStatus* out);
  Status stop(vswitch::dp::TraceStatus* out);
  void show(vswitch::dp::TraceStatus* out) const;
  Status trace_packet(const vswitch::dp::TracePacketRequest& req, vswitch::dp::TracedPacket* out);
  // A port is going: a session limited to it ends (its records stay readable).
  void port_removed(uint16_t port);

 private:
  void end_session();
  // Router interface names by id, looked up once per show (trace_format.cc).
  using RifNames = std::map<uint32_t, std::string>;
  RifNames rif_names() const;
  void describe(const TracedPacket& t, uint32_t index, const RifNames& rif_names,
                vswitch::dp::TracedPacket* out) const;
  Status build_frame(const vswitch::dp::TracePacketRequest& req, uint16_t port,
                     std::string* frame) const;

  ForwardingState& fwd_;
  rte_rcu_qsbr* rcu_;
  rte_mempool* pool_;
  const PortManager& ports_;
  const RouterManager& router_;
  bool ready_ = false;
  // The last session, published or not (its records stay readable until the next start).
  std::unique_ptr<TraceSession> session_;
  bool published_ = false;
  std::string port_name_;
  // `trace packet`'s private worker context (its flow cache alone is 4 MiB: made once).
  std::unique_ptr<WorkerContext> dry_;
};

}  // namespace vsw::dp
