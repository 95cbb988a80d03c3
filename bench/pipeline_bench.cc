// The worker pipeline in process, without I/O costs beyond ring enqueue: cycles per packet
// for the cross-connect (the baseline: the zero-work path) and for L2 switching with the
// flow cache hot or missing. Prepared mbufs go round: sent on one ring port, read back from
// the other, sent again; only the forwarding is timed.
//
//   build/bin/pipeline_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include <array>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "l3_packets.h"
#include "pipeline_harness.h"

namespace {

using vsw::test::FrameSpec;
using vsw::test::Pipeline;

constexpr uint16_t kBurst = vsw::dp::kBurstSize;

struct Rig {
  explicit Rig(uint32_t ct_capacity = 1024) : pl(vsw::test::small_router_options(), ct_capacity) {}
  Pipeline pl;
  uint16_t in = 0, out = 0, other = 0;
  std::vector<rte_mbuf*> frames;
};

// Two (or three) ring ports; `mode` 0: cross-connect, 1: bridge.
std::unique_ptr<Rig> make_rig(int mode, bool third_port = false) {
  auto rig = std::make_unique<Rig>();
  rig->in = rig->pl.add_port("in");
  rig->out = rig->pl.add_port("out");
  if (third_port) rig->other = rig->pl.add_port("other");
  if (mode == 0) {
    rig->pl.ports->xconnect_add("in", "out");
  } else {
    vswitch::dp::BridgeConfig br;
    br.set_name("br");
    br.set_mac_limit(65536);
    rig->pl.bridges->bridge_add(br);
    rig->pl.bridges->attach("br", "in", rig->in, 0);
    rig->pl.bridges->attach("br", "out", rig->out, 0);
    if (third_port) rig->pl.bridges->attach("br", "other", rig->other, 0);
  }
  return rig;
}

constexpr uint32_t kFrames = 4096;  // prepared mbufs, reused

// Frames between one MAC pair (or, with vary_src_mac, from many sources).
void prepare(Rig& rig, vsw::test::Mac dst, bool vary_src_mac) {
  for (uint32_t i = 0; i < kFrames; ++i) {
    FrameSpec f{.dst = dst, .src = vsw::test::mac(0xa)};
    if (vary_src_mac) f.src = vsw::test::mac(0x100000 + i);
    rig.frames.push_back(rig.pl.make(f));
  }
}

// Gives the frames of one burst the next flows' 5-tuples (source IP and port vary). The flow
// number is scrambled (an odd multiplier: distinct flows stay distinct) because sequential
// fields flatter a linear hash such as CRC, which spreads them perfectly, unlike real traffic.
void set_flows(rte_mbuf** pkts, uint16_t n, uint32_t flows, uint32_t& next) {
  for (uint16_t i = 0; i < n; ++i) {
    const uint32_t flow = (next++ % flows) * 2654435761u;
    auto* p = rte_pktmbuf_mtod(pkts[i], uint8_t*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + RTE_ETHER_HDR_LEN);
    ip->src_addr = rte_cpu_to_be_32(0x0a000000 + (flow >> 16));
    *reinterpret_cast<rte_be16_t*>(p + RTE_ETHER_HDR_LEN + 20) =
        rte_cpu_to_be_16(static_cast<uint16_t>(flow & 0xffff));
  }
}

// Sends every prepared frame once per iteration, in bursts, timing only the forwarding.
void run(benchmark::State& state, Rig& rig, uint32_t flows = 1) {
  uint64_t cycles = 0, packets = 0;
  uint32_t next = 0;
  for (auto _ : state) {
    for (size_t off = 0; off < rig.frames.size(); off += kBurst) {
      const uint16_t n = static_cast<uint16_t>(std::min<size_t>(kBurst, rig.frames.size() - off));
      if (flows > 1) set_flows(&rig.frames[off], n, flows, next);
      const uint64_t t0 = rte_rdtsc_precise();
      rig.pl.send_mbufs(rig.in, &rig.frames[off], n);
      cycles += rte_rdtsc_precise() - t0;
      packets += n;
      // Take them back from the output ring, in order, to send again next iteration.
      uint16_t got = 0;
      while (got < n) {
        const uint16_t k = rte_eth_rx_burst(rig.out, 0, &rig.frames[off + got], n - got);
        if (k == 0) break;
        got += k;
      }
      if (got < n) state.SkipWithError("frames went missing");
    }
  }
  state.counters["cycles/pkt"] = packets ? double(cycles) / double(packets) : 0;
  state.counters["hit%"] =
      100.0 * double(rig.pl.cache().hits.load()) /
      double(std::max<uint64_t>(1, rig.pl.cache().hits.load() + rig.pl.cache().misses.load()));
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

void BM_Xconnect(benchmark::State& state) {
  auto rig = make_rig(0);
  prepare(*rig, vsw::test::mac(0xb), false);
  run(state, *rig);
}

// Cache hits: both MACs learned, `flows` 5-tuples.
void BM_L2CacheHit(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  auto rig = make_rig(1);
  rig->pl.send(rig->out, {{.dst = vsw::test::mac(0xa), .src = vsw::test::mac(0xb)}});
  rig->pl.send(rig->in, {{.dst = vsw::test::mac(0xb), .src = vsw::test::mac(0xa)}});
  rig->pl.learn();
  rig->pl.drain_all();
  prepare(*rig, vsw::test::mac(0xb), false);
  run(state, *rig, flows);
}

// Misses with learning: every frame has a new source MAC (the learn ring and the
// management thread's drain are outside the timing, as they are on another core).
void BM_L2MissLearn(benchmark::State& state) {
  auto rig = make_rig(1);
  rig->pl.send(rig->out, {{.dst = vsw::test::mac(0xa), .src = vsw::test::mac(0xb)}});
  rig->pl.learn();
  rig->pl.drain_all();
  // Every frame has its own source MAC and nothing is ever learned (the reports pile up in
  // the ring, and are counted as dropped once it is full): each frame takes the miss path.
  prepare(*rig, vsw::test::mac(0xb), true);
  run(state, *rig);
}

// Flooding to two other ports (broadcast): one copy per extra port.
void BM_L2Flood(benchmark::State& state) {
  auto rig = make_rig(1, true);
  prepare(*rig, vsw::test::Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, false);
  uint64_t cycles = 0, packets = 0;
  std::vector<rte_mbuf*> spare(kBurst);
  for (auto _ : state) {
    for (size_t off = 0; off < rig->frames.size(); off += kBurst) {
      const uint16_t n = kBurst;
      const uint64_t t0 = rte_rdtsc_precise();
      rig->pl.send_mbufs(rig->in, &rig->frames[off], n);
      cycles += rte_rdtsc_precise() - t0;
      packets += n;
      // The originals went to one port, copies to the other: keep the originals' slots
      // filled from whichever port has them, free the rest.
      uint16_t got = 0;
      while (got < n) {
        uint16_t k = rte_eth_rx_burst(rig->other, 0, &rig->frames[off + got], n - got);
        if (k == 0) break;
        got += k;
      }
      rig->pl.receive(rig->out);
    }
  }
  state.counters["cycles/pkt"] = packets ? double(cycles) / double(packets) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// ---- routed ----

// Two bridges with a router interface each; the gateway 10.2.0.2 (MAC 0xb, on "out") is
// resolved and learned; `routes` random prefixes (/16-/32, mostly /24, as a BGP table)
// via it. Frames from "in" to the router MAC, to destinations inside the routes.
struct RoutedRig {
  std::unique_ptr<Pipeline> pl;
  uint16_t in = 0, out = 0;
  std::vector<rte_mbuf*> frames;
  std::vector<std::array<uint8_t, 64>> headers;  // to restore after each pass
};

std::unique_ptr<RoutedRig> make_routed_rig(uint32_t routes, bool v6) {
  auto rig = std::make_unique<RoutedRig>();
  vsw::dp::RouterOptions o = vsw::test::small_router_options();
  o.fib.ipv4_routes = std::max<uint32_t>(routes + 16, 4096);
  o.fib.ipv4_tbl8 = vsw::flow::kMaxIpv4Tbl8;
  o.fib.ipv6_routes = v6 ? routes + 16 : 1024;
  // /32-/40 routes: each needs a tbl8 group below its /24, and one more past /32.
  o.fib.ipv6_tbl8 = v6 ? 2 * routes + 1024 : 1024;
  rig->pl = std::make_unique<Pipeline>(o);
  Pipeline& pl = *rig->pl;
  rig->in = pl.add_port("in");
  rig->out = pl.add_port("out");
  for (const char* br : {"br1", "br2"}) {
    vswitch::dp::BridgeConfig c;
    c.set_name(br);
    pl.bridges->bridge_add(c);
  }
  pl.bridges->attach("br1", "in", rig->in, 0);
  pl.bridges->attach("br2", "out", rig->out, 0);
  for (auto [name, br, mac, a4, a6] :
       {std::tuple{"r1", "br1", "02:00:00:00:01:01", "10.1.0.1/24", "2001:db8:1::1/64"},
        std::tuple{"r2", "br2", "02:00:00:00:02:01", "10.2.0.1/24", "2001:db8:2::1/64"}}) {
    vswitch::dp::RouterInterfaceConfig c;
    c.set_name(name);
    c.set_bridge(br);
    c.set_mac(mac);
    c.add_addresses(a4);
    c.add_addresses(a6);
    pl.router->rif_add(c);
  }
  // The gateway answers for both families (and is learned on "out").
  const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x0b};
  const uint8_t r2[6] = {0x02, 0, 0, 0, 0x02, 0x01};
  vsw::flow::IpAddr gw4 = vsw::flow::IpAddr::v4(0x0a020002), gw6, r2v6,
                    r2v4 = vsw::flow::IpAddr::v4(0x0a020001);
  vsw::flow::parse_ip("2001:db8:2::2", &gw6);
  vsw::flow::parse_ip("2001:db8:2::1", &r2v6);
  rte_mbuf* ans[2] = {vsw::dp::build_arp(pl.pool, 2, r2, gw_mac, gw4, r2, r2v4),
                      vsw::dp::build_na(pl.pool, gw_mac, gw6, r2, r2v6, false)};
  pl.send_mbufs(rig->out, ans, 2);
  // The sender is learned on "in" (routed flows are cached only once it is).
  pl.send(rig->in,
          {{.dst = vsw::test::Mac{{0x02, 0, 0, 0, 0x01, 0x01}}, .src = vsw::test::mac(0xa)}});
  pl.learn();
  pl.router_step();
  pl.drain_all();
  std::mt19937 rng(42);
  std::vector<vsw::flow::IpAddr> dsts;
  vswitch::dp::RouteBatchRequest batch;
  vswitch::dp::RouteBatchResult res;
  uint32_t failed = 0;
  auto flush = [&] {
    if (!pl.router->route_batch(batch, &res).ok()) ++failed;
    batch.Clear();
  };
  for (uint32_t i = 0; i < routes; ++i) {
    vsw::flow::IpAddr a;
    uint8_t len;
    if (!v6) {
      a = vsw::flow::IpAddr::v4((uint32_t(rng()) & 0x5fffffffu) | 0x20000000u);  // 32/3 to 127/8
      const unsigned r = rng() % 100;
      len = static_cast<uint8_t>(r < 60 ? 24 : r < 90 ? 16 + rng() % 8 : 25 + rng() % 8);
    } else {
      a.family = vsw::flow::Family::kIpv6;
      for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
      a.bytes[0] = 0x20;
      a.bytes[1] = 0x01;
      len = static_cast<uint8_t>(32 + rng() % 9);
    }
    auto* add = batch.add_add();
    add->set_replace(true);
    add->mutable_route()->set_prefix(vsw::flow::format_prefix(vsw::flow::make_prefix(a, len)));
    add->mutable_route()->add_next_hops()->set_via(v6 ? "2001:db8:2::2" : "10.2.0.2");
    dsts.push_back(a);
    if (batch.add_size() == 10000) flush();
  }
  flush();
  if (failed) std::fprintf(stderr, "routed rig: %u route batches failed\n", failed);
  // 1,000 flows (as BM_L2CacheHit/1000), each to a random destination inside the routes.
  std::vector<uint32_t> flow_dst(1000);
  for (uint32_t& k : flow_dst) k = static_cast<uint32_t>(rng() % dsts.size());
  for (uint32_t i = 0; i < kFrames; ++i) {
    const uint32_t flow = i % 1000;
    const vsw::flow::IpAddr& d = dsts[flow_dst[flow]];
    FrameSpec f{.dst = vsw::test::Mac{{0x02, 0, 0, 0, 0x01, 0x01}}, .src = vsw::test::mac(0xa)};
    f.src_ip = 0x0a01000a;
    f.dst_ip = d.is_v4() ? d.v4_host() : 0;
    f.src_port = static_cast<uint16_t>(flow);
    rte_mbuf* m = pl.make(f);
    if (v6) {
      // The same frame as IPv6: rebuild the L3 header in place (the frame is 64 bytes).
      auto* p = rte_pktmbuf_mtod(m, uint8_t*);
      rte_pktmbuf_append(m, 40);
      p[12] = 0x86;
      p[13] = 0xdd;
      auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(p + 14);
      std::memset(ip6, 0, 40);
      ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
      ip6->payload_len = rte_cpu_to_be_16(8 + 42);
      ip6->proto = IPPROTO_UDP;
      ip6->hop_limits = 64;
      ip6->src_addr[0] = 0x20;
      ip6->src_addr[1] = 0x01;
      ip6->src_addr[15] = static_cast<uint8_t>(flow);
      std::memcpy(ip6->dst_addr, d.bytes, 16);
      uint8_t* udp = p + 54;
      udp[0] = static_cast<uint8_t>(flow >> 8);
      udp[1] = static_cast<uint8_t>(flow);
    }
    rig->frames.push_back(m);
    std::array<uint8_t, 64> h;
    std::memcpy(h.data(), rte_pktmbuf_mtod(m, uint8_t*), 64);
    rig->headers.push_back(h);
  }
  return rig;
}

// `fresh_flows`: every frame of every pass gets a source address never seen before, so the
// flow cache always misses and each packet takes the FIB ("cache disabled").
void run_routed(benchmark::State& state, RoutedRig& rig, bool fresh_flows) {
  uint64_t cycles = 0, packets = 0;
  uint32_t next_src = 0;
  Pipeline& pl = *rig.pl;
  for (auto _ : state) {
    for (size_t off = 0; off < rig.frames.size(); off += kBurst) {
      const uint16_t n = static_cast<uint16_t>(std::min<size_t>(kBurst, rig.frames.size() - off));
      for (uint16_t i = 0; i < n; ++i) {
        auto* p = rte_pktmbuf_mtod(rig.frames[off + i], uint8_t*);
        std::memcpy(p, rig.headers[off + i].data(), 64);
        if (fresh_flows) {
          const uint32_t src = ++next_src;
          // IPv4: the low 3 bytes of the source (10.x.y.z); IPv6: bytes 12-15 of the source.
          std::memcpy(p[12] == 0x08 ? p + 27 : p + 34, &src, 3);
          if (p[12] == 0x08) {  // the router drops a wrong header checksum
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
          }
        }
      }
      const uint64_t t0 = rte_rdtsc_precise();
      pl.send_mbufs(rig.in, &rig.frames[off], n);
      cycles += rte_rdtsc_precise() - t0;
      packets += n;
      uint16_t got = 0;
      while (got < n) {
        const uint16_t k = rte_eth_rx_burst(rig.out, 0, &rig.frames[off + got], n - got);
        if (k == 0) break;
        got += k;
      }
      if (got < n) {
        state.SkipWithError("frames went missing (not routed)");
        return;
      }
    }
  }
  state.counters["cycles/pkt"] = packets ? double(cycles) / double(packets) : 0;
  state.counters["hit%"] =
      100.0 * double(pl.cache().hits.load()) /
      double(std::max<uint64_t>(1, pl.cache().hits.load() + pl.cache().misses.load()));
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}

// Routed flow-cache hits: 1,000 flows (the cache holds 32,768), 1k routes.
void BM_RoutedCacheHit4(benchmark::State& state) {
  auto rig = make_routed_rig(1000, false);
  run_routed(state, *rig, false);
}

void BM_RoutedCacheHit6(benchmark::State& state) {
  auto rig = make_routed_rig(1000, true);
  run_routed(state, *rig, false);
}

// Routed forwarding with `routes` routes and a new flow every packet: the FIB, neighbor and
// FDB lookups and a cache insert per packet.
void BM_RoutedFib4(benchmark::State& state) {
  auto rig = make_routed_rig(static_cast<uint32_t>(state.range(0)), false);
  run_routed(state, *rig, true);
}

void BM_RoutedFib6(benchmark::State& state) {
  auto rig = make_routed_rig(static_cast<uint32_t>(state.range(0)), true);
  run_routed(state, *rig, true);
}

// Route insertion through the dataplane's request path (RouteBatchRequest of 10,000 routes,
// as `vsw-dpctl route load` sends them; the socket's framing excluded): routes per second.
void BM_RouteInsert4(benchmark::State& state) {
  const auto routes = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    vsw::dp::RouterOptions o = vsw::test::small_router_options();
    o.fib.ipv4_routes = routes + 16;
    o.fib.ipv4_tbl8 = vsw::flow::kMaxIpv4Tbl8;
    auto pl = std::make_unique<Pipeline>(o);
    vswitch::dp::BridgeConfig c;
    c.set_name("br");
    pl->bridges->bridge_add(c);
    vswitch::dp::RouterInterfaceConfig r;
    r.set_name("r");
    r.set_bridge("br");
    r.add_addresses("10.2.0.1/24");
    pl->router->rif_add(r);
    std::mt19937 rng(7);
    std::vector<vswitch::dp::RouteBatchRequest> batches(1);
    for (uint32_t i = 0; i < routes; ++i) {
      if (batches.back().add_size() == 10000) batches.emplace_back();
      auto* add = batches.back().add_add();
      add->set_replace(true);
      const unsigned x = rng() % 100;
      const uint8_t len = static_cast<uint8_t>(x < 60   ? 24
                                               : x < 90 ? 16 + rng() % 8
                                                        : 25 + rng() % 8);
      add->mutable_route()->set_prefix(vsw::flow::format_prefix(
          vsw::flow::make_prefix(vsw::flow::IpAddr::v4(uint32_t(rng()) | 0x20000000u), len)));
      add->mutable_route()->add_next_hops()->set_via("10.2.0." + std::to_string(2 + rng() % 200));
    }
    state.ResumeTiming();
    const uint64_t t0 = rte_rdtsc_precise();
    vswitch::dp::RouteBatchResult res;
    for (const auto& b : batches) pl->router->route_batch(b, &res);
    const uint64_t t1 = rte_rdtsc_precise();
    state.counters["routes/s"] = double(routes) * double(rte_get_tsc_hz()) / double(t1 - t0);
    state.counters["cycles/route"] = double(t1 - t0) / double(routes);
    state.PauseTiming();
    pl.reset();
    state.ResumeTiming();
  }
}

// ---- ACL (issue 8): the from-port ACL on the ingress port of an L2 cache-hit rig ----

vswitch::dp::AclRule acl_rule(uint32_t id, uint32_t priority, vswitch::dp::AclAction action) {
  vswitch::dp::AclRule r;
  r.set_id(id);
  r.set_priority(priority);
  r.set_action(action);
  return r;
}

// An L2 rig with both MACs learned and an ACL on the ingress port's from-port direction.
std::unique_ptr<Rig> acl_rig(const std::vector<vswitch::dp::AclRule>& rules,
                             vswitch::dp::AclAction default_action, uint32_t ct_capacity = 1024) {
  auto rig = std::make_unique<Rig>(ct_capacity);
  rig->in = rig->pl.add_port("in");
  rig->out = rig->pl.add_port("out");
  vswitch::dp::BridgeConfig br;
  br.set_name("br");
  rig->pl.bridges->bridge_add(br);
  rig->pl.bridges->attach("br", "in", rig->in, 0);
  rig->pl.bridges->attach("br", "out", rig->out, 0);
  rig->pl.send(rig->out, {{.dst = vsw::test::mac(0xa), .src = vsw::test::mac(0xb)}});
  rig->pl.send(rig->in, {{.dst = vsw::test::mac(0xb), .src = vsw::test::mac(0xa)}});
  rig->pl.learn();
  rig->pl.drain_all();
  vswitch::dp::AclSetRequest req;
  req.set_port("in");
  req.set_dir(vswitch::dp::ACL_DIRECTION_FROM_PORT);
  req.set_default_action(default_action);
  for (const auto& r : rules) *req.add_rules() = r;
  if (vsw::dp::Status st = rig->pl.acl->set(rig->in, req); !st.ok()) {
    std::fprintf(stderr, "acl set: %s\n", st.message.c_str());
    std::abort();
  }
  prepare(*rig, vsw::test::mac(0xb), false);
  return rig;
}

// Stateless classification of every packet: `rules` deny rules that match nothing (distinct
// /32 sources outside the traffic), default permit; 1k flows (cache hits).
void BM_AclClassify(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::vector<vswitch::dp::AclRule> rules;
  for (uint32_t i = 0; i < n; ++i) {
    auto r = acl_rule(i + 1, i % 1000, vswitch::dp::ACL_ACTION_DENY);
    r.set_src("172." + std::to_string(16 + (i >> 16)) + "." + std::to_string((i >> 8) & 255) + "." +
              std::to_string(i & 255) + "/32");
    r.set_proto(17);
    r.set_dport(std::to_string(1 + i % 60000));
    rules.push_back(r);
  }
  auto rig = acl_rig(rules, vswitch::dp::ACL_ACTION_PERMIT);
  run(state, *rig, 1000);
}

// Packets of `flows` tracked UDP connections (a permit-stateful rule, default deny): each is
// a conntrack lookup (bulk per burst) and update. The connections are opened before timing.
void BM_AclTracked(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  auto r = acl_rule(1, 1, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  r.set_proto(17);
  auto rig =
      acl_rig({r}, vswitch::dp::ACL_ACTION_DENY, std::max<uint32_t>(1024, flows + flows / 4));
  uint32_t next = 0;
  for (uint32_t done = 0; done < flows; done += kBurst) {
    set_flows(rig->frames.data(), kBurst, flows, next);
    rig->pl.send_mbufs(rig->in, rig->frames.data(), kBurst);
    uint16_t got = 0;
    while (got < kBurst) {
      const uint16_t k = rte_eth_rx_burst(rig->out, 0, rig->frames.data() + got, kBurst - got);
      if (k == 0) break;
      got += k;
    }
  }
  if (rig->pl.fwd->conntrack.load()->size() != flows) state.SkipWithError("connections missing");
  run(state, *rig, flows);
  state.counters["conns"] = rig->pl.fwd->conntrack.load()->size();
}

// Every packet opens a new UDP connection (lookup miss, classification, create).
void BM_AclNewConnection(benchmark::State& state) {
  auto r = acl_rule(1, 1, vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  r.set_proto(17);
  auto rig = acl_rig({r}, vswitch::dp::ACL_ACTION_DENY, 1u << 20);
  run(state, *rig, 1u << 30);
  state.counters["conns"] = rig->pl.fwd->conntrack.load()->size();
}

// Fixed iterations: one rig per benchmark (a rig is an EAL-backed pipeline with its own pool).
// VSW_BENCH_ITERATIONS overrides the 300 (a profiler wants the timed part to dominate).
int iterations() {
  const char* v = std::getenv("VSW_BENCH_ITERATIONS");
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : 300;
}
const int kIterations = iterations();
BENCHMARK(BM_Xconnect)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2CacheHit)
    ->Arg(1)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(20000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2MissLearn)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2Flood)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoutedCacheHit4)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoutedCacheHit6)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoutedFib4)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoutedFib6)
    ->Arg(1000)
    ->Arg(100000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RouteInsert4)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AclClassify)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(10000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AclTracked)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
// 50 x 4096 new connections: within the 1M-entry table.
BENCHMARK(BM_AclNewConnection)->Iterations(50)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // --huge-dir=DIR: DPDK memory on the hugepages of that hugetlbfs, as the dataplane runs by
  // default (bench/pipeline.sh reserves and mounts them); otherwise --no-huge, whose 4 KiB
  // pages cost every packet TLB misses on its mbuf (bench/README.md).
  std::string huge_dir;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--huge-dir=")) {
      huge_dir = a.substr(std::string_view("--huge-dir=").size());
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  // Memory for a million routes (about 470 MiB) beside everything else.
  if (!vsw::test::init_eal(argv[0], 2048, huge_dir)) return 1;
  benchmark::AddCustomContext(
      "dpdk_memory", huge_dir.empty() ? "no-huge (4 KiB pages)" : "2 MiB hugepages in " + huge_dir);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
