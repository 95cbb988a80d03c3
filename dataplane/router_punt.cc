// What workers punt to the management thread: ARP and ND, packets for the router's own
// addresses, ICMP errors, and packets waiting for a neighbor. The packet half of
// RouterManager.
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ring_elem.h>

#include "flow_key.h"
#include "l3_packets.h"
#include "router_manager.h"

namespace vsw::dp {

using flow::IpAddr;

namespace {

const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t kZeroMac[6] = {};

}  // namespace

void RouterManager::drain_punts() {
  const uint64_t now = rte_rdtsc();
  L3Punt batch[64];
  for (rte_ring* r : punt_rings_) {
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(r, batch, sizeof(L3Punt), 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; ++i) handle(batch[i], now);
    }
  }
}

void RouterManager::neighbor_tick() {
  std::vector<flow::NeighborRequest> requests;
  std::vector<rte_mbuf*> dropped;
  neighbors_->tick(rte_rdtsc(), &requests, &dropped);
  for (const flow::NeighborRequest& r : requests) send_request(r);
  for (rte_mbuf* m : dropped) rte_pktmbuf_free(m);
}

void RouterManager::handle(const L3Punt& p, uint64_t now) {
  rte_mbuf* m = p.m;
  const Rif* rif = by_id(p.rif);
  if (rif == nullptr) {  // the interface went away while the packet was in the ring
    rte_pktmbuf_free(m);
    return;
  }
  switch (p.reason) {
    case PuntReason::kArp:
      return handle_arp(*rif, m, now);
    case PuntReason::kNd:
      return handle_nd(*rif, m, now);
    case PuntReason::kLocal:
      return handle_local(*rif, m, now);
    case PuntReason::kTtlExpired:
    case PuntReason::kNoRoute:
      return handle_error(*rif, m, p.reason == PuntReason::kTtlExpired);
    case PuntReason::kResolve:
      return resolve(p, now);
  }
  rte_pktmbuf_free(m);
}

bool RouterManager::source_for(const Rif& rif, const IpAddr& peer, IpAddr* out) const {
  bool found = false;
  for (const flow::Prefix& a : rif.addresses) {
    if (a.addr.family != peer.family) continue;
    if (flow::make_prefix(a.addr, a.len).contains(peer)) {
      *out = a.addr;
      return true;
    }
    if (!found) {
      *out = a.addr;
      found = true;
    }
  }
  return found;
}

void RouterManager::learn(const flow::NeighborKey& key, const uint8_t mac[6], bool solicited,
                          bool create, uint64_t now) {
  std::vector<rte_mbuf*> ready;
  neighbors_->learn(key, mac, solicited, create, now, &ready);
  const Rif* rif = by_id(key.rif);
  for (rte_mbuf* m : ready) {
    if (rif == nullptr) {
      rte_pktmbuf_free(m);
      continue;
    }
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), mac, 6);
    send(m, rif->bridge, mac);
  }
}

void RouterManager::handle_arp(const Rif& rif, rte_mbuf* m, uint64_t now) {
  flow::FlowKey key;
  flow::ParsedFrame parsed;
  ArpInfo arp;
  if (flow::parse_frame(m, 0, key, parsed) != flow::ParseResult::kOk ||
      !parse_arp(m, parsed.l2_len, &arp)) {
    rte_pktmbuf_free(m);
    return;
  }
  rte_pktmbuf_free(m);
  // Only neighbors on one of the interface's subnets are learned.
  const bool on_link = std::any_of(rif.addresses.begin(), rif.addresses.end(), [&](const auto& a) {
    return flow::make_prefix(a.addr, a.len).contains(arp.sender_ip);
  });
  const bool for_us = std::any_of(rif.addresses.begin(), rif.addresses.end(),
                                  [&](const auto& a) { return a.addr == arp.target_ip; });
  const bool gratuitous = arp.sender_ip == arp.target_ip;
  if (on_link && !(arp.sender_ip == IpAddr::v4(0))) {
    const flow::NeighborKey nkey = flow::neighbor_key(rif.id, arp.sender_ip);
    const bool solicited = arp.op == RTE_ARP_OP_REPLY && for_us;
    learn(nkey, arp.sender_mac, solicited, for_us || gratuitous, now);
  }
  if (arp.op == RTE_ARP_OP_REQUEST && for_us && !gratuitous) {
    rte_mbuf* reply = build_arp(pool_, RTE_ARP_OP_REPLY, arp.sender_mac, rif.mac, arp.target_ip,
                                arp.sender_mac, arp.sender_ip);
    if (reply == nullptr) return;
    ++counters_.arp_replies;
    send(reply, rif.bridge, arp.sender_mac);
  }
}

void RouterManager::handle_nd(const Rif& rif, rte_mbuf* m, uint64_t now) {
  flow::FlowKey key;
  flow::ParsedFrame parsed;
  NdInfo nd;
  if (flow::parse_frame(m, 0, key, parsed) != flow::ParseResult::kOk ||
      !parse_nd(m, parsed.l2_len, &nd)) {
    rte_pktmbuf_free(m);
    return;
  }
  rte_pktmbuf_free(m);
  const bool target_ours = std::any_of(rif.addresses.begin(), rif.addresses.end(),
                                       [&](const auto& a) { return a.addr == nd.target; });
  static const uint8_t kUnspecified[16] = {};
  if (nd.type == 135) {
    if (!target_ours) return;
    const bool dad = std::memcmp(nd.src.bytes, kUnspecified, 16) == 0;
    if (dad) return;  // duplicate address detection: the address is ours, nothing to learn
    const uint8_t* mac = nd.has_lladdr ? nd.lladdr : nd.eth_src;
    learn(flow::neighbor_key(rif.id, nd.src), mac, false, true, now);
    rte_mbuf* na = build_na(pool_, rif.mac, nd.target, mac, nd.src, true);
    if (na == nullptr) return;
    ++counters_.nd_replies;
    send(na, rif.bridge, mac);
    return;
  }
  // An advertisement: solicited ones answer our request; unsolicited ones announce.
  if (target_ours) return;
  const uint8_t* mac = nd.has_lladdr ? nd.lladdr : nd.eth_src;
  learn(flow::neighbor_key(rif.id, nd.target), mac, nd.solicited, !nd.solicited, now);
}

void RouterManager::handle_local(const Rif& rif, rte_mbuf* m, uint64_t now) {
  rte_be16_t type;
  std::memcpy(&type, rte_pktmbuf_mtod_offset(m, const uint8_t*, 12), 2);
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    NdInfo nd;
    if (parse_nd(m, RTE_ETHER_HDR_LEN, &nd)) return handle_nd(rif, m, now);
  }
  // Echo requests are answered back to the sender's MAC on the interface they came in by.
  if (!make_echo_reply(m, rif.mac)) {
    rte_pktmbuf_free(m);
    return;
  }
  ++counters_.echo_replies;
  uint8_t dst[6];
  std::memcpy(dst, rte_pktmbuf_mtod(m, const uint8_t*), 6);
  send(m, rif.bridge, dst);
}

bool RouterManager::take_icmp_token(uint64_t now) {
  const uint64_t hz = rte_get_tsc_hz();
  if (icmp_refill_ != 0 && now > icmp_refill_)
    icmp_tokens_ =
        std::min<double>(kIcmpErrorBurst, icmp_tokens_ + double(now - icmp_refill_) *
                                                             kIcmpErrorsPerSecond / double(hz));
  icmp_refill_ = now;
  if (icmp_tokens_ < 1) return false;
  icmp_tokens_ -= 1;
  return true;
}

void RouterManager::handle_error(const Rif& rif, rte_mbuf* m, bool ttl) {
  rte_be16_t type;
  std::memcpy(&type, rte_pktmbuf_mtod_offset(m, const uint8_t*, 12), 2);
  const bool v6 = type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
  IpAddr src;
  const bool have_src = std::any_of(rif.addresses.begin(), rif.addresses.end(), [&](const auto& a) {
    if (a.addr.is_v4() == v6) return false;
    src = a.addr;
    return true;
  });
  if (!have_src) {
    rte_pktmbuf_free(m);
    return;
  }
  if (!take_icmp_token(rte_rdtsc())) {
    ++counters_.icmp_rate_limited;
    rte_pktmbuf_free(m);
    return;
  }
  const uint8_t icmp_type = v6 ? (ttl ? kIcmp6TimeExceeded : kIcmp6Unreachable)
                               : (ttl ? kIcmpTimeExceeded : kIcmpUnreachable);
  rte_mbuf* err = build_icmp_error(pool_, m, rif.mac, src, icmp_type, 0);
  uint8_t dst[6];
  std::memcpy(dst, rte_pktmbuf_mtod_offset(m, const uint8_t*, 6), 6);
  rte_pktmbuf_free(m);
  if (err == nullptr) return;
  ++counters_.icmp_errors;
  send(err, rif.bridge, dst);
}

void RouterManager::resolve(const L3Punt& p, uint64_t now) {
  const Rif* rif = by_id(p.key.rif);
  if (rif == nullptr) {
    rte_pktmbuf_free(p.m);
    return;
  }
  switch (neighbors_->enqueue(p.key, p.m, now)) {
    case flow::NeighborTable::Enqueued::kSendRequest:
      send_request({p.key, false, {}});
      return;
    case flow::NeighborTable::Enqueued::kQueued:
      return;
    case flow::NeighborTable::Enqueued::kSendNow: {
      const int32_t pos = neighbors_->lookup(p.key);
      uint8_t mac[6];
      flow::neighbor_mac(neighbors_->entry(pos).mac_state.load(std::memory_order_relaxed), mac);
      std::memcpy(rte_pktmbuf_mtod(p.m, uint8_t*), mac, 6);
      send(p.m, rif->bridge, mac);
      return;
    }
    case flow::NeighborTable::Enqueued::kDropped:
      rte_pktmbuf_free(p.m);
      return;
  }
}

void RouterManager::send_request(const flow::NeighborRequest& r) {
  const Rif* rif = by_id(r.key.rif);
  if (rif == nullptr) return;
  const IpAddr target = flow::neighbor_ip(r.key);
  IpAddr src;
  if (!source_for(*rif, target, &src)) return;
  rte_mbuf* m;
  if (target.is_v4()) {
    m = build_arp(pool_, RTE_ARP_OP_REQUEST, r.unicast ? r.mac : kBroadcast, rif->mac, src,
                  kZeroMac, target);
  } else {
    m = build_ns(pool_, rif->mac, src, target, r.unicast ? r.mac : nullptr);
  }
  if (m == nullptr) return;
  ++counters_.requests_sent;
  uint8_t dst[6];
  std::memcpy(dst, rte_pktmbuf_mtod(m, const uint8_t*), 6);
  send(m, rif->bridge, dst);
}

void RouterManager::send(rte_mbuf* m, uint16_t bridge, const uint8_t dst[6]) {
  const flow::L2Config* l2 = fwd_.l2.load(std::memory_order_acquire);
  if (l2 == nullptr || inject_rings_.empty()) {
    rte_pktmbuf_free(m);
    return;
  }
  L3Inject it{m, kNoPort, 0, bridge, 0, l2->generation, 0};
  if (!flow::is_multicast(dst)) {
    flow::FdbKey key{bridge, {}};
    std::memcpy(key.mac, dst, 6);
    if (const int32_t pos = fwd_.fdb->lookup(key); pos >= 0) {
      const uint32_t loc = fwd_.fdb->entry(pos).location.load(std::memory_order_acquire);
      it.port = flow::location_port(loc);
      it.vlan = flow::location_vlan(loc);
    }
  }
  // Spread over the workers' rings: each has one producer, this thread.
  rte_ring* ring = inject_rings_[next_inject_++ % inject_rings_.size()];
  if (rte_ring_sp_enqueue_elem(ring, &it, sizeof(it)) != 0) {
    ++counters_.inject_dropped;
    rte_pktmbuf_free(m);
  }
}

}  // namespace vsw::dp
