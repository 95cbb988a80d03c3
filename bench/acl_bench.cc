// ACL building blocks in process (no ports, no mbufs): cycles per packet for rte_acl
// classification with 10, 1k and 10k rules, conntrack lookups and touches with 1k, 100k and
// 1M connections, and new connections per second. Only the classification / tracking calls
// are timed, in bursts of 32 as a worker would make them.
//
//   build/bin/acl_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <rte_cycles.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acl_classifier.h"
#include "conntrack.h"
#include "pipeline_harness.h"

namespace {

using namespace vsw::acl;

constexpr uint32_t kBurst = 32;

// Per-burst cycle counts; the median per packet is reported beside the mean, because on
// shared cores a preempted burst counts the other process's time slice (the mean then
// says more about the machine's load than about the code).
class Samples {
 public:
  void add(uint64_t cycles, uint64_t packets) {
    if (samples_.size() < kMax) samples_.push_back(double(cycles) / double(packets));
    sum_ += cycles;
    packets_ += packets;
  }
  void report(benchmark::State& state, const char* unit) {
    if (packets_ == 0) return;
    std::nth_element(samples_.begin(), samples_.begin() + samples_.size() / 2, samples_.end());
    state.counters[std::string(unit) + "_median"] = samples_[samples_.size() / 2];
    state.counters[std::string(unit) + "_mean"] = double(sum_) / double(packets_);
  }

 private:
  static constexpr size_t kMax = 1 << 20;
  std::vector<double> samples_;
  uint64_t sum_ = 0;
  uint64_t packets_ = 0;
};

// Security-group style rules: a /24 or /16 source, TCP or UDP, one port or a small range;
// priorities distinct, a few denies.
std::vector<Rule> make_rules(uint32_t n, std::mt19937& rng) {
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < n; ++i) {
    Rule r;
    r.id = i + 1;
    r.priority = rng() % 65536;
    r.action = (i % 10 == 0) ? Action::kDeny : Action::kPermitStateful;
    Prefix p;
    p.family = Family::kIpv4;
    p.addr = {10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 0};
    p.len = (i % 4 == 0) ? 16 : 24;
    if (p.len == 16) p.addr[2] = 0;
    r.src = p;
    r.proto = (i % 3 == 0) ? kProtoUdp : kProtoTcp;
    const uint16_t port = static_cast<uint16_t>(1 + rng() % 10000);
    r.dport =
        (i % 5 == 0) ? PortRange{port, static_cast<uint16_t>(port + 100)} : PortRange{port, port};
    rules.push_back(r);
  }
  return rules;
}

// Rules / packets: `rules` rules, 4096 prepared IPv4 inputs drawn around them.
void BM_AclClassify(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::mt19937 rng(42);
  const std::vector<Rule> rules = make_rules(n, rng);
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  auto acl = CompiledAcl::build(rules, Action::kDeny, &error);
  const double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!acl) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::vector<AclInput4> inputs(4096);
  for (AclInput4& in : inputs) {
    const Rule& r = rules[rng() % n];
    PacketKey k;
    k.proto = *r.proto;
    k.src = r.src->addr;
    k.src[3] = static_cast<uint8_t>(rng());
    k.dst = {192, 168, 0, static_cast<uint8_t>(rng())};
    k.sport = static_cast<uint16_t>(1024 + rng() % 60000);
    k.dport = (rng() % 4 == 0) ? static_cast<uint16_t>(rng()) : r.dport.lo;
    in = to_input4(k);
  }
  std::vector<const AclInput4*> ptrs;
  for (const AclInput4& in : inputs) ptrs.push_back(&in);
  Samples cycles;
  uint64_t packets = 0, matched = 0;
  uint32_t results[kBurst];
  for (auto _ : state) {
    for (size_t off = 0; off < ptrs.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      acl->classify4(&ptrs[off], kBurst, results);
      cycles.add(rte_rdtsc_precise() - c0, kBurst);
      packets += kBurst;
      for (uint32_t i = 0; i < kBurst; ++i) matched += results[i] != kNoRule;
    }
  }
  cycles.report(state, "cyc/pkt");
  state.counters["matched%"] = packets ? 100.0 * double(matched) / double(packets) : 0;
  state.counters["build_ms"] = build_ms;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_AclClassify)->Arg(10)->Arg(1000)->Arg(10000);

// The same over IPv6: /48 or /64 sources (four 32-bit rte_acl fields per address).
void BM_AclClassify6(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::mt19937 rng(42);
  std::vector<Rule> rules = make_rules(n, rng);
  for (uint32_t i = 0; i < n; ++i) {
    Prefix p;
    p.family = Family::kIpv6;
    p.addr = {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    p.len = (i % 4 == 0) ? 48 : 64;
    if (p.len == 48) p.addr[4] = p.addr[5] = 0;
    rules[i].src = p;
  }
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  auto acl = CompiledAcl::build(rules, Action::kDeny, &error);
  const double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!acl) {
    state.SkipWithError(error.c_str());
    return;
  }
  std::vector<AclInput6> inputs(4096);
  for (AclInput6& in : inputs) {
    const Rule& r = rules[rng() % n];
    PacketKey k;
    k.family = Family::kIpv6;
    k.proto = *r.proto;
    k.src = r.src->addr;
    k.src[15] = static_cast<uint8_t>(rng());
    k.dst = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(rng())};
    k.sport = static_cast<uint16_t>(1024 + rng() % 60000);
    k.dport = (rng() % 4 == 0) ? static_cast<uint16_t>(rng()) : r.dport.lo;
    in = to_input6(k);
  }
  std::vector<const AclInput6*> ptrs;
  for (const AclInput6& in : inputs) ptrs.push_back(&in);
  Samples cycles;
  uint64_t packets = 0, matched = 0;
  uint32_t results[kBurst];
  for (auto _ : state) {
    for (size_t off = 0; off < ptrs.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      acl->classify6(&ptrs[off], kBurst, results);
      cycles.add(rte_rdtsc_precise() - c0, kBurst);
      packets += kBurst;
      for (uint32_t i = 0; i < kBurst; ++i) matched += results[i] != kNoRule;
    }
  }
  cycles.report(state, "cyc/pkt");
  state.counters["matched%"] = packets ? 100.0 * double(matched) / double(packets) : 0;
  state.counters["build_ms"] = build_ms;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_AclClassify6)->Arg(10)->Arg(1000)->Arg(10000);

struct ConnRig {
  std::unique_ptr<Conntrack> ct;
  std::vector<ConnPacket> packets;  // one per connection, original direction
};

ConnPacket udp_packet(uint32_t i) {
  ConnPacket p;
  p.proto = kProtoUdp;
  p.zone = 1;
  p.src = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
           static_cast<uint8_t>(i)};
  p.dst = {192, 168, 0, 1};
  p.sport = static_cast<uint16_t>(1024 + (i % 50000));
  p.dport = 53;
  return p;
}

std::unique_ptr<ConnRig> make_conns(uint32_t n) {
  auto rig = std::make_unique<ConnRig>();
  ConntrackConfig cfg;
  cfg.name = "bench_ct";
  cfg.workers = 1;
  cfg.capacity = n + n / 8;
  cfg.limit = n + n / 8;
  cfg.ticks_per_second = rte_get_tsc_hz();
  rig->ct = std::make_unique<Conntrack>(cfg);
  if (!rig->ct->ok()) return rig;
  const uint64_t now = rte_rdtsc();
  for (uint32_t i = 0; i < n; ++i) {
    rig->packets.push_back(udp_packet(i));
    ConnRef ref;
    rig->ct->create(0, rig->packets.back(), Direction::kFromPort, 1, now, &ref);
  }
  return rig;
}

// A tracked flow without the flow cache: lookup (hash) + update, reply direction, random
// connections (the table does not fit in cache past ~100k).
void BM_ConntrackLookup(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  auto rig = make_conns(n);
  if (!rig->ct->ok() || rig->ct->size() != n) {
    state.SkipWithError("conntrack set-up failed");
    return;
  }
  std::mt19937 rng(7);
  std::vector<ConnPacket> replies(4096);
  for (ConnPacket& p : replies) {
    p = rig->packets[rng() % n];
    std::swap(p.src, p.dst);
    std::swap(p.sport, p.dport);
  }
  Samples cycles;
  uint64_t packets = 0, passed = 0;
  for (auto _ : state) {
    const uint64_t now = rte_rdtsc();
    for (size_t off = 0; off < replies.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      for (uint32_t i = 0; i < kBurst; ++i) {
        ConnDir dir;
        const ConnRef ref = rig->ct->lookup(0, replies[off + i], &dir);
        passed += ref.found() &&
                  rig->ct->update(0, ref, dir, replies[off + i], now) == ConnVerdict::kPass;
      }
      cycles.add(rte_rdtsc_precise() - c0, kBurst);
      packets += kBurst;
    }
  }
  cycles.report(state, "cyc/pkt");
  state.counters["passed%"] = packets ? 100.0 * double(passed) / double(packets) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_ConntrackLookup)->Arg(1000)->Arg(100000)->Arg(1000000);

// The same through lookup_bulk: one rte_hash_lookup_bulk per burst, which prefetches.
void BM_ConntrackLookupBulk(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  auto rig = make_conns(n);
  if (!rig->ct->ok() || rig->ct->size() != n) {
    state.SkipWithError("conntrack set-up failed");
    return;
  }
  std::mt19937 rng(7);
  std::vector<ConnPacket> replies(4096);
  for (ConnPacket& p : replies) {
    p = rig->packets[rng() % n];
    std::swap(p.src, p.dst);
    std::swap(p.sport, p.dport);
  }
  std::vector<const ConnPacket*> ptrs;
  for (const ConnPacket& p : replies) ptrs.push_back(&p);
  Samples cycles;
  uint64_t packets = 0, passed = 0;
  ConnRef refs[kBurst];
  ConnDir dirs[kBurst];
  for (auto _ : state) {
    const uint64_t now = rte_rdtsc();
    for (size_t off = 0; off < replies.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      rig->ct->lookup_bulk(0, &ptrs[off], kBurst, refs, dirs);
      for (uint32_t i = 0; i < kBurst; ++i) {
        passed += refs[i].found() &&
                  rig->ct->update(0, refs[i], dirs[i], replies[off + i], now) == ConnVerdict::kPass;
      }
      cycles.add(rte_rdtsc_precise() - c0, kBurst);
      packets += kBurst;
    }
  }
  cycles.report(state, "cyc/pkt");
  state.counters["passed%"] = packets ? 100.0 * double(passed) / double(packets) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_ConntrackLookupBulk)->Arg(1000)->Arg(100000)->Arg(1000000);

// A cached tracked flow: the flow cache holds the connection's position, so a hit costs
// only the touch (state check and last-seen), no hash lookup.
void BM_ConntrackTouchCached(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  auto rig = make_conns(n);
  if (!rig->ct->ok() || rig->ct->size() != n) {
    state.SkipWithError("conntrack set-up failed");
    return;
  }
  std::mt19937 rng(7);
  std::vector<std::pair<ConnRef, ConnPacket>> flows(4096);
  for (auto& [ref, p] : flows) {
    p = rig->packets[rng() % n];
    ConnDir dir;
    ref = rig->ct->lookup(0, p, &dir);
  }
  Samples cycles;
  uint64_t packets = 0;
  for (auto _ : state) {
    const uint64_t now = rte_rdtsc();
    for (size_t off = 0; off < flows.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      for (uint32_t i = 0; i < kBurst; ++i) {
        auto& [ref, p] = flows[off + i];
        benchmark::DoNotOptimize(rig->ct->update(0, ref, ConnDir::kOriginal, p, now));
      }
      cycles.add(rte_rdtsc_precise() - c0, kBurst);
      packets += kBurst;
    }
  }
  cycles.report(state, "cyc/pkt");
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_ConntrackTouchCached)->Arg(1000)->Arg(100000)->Arg(1000000);

// New connections: lookup miss + create, in a table kept half full (deletions through the
// owner's service() happen outside the timing, as expiry would between loops).
void BM_ConntrackNew(benchmark::State& state) {
  constexpr uint32_t kBatch = 4096;
  ConntrackConfig cfg;
  cfg.name = "bench_new";
  cfg.workers = 1;
  cfg.capacity = 2 * kBatch;
  cfg.limit = 2 * kBatch;
  cfg.ticks_per_second = rte_get_tsc_hz();
  Conntrack ct(cfg);
  if (!ct.ok()) {
    state.SkipWithError(ct.error().c_str());
    return;
  }
  uint32_t next = 0;
  Samples cycles;
  uint64_t created = 0;
  std::vector<ConnPacket> batch(kBatch);
  for (auto _ : state) {
    for (ConnPacket& p : batch) p = udp_packet(next++);
    const uint64_t now = rte_rdtsc();
    for (size_t off = 0; off < batch.size(); off += kBurst) {
      const uint64_t c0 = rte_rdtsc_precise();
      uint64_t n = 0;
      for (uint32_t i = 0; i < kBurst; ++i) {
        ConnDir dir;
        ConnRef ref = ct.lookup(0, batch[off + i], &dir);
        if (!ref.found())
          n += ct.create(0, batch[off + i], Direction::kFromPort, 1, now, &ref) ==
               ConnVerdict::kPass;
      }
      cycles.add(rte_rdtsc_precise() - c0, std::max<uint64_t>(n, 1));
      created += n;
    }
    state.PauseTiming();
    ct.flush();
    ct.service(0, now, 2 * kBatch);
    state.ResumeTiming();
  }
  cycles.report(state, "cyc/conn");
  state.counters["created"] = double(created);
}
BENCHMARK(BM_ConntrackNew);

}  // namespace

int main(int argc, char** argv) {
  if (!vsw::test::init_eal("acl_bench")) return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
