#include "metrics_exposition.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cmath>
#include <cstdio>

namespace vsw::ctl {

namespace {

const char* port_type_name(vswitch::dp::PortType t) {
  switch (t) {
    case vswitch::dp::PORT_TYPE_VHOST_USER:
      return "vhost-user";
    case vswitch::dp::PORT_TYPE_TAP:
      return "tap";
    case vswitch::dp::PORT_TYPE_AF_PACKET:
      return "af_packet";
    case vswitch::dp::PORT_TYPE_AF_XDP:
      return "af_xdp";
    case vswitch::dp::PORT_TYPE_DPDK:
      return "dpdk";
    case vswitch::dp::PORT_TYPE_RING:
      return "ring";
    case vswitch::dp::PORT_TYPE_NULL:
      return "null";
    default:
      return "unknown";
  }
}

const char* direction_name(vswitch::dp::AclDirection d) {
  return d == vswitch::dp::ACL_DIRECTION_TO_PORT ? "to-port" : "from-port";
}

// Every uint64 field of `m` as (name, value): the drop reasons of DropCounters, so a reason
// added to the proto is exported without touching this file.
std::vector<std::pair<std::string, uint64_t>> uint64_fields(const google::protobuf::Message& m) {
  std::vector<std::pair<std::string, uint64_t>> out;
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64 && !f->is_repeated())
      out.emplace_back(f->name(), r->GetUInt64(m, f));
  }
  return out;
}

// One counter family per getter of `Item`, one sample per item, labelled `label`=key(item).
template <typename Item>
struct CounterSpec {
  const char* name;
  const char* help;
  uint64_t (Item::*get)() const;
};

template <typename Item, typename Items, typename Key>
void counter_families(Exposition& e, std::initializer_list<CounterSpec<Item>> specs,
                      const Items& items, std::string_view label, Key key) {
  for (const CounterSpec<Item>& c : specs) {
    e.family(c.name, "counter", c.help);
    for (const Item& item : items) e.sample({{label, key(item)}}, (item.*c.get)());
  }
}

void render_controld(Exposition& e, const MetricsSnapshot& s) {
  const auto& c = s.controld;
  e.family("vswitch_controld_info", "gauge", "vsw-controld's version (the value is always 1)");
  e.sample({{"version", c.version()}}, uint64_t{1});
  e.family("vswitch_controld_dataplane_connected", "gauge",
           "1 while controld is connected to the dataplane socket");
  e.sample({}, uint64_t{c.dataplane().state() == "connected"});
  e.family("vswitch_controld_dataplane_programmed", "gauge",
           "1 once the whole desired state has been replayed since the last connect");
  e.sample({}, uint64_t{c.dataplane().programmed()});
  e.family("vswitch_controld_dataplane_connects_total", "counter",
           "successful connects to the dataplane since controld started");
  e.sample({}, c.dataplane().connects());
  e.family("vswitch_controld_objects", "gauge", "objects in the desired state, by kind");
  const std::pair<const char*, uint64_t> kinds[] = {
      {"port", c.ports()},
      {"xconnect", c.xconnects()},
      {"bridge", c.bridges()},
      {"attachment", c.attachments()},
      {"static_mac", c.static_macs()},
      {"router_interface", c.router_interfaces()},
      {"route", c.routes()},
      {"vm", c.vms()},
  };
  for (const auto& [kind, n] : kinds) e.sample({{"kind", kind}}, n);
  e.family("vswitch_controld_vms_running", "gauge", "VMs whose QEMU runs");
  e.sample({}, uint64_t{c.vms_running()});
  e.family("vswitch_controld_object_errors", "gauge",
           "desired objects the dataplane refused or could not be given");
  e.sample({}, static_cast<uint64_t>(c.errors_size()));
}

void render_ports(Exposition& e, const vswitch::dp::Stats& st) {
  const auto& ports = st.ports();
  e.family("vswitch_port_info", "gauge", "a port of the dataplane (the value is always 1)");
  for (const auto& p : ports)
    e.sample({{"port", p.config().name()},
              {"type", port_type_name(p.config().type())},
              {"mac", p.mac()}},
             uint64_t{1});
  e.family("vswitch_port_link_up", "gauge", "1 while the port's link is up");
  for (const auto& p : ports) e.sample({{"port", p.config().name()}}, uint64_t{p.link_up()});
  counter_families<vswitch::dp::PortStatus>(
      e,
      {
          {"vswitch_port_rx_packets_total", "packets received",
           &vswitch::dp::PortStatus::rx_packets},
          {"vswitch_port_rx_bytes_total", "bytes received", &vswitch::dp::PortStatus::rx_bytes},
          {"vswitch_port_tx_packets_total", "packets sent", &vswitch::dp::PortStatus::tx_packets},
          {"vswitch_port_tx_bytes_total", "bytes sent", &vswitch::dp::PortStatus::tx_bytes},
          {"vswitch_port_flooded_total", "received frames flooded in their bridge",
           &vswitch::dp::PortStatus::flooded},
          {"vswitch_port_learn_limit_drops_total",
           "MACs not learned because of the port's MAC limit",
           &vswitch::dp::PortStatus::learn_limit_drops},
      },
      ports, "port", [](const auto& p) { return p.config().name(); });
  e.family("vswitch_port_drops_total", "counter",
           "packets dropped at the port, by reason (see docs/dataplane.md)");
  for (const auto& p : ports)
    for (const auto& [reason, n] : uint64_fields(p.drops()))
      e.sample({{"port", p.config().name()}, {"reason", reason}}, n);
  e.family("vswitch_port_macs", "gauge", "MACs behind the port (static ones included)");
  for (const auto& p : ports) e.sample({{"port", p.config().name()}}, uint64_t{p.macs()});
  e.family("vswitch_port_mac_limit", "gauge", "MACs the port may have; 0: no limit");
  for (const auto& p : ports) e.sample({{"port", p.config().name()}}, uint64_t{p.mac_limit()});
}

void render_workers(Exposition& e, const vswitch::dp::Stats& st) {
  const auto& workers = st.workers();
  const double hz = st.tsc_hz() ? static_cast<double>(st.tsc_hz()) : 1.0;
  std::vector<std::string> ids;
  for (const auto& w : workers) ids.push_back(std::to_string(w.worker()));
  e.family("vswitch_worker_info", "gauge", "a poll-mode worker and its lcore (always 1)");
  for (int i = 0; i < workers.size(); ++i)
    e.sample({{"worker", ids[i]}, {"lcore", std::to_string(workers[i].lcore())}}, uint64_t{1});
  e.family("vswitch_worker_busy_seconds_total", "counter",
           "time spent in loops that received packets; rate() of it is the busy ratio");
  for (int i = 0; i < workers.size(); ++i)
    e.sample({{"worker", ids[i]}}, static_cast<double>(workers[i].busy_cycles()) / hz);
  counter_families<vswitch::dp::WorkerStats>(
      e,
      {
          {"vswitch_worker_loops_total", "poll loops", &vswitch::dp::WorkerStats::loops},
          {"vswitch_worker_busy_loops_total", "poll loops that received at least one packet",
           &vswitch::dp::WorkerStats::busy_loops},
          {"vswitch_worker_packets_total", "packets received", &vswitch::dp::WorkerStats::packets},
          {"vswitch_worker_busy_cycles_total", "TSC cycles spent in busy loops",
           &vswitch::dp::WorkerStats::busy_cycles},
          {"vswitch_worker_learn_dropped_total",
           "MAC learn reports lost because the ring to the management thread was full",
           &vswitch::dp::WorkerStats::learn_dropped},
      },
      workers, "worker", [](const auto& w) { return std::to_string(w.worker()); });
  e.family("vswitch_dataplane_tsc_hz", "gauge", "the TSC frequency cycles are counted in");
  e.sample({}, st.tsc_hz());
}

void render_management(Exposition& e, const vswitch::dp::ManagementStats& m) {
  e.family("vswitch_dataplane_socket_connections", "gauge",
           "connections open on the dataplane socket");
  e.sample({}, m.connections_active());
  e.family("vswitch_dataplane_socket_connections_total", "counter",
           "connections to the dataplane socket, by outcome");
  e.sample({{"outcome", "accepted"}}, m.connections_accepted());
  e.sample({{"outcome", "refused"}}, m.connections_refused());
  e.family("vswitch_dataplane_socket_frames_total", "counter",
           "frames received on the dataplane socket, by outcome");
  e.sample({{"outcome", "ok"}}, m.frames_ok());
  e.sample({{"outcome", "oversized"}}, m.frames_oversized());
  e.sample({{"outcome", "truncated"}}, m.frames_truncated());
  e.sample({{"outcome", "unparsable"}}, m.frames_unparsable());
}

void render_flows(Exposition& e, const vswitch::dp::FlowStats& f) {
  counter_families<vswitch::dp::FlowCacheStats>(
      e,
      {
          {"vswitch_flow_cache_hits_total", "flow cache hits", &vswitch::dp::FlowCacheStats::hits},
          {"vswitch_flow_cache_misses_total", "flow cache misses (stale hits included)",
           &vswitch::dp::FlowCacheStats::misses},
          {"vswitch_flow_cache_stale_total", "entries found but built from changed tables",
           &vswitch::dp::FlowCacheStats::stale},
          {"vswitch_flow_cache_inserts_total", "entries inserted",
           &vswitch::dp::FlowCacheStats::inserts},
          {"vswitch_flow_cache_evictions_total", "entries evicted by an insert",
           &vswitch::dp::FlowCacheStats::evictions},
      },
      f.workers(), "worker", [](const auto& w) { return std::to_string(w.worker()); });
  e.family("vswitch_flow_cache_capacity", "gauge", "entries a worker's flow cache holds");
  for (const auto& w : f.workers())
    e.sample({{"worker", std::to_string(w.worker())}}, uint64_t{w.capacity()});
}

void render_bridges(Exposition& e, const vswitch::dp::BridgeList& b) {
  e.family("vswitch_fdb_macs", "gauge", "MACs in the bridge's forwarding database");
  for (const auto& x : b.bridges()) e.sample({{"bridge", x.config().name()}}, uint64_t{x.macs()});
  e.family("vswitch_fdb_mac_limit", "gauge", "MACs the bridge may hold");
  for (const auto& x : b.bridges())
    e.sample({{"bridge", x.config().name()}}, uint64_t{x.config().mac_limit()});
  counter_families<vswitch::dp::BridgeStatus>(
      e,
      {
          {"vswitch_fdb_learned_total", "MACs learned", &vswitch::dp::BridgeStatus::learned},
          {"vswitch_fdb_moves_total", "MACs that moved to another port",
           &vswitch::dp::BridgeStatus::moves},
          {"vswitch_fdb_aged_total", "MACs aged out", &vswitch::dp::BridgeStatus::aged},
          {"vswitch_fdb_learn_limit_drops_total", "MACs not learned because of the bridge's limit",
           &vswitch::dp::BridgeStatus::learn_limit_drops},
      },
      b.bridges(), "bridge", [](const auto& x) { return x.config().name(); });
}

void render_router(Exposition& e, const vswitch::dp::RouterStats& r,
                   const vswitch::dp::NeighborList* n) {
  e.family("vswitch_fib_routes", "gauge", "routes in the FIB (connected ones included)");
  e.sample({{"family", "ipv4"}}, uint64_t{r.ipv4_routes()});
  e.sample({{"family", "ipv6"}}, uint64_t{r.ipv6_routes()});
  e.family("vswitch_fib_capacity", "gauge", "routes the FIB was sized for at start");
  e.sample({{"family", "ipv4"}}, uint64_t{r.ipv4_capacity()});
  e.sample({{"family", "ipv6"}}, uint64_t{r.ipv6_capacity()});
  e.family("vswitch_neighbors", "gauge", "entries in the neighbor (ARP/ND) table");
  e.sample({}, uint64_t{r.neighbors()});
  e.family("vswitch_neighbor_capacity", "gauge", "entries the neighbor table holds");
  e.sample({}, uint64_t{r.neighbor_capacity()});
  e.family("vswitch_router_routed_total", "counter", "packets forwarded by the L3 stage");
  e.sample({}, r.routed());
  e.family("vswitch_router_punted_total", "counter",
           "packets handed to the management thread (ARP, ND, local, errors)");
  e.sample({}, r.punted());
  e.family("vswitch_router_drops_total", "counter", "packets the router dropped, by reason");
  e.sample({{"reason", "no_route"}}, r.no_route());
  e.sample({{"reason", "ttl_expired"}}, r.ttl_expired());
  e.sample({{"reason", "bad_header"}}, r.bad_header());
  e.sample({{"reason", "punt_ring_full"}}, r.punt_dropped());
  e.family("vswitch_router_unresolved_total", "counter",
           "packets that waited for a neighbor to be resolved");
  e.sample({}, r.unresolved());
  e.family("vswitch_router_replies_total", "counter", "answers the router sent, by kind");
  e.sample({{"kind", "arp"}}, r.arp_replies());
  e.sample({{"kind", "nd"}}, r.nd_replies());
  e.sample({{"kind", "echo"}}, r.echo_replies());
  e.family("vswitch_router_icmp_errors_total", "counter",
           "ICMP errors sent (time exceeded, unreachable), and those rate-limited away");
  e.sample({{"outcome", "sent"}}, r.icmp_errors());
  e.sample({{"outcome", "rate_limited"}}, r.icmp_rate_limited());
  e.family("vswitch_router_neighbor_requests_total", "counter",
           "ARP requests and neighbor solicitations sent");
  e.sample({}, r.requests_sent());
  if (n == nullptr) return;
  e.family("vswitch_neighbor_events_total", "counter", "neighbor table events, by kind");
  for (const auto& [kind, v] : uint64_fields(n->counters())) e.sample({{"event", kind}}, v);
}

void render_conntrack(Exposition& e, const vswitch::dp::ConntrackStats& c) {
  e.family("vswitch_conntrack_connections", "gauge", "tracked connections");
  e.sample({}, uint64_t{c.connections()});
  e.family("vswitch_conntrack_limit", "gauge", "connections allowed in all tables");
  e.sample({}, uint64_t{c.limit()});
  e.family("vswitch_conntrack_capacity", "gauge", "entries of one worker's table");
  e.sample({}, uint64_t{c.capacity()});
  e.family("vswitch_conntrack_events_total", "counter", "connection tracking events, by kind");
  e.sample({{"event", "created"}}, c.created());
  e.sample({{"event", "deleted"}}, c.deleted());
  e.sample({{"event", "invalid"}}, c.invalid());
  e.sample({{"event", "limit_drop"}}, c.limit_drops());
  e.sample({{"event", "full_drop"}}, c.full_drops());
  e.sample({{"event", "revoked_drop"}}, c.revoked_drops());
}

void render_acls(Exposition& e, const vswitch::dp::AclList& a) {
  e.family("vswitch_acl_rules", "gauge", "ACL rules of a port and direction");
  for (const auto& p : a.acls())
    e.sample({{"port", p.port()}, {"dir", direction_name(p.dir())}},
             static_cast<uint64_t>(p.rules_size()));
  e.family("vswitch_acl_rule_hits_total", "counter",
           "packets an ACL rule decided (stateful rules: connections opened)");
  for (const auto& p : a.acls())
    for (const auto& r : p.rules())
      e.sample({{"port", p.port()},
                {"dir", direction_name(p.dir())},
                {"rule", std::to_string(r.rule().id())}},
               r.hits());
  e.family("vswitch_acl_default_hits_total", "counter",
           "packets no rule matched (decided by the default action)");
  for (const auto& p : a.acls())
    e.sample({{"port", p.port()}, {"dir", direction_name(p.dir())}}, p.default_hits());
}

}  // namespace

std::string Exposition::escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  name_ = name;
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  // HELP text escapes backslash and newline only.
  for (char c : help)
    text_ += c == '\n' ? std::string("\\n") : c == '\\' ? "\\\\" : std::string(1, c);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void Exposition::begin_sample(Labels labels) {
  text_ += name_;
  if (labels.size() == 0) return;
  text_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) text_ += ',';
    first = false;
    text_ += k;
    text_ += "=\"";
    text_ += escape(v);
    text_ += '"';
  }
  text_ += '}';
}

void Exposition::sample(Labels labels, uint64_t value) {
  begin_sample(labels);
  text_ += ' ';
  text_ += std::to_string(value);
  text_ += '\n';
}

void Exposition::sample(Labels labels, double value) {
  begin_sample(labels);
  char buf[64];
  if (std::isnan(value)) {
    std::snprintf(buf, sizeof(buf), " NaN\n");
  } else if (std::isinf(value)) {
    std::snprintf(buf, sizeof(buf), value > 0 ? " +Inf\n" : " -Inf\n");
  } else {
    std::snprintf(buf, sizeof(buf), " %.17g\n", value);
  }
  text_ += buf;
}

std::string render_metrics(const MetricsSnapshot& s) {
  Exposition e;
  render_controld(e, s);
  e.family("vswitch_dataplane_up", "gauge",
           "1 when this scrape could read the dataplane's counters");
  e.sample({}, uint64_t{s.stats.has_value()});
  if (s.dp_status) {
    e.family("vswitch_dataplane_info", "gauge", "the dataplane's version and memory mode (1)");
    e.sample({{"version", s.dp_status->version()}, {"memory_mode", s.dp_status->memory_mode()}},
             uint64_t{1});
    e.family("vswitch_dataplane_uptime_seconds", "gauge", "seconds since the dataplane started");
    e.sample({}, static_cast<double>(s.dp_status->uptime_ms()) / 1000.0);
  }
  if (s.stats) {
    render_ports(e, *s.stats);
    render_workers(e, *s.stats);
    render_management(e, s.stats->management());
  }
  if (s.flows) render_flows(e, *s.flows);
  if (s.bridges) render_bridges(e, *s.bridges);
  if (s.router) render_router(e, *s.router, s.neighbors ? &*s.neighbors : nullptr);
  if (s.conntrack) render_conntrack(e, *s.conntrack);
  if (s.acls) render_acls(e, *s.acls);
  e.family("vswitch_scrape_duration_seconds", "gauge",
           "time controld took to gather this scrape's data");
  e.sample({}, s.scrape_seconds);
  return e.text();
}

}  // namespace vsw::ctl
