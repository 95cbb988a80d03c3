#include "telemetry.h"

#include <rte_telemetry.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "log.h"

namespace vsw::dp {

namespace {

// How long a telemetry client waits for the management thread.
constexpr auto kAnswerTimeout = std::chrono::seconds(2);

std::mutex g_mu;  // guards g_instance against its destruction mid-call
Telemetry* g_instance = nullptr;
std::once_flag g_registered;

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The scalar fields of `m` into the dict `d`, names prefixed by `prefix`; nested messages
// are flattened one level with their field's name as prefix (drops → drop_*).
void add_fields(rte_tel_data* d, const Message& m, const std::string& prefix = "") {
  const auto* desc = m.GetDescriptor();
  const auto* refl = m.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_repeated() || f->is_map()) continue;
    const std::string name = prefix + f->name();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT64:
        rte_tel_data_add_dict_u64(d, name.c_str(), refl->GetUInt64(m, f));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        rte_tel_data_add_dict_u64(d, name.c_str(), refl->GetUInt32(m, f));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        rte_tel_data_add_dict_int(d, name.c_str(), refl->GetBool(m, f) ? 1 : 0);
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        rte_tel_data_add_dict_string(d, name.c_str(), refl->GetString(m, f).c_str());
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        // One level: PortStatus.drops (drop_tx_full, ...); not the config (strings).
        if (prefix.empty() && f->name() == "drops") add_fields(d, refl->GetMessage(m, f), "drop_");
        break;
      default:
        break;
    }
  }
}

// Runs `fill`'s request through the live Telemetry; a negative errno when there is none or
// it did not answer, or when the dataplane answered with an error.
template <typename Fill>
int ask(Fill fill, vswitch::dp::Response* response) {
  std::lock_guard lock(g_mu);
  if (g_instance == nullptr) return -ENODEV;
  vswitch::dp::Request request;
  fill(request);
  if (!g_instance->call(request, response)) return -ETIMEDOUT;
  if (response->has_error()) return -EINVAL;
  return 0;
}

int info_cmd(const char*, const char*, rte_tel_data* d) {
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_status(); }, &r); rc < 0) return rc;
  rte_tel_data_start_dict(d);
  add_fields(d, r.status());
  return 0;
}

int port_list_cmd(const char*, const char*, rte_tel_data* d) {
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_port_list(); }, &r); rc < 0) return rc;
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  for (const auto& p : r.ports().ports())
    rte_tel_data_add_array_string(d, p.config().name().c_str());
  return 0;
}

int port_stats_cmd(const char*, const char* params, rte_tel_data* d) {
  if (params == nullptr || *params == '\0') return -EINVAL;
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_port_list(); }, &r); rc < 0) return rc;
  for (const auto& p : r.ports().ports()) {
    if (p.config().name() != params) continue;
    rte_tel_data_start_dict(d);
    add_fields(d, p);
    return 0;
  }
  return -ENOENT;
}

// "N" → N; -1 when `params` is not a small number.
int worker_param(const char* params) {
  if (params == nullptr || *params == '\0') return -1;
  char* end = nullptr;
  const long v = std::strtol(params, &end, 10);
  return (*end != '\0' || v < 0 || v > 4096) ? -1 : static_cast<int>(v);
}

int worker_stats_cmd(const char*, const char* params, rte_tel_data* d) {
  const int w = worker_param(params);
  if (w < 0) return -EINVAL;
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_stats(); }, &r); rc < 0) return rc;
  for (const auto& s : r.stats().workers()) {
    if (static_cast<int>(s.worker()) != w) continue;
    rte_tel_data_start_dict(d);
    add_fields(d, s);
    return 0;
  }
  return -ENOENT;
}

int flow_cache_cmd(const char*, const char* params, rte_tel_data* d) {
  const int w = worker_param(params);
  if (w < 0) return -EINVAL;
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_flow_stats(); }, &r); rc < 0) return rc;
  for (const auto& s : r.flow_stats().workers()) {
    if (static_cast<int>(s.worker()) != w) continue;
    rte_tel_data_start_dict(d);
    add_fields(d, s);
    return 0;
  }
  return -ENOENT;
}

int router_cmd(const char*, const char*, rte_tel_data* d) {
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_router_stats(); }, &r); rc < 0) return rc;
  rte_tel_data_start_dict(d);
  add_fields(d, r.router_stats());
  return 0;
}

int conntrack_cmd(const char*, const char*, rte_tel_data* d) {
  vswitch::dp::Response r;
  if (int rc = ask([](auto& q) { q.mutable_conntrack_stats(); }, &r); rc < 0) return rc;
  rte_tel_data_start_dict(d);
  add_fields(d, r.conntrack_stats());
  return 0;
}

void register_commands() {
  struct Command {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  const Command commands[] = {
      {"/vswitch/info", info_cmd, "vsw-dataplane's version, pid, memory mode, workers, uptime"},
      {"/vswitch/port_list", port_list_cmd, "The names of vsw-dataplane's ports"},
      {"/vswitch/port_stats", port_stats_cmd,
       "A port's counters and drops by reason. Parameters: port name"},
      {"/vswitch/worker_stats", worker_stats_cmd,
       "A worker's loops, packets, busy cycles. Parameters: worker number"},
      {"/vswitch/flow_cache", flow_cache_cmd,
       "A worker's flow cache counters. Parameters: worker number"},
      {"/vswitch/router", router_cmd, "The router's counters and table sizes"},
      {"/vswitch/conntrack", conntrack_cmd, "Connection tracking counters and limits"},
  };
  for (const Command& c : commands) {
    if (int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help); rc != 0)
      log(LogLevel::kWarning, "telemetry: cannot register %s: %d", c.name, rc);
  }
}

}  // namespace

Telemetry::Telemetry(boost::asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)) {
  std::call_once(g_registered, register_commands);
  std::lock_guard lock(g_mu);
  g_instance = this;
}

Telemetry::~Telemetry() {
  std::lock_guard lock(g_mu);
  g_instance = nullptr;
}

bool Telemetry::call(const vswitch::dp::Request& request, vswitch::dp::Response* response) {
  auto done = std::make_shared<std::promise<vswitch::dp::Response>>();
  std::future<vswitch::dp::Response> answer = done->get_future();
  // The handler runs on the management thread; if the io_context stops first the task is
  // destroyed unrun and this call times out.
  boost::asio::post(io_,
                    [done, request, handler = handler_] { done->set_value(handler(request)); });
  if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) return false;
  *response = answer.get();
  return true;
}

}  // namespace vsw::dp
