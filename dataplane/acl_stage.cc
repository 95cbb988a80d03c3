#include "acl_stage.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstring>

namespace vsw::dp {

namespace {

using acl::AclPacket;
using acl::AclVerdict;
using acl::Direction;

// IPv6 extension headers walked to find the transport header; a chain longer than this is
// dropped as malformed rather than classified on an extension header's number (a guest
// could otherwise hide a TCP segment from port rules behind padding options).
constexpr int kMaxIpv6ExtHeaders = 4;

// Reads the L4 fields at `off` for protocol `proto`.
void parse_l4(const rte_mbuf* m, uint32_t off, uint8_t proto, AclPacket* out) {
  uint8_t buf[14];
  if (proto == IPPROTO_TCP) {
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 14, buf));
    if (h == nullptr) return;
    out->key.sport = static_cast<uint16_t>(h[0] << 8 | h[1]);
    out->key.dport = static_cast<uint16_t>(h[2] << 8 | h[3]);
    out->tcp_flags = h[13];
  } else if (proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 4, buf));
    if (h == nullptr) return;
    out->key.sport = static_cast<uint16_t>(h[0] << 8 | h[1]);
    out->key.dport = static_cast<uint16_t>(h[2] << 8 | h[3]);
  } else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 2, buf));
    if (h == nullptr) return;
    out->key.sport = h[0];  // type
    out->key.dport = h[1];  // code
    const bool echo =
        proto == IPPROTO_ICMP ? (h[0] == 8 || h[0] == 0) : (h[0] == 128 || h[0] == 129);
    if (echo) {
      const auto* e = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 6, buf));
      if (e != nullptr) out->echo_id = static_cast<uint16_t>(e[4] << 8 | e[5]);
    }
  }
}

}  // namespace

AclParse parse_acl_packet(const rte_mbuf* m, AclPacket* out) {
  *out = AclPacket{};
  uint8_t buf[40];
  const auto* eth = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, RTE_ETHER_HDR_LEN, buf));
  if (eth == nullptr) return AclParse::kNotIp;
  uint32_t off = RTE_ETHER_HDR_LEN;
  uint16_t type = static_cast<uint16_t>(eth[12] << 8 | eth[13]);
  if (type == RTE_ETHER_TYPE_VLAN) {
    const auto* t = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 4, buf));
    if (t == nullptr) return AclParse::kNotIp;
    type = static_cast<uint16_t>(t[2] << 8 | t[3]);
    off += 4;
  }
  if (type == RTE_ETHER_TYPE_IPV4) {
    const auto* ip = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 20, buf));
    if (ip == nullptr) return AclParse::kMalformed;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if ((ip[0] >> 4) != 4 || ihl < 20 || rte_pktmbuf_pkt_len(m) < off + ihl)
      return AclParse::kMalformed;
    out->key.family = acl::Family::kIpv4;
    out->key.proto = ip[9];
    std::memcpy(out->key.src.data(), ip + 12, 4);
    std::memcpy(out->key.dst.data(), ip + 16, 4);
    const uint16_t frag = static_cast<uint16_t>(ip[6] << 8 | ip[7]);
    if ((frag & RTE_IPV4_HDR_OFFSET_MASK) == 0) parse_l4(m, off + ihl, ip[9], out);
    return AclParse::kIp;
  }
  if (type != RTE_ETHER_TYPE_IPV6) return AclParse::kNotIp;
  const auto* ip6 = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 40, buf));
  if (ip6 == nullptr || (ip6[0] >> 4) != 6) return AclParse::kMalformed;
  out->key.family = acl::Family::kIpv6;
  std::memcpy(out->key.src.data(), ip6 + 8, 16);
  std::memcpy(out->key.dst.data(), ip6 + 24, 16);
  uint8_t next = ip6[6];
  off += 40;
  bool first_fragment = true;
  for (int i = 0;; ++i) {
    const bool ext = next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
                     next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT;
    if (!ext) break;
    if (i == kMaxIpv6ExtHeaders) return AclParse::kMalformed;
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 8, buf));
    if (h == nullptr) return AclParse::kMalformed;
    if (next == IPPROTO_FRAGMENT) {
      first_fragment = (static_cast<uint16_t>(h[2] << 8 | h[3]) & 0xfff8) == 0;
      off += 8;
    } else {
      off += (h[1] + 1u) * 8;
    }
    next = h[0];
  }
  out->key.proto = next;
  if (first_fragment) parse_l4(m, off, next, out);
  return AclParse::kIp;
}

namespace {

// Compiled with and without trace hooks (kTrace: a trace session runs), as the L2 stage.
template <bool kTrace>
uint16_t filter_mbufs(WorkerContext& ctx, const acl::PortAcl& acl, uint16_t port, Direction dir,
                      rte_mbuf** pkts, uint16_t n) {
  // Nothing to decide in this direction: no rule, a permit default, and no stateful rule
  // the other way whose replies this direction must track.
  const Direction other = dir == Direction::kToPort ? Direction::kFromPort : Direction::kToPort;
  const acl::CompiledAcl* rules = acl.set(dir).current();
  if (rules->size() == 0 && rules->default_action() == acl::Action::kPermit &&
      acl.set(other).current()->stateful_rules() == 0)
    return n;

  PortCounters& c = ctx.ports[port];
  acl::Conntrack* ct = ctx.fwd->conntrack.load(std::memory_order_acquire);
  const uint64_t now = rte_rdtsc();
  uint16_t kept = 0;
  for (uint16_t base = 0; base < n; base += acl::kMaxFilterBurst) {
    const uint16_t count = std::min<uint16_t>(n - base, acl::kMaxFilterBurst);
    AclPacket packets[acl::kMaxFilterBurst];
    AclVerdict verdicts[acl::kMaxFilterBurst];
    uint8_t at[acl::kMaxFilterBurst];  // index in `packets` of burst frame i, or a marker
    constexpr uint8_t kPassUnfiltered = 0xff, kMalformed = 0xfe;
    uint32_t n_ip = 0;
    for (uint16_t i = 0; i < count; ++i) {
      switch (parse_acl_packet(pkts[base + i], &packets[n_ip])) {
        case AclParse::kIp:
          at[i] = static_cast<uint8_t>(n_ip++);
          break;
        case AclParse::kNotIp:
          at[i] = kPassUnfiltered;
          break;
        case AclParse::kMalformed:
          at[i] = kMalformed;
          break;
      }
    }
    acl::AclDecision how[acl::kMaxFilterBurst];
    if (kTrace && ctx.dry_run) {
      for (uint32_t j = 0; j < n_ip; ++j)
        verdicts[j] = acl::explain(port, dir, acl, ct, packets[j], &how[j]);
    } else if (n_ip > 0) {
      acl::filter_burst(ctx.index, port, dir, acl, ct, packets, n_ip, now, verdicts, ctx.acl,
                        kTrace ? how : nullptr);
    }
    for (uint16_t i = 0; i < count; ++i) {
      rte_mbuf* m = pkts[base + i];
      if (kTrace && at[i] != kPassUnfiltered) {
        if (at[i] == kMalformed) {
          trace_add(ctx, m, {.kind = TraceKind::kMalformed, .a = 1});
        } else {
          const acl::AclDecision& d = how[at[i]];
          const AclTraceInfo info{static_cast<uint8_t>(verdicts[at[i]]),
                                  static_cast<uint8_t>(ctx.dry_run && d.tracked ? 2 : d.tracked),
                                  d.state, d.action};
          TraceStep step{.kind = TraceKind::kAcl,
                         .a = static_cast<uint8_t>(dir),
                         .port = port,
                         .b = d.rule_id};
          std::memcpy(&step.c, &info, sizeof(info));
          trace_add(ctx, m, step);
        }
      }
      if (at[i] == kPassUnfiltered ||
          (at[i] != kMalformed && verdicts[at[i]] == AclVerdict::kPass)) {
        pkts[kept++] = m;
        continue;
      }
      if (at[i] == kMalformed) {
        bump(c.malformed, 1);
      } else {
        bump(c.acl_drops[static_cast<int>(verdicts[at[i]]) - 1], 1);
      }
      rte_pktmbuf_free(m);
    }
  }
  return kept;
}

}  // namespace

uint16_t acl_filter_mbufs(WorkerContext& ctx, const acl::PortAcl& acl, uint16_t port, Direction dir,
                          rte_mbuf** pkts, uint16_t n) {
  if (unlikely(ctx.trace != nullptr)) return filter_mbufs<true>(ctx, acl, port, dir, pkts, n);
  return filter_mbufs<false>(ctx, acl, port, dir, pkts, n);
}

}  // namespace vsw::dp
