// The heart of vsw-controld: the desired state, its persistence, and the dataplane it
// programs. Every public method is thread-safe (one lock; gRPC handlers and the
// reconciler thread take it), and every change is on disk before the method returns.
//
// Reconciliation: a background thread keeps a connection to RUN/dataplane.sock. On every
// (re)connect it diffs the dataplane's ports, cross-connects, bridges, attachments, static
// MACs and port MAC limits against the desired state and makes them equal (deleting what is
// not desired, adding what is missing, in dependency order; see docs/controld.md), so a
// restarted dataplane gets its whole configuration back and a restarted controld adopts a
// running dataplane without disturbing it. While connected it checks the connection every
// kPingInterval; while disconnected it retries with exponential backoff up to kMaxBackoff,
// and keeps accepting changes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controld_state.pb.h"
#include "dataplane_client.h"
#include "state_store.h"
#include "vm_manager.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

inline constexpr auto kPingInterval = std::chrono::milliseconds(250);
// Below vswctl's 30 s deadline, so a hung dataplane is reported by controld, not timed out.
inline constexpr auto kDataplaneCallTimeout = std::chrono::seconds(10);
inline constexpr auto kMinBackoff = std::chrono::milliseconds(100);
inline constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
// The most ports the desired state may hold (the dataplane's limit is RTE_MAX_ETHPORTS).
inline constexpr int kMaxPorts = 32;

// The dataplane's error as the gRPC status an API caller gets.
grpc::Status from_dataplane(const vswitch::dp::Error& error);

class Controller {
 public:
  Controller(StateStore& store, vswitch::state::DesiredState initial, std::string run_dir,
             std::string qemu_binary = "qemu-system-x86_64",
             std::string guest_dir = kDefaultGuestDir);
  ~Controller();

  // Starts / stops the reconciler thread, and the VM supervisor (guests keep running when
  // controld stops; the next controld adopts them).
  void start();
  void stop();

  grpc::Status add_port(const vswitch::v1::PortSpec& spec, vswitch::v1::Port* out);
  grpc::Status delete_port(const std::string& name);
  grpc::Status get_port(const std::string& name, vswitch::v1::Port* out);
  void list_ports(vswitch::v1::ListPortsResponse* out);
  // Changes the port's MAC learn limit in place.
  grpc::Status set_port(const vswitch::v1::SetPortRequest& request, vswitch::v1::Port* out);

  grpc::Status add_xconnect(const std::string& a, const std::string& b, vswitch::v1::Xconnect* out);
  grpc::Status delete_xconnect(const std::string& port);
  void list_xconnects(vswitch::v1::ListXconnectsResponse* out);

  // Bridges, attachments and static MACs (controller_l2.cc): stored and replayed.
  grpc::Status add_bridge(const vswitch::v1::BridgeSpec& spec, vswitch::v1::Bridge* out);
  grpc::Status delete_bridge(const std::string& name);
  grpc::Status set_bridge(const vswitch::v1::SetBridgeRequest& request, vswitch::v1::Bridge* out);
  grpc::Status get_bridge(const std::string& name, vswitch::v1::Bridge* out);
  void list_bridges(vswitch::v1::ListBridgesResponse* out);
  grpc::Status attach_port(const vswitch::v1::AttachPortRequest& request,
                           vswitch::v1::Attachment* out);
  grpc::Status detach_port(const vswitch::v1::DetachPortRequest& request);
  grpc::Status add_mac(const vswitch::v1::AddMacRequest& request, vswitch::v1::StaticMac* out);
  grpc::Status delete_mac(const vswitch::v1::DeleteMacRequest& request);
  // Learned MACs and flows live in the dataplane only: UNAVAILABLE while it is disconnected.
  grpc::Status flush_macs(const std::string& bridge);
  grpc::Status list_macs(const std::string& bridge, vswitch::v1::ListMacsResponse* out);
  grpc::Status list_flows(uint32_t max, vswitch::v1::ListFlowsResponse* out);
  grpc::Status flow_stats(vswitch::v1::FlowStats* out);

  // Routing (controller_l3.cc): router interfaces and static routes stored and replayed;
  // lookups and neighbors read from the dataplane (UNAVAILABLE while disconnected).
  grpc::Status add_router_interface(const vswitch::v1::RouterInterfaceSpec& spec,
                                    vswitch::v1::RouterInterface* out);
  grpc::Status delete_router_interface(const std::string& name);
  void list_router_interfaces(vswitch::v1::ListRouterInterfacesResponse* out);
  grpc::Status add_route(const vswitch::v1::AddRouteRequest& request, vswitch::v1::Route* out);
  grpc::Status delete_route(const std::string& prefix);
  void list_routes(vswitch::v1::ListRoutesResponse* out);
  grpc::Status lookup_route(const std::string& address, vswitch::v1::RouteLookup* out);
  grpc::Status list_neighbors(vswitch::v1::ListNeighborsResponse* out);

  // Stateful ACL and conntrack (controller_acl.cc): rules, defaults and conntrack settings
  // stored and replayed; connections and counters read from the dataplane.
  grpc::Status add_acl_rule(const vswitch::v1::AclRuleSpec& spec, vswitch::v1::AclRule* out);
  grpc::Status delete_acl_rule(const std::string& port, uint32_t id);
  grpc::Status list_acls(const std::string& port, vswitch::v1::ListAclsResponse* out);
  grpc::Status set_acl_default(const vswitch::v1::SetAclDefaultRequest& request,
                               vswitch::v1::PortAcl* out);
  grpc::Status list_connections(const vswitch::v1::ListConnectionsRequest& request,
                                vswitch::v1::ListConnectionsResponse* out);
  grpc::Status flush_connections(const std::string& port,
                                 vswitch::v1::FlushConnectionsResponse* out);
  grpc::Status set_conntrack(const vswitch::v1::SetConntrackRequest& request,
                             vswitch::v1::Conntrack* out);
  grpc::Status get_conntrack(vswitch::v1::Conntrack* out);

  // VMs (controller_vm.cc).
  grpc::Status add_vm(const vswitch::v1::AddVmRequest& request, vswitch::v1::Vm* out);
  grpc::Status start_vm(const std::string& name, vswitch::v1::Vm* out);
  grpc::Status stop_vm(const vswitch::v1::StopVmRequest& request, vswitch::v1::Vm* out);
  grpc::Status delete_vm(const std::string& name);
  grpc::Status get_vm(const std::string& name, vswitch::v1::Vm* out);
  void list_vms(vswitch::v1::ListVmsResponse* out);
  grpc::Status vm_console(const vswitch::v1::GetVmConsoleRequest& request,
                          vswitch::v1::VmConsole* out);

  // Packet capture (controller_capture.cc): runtime state of the dataplane, passed through
  // after validation; UNAVAILABLE while it is disconnected.
  grpc::Status start_capture(const vswitch::v1::StartCaptureRequest& request,
                             vswitch::v1::Capture* out);
  grpc::Status stop_capture(const std::string& port, vswitch::v1::Capture* out);
  grpc::Status list_captures(vswitch::v1::ListCapturesResponse* out);
  // Packet trace (controller_trace.cc): runtime state of the dataplane, passed through.
  grpc::Status start_trace(const vswitch::v1::StartTraceRequest& request, vswitch::v1::Trace* out);
  grpc::Status show_trace(vswitch::v1::Trace* out);
  grpc::Status stop_trace(vswitch::v1::Trace* out);
  grpc::Status trace_packet(const vswitch::v1::TracePacketRequest& request,
                            vswitch::v1::TracedPacket* out);

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
  // Sets the port's learn limit when the dataplane's (`live_limit`; nullopt: unknown) differs
  // from the spec. Only for a port the dataplane has; a refusal becomes the port's error.
  // Sets the port's allowed MACs and addresses when the dataplane's (`live`; null: unknown)
  // differ from the spec. Only for a port the dataplane has.
  void program_port_security_locked(const vswitch::v1::PortSpec& spec,
                                    const vswitch::dp::PortStatus* live);
  void program_port_limit_locked(const vswitch::v1::PortSpec& spec,
                                 std::optional<uint32_t> live_limit);

  // ---- L2 objects (controller_l2.cc) ----

  // What the dataplane had at connect time, and what of it the replay keeps.
  struct LiveL2 {
    vswitch::dp::BridgeList bridges;
    std::vector<vswitch::dp::MacEntry> static_macs;
    bool macs_known = false;                 // false: the MAC list could not be read
    std::set<std::string> kept_attachments;  // "bridge/port/vlan"
    std::set<std::string> kept_static_macs;  // "bridge/mac/port"
  };
  // Lists the dataplane's bridges and static MACs. Returns "" or why it failed.
  std::string list_l2_locked(LiveL2* live);
  // Removes from the dataplane the static MACs, attachments and bridges that are not desired
  // (in that order), before ports are removed and cross-connects added.
  std::string remove_l2_locked(LiveL2* live);
  // Adds or updates bridges, then attachments, then static MACs, after ports and
  // cross-connects; `kept_ports` are the ports the replay did not re-create.
  std::string replay_l2_locked(const LiveL2& live, const std::set<std::string>& kept_ports);
  void program_bridge_locked(const vswitch::v1::BridgeSpec& spec, bool exists);
  void program_attachment_locked(const vswitch::state::AttachmentSpec& a);
  void program_static_mac_locked(const vswitch::state::StaticMacSpec& m);
  grpc::Status unavailable_locked() const;
  void build_l2_status_locked(vswitch::v1::Status* out) const;
  void fill_bridge_locked(const vswitch::v1::BridgeSpec& spec,
                          const vswitch::dp::BridgeStatus* live, vswitch::v1::Bridge* out) const;
  void fill_attachment_locked(const vswitch::state::AttachmentSpec& a,
                              vswitch::v1::Attachment* out) const;
  void fill_static_mac_locked(const vswitch::state::StaticMacSpec& m,
                              vswitch::v1::StaticMac* out) const;
  // ---- routing (controller_l3.cc) ----
  // What the dataplane had at connect time, and what of it the replay keeps.
  struct LiveL3 {
    vswitch::dp::RouterInterfaceList router_ifs;
    vswitch::dp::RouteList routes;
    std::set<std::string> kept_router_ifs;
    std::set<std::string> kept_routes;  // canonical prefixes
  };
  std::string list_l3_locked(LiveL3* live);
  // Removes the routes and router interfaces that are not desired (before bridges go).
  std::string remove_l3_locked(LiveL3* live);
  // Adds router interfaces, then routes (in batches), after the bridges.
  // (A desired bridge is never deleted on replay, so a kept router interface stays valid.)
  std::string replay_l3_locked(const LiveL3& live);
  const vswitch::v1::RouterInterfaceSpec* find_router_if_locked(const std::string& name) const;
  const vswitch::v1::RouteSpec* find_route_locked(const std::string& prefix) const;
  void fill_router_if_locked(const vswitch::v1::RouterInterfaceSpec& spec,
                             vswitch::v1::RouterInterface* out) const;
  void fill_route_locked(const vswitch::v1::RouteSpec& spec, vswitch::v1::Route* out) const;
  void program_router_if_locked(const vswitch::v1::RouterInterfaceSpec& spec);
  void unprogram_router_if_locked(const std::string& name);
  // `replace`: the dataplane has the prefix with other next hops.
  void program_route_locked(const vswitch::v1::RouteSpec& spec, bool replace);
  void unprogram_route_locked(const std::string& prefix);

  // ---- stateful ACL (controller_acl.cc) ----
  const vswitch::state::AclRecord* find_acl_locked(const std::string& port,
                                                   const std::string& dir) const;
  // Makes `next` (which changes the ACL of `port` and `dir`) current: sends the new list to
  // the dataplane when it has the port, and stores `next` only if the dataplane took it (a
  // refusal is returned and nothing changes); a transport failure stores it as pending.
  grpc::Status apply_acl_change_locked(vswitch::state::DesiredState next, const std::string& port,
                                       const std::string& dir);
  // After ports: the conntrack settings, then every port's ACLs (removing the dataplane's
  // ACLs that are not desired). A refusal is recorded, only a transport failure fails it.
  std::string replay_acl_locked();
  void fill_port_acl_locked(const std::string& port, const std::string& dir,
                            const vswitch::dp::PortAclStatus* live,
                            vswitch::v1::PortAcl* out) const;
  void fill_conntrack_locked(vswitch::v1::Conntrack* out);
  void build_acl_status_locked(vswitch::v1::Status* out) const;

  // ---- VMs (controller_vm.cc) ----
  static vswitch::state::VmRecord* find_vm_locked(vswitch::state::DesiredState& state,
                                                  const std::string& name);
  const vswitch::state::VmRecord* find_vm_locked(const std::string& name) const;
  // Persists the operator's wish for the VM (no-op when unchanged).
  grpc::Status set_vm_running_locked(const std::string& name, bool running);
  void fill_vm(const vswitch::v1::VmSpec& spec, vswitch::v1::Vm* out);
  // At start: adopt or start the VMs the desired state wants running (its own thread).
  void start_vms();
  void on_vm_exit(const std::string& name);
  void publish_status();  // takes mu_

  // Writes `next` (generation bumped) and makes it current, or returns INTERNAL.
  grpc::Status persist_locked(vswitch::state::DesiredState next);

  void build_status_locked(vswitch::v1::Status* out) const;
  void publish_status_locked();

  const vswitch::v1::PortSpec* find_port_locked(const std::string& name) const;
  const vswitch::state::XconnectSpec* find_xconnect_locked(const std::string& port) const;
  void fill_port_locked(const vswitch::v1::PortSpec& spec, const vswitch::dp::PortStatus* live,
                        vswitch::v1::Port* out) const;
  // The same with the dataplane's current view of the port, when it can be read.
  void fill_port_live_locked(const vswitch::v1::PortSpec& spec, vswitch::v1::Port* out);

  StateStore& store_;
  std::string run_dir_;
  std::string dataplane_socket_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  vswitch::state::DesiredState state_;
  // Outcome of programming each object: absent = not programmed yet (pending).
  std::map<std::string, std::string> port_result_;        // name -> "" or the dataplane's error
  std::map<std::string, std::string> xconnect_result_;    // port_a -> "" or error
  std::map<std::string, std::string> bridge_result_;      // name -> "" or error
  std::map<std::string, std::string> attachment_result_;  // "bridge/port" -> "" or error
  std::map<std::string, std::string> mac_result_;         // "bridge/mac" -> "" or error
  std::map<std::string, std::string> router_if_result_;   // name -> "" or error
  std::map<std::string, std::string> route_result_;       // prefix -> "" or error
  std::map<std::string, std::string> acl_result_;         // "port/dir" -> "" or error
  std::optional<std::string> conntrack_result_;           // "" or error; none: pending
  proto::DataplaneClient dataplane_;
  bool connected_ = false;
  bool programmed_ = false;
  std::string last_error_;
  uint64_t connects_ = 0;
  uint64_t last_replay_ms_ = 0;
  vswitch::dp::Status dataplane_status_;
  std::thread reconciler_;
  std::string guest_dir_;
  VmManager vms_;
  std::atomic<bool> vms_stopping_{false};
  std::thread vm_starter_;

  std::mutex snapshot_mu_;  // taken inside mu_, never the other way round
  vswitch::v1::Status snapshot_;
};

}  // namespace vsw::ctl
