// The worker pipeline in process, without I/O costs beyond ring enqueue: cycles per packet
// for the cross-connect (the baseline: the zero-work path) and for L2 switching with the
// flow cache hot or missing. Prepared mbufs go round: sent on one ring port, read back from
// the other, sent again; only the forwarding is timed.
//
//   build/bin/pipeline_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include <vector>

#include "pipeline_harness.h"

namespace {

using vsw::test::FrameSpec;
using vsw::test::Pipeline;

constexpr uint16_t kBurst = vsw::dp::kBurstSize;

struct Rig {
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

// Gives the frames of one burst the next flows' 5-tuples (source IP and port vary).
void set_flows(rte_mbuf** pkts, uint16_t n, uint32_t flows, uint32_t& next) {
  for (uint16_t i = 0; i < n; ++i) {
    const uint32_t flow = next++ % flows;
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

// Fixed iterations: one rig per benchmark (a rig is an EAL-backed pipeline with its own pool).
constexpr int kIterations = 300;
BENCHMARK(BM_Xconnect)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2CacheHit)
    ->Arg(1)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(kIterations)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2MissLearn)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_L2Flood)->Iterations(kIterations)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (!vsw::test::init_eal(argv[0])) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
