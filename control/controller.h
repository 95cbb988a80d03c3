// The heart of vsw-controld: the desired state, its persistence, and the dataplane it
// programs. Every public method is thread-safe (one lock; gRPC handlers and the
// reconciler thread take it), and every change is on disk before the method returns.
//
// Reconciliation: a background thread keeps a connection to RUN/dataplane.sock. On every
// (re)connect it diffs the dataplane's ports and cross-connects against the desired state
// and makes them equal (deleting what is not desired, adding what is missing), so a
// restarted dataplane gets its whole configuration back and a restarted controld adopts a
// running dataplane without disturbing it. While connected it checks the connection every
// kPingInterval; while disconnected it retries with exponential backoff up to kMaxBackoff,
// and keeps accepting changes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controld_state.pb.h"
#include "dataplane_client.h"
#include "state_store.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

inline constexpr auto kPingInterval = std::chrono::milliseconds(250);
// Below vswctl's 30 s deadline, so a hung dataplane is reported by controld, not timed out.
inline constexpr auto kDataplaneCallTimeout = std::chrono::seconds(10);
inline constexpr auto kMinBackoff = std::chrono::milliseconds(100);
inline constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
// The most ports the desired state may hold (the dataplane's limit is RTE_MAX_ETHPORTS).
inline constexpr int kMaxPorts = 32;

class Controller {
 public:
  Controller(StateStore& store, vswitch::state::DesiredState initial, std::string run_dir);
  ~Controller();

  // Starts / stops the reconciler thread.
  void start();
  void stop();

  grpc::Status add_port(const vswitch::v1::PortSpec& spec, vswitch::v1::Port* out);
  grpc::Status delete_port(const std::string& name);
  grpc::Status get_port(const std::string& name, vswitch::v1::Port* out);
  void list_ports(vswitch::v1::ListPortsResponse* out);

  grpc::Status add_xconnect(const std::string& a, const std::string& b, vswitch::v1::Xconnect* out);
  grpc::Status delete_xconnect(const std::string& port);
  void list_xconnects(vswitch::v1::ListXconnectsResponse* out);

  // Never waits for a change or a replay in progress: it answers from a snapshot taken
  // after each of them, so readiness checks stay quick.
  void status(vswitch::v1::Status* out);
  grpc::Status stats(vswitch::v1::Stats* out);

 private:
  using Clock = std::chrono::steady_clock;

  void reconcile_loop();
  // Connects and replays; returns "" or why it failed. Holds mu_.
  std::string connect_and_replay_locked();
  // One dataplane call. A transport failure marks the dataplane disconnected (the
  // reconciler reconnects) and returns nullopt-like false.
  bool call_locked(vswitch::dp::Request request, vswitch::dp::Response* response,
                   std::chrono::milliseconds timeout = kDataplaneCallTimeout);
  void mark_disconnected_locked(const std::string& why);
  // Applies one port / xconnect to the dataplane and records the outcome. `live`, when
  // given, receives the dataplane's view of the new port.
  void program_port_locked(const vswitch::v1::PortSpec& spec,
                           vswitch::dp::PortStatus* live = nullptr);
  void program_xconnect_locked(const vswitch::state::XconnectSpec& x);
  // Writes `next` (generation bumped) and makes it current, or returns INTERNAL.
  grpc::Status persist_locked(vswitch::state::DesiredState next);

  void build_status_locked(vswitch::v1::Status* out) const;
  void publish_status_locked();

  const vswitch::v1::PortSpec* find_port_locked(const std::string& name) const;
  const vswitch::state::XconnectSpec* find_xconnect_locked(const std::string& port) const;
  void fill_port_locked(const vswitch::v1::PortSpec& spec, const vswitch::dp::PortStatus* live,
                        vswitch::v1::Port* out) const;

  StateStore& store_;
  std::string run_dir_;
  std::string dataplane_socket_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  vswitch::state::DesiredState state_;
  // Outcome of programming each object: absent = not programmed yet (pending).
  std::map<std::string, std::string> port_result_;      // name -> "" or the dataplane's error
  std::map<std::string, std::string> xconnect_result_;  // port_a -> "" or error
  proto::DataplaneClient dataplane_;
  bool connected_ = false;
  bool programmed_ = false;
  std::string last_error_;
  uint64_t connects_ = 0;
  uint64_t last_replay_ms_ = 0;
  vswitch::dp::Status dataplane_status_;
  std::thread reconciler_;

  std::mutex snapshot_mu_;  // taken inside mu_, never the other way round
  vswitch::v1::Status snapshot_;
};

}  // namespace vsw::ctl
