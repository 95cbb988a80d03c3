#include "trace_manager.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "ip_addr.h"
#include "port_fields.h"
#include "port_manager.h"
#include "port_security.h"
#include "router_manager.h"
#include "worker.h"

namespace vsw::dp {

namespace {

using vswitch::dp::ERROR_CODE_FAILED_PRECONDITION;
using vswitch::dp::ERROR_CODE_INTERNAL;
using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
using vswitch::dp::ERROR_CODE_NOT_FOUND;

constexpr uint16_t kDefaultSrcPort = 49152;
constexpr uint16_t kDefaultDstPort = 9;  // discard

void put16(std::string& f, size_t at, uint16_t v) {
  f[at] = static_cast<char>(v >> 8);
  f[at + 1] = static_cast<char>(v & 0xff);
}

}  // namespace

TraceManager::TraceManager(ForwardingState& fwd, rte_rcu_qsbr* rcu, rte_mempool* pool,
                           const PortManager& ports, const RouterManager& router)
    : fwd_(fwd), rcu_(rcu), pool_(pool), ports_(ports), router_(router), ready_(trace_init()) {}

TraceManager::~TraceManager() {
  end_session();
}

void TraceManager::end_session() {
  if (!published_) return;
  fwd_.trace.store(nullptr, std::memory_order_release);
  // Workers hold the session for at most one loop.
  if (rcu_ != nullptr) rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  published_ = false;
}

Status TraceManager::start(const vswitch::dp::TraceStartRequest& req,
                           vswitch::dp::TraceStatus* out) {
  if (!ready_)
    return Status::Error(ERROR_CODE_INTERNAL, "trace: the mbuf trace flag could not be registered");
  uint16_t port = kNoPort;
  if (!req.port().empty()) {
    port = ports_.port_id(req.port());
    if (port == kNoPort)
      return Status::Error(ERROR_CODE_NOT_FOUND, "port: no port '" + req.port() + "'");
  }
  const uint32_t count = req.count() == 0 ? kDefaultTraceCount : req.count();
  if (count > kMaxTraceCount)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "count: " + std::to_string(count) +
                                                          " is over the limit of " +
                                                          std::to_string(kMaxTraceCount));
  end_session();
  session_ = std::make_unique<TraceSession>(port, count);
  port_name_ = req.port();
  fwd_.trace.store(session_.get(), std::memory_order_release);
  published_ = true;
  show(out);
  return Status::Ok();
}

Status TraceManager::stop(vswitch::dp::TraceStatus* out) {
  if (session_ == nullptr)
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION, "trace: no trace was started");
  end_session();
  show(out);
  session_.reset();
  return Status::Ok();
}

void TraceManager::port_removed(uint16_t port) {
  if (session_ != nullptr && session_->port == port) end_session();
}

void TraceManager::show(vswitch::dp::TraceStatus* out) const {
  out->Clear();
  if (session_ == nullptr) return;
  const uint32_t marked = std::min(session_->claimed.load(), session_->capacity);
  out->set_running(published_ && marked < session_->capacity);
  out->set_port(port_name_);
  out->set_count(session_->capacity);
  out->set_marked(marked);
  const RifNames rifs = rif_names();
  for (uint32_t i = 0; i < marked; ++i) {
    const TracedPacket& t = session_->packets[i];
    if (!t.complete.load(std::memory_order_acquire)) continue;
    describe(t, i + 1, rifs, out->add_packets());
  }
}

Status TraceManager::trace_packet(const vswitch::dp::TracePacketRequest& req,
                                  vswitch::dp::TracedPacket* out) {
  if (!ready_)
    return Status::Error(ERROR_CODE_INTERNAL, "trace: the mbuf trace flag could not be registered");
  const uint16_t port = ports_.port_id(req.port());
  if (port == kNoPort)
    return Status::Error(ERROR_CODE_NOT_FOUND, "port: no port '" + req.port() + "'");
  std::string frame = req.frame();
  if (frame.empty()) {
    if (Status s = build_frame(req, port, &frame); !s.ok()) return s;
  } else if (!req.src().empty() || !req.dst().empty()) {
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "frame: give either a frame or the src/dst fields, not both");
  }
  if (frame.size() < RTE_ETHER_HDR_LEN || frame.size() > RTE_ETHER_MAX_JUMBO_FRAME_LEN)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "frame: " + std::to_string(frame.size()) + " bytes; a frame has 14 to " +
                             std::to_string(RTE_ETHER_MAX_JUMBO_FRAME_LEN));
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return Status::Error(ERROR_CODE_INTERNAL, "trace: no mbuf free");
  if (frame.size() > rte_pktmbuf_tailroom(m)) {
    rte_pktmbuf_free(m);
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "frame: " + std::to_string(frame.size()) + " bytes do not fit one mbuf");
  }
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
              frame.size());
  if (dry_ == nullptr) {
    dry_ = std::make_unique<WorkerContext>();
    dry_->fwd = &fwd_;
    dry_->pool = pool_;
    dry_->dry_run = true;  // punts are dropped (no punt ring), nothing is learned or sent
  }
  WorkerContext& ctx = *dry_;
  ctx.cache.clear();
  TraceSession session(kNoPort, 1);
  ctx.trace = &session;
  forward_burst(ctx, fwd_.l2.load(std::memory_order_acquire), port, &m, 1);
  flush_tx(ctx);
  trace_loop_end(ctx);
  ctx.trace = nullptr;
  describe(session.packets[0], 1, rif_names(), out);
  return Status::Ok();
}

Status TraceManager::build_frame(const vswitch::dp::TracePacketRequest& req, uint16_t port,
                                 std::string* frame) const {
  flow::IpAddr src, dst;
  if (!flow::parse_ip(req.src(), &src))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "src: '" + req.src() + "' is not an IPv4 or IPv6 address");
  if (!flow::parse_ip(req.dst(), &dst))
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "dst: '" + req.dst() + "' is not an IPv4 or IPv6 address");
  if (src.family != dst.family)
    return Status::Error(
        ERROR_CODE_INVALID_ARGUMENT,
        "dst: '" + req.dst() + "' is not of the same family as src '" + req.src() + "'");
  const bool v6 = !src.is_v4();
  uint32_t proto = req.protocol() == 0 ? uint32_t{IPPROTO_UDP} : req.protocol();
  if (proto > 255)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "protocol: " + std::to_string(proto) + " is not an IP protocol number");
  if (v6 && proto == IPPROTO_ICMP) proto = IPPROTO_ICMPV6;
  if (!v6 && proto == IPPROTO_ICMPV6) proto = IPPROTO_ICMP;
  if (req.src_port() > 65535 || req.dst_port() > 65535)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         req.src_port() > 65535 ? "src_port: over 65535" : "dst_port: over 65535");
  if (req.vlan() > 4094)
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "vlan: " + std::to_string(req.vlan()) + " is not 0-4094");

  // The MACs a guest on this port would use: its own (port security, or what the router
  // learned for the source address), and the router's when the destination is off-link.
  uint8_t smac[6], dmac[6];
  const flow::L2Config* l2 = fwd_.l2.load(std::memory_order_acquire);
  const flow::L3Config* l3 = fwd_.l3.load(std::memory_order_acquire);
  const uint16_t bridge = l2 != nullptr
                              ? l2->ports[port].bridge_for(static_cast<uint16_t>(req.vlan()))
                              : flow::kNoBridge;
  const uint16_t rif =
      (l3 != nullptr && bridge != flow::kNoBridge) ? l3->bridge_rif[bridge] : flow::kNoRif;
  auto neighbor_mac = [&](const flow::IpAddr& ip, uint8_t mac[6]) {
    if (rif == flow::kNoRif || fwd_.neighbors == nullptr) return false;
    const int32_t pos = fwd_.neighbors->lookup(flow::neighbor_key(rif, ip));
    if (pos < 0) return false;
    const uint64_t w = fwd_.neighbors->entry(pos).mac_state.load(std::memory_order_acquire);
    if (!flow::neighbor_usable(w)) return false;
    flow::neighbor_mac(w, mac);
    return true;
  };
  if (!req.src_mac().empty()) {
    if (!fields::parse_mac_any(req.src_mac(), smac))
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "src_mac: '" + req.src_mac() + "' is not a MAC address");
  } else if (const PortSecurity* ps = fwd_.ports[port].security.load(std::memory_order_acquire);
             ps != nullptr && ps->mac_count > 0) {
    std::memcpy(smac, ps->macs[0].data(), 6);
  } else if (!neighbor_mac(src, smac)) {
    return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                         "src_mac: the MAC of " + req.src() + " on port '" + req.port() +
                             "' is not known (no port security MAC, no neighbor entry): give it");
  }
  if (!req.dst_mac().empty()) {
    if (!fields::parse_mac_any(req.dst_mac(), dmac))
      return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                           "dst_mac: '" + req.dst_mac() + "' is not a MAC address");
  } else {
    bool on_link = false;
    if (rif != flow::kNoRif && fwd_.fib != nullptr) {
      const uint64_t value = v6 ? fwd_.fib->lookup6(dst.bytes) : fwd_.fib->lookup4(dst.v4_host());
      if (value != flow::kFibNoRoute) {
        const flow::NextHopEntry& hop =
            fwd_.fib->next_hops().hop(fwd_.fib->next_hops().select(value, 0));
        on_link = hop.connected && hop.rif == rif;
      }
    }
    if (rif != flow::kNoRif && !on_link) {
      std::memcpy(dmac, l3->rifs[rif].mac, 6);
    } else if (!neighbor_mac(dst, dmac)) {
      return Status::Error(ERROR_CODE_FAILED_PRECONDITION,
                           "dst_mac: the MAC of " + req.dst() + " seen from port '" + req.port() +
                               "' is not known (no neighbor entry, not behind a router): give it");
    }
  }

  const size_t l2_len = RTE_ETHER_HDR_LEN + (req.vlan() ? 4 : 0);
  const size_t ip_len = v6 ? 40 : 20;
  size_t l4_len = 0;
  if (proto == IPPROTO_TCP) l4_len = 20;
  if (proto == IPPROTO_UDP || proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) l4_len = 8;
  std::string f(l2_len + ip_len + l4_len, '\0');
  std::memcpy(f.data(), dmac, 6);
  std::memcpy(f.data() + 6, smac, 6);
  if (req.vlan()) {
    put16(f, 12, RTE_ETHER_TYPE_VLAN);
    put16(f, 14, static_cast<uint16_t>(req.vlan()));
  }
  put16(f, l2_len - 2, v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<uint8_t*>(f.data() + l2_len);
  auto* l4 = ip + ip_len;
  if (v6) {
    ip[0] = 0x60;
    put16(f, l2_len + 4, static_cast<uint16_t>(l4_len));
    ip[6] = static_cast<uint8_t>(proto);
    ip[7] = 64;
    std::memcpy(ip + 8, src.bytes, 16);
    std::memcpy(ip + 24, dst.bytes, 16);
  } else {
    ip[0] = 0x45;
    put16(f, l2_len + 2, static_cast<uint16_t>(ip_len + l4_len));
    put16(f, l2_len + 6, 0x4000);  // don't fragment
    ip[8] = 64;
    ip[9] = static_cast<uint8_t>(proto);
    std::memcpy(ip + 12, src.bytes, 4);
    std::memcpy(ip + 16, dst.bytes, 4);
    const uint16_t c = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
    std::memcpy(ip + 10, &c, 2);  // rte_*_cksum sum in memory order: stored as they come
  }
  const uint16_t sport = req.src_port() ? static_cast<uint16_t>(req.src_port()) : kDefaultSrcPort;
  const uint16_t dport = req.dst_port() ? static_cast<uint16_t>(req.dst_port()) : kDefaultDstPort;
  const size_t l4_at = l2_len + ip_len;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    put16(f, l4_at, sport);
    put16(f, l4_at + 2, dport);
  }
  if (proto == IPPROTO_TCP) {
    l4[12] = 5 << 4;
    l4[13] = 0x02;  // SYN: what opens a connection
    put16(f, l4_at + 14, 64240);
  } else if (proto == IPPROTO_UDP) {
    put16(f, l4_at + 4, 8);
  } else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
    l4[0] = proto == IPPROTO_ICMP ? 8 : 128;  // echo request
    put16(f, l4_at + 4, 1);                   // identifier
    put16(f, l4_at + 6, 1);                   // sequence
  }
  if (l4_len > 0) {
    // TCP, UDP and ICMPv6 sum the pseudo-header (the IP header's addresses, length and
    // protocol) too; ICMP does not.
    uint16_t c;
    if (proto == IPPROTO_ICMP) {
      c = static_cast<uint16_t>(~rte_raw_cksum(l4, l4_len));
    } else if (v6) {
      c = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), l4);
    } else {
      c = rte_ipv4_udptcp_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip), l4);
    }
    std::memcpy(l4 + (proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2), &c, 2);
  }
  *frame = std::move(f);
  return Status::Ok();
}

}  // namespace vsw::dp
